"""The kernel's side of grading a notebook: run (never judge) the exercise functions its code defines.

The grading cell that :mod:`course_utils.grading.protocol` appends to a notebook calls
:func:`observe_source` inside the kernel (sandboxed, for a class): every exercise function the
notebook's code defines is called on its cases and what it did is returned as plain JSON data
(:mod:`course_utils.grading.transport`), with the choices its written ``predict("id", "b")``
lines committed in this run. Nothing here compares, nothing here is believed: the grader decides
(:mod:`course_utils.notebook_verdicts`), and reads the help used from the notebook file itself.
"""
from __future__ import annotations

from typing import Any

from course_utils import progress_store
from course_utils.catalogue import asked_predictions, defined_exercises, registry
from course_utils.grading import transport
from course_utils.grading.observe import observe_exercise

__all__ = ["OBSERVER", "observe_source", "written_predictions"]

OBSERVER = "course_utils.kernel_observer:observe_source"  # what the grading cell imports


def written_predictions(expected: list[str]) -> dict[str, dict[str, str]]:
    """{id: {"choice": key}} of the predictions of ``expected`` committed in this run (the progress
    file of the run records the written ``predict("id", "b")`` lines), {id: {}} for the others."""
    data, _ = progress_store.load()
    out: dict[str, dict[str, str]] = {}
    for p_id in expected:
        entry = data["exercises"].get(p_id, {})
        out[p_id] = {"choice": str(entry["prediction"])} if "prediction" in entry else {}
    return out


def observe_source(namespace: dict[str, Any], source: str) -> dict[str, Any]:
    """Every exercise function that ``source`` defines, called in ``namespace`` (the kernel's
    globals) on its cases: ``{"exercises": {id: observations (transport form) or {"missing": True}},
    "predictions": {id: {"choice": key} or {}}}``, for :func:`course_utils.notebook_verdicts.judge_observations`."""
    exercises: dict[str, Any] = {}
    for ex_id in defined_exercises(source):
        fn = namespace.get(ex_id)
        exercises[ex_id] = transport.encode(observe_exercise(registry()[ex_id], fn)) if callable(fn) else {"missing": True}
    return {"exercises": exercises, "predictions": written_predictions(asked_predictions(source))}
