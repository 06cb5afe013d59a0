"""One record of what the learner did (issue 22, items 3 and 7).

* A prediction committed with the buttons counts in ``course check`` and in the class's batch
  grader exactly as a written ``predict("id", "b")`` does. The commit is driven the way JupyterLab
  drives it: workbook 01's predict cell runs in a real kernel (nbclient), then the radio button
  and the commit button receive the comm messages a browser sends, and the kernel's answers are
  applied to the notebook as JupyterLab applies them: the ``update_display_data`` replaces the
  output with that display id (JupyterLab does so while the page that ran the cell is open), and
  what the Output widget captures goes into its saved widget state (JupyterLab with
  ``saveState``, the course's setting, also after a reload). The two saved forms are JupyterLab's
  own, as a real JupyterLab and Chromium wrote them (``tests/test_browser_predict.py`` does it
  again, end to end, where a browser is installed).
* The grader decides: a hand-written record counts as the learner's own commitment, but its
  ``passed`` or ``correct`` fields do not, a key that is not a choice does not count, and the saved
  commitment wins over a different written one (it came first).
* Attempts count tries: ``course check`` on an unchanged workbook adds none, a changed function
  adds one; a function copied into a later workbook (``kl_categorical`` in 07) is graded there but
  recorded only by its own workbook.
* The widgets' details: labels not cut off, no stale "Choose one answer first.", a hint button
  that stops after the last hint, formulas shown as math.
"""
from __future__ import annotations

import copy
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from course_utils.catalogue import predictions, registry
from course_utils.notebook_verdicts import judge_observations
from course_utils.prediction_credit import judge_predictions
from course_utils import progress_store
from course_utils.grading import mathtext, protocol
from tests.conftest import ROOT

WORKBOOK = "exercises/01_log_derivative_trick.ipynb"
PRED = "score_constant_shift"  # workbook 01's prediction; its answer is (b)
VIEW = "application/vnd.jupyter.widget-view+json"


# ------------------------------------------------------------------------------------------------
# Driving the buttons in a real kernel, as JupyterLab does


def _predict_cell(nb) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "predict" in c.metadata.get("tags", []))


def _click(tmp_path: Path, choices: list[int | None]) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode, list]:
    """Run workbook 01's predict cell in a fresh kernel, then for each entry of ``choices`` pick that
    radio button (None: pick none) and press the commit button, by the comm messages a browser
    sends. Returns (the notebook with the updates applied to the cell, as an open JupyterLab page
    saves it; the notebook as saved after a reload, where only the widget state has them;
    the kernel's messages)."""
    from jupyter_client import BlockingKernelClient
    from nbclient import NotebookClient

    nb = nbformat.read(str(ROOT / WORKBOOK), as_version=4)
    index = _predict_cell(nb)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    messages: list[dict] = []
    with client.setup_kernel():
        client.execute_cell(nb.cells[index], index)
        placeholder = copy.deepcopy(nb.cells[index])  # the cell as a reloaded page keeps it (saved before the click)
        views = [o["data"][VIEW]["model_id"] for o in nb.cells[index].outputs if VIEW in o.get("data", {})]
        _, radio, button, output = views  # the question (HTML), the radio buttons, the button, the Output widget
        kc = BlockingKernelClient()
        kc.load_connection_info(client.km.get_connection_info())
        kc.start_channels()
        try:
            time.sleep(0.5)
            for choice in choices:
                if choice is not None:
                    _comm(kc, radio, {"method": "update", "state": {"index": choice}, "buffer_paths": []})
                messages += _comm(kc, button, {"method": "custom", "content": {"event": "click"}})
        finally:
            kc.stop_channels()
        display_map = {k: dict(v) for k, v in client._display_id_map.items()}
    opened = nb
    captured = _output_widget_capture(messages, output)
    for msg in messages:  # JupyterLab's OutputArea: an update replaces the output shown under that display id
        if msg["msg_type"] == "update_display_data":
            display_id = msg["content"].get("transient", {}).get("display_id")
            for cell_index, positions in display_map.get(display_id, {}).items():
                for pos in positions:
                    opened.cells[cell_index].outputs[pos] = nbformat.from_dict(
                        {"output_type": "display_data", "data": msg["content"]["data"],
                         "metadata": msg["content"].get("metadata", {})})
    reloaded = copy.deepcopy(nb)
    reloaded.cells[index] = placeholder
    reloaded.metadata["widgets"] = {protocol.WIDGET_STATE_MIME: {"version_major": 2, "version_minor": 0, "state": {
        output: {"model_name": "OutputModel", "model_module": "@jupyter-widgets/output",
                 "model_module_version": "1.0.0", "state": {"layout": "IPY_MODEL_0", "outputs": captured}}}}}
    return opened, reloaded, messages


