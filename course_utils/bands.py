"""Bands over seeds: what a claim about training can honestly say, and where one run falls in it.

A single reinforcement-learning run is one draw. Its numbers change with the seed, and with the
machine too: the same seed follows another trajectory once a CPU's floating-point kernels round
one operation differently. So every claim the course makes about training is about several
seeds (the cached experiments, made by a command), summarised as

* the **median** over seeds, and
* an **interval**: the range (min to max) of the seeds when there are fewer than 20 of them,
  the central 95% of them (2.5th to 97.5th percentile) when there are more;

and a learner's own run is *placed* in that band in words (:func:`course_utils.experiments.reference_curves.describe_run`). Comparisons between two settings (:func:`compare`) say how sure they are:
a 95% bootstrap interval of the difference of the medians, and an ordering only where that
interval excludes zero. The interval is a percentile bootstrap (the seeds of each setting resampled
with replacement): with 5 to 8 seeds its coverage is only roughly 95%, between 91% and 95% in the
simulations of ``tests/test_bands.py``. Many comparisons at once (lesson 08's ablation) are ranked
with :func:`bootstrap_p` and Holm's correction (:func:`holm`), so that the chance of any false
ranking in the table stays at most 5% (as far as the bootstrap's own p-values are right).

"Steps to reach a target" is a censored quantity: a seed that never reached the target within
its budget is recorded as ``inf`` ("later than the budget"), which sorts after every finite
value, so medians and ranges stay meaningful ("5 of 8 seeds reached it").
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np


__all__ = ["Band", "band", "bootstrap_p", "claim", "compare", "compare_text", "fmt", "holm", "reached_range"]

SMALL_N = 20  # below this many seeds, the interval is the range of the seeds


@dataclass(frozen=True)
class Band:
    """Summary of one quantity over seeds.

    values: one number per seed (``inf``: never reached, for steps-to-target).
    median: median over seeds.
    low, high: the interval (the range of the seeds when n < 20, else the central 95%).
    method: "range" or "central 95%".
    """

    values: tuple[float, ...]
    median: float
    low: float
    high: float
    method: str

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def finite(self) -> int:
        """How many seeds have a finite value (for steps: how many reached the target)."""
        return int(np.isfinite(self.values).sum())

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def describe(self, unit: str = "", digits: int = 0) -> str:
        """e.g. "median 45,000 (range 31,000 to 78,000 over 8 seeds)"."""
        interval = "range" if self.method == "range" else "95% of seeds"
        return (f"median {fmt(self.median, digits)}{unit} ({interval} {fmt(self.low, digits)}{unit} to "
                f"{fmt(self.high, digits)}{unit} over {self.n} seeds)")


def fmt(value: float, digits: int = 0) -> str:
    """A number for prose: thousands separators, ``inf`` as "never"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "never" if value > 0 else "-inf"
    return f"{value:,.{digits}f}"


def band(values: Iterable[float | None]) -> Band:
    """Median and interval of one number per seed (None and NaN count as ``inf``: never reached)."""
    vals = np.array([np.inf if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
                     for v in values])  # fmt: skip
    if len(vals) == 0:
        raise ValueError("a band needs at least one seed")
    ordered = np.sort(vals)
    median = _median(ordered)
    if len(vals) < SMALL_N:
        low, high, method = ordered[0], ordered[-1], "range"
    else:
        low, high = _quantile(ordered, 0.025), _quantile(ordered, 0.975)
        method = "central 95%"
    return Band(tuple(float(v) for v in vals), float(median), float(low), float(high), method)


