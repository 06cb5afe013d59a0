"""What PPO's diagnostics look like on a healthy run and on runs broken on purpose (chapter 08's lab).

    python -m course_utils experiments ppo_diagnostics --seeds 0 1 2 3 4 --steps 50000

Four configurations of the course's reference PPO on CartPole-v1, the rl-baselines3-zoo
settings (:data:`course_utils.trainers.ppo.ZOO`) with at most one thing broken:

* ``healthy``: the zoo settings;
* ``lr_x30``: a learning rate 30 times the zoo's (3e-2 instead of 1e-3);
* ``no_adv_norm``: advantages not standardised;
* ``no_done_mask``: GAE run with every done flag zeroed (chapter 05's classic mistake): the
  chain of TD residuals runs on through the end of an episode and the reset step (reward 0,
  not trained on) into the next episode, so a fall costs about one reward. On a truncated step
  the target also gets gamma V(s_T) twice (once from the trainer's truncation bootstrap, once
  from GAE); these runs seldom reach 500 steps, so that matters little.

Recorded per run, on a grid of bins of ``BIN`` environment steps: the rolling mean return of
the last 20 episodes at the end of each bin, and the mean over the bin's updates of each of
:data:`DIAGNOSTICS`, which PPO implementations log (``history.diagnostics`` of
:func:`course_utils.trainers.ppo.train_ppo`): approximate KL and clip fraction of the update,
entropy of the policy after it, explained variance and mean value of the critic before it.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch

from course_utils import answers
from course_utils.experiments import store

FILE = "ppo_diagnostics.json"
BIN = 2_000  # environment steps per point of the stored curves
DIAGNOSTICS = ("approx_kl", "clip_fraction", "entropy", "explained_variance", "value_mean")


def gae_without_done_mask(rewards, values, dones, last_value, gamma, lam):
    """The broken GAE of ``no_done_mask``: the answer's GAE, called as if no episode ever ended."""
    return answers.gae(rewards, values, torch.zeros_like(dones), last_value, gamma, lam)


# name -> (what is broken, in words; overrides of the zoo configuration; the GAE to plug in)
RUNS: dict[str, tuple[str, dict[str, Any], Optional[Callable]]] = {
    "healthy": ("nothing: the zoo settings", {}, None),
    "lr_x30": ("learning rate 3e-2, 30 times the zoo's", {"lr": 3e-2}, None),
    "no_adv_norm": ("advantages not normalised", {"norm_adv": False}, None),
    "no_done_mask": ("GAE without the done mask", {}, gae_without_done_mask),
}


# the workbook's lab shows three runs without their names: the predict items say which is which
MYSTERY = {"run A": "no_done_mask", "run B": "no_adv_norm", "run C": "lr_x30"}


def default_path() -> Path:
    return store.path(FILE)


def binned(history: Any, total_steps: int) -> dict[str, list]:
    """One run's curves on the grid ``BIN, 2 BIN, ..., total_steps``: the rolling return (last
    20 episodes, None before the first episode ends) and each diagnostic's mean over the updates
    that ended inside the bin (None for a bin without an update)."""
    edges = np.arange(BIN, total_steps + 1, BIN)
    steps = np.asarray(history.env_steps)
    which = np.searchsorted(edges, steps, side="left")  # update i ended in bin which[i]
    out: dict[str, list] = {"return": [None if np.isnan(v) else round(float(v), 1) for v in history.curve(edges)]}
    for name in DIAGNOSTICS:
        values = np.asarray(history.diagnostics[name], dtype=float)
        out[name] = [round(float(values[which == k].mean()), 5) if np.any(which == k) else None
                     for k in range(len(edges))]
    return out


