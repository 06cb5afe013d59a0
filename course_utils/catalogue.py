"""The course's catalogue of exercises: every chapter's checks, collected in course order.

This module sits above :mod:`course_utils.checks` (it imports them) and above the grading
engine (it calls it): ``grading/`` itself never imports a check. It is what looks an exercise
up by its id:

    registry()                  {exercise id: Exercise}, in course order
    exercise_ids()              the ids, in course order
    grade(exercise_id, fn)      grade a function, no display, no progress (the programmatic API)
    grade_source(namespace, source)
                                grade every exercise function a notebook's code defines; what
                                the grading cell of :mod:`course_utils.grading.protocol` calls
"""
from __future__ import annotations

import importlib
import re
from typing import Any, Callable

from course_utils.checks import CHAPTERS
from course_utils.grading.engine import grade_exercise, unknown_exercise
from course_utils.grading.result import Result
from course_utils.grading.spec import Exercise

__all__ = ["registry", "exercise_ids", "grade", "defined_exercises", "grade_namespace", "grade_source"]

_CATALOGUE: dict[str, Exercise] = {}


def registry() -> dict[str, Exercise]:
    """All exercises, in course order (imports the chapter modules on first use)."""
    if not _CATALOGUE:
        collected: dict[str, Exercise] = {}
        for chapter in CHAPTERS:
            for ex in importlib.import_module(f"course_utils.checks.{chapter}").EXERCISES:
                if ex.id in collected:
                    raise ValueError(f"exercise id {ex.id!r} defined twice")
                if len(ex.hints) < 2:
                    raise ValueError(f"exercise {ex.id!r} needs tiered hints (at least 2)")
                collected[ex.id] = ex
        _CATALOGUE.update(collected)
    return _CATALOGUE


def exercise_ids() -> list[str]:
    """Every exercise id, in course order."""
    return list(registry())


def grade(exercise_id: str, fn: Callable[..., Any]) -> Result:
    """Grade ``fn`` as a solution of ``exercise_id``; never raises because of what ``fn`` does.

    No display and no side effect on progress: that is :func:`course_utils.check`'s job.
    """
    ex = registry().get(exercise_id)
    if ex is None:
        return unknown_exercise(exercise_id, list(registry()))
    return grade_exercise(ex, fn)


def defined_exercises(source: str) -> list[str]:
    """Exercise ids that a notebook's code defines as functions, in course order."""
    names = set(re.findall(r"^\s*def\s+([A-Za-z_]\w*)\s*\(", source, flags=re.MULTILINE))
    return [ex_id for ex_id in registry() if ex_id in names]


def grade_namespace(namespace: dict[str, Any], expected: list[str]) -> dict[str, dict[str, Any]]:
    """Grade the functions of ``expected`` found in ``namespace``: {id: {passed, status, message}}."""
    out = {}
    for ex_id in expected:
        fn = namespace.get(ex_id)
        if not callable(fn):
            out[ex_id] = {"passed": False, "status": "missing",
                          "message": f"MISSING {ex_id}: the notebook does not define this function when run top to bottom."}
            continue
        res = grade(ex_id, fn)
        out[ex_id] = {"passed": res.passed, "status": res.status, "message": res.message}
    return out


def grade_source(namespace: dict[str, Any], source: str) -> dict[str, dict[str, Any]]:
    """Grade, in ``namespace`` (a kernel's globals), every exercise that ``source`` defines."""
    return grade_namespace(namespace, defined_exercises(source))
