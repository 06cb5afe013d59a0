# A JupyterHub for rehearsing a class on one machine (tests/test_hub.py runs it; INSTRUCTORS.md,
# "JupyterHub and Binder", shows it by hand):
#
#   bash scripts/install_hub_proxy.sh                       # configurable-http-proxy (npm), once
#   COURSE_HUB_DIR=/tmp/hub .venv/bin/jupyterhub -f scripts/classroom_hub_config.py
#
# then open http://127.0.0.1:8000 and log in with any name and any password ("instructor" is the
# hub's admin). DummyAuthenticator (anyone gets in) and SimpleLocalProcessSpawner (every
# learner's server runs as YOUR user, with HOME = $COURSE_HUB_DIR/home/<name>) are for a
# rehearsal only: they isolate nothing. A real class uses a real authenticator and spawner
# (e.g. the Zero to JupyterHub Helm chart); the single-user side, the course's environment
# with nbgitpuller, is the same.
#
# Settings (environment variables): COURSE_HUB_DIR (state, logs, homes; default ./classroom-hub),
# COURSE_HUB_PORT (8000), COURSE_HUB_PROXY (the
# configurable-http-proxy command; default: on PATH, else where install_hub_proxy.sh puts it),
# COURSE_HUB_SINGLEUSER_ARGS (extra flags for each learner's server).
import os
import shutil
import socket
import sys
from pathlib import Path

c = get_config()  # noqa: F821  (JupyterHub provides it)

state = Path(os.environ.get("COURSE_HUB_DIR", "classroom-hub")).resolve()
state.mkdir(parents=True, exist_ok=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(os.environ.get("COURSE_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = _free_port()  # not the default 8081, which another hub may hold
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")

chp = os.environ.get("COURSE_HUB_PROXY") or shutil.which("configurable-http-proxy") or str(
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "course-utils/chp/node_modules/.bin/configurable-http-proxy")
c.ConfigurableHTTPProxy.command = [chp]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{_free_port()}"
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")

c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {"instructor"}

c.JupyterHub.spawner_class = "simple"  # SimpleLocalProcessSpawner
c.SimpleLocalProcessSpawner.home_dir_template = str(state / "home" / "{username}")
# each learner's server and kernels come from the environment the hub runs in (the course's .venv)
c.Spawner.cmd = [str(Path(sys.executable).with_name("jupyterhub-singleuser"))]
c.Spawner.default_url = "/lab"
c.Spawner.args = (["--allow-root"] if os.geteuid() == 0 else []) + os.environ.get(
    "COURSE_HUB_SINGLEUSER_ARGS", "").split()
c.Spawner.start_timeout = 180  # a busy 2-core machine starts a server in 5-30 s
c.Spawner.http_timeout = 180
