"""What the browser tests share: headless Debian Chromium, a JupyterLab server, and the few
scripts that drive a notebook in JupyterLab's page.

Fixtures (imported by ``tests/conftest.py``, so every test module sees them):

* ``course_lab`` (session): JupyterLab started the way learners start it, ``scripts/course.sh``
  on a free port with a token, autosave off; ``tests/test_browser.py``, the server half of
  ``tests/test_saved_widgets.py`` and the launch smoke test of ``tests/test_project.py`` share
  it (one server per xdist worker that runs any of them, where each used to start its own; they
  are marked ``COURSE_LAB``, an xdist group, for a scheduler that honours it). When it stops, it
  checks that no committed notebook it served was changed.
* ``browser`` (session): one headless Chromium for the JupyterLab tests.

Other servers (``tests/test_browser_predict.py`` serves a temporary folder with its own settings)
use :func:`jupyterlab` directly. Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run``
installs them) and the ``selenium`` package; the tests that need them skip with the reason.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = ROOT / "artifacts"  # screenshots, kept by CI as test artefacts
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000")
LAB_TOKEN = "browser-test"
T = TypeVar("T")

needs_chromium = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                    reason="Debian's chromium and chromium-driver are not installed "
                                           "(apt-get install chromium chromium-driver; .ci/run does it)")
# The tests that use the shared course_lab server (an xdist group: with --dist loadgroup, one worker).
COURSE_LAB = pytest.mark.xdist_group("course_lab")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(what: str, fn: Callable[[], T], timeout: float = 90, every: float = 0.5) -> T:
    """Call ``fn`` until it returns something true (errors count as "not yet"); fail after ``timeout`` s."""
    deadline = time.time() + timeout
    last_error: Exception | None = None
    while time.time() < deadline:
        try:
            value = fn()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001  (the page or the server is still changing)
            last_error = exc
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))


@contextlib.contextmanager
def chromium(page_load_timeout: int = 120, capabilities: dict[str, Any] | None = None) -> Iterator[Any]:
    """A Selenium driver for headless Chromium with a throw-away profile (skips without selenium)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="course-chromium-")
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    for name, value in (capabilities or {}).items():
        options.set_capability(name, value)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(page_load_timeout)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# ----------------------------------------------------------------------------- a JupyterLab server

@dataclasses.dataclass(frozen=True)
class Lab:
    """A running JupyterLab: its base URL, token, the folder it serves, its log file and the
    progress file of the kernels it starts."""
    base: str
    token: str
    root: Path
    log: Path
    progress: Path

    def url(self, path: str) -> str:
        """``path`` (from the server's root, e.g. ``api/status``) with the token."""
        return f"{self.base}/{path}{'&' if '?' in path else '?'}token={self.token}"


@contextlib.contextmanager
def jupyterlab(*, token: str = LAB_TOKEN, root: Path | None = None,
               settings: dict[str, dict] | None = None, extra_args: tuple[str, ...] = ()) -> Iterator[Lab]:
    """Start JupyterLab on a free port of 127.0.0.1 and stop it (its whole process group) afterwards.

    ``root=None`` starts it as learners do, ``scripts/course.sh`` in this checkout (which installs
    what is missing, trusts the notebooks and adds ``--allow-root`` for root); a folder starts
    ``python -m jupyterlab`` serving that folder. ``settings`` are user settings,
    ``{"@scope/plugin-id": {...}}``, in a throw-away settings folder (the runtime, config and
    workspace folders are throw-away too). The kernels it starts get their own progress file.
    """
    tmp = Path(tempfile.mkdtemp(prefix="course-lab-"))
    for plugin, values in (settings or {}).items():
        (tmp / "settings" / plugin).mkdir(parents=True)
        (tmp / "settings" / plugin / "plugin.jupyterlab-settings").write_text(json.dumps(values))
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp / "rt"), JUPYTER_CONFIG_DIR=str(tmp / "cfg"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "ws"), JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
               COURSE_PROGRESS_FILE=str(tmp / "progress.json"))
    for name in ("MPLBACKEND", "JUPYTERLAB_DIR"):  # the notebooks use the inline backend; the venv's app dir
        env.pop(name, None)
    port = free_port()
    args = [f"--port={port}", "--ip=127.0.0.1", "--no-browser", f"--ServerApp.token={token}",
            "--LabApp.expose_app_in_browser=True", *extra_args]
    if root is None:
        command, cwd = ["bash", "scripts/course.sh", *args], ROOT
    else:
        command, cwd = [sys.executable, "-m", "jupyterlab", "--allow-root", f"--ServerApp.root_dir={root}", *args], root
    log = tmp / "lab.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    lab = Lab(f"http://127.0.0.1:{port}", token, Path(cwd), log, tmp / "progress.json")

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError("JupyterLab exited early:\n" + log.read_text()[-3000:])
        with urllib.request.urlopen(lab.url("api/status"), timeout=2) as r:
            return r.status == 200

    try:
        try:
            wait("JupyterLab to answer", up, timeout=300)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log.read_text()[-3000:]}") from None
        yield lab
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


