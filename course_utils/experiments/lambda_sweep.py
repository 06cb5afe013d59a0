"""Chapter 5's "same question on a real task": actor-critic + GAE on Acrobot-v1 for several lam,
seeded runs, cached so that the lesson only loads them.

    python -m course_utils experiments gae_lambda_sweep --seeds 0 1 2 3 4 5 6 7
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from course_utils.experiments import store

__all__ = ["LAMBDA_SWEEP", "FILE", "make_lambda_sweep", "load_lambda_sweep"]

FILE = "gae_lambda_sweep.json"
LAMBDA_SWEEP = dict(
    lams=[0.0, 0.5, 0.9, 0.95, 1.0],
    seeds=list(range(8)),
    grid_step=1_000,
    config=dict(env_id="Acrobot-v1", advantage="gae", total_steps=60_000, num_envs=8, num_steps=32, lr=1e-3,
                gamma=0.99, value_coef=0.5, entropy_coef=0.0, max_grad_norm=0.5),
)  # fmt: skip


def make_lambda_sweep(train_a2c: Callable[..., Any], seeds: list[int] | None = None, progress: bool = True) -> dict:
    """Train every (lam, seed) of :data:`LAMBDA_SWEEP`; rolling-20 mean return on a grid, per run."""
    grid = np.arange(0, LAMBDA_SWEEP["config"]["total_steps"] + 1, LAMBDA_SWEEP["grid_step"])
    runs: dict[str, dict[str, dict]] = {}
    for lam in LAMBDA_SWEEP["lams"]:
        runs[str(lam)] = {}
        for seed in seeds or LAMBDA_SWEEP["seeds"]:
            history = train_a2c(**LAMBDA_SWEEP["config"], lam=lam, seed=seed, progress=progress)
            curve = history.curve(grid, 20)
            reached = history.steps_to_reach(-100, 20)
            runs[str(lam)][str(seed)] = {
                "curve": [None if np.isnan(v) else round(float(v), 2) for v in curve],
                "final_rolling_return": round(float(history.rolling_return(20)[1][-1]), 2),
                "steps_to_minus_100": reached[0] if reached else None,
                "episodes": len(history.episode_returns),
            }
            print(f"lam {lam} seed {seed}: final {runs[str(lam)][str(seed)]['final_rolling_return']}", flush=True)
    return {
        "name": "gae_lambda_sweep",
        "description": "Actor-critic + GAE on Acrobot-v1 for several lam; rolling mean return over the last 20 "
                       "training episodes, per run, on a grid of environment steps.",
        "config": LAMBDA_SWEEP["config"],
        "lams": LAMBDA_SWEEP["lams"],
        "seeds": list(seeds or LAMBDA_SWEEP["seeds"]),
        "env_steps": grid.tolist(),
        "runs": runs,
        "meta": store.meta("python -m course_utils experiments gae_lambda_sweep --seeds "
                           + " ".join(map(str, seeds or LAMBDA_SWEEP["seeds"]))),
    }  # fmt: skip


def load_lambda_sweep() -> dict:
    """The cached sweep: ``data["env_steps"]`` (G,), ``data["runs"][str(lam)][str(seed)]["curve"]`` (G,)."""
    data = store.read(FILE)
    for per_seed in data["runs"].values():
        for run in per_seed.values():
            run["curve"] = np.array([np.nan if v is None else v for v in run["curve"]], dtype=float)
    data["env_steps"] = np.asarray(data["env_steps"])
    return data
