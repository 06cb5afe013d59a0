"""Learning curves: the learner's runs beside the course's reference runs; PPO's diagnostics as bands."""
from __future__ import annotations

import warnings
from typing import Literal, Sequence, Union

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from course_utils.bands import band as seed_band
from course_utils.trainers.history import History
from course_utils.experiments import ppo_diagnostics
from course_utils.experiments.reference_curves import ReferenceCurve, describe_run, load_reference

__all__ = ["plot_learning_curves", "load_reference", "describe_run", "plot_diagnostics", "plot_mystery_runs",
           "DIAGNOSTIC_PANELS"]

# (quantity of the ppo_diagnostics cache, y label of its panel)
DIAGNOSTIC_PANELS = [
    ("return", "return (mean of last 20 episodes)"),
    ("explained_variance", "explained variance"),
    ("entropy", "policy entropy (nats)"),
    ("approx_kl", "approx. KL per update"),
    ("clip_fraction", "clip fraction"),
    ("value_mean", "mean critic value V(s)"),
]

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
            see :func:`load_reference`) or loaded :class:`ReferenceCurve` objects, drawn dashed:
            the median over seeds, shaded over the range of the seeds. Shipped curves use
            ``smooth=20``.
        ax: axes to draw on; a new figure when None.
        smooth: episodes in the rolling mean (1: raw episode returns).
        band: "minmax" shades min to max over runs, "std" the mean +- one standard deviation.
        target: draw a horizontal line at this return (475 is CartPole-v1's "solved"), mark on it
            where each run first reached it (a star) and, for a reference, the range of steps at
            which its seeds first reached it (a thick segment, a tick at the median).
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
    references = [load_reference(ref) if isinstance(ref, str) else ref for ref in references]
    for ref in references:
        many = len(ref.seeds) > 1
        if band == "minmax":
            center, low, high = ref.median, ref.min, ref.max
            what = f"median and range of {len(ref.seeds)} seeds" if many else "1 seed"
        else:
            center, low, high = ref.mean, ref.mean - ref.std, ref.mean + ref.std
            what = f"mean +- std of {len(ref.seeds)} seeds" if many else "1 seed"
        line = ax.plot(ref.env_steps, center, "--", label=f"reference: {ref.name} ({what})")[0]
        ax.fill_between(ref.env_steps, low, high, color=line.get_color(), alpha=0.12, linewidth=0)
        if target is not None and many and band == "minmax":
            _mark_steps_to_target(ax, ref, target, line.get_color())

    if target is not None:
        ax.axhline(target, color="grey", linewidth=0.8, linestyle=":")
        # where each of the learner's runs first reached the target: a marker on the target line
        for runs in curves.values():
            for run in [runs] if isinstance(runs, History) else list(runs):
                reached = run.steps_to_reach(target, smooth)
                if reached is not None:
                    ax.plot([reached[0]], [target], marker="*", markersize=11, color="black", zorder=5,
                            linestyle="none")
    if references and curves:
        # a learner's run shorter than the reference: say where it stops
        ends = [run.env_steps[-1] for runs in curves.values()
                for run in ([runs] if isinstance(runs, History) else list(runs)) if run.env_steps]
        longest_ref = max(ref.env_steps[-1] for ref in references)
        if ends and max(ends) < 0.9 * longest_ref:
            ax.axvline(max(ends), color="black", linewidth=0.8, linestyle=":")
            ax.annotate("your run ends here", (max(ends), 0.02), xycoords=("data", "axes fraction"),
                        rotation=90, fontsize="x-small", ha="right", va="bottom")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"return (mean of last {smooth} episodes)" if smooth > 1 else "episode return")
    # under the axes, not over them: inside, "best" still covered a learner's curve or the "ends here" label
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.16), fontsize="small", frameon=False)
    ax.grid(alpha=0.3)
    return ax


