"""The self-grading engine: exercise descriptions, the safe runner, feedback and progress."""
from course_utils.grading.engine import Result, exercise_ids, grade
from course_utils.grading.notebook import CheckFailed, check, hint, progress, ready
from course_utils.grading.spec import Case, Exercise, Mistake, register, registry

__all__ = ["Case", "CheckFailed", "Exercise", "Mistake", "Result", "check", "exercise_ids", "grade", "hint",
           "progress", "ready", "register", "registry"]
