"""The benchmark measures with the library's definitions (steps to target, evaluation episodes)."""
from __future__ import annotations

import numpy as np
import pytest

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


def test_the_benchmark_runs_end_to_end_at_a_tiny_scale(tmp_path):
    """`python -m benchmarks.run` once crashed after its first run (a module it no longer imported) and no
    test saw it. Both systems, one seed, every task at 1% of its budget, through its command line."""
    pytest.importorskip("stable_baselines3")
    import json

    from benchmarks import run

    budgets = {name: task["steps"] for name, task in run.TASKS.items()}
    try:
        run.main(["--seeds", "0", "--scale", "0.01", "--out", str(tmp_path)])
    finally:
        for name, steps in budgets.items():  # main() scales the module's budgets in place
            run.TASKS[name]["steps"] = steps
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["meta"]["complete"] and data["meta"]["machine"]["gymnasium"]
    for name in run.TASKS:
        assert set(data["results"][name]) == set(run._systems(run.TASKS[name]))
        for system, runs in data["results"][name].items():
            assert runs["0"]["steps_per_s"] > 0, (name, system)
    report = (tmp_path / "RESULTS.md").read_text()
    assert "Ratios of medians, course / SB3" in report and (tmp_path / "results.png").stat().st_size > 0
