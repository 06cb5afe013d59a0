"""RL building blocks: the spine's math (re-exported from :mod:`course_utils.answers`), small policies and rollout collection."""
from course_utils.rl.functional import discounted_return, gae, pg_loss, reward_to_go, td_residuals
from course_utils.rl.policies import CategoricalPolicy, GaussianPolicy, ValueNet, mlp
from course_utils.rl.rollout import (
    Episode,
    RolloutBuffer,
    RolloutCollector,
    collect_episodes,
    make_vector_env,
)

__all__ = [
    "discounted_return",
    "reward_to_go",
    "pg_loss",
    "td_residuals",
    "gae",
    "mlp",
    "CategoricalPolicy",
    "GaussianPolicy",
    "ValueNet",
    "Episode",
    "collect_episodes",
    "make_vector_env",
    "RolloutBuffer",
    "RolloutCollector",
]