def _median(ordered: np.ndarray) -> float:
    n = len(ordered)
    lo, hi = ordered[(n - 1) // 2], ordered[n // 2]
    if lo == hi:  # also covers inf == inf
        return float(lo)
    return float((lo + hi) / 2)


def _row_medians(ordered: np.ndarray) -> np.ndarray:
    """:func:`_median` of every row of a row-sorted (R, n) array, in one pass."""
    n = ordered.shape[1]
    lo, hi = ordered[:, (n - 1) // 2], ordered[:, n // 2]
    with np.errstate(invalid="ignore"):
        return np.where(lo == hi, lo, (lo + hi) / 2)


def _quantile(ordered: np.ndarray, q: float) -> float:
    """Order-statistic quantile that stays defined with ``inf`` entries (no interpolation)."""
    return float(ordered[min(len(ordered) - 1, max(0, int(math.floor(q * len(ordered)))))])


def reached_range(steps: Band) -> tuple[list[float], str]:
    """For a band of steps-to-target: the sorted steps of the seeds that reached it, and how to
    say the median ("median 45,000", or "the median seed never did" when half or more never did)."""
    finite = sorted(v for v in steps.values if math.isfinite(v))
    median = f"median {fmt(steps.median)}" if math.isfinite(steps.median) else "the median seed never did"
    return finite, median


def compare(a: Sequence[float | None], b: Sequence[float | None], samples: int = 4_000,
            seed: int = 0) -> tuple[float, float, float]:
    """Median of ``a`` minus median of ``b``, with a 95% percentile-bootstrap interval.

    Seeds are resampled within each group (a fixed bootstrap seed, so the answer is the same on
    every machine). ``inf`` (never reached) is kept as a value larger than any finite one; a
    difference involving it is ``+-inf``, and ``inf - inf`` counts as 0 (both never reached).
    Returns (difference, low, high). An ordering is supported when the interval excludes 0.
    """
    xa, xb = band(a).values, band(b).values
    rng = np.random.default_rng(seed)
    da = np.array(xa)[rng.integers(0, len(xa), size=(samples, len(xa)))]
    db = np.array(xb)[rng.integers(0, len(xb), size=(samples, len(xb)))]
    ma, mb = _row_medians(np.sort(da, axis=1)), _row_medians(np.sort(db, axis=1))
    with np.errstate(invalid="ignore"):
        diff = ma - mb
    diff[np.isnan(diff)] = 0.0  # inf - inf: both groups' resampled medians never reached
    diff.sort()
    med_a, med_b = _median(np.sort(xa)), _median(np.sort(xb))
    point = 0.0 if math.isinf(med_a) and math.isinf(med_b) else med_a - med_b
    return float(point), _quantile(diff, 0.025), _quantile(diff, 0.975)


def bootstrap_p(a: Sequence[float | None], b: Sequence[float | None], samples: int = 4_000, seed: int = 0) -> float:
    """Two-sided bootstrap p-value of "the medians of ``a`` and ``b`` differ", from the resamples of :func:`compare`.

    p = 2 min(share of resampled differences <= 0, share >= 0), capped at 1; a difference of exactly 0
    (``inf - inf`` included) counts on both sides. :func:`compare`'s interval excludes 0 exactly when
    p < 0.05 (up to the order statistic it reads). What :func:`holm` needs to rank many rows at once.
    """
    xa, xb = band(a).values, band(b).values
    rng = np.random.default_rng(seed)
    da = np.array(xa)[rng.integers(0, len(xa), size=(samples, len(xa)))]
    db = np.array(xb)[rng.integers(0, len(xb), size=(samples, len(xb)))]
    ma, mb = _row_medians(np.sort(da, axis=1)), _row_medians(np.sort(db, axis=1))
    with np.errstate(invalid="ignore"):
        diff = ma - mb
    diff[np.isnan(diff)] = 0.0
    return float(min(1.0, 2 * min(np.mean(diff <= 0), np.mean(diff >= 0))))


def holm(p_values: Sequence[float], alpha: float = 0.05) -> list[bool]:
    """Holm's step-down correction: which of m hypotheses to reject with a family-wise error of at most ``alpha``.

    Sort the p-values; reject the k-th smallest (k = 1, 2, ...) while p_(k) <= alpha / (m - k + 1),
    and stop at the first that fails. Returns one flag per p-value, in the order given.
    """
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    rejected = [False] * len(p_values)
    m = len(p_values)
    for k, i in enumerate(order):
        if p_values[i] > alpha / (m - k):
            break
        rejected[i] = True
    return rejected


def claim(holds: bool, statement: str) -> None:
    """State what the text claims about a run, and check it on the run that just happened.

    Prints "claim holds: <statement>" when ``holds`` is true. When it is false, prints that this
    run does not show it and why that can happen (a run is one draw; the bands say how often);
    under ``COURSE_STRICT=1`` (the test suite) it raises ``AssertionError`` instead, so a claim
    that stops holding on some machine fails the tests rather than going unnoticed.
    The printed line depends only on whether the claim holds, not on the run's digits, so the
    same notebook output is right on every machine where the claim is true.
    """
    if holds:
        print(f"claim holds: {statement}")
        return
    message = (f"this run does not show: {statement}. A single run is one draw; compare it with the band "
               f"of the reference seeds above, or run another seed. If several seeds all fall short, suspect a bug.")
    if os.environ.get("COURSE_STRICT") == "1":
        raise AssertionError(message)
    print(message)


def compare_text(name_a: str, a: Sequence[float | None], name_b: str, b: Sequence[float | None], quantity: str,
                 lower_is_better: bool = False, digits: int = 0) -> str:
    """One sentence comparing two settings over seeds, saying how sure the data let us be.

    e.g. "steps to reach 500: with a baseline median 41,930 vs without 57,349 over 8 seeds each; the
    difference of medians is -15,419 (95% bootstrap interval -30,000 to -2,000): with a baseline is
    better on this evidence."  When the interval contains 0 the sentence says the seeds do not
    order the two settings.
    """
    ba, bb = band(a), band(b)
    diff, low, high = compare(a, b)
    head = (f"{quantity}: {name_a} median {fmt(ba.median, digits)} (range {fmt(ba.low, digits)} to "
            f"{fmt(ba.high, digits)}) vs {name_b} median {fmt(bb.median, digits)} (range {fmt(bb.low, digits)} to "
            f"{fmt(bb.high, digits)}), {ba.n} and {bb.n} seeds")
    def end(x: float) -> str:
        return fmt(x, digits) if math.isfinite(x) else ("plus infinity" if x > 0 else "minus infinity")

    point = fmt(diff, digits) if math.isfinite(diff) else "unbounded (a median seed never reached it)"
    interval = f"difference of medians {point} (95% bootstrap interval {end(low)} to {end(high)})"
    if low > 0 or high < 0:
        a_larger = low > 0
        better = name_a if a_larger != lower_is_better else name_b
        verdict = f"{better} is better on this evidence"
    else:
        verdict = "these seeds do not tell the two apart"
    return f"{head}; {interval}: {verdict}."