def _comm(kc, comm_id: str, data: dict) -> list[dict]:
    """Send a comm message as the browser does; the kernel's messages in answer to it, until idle."""
    msg = kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
    kc.shell_channel.send(msg)
    got = []
    while True:
        reply = kc.get_iopub_msg(timeout=60)
        if reply["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
            continue
        got.append(reply)
        if reply["msg_type"] == "status" and reply["content"]["execution_state"] == "idle":
            return got


def _output_widget_capture(messages: list[dict], output_id: str) -> list[dict]:
    """What JupyterLab's Output widget holds after these messages: while the kernel has set the
    widget's ``msg_id`` to a message id, the outputs answering that message are the widget's."""
    outputs: list[dict] = []
    capturing = ""
    for msg in messages:
        content = msg["content"]
        if msg["msg_type"] == "comm_msg" and content["comm_id"] == output_id and "msg_id" in content["data"].get("state", {}):
            capturing = content["data"]["state"]["msg_id"]
        elif capturing and msg["parent_header"].get("msg_id") == capturing:
            if msg["msg_type"] == "clear_output":
                outputs = []
            elif msg["msg_type"] == "stream":
                outputs.append({"output_type": "stream", "name": content["name"], "text": content["text"]})
            elif msg["msg_type"] == "display_data":
                outputs.append({"output_type": "display_data", "data": content["data"], "metadata": content["metadata"]})
    return outputs


def _with_solution(nb, ex_id: str, extra: str = "") -> nbformat.NotebookNode:
    """``nb`` with the solved workbook's function ``ex_id`` (plus ``extra`` lines in its body)."""
    solved = nbformat.read(str(ROOT / WORKBOOK.replace("exercises/", "solutions/")), as_version=4)
    source = next(c.source for c in solved.cells if c.cell_type == "code" and c.source.startswith(f"def {ex_id}("))
    if extra:
        head, _, body = source.partition('"""\n')
        head2, _, rest = body.partition('"""\n')
        source = head + '"""\n' + head2 + '"""\n' + extra + rest
    next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(f"def {ex_id}(")).source = source
    return nb


