"""Shared criterion of the learning tests: it must hold on any CPU's floating-point path.

One seed's trajectory is chaotic: another CPU's kernels round one operation differently and the
same seed follows another run (see README, "Will I get the same numbers?"). So a learning test
trains several seeds and asks of *every* one only what all of the reference seeds clear with a
wide margin: that its best rolling-20 mean return within the budget rose far above a random
policy's. The threshold is checked against the shipped reference band (8 seeds) so that the
margin is documented by data, not by one machine's run.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from course_utils.trainers.history import History
from course_utils.experiments.reference_curves import load_reference

MARGIN = 0.75  # the threshold may be at most this fraction of the worst reference seed's best


def reference_best_by(name: str, budget: int) -> np.ndarray:
    """Per reference seed: the best rolling-20 mean return reached by ``budget`` env steps."""
    ref = load_reference(name)
    j = int(np.searchsorted(ref.env_steps, budget, side="right")) - 1
    return np.array([np.nanmax(curve[: j + 1]) for curve in ref.curves.values()])


def assert_learns(train: Callable[[int], History], seeds: list[int], threshold: float, reference: str,
                  budget: int, start_below: float = 60.0) -> list[History]:
    """Train each seed; every one must start near random and rise above ``threshold``."""
    worst = reference_best_by(reference, budget).min()
    assert threshold <= MARGIN * worst, f"threshold {threshold} leaves too little margin below {worst:.1f}"
    runs = []
    for seed in seeds:
        history = train(seed)
        _, rolling = history.rolling_return(20)
        assert history.episode_returns[0] < start_below, f"seed {seed} did not start near random"
        assert rolling.max() >= threshold, (f"seed {seed}: best rolling-20 mean {rolling.max():.1f} < {threshold} "
                                            f"(worst of the reference seeds by {budget:,} steps: {worst:.1f})")
        runs.append(history)
    return runs
