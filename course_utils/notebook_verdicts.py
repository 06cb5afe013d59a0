"""The grader's side of grading a notebook: verdicts on what its kernel observed, reached here.

:mod:`course_utils.kernel_observer` ran the notebook's exercise functions inside the kernel and
sent plain data back; here, in a process that never runs learner code, every exercise is judged
against its answer on inputs rebuilt here (:func:`course_utils.grading.judge.judge_exercise`, the
one per-case loop), predictions are credited (:mod:`course_utils.prediction_credit`) and the help
used, read from the notebook file, is attached. The data came from learner-controlled code, so it
is read defensively: unknown ids are ignored, a malformed entry fails, verdicts in it are ignored.
"""
from __future__ import annotations

from typing import Any

from course_utils.catalogue import registry
from course_utils.grading import transport
from course_utils.grading.judge import judge_exercise
from course_utils.grading.result import Result, missing
from course_utils.prediction_credit import judge_predictions

__all__ = ["judge_observations"]


def judge_observations(payload: Any, saved: Any = None,
                       help_used: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The trusted half: {id: {passed, status, message[, mistake][, help]}} from :func:`observe_source`'s data,
    judged here against the answers on inputs rebuilt here. The payload came from learner-controlled
    code, so it is read defensively: unknown ids are ignored, a malformed entry fails.

    ``saved``: the prediction commitments of the notebook as it was handed in
    (:func:`course_utils.grading.protocol.committed_predictions`, read before it ran); predictions
    are judged on them and on the choices the run sent (:func:`~course_utils.prediction_credit.judge_predictions`).
    ``help_used``: the hints and answers the notebook file shows it used
    (:func:`course_utils.grading.protocol.help_used_in`), read by the grader; anything the kernel
    says about help is ignored."""
    payload = payload if isinstance(payload, dict) else {}
    results: dict[str, dict[str, Any]] = {}
    for ex_id, observed in dict(payload.get("exercises") or {}).items():
        ex = registry().get(str(ex_id))
        if ex is None:
            continue
        if not isinstance(observed, dict) or observed.get("missing"):
            results[ex.id] = missing(ex.id)
            continue
        try:
            res = judge_exercise(ex, transport.decode(observed))
        except Exception as exc:  # noqa: BLE001  (malformed data from the kernel)
            res = Result(exercise_id=ex.id, passed=False, status="failed",
                         message=f"FAILED {ex.id}: the grader could not read what the notebook's kernel sent back "
                                 f"({type(exc).__name__}).")
        results[ex.id] = {"passed": res.passed, "status": res.status, "message": res.message}
        if res.mistake:  # the catalogued mistake the diagnosis names, as data (the class report counts it)
            results[ex.id]["mistake"] = res.mistake
    sent = payload.get("predictions")
    results.update(judge_predictions(sent if isinstance(sent, dict) else {}, saved))
    for item_id, used in (help_used or {}).items():  # read from the notebook file by the grader
        if item_id in results and used:
            results[item_id]["help"] = str(used)[:300]
    return results
