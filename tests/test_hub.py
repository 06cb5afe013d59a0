"""A classroom rehearsal on a real JupyterHub, driven through headless Chromium.

JupyterHub (PyPI) with its proxy configurable-http-proxy (npm), DummyAuthenticator and
SimpleLocalProcessSpawner (``scripts/classroom_hub_config.py``) starts on localhost. The class's
repository is a local git repository holding the lessons and the learner workbooks (no
solutions). Two learners log in through the browser and follow the instructor's nbgitpuller link,
which clones the course into their home and opens workbook 01; each implements an exercise (alice
correctly, bob with a classic mistake), sees ``check(...)``'s feedback and saves. Their progress
files are separate. The instructor collects the saved workbooks from the home folders and grades
them with ``grade-submissions``; then pushes a fix to the workbook, and alice's next click on the
same link merges it into her copy without losing her work.

Screenshots go to ``artifacts/hub_*.png``. Skips, with the reason, where Chromium, JupyterHub or
nbgitpuller are missing, or where configurable-http-proxy cannot be installed (no node/npm).
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlencode

import nbformat
import pytest

from tests.chromium import ARTIFACTS, ROOT, chromium, find_panel, free_port, needs_chromium, run_cell, wait

pytestmark = [needs_chromium, pytest.mark.system]
WORKBOOK = "exercises/01_log_derivative_trick.ipynb"
ERRATUM = "*Erratum (from your instructor): in exercise 1, `actions` holds integer indices, one per row.*"
RIGHT = '''def categorical_log_prob(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    return log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
'''
NAIVE = '''def categorical_log_prob(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    probs = torch.exp(logits) / torch.exp(logits).sum(dim=-1, keepdim=True)
    return torch.log(probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1))
'''


def _git(*args, cwd: Path) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="Instructor", GIT_AUTHOR_EMAIL="instructor@example.org",
               GIT_COMMITTER_NAME="Instructor", GIT_COMMITTER_EMAIL="instructor@example.org")
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def _proxy() -> str:
    found = shutil.which("configurable-http-proxy")
    if found:
        return found
    if shutil.which("npm") is None:
        pytest.skip("configurable-http-proxy is not installed and npm is missing to install it "
                    "(apt-get install nodejs npm; then bash scripts/install_hub_proxy.sh)")
    out = subprocess.run(["bash", "scripts/install_hub_proxy.sh"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip(f"configurable-http-proxy could not be installed from npm: {out.stderr.strip()[-500:]}")
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def classroom():
    """The class's git repository and a running JupyterHub; yields a dict of paths and URLs."""
    pytest.importorskip("jupyterhub", reason="JupyterHub is not installed (pip install -e '.[test]')")
    pytest.importorskip("nbgitpuller", reason="nbgitpuller is not installed (pip install -e '.[test]')")
    proxy = _proxy()
    tmp = Path(tempfile.mkdtemp(prefix="course-hub-"))
    # The instructor's copy of the class repository: the lessons and the learner workbooks only.
    instructor = tmp / "instructor" / "course"
    instructor.mkdir(parents=True)
    for folder in ("notebooks", "exercises"):
        shutil.copytree(ROOT / folder, instructor / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    _git("init", "-q", "-b", "main", cwd=instructor)
    _git("add", "-A", cwd=instructor)
    _git("commit", "-q", "-m", "the course for this term", cwd=instructor)
    # what learners pull from (a URL on GitHub or GitLab in a real class); nbgitpuller clones it into
    # ~/course, after the last part of its address
    upstream = tmp / "remote" / "course"
    _git("clone", "-q", "--bare", str(instructor), str(upstream), cwd=tmp)
    _git("remote", "add", "origin", str(upstream), cwd=instructor)

    hub_dir, port = tmp / "hub", free_port()
    env = dict(os.environ, COURSE_HUB_DIR=str(hub_dir), COURSE_HUB_PORT=str(port), COURSE_HUB_PROXY=proxy,
               COURSE_HUB_SINGLEUSER_ARGS="--LabApp.expose_app_in_browser=True")
    for name in ("COURSE_PROGRESS_FILE", "MPLBACKEND"):  # each learner's progress lives in their own home
        env.pop(name, None)
    hub_dir.mkdir()
    log = open(hub_dir / "hub.log", "wb")
    started = time.perf_counter()
    proc = subprocess.Popen([str(Path(sys.executable).with_name("jupyterhub")), "-f",
                             str(ROOT / "scripts" / "classroom_hub_config.py")],
                            cwd=hub_dir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError("JupyterHub exited early:\n" + (hub_dir / "hub.log").read_text()[-3000:])
        with urllib.request.urlopen(f"{base}/hub/api/", timeout=2) as r:
            return r.status == 200

    try:
        wait("JupyterHub to answer", up, timeout=120)
        hub_start_s = time.perf_counter() - started
        query = urlencode({"repo": str(upstream), "branch": "main", "urlpath": f"lab/tree/course/{WORKBOOK}"},
                          quote_via=quote)
        yield {"base": base, "link": f"{base}/hub/user-redirect/git-pull?{query}", "tmp": tmp,
               "homes": hub_dir / "home", "instructor": instructor, "hub_start_s": hub_start_s}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the hub stops the learners' servers it spawned
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(hub_dir / "hub.log", ARTIFACTS / "hub.log")  # the hub's and the learners' servers' log
        for pid_file in ("jupyterhub.pid", "proxy.pid"):
            (hub_dir / pid_file).unlink(missing_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)


def _open_workbook(driver, link: str | None = None) -> str:
    """(Follow the nbgitpuller link, logged in, and) wait for workbook 01 with an idle kernel."""
    if link:
        driver.get(link)
    find = find_panel(f"course/{WORKBOOK}")
    try:
        wait("nbgitpuller to pull and JupyterLab to open the workbook with an idle kernel",
              lambda: driver.execute_script(
                  "if (!window.jupyterapp) return false;" + find +
                  "return !!(w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
                  " && w.sessionContext.session.kernel.status === 'idle' && w.content && w.content.widgets.length);"),
              timeout=240, every=1.0)
    except AssertionError as exc:
        driver.save_screenshot(str(ARTIFACTS / "hub_stuck.png"))
        raise AssertionError(f"{exc}; the browser is at {driver.current_url}: "
                             f"{driver.find_element('tag name', 'body').text[:1500]}") from None
    return find


def _learner_session(driver, classroom, name: str, code: str) -> tuple[str, float]:
    """Log in, pull the course, implement exercise 1, run its check, save. Returns the feedback and
    the seconds from the login page to the open workbook."""
    from selenium.webdriver.common.by import By

    started = time.perf_counter()
    driver.get(f"{classroom['base']}/hub/login?next={quote(classroom['link'].split(classroom['base'], 1)[1])}")
    wait("the hub's login form", lambda: driver.find_element(By.ID, "username_input"))
    driver.find_element(By.ID, "username_input").send_keys(name)
    driver.find_element(By.ID, "password_input").send_keys("any password")
    driver.find_element(By.ID, "login_submit").click()
    path = f"course/{WORKBOOK}"
    find = _open_workbook(driver)  # the login page sends the learner on to the link
    opened_s = time.perf_counter() - started
    driver.save_screenshot(str(ARTIFACTS / f"hub_{name}_pulled_workbook.png"))
    sources = driver.execute_script(find + "return w.content.widgets.map(c => c.model.sharedModel.getSource());")
    exercise = next(i for i, s in enumerate(sources) if s.startswith("def categorical_log_prob("))
    assert sources[exercise + 1].strip() == "check(categorical_log_prob)"
    assert run_cell(driver, path, find, exercise - 2).strip() == ""  # the imports (the hosted block is silent)
    run_cell(driver, path, find, exercise, code)
    feedback = run_cell(driver, path, find, exercise + 1)
    driver.save_screenshot(str(ARTIFACTS / f"hub_{name}_check_feedback.png"))
    driver.execute_script(find + "return w.context.save();")
    saved = classroom["homes"] / name / "course" / WORKBOOK
    wait(f"{name}'s workbook to be saved", lambda: code.splitlines()[1].strip() in saved.read_text())
    return feedback, opened_s


def test_a_class_on_jupyterhub(classroom, tmp_path):
    print(f"\nJupyterHub answered {classroom['hub_start_s']:.1f} s after it was started")
    with chromium(page_load_timeout=240) as alice:
        _a_class_on_jupyterhub(classroom, tmp_path, alice)


def _a_class_on_jupyterhub(classroom, tmp_path, alice) -> None:
    feedback_alice, opened_alice = _learner_session(alice, classroom, "alice", RIGHT)
    assert feedback_alice.startswith("\u2714 Passed: categorical_log_prob"), feedback_alice
    with chromium(page_load_timeout=240) as bob:
        feedback_bob, opened_bob = _learner_session(bob, classroom, "bob", NAIVE)
    assert feedback_bob.startswith("\u2718 Not yet: categorical_log_prob"), feedback_bob
    assert "overflows for large logits" in feedback_bob, feedback_bob  # the classic mistake, named
    print(f"login to an open workbook (spawn + clone + kernel): alice {opened_alice:.0f} s, bob {opened_bob:.0f} s")

    # each learner has their own copy and their own progress file
    homes = classroom["homes"]
    progress = {name: json.loads((homes / name / ".policy-optimisation-course" / "progress.json").read_text())
                for name in ("alice", "bob")}
    assert progress["alice"]["exercises"]["categorical_log_prob"]["status"] == "passed"
    assert progress["bob"]["exercises"]["categorical_log_prob"]["status"] == "failed"

    # the instructor collects the saved workbooks and grades them (in the background, meanwhile ...)
    collected = tmp_path / "collected"
    for name in ("alice", "bob"):
        (collected / name).mkdir(parents=True)
        shutil.copy(homes / name / "course" / WORKBOOK, collected / name / Path(WORKBOOK).name)
    started = time.perf_counter()
    grading = subprocess.Popen([sys.executable, "-m", "course_utils", "grade-submissions", str(collected),
                                "--out", str(tmp_path / "gradebook.csv"), "--assignment", str(ROOT / WORKBOOK),
                                "--workers", "2", "--no-progress"], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)

    # ... the instructor fixes the workbook and pushes; alice's next pull merges it and keeps her work
    instructor = classroom["instructor"]
    nb = nbformat.read(str(instructor / WORKBOOK), as_version=4)
    nb.cells[0].source += "\n\n" + ERRATUM
    nbformat.write(nb, str(instructor / WORKBOOK))
    _git("commit", "-q", "-am", "workbook 01: an erratum for exercise 1", cwd=instructor)
    _git("push", "-q", "origin", "main", cwd=instructor)
    find = _open_workbook(alice, classroom["link"])  # the same link, clicked again
    sources = alice.execute_script(find + "return w.content.widgets.map(c => c.model.sharedModel.getSource());")
    alice.save_screenshot(str(ARTIFACTS / "hub_alice_after_second_pull.png"))
    assert ERRATUM in sources[0], "the instructor's fix did not arrive"
    assert any(s.strip() == RIGHT.strip() for s in sources), "alice's work was lost in the pull"
    merged = nbformat.read(str(homes / "alice" / "course" / WORKBOOK), as_version=4)
    nbformat.validate(merged)
    assert ERRATUM in merged.cells[0].source and any(c.source.strip() == RIGHT.strip() for c in merged.cells)
    bob_copy = (homes / "bob" / "course" / WORKBOOK).read_text()
    assert ERRATUM not in bob_copy and NAIVE.splitlines()[1].strip() in bob_copy  # bob has not pulled again

    output, _ = grading.communicate(timeout=600)
    assert grading.returncode == 0, output
    print(f"grade-submissions, 2 workbooks (beside the second pull): {time.perf_counter() - started:.0f} s")
    rows = list(csv.DictReader(open(tmp_path / "gradebook.csv")))
    row = {name: next(r for r in rows if r["identifier"].startswith(name)) for name in ("alice", "bob")}
    assert row["alice"]["categorical_log_prob"] == "passed", row["alice"]
    assert row["bob"]["categorical_log_prob"] == "failed", row["bob"]
    assert row["alice"]["status"] == row["bob"]["status"] == "graded"
