"""Reference learning curves shipped with the course, and the command that makes them.

    python -m course_utils.trainers.reference                      # all of them, seeds 0 to 7
    python -m course_utils.trainers.reference ppo_halfcheetah --seeds 0   # optional: needs ".[mujoco]"
    python -m course_utils.trainers.reference reinforce_cartpole --seeds 0 1 2
    python -m course_utils.trainers.reference gae_lambda_sweep    # chapter 5's lam lab (cached runs)

Each curve is the rolling mean return over the last 20 episodes, read on a common grid of
environment steps for every seed, then summarised as mean, std, min and max over seeds.
Training uses one torch thread (the thread count changes the trajectory). A file holds the
exact ``train_reinforce`` arguments, the library versions and, per seed, the steps and
seconds until the rolling mean first reached 475 and 500, so the numbers quoted in the
lessons can be traced back to a run.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from course_utils.bands import Band, band, fmt, reached_range

__all__ = ["REFERENCES", "ReferenceCurve", "load_reference", "reference_names", "make_reference"]

WINDOW = 20  # episodes in the rolling mean

# name -> (what it shows, train_reinforce arguments)
REFERENCES: dict[str, tuple[str, dict[str, Any]]] = {
    "reinforce_cartpole": (
        "Chapter 2: plain REINFORCE, every step weighted by the episode's discounted return.",
        dict(env_id="CartPole-v1", weights_fn="return", baseline=None, advantage_normalise=False,
             total_steps=200_000, batch_steps=2_000, lr=1e-2, gamma=0.99),
    ),
    "reinforce_rtg_cartpole": (
        "Chapter 3: REINFORCE with reward-to-go weights, no baseline.",
        dict(env_id="CartPole-v1", weights_fn="reward_to_go", baseline=None, advantage_normalise=False,
             total_steps=200_000, batch_steps=2_000, lr=1e-2, gamma=0.99),
    ),
    "reinforce_rtg_baseline_cartpole": (
        "Chapter 3: reward-to-go minus a learned value baseline, advantages normalised.",
        dict(env_id="CartPole-v1", weights_fn="reward_to_go", baseline="value", advantage_normalise=True,
             total_steps=100_000, batch_steps=2_000, lr=1e-2, value_lr=1e-2, value_iters=10, gamma=0.99),
    ),
    "trpo_cartpole": (
        "Chapter 7: TRPO with GAE, delta = 0.01, 8 envs x 256 steps per update.",
        dict(trainer="trpo", env_id="CartPole-v1", total_steps=100_000, num_envs=8, num_steps=256, gamma=0.99,
             lam=0.97, max_kl=0.01, damping=0.1, cg_iters=10),
    ),
    "trpo_pendulum": (
        "Chapter 7: TRPO with GAE on Pendulum-v1 (Gaussian policy), delta = 0.01, gamma = 0.95.",
        dict(trainer="trpo", env_id="Pendulum-v1", total_steps=150_000, num_envs=8, num_steps=256, gamma=0.95,
             lam=0.95, max_kl=0.01, damping=0.1, cg_iters=10),
    ),
    "a2c_cartpole": (
        "Chapter 4: A2C, n-step returns bootstrapped at the end of 5-step rollouts, 8 environments.",
        dict(trainer="a2c", env_id="CartPole-v1", advantage="n_step", total_steps=150_000, num_envs=8, num_steps=5,
             lr=1e-3, gamma=0.99, value_coef=0.5, entropy_coef=0.0, max_grad_norm=0.5),
    ),
    "a2c_td_cartpole": (
        "Chapter 4: one-step actor-critic (advantage = TD residual, critic on TD(0) targets), otherwise as a2c_cartpole.",
        dict(trainer="a2c", env_id="CartPole-v1", advantage="td", total_steps=150_000, num_envs=8, num_steps=5,
             lr=1e-3, gamma=0.99, value_coef=0.5, entropy_coef=0.0, max_grad_norm=0.5),
    ),
    "a2c_gae_acrobot": (
        "Chapter 5: actor-critic with GAE (lam = 0.95) on Acrobot-v1, 8 environments x 32 steps per update.",
        dict(trainer="a2c", env_id="Acrobot-v1", advantage="gae", total_steps=100_000, num_envs=8, num_steps=32,
             lr=1e-3, gamma=0.99, lam=0.95, value_coef=0.5, entropy_coef=0.0, max_grad_norm=0.5),
    ),
    "ppo_cartpole": (
        "Chapter 8: PPO-clip with the rl-baselines3-zoo settings (8 envs x 32 steps, 20 epochs, lr and clip "
        "annealed linearly).",
        dict(trainer="ppo", env_id="CartPole-v1", total_steps=100_000, num_envs=8, num_steps=32, num_minibatches=1,
             update_epochs=20, gamma=0.98, gae_lambda=0.8, lr=1e-3, anneal_lr=True, clip_eps=0.2, anneal_clip=True,
             objective="clip"),
    ),
    "ppo_kl_cartpole": (
        "Chapter 8: PPO-penalty, the same settings with beta * KL (adaptive beta, target 0.01) instead of clipping.",
        dict(trainer="ppo", env_id="CartPole-v1", total_steps=100_000, num_envs=8, num_steps=32, num_minibatches=1,
             update_epochs=20, gamma=0.98, gae_lambda=0.8, lr=1e-3, anneal_lr=True, objective="kl_penalty",
             kl_target=0.01, kl_beta=1.0),
    ),
    "ppo_pendulum": (
        "Chapter 8: PPO-clip on Pendulum-v1 with the zoo settings (4 envs x 1024 steps, 10 epochs of 64 "
        "minibatches, gamma 0.9), without gSDE.",
        dict(trainer="ppo", env_id="Pendulum-v1", total_steps=100_000, num_envs=4, num_steps=1024,
             num_minibatches=64, update_epochs=10, gamma=0.9, gae_lambda=0.95, lr=1e-3, anneal_lr=False,
             clip_eps=0.2, anneal_clip=False, objective="clip"),
    ),
    "ppo_halfcheetah": (
        "Chapter 8, optional: PPO-clip on MuJoCo HalfCheetah-v5 with CleanRL's continuous-control settings "
        "(1 env x 2048 steps, 10 epochs of 32 minibatches, value clipping, observation and reward "
        "normalisation), 1M steps, one seed.",
        dict(trainer="ppo", env_id="HalfCheetah-v5", total_steps=1_000_000, num_envs=1, num_steps=2048,
             num_minibatches=32, update_epochs=10, gamma=0.99, gae_lambda=0.95, lr=3e-4, anneal_lr=True,
             clip_eps=0.2, anneal_clip=False, clip_value=0.2, ent_coef=0.0, norm_obs=True, norm_reward=True,
             log_std_init=0.0, objective="clip"),
    ),
}  # fmt: skip

# curves that need an optional extra (pip install -e ".[mujoco]") and long runs: made only on request,
#     python -m course_utils.trainers.reference ppo_halfcheetah --seeds 0
OPTIONAL = {"ppo_halfcheetah"}


@dataclass
class ReferenceCurve:
    """A shipped learning curve: every seed's curve and statistics over seeds on a common grid.

    The band the course draws and quotes is the median over seeds with the range of the seeds
    (see :mod:`course_utils.bands`); mean and std are kept for reference.
    """

    name: str
    description: str
    env_steps: np.ndarray  # (G,) grid of environment steps
    mean: np.ndarray  # (G,) mean over seeds of the rolling-20 mean return (NaN: no episode yet)
    std: np.ndarray  # (G,)
    min: np.ndarray  # (G,)
    max: np.ndarray  # (G,)
    seeds: list[int]
    config: dict[str, Any]  # the train_reinforce arguments
    per_seed: dict[str, dict[str, Any]]  # seed -> steps/seconds to 475 and 500, wall time...
    meta: dict[str, Any]  # command, versions, date
    curves: dict[str, np.ndarray] = field(default_factory=dict)  # seed -> (G,) rolling-20 mean return
    median: np.ndarray | None = None  # (G,) median over seeds

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    def steps_to(self, target: float) -> list[int | None]:
        """Per seed, the env steps when the rolling-20 mean first reached ``target`` (None: never).

        Exact (recorded at training time) for the targets in ``per_seed``, else read off the
        stored curves (to the grid's resolution)."""
        key = f"steps_to_{target:g}"
        if all(key in stats for stats in self.per_seed.values()) and self.per_seed:
            return [self.per_seed[str(seed)][key] for seed in self.seeds]
        out: list[int | None] = []
        for seed in self.seeds:
            curve = self.curves[str(seed)]
            hits = np.flatnonzero(curve >= target)
            out.append(int(self.env_steps[hits[0]]) if len(hits) else None)
        return out

    def summary(self, target: float) -> str:
        """The band in one line: when the seeds first reached ``target``, and where they ended.

        e.g. "8 seeds: 475 first reached after 36,122 to 51,200 steps (median 44,000; 8 of 8 seeds);
        rolling-20 mean after 100,000 steps 480.1 to 500.0 (median 500.0)"
        """
        steps = band(self.steps_to(target))
        finite, median = reached_range(steps)
        if finite:
            reached = (f"{fmt(target)} first reached after {fmt(finite[0])} to {fmt(finite[-1])} steps "
                       f"({len(finite)} of {steps.n} seeds; {median})")
        else:
            reached = f"no seed reached {fmt(target)}"
        end = band([stats["final_rolling_return"] for stats in self.per_seed.values()])
        return (f"{self.name}, {steps.n} seeds: {reached}; rolling-20 mean after {fmt(self.env_steps[-1])} steps "
                f"{fmt(end.low, 1)} to {fmt(end.high, 1)} (median {fmt(end.median, 1)})")

    def band_at(self, step: float) -> Band | None:
        """The band over seeds of the rolling-20 mean return at ``step`` (None if no seed has one)."""
        j = int(np.searchsorted(self.env_steps, step, side="right")) - 1
        if j < 0 or not self.curves:
            return None
        values = [c[j] for c in self.curves.values() if not np.isnan(c[j])]
        return band(values) if values else None


def reference_names() -> list[str]:
    return list(REFERENCES)


def _data_dir() -> Path:
    return Path(str(resources.files("course_utils"))) / "data" / "reference_curves"


def load_reference(name: str) -> ReferenceCurve:
    """Load ``course_utils/data/reference_curves/<name>.json`` (see :data:`REFERENCES`)."""
    path = _data_dir() / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"no reference curve {name!r}; shipped: {sorted(p.stem for p in _data_dir().glob('*.json'))}. "
            f"Make it with: python -m course_utils.trainers.reference {name}"
        )
    data = json.loads(path.read_text())

    def array(values: list[float | None]) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in values], dtype=float)

    arrays = {k: array(data[k]) for k in ["env_steps", "mean", "std", "min", "max"]}
    curves = {seed: array(curve) for seed, curve in data.get("curves", {}).items()}
    median = array(data["median"]) if "median" in data else arrays["mean"]  # one-seed files: the run itself
    return ReferenceCurve(
        name=data["name"], description=data["description"], seeds=data["seeds"],
        config=data["config"], per_seed=data["per_seed"], meta=data["meta"], curves=curves, median=median,
        **arrays,
    )  # fmt: skip


