"""Learning curves: the learner's runs beside the course's reference runs."""
from __future__ import annotations

import warnings
from typing import Literal, Sequence, Union

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from course_utils.trainers.history import History
from course_utils.trainers.reference import ReferenceCurve, load_reference

__all__ = ["plot_learning_curves", "load_reference"]

Runs = Union[History, Sequence[History]]


def plot_learning_curves(
    curves: dict[str, Runs],
    reference: str | ReferenceCurve | Sequence[str | ReferenceCurve] | None = None,
    ax: Axes | None = None,
    smooth: int = 20,
    band: Literal["minmax", "std"] = "minmax",
    target: float | None = None,
    points: int = 200,
) -> Axes:
    """Plot return against environment steps: one line per label, a band over seeds.

    Args:
        curves: label -> one :class:`History` or a list of them (one per seed). Each run is
            read as the rolling mean return of its last ``smooth`` episodes; a list is drawn
            as the mean over runs with a band.
        reference: name(s) of shipped reference curves (e.g. "reinforce_rtg_baseline_cartpole",
            see :func:`load_reference`) or loaded :class:`ReferenceCurve` objects, drawn dashed
            with their band over seeds. Shipped curves use ``smooth=20``.
        ax: axes to draw on; a new figure when None.
        smooth: episodes in the rolling mean (1: raw episode returns).
        band: "minmax" shades min to max over runs, "std" the mean +- one standard deviation.
        target: draw a horizontal line at this return (475 is CartPole-v1's "solved").
        points: grid points along the step axis.

    Returns:
        The axes, for further styling.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))

    for label, runs in curves.items():
        runs = [runs] if isinstance(runs, History) else list(runs)
        # a common grid up to the shortest run, so the mean is over every run at every point
        last_step = min(run.env_steps[-1] for run in runs if run.env_steps)
        grid = np.linspace(0, last_step, points)
        values = np.array([run.curve(grid, smooth) for run in runs])  # (runs, points)
        label = f"{label} ({len(runs)} runs)" if len(runs) > 1 else label
        _draw(ax, grid, values, label, band, linestyle="-")

    references = [] if reference is None else [reference] if isinstance(reference, (str, ReferenceCurve)) else reference
    for ref in references:
        ref = load_reference(ref) if isinstance(ref, str) else ref
        if band == "minmax":
            low, high = ref.min, ref.max
        else:
            low, high = ref.mean - ref.std, ref.mean + ref.std
        line = ax.plot(ref.env_steps, ref.mean, "--", label=f"reference: {ref.name} ({len(ref.seeds)} seed{'s' if len(ref.seeds) > 1 else ''})")[0]
        ax.fill_between(ref.env_steps, low, high, color=line.get_color(), alpha=0.12, linewidth=0)

    if target is not None:
        ax.axhline(target, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"return (mean of last {smooth} episodes)" if smooth > 1 else "episode return")
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def _draw(ax: Axes, grid: np.ndarray, values: np.ndarray, label: str, band: str, linestyle: str) -> None:
    """Mean over runs as a line, min-max or +-std over runs as a shaded band."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no episode finished yet: all NaN
        mean = np.nanmean(values, 0)
        if band == "minmax":
            low, high = np.nanmin(values, 0), np.nanmax(values, 0)
        else:
            std = np.nanstd(values, 0)
            low, high = mean - std, mean + std
    line = ax.plot(grid, mean, linestyle, label=label)[0]
    if len(values) > 1:
        ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