# Committed notebooks the JupyterLab tests open: running them in the browser must never rewrite them.
WATCHED = ("notebooks/00_setup.ipynb", "notebooks/01_log_derivative_trick.ipynb", "notebooks/05_gae.ipynb",
           "solutions/00_setup.ipynb", "exercises/01_log_derivative_trick.ipynb")


@pytest.fixture(scope="session")
def course_lab() -> Iterator[Lab]:
    """JupyterLab as ``make course`` starts it (scripts/course.sh), autosave off (a user setting)."""
    before = {p: (ROOT / p).read_bytes() for p in WATCHED}
    with jupyterlab(settings={"@jupyterlab/docmanager-extension": {"autosave": False}}) as lab:
        yield lab
    changed = [p for p in WATCHED if (ROOT / p).read_bytes() != before[p]]
    assert not changed, f"the browser tests modified committed notebooks: {changed}"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the JupyterLab tests (skips where Chromium is missing)."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    with chromium(page_load_timeout=120) as driver:
        yield driver


# ----------------------------------------------------------------------------- a notebook in the page

def find_panel(path: str) -> str:
    """JavaScript that sets ``w`` to the notebook panel of ``path``. (Headless Chromium has no
    focus, so ``shell.currentWidget`` stays empty: the panel is found by its path.)"""
    return ("const w = window.jupyterapp && [...window.jupyterapp.shell.widgets('main')]"
            f".find(w => w.context && w.context.path === {path!r});")


def kernel_idle(driver, find: str) -> bool:
    return driver.execute_script(
        find + "return !!(w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
        " && w.sessionContext.session.kernel.status === 'idle' && w.content && w.content.widgets.length);")


def open_notebook(driver, lab: Lab, path: str, timeout: float = 180) -> str:
    """Open ``path`` in JupyterLab (a fresh page) and wait until its kernel is idle; returns ``find_panel(path)``."""
    driver.get(lab.url(f"lab/tree/{path}") + "&reset")
    find = find_panel(path)
    wait(f"{path} to open", lambda: kernel_idle(driver, find), timeout=timeout)
    driver.execute_script(find + "window.jupyterapp.shell.activateById(w.id);")
    return find


def wait_idle(driver, path: str, find: str) -> None:
    """Wait until the kernel is idle and no code cell of the notebook waits to run (prompt ``[*]``)."""
    time.sleep(1.0)

    def finished() -> bool:
        return driver.execute_script(
            find + "const busy = w.sessionContext.session.kernel.status !== 'idle';"
            "const pending = w.content.widgets.some(c => c.model.type === 'code' &&"
            "  (c.promptNode && c.promptNode.textContent.includes('*')));"
            "return !busy && !pending;")

    wait(f"{path} to finish running", finished, timeout=300, every=1.0)
    time.sleep(1.0)


def open_and_run(driver, lab: Lab, path: str) -> str:
    """Open a notebook, wait for its kernel, run all cells and wait until idle; returns ``find_panel(path)``."""
    find = open_notebook(driver, lab, path)
    driver.execute_script(find + "return window.jupyterapp.commands.execute('notebook:run-all-cells');")
    wait_idle(driver, path, find)
    return find


def run_cell(driver, path: str, find: str, index: int, source: str | None = None) -> str:
    """(Optionally replace the source of cell ``index``, as a learner typing would), run that one
    cell, wait until the kernel is idle and return the text of its outputs."""
    if source is not None:
        driver.execute_script(find + "w.content.widgets[arguments[0]].model.sharedModel.setSource(arguments[1]);",
                              index, source)
    driver.execute_script(
        find + "window.jupyterapp.shell.activateById(w.id); w.content.activeCellIndex = arguments[0];"
        "w.content.deselectAll(); return window.jupyterapp.commands.execute('notebook:run-cell');", index)
    wait_idle(driver, path, find)
    return driver.execute_script(
        find + "const c = w.content.widgets[arguments[0]];"
        "c.node.scrollIntoView({block: 'center'});"
        "return c.outputArea ? c.outputArea.node.innerText : '';", index)


def save(driver, find: str, timeout: float = 60) -> None:
    """Save the notebook as JupyterLab's save command does and wait until it is no longer dirty."""
    driver.execute_script(find + "return window.jupyterapp.commands.execute('docmanager:save');")
    wait("the notebook to be saved", lambda: driver.execute_script(find + "return !w.context.model.dirty;"), timeout)
