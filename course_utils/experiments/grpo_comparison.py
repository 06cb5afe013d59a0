"""GRPO against PPO with a critic on lesson 09's sorting task, cached.

    python -m course_utils experiments grpo_vs_ppo --seeds 0 1 2 3 4 5 6 7
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

from course_utils.experiments import store

__all__ = ["FILE", "cache_path", "load", "compare"]

FILE = "grpo_vs_ppo.json"


def cache_path() -> Path:
    return store.path(FILE)


def load() -> dict:
    return store.read(FILE)


def compare(seeds: list[int], iterations: int, task: Any, trainers: dict[str, Callable[..., Any]],
            success_rate: Callable[[Any, Any], float], progress: bool = False) -> dict:
    """GRPO and PPO + critic on the same task, seeds and budget of answers: the cache of lesson 09.

    ``trainers`` maps "GRPO" and "PPO + critic" to their train functions, ``success_rate``
    scores a trained policy (both from :mod:`course_utils.trainers.grpo_task`, passed by the command).
    """
    out: dict = {"seeds": seeds, "iterations": iterations, "runs": {"GRPO": [], "PPO + critic": []},
                 "meta": store.meta(f"python -m course_utils experiments grpo_vs_ppo --seeds {' '.join(map(str, seeds))}"
                                    f" --iterations {iterations}")}
    for seed in seeds:
        for name, train in trainers.items():
            history = train(task, iterations=iterations, seed=seed, progress=progress)
            out["runs"][name].append({"seed": seed, "answers": history.env_steps,
                                      "mean_reward": [round(v, 4) for v in history.iteration_mean_return],
                                      "wall_time": [round(v, 2) for v in history.wall_time],
                                      "exact_answers": success_rate(history.policy, task),
                                      "config": history.config})
            print(f"{name} seed {seed}: final mean reward {history.iteration_mean_return[-1]:.3f}, exact "
                  f"{out['runs'][name][-1]['exact_answers']:.3f}, {history.wall_time[-1]:.0f} s", file=sys.stderr)
    return out
