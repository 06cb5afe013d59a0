"""Helpers for the policy-optimisation course: grading, RL helpers, plots and widgets.

In a workbook::

    from course_utils import check, hint, progress
    check(gae)        # grade your function, show feedback, record progress
    hint("gae")       # a nudge; call again for a stronger hint
    progress()        # the whole course at a glance

The names below are imported on first use (PEP 562), so that ``import course_utils.X`` loads
only X: the notebook-grading protocol (:mod:`course_utils.grading.protocol`) and the command
line start without torch.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["check", "exercise_ids", "grade", "hint", "predict", "progress", "ready", "reveal", "seed_everything", "solution"]
__version__ = "0.1.0"

_HOME = {
    "check": "course_utils.workbook",
    "hint": "course_utils.workbook",
    "progress": "course_utils.workbook",
    "ready": "course_utils.workbook",
    "solution": "course_utils.workbook",
    "predict": "course_utils.predict",
    "reveal": "course_utils.predict",
    "grade": "course_utils.catalogue",
    "exercise_ids": "course_utils.catalogue",
    "seed_everything": "course_utils.seeding",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'course_utils' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
