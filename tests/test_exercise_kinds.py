"""Exercises that make learners think: the four kinds, debug starters, predictions, solution().

* every chapter 01-09 has a ``debug`` and a ``predict`` item, and at least a third of all items
  are not ``implement`` (``python -m course_utils list --json``);
* a debug exercise hands out code that makes exactly its catalogued bug (the check finds it
  without naming it), while the solved workbook's fixed code passes;
* a prediction is recorded once, revealed only after it is committed, asked (not answered) in
  the learner's workbook, and counted by the notebook grader;
* ``solution()`` shows an answer only when confirmed, and progress records it.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter

import nbformat
import pytest
import torch

import course_utils
from course_utils.catalogue import items, predictions, registry
from course_utils.grading import protocol
from course_utils.kernel_observer import observe_source
from course_utils.notebook_verdicts import judge_observations
from course_utils import progress_store
from course_utils.grading.check_function import DEBUG_NUDGE
from course_utils.release import strip_code
from tests.conftest import ROOT

DEBUG_IDS = [ex_id for ex_id, ex in registry().items() if ex.kind == "debug"]


@pytest.fixture(autouse=True)
def _fresh_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(tmp_path / "progress.json"))
    monkeypatch.delenv("COURSE_STRICT", raising=False)
    import course_utils.predict as predict_module

    monkeypatch.setattr(predict_module, "_COMMITTED", {})


def test_list_json_shows_every_kind_in_every_chapter():
    out = subprocess.run([sys.executable, "-m", "course_utils", "list", "--json"], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    rows = json.loads(out)
    assert all(set(row) == {"id", "chapter", "kind", "title"} for row in rows)
    assert {row["kind"] for row in rows} == {"implement", "derive", "debug", "loop", "predict"}
    loops = {row["id"]: row["chapter"][:2] for row in rows if row["kind"] == "loop"}  # learners write the algorithms
    assert {"02", "04", "07", "08", "09"} <= set(loops.values()) and "ppo_capstone" in loops, loops
    for chapter in range(1, 10):
        kinds = Counter(row["kind"] for row in rows if row["chapter"].startswith(f"{chapter:02d}"))
        assert kinds["debug"] >= 1 and kinds["predict"] >= 1, (chapter, kinds)
    assert sum(row["kind"] != "implement" for row in rows) * 3 >= len(rows)
    assert [row["id"] for row in rows] == list(items())


def _workbook_function(folder: str, ex_id: str) -> tuple[str, str]:
    for path in sorted((ROOT / folder).glob("*.ipynb")):
        for cell in nbformat.read(str(path), as_version=4).cells:
            if cell.cell_type == "code" and cell.source.startswith(f"def {ex_id}("):
                return path.name, cell.source
    raise AssertionError(f"no workbook in {folder}/ defines {ex_id}")


def _define(source: str, ex_id: str):
    namespace = {"torch": torch, "math": math}
    exec(source, namespace)  # noqa: S102  (the course's own workbook code)
    return namespace[ex_id]


@pytest.mark.parametrize("ex_id", DEBUG_IDS)
def test_debug_starter_makes_its_bug_and_the_fix_passes(ex_id):
    name, handed_out = _workbook_function("exercises", ex_id)
    _, solved = _workbook_function("solutions", f"{ex_id}")
    assert "NotImplementedError" not in handed_out and "BEGIN" not in handed_out
    assert handed_out == strip_code(solved)
    res = course_utils.grade(ex_id, _define(handed_out, ex_id))
    assert not res.passed and res.diagnosis == DEBUG_NUDGE, res.message
    bug = next(m for m in registry()[ex_id].mistakes if m.name == registry()[ex_id].bug)
    assert bug.message not in res.message  # the check does not name the bug it was handed
    assert course_utils.grade(ex_id, _define(solved, ex_id)).passed
    # the starter differs from the fix in a line or two, as a realistic bug does
    changed = set(handed_out.splitlines()) ^ set(strip_code(solved.replace("### BEGIN BUGGY", "#").replace(
        "### END BUGGY", "#")).splitlines())
    assert changed


def test_a_fix_that_makes_another_mistake_gets_that_mistakes_diagnosis():
    ex = registry()["td_residuals"]
    other = next(m for m in ex.mistakes if m.name != ex.bug)
    res = course_utils.grade("td_residuals", other.fn)
    assert res.diagnosis == other.message


def test_every_prediction_is_well_formed_and_asked_in_its_workbook():
    for p_id, p in predictions().items():
        assert p.answer in p.choices and len(p.choices) >= 3 and p.explanation
        chapter = p.chapter[:2]
        solved = next((ROOT / "solutions").glob(f"{chapter}_*.ipynb"))

        def code(path):
            return "\n".join(c.source for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "code")

        assert f'predict("{p_id}", "{p.answer}")' in code(solved)
        text = code(ROOT / "exercises" / solved.name)
        assert f'predict("{p_id}")' in text and f'predict("{p_id}", ' not in text
        assert f'reveal("{p_id}")' in text


def test_predict_records_once_and_reveal_waits_for_it(capsys):
    from course_utils.predict import predict, reveal

    reveal("kl_step_doubles")
    assert "Commit a prediction first" in capsys.readouterr().out
    predict("kl_step_doubles", "z")
    assert "Not a choice" in capsys.readouterr().out
    predict("kl_step_doubles", "(C)")
    assert "Prediction recorded" in capsys.readouterr().out
    predict("kl_step_doubles", "b")
    assert "first prediction stands" in capsys.readouterr().out
    reveal("kl_step_doubles")
    out = capsys.readouterr().out
    assert "You predicted (c)" in out and "(b) 2" in out
    entry = progress_store.load()[0]["exercises"]["kl_step_doubles"]
    assert entry["prediction"] == "c" and entry["correct"] is False and entry["status"] == "passed"


def test_grader_counts_committed_predictions_and_reports_missing_ones():
    from course_utils.predict import predict

    source = 'predict("kl_step_doubles", "b")\npredict("same_reward_group")\n'
    predict("kl_step_doubles", "b")
    results = judge_observations(observe_source({}, source))  # the kernel's half, then the grader's
    assert results["kl_step_doubles"]["passed"] and "right" in results["kl_step_doubles"]["message"]
    assert results["same_reward_group"]["status"] == "missing"


def test_solution_needs_confirmation_and_is_recorded(capsys):
    from course_utils.workbook import solution

    solution("gae")
    out = capsys.readouterr().out
    assert "confirm=True" in out and "def gae" not in out
    assert "solution_seen" not in progress_store.load()[0]["exercises"].get("gae", {})
    course_utils.hint(registry()["gae"].answer)  # hint() accepts the function as well as its name
    solution("gae", confirm=True)
    out = capsys.readouterr().out
    assert "def gae" in out and "recorded as seen" in out
    report = progress_store.report(items())
    assert report.help_used["gae"] == "1 hint, answer shown"
    assert "(1 hint, answer shown)" in repr(report)


def _notebook(code: str, outputs: list) -> dict:
    return {"cells": [{"cell_type": "code", "source": code, "outputs": outputs}], "metadata": {}}


def test_grader_reads_the_help_a_notebook_used_from_the_notebook():
    """The hints and answers a notebook shows (records saved beside them, calls in its code) are read
    by the grader from the file; what the kernel says about help is ignored."""
    from IPython.core.interactiveshell import InteractiveShell

    from course_utils.workbook import _Answer, _Hint

    shown = InteractiveShell.instance().display_formatter.format(_Hint("gae", 2, 3, "the idea"))[0]
    answer = InteractiveShell.instance().display_formatter.format(_Answer("td_residuals", "def td_residuals(): ..."))[0]
    outputs = [{"output_type": "display_data", "data": shown, "metadata": {}},
               {"output_type": "display_data", "data": answer, "metadata": {}}]
    code = "def gae(rewards):\n    pass\n"
    used = protocol.help_used_in(_notebook(code, outputs))
    assert used == {"gae": "2 hints", "td_residuals": "answer shown"}
    assert protocol.help_used_in(_notebook(code + "hint('gae')\nhint(gae)\nsolution('gae', confirm=True)\n", [])) == \
        {"gae": "2 hints, answer shown"}  # calls the graded run makes again
    assert protocol.help_used_in(_notebook("solution('gae')\n", [])) == {}  # asked, not confirmed: nothing seen
    payload = observe_source({"gae": registry()["gae"].answer}, code)
    forged = {**payload, "help": {"gae": ""}, "exercises": {**payload["exercises"]}}
    results = judge_observations(forged, None, used)
    assert results["gae"]["passed"] and results["gae"]["help"] == "2 hints"  # the kernel cannot hide it
    assert "help" not in judge_observations({**payload, "help": {"gae": "5 hints"}})["gae"]  # nor invent it


def test_feedback_names_the_cause_of_what_an_outside_test_found():
    def approx_kl(logp, logp_old):
        with torch.no_grad():
            ratio = torch.exp(logp - logp_old)
            return ((ratio - 1) - torch.log(ratio)).mean()

    assert "torch.no_grad()" in course_utils.grade("approx_kl", approx_kl).message

    def discounted_return(rewards, gamma):  # float64 constants turn a float32 episode into float64
        return (torch.tensor([gamma**t for t in range(len(rewards))], dtype=torch.float64) * rewards).sum()

    res = course_utils.grade("discounted_return", discounted_return)
    assert res.passed and any("differs" in n or "inputs" in n for n in res.notes), res.notes

    for ex_id in ("normalize_advantages", "group_relative_advantages"):
        mistake = next(m for m in registry()[ex_id].mistakes if m.name == "eps hard-coded")
        assert "eps argument" in course_utils.grade(ex_id, mistake.fn).message


def test_progress_bar_labels_do_not_wrap():
    from course_utils.trainers.kit import bar_label

    label = bar_label("REINFORCE CartPole-v1")
    assert " " not in label and "-" not in label and label.replace("\u00a0", " ").replace("\u2011", "-") == (
        "REINFORCE CartPole-v1")
