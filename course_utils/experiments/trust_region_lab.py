"""Chapter 06's bug lab: a trust-region iteration on an exact MDP, healthy and as handed out.

    python -m course_utils experiments trust_region_lab

The trainer is :func:`course_utils.answers.exact_mdp.trust_region_iteration` (healthy) and the
workbook's handed-out version (broken; the command passes the catalogued mistake the workbook hands
out). Each run is the lab's corridor (:func:`course_utils.tabular.chain_mdp`, 8 states, gamma = 0.95,
slip 0.1), a start drawn by its seed (standard normal logits), delta = 0.01 and :data:`ITERATIONS`
steps; everything is exact, so the runs take well under a second and vary only with the start.

Stored per configuration and seed, one value per step: J after the step (``J``), the gain the
surrogate predicted (``predicted``), the gain made (``actual``: J after the step minus J after the
previous one, or minus the start's J for the first step), and the step's mean KL (``kl``).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from course_utils import tabular
from course_utils.experiments import store

FILE = "trust_region_lab.json"
ITERATIONS = 30
DELTA = 0.01
SEEDS = [0, 1, 2, 3, 4]
COLUMNS = ("J", "predicted", "actual", "kl")


def problem(seed: int) -> dict[str, Any]:
    """The arguments of one lab run: the corridor, the seed's start, delta and the number of steps."""
    corridor = tabular.chain_mdp(8, 0.95, 0.1)
    logits = torch.randn(8, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return dict(P=corridor.P, R=corridor.R, mu=corridor.mu, gamma=corridor.gamma, logits=logits, delta=DELTA,
                iterations=ITERATIONS)


def optimal_return() -> float:
    """J* of the corridor from its start state, by value iteration (the lab's ceiling)."""
    corridor = tabular.chain_mdp(8, 0.95, 0.1)
    V = torch.zeros(8, dtype=torch.float64)
    for _ in range(2000):
        V = (corridor.R + corridor.gamma * torch.einsum("sat,t->sa", corridor.P, V)).max(-1).values
    return float(corridor.mu @ V)


def curves(trainer: Callable[..., torch.Tensor], seed: int) -> dict[str, list[float]]:
    """One run of ``trainer`` (the contract of ``trust_region_iteration``) as the four stored curves."""
    rows = trainer(**problem(seed)).detach().double()
    J_before, J_after, predicted, kl = rows.unbind(-1)
    previous = torch.cat([J_before[:1], J_after[:-1]])  # where each step started (the run's own record aside)
    out = {"J": J_after, "predicted": predicted, "actual": J_after - previous, "kl": kl}
    return {name: [round(float(v), 8) for v in values] for name, values in out.items()}


def run(seeds: list[int], healthy: Callable[..., torch.Tensor], broken: Callable[..., torch.Tensor]) -> dict:
    """Both configurations on every seed, with the cache's ``meta`` block."""
    torch.set_num_threads(1)
    return {"meta": store.meta("python -m course_utils experiments trust_region_lab", seeds=list(seeds)),
            "iterations": ITERATIONS, "delta": DELTA, "J_star": round(optimal_return(), 8),
            "runs": {name: {str(seed): curves(trainer, seed) for seed in seeds}
                     for name, trainer in (("healthy", healthy), ("broken", broken))}}


def load() -> dict[str, Any]:
    """The cache: ``{"healthy"|"broken": {column: array (seeds, iterations)}}`` plus ``J_star``, ``delta``."""
    data = store.read(FILE)
    out: dict[str, Any] = {"J_star": data["J_star"], "delta": data["delta"], "iterations": data["iterations"],
                           "seeds": data["meta"]["seeds"]}
    for name, per_seed in data["runs"].items():
        out[name] = {column: np.array([per_seed[str(s)][column] for s in out["seeds"]]) for column in COLUMNS}
    return out


def in_band(values: np.ndarray, band: np.ndarray, margin: float = 1e-6) -> bool:
    """Whether a run's curve lies between the lowest and highest of the band's seeds at every step."""
    return bool(np.all(values >= band.min(0) - margin) and np.all(values <= band.max(0) + margin))
