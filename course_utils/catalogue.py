"""The course's catalogue of exercises: every chapter's checks, collected in course order.

This module sits above :mod:`course_utils.checks` (it imports them) and above the grading
engine (it calls it): ``grading/`` itself never imports a check. It is what looks an exercise
up by its id:

    registry()                  {exercise id: Exercise}, in course order
    exercise_ids()              the ids, in course order
    grade(exercise_id, fn)      grade a function, no display, no progress (the programmatic API)
    grade_source(namespace, source)
                                grade every exercise function a notebook's code defines, in
                                that namespace (no process boundary)
    observe_source(namespace, source)
                                run (not judge) every exercise function a notebook's code defines:
                                plain data, what the grading cell of :mod:`course_utils.grading.protocol`
                                prints inside the (sandboxed) kernel
    judge_observations(payload, saved)
                                judge that data in a process that never ran the learner's code
                                (saved: the prediction commitments of the saved notebook)
"""
from __future__ import annotations

import re
from typing import Any, Callable

from course_utils.checks import (
    ch00_setup,
    ch01_log_derivative_trick,
    ch02_reinforce,
    ch03_baselines,
    ch04_actor_critic,
    ch05_gae,
    ch06_trust_regions,
    ch07_trpo,
    ch08_ppo,
    ch09_grpo,
)
from course_utils.grading import progress_file, transport
from course_utils.grading.engine import grade_exercise, unknown_exercise
from course_utils.grading.judge import judge_exercise
from course_utils.grading.observe import observe_exercise
from course_utils.grading.result import Result
from course_utils.grading.spec import Exercise, Prediction

__all__ = ["registry", "exercise_ids", "grade", "defined_exercises", "grade_namespace", "grade_source",
           "observe_source", "judge_observations", "judge_predictions", "predictions", "items"]

# the chapters' checks, in course order: add a chapter's module here
CHAPTERS = [ch00_setup, ch01_log_derivative_trick, ch02_reinforce, ch03_baselines, ch04_actor_critic, ch05_gae,
            ch06_trust_regions, ch07_trpo, ch08_ppo, ch09_grpo]

_CATALOGUE: dict[str, Exercise] = {}
_PREDICTIONS: dict[str, Prediction] = {}


def registry() -> dict[str, Exercise]:
    """All exercises, in course order, checked once: ids unique, at least two tiers of hints."""
    if not _CATALOGUE:
        collected: dict[str, Exercise] = {}
        for chapter in CHAPTERS:
            for ex in chapter.EXERCISES:
                if ex.id in collected:
                    raise ValueError(f"exercise id {ex.id!r} defined twice")
                if len(ex.hints) < 2:
                    raise ValueError(f"exercise {ex.id!r} needs tiered hints (at least 2)")
                collected[ex.id] = ex
        _CATALOGUE.update(collected)
    return _CATALOGUE


def predictions() -> dict[str, Prediction]:
    """The predict items (``course_utils.predict``), in course order."""
    if not _PREDICTIONS:
        from course_utils.checks.predictions import PREDICTIONS

        ids = set(registry())
        for p in PREDICTIONS:
            if p.id in _PREDICTIONS or p.id in ids:
                raise ValueError(f"item id {p.id!r} defined twice")
            if p.answer not in p.choices:
                raise ValueError(f"prediction {p.id!r}: answer {p.answer!r} is not one of its choices")
            _PREDICTIONS[p.id] = p
    return _PREDICTIONS


def items() -> dict[str, Exercise | Prediction]:
    """Every graded item, exercises and predictions, in course order (by chapter; a chapter's
    predictions after its exercises). Each has ``id``, ``chapter``, ``kind`` and ``title``."""
    everything: list[Exercise | Prediction] = [*registry().values(), *predictions().values()]
    order = {chapter: i for i, chapter in enumerate(dict.fromkeys(ex.chapter for ex in registry().values()))}
    everything.sort(key=lambda item: order.get(item.chapter, len(order)))  # stable: keeps course order inside
    return {item.id: item for item in everything}


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


def asked_predictions(source: str) -> list[str]:
    """Prediction ids that a notebook's code asks (``predict("id"...)`` calls), in course order."""
    asked = set(re.findall(r"""\bpredict\(\s*["']([A-Za-z_]\w*)["']""", source))
    return [p_id for p_id in predictions() if p_id in asked]


def prediction_choices(expected: list[str]) -> dict[str, dict[str, str]]:
    """{id: {"choice": key}} of the predictions of ``expected`` committed in this run (recorded in
    the progress file of this run: the written ``predict("id", "b")`` lines), {id: {}} for the others.
    Plain data: what the grading cell sends; :func:`judge_predictions` decides."""
    data, _ = progress_file.load()
    out: dict[str, dict[str, str]] = {}
    for p_id in expected:
        entry = data["exercises"].get(p_id, {})
        out[p_id] = {"choice": str(entry["prediction"])} if "prediction" in entry else {}
    return out


