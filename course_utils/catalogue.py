"""The course's catalogue of exercises and predictions: every chapter's items, collected in course order.

This module sits above :mod:`course_utils.checks` (it imports them) and above the grading
engine (it calls it): ``grading/`` itself never imports a check. It is what looks an item up:

    registry()                  {exercise id: Exercise}, in course order
    predictions()               {prediction id: Prediction}, in course order
    items()                     both, with their kind
    grade(exercise_id, fn)      grade a function, no display, no progress (the programmatic API)
    defined_exercises(code)     the exercises a notebook's code defines
    asked_predictions(code)     the predictions a notebook's code asks

Grading a whole notebook has three more jobs, each in its own module: the kernel's side
(:mod:`course_utils.kernel_observer`), the grader's side (:mod:`course_utils.notebook_verdicts`)
and the credit for predictions (:mod:`course_utils.prediction_credit`).
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
    ch10_llm_rl,
)
from course_utils.grading.check_function import grade_exercise, unknown_exercise
from course_utils.grading.result import Result
from course_utils.grading.spec import Exercise, Prediction

__all__ = ["registry", "exercise_ids", "grade", "defined_exercises", "asked_predictions", "predictions", "items"]

# the chapters' checks, in course order: add a chapter's module here
CHAPTERS = [ch00_setup, ch01_log_derivative_trick, ch02_reinforce, ch03_baselines, ch04_actor_critic, ch05_gae,
            ch06_trust_regions, ch07_trpo, ch08_ppo, ch09_grpo, ch10_llm_rl]

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


def asked_predictions(source: str) -> list[str]:
    """Prediction ids that a notebook's code asks (``predict("id"...)`` calls), in course order."""
    asked = set(re.findall(r"""\bpredict\(\s*["']([A-Za-z_]\w*)["']""", source))
    return [p_id for p_id in predictions() if p_id in asked]
