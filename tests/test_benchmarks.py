"""The benchmark measures with the library's definitions (steps to target, evaluation episodes)."""
from __future__ import annotations

import numpy as np

from benchmarks.run import _episode_stats, _evaluate
from course_utils.trainers.history import History


def test_steps_to_target_is_the_librarys():
    run = History(env_steps=[10, 20, 30], wall_time=[1.0, 2.0, 3.0], episode_returns=[1.0, 500.0, 500.0],
                  episode_end_steps=[10, 20, 30])
    stats = _episode_stats(run, target=300.0)  # rolling means 1, 250.5, 333.7: first reached at 30 steps
    assert (stats["steps_to_target"], stats["seconds_to_target"]) == (30, 3.0) == run.steps_to_reach(300.0)
    assert stats["curve_rolling"] == [1.0, 250.5, 333.67]
    assert _episode_stats(run, target=1000.0)["steps_to_target"] is None


def test_evaluation_plays_seeded_episodes():
    right = _evaluate(lambda obs: 1, "CartPole-v1", episodes=3)
    assert right == _evaluate(lambda obs: 1, "CartPole-v1", episodes=3) and 5 < right < 20
    assert _evaluate(lambda obs: int(obs[2] > 0), "CartPole-v1", episodes=2) > right  # leaning policy lasts longer
    assert np.isfinite(right)
