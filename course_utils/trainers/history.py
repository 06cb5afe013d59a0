"""What a training run leaves behind: its learning curve, losses and timings, as JSON."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["History"]


@dataclass
class History:
    """The record of one training run.

    Per iteration (one batch of experience, then one update):
        env_steps: environment steps collected so far, at the end of the iteration.
        iteration_mean_return: mean undiscounted return of the episodes of that batch.
        policy_loss: value of the policy surrogate (its gradient matters, not its value).
        value_loss: value of the critic's loss after its update (NaN without a critic).
        wall_time: seconds since the start of training, at the end of the iteration.
    Per finished episode, in order:
        episode_returns: undiscounted return sum_t r_t (CartPole: the episode length, <= 500).
        episode_end_steps: environment steps collected so far when the episode ended.
    config: the arguments of the run (functions recorded as "learner" or "answer").
    """

    env_steps: list[int] = field(default_factory=list)
    iteration_mean_return: list[float] = field(default_factory=list)
    policy_loss: list[float] = field(default_factory=list)
    value_loss: list[float] = field(default_factory=list)
    wall_time: list[float] = field(default_factory=list)
    episode_returns: list[float] = field(default_factory=list)
    episode_end_steps: list[int] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    policy: Any = field(default=None, repr=False, compare=False)  # the trained network (not saved)

    def to_json(self) -> str:
        """The whole record as strict JSON: NaN is written as null, the policy is not saved,
        and a trainer's extra per-update records (PPO's ``history.diagnostics``, TRPO's
        ``history.trpo``) are kept under "extras"."""
        data = asdict(self)
        data.pop("policy", None)
        data["extras"] = {k: v for k, v in vars(self).items() if k not in data and k != "policy"}
        return json.dumps(_nan_to_null(data), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> "History":
        data = _null_to_nan(json.loads(text))
        extras = data.pop("extras", {})
        history = cls(**data)
        for name, value in extras.items():
            setattr(history, name, value)
        return history

    def rolling_return(self, window: int = 20) -> tuple[np.ndarray, np.ndarray]:
        """Mean return of the last ``window`` episodes, at each episode's end.

        Returns (env_steps (E,), rolling_mean (E,)); early points average fewer episodes.
        """
        returns = np.asarray(self.episode_returns, dtype=float)
        cumsum = np.concatenate([[0.0], np.cumsum(returns)])
        end = np.arange(1, len(returns) + 1)
        start = np.maximum(end - window, 0)
        return np.asarray(self.episode_end_steps), (cumsum[end] - cumsum[start]) / (end - start)

    def curve(self, grid: np.ndarray, window: int = 20) -> np.ndarray:
        """The rolling-``window`` mean return as it stood at each env step of ``grid``.

        NaN before the first episode ends. This is the quantity the reference curves store.
        """
        steps, rolling = self.rolling_return(window)
        idx = np.searchsorted(steps, np.asarray(grid), side="right") - 1
        out = np.full(len(idx), np.nan)
        out[idx >= 0] = rolling[idx[idx >= 0]]
        return out

    def steps_to_reach(self, target: float, window: int = 20) -> tuple[int, float] | None:
        """(env steps, seconds) when the rolling-``window`` mean return first reached
        ``target``, or None if it never did. Seconds are interpolated from the iterations'
        wall times; steps are deterministic for a seed, seconds are not (+-15-35%)."""
        steps, rolling = self.rolling_return(window)
        hits = np.flatnonzero(rolling >= target)
        if len(hits) == 0:
            return None
        step = int(steps[hits[0]])
        seconds = float(np.interp(step, [0, *self.env_steps], [0.0, *self.wall_time]))
        return step, seconds


def _nan_to_null(x: Any) -> Any:
    if isinstance(x, float) and np.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _nan_to_null(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_nan_to_null(v) for v in x]
    return x


def _null_to_nan(x: Any, key: str = "") -> Any:
    """null inside the numeric records becomes NaN again; the config's nulls stay None."""
    if key == "config":
        return x
    if isinstance(x, dict):
        return {k: _null_to_nan(v, k) for k, v in x.items()}
    if isinstance(x, list):
        return [float("nan") if v is None else _null_to_nan(v) for v in x]
    return x