def make_reference(name: str, seeds: list[int], grid_step: int = 1_000, progress: bool = True) -> dict[str, Any]:
    """Train ``name``'s configuration once per seed and summarise the curves (a JSON dict)."""
    import gymnasium
    import torch

    from course_utils.trainers.a2c import train_a2c
    from course_utils.trainers.ppo import train_ppo
    from course_utils.trainers.reinforce import train_reinforce
    from course_utils.trainers.trpo import train_trpo

    description, config = REFERENCES[name]
    trainers = {"reinforce": train_reinforce, "a2c": train_a2c, "trpo": train_trpo, "ppo": train_ppo}
    train = trainers[config.get("trainer", "reinforce")]  # entries without "trainer" are REINFORCE runs
    grid = np.arange(0, config["total_steps"] + 1, grid_step)
    curves, per_seed = [], {}
    for seed in seeds:
        history = train(**{k: v for k, v in config.items() if k != "trainer"}, seed=seed, progress=progress)
        curves.append(history.curve(grid, WINDOW))
        best = np.nanmax(history.rolling_return(WINDOW)[1]) if history.episode_returns else np.nan
        stats: dict[str, Any] = {
            "env_steps": history.env_steps[-1],
            "wall_time_s": round(history.wall_time[-1], 2),
            "steps_per_second": round(history.env_steps[-1] / history.wall_time[-1]),
            "final_rolling_return": round(float(history.rolling_return(WINDOW)[1][-1]), 2),
            "best_rolling_return": round(float(best), 2),
        }
        targets = {"Pendulum-v1": (-400, -200), "Acrobot-v1": (-150, -100),
                   "HalfCheetah-v5": (1000, 1500)}.get(config.get("env_id"), (475, 500))
        for target in targets:
            reached = history.steps_to_reach(target, WINDOW)
            stats[f"steps_to_{target}"] = reached[0] if reached else None
            stats[f"seconds_to_{target}"] = round(reached[1], 2) if reached else None
        per_seed[str(seed)] = stats
        print(f"{name} seed {seed}: {stats}", file=sys.stderr)

    curves = np.array(curves)  # (seeds, G)

    def column(values: np.ndarray) -> list[float | None]:
        return [None if np.isnan(v) else round(float(v), 3) for v in values]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns before any episode ends
        summary = {"median": np.nanmedian(curves, 0), "mean": np.nanmean(curves, 0), "std": np.nanstd(curves, 0),
                   "min": np.nanmin(curves, 0), "max": np.nanmax(curves, 0)}  # fmt: skip
    return {
        "name": name,
        "description": description,
        "config": config,
        "seeds": seeds,
        "window": WINDOW,
        "env_steps": grid.tolist(),
        **{k: column(v) for k, v in summary.items()},
        "per_seed": per_seed,
        "curves": {str(seed): column(curve) for seed, curve in zip(seeds, curves)},
        "meta": {
            "command": f"python -m course_utils.trainers.reference {name} --seeds {' '.join(map(str, seeds))}",
            "curve": f"rolling mean return over the last {WINDOW} training episodes, per seed, at each grid step",
            "torch_threads": 1,
            "versions": {"python": platform.python_version(), "torch": torch.__version__,
                         "gymnasium": gymnasium.__version__, "numpy": np.__version__},
            "machine": platform.machine(),
            "created": time.strftime("%Y-%m-%d"),
        },
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train and write the course's reference learning curves.")
    parser.add_argument("names", nargs="*", default=[n for n in reference_names() if n not in OPTIONAL],
                        help=f"any of {reference_names()} (default: all but {sorted(OPTIONAL)})")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(8)))
    parser.add_argument("--grid-step", type=int, default=1_000, help="env steps between grid points")
    parser.add_argument("--out", type=Path, default=_data_dir(), help="output folder")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.names == ["gae_lambda_sweep"]:  # chapter 5's lam lab: several lam on Acrobot-v1, cached
        from course_utils.trainers.a2c import _sweep_path, make_lambda_sweep

        sweep = make_lambda_sweep(seeds=args.seeds, progress=not args.no_progress)
        _sweep_path().write_text(json.dumps(sweep, indent=1) + "\n")
        print(f"wrote {_sweep_path()}", file=sys.stderr)
        return
    for name in args.names:
        if name not in REFERENCES:
            parser.error(f"unknown reference {name!r}; choose from {reference_names()}")
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names:
        data = make_reference(name, args.seeds, args.grid_step, progress=not args.no_progress)
        path = args.out / f"{name}.json"
        path.write_text(json.dumps(data, indent=1) + "\n")
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
