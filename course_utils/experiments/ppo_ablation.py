"""Which of PPO's details matter? An ablation of the reference PPO, cached for lesson 08.

    python -m course_utils experiments ppo_ablation --seeds 0 1 2 3 4 --steps 50000 --pendulum-steps 60000

Each variant is the rl-baselines3-zoo configuration (:data:`course_utils.trainers.ppo.ZOO`)
with one detail switched off, or one extra detail switched on, trained with the same seeds and
one torch thread. Recorded per run: the environment steps until the mean return of the last 20
episodes first reaches the target, the final value of that mean, and the curve on a grid.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

from course_utils.experiments import store

FILE = "ppo_ablation.json"

# (env, label, overrides of the zoo configuration)
VARIANTS: list[tuple[str, str, dict]] = [
    ("CartPole-v1", "zoo settings (all details)", {}),
    ("CartPole-v1", "no advantage normalisation", dict(norm_adv=False)),
    ("CartPole-v1", "no gradient-norm clipping", dict(max_grad_norm=None)),
    ("CartPole-v1", "PyTorch default init", dict(orthogonal_init=False)),
    ("CartPole-v1", "constant learning rate", dict(anneal_lr=False)),
    ("CartPole-v1", "constant clip epsilon", dict(anneal_clip=False)),
    ("CartPole-v1", "4 epochs instead of 20", dict(update_epochs=4)),
    ("CartPole-v1", "4 minibatches per epoch", dict(num_minibatches=4)),
    ("CartPole-v1", "+ value clipping (0.2)", dict(clip_value=0.2)),
    ("CartPole-v1", "+ entropy bonus (0.01)", dict(ent_coef=0.01)),
    ("CartPole-v1", "+ approx-KL early stopping (0.01)", dict(target_kl=0.01)),
    ("Pendulum-v1", "zoo settings (all details)", {}),
    ("Pendulum-v1", "+ observation and reward normalisation", dict(norm_obs=True, norm_reward=True)),
]
TARGETS = {"CartPole-v1": 475.0, "Pendulum-v1": -200.0}


def default_path() -> Path:
    return store.path(FILE)


def run(seeds: list[int], steps: dict[str, int], train_ppo: Callable[..., Any], ppo_config: Callable[..., Any],
        progress: bool = False) -> dict:
    """Train every variant of :data:`VARIANTS` once per seed (``train_ppo``, ``ppo_config`` of
    :mod:`course_utils.trainers.ppo`, passed by the command)."""
    results = []
    for env_id, label, overrides in VARIANTS:
        grid = np.arange(0, steps[env_id] + 1, 1_000)
        runs = []
        for seed in seeds:
            history = train_ppo(config=ppo_config(env_id, total_steps=steps[env_id], seed=seed, **overrides),
                                progress=progress)
            reached = history.steps_to_reach(TARGETS[env_id])
            runs.append({"seed": seed, "steps_to_target": reached[0] if reached else None,
                         "final_rolling_return": round(float(history.rolling_return(20)[1][-1]), 1),
                         "curve": [None if np.isnan(v) else round(float(v), 1) for v in history.curve(grid)]})
            print(f"{env_id} | {label} | seed {seed}: {runs[-1]['steps_to_target']} steps to target, "
                  f"final {runs[-1]['final_rolling_return']}", file=sys.stderr, flush=True)
        results.append({"env_id": env_id, "label": label, "overrides": overrides, "grid": grid.tolist(), "runs": runs})
    return {"results": results, "targets": TARGETS, "seeds": seeds, "steps": steps,
            "meta": store.meta("python -m course_utils experiments ppo_ablation --seeds " + " ".join(map(str, seeds))
                               + f" --steps {steps['CartPole-v1']} --pendulum-steps {steps['Pendulum-v1']}")}  # fmt: skip


def load(path: Path | None = None) -> dict:
    return store.read(path or FILE)


METRICS = ("steps_to_target", "final_rolling_return")


def told_apart(ablation: dict, alpha: float = 0.05) -> dict[tuple[str, str, str], bool]:
    """Which rows differ from their environment's zoo row, on which metric, with Holm's correction.

    Every row other than a zoo row is compared with the zoo row of its environment on both
    :data:`METRICS` (bootstrap p-values of the difference of medians, :func:`course_utils.bands.bootstrap_p`);
    the m = 2 x (rows - zoo rows) p-values are corrected together (:func:`course_utils.bands.holm`), so
    the chance that any row is called different when none is stays at most ``alpha``.
    Returns {(env_id, label, metric): told apart}.
    """
    from course_utils.bands import bootstrap_p, holm

    zoo = {row["env_id"]: row for row in ablation["results"] if not row["overrides"]}
    keys, p_values = [], []
    for row in ablation["results"]:
        if not row["overrides"]:
            continue
        for metric in METRICS:
            keys.append((row["env_id"], row["label"], metric))
            p_values.append(bootstrap_p([run[metric] for run in row["runs"]],
                                        [run[metric] for run in zoo[row["env_id"]]["runs"]]))
    return dict(zip(keys, holm(p_values, alpha)))