def judge_predictions(sent: Any, saved: Any = None) -> dict[str, dict[str, Any]]:
    """The verdicts on predictions, {id: {passed, status, message, choice}}, reached here from plain data.

    ``sent``: {id: {"choice": key}} from the notebook's run (what its written ``predict("id", "b")``
    lines committed; the ids are those it asks); ``saved``: the commitments the saved notebook
    holds (:func:`course_utils.grading.protocol.committed_predictions`: the buttons' records).
    A prediction passes when a choice of its question was committed; whether it was right is
    said, never graded. Both sources are the learner's own (a record can be written by hand,
    as a ``predict`` line can), so neither is trusted with more than a choice: a ``passed`` in
    them is ignored and a key that is not one of the question's does not count. When both hold
    a valid choice and they differ, the saved one counts: it was committed first, in the
    learner's session, before the file was handed in (there, the cell's later ``predict`` line
    said "your first prediction stands"); the message says so."""
    sent = sent if isinstance(sent, dict) else {}
    saved = saved if isinstance(saved, dict) else {}
    out: dict[str, dict[str, Any]] = {}
    for p_id, p in predictions().items():
        if p_id not in sent and p_id not in saved:
            continue
        written = sent.get(p_id, {}).get("choice") if isinstance(sent.get(p_id), dict) else None
        recorded = saved.get(p_id, {}).get("choice") if isinstance(saved.get(p_id), dict) else None
        written = written if isinstance(written, str) and written in p.choices else None
        recorded = recorded if isinstance(recorded, str) and recorded in p.choices else None
        choice = recorded or written
        if choice is None:
            out[p_id] = {"passed": False, "status": "missing", "choice": "",
                         "message": f"NO PREDICTION {p_id}: no choice was committed. Choose one with the buttons and "
                                    f"save the notebook (Ctrl+S), or write your letter in the cell, "
                                    f"predict({p_id!r}, \"b\"), so that it counts in a graded workbook."}
            continue
        verdict = "right" if choice == p.answer else "not what happened (that is fine)"
        where = ""
        if recorded and written and recorded != written:
            where = (f" Your first commitment counts: ({recorded}), saved in the notebook, although the cell now "
                     f"says ({written}).")
        elif recorded and not written:
            where = " Committed with the buttons, saved in the notebook."
        out[p_id] = {"passed": True, "status": "passed", "choice": choice,
                     "message": f"PREDICTED {p_id}: ({choice}), {verdict}.{where}"}
    return out


def prediction_results(expected: list[str]) -> dict[str, dict[str, Any]]:
    """{id: {passed, status, message, choice}} for the predictions of ``expected``, from the progress
    file of this run (in one process: :func:`grade_source`)."""
    return judge_predictions(prediction_choices(expected))


def grade_source(namespace: dict[str, Any], source: str) -> dict[str, dict[str, Any]]:
    """Grade, in ``namespace`` (a kernel's globals), every exercise that ``source`` defines, and
    report every prediction it asks."""
    results = grade_namespace(namespace, defined_exercises(source))
    results.update(prediction_results(asked_predictions(source)))
    data, _ = progress_file.load()  # hints and answers used while the notebook ran
    for ex_id, res in results.items():
        used = progress_file.help_used(data["exercises"].get(ex_id, {}))
        if used:
            res["help"] = used
    return results


def observe_source(namespace: dict[str, Any], source: str) -> dict[str, Any]:
    """The untrusted half of :func:`grade_source`, run inside the kernel: every exercise function
    that ``source`` defines is called on its cases, nothing is compared. Returns plain JSON data:
    ``{"exercises": {id: observations (transport form) or {"missing": True}}, "predictions":
    {id: {"choice": key} or {}}, "help": {id: hints and answers used}}``, for :func:`judge_observations`."""
    exercises: dict[str, Any] = {}
    for ex_id in defined_exercises(source):
        fn = namespace.get(ex_id)
        exercises[ex_id] = transport.encode(observe_exercise(registry()[ex_id], fn)) if callable(fn) else {"missing": True}
    data, _ = progress_file.load()  # hints and answers used while the notebook ran
    helped = {ex_id: progress_file.help_used(entry) for ex_id, entry in data["exercises"].items()}
    return {"exercises": exercises, "predictions": prediction_choices(asked_predictions(source)),
            "help": {k: v for k, v in helped.items() if v}}


def judge_observations(payload: Any, saved: Any = None) -> dict[str, dict[str, Any]]:
    """The trusted half: {id: {passed, status, message[, help]}} from :func:`observe_source`'s data,
    judged here against the answers on inputs rebuilt here. The payload came from learner-controlled
    code, so it is read defensively: unknown ids are ignored, a malformed entry fails.

    ``saved``: the prediction commitments of the notebook as it was handed in
    (:func:`course_utils.grading.protocol.committed_predictions`, read before it ran); predictions
    are judged on them and on the choices the run sent (:func:`judge_predictions`)."""
    payload = payload if isinstance(payload, dict) else {}
    results: dict[str, dict[str, Any]] = {}
    for ex_id, observed in dict(payload.get("exercises") or {}).items():
        ex = registry().get(str(ex_id))
        if ex is None:
            continue
        if not isinstance(observed, dict) or observed.get("missing"):
            results[ex.id] = {"passed": False, "status": "missing", "message": f"MISSING {ex.id}: the notebook does "
                              "not define this function when run top to bottom."}
            continue
        try:
            res = judge_exercise(ex, transport.decode(observed))
        except Exception as exc:  # noqa: BLE001  (malformed data from the kernel)
            res = Result(exercise_id=ex.id, passed=False, status="failed",
                         message=f"FAILED {ex.id}: the grader could not read what the notebook's kernel sent back "
                                 f"({type(exc).__name__}).")
        results[ex.id] = {"passed": res.passed, "status": res.status, "message": res.message}
    sent = payload.get("predictions")
    results.update(judge_predictions(sent if isinstance(sent, dict) else {}, saved))
    for ex_id, used in dict(payload.get("help") or {}).items():
        if ex_id in results and used:
            results[ex_id]["help"] = str(used)[:300]
    return results
