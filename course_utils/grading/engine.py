"""The grading engine: compare a learner's function with the answer, case by case.

For each case of an exercise (in a fixed order) the learner's function is called on fresh
inputs under :func:`~course_utils.grading.guard.call_guarded` (:mod:`~course_utils.grading.observe`,
the half that runs learner code), then what it did is judged against the answer
(:mod:`~course_utils.grading.judge`, the half that knows the answer): the first case that fails
stops the check and is reported with its inputs, the expected and the obtained values, and, when
the answer equals one of the exercise's catalogued mistakes, that mistake's diagnosis. Gradients
are compared too for the exercises that name ``grad_wrt``. Random number generators are saved and
restored so that grading never changes what a seeded notebook computes next.

In a workbook both halves run here, in the learner's process; the batch grader runs the first in
its sandbox and the second in a process that never runs learner code.
"""
from __future__ import annotations

import difflib
import time
from typing import Any, Callable, Sequence

from course_utils.grading.judge import (DEBUG_NUDGE, MISTAKE_TIMEOUT_S, conclude, fail, internal_error, judge_case,
                                         judge_extra)
from course_utils.grading.observe import TOTAL_BUDGET_S, observe_case, observe_extra, preserved_rng
from course_utils.grading.result import Result, compose
from course_utils.grading.spec import Exercise

__all__ = ["TOTAL_BUDGET_S", "DEBUG_NUDGE", "MISTAKE_TIMEOUT_S", "preserved_rng", "unknown_exercise", "grade_exercise"]


def unknown_exercise(exercise_id: str, known_ids: Sequence[str]) -> Result:
    """The result for an id that names no exercise, suggesting the closest ones."""
    close_ids = difflib.get_close_matches(str(exercise_id), list(known_ids), n=3)
    suggestion = f" Did you mean {', '.join(repr(c) for c in close_ids)}?" if close_ids else ""
    return compose(Result(exercise_id=str(exercise_id), passed=False, status="unknown_exercise",
                          headline=f"there is no exercise called {exercise_id!r}.{suggestion} "
                          "Name your function like the exercise, or pass exercise_id=... to check()."))


def grade_exercise(ex: Exercise, fn: Callable[..., Any]) -> Result:
    """Grade ``fn`` as a solution of ``ex``; never raises because of what ``fn`` does.

    No display and no side effect on progress. :func:`course_utils.catalogue.grade` looks the
    exercise up by id and calls this.
    """
    if not callable(fn):
        return compose(Result(exercise_id=ex.id, passed=False, status="failed", title=ex.title,
                               headline=f"check() needs the function itself, e.g. check({ex.id}), not its "
                               f"result (got a {type(fn).__name__})."))
    notes: list[str] = []
    start = time.monotonic()
    with preserved_rng():
        try:
            cases = list(ex.cases())
        except Exception as exc:  # noqa: BLE001  (a grader bug must not look like the learner's)
            return internal_error(ex, f"while building cases: {exc!r}")
        for i, case in enumerate(cases, start=1):
            budget = TOTAL_BUDGET_S - (time.monotonic() - start)
            try:
                obs, inputs = observe_case(ex, fn, case, max(budget, 0.5))
                res = judge_case(ex, case, i, len(cases), obs, notes, inputs)
            except Exception as exc:  # noqa: BLE001  (never let the check itself crash the notebook)
                res = fail(ex, case, {}, "the grader could not compare your result with the reference.",
                           i, len(cases), details=f"{type(exc).__name__}: {exc}")
            if res is not None:
                res.notes = notes
                return compose(res)
        return conclude(ex, len(cases), notes, [lambda extra=extra: judge_extra(extra, observe_extra(extra, fn))
                                                for extra in ex.extra_checks])
