"""The spine math of chapters 2-5, kept under its old name: lessons import
``from course_utils.rl.functional import gae``. The answers live in :mod:`course_utils.answers`.
"""
from course_utils.answers.advantages import gae, td_residuals
from course_utils.answers.policy_gradient import pg_loss
from course_utils.answers.returns import discounted_return, reward_to_go

__all__ = ["discounted_return", "reward_to_go", "pg_loss", "td_residuals", "gae"]
