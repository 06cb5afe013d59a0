"""The course in a real browser: JupyterLab driven by headless Debian Chromium (Selenium).

JupyterLab started the way learners do (``scripts/course.sh``, with a token and a free port: the
session's ``course_lab`` of ``tests/chromium.py``, which checks at the end that no committed
notebook was modified) and one headless Chromium (the session's ``browser``). The tests open a
lesson, run it, move a widget slider and check that the plot changes, then open a workbook, run
it and check that a ``check(...)`` cell shows its rendered feedback.
Screenshots go to ``artifacts/`` (kept by CI as test artefacts).

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and the
``selenium`` package; skipped with a reason when they are missing.
"""
from __future__ import annotations

import os
import shutil
import time

import pytest

from tests.chromium import (ARTIFACTS, COURSE_LAB, ROOT, find_panel, needs_chromium, open_and_run, open_notebook,
                            run_cell, wait, wait_idle)

pytestmark = [needs_chromium, COURSE_LAB, pytest.mark.system]


def test_lesson_runs_and_a_slider_changes_the_plot(browser, course_lab):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    open_and_run(browser, course_lab, "notebooks/01_log_derivative_trick.ipynb")
    errors = browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert not [e.text for e in errors if "Traceback" in e.text], "the lesson raised an error"
    # The cell holding the sliders also holds the figure they redraw.
    cell = wait("the variance widget", lambda: browser.execute_script(
        "return [...document.querySelectorAll('.jp-CodeCell')].find(c =>"
        " c.querySelector('.widget-slider, .widget-hslider') && c.querySelector('.jp-OutputArea img'));"))
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", cell)
    time.sleep(0.5)
    def picture() -> tuple[str, bytes]:
        image = cell.find_element(By.CSS_SELECTOR, ".jp-OutputArea img")
        return image.get_attribute("src"), image.screenshot_as_png

    before_src, before_png = wait("the first plot", picture)
    browser.save_screenshot(str(ARTIFACTS / "lesson01_before_slider.png"))

    def move_sigma() -> bool:
        handle = cell.find_elements(By.CSS_SELECTOR, ".noUi-handle")[-1]  # the sigma slider
        handle.click()
        handle.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
        return True

    wait("the slider to take the keys", move_sigma)

    # Each step of the slider redraws the figure (the <img> element is replaced): wait until the
    # picture differs from the first one and has stopped changing, re-finding the element each time.
    seen: list[str] = []

    def settled() -> bool:
        src = cell.find_element(By.CSS_SELECTOR, ".jp-OutputArea img").get_attribute("src")
        seen.append(src)
        return len(seen) >= 3 and src != before_src and seen[-2] == src and seen[-3] == src

    wait("the plot to change after moving the slider", settled, timeout=90, every=0.7)
    after_png = wait("a screenshot of the new plot", lambda: picture()[1])
    assert after_png != before_png
    readout = cell.find_elements(By.CSS_SELECTOR, ".widget-readout")
    assert any(r.text.strip() in ("1.50", "1.75", "2.00") for r in readout), [r.text for r in readout]  # σ moved up
    browser.save_screenshot(str(ARTIFACTS / "lesson01_after_slider.png"))


def test_workbook_check_cell_renders_feedback(browser, course_lab):
    from selenium.webdriver.common.by import By

    open_and_run(browser, course_lab, "solutions/00_setup.ipynb")
    feedback = wait("a rendered check() result", lambda: [
        e for e in browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output[data-mime-type='text/html']")
        if "Passed" in e.text and "undiscounted_return" in e.text])
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", feedback[0])
    time.sleep(0.3)
    assert "All" in feedback[0].text and "cases agree with the reference" in feedback[0].text
    # Rendered as HTML (a styled box), not shown as plain text.
    assert feedback[0].find_elements(By.CSS_SELECTOR, "div[style*='border-left']")
    browser.save_screenshot(str(ARTIFACTS / "workbook00_check_feedback.png"))