def run(seeds: list[int], total_steps: int, train_ppo: Callable[..., Any], ppo_config: Callable[..., Any],
        progress: bool = False) -> dict:
    """Train every configuration of :data:`RUNS` once per seed (``train_ppo``, ``ppo_config`` of
    :mod:`course_utils.trainers.ppo`, passed by the command) and bin its curves."""
    results = {}
    for name, (label, overrides, gae) in RUNS.items():
        runs = []
        for seed in seeds:
            history = train_ppo(config=ppo_config("CartPole-v1", total_steps=total_steps, seed=seed, **overrides),
                                gae=gae, progress=progress)
            runs.append({"seed": seed, **binned(history, total_steps)})
            print(f"ppo_diagnostics | {name} | seed {seed}: final rolling return {runs[-1]['return'][-1]}",
                  file=sys.stderr, flush=True)
        results[name] = {"label": label, "overrides": overrides, "runs": runs}
    return {"env_id": "CartPole-v1", "bin": BIN, "grid": list(range(BIN, total_steps + 1, BIN)), "seeds": seeds,
            "results": results,
            "meta": store.meta("python -m course_utils experiments ppo_diagnostics --seeds "
                               + " ".join(map(str, seeds)) + f" --steps {total_steps}")}


def load(path: Path | None = None) -> dict:
    return store.read(path or FILE)


def per_seed(data: dict, name: str, quantity: str, start: int = 0, stop: int | None = None) -> list[float]:
    """One number per seed of run ``name``: the mean of ``quantity`` over the bins that lie in
    (start, stop] environment steps (a grid point is a bin's end; bins without a value left out;
    NaN if none has one)."""
    grid = np.asarray(data["grid"])
    inside = (grid > start) & (grid <= (stop if stop is not None else grid[-1]))
    out = []
    for r in data["results"][name]["runs"]:
        values = store.nan_array(r[quantity])[inside]
        out.append(float(np.nanmean(values)) if np.isfinite(values).any() else float("nan"))
    return out


def table(data: dict, columns: dict[str, str], start: int = 0, stop: int = 20_000) -> str:
    """A text table: one row per quantity, one column per run (``columns``: heading -> run
    name), each cell the median over seeds of the quantity's mean over (start, stop] environment
    steps (:func:`per_seed`), with the smallest and largest seed in brackets."""
    rows = [("return (last 20 episodes)", "return", 0), ("explained variance", "explained_variance", 2),
            ("entropy (nats)", "entropy", 2), ("approx. KL per update", "approx_kl", 4),
            ("clip fraction", "clip_fraction", 2), ("mean value V(s)", "value_mean", 1)]
    width = max(26, *(len(h) + 2 for h in columns))
    lines = [f"mean over steps {start:,} to {stop:,}: median over {len(data['seeds'])} seeds [lowest, highest seed]",
             " " * 26 + "".join(f"{h:>{width}}" for h in columns)]
    for label, quantity, digits in rows:
        cells = []
        for name in columns.values():
            values = np.array(per_seed(data, name, quantity, start, stop))
            low, mid, high = values.min(), np.median(values), values.max()
            cells.append(f"{mid:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]")
        lines.append(f"{label:<26}" + "".join(f"{c:>{width}}" for c in cells))
    return "\n".join(lines)


def mystery_table(data: dict, start: int = 0, stop: int = 20_000) -> str:
    """:func:`table` of the healthy run and the lab's three mystery runs, by letter only."""
    return table(data, {"healthy": "healthy", **MYSTERY}, start, stop)


def band(data: dict, name: str, quantity: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(grid (G,), median (G,), 25th and 75th percentile (G,)) of ``quantity`` ("return" or a
    diagnostic) over the seeds of run ``name``; NaN where no seed has a value."""
    values = np.array([store.nan_array(r[quantity]) for r in data["results"][name]["runs"]])
    grid = np.asarray(data["grid"])
    with warnings.catch_warnings():  # an all-NaN column (no seed has a value yet) stays NaN, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        low, mid, high = np.nanpercentile(values, [25, 50, 75], axis=0)
    return grid, mid, low, high
