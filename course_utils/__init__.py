"""Helpers for the policy-optimisation course: grading, RL helpers, plots and widgets."""
from course_utils.seeding import seed_everything

__all__ = ["seed_everything"]
__version__ = "0.1.0"