def test_saved_sliders_render_before_any_cell_runs(browser, course_lab):
    """A freshly opened lesson shows its sliders from the saved widget state (the course trusts its
    notebooks when it starts), not the plain-text fallback ``HBox(children=...``."""
    open_notebook(browser, course_lab, "notebooks/05_gae.ipynb")
    cell = wait("the saved sliders of lesson 05 to render", lambda: browser.execute_script(
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


def test_lesson_05_keeps_working_sliders_after_a_save(browser, course_lab):
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

    with urllib.request.urlopen(course_lab.url(f"lab/api/settings/{PLUGIN}"), timeout=10) as r:
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
        find = open_notebook(browser, course_lab, path)
        wait("the saved sliders", lambda: browser.execute_script(
            "return document.querySelectorAll('.widget-slider.jupyter-widgets-disconnected').length >= 3;"))
        assert browser.execute_async_script(find + save) is True
        assert copy.read_bytes() == original, "opening and saving the lesson changed it"

        find = open_and_run(browser, course_lab, path)
        sources = browser.execute_script(find + "return w.content.widgets.map(c => c.model.sharedModel.getSource());")
        lab_cell = next(i for i, s in enumerate(sources) if "lam_slider = widgets." in s)
        assert browser.execute_async_script(find + save) is True
        wait("the copy to be saved", lambda: browser.execute_script(find + "return !w.context.model.dirty;"))

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
        find = open_notebook(browser, course_lab, path)
        in_cell = find + "const c = w.content.widgets[arguments[0]]; c.node.scrollIntoView({block: 'center'});"
        drawn = wait("the saved sliders to be drawn after the reload", lambda: browser.execute_script(
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
        wait_idle(browser, path, find)
        run_cell(browser, path, find, lab_cell)
        live = wait("the sliders to come back to life", lambda: browser.execute_script(
            in_cell + "const note = c.node.querySelector('." + NOTE_CLASS + "');"
            "const n = c.node.querySelectorAll('.widget-slider').length;"
            "return n === 3 && !c.node.querySelector('.jupyter-widgets-disconnected') && note"
            " && {note_shown: getComputedStyle(note).display !== 'none'};", lab_cell), timeout=60)
        assert live["note_shown"] is False, "the note still shows on live sliders"
        cell = browser.execute_script(find + "return w.content.widgets[arguments[0]].node;", lab_cell)
        before = wait("the lab's plot", lambda: cell.find_element(By.CSS_SELECTOR, ".jp-OutputArea img").get_attribute("src"))
        handle = cell.find_elements(By.CSS_SELECTOR, ".noUi-handle")[0]  # lam, 0.9
        handle.click()
        handle.send_keys(Keys.ARROW_LEFT)
        wait("the plot to follow the lam slider", lambda: cell.find_element(
            By.CSS_SELECTOR, ".jp-OutputArea img").get_attribute("src") != before, timeout=90, every=0.7)
        readout = [r.text.strip() for r in cell.find_elements(By.CSS_SELECTOR, ".widget-readout")]
        assert readout[0] in ("0.80", "0.8"), readout
        browser.save_screenshot(str(ARTIFACTS / "lesson05_sliders_live_after_rerun.png"))
    finally:
        print(f"lesson 05 run, saved, reopened and re-run in {time.time() - started:.0f} s")
        try:
            browser.execute_script(find_panel(path) + "if (w && w.sessionContext.session) w.sessionContext.session.shutdown();"
                                   "if (w) w.dispose();")
        except Exception:  # noqa: BLE001  (the page may be gone)
            pass
        shutil.rmtree(folder, ignore_errors=True)


def test_first_hour(browser, course_lab):
    """The learner's first hour: lesson 00 from the link the launcher prints, then workbook 01: an
    exercise fails with a diagnosis, a hint, the fix passes, and progress() shows it."""
    find = open_and_run(browser, course_lab, "notebooks/00_setup.ipynb")
    text = browser.find_element("tag name", "body").text
    assert "Traceback" not in text
    browser.save_screenshot(str(ARTIFACTS / "first_hour_1_lesson00.png"))

    path = "exercises/01_log_derivative_trick.ipynb"
    find = open_notebook(browser, course_lab, path)
    cells = browser.execute_script(find + "return w.content.widgets.map(c => c.model.sharedModel.getSource());")
    setup = next(i for i, s in enumerate(cells) if "from course_utils import" in s)
    code = next(i for i, s in enumerate(cells) if s.startswith("def categorical_log_prob"))
    graded = next(i for i, s in enumerate(cells) if s.strip() == "check(categorical_log_prob)")
    run_cell(browser, path, find, setup)

    signature = cells[code].split('"""')[0]
    wrong = signature + "    return logits.gather(-1, actions.unsqueeze(-1)).squeeze(-1)\n"
    run_cell(browser, path, find, code, wrong)
    feedback = run_cell(browser, path, find, graded)
    assert "FAILED" in feedback.upper() or "not yet" in feedback.lower(), feedback
    assert "logsumexp" in feedback, feedback  # the diagnosis of the usual mistake
    browser.save_screenshot(str(ARTIFACTS / "first_hour_2_check_fails.png"))

    shown = run_cell(browser, path, find, graded, "hint('categorical_log_prob')")
    assert "Hint 1" in shown, shown
    browser.save_screenshot(str(ARTIFACTS / "first_hour_3_hint.png"))

    right = signature + "    return torch.log_softmax(logits, dim=-1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)\n"
    run_cell(browser, path, find, code, right)
    feedback = run_cell(browser, path, find, graded, "check(categorical_log_prob)")
    assert "Passed" in feedback, feedback
    browser.save_screenshot(str(ARTIFACTS / "first_hour_4_check_passes.png"))

    table = run_cell(browser, path, find, graded, "progress()")
    assert "categorical_log_prob" in table, table
    browser.save_screenshot(str(ARTIFACTS / "first_hour_5_progress.png"))
