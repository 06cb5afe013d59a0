"""Which of PPO's details matter? An ablation of the reference PPO, cached for lesson 08.

    python -m course_utils.trainers.ppo_ablation            # writes course_utils/data/ppo_ablation.json
    python -m course_utils.trainers.ppo_ablation --seeds 0 1 2 --steps 100000

Each variant is the rl-baselines3-zoo configuration (:data:`course_utils.trainers.ppo.ZOO`)
with one detail switched off, or one extra detail switched on, trained with the same seeds and
one torch thread. Recorded per run: the environment steps until the mean return of the last 20
episodes first reaches the target, the final value of that mean, and the curve on a grid.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np

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
    return Path(str(resources.files("course_utils"))) / "data" / "ppo_ablation.json"


def run(seeds: list[int], steps: dict[str, int], progress: bool = False) -> dict:
    import gymnasium
    import torch

    from course_utils.trainers.ppo import ppo_config, train_ppo

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
            "meta": {"command": "python -m course_utils.trainers.ppo_ablation --seeds " + " ".join(map(str, seeds))
                     + f" --steps {steps['CartPole-v1']} --pendulum-steps {steps['Pendulum-v1']}",
                     "torch_threads": 1, "created": time.strftime("%Y-%m-%d"),
                     "versions": {"python": platform.python_version(), "torch": torch.__version__,
                                  "gymnasium": gymnasium.__version__, "numpy": np.__version__}}}  # fmt: skip


def load(path: Path | None = None) -> dict:
    return json.loads((path or default_path()).read_text())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Ablation of the reference PPO's details (cached for lesson 08).")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(5)))
    parser.add_argument("--steps", type=int, default=50_000, help="CartPole-v1 environment steps per run")
    parser.add_argument("--pendulum-steps", type=int, default=60_000, help="Pendulum-v1 environment steps per run")
    parser.add_argument("--out", type=Path, default=default_path())
    args = parser.parse_args(argv)
    data = run(args.seeds, {"CartPole-v1": args.steps, "Pendulum-v1": args.pendulum_steps})
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
