"""The course in a real browser: JupyterLab driven by headless Debian Chromium (Selenium).

Starts JupyterLab the way learners do (``scripts/course.sh``, with a token and a free port),
opens a lesson, runs it, moves a widget slider and checks that the plot changes, then opens a
workbook, runs it and checks that a ``check(...)`` cell shows its rendered feedback.
Screenshots go to ``artifacts/`` (kept by CI as test artefacts).

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and the
``selenium`` package; skipped with a reason when they are missing.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import pytest

from tests.chromium import ARTIFACTS, CHROMEDRIVER, CHROMIUM, chromium
from tests.conftest import ROOT

TOKEN = "browser-test"
T = TypeVar("T")

pytestmark = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                reason="Debian's chromium and chromium-driver are not installed "
                                       "(apt-get install chromium chromium-driver; .ci/run does it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, fn: Callable[[], T], timeout: float = 90, every: float = 0.5) -> T:
    deadline = time.time() + timeout
    last_error: Exception | None = None
    while time.time() < deadline:
        try:
            value = fn()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001  (the page is still changing)
            last_error = exc
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))


@pytest.fixture(scope="module")
def lab() -> Iterator[str]:
    """A JupyterLab server started by scripts/course.sh; yields its base URL."""
    port = _free_port()
    tmp = Path(tempfile.mkdtemp(prefix="course-lab-"))
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp / "rt"), JUPYTER_CONFIG_DIR=str(tmp / "cfg"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "ws"), COURSE_PROGRESS_FILE=str(tmp / "progress.json"))
    env.pop("MPLBACKEND", None)  # the notebooks use the inline backend
    # Never autosave: running the notebooks must not rewrite the committed files.
    settings = tmp / "settings" / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text('{"autosave": false}')
    env["JUPYTERLAB_SETTINGS_DIR"] = str(tmp / "settings")
    proc = subprocess.Popen(["bash", "scripts/course.sh", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                             f"--ServerApp.token={TOKEN}", "--allow-root", "--LabApp.expose_app_in_browser=True"],
                            cwd=ROOT, env=env, stdout=open(tmp / "lab.log", "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    watched = [ROOT / p for p in ("notebooks/00_setup.ipynb", "notebooks/01_log_derivative_trick.ipynb",
                                  "notebooks/05_gae.ipynb", "solutions/00_setup.ipynb",
                                  "exercises/01_log_derivative_trick.ipynb")]
    before = [p.read_bytes() for p in watched]

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError("JupyterLab exited early:\n" + (tmp / "lab.log").read_text()[-3000:])
        with urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2) as r:
            return r.status == 200

    try:
        _wait("JupyterLab to answer", up, timeout=300)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
    assert [p.read_bytes() for p in watched] == before, "the browser test modified a committed notebook"


@pytest.fixture(scope="module")
def browser(lab):
    with chromium(page_load_timeout=120) as driver:
        yield driver


def _find(path: str) -> str:
    # (headless Chromium has no focus, so shell.currentWidget stays empty: find the panel by path)
    return ("const w = window.jupyterapp && [...window.jupyterapp.shell.widgets('main')]"
            f".find(w => w.context && w.context.path === {path!r});")


def _open(driver, base: str, path: str) -> str:
    """Open a notebook in JupyterLab and wait until its kernel is idle; returns the JS that finds it."""
    driver.get(f"{base}/lab/tree/{path}?token={TOKEN}&reset")
    find = _find(path)
    _wait(f"{path} to open", lambda: driver.execute_script(
        find + "return !!(w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
        " && w.sessionContext.session.kernel.status === 'idle' && w.content && w.content.widgets.length);"),
        timeout=180)
    driver.execute_script(find + "window.jupyterapp.shell.activateById(w.id);")
    return find


def _wait_idle(driver, path: str, find: str) -> None:
    time.sleep(1.0)

    def finished() -> bool:
        return driver.execute_script(
            find + "const busy = w.sessionContext.session.kernel.status !== 'idle';"
            "const pending = w.content.widgets.some(c => c.model.type === 'code' &&"
            "  (c.promptNode && c.promptNode.textContent.includes('*')));"
            "return !busy && !pending;")

    _wait(f"{path} to finish running", finished, timeout=300, every=1.0)
    time.sleep(1.0)


def _open_and_run(driver, base: str, path: str) -> str:
    """Open a notebook in JupyterLab, wait for its kernel, run all cells and wait until idle."""
    find = _open(driver, base, path)
    driver.execute_script(find + "return window.jupyterapp.commands.execute('notebook:run-all-cells');")
    _wait_idle(driver, path, find)
    return find


def _run_cell(driver, path: str, find: str, index: int, source: str | None = None) -> str:
    """(Optionally replace the source of cell ``index``, as a learner typing would), run that one
    cell, wait until the kernel is idle and return the text of its outputs."""
    if source is not None:
        driver.execute_script(find + "w.content.widgets[arguments[0]].model.sharedModel.setSource(arguments[1]);",
                              index, source)
    driver.execute_script(
        find + "window.jupyterapp.shell.activateById(w.id); w.content.activeCellIndex = arguments[0];"
        "w.content.deselectAll(); return window.jupyterapp.commands.execute('notebook:run-cell');", index)
    _wait_idle(driver, path, find)
    return driver.execute_script(
        find + "const c = w.content.widgets[arguments[0]];"
        "c.node.scrollIntoView({block: 'center'});"
        "return c.outputArea ? c.outputArea.node.innerText : '';", index)


def test_lesson_runs_and_a_slider_changes_the_plot(browser, lab):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _open_and_run(browser, lab, "notebooks/01_log_derivative_trick.ipynb")
    errors = browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert not [e.text for e in errors if "Traceback" in e.text], "the lesson raised an error"
    # The cell holding the sliders also holds the figure they redraw.
    cell = _wait("the variance widget", lambda: browser.execute_script(
        "return [...document.querySelectorAll('.jp-CodeCell')].find(c =>"
        " c.querySelector('.widget-slider, .widget-hslider') && c.querySelector('.jp-OutputArea img'));"))
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", cell)
    time.sleep(0.5)
    def picture() -> tuple[str, bytes]:
        image = cell.find_element(By.CSS_SELECTOR, ".jp-OutputArea img")
        return image.get_attribute("src"), image.screenshot_as_png

    before_src, before_png = _wait("the first plot", picture)
    browser.save_screenshot(str(ARTIFACTS / "lesson01_before_slider.png"))

    def move_sigma() -> bool:
        handle = cell.find_elements(By.CSS_SELECTOR, ".noUi-handle")[-1]  # the sigma slider
        handle.click()
        handle.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
        return True

    _wait("the slider to take the keys", move_sigma)

    # Each step of the slider redraws the figure (the <img> element is replaced): wait until the
    # picture differs from the first one and has stopped changing, re-finding the element each time.
    seen: list[str] = []

    def settled() -> bool:
        src = cell.find_element(By.CSS_SELECTOR, ".jp-OutputArea img").get_attribute("src")
        seen.append(src)
        return len(seen) >= 3 and src != before_src and seen[-2] == src and seen[-3] == src

    _wait("the plot to change after moving the slider", settled, timeout=90, every=0.7)
    after_png = _wait("a screenshot of the new plot", lambda: picture()[1])
    assert after_png != before_png
    readout = cell.find_elements(By.CSS_SELECTOR, ".widget-readout")
    assert any(r.text.strip() in ("1.50", "1.75", "2.00") for r in readout), [r.text for r in readout]  # σ moved up
    browser.save_screenshot(str(ARTIFACTS / "lesson01_after_slider.png"))


def test_workbook_check_cell_renders_feedback(browser, lab):
    from selenium.webdriver.common.by import By

    _open_and_run(browser, lab, "solutions/00_setup.ipynb")
    feedback = _wait("a rendered check() result", lambda: [
        e for e in browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output[data-mime-type='text/html']")
        if "Passed" in e.text and "undiscounted_return" in e.text])
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", feedback[0])
    time.sleep(0.3)
    assert "All" in feedback[0].text and "cases agree with the reference" in feedback[0].text
    # Rendered as HTML (a styled box), not shown as plain text.
    assert feedback[0].find_elements(By.CSS_SELECTOR, "div[style*='border-left']")
    browser.save_screenshot(str(ARTIFACTS / "workbook00_check_feedback.png"))


def test_saved_sliders_render_before_any_cell_runs(browser, lab):
    """A freshly opened lesson shows its sliders from the saved widget state (the course trusts its
    notebooks when it starts), not the plain-text fallback ``HBox(children=...``."""
    _open(browser, lab, "notebooks/05_gae.ipynb")
    cell = _wait("the saved sliders of lesson 05 to render", lambda: browser.execute_script(
        "return [...document.querySelectorAll('.jp-CodeCell')].find(c =>"
        " c.querySelector('.widget-slider, .widget-hslider'));"), timeout=120)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", cell)
    time.sleep(0.5)
    assert "HBox(children=" not in browser.find_element("tag name", "body").text
    browser.save_screenshot(str(ARTIFACTS / "lesson05_sliders_before_running.png"))


def _saved_widget_outputs(nb: dict) -> list[tuple[int, str]]:
    """(cell index, model id) of every widget view stored in the outputs of a notebook's JSON."""
    return [(i, out["data"]["application/vnd.jupyter.widget-view+json"]["model_id"])
            for i, cell in enumerate(nb["cells"]) for out in cell.get("outputs", [])
            if "application/vnd.jupyter.widget-view+json" in out.get("data", {})]


def test_lesson_05_keeps_working_sliders_after_a_save(browser, lab):
    """Issue 22: a lesson run and saved reopens, with a fresh kernel, with its sliders. The course's
    JupyterLab saves widget state (saveState in the environment's overrides.json, read by the
    server); a lesson opened and saved without running is written unchanged (JupyterLab alone
    would drop the state of the saved sliders: the server's pre-save hook keeps it); a lesson run
    and saved describes every widget its outputs show; after a reload the sliders are drawn (no
    "model not found"), disconnected and saying so in their own output; re-running the cell brings
    them back to life (the note hides) and moving one redraws the plot. Lesson 05 runs as a copy in
    the git-ignored build/ folder: the committed file is never touched (the fixture checks it)."""
    import json
    import urllib.request

    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from course_utils.saved_widgets import NOTE_CLASS, NOTE_TEXT, PLUGIN

    with urllib.request.urlopen(f"{lab}/lab/api/settings/{PLUGIN}?token={TOKEN}", timeout=10) as r:
        answer = json.load(r)  # the schema with the overrides as defaults, and the user's own settings
    effective = answer["settings"].get("saveState", answer["schema"]["properties"]["saveState"]["default"])
    assert effective is True, f"the course's JupyterLab does not save widget state: {answer}"

    folder = ROOT / "build" / f"browser-test-widget-state-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "05_gae.ipynb"
    shutil.copyfile(ROOT / "notebooks" / "05_gae.ipynb", copy)
    original = copy.read_bytes()
    committed_ids = {m for _, m in _saved_widget_outputs(json.loads(original))}
    path = copy.relative_to(ROOT).as_posix()
    save = ("const done = arguments[arguments.length - 1];"  # as autosave would (the fixture switches it off)
            "w.context.save().then(() => done(true), e => done(String(e)));")
    started = time.time()
    try:
        # Opened, drawn from saved state, saved (JupyterLab marks it changed as it draws them): unchanged.
        find = _open(browser, lab, path)
        _wait("the saved sliders", lambda: browser.execute_script(
            "return document.querySelectorAll('.widget-slider.jupyter-widgets-disconnected').length >= 3;"))
        assert browser.execute_async_script(find + save) is True
        assert copy.read_bytes() == original, "opening and saving the lesson changed it"

        find = _open_and_run(browser, lab, path)
        sources = browser.execute_script(find + "return w.content.widgets.map(c => c.model.sharedModel.getSource());")
        lab_cell = next(i for i, s in enumerate(sources) if "lam_slider = widgets." in s)
        assert browser.execute_async_script(find + save) is True
        _wait("the copy to be saved", lambda: browser.execute_script(find + "return !w.context.model.dirty;"))

        saved = json.loads(copy.read_text())
        state = saved["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
        shown = _saved_widget_outputs(saved)
        assert [m for i, m in shown if i == lab_cell], "the slider cell saved no widget"
        assert not committed_ids & {m for _, m in shown}, "the outputs were not replaced by the run"
        missing = [m for _, m in shown if m not in state]
        assert not missing, f"the saved file shows {len(missing)} of {len(shown)} widgets without their state"
        notes = [m for m in state.values() if NOTE_CLASS in m["state"].get("_dom_classes", [])]
        assert notes, "the slider cell's note was not saved"

        # A fresh kernel, a fresh page: what a learner sees the next day.
        browser.execute_async_script(find + "const done = arguments[arguments.length - 1];"
                                     "w.sessionContext.session.shutdown().then(() => done(true), e => done(String(e)));")
        find = _open(browser, lab, path)
        in_cell = find + "const c = w.content.widgets[arguments[0]]; c.node.scrollIntoView({block: 'center'});"
        drawn = _wait("the saved sliders to be drawn after the reload", lambda: browser.execute_script(
            in_cell + "const note = c.node.querySelector('." + NOTE_CLASS + "');"
            "return note && {sliders: c.node.querySelectorAll('.widget-slider').length,"
            " disconnected: c.node.querySelectorAll('.widget-slider.jupyter-widgets-disconnected').length,"
            " note: getComputedStyle(note).display !== 'none' && note.offsetHeight > 0 ? note.innerText : ''};",
            lab_cell), timeout=120)
        page = browser.find_element(By.TAG_NAME, "body").text
        assert "model not found" not in page and "Error displaying widget" not in page
        assert drawn["sliders"] == 3 and drawn["disconnected"] == 3, drawn
        assert drawn["note"].strip() == NOTE_TEXT, drawn  # a saved slider says it needs its cell run
        browser.save_screenshot(str(ARTIFACTS / "lesson05_saved_sliders_after_reload.png"))

        # Re-run the cells up to the lab, then the lab: live sliders, the note hidden, the plot follows.
        browser.execute_script(find + "window.jupyterapp.shell.activateById(w.id); w.content.activeCellIndex = arguments[0];"
                               "w.content.deselectAll(); return window.jupyterapp.commands.execute('notebook:run-all-above');",
                               lab_cell)
        _wait_idle(browser, path, find)
        _run_cell(browser, path, find, lab_cell)
        live = _wait("the sliders to come back to life", lambda: browser.execute_script(
            in_cell + "const note = c.node.querySelector('." + NOTE_CLASS + "');"
            "const n = c.node.querySelectorAll('.widget-slider').length;"
            "return n === 3 && !c.node.querySelector('.jupyter-widgets-disconnected') && note"
            " && {note_shown: getComputedStyle(note).display !== 'none'};", lab_cell), timeout=60)
        assert live["note_shown"] is False, "the note still shows on live sliders"
        cell = browser.execute_script(find + "return w.content.widgets[arguments[0]].node;", lab_cell)
        before = _wait("the lab's plot", lambda: cell.find_element(By.CSS_SELECTOR, ".jp-OutputArea img").get_attribute("src"))
        handle = cell.find_elements(By.CSS_SELECTOR, ".noUi-handle")[0]  # lam, 0.9
        handle.click()
        handle.send_keys(Keys.ARROW_LEFT)
        _wait("the plot to follow the lam slider", lambda: cell.find_element(
            By.CSS_SELECTOR, ".jp-OutputArea img").get_attribute("src") != before, timeout=90, every=0.7)
        readout = [r.text.strip() for r in cell.find_elements(By.CSS_SELECTOR, ".widget-readout")]
        assert readout[0] in ("0.80", "0.8"), readout
        browser.save_screenshot(str(ARTIFACTS / "lesson05_sliders_live_after_rerun.png"))
    finally:
        print(f"lesson 05 run, saved, reopened and re-run in {time.time() - started:.0f} s")
        try:
            browser.execute_script(_find(path) + "if (w && w.sessionContext.session) w.sessionContext.session.shutdown();"
                                   "if (w) w.dispose();")
        except Exception:  # noqa: BLE001  (the page may be gone)
            pass
        shutil.rmtree(folder, ignore_errors=True)


def test_first_hour(browser, lab):
    """The learner's first hour: lesson 00 from the link the launcher prints, then workbook 01: an
    exercise fails with a diagnosis, a hint, the fix passes, and progress() shows it."""
    find = _open_and_run(browser, lab, "notebooks/00_setup.ipynb")
    text = browser.find_element("tag name", "body").text
    assert "Traceback" not in text
    browser.save_screenshot(str(ARTIFACTS / "first_hour_1_lesson00.png"))

    path = "exercises/01_log_derivative_trick.ipynb"
    find = _open(browser, lab, path)
    cells = browser.execute_script(find + "return w.content.widgets.map(c => c.model.sharedModel.getSource());")
    setup = next(i for i, s in enumerate(cells) if "from course_utils import" in s)
    code = next(i for i, s in enumerate(cells) if s.startswith("def categorical_log_prob"))
    graded = next(i for i, s in enumerate(cells) if s.strip() == "check(categorical_log_prob)")
    _run_cell(browser, path, find, setup)

    signature = cells[code].split('"""')[0]
    wrong = signature + "    return logits.gather(-1, actions.unsqueeze(-1)).squeeze(-1)\n"
    _run_cell(browser, path, find, code, wrong)
    feedback = _run_cell(browser, path, find, graded)
    assert "FAILED" in feedback.upper() or "not yet" in feedback.lower(), feedback
    assert "logsumexp" in feedback, feedback  # the diagnosis of the usual mistake
    browser.save_screenshot(str(ARTIFACTS / "first_hour_2_check_fails.png"))

    shown = _run_cell(browser, path, find, graded, "hint('categorical_log_prob')")
    assert "Hint 1" in shown, shown
    browser.save_screenshot(str(ARTIFACTS / "first_hour_3_hint.png"))

    right = signature + "    return torch.log_softmax(logits, dim=-1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)\n"
    _run_cell(browser, path, find, code, right)
    feedback = _run_cell(browser, path, find, graded, "check(categorical_log_prob)")
    assert "Passed" in feedback, feedback
    browser.save_screenshot(str(ARTIFACTS / "first_hour_4_check_passes.png"))

    table = _run_cell(browser, path, find, graded, "progress()")
    assert "categorical_log_prob" in table, table
    browser.save_screenshot(str(ARTIFACTS / "first_hour_5_progress.png"))
