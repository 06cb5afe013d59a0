"""Bands over seeds: medians, intervals, censored steps-to-target, comparisons and placement."""
from __future__ import annotations

import math

import numpy as np
import pytest

from course_utils.bands import band, compare, fmt
from course_utils.plots import describe_run
from course_utils.trainers.history import History
from course_utils.trainers.reference import load_reference, reference_names

pytestmark = pytest.mark.numerics  # run again under another float path (scripts/test.sh)


def test_small_samples_use_the_range_and_the_median():
    b = band([5, 1, 3, 2, 4])
    assert (b.median, b.low, b.high, b.method, b.n) == (3, 1, 5, "range", 5)
    assert band([4, 1, 3, 2]).median == 2.5
    assert "median 3 (range 1 to 5 over 5 seeds)" == b.describe()


def test_large_samples_use_the_central_95_percent():
    values = np.arange(100)
    b = band(values)
    assert b.method == "central 95%"
    assert b.low == 2 and b.high == 97 and b.median == 49.5


def test_never_reached_sorts_after_every_finite_step():
    b = band([30_000, None, 50_000, None, None])
    assert b.finite == 2 and math.isinf(b.median) and math.isinf(b.high) and b.low == 30_000
    b = band([30_000, None, 50_000, 40_000, None])
    assert b.median == 50_000  # 30k, 40k, 50k, never, never
    assert fmt(float("inf")) == "never" and fmt(45_000.0) == "45,000"


def test_compare_is_reproducible_and_only_orders_what_the_data_support():
    fast = [10, 11, 12, 13, 14, 15, 16, 17]
    slow = [30, 31, 32, 33, 34, 35, 36, 37]
    diff, low, high = compare(fast, slow)
    assert diff == -20 and high < 0 and (diff, low, high) == compare(fast, slow)  # same draw every time
    mixed = [12, 35, 14, 31, 16, 33, 10, 37]
    _, low, high = compare(mixed, slow)
    assert low < 0 < high or high == 0  # not distinguishable: the interval reaches 0
    _, low, high = compare([None] * 5, [None] * 5)
    assert low == high == 0


def _history(returns, end_steps):
    h = History()
    h.episode_returns, h.episode_end_steps = list(returns), list(end_steps)
    h.env_steps, h.wall_time = [end_steps[-1]], [1.0]
    return h


def test_every_shipped_reference_has_per_seed_curves_and_enough_seeds():
    for name in reference_names():
        ref = load_reference(name)
        if name == "ppo_halfcheetah":  # optional, one long run, labelled as one draw
            continue
        assert ref.n_seeds >= 5, name
        assert set(ref.curves) == {str(s) for s in ref.seeds}, name
        stacked = np.array(list(ref.curves.values()))
        ok = ~np.isnan(stacked).all(0)  # columns before any seed finished an episode stay NaN
        assert np.allclose(np.nanmedian(stacked[:, ok], 0), ref.median[ok], atol=1e-2), name
        assert np.allclose(np.nanmin(stacked[:, ok], 0), ref.min[ok], atol=1e-2), name


def test_describe_run_places_a_run_in_the_reference_band():
    ref = load_reference("reinforce_rtg_baseline_cartpole")
    steps = sorted(v for v in ref.steps_to(475) if v is not None)
    middle = steps[len(steps) // 2]
    run = _history([500.0] * 3, [middle, middle + 500, middle + 1_000])  # reaches 475 at its first episode
    text = describe_run(run, ref, target=475)
    assert f"reached 475 after {middle:,} steps" in text and "inside their range" in text
    assert f"{len(steps)} reference seeds" in text or f"of the {ref.n_seeds} reference seeds" in text
    slow = _history([20.0] * 5, [1_000, 2_000, 3_000, 4_000, 5_000])
    text = describe_run(slow, ref, target=475)
    assert "did not reach 475 in its 5,000 steps" in text and "below every reference seed" in text


@pytest.mark.parametrize("name", ["reinforce_cartpole", "a2c_cartpole", "ppo_pendulum"])
def test_reference_steps_to_target_agree_with_the_curves(name):
    ref = load_reference(name)
    target = -200 if "pendulum" in name else 475
    exact = ref.steps_to(target)
    for seed, steps in zip(ref.seeds, exact):
        curve = ref.curves[str(seed)]
        hits = np.flatnonzero(curve >= target)
        if steps is None:  # never reached: the curve (read at grid points) never shows it either
            assert len(hits) == 0
        elif len(hits):  # the grid can miss a brief crossing, but never shows one before the exact step
            assert ref.env_steps[hits[0]] >= steps
