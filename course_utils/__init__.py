"""Helpers for the policy-optimisation course: grading, RL helpers, plots and widgets.

In a workbook::

    from course_utils import check, hint, progress
    check(gae)        # grade your function, show feedback, record progress
    hint("gae")       # a nudge; call again for a stronger hint
    progress()        # the whole course at a glance
"""
from course_utils.grading import check, exercise_ids, grade, hint, progress, ready
from course_utils.seeding import seed_everything

__all__ = ["check", "exercise_ids", "grade", "hint", "progress", "ready", "seed_everything"]
__version__ = "0.1.0"