def _course_check(path: Path, progress: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "course_utils", "check", str(path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=dict(os.environ, COURSE_PROGRESS_FILE=str(progress)))


@pytest.fixture(scope="module")
def clicked(tmp_path_factory):
    """Workbook 01 whose prediction was committed with the buttons: a first click with no choice,
    then (b). Saved twice: as JupyterLab saves it with the page open, and after a reload."""
    tmp = tmp_path_factory.mktemp("clicked")
    os.environ["COURSE_PROGRESS_FILE"] = str(tmp / "kernel-progress.json")  # the learner's kernel's own file
    try:
        opened, reloaded, messages = _click(tmp, [None, 1])
    finally:
        os.environ.pop("COURSE_PROGRESS_FILE", None)
    return {"opened": opened, "reloaded": reloaded, "messages": messages, "tmp": tmp,
            "kernel_progress": json.loads((tmp / "kernel-progress.json").read_text())}


def test_the_click_writes_the_commitment_into_the_cell_and_the_output_widget(clicked):
    nb = clicked["opened"]
    cell = nb.cells[_predict_cell(nb)]
    assert cell.source.strip().endswith(f'predict("{PRED}")')  # the cell still only asks
    last = cell.outputs[-1]  # the placeholder, replaced in place, in the form JupyterLab saves
    assert set(last) == {"output_type", "data", "metadata"} and last["output_type"] == "display_data"
    assert last["data"][protocol.PREDICTION_MIME]["choice"] == "b" and last["data"][protocol.PREDICTION_MIME]["id"] == PRED
    assert "Prediction recorded" in last["data"]["text/plain"]
    assert clicked["kernel_progress"]["exercises"][PRED]["prediction"] == "b"  # the learner's progress has it too
    # the first click (no choice) said so; the commit then cleared it: no stale message in the widget
    states = clicked["reloaded"].metadata["widgets"][protocol.WIDGET_STATE_MIME]["state"]
    (widget,) = states.values()
    shown = json.dumps(widget["state"]["outputs"])
    assert "Choose one answer first." not in shown and "Committed: (b)" in shown
    assert any(m["msg_type"] == "stream" and "Choose one answer first." in m["content"]["text"]
               for m in clicked["messages"])
    # what the grader reads from each saved form
    assert protocol.committed_predictions(nb)[PRED]["choice"] == "b"
    assert protocol.committed_predictions(nb)[PRED]["committed_at"].startswith("20")  # when, from the metadata
    reloaded = clicked["reloaded"]
    assert "Not committed yet" in reloaded.cells[_predict_cell(reloaded)].outputs[-1]["data"]["text/plain"]
    assert protocol.committed_predictions(reloaded)[PRED] == {
        "choice": "b", "committed_at": protocol.committed_predictions(nb)[PRED]["committed_at"],
        "where": "the saved widget state"}


def test_course_check_counts_a_button_commitment_and_regrading_adds_no_attempt(clicked, tmp_path):
    book, progress = tmp_path / "01_log_derivative_trick.ipynb", tmp_path / "progress.json"
    nbformat.write(_with_solution(copy.deepcopy(clicked["opened"]), "score_gradient_gaussian_mean"), str(book))
    first = _course_check(book, progress)
    assert f"passed           {PRED}" in first.stdout and "NO PREDICTION" not in first.stdout, first.stdout + first.stderr
    assert "passed           score_gradient_gaussian_mean" in first.stdout
    entries = json.loads(progress.read_text())["exercises"]
    assert entries[PRED]["prediction"] == "b"  # recorded from the file: the first commitment there is
    attempts = {ex: entries[ex]["attempts"] for ex in registry() if ex in entries}
    assert attempts == {"categorical_log_prob": 1, "gaussian_log_prob": 1, "softmax_score": 1,
                        "score_gradient_gaussian_mean": 1}
    again = _course_check(book, progress)  # the same saved file, graded again
    assert again.stdout == first.stdout
    entries = json.loads(progress.read_text())["exercises"]
    assert {ex: entries[ex]["attempts"] for ex in attempts} == attempts
    # a real change to one function is a new try, for that function only
    nbformat.write(_with_solution(nbformat.read(str(book), as_version=4), "score_gradient_gaussian_mean",
                                  "    n_samples = x.shape[0]\n"), str(book))
    _course_check(book, progress)
    entries = json.loads(progress.read_text())["exercises"]
    assert {ex: entries[ex]["attempts"] for ex in attempts} == {**attempts, "score_gradient_gaussian_mean": 2}


def test_course_check_counts_a_commitment_kept_only_in_the_widget_state(clicked, tmp_path):
    book = tmp_path / "01_log_derivative_trick.ipynb"
    nbformat.write(clicked["reloaded"], str(book))
    out = _course_check(book, tmp_path / "progress.json").stdout
    assert f"passed           {PRED}" in out, out
    # the same workbook without the commitment: missing, and the message says how to commit
    nbformat.write(nbformat.read(str(ROOT / WORKBOOK), as_version=4), str(book))
    out = _course_check(book, tmp_path / "progress2.json").stdout
    assert f"missing          {PRED}" in out and "save the notebook (Ctrl+S)" in out, out


def test_the_batch_grader_counts_button_commitments(clicked, tmp_path):
    subs, out = tmp_path / "submissions", tmp_path / "gradebook.csv"
    for name in ("open_page", "reloaded_page", "never_committed"):
        (subs / name).mkdir(parents=True)
    nbformat.write(clicked["opened"], str(subs / "open_page" / "01_log_derivative_trick.ipynb"))
    nbformat.write(clicked["reloaded"], str(subs / "reloaded_page" / "01_log_derivative_trick.ipynb"))
    nbformat.write(nbformat.read(str(ROOT / WORKBOOK), as_version=4),
                   str(subs / "never_committed" / "01_log_derivative_trick.ipynb"))
    proc = subprocess.run([sys.executable, "-m", "course_utils", "grade-submissions", str(subs), "--out", str(out),
                           "--workers", "1", "--timeout-cell", "60", "--timeout-total", "300", "--no-progress"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with out.open(newline="") as fh:
        rows = {r["identifier"].split("/")[0]: r for r in csv.DictReader(fh)}
    assert {name: rows[name][PRED] for name in rows} == {"open_page": "passed", "reloaded_page": "passed",
                                                         "never_committed": "missing"}
    feedback = (tmp_path / "gradebook_feedback" / "open_page__01_log_derivative_trick.md").read_text()
    assert "PREDICTED score_constant_shift: (b), right. Committed with the buttons" in feedback


# ------------------------------------------------------------------------------------------------
# The saved forms, read as data; the grader decides


def _saved_by_jupyterlab(record: dict, widget_record: dict | None = None) -> dict:
    """A notebook in the form JupyterLab 4.6 saved it (a real JupyterLab and Chromium, ipywidgets
    8.1): the click's record replaced the placeholder among the cell's outputs, and the Output
    widget's outputs sit in the widget state under metadata.widgets."""
    outputs = [{"data": {VIEW: {"model_id": "25ed7574341142eaba1f21e4bdf4e81c", "version_major": 2,
                                "version_minor": 0}, "text/plain": ["Button(description='Commit my prediction')"]},
                "metadata": {}, "output_type": "display_data"},
               {"data": {protocol.PREDICTION_MIME: record, "text/html": ["<b>Prediction recorded</b>"],
                         "text/plain": ["Prediction recorded"]}, "metadata": {}, "output_type": "display_data"}]
    nb = {"cells": [{"cell_type": "code", "execution_count": 1, "id": "a", "metadata": {"tags": ["predict"]},
                     "outputs": outputs, "source": [f'predict("{PRED}")']}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    if widget_record is not None:
        nb["metadata"]["widgets"] = {protocol.WIDGET_STATE_MIME: {"version_major": 2, "version_minor": 0, "state": {
            "28fee3a272dd4e12aa0f415038b5eaa0": {"model_module": "@jupyter-widgets/output", "model_module_version": "1.0.0",
                                                 "model_name": "OutputModel", "state": {"layout": "IPY_MODEL_x", "outputs": [
                                                     {"data": {protocol.PREDICTION_MIME: widget_record,
                                                               "text/plain": "Committed"},
                                                      "metadata": {}, "output_type": "display_data"}]}}}}}
    return nb


def test_records_are_read_as_data_and_the_first_commitment_wins():
    early = {"id": PRED, "choice": "a", "committed_at": "2026-01-01T10:00:00+00:00"}
    late = {"id": PRED, "choice": "b", "committed_at": "2026-01-02T10:00:00+00:00"}
    assert protocol.committed_predictions(_saved_by_jupyterlab(late, early))[PRED]["choice"] == "a"
    assert protocol.committed_predictions(_saved_by_jupyterlab(early, late))[PRED]["where"] == "the outputs of cell 1"
    assert protocol.committed_predictions(_saved_by_jupyterlab({"id": PRED, "choice": "c"}))[PRED]["choice"] == "c"
    for junk in ({"id": PRED}, {"id": PRED, "choice": 2}, {"id": "no spaces allowed", "choice": "b"},
                 {"id": PRED, "choice": "x" * 40}, ["not", "a", "record"], "text"):
        assert protocol.committed_predictions(_saved_by_jupyterlab(junk)) == {}, junk
    for broken in ({}, {"cells": "x"}, {"cells": [None, {"outputs": 3}], "metadata": {"widgets": []}}, []):
        assert protocol.committed_predictions(broken) == {}


def test_the_grader_decides_what_a_commitment_is_worth():
    wrong = {"choice": "a"}  # (b) is what happens
    results = judge_observations({"predictions": {PRED: {"passed": True, "status": "passed", "message": "PASSED"}}})
    assert results[PRED]["status"] == "missing"  # a verdict sent by the kernel earns nothing
    forged = {PRED: {"choice": "a", "passed": True, "correct": True, "committed_at": ""}}
    res = judge_observations({}, forged)[PRED]  # a hand-written record: the learner's own commitment, judged here
    assert res["passed"] and res["choice"] == "a" and "not what happened" in res["message"]
    assert judge_predictions({}, {PRED: {"choice": "z"}})[PRED]["status"] == "missing"  # not a choice
    assert judge_predictions({}, {"not_a_prediction": {"choice": "a"}}) == {}
    both = judge_predictions({PRED: {"choice": "b"}}, {PRED: wrong})[PRED]
    assert both["choice"] == "a" and "first commitment counts: (a)" in both["message"] and "(b)" in both["message"]
    assert judge_predictions({PRED: {"choice": "b"}}, {PRED: {"choice": "b"}})[PRED]["message"] == \
        f"PREDICTED {PRED}: (b), right."
    assert judge_predictions({PRED: {"choice": "b"}}, {PRED: {"choice": "q"}})[PRED]["choice"] == "b"


# ------------------------------------------------------------------------------------------------
# Attempts and a copied exercise


def test_attempts_count_changed_code_not_gradings(tmp_path, capsys):
    import course_utils

    source_a = "def categorical_log_prob(logits, actions):\n    '''mine'''\n    return logits[:, 0]  # first try\n"
    path = tmp_path / "p.json"
    code_a = progress_store.fingerprint(source_a)
    assert code_a == progress_store.fingerprint(source_a.replace("'''mine'''", "'''copied here'''").replace("  # first try", ""))
    progress_store.record("categorical_log_prob", "failed", path, code=code_a)
    progress_store.record("categorical_log_prob", "failed", path, code=code_a)
    code_b = progress_store.fingerprint(source_a.replace("[:, 0]", "[:, 1]"))
    progress_store.record("categorical_log_prob", "failed", path, code=code_b)
    progress_store.record("categorical_log_prob", "failed", path)  # code unknown: counted
    assert json.loads(path.read_text())["exercises"]["categorical_log_prob"]["attempts"] == 3
    # check(): the same function checked twice is one try
    from tests.test_check_api import categorical_log_prob

    course_utils.check(categorical_log_prob)
    course_utils.check(categorical_log_prob)
    capsys.readouterr()
    assert json.loads(progress_store.progress_path().read_text())["exercises"]["categorical_log_prob"]["attempts"] == 1


def test_a_copied_exercise_is_graded_but_recorded_by_its_own_workbook(tmp_path):
    def source(path: str, ex_id: str) -> str:
        return next(c.source for c in nbformat.read(str(ROOT / path), as_version=4).cells
                    if c.cell_type == "code" and c.source.startswith(f"def {ex_id}("))

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import torch"),
                                         nbformat.v4.new_code_cell(source("solutions/06_trust_regions.ipynb", "kl_categorical")),
                                         nbformat.v4.new_code_cell(source("exercises/07_trpo.ipynb", "fisher_vector_product"))])
    nb.metadata["course"] = {"generated_from": "solutions/07_trpo.ipynb"}
    book, progress = tmp_path / "my_trpo_work.ipynb", tmp_path / "progress.json"  # the chapter comes from the metadata
    nbformat.write(nb, str(book))
    out = _course_check(book, progress).stdout
    assert "passed           kl_categorical" in out and "not_implemented  fisher_vector_product" in out, out
    assert "kl_categorical (workbook 06): graded here, recorded in your progress by its own workbook" in out
    entries = json.loads(progress.read_text())["exercises"]
    assert "kl_categorical" not in entries and entries["fisher_vector_product"]["attempts"] == 1
    assert protocol.notebook_chapter({}, Path("07_trpo.ipynb")) == "07" and protocol.notebook_chapter({}) == ""


# ------------------------------------------------------------------------------------------------
# The widgets' details (issue 22, item 7)


def _captured_display(monkeypatch) -> list:
    import IPython.display

    import course_utils.predict as predict_module
    import course_utils.workbook as workbook

    shown: list = []

    def display(*objs, display_id=None, **kwargs):
        shown.extend(objs)

    monkeypatch.setattr(IPython.display, "display", display)
    monkeypatch.setattr(workbook, "_in_kernel", lambda: True)
    monkeypatch.setattr(predict_module, "_in_kernel", lambda: True)
    return shown


def test_button_labels_are_not_cut_off(monkeypatch):
    import ipywidgets

    import course_utils.predict as predict_module
    import course_utils.workbook as workbook

    shown = _captured_display(monkeypatch)
    assert predict_module._buttons(predictions()["kl_step_doubles"])  # a choice reads sqrt(2)
    assert workbook._solution_button("gae")
    workbook._hint_button("gae")
    buttons = [w for w in shown if isinstance(w, ipywidgets.Button)]
    buttons += [c for w in shown if isinstance(w, ipywidgets.VBox) for c in w.children if isinstance(c, ipywidgets.Button)]
    assert {b.description for b in buttons} == {"Commit my prediction", "Yes, show me the answer", "Show a hint"}
    assert all(b.layout.width == "auto" for b in buttons)
    radio = next(w for w in shown if isinstance(w, ipywidgets.RadioButtons))
    assert radio.layout.width == "auto" and "(c) √(2)" in [label for label, _ in radio.options]


def test_the_hint_button_stops_after_the_last_hint(monkeypatch):
    import ipywidgets

    import course_utils.workbook as workbook

    shown = _captured_display(monkeypatch)
    workbook._hint_button("categorical_log_prob")
    (box,) = [w for w in shown if isinstance(w, ipywidgets.VBox)]
    button = box.children[0]
    levels = []
    for _ in range(3):
        assert not button.disabled
        before = len(shown)
        button.click()
        levels.append([h.level for h in shown[before:] if type(h).__name__ == "_Hint"])
    assert levels == [[1], [2], [3]]
    assert button.disabled and button.description == "That was the last hint"


def test_formulas_are_shown_as_math():
    hint = registry()["categorical_log_prob"].hints[2]
    assert "z_{i,a_i}" in hint  # the catalogue keeps its plain notation (the leak tests read it)
    shown = mathtext.html(hint)
    assert "log π(a<sub>i</sub>|s<sub>i</sub>) = z<sub>i,a<sub>i</sub></sub> - logsumexp<sub>b</sub>" in shown
    texts = [h for ex in registry().values() for h in ex.hints]
    texts += [t for p in predictions().values() for t in (p.title, p.question, p.explanation, *p.choices.values())]
    for text in texts:
        html_form = mathtext.html(text)
        assert "_{" not in html_form and "^{" not in html_form and "<script" not in html_form, html_form
        assert "\\" not in mathtext.plain(text)
    # code names stay code names; code between backticks is left alone; everything is escaped
    assert mathtext.html("a log_std, next_values, clip_eps, kl_fn and `x_i ^ 2`") == \
        "a log_std, next_values, clip_eps, kl_fn and <code>x_i ^ 2</code>"
    assert mathtext.html("requires grad, and grad log pi(a) <b>") == "requires grad, and ∇ log π(a) &lt;b&gt;"
    assert mathtext.plain("sigma^2 and r_t, hat R_{t+1}") == "σ² and rₜ, R̂ₜ₊₁"
    assert mathtext.html("bar d_pi, not a bar chart") == "d\u0304<sub>π</sub>, not a bar chart"
    from course_utils.grading.result import hint_html

    assert "σ<sup>2</sup>" in hint_html("gaussian_log_prob", 1, 3, registry()["gaussian_log_prob"].hints[0])
