"""``solution(...)`` shows code that runs where the learner pastes it.

For every exercise of the catalogue, what ``solution(id, confirm=True)`` prints is executed in a
namespace made by running the first code cell of the exercise's learner workbook (its imports
and seed: what a learner's kernel holds before the exercises), and nothing else; the function it
defines under the exercise's id passes its check. The key's own source, which the course showed
before, fails this for the answers that call a helper or use a module the workbook does not import.
"""
from __future__ import annotations

import inspect
import json

import pytest

from course_utils.catalogue import grade, registry
from tests.conftest import ROOT

HEADER = "(recorded as seen):\n\n"


def _workbook_namespace(exercise_id: str) -> dict:
    """A fresh namespace after the first code cell of the exercise's workbook (exercises/NN_*.ipynb)."""
    chapter = registry()[exercise_id].chapter[:2]
    (path,) = sorted((ROOT / "exercises").glob(f"{chapter}_*.ipynb"))
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    first = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
    namespace = {"__name__": "__main__"}
    exec(compile(first, f"{path.name}, first code cell", "exec"), namespace)
    return namespace


def _shown(exercise_id: str, capsys) -> str:
    from course_utils.workbook import solution

    capsys.readouterr()
    solution(exercise_id, confirm=True)
    out = capsys.readouterr().out
    assert HEADER in out, out
    return out.split(HEADER, 1)[1]


@pytest.mark.parametrize("exercise_id", list(registry()))
def test_what_solution_shows_runs_in_the_workbook_and_passes_its_check(exercise_id, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(tmp_path / "progress.json"))
    shown = _shown(exercise_id, capsys)
    assert "course_utils" not in shown, "the answer is copied, never imported from the course"
    namespace = _workbook_namespace(exercise_id)
    exec(compile(shown, f"solution({exercise_id!r})", "exec"), namespace)
    fn = namespace[exercise_id]
    result = grade(exercise_id, fn)
    assert result.passed, result.message
    seen = json.loads((tmp_path / "progress.json").read_text())["exercises"][exercise_id]
    assert seen.get("solution_seen"), seen


@pytest.mark.parametrize("exercise_id", ["gae", "reward_to_go", "k_step_advantage", "advantage_table",
                                         "gaussian_log_prob"])
def test_the_keys_own_source_does_not_run_there(exercise_id):
    """The namespace is strict enough to catch what the course used to show."""
    namespace = _workbook_namespace(exercise_id)
    exec(inspect.getsource(registry()[exercise_id].answer), namespace)
    fn = namespace.get(exercise_id)
    assert fn is None or not grade(exercise_id, fn).passed
