"""Grade a function in this process: what ``check(fn)`` does in a workbook.

There is one grading path: the half that runs learner code observes
(:func:`~course_utils.grading.observe.observations`, each case called under the guard on fresh
inputs) and the half that knows the answer judges
(:func:`~course_utils.grading.judge.judge_exercise`, the one per-case loop). Here both halves run
in the learner's process, lazily, so a check stops at the first wrong case; ``course check`` and
the batch grader run the first half in a kernel (sandboxed, for a class) and the second in the
grading command. The first case that fails is reported with its inputs, the expected and obtained
values and, when the answer equals one of the exercise's catalogued mistakes, that mistake's
diagnosis. RNG states are restored, so grading never changes what a seeded notebook computes next.
"""
from __future__ import annotations

import difflib
from typing import Any, Callable, Sequence

from course_utils.grading.judge import DEBUG_NUDGE, MISTAKE_TIMEOUT_S, judge_exercise
from course_utils.grading.observe import TOTAL_BUDGET_S, observations
from course_utils.grading.result import Result, compose
from course_utils.grading.spec import Exercise

__all__ = ["TOTAL_BUDGET_S", "DEBUG_NUDGE", "MISTAKE_TIMEOUT_S", "unknown_exercise", "grade_exercise"]


def unknown_exercise(exercise_id: str, known_ids: Sequence[str]) -> Result:
    """The result for an id that names no exercise, suggesting the closest ones."""
    close_ids = difflib.get_close_matches(str(exercise_id), list(known_ids), n=3)
    suggestion = f" Did you mean {', '.join(repr(c) for c in close_ids)}?" if close_ids else ""
    return compose(Result(exercise_id=str(exercise_id), passed=False, status="unknown_exercise",
                          headline=f"there is no exercise called {exercise_id!r}.{suggestion} "
                          "Name your function like the exercise, or pass exercise_id=... to check()."))


def grade_exercise(ex: Exercise, fn: Callable[..., Any]) -> Result:
    """Grade ``fn`` as a solution of ``ex``: ``judge_exercise(ex, observations(ex, fn))``. Never raises
    because of what ``fn`` does; no display and no side effect on progress
    (:func:`course_utils.catalogue.grade` looks the exercise up by id and calls this)."""
    return judge_exercise(ex, observations(ex, fn))
