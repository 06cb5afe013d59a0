"""RL building blocks: small policies and rollout collection (the spine's math is :mod:`course_utils.answers`)."""
from course_utils.rl.policies import CategoricalPolicy, GaussianPolicy, ValueNet, mlp
from course_utils.rl.rollout import (
    Episode,
    RolloutBuffer,
    RolloutCollector,
    collect_episodes,
    make_vector_env,
)

__all__ = [
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