def _mark_steps_to_target(ax: Axes, ref: ReferenceCurve, target: float, color: str) -> None:
    """On the target line: the range of steps at which the reference seeds first reached it,
    with a tick at the median (seeds that never reached it are left out of the range)."""
    steps = seed_band(ref.steps_to(target))
    finite = [v for v in steps.values if np.isfinite(v)]
    if not finite:
        return
    ax.plot([min(finite), max(finite)], [target, target], color=color, linewidth=5, alpha=0.45,
            solid_capstyle="butt", label=f"{ref.name}: first reached {target:g} ({len(finite)}/{steps.n} seeds)")
    if np.isfinite(steps.median):
        ax.plot([steps.median], [target], marker="|", markersize=14, color=color, markeredgewidth=2)


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


def plot_diagnostics(data: dict, runs: dict[str, str], history: History | None = None, axes: Sequence[Axes] | None = None,
                     colors: Sequence[str] | None = None,
                     panels: Sequence[tuple[str, str]] = DIAGNOSTIC_PANELS) -> Sequence[Axes]:
    """One panel per quantity of the ``ppo_diagnostics`` cache (``data``, from
    :func:`course_utils.experiments.ppo_diagnostics.load`): for each run name of ``runs``
    (name -> legend label), the median over seeds as a line and the 25-75 percentile band shaded.
    ``history``, a learner's own PPO run, is drawn on top as a thin black line (its diagnostics
    per update). ``axes``: one row of ``len(panels)`` axes to draw into (default: a new figure).
    Returns the axes."""
    if axes is None:
        axes = plt.subplots(1, len(panels), figsize=(2.9 * len(panels), 3.0), constrained_layout=True)[1]
    n_seeds = len(data["seeds"])
    for ax, (quantity, ylabel) in zip(axes, panels):
        for k, (name, label) in enumerate(runs.items()):
            grid, mid, low, high = ppo_diagnostics.band(data, name, quantity)
            line = ax.plot(grid, mid, label=label, color=colors[k] if colors else None)[0]
            ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
        if history is not None:
            if quantity == "return":
                steps, values = history.rolling_return(20)
            else:
                steps, values = np.asarray(history.env_steps), np.asarray(history.diagnostics[quantity])
            ax.plot(steps, values, color="black", linewidth=0.8, label="your run")
        if quantity == "approx_kl":
            ax.set_yscale("log")  # healthy and broken updates differ by factors, not by amounts
            ax.set_ylim(1e-5, 1.0)  # one scale for every figure; the last updates (learning rate ~0) move by ~0
        if quantity == "explained_variance":
            ax.set_ylim(-1.0, 1.05)  # below -1 only says "far worse than the mean"
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:g}k"))
        ax.set_xlabel("environment steps")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="best", fontsize="small", title=f"median, 25-75% of {n_seeds} seeds",
                   title_fontsize="small")
    return axes


def plot_mystery_runs(data: dict) -> np.ndarray:
    """The diagnostics lab of workbook 08: one row per mystery run of the ``ppo_diagnostics``
    cache (:data:`~course_utils.experiments.ppo_diagnostics.MYSTERY`, shown by its letter only),
    each against the healthy band in grey. Returns the (runs, panels) axes."""
    fig, axes = plt.subplots(len(ppo_diagnostics.MYSTERY), len(DIAGNOSTIC_PANELS),
                             figsize=(2.9 * len(DIAGNOSTIC_PANELS), 2.8 * len(ppo_diagnostics.MYSTERY)),
                             sharey="col", constrained_layout=True)
    colors = ["tab:red", "tab:purple", "tab:orange"]
    for k, (row, (letter, name)) in enumerate(zip(axes, ppo_diagnostics.MYSTERY.items())):
        plot_diagnostics(data, {"healthy": "healthy", name: letter}, axes=row, colors=["0.55", colors[k % len(colors)]])
        row[0].set_title(letter, loc="left", fontweight="bold")
    return axes
