"""A prediction committed with the buttons in a real JupyterLab counts once the notebook is saved.

JupyterLab (this environment's) is driven by headless Chromium (Selenium) on copies of workbook
01 in a temporary folder: run the predict cell, choose (b), press "Commit my prediction", save
(``docmanager:save``), then grade the saved file with ``python -m course_utils check``. Twice:

* **the page that ran the cell is still open**: JupyterLab applies the kernel's
  ``update_display_data`` (sent from the button's comm callback) to the cell's outputs, so the
  saved cell holds the record, whatever the widget-state setting;
* **the page was reloaded** between running the cell and clicking: the update no longer reaches
  the cell (the execute request it belongs to is gone), and the record is saved in the Output
  widget's state, which JupyterLab writes with ``saveState: true`` (the course's setting,
  ``course_utils/saved_widgets.py``; set here in the user settings so that the test does not
  depend on the environment's ``overrides.json``).

These are the saved forms ``tests/test_predict_commit.py`` builds without a browser. Needs Debian's
``chromium`` and ``chromium-driver`` and the ``selenium`` package; skipped with a reason when
they are missing.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from course_utils.grading import protocol
from tests.chromium import ARTIFACTS, ROOT, jupyterlab, needs_chromium, open_notebook, save, wait

WORKBOOK = "01_log_derivative_trick.ipynb"
PRED = "score_constant_shift"

pytestmark = [needs_chromium, pytest.mark.system]


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator:
    """JupyterLab serving a temporary folder with two copies of workbook 01 (autosave off,
    saveState on as user settings); yields its ``tests.chromium.Lab``."""
    root = tmp_path_factory.mktemp("predict-lab") / "work"
    root.mkdir()
    for name in ("open", "reloaded"):
        shutil.copyfile(ROOT / "exercises" / WORKBOOK, root / f"{name}_{WORKBOOK}")
    with jupyterlab(token="predict-test", root=root,
                    settings={"@jupyterlab/docmanager-extension": {"autosave": False},
                              "@jupyter-widgets/jupyterlab-manager": {"saveState": True}}) as server:
        yield server


def _idle(driver, find: str) -> None:
    time.sleep(1.0)
    wait("the kernel to be idle", lambda: driver.execute_script(
        find + "return !!(w && w.sessionContext.session && w.sessionContext.session.kernel"
        " && w.sessionContext.session.kernel.status === 'idle');"), timeout=180)


def _run_predict_cell(driver, find: str) -> None:
    index = driver.execute_script(find + "return w.content.widgets.findIndex(c => c.model.type === 'code' &&"
                                  f" c.model.sharedModel.getSource().includes('predict(\"{PRED}\")'));")
    assert index >= 0
    driver.execute_script(find + "w.content.activeCellIndex = arguments[0]; w.content.deselectAll();"
                          "return window.jupyterapp.commands.execute('notebook:run-cell');", index)
    _idle(driver, find)


def _last_output(driver, find: str) -> str:
    """The text of the predict cell's last output, as the notebook model (what is saved) holds it."""
    return driver.execute_script(
        find + "const c = w.content.widgets.find(c => c.model.type === 'code' &&"
        f" c.model.sharedModel.getSource().includes('predict(\"{PRED}\")'));"
        "const outs = c.model.outputs.toJSON(); const d = outs[outs.length - 1].data || {};"
        "return [].concat(d['text/plain'] || []).join('');")


def _commit_b(driver, find: str) -> str:
    """Choose (b) and press the commit button; returns the text the page then shows."""
    from selenium.webdriver.common.by import By

    def choose() -> bool:  # (re-found each time: after a reload the saved widgets are drawn again)
        radio = driver.find_elements(By.CSS_SELECTOR, ".widget-radio-box input")[1]
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", radio)
        radio.click()
        return radio.is_selected()

    wait("(b) to be chosen", choose, 60)
    button = wait("the commit button", lambda: [b for b in driver.find_elements(By.CSS_SELECTOR, ".jupyter-button")
                                                 if "Commit my prediction" in b.text])[0]
    assert driver.execute_script("return arguments[0].scrollWidth <= arguments[0].clientWidth;", button), \
        "the button's label is cut off"
    button.click()
    wait("the commitment to show", lambda: "Committed: (b)" in driver.find_element(By.TAG_NAME, "body").text, 60)
    _idle(driver, find)
    return driver.find_element(By.TAG_NAME, "body").text


def _course_check(path: Path, progress: Path) -> str:
    proc = subprocess.run([sys.executable, "-m", "course_utils", "check", str(path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=dict(os.environ, COURSE_PROGRESS_FILE=str(progress)))
    return proc.stdout + proc.stderr


def test_a_button_commitment_is_saved_and_counted(lab, browser, tmp_path):
    root = lab.root
    driver = browser  # the session's headless Chromium (tests/chromium.py)
    # 1. the page that ran the cell stays open: the record replaces "Not committed yet" in the cell
    path = f"open_{WORKBOOK}"
    find = open_notebook(driver, lab, path)
    _run_predict_cell(driver, find)
    assert _last_output(driver, find).startswith("Not committed yet")
    _commit_b(driver, find)
    assert _last_output(driver, find).startswith("Prediction recorded")
    driver.save_screenshot(str(ARTIFACTS / "predict_committed_with_buttons.png"))
    save(driver, find)
    saved = json.loads((root / path).read_text())
    cell = next(c for c in saved["cells"] if f'predict("{PRED}")' in "".join(c["source"]))
    assert cell["outputs"][-1]["data"][protocol.PREDICTION_MIME]["choice"] == "b", cell["outputs"][-1]
    assert protocol.committed_predictions(saved)[PRED]["choice"] == "b"

    # 2. run the cell, save, reload the page, then click: the Output widget's saved state holds it
    lab.progress.unlink()  # a learner who has not committed yet (the buttons appear)
    path = f"reloaded_{WORKBOOK}"
    find = open_notebook(driver, lab, path)
    _run_predict_cell(driver, find)
    save(driver, find)
    find = open_notebook(driver, lab, path)  # the same kernel, a new page
    _commit_b(driver, find)
    assert _last_output(driver, find).startswith("Not committed yet")  # the cell no longer receives the update...
    save(driver, find)
    saved = json.loads((root / path).read_text())
    cell = next(c for c in saved["cells"] if f'predict("{PRED}")' in "".join(c["source"]))
    assert protocol.PREDICTION_MIME not in cell["outputs"][-1]["data"]
    assert protocol.committed_predictions(saved)[PRED] == {  # ...the widget state does
        "choice": "b", "committed_at": protocol.committed_predictions(saved)[PRED]["committed_at"],
        "where": "the saved widget state"}

    for name in ("open", "reloaded"):
        out = _course_check(root / f"{name}_{WORKBOOK}", tmp_path / f"{name}.json")
        assert f"passed           {PRED}" in out and "NO PREDICTION" not in out, (name, out)
