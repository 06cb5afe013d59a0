"""The trainer kit: what the five trainers share and that is not an algorithm.

- :func:`plug_in` puts a learner's function, or the answer from :mod:`course_utils.answers`
  when the learner passes ``None``, into a trainer, wrapped so that a NumPy array or a number
  is converted to a tensor (with a note, once) and a loss that cannot be differentiated is
  explained clearly;
- :func:`clip_grad_norm`, a cheap global gradient-norm clip (A2C, PPO);
- :class:`RunningMeanStd`, running normalisation statistics (PPO);
- :func:`play_episodes` and :func:`evaluate_policy`, seeded evaluation episodes of any policy
  or of a trained PPO agent (PPO, benchmarks);
- :func:`bar_label`, a progress bar's label that JupyterLab does not break across lines.
"""
from __future__ import annotations

import warnings
from typing import Callable, Literal

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

__all__ = ["plug_in", "Plugged", "clip_grad_norm", "RunningMeanStd", "evaluate_policy", "play_episodes", "bar_label"]


class Plugged:
    """A learner's function (or the answer) as a trainer calls it: converts NumPy arrays and
    numbers to tensors (with a note, once) and explains clearly when a loss cannot be
    differentiated. ``source`` is "learner" or "answer"."""

    def __init__(self, fn: Callable, name: str, source: str, needs_grad: bool) -> None:
        self.fn, self.name, self.source, self.needs_grad = fn, name, source, needs_grad
        self.noted = False

    def __call__(self, *args):
        out = self.fn(*args)
        if not isinstance(out, Tensor):
            if self.needs_grad:
                raise TypeError(
                    f"{self.name} returned a {type(out).__name__}, which cannot be differentiated: "
                    "build the loss from the logp/values tensors with torch operations."
                )
            if not self.noted:
                warnings.warn(f"{self.name} returned a {type(out).__name__}; converting it to a "
                              "torch.Tensor (returning a tensor avoids the copy).", stacklevel=2)
                self.noted = True
            out = torch.as_tensor(np.asarray(out), dtype=torch.float32)
        if self.needs_grad and not out.requires_grad:
            raise TypeError(f"{self.name} returned a tensor without gradient: was .detach(), "
                            ".item() or NumPy used on logp/values?")
        return out


def plug_in(fn: Callable | None, answer: Callable, name: str, needs_grad: bool = False,
            returns: Literal["tensor", "float"] = "tensor") -> Callable:
    """The function a trainer calls for exercise ``name``: the learner's ``fn``, or ``answer``
    when ``fn`` is None.

    ``returns="tensor"`` (the default) wraps it in :class:`Plugged` (``needs_grad=True`` for a
    loss: its result must carry a gradient); ``returns="float"`` (PPO's beta update) hands the
    function over as it is.
    """
    chosen = answer if fn is None else fn
    if returns == "float":
        return chosen
    return Plugged(chosen, name, "answer" if fn is None else "learner", needs_grad)


# ----------------------------------------------------------------------------- shared helpers
class RunningMeanStd:
    """Mean and variance of a stream of arrays (batch-merged Welford), for normalisation."""

    def __init__(self, shape: tuple[int, ...] = ()) -> None:
        self.mean, self.var, self.count = np.zeros(shape), np.ones(shape), 1e-4

    def update(self, x: np.ndarray) -> None:
        batch_mean, batch_var, n = x.mean(0), x.var(0), x.shape[0]
        delta, total = batch_mean - self.mean, self.count + n
        self.mean = self.mean + delta * n / total
        self.var = (self.var * self.count + batch_var * n + delta**2 * self.count * n / total) / total
        self.count = total


def clip_grad_norm(params: list[Tensor], max_norm: float) -> None:
    """Rescale all gradients together so that their global L2 norm is at most ``max_norm``
    (what nn.utils.clip_grad_norm_ does, with ~3x less overhead for a dozen small tensors)."""
    grads = [p.grad for p in params if p.grad is not None]
    norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    torch._foreach_mul_(grads, torch.clamp(max_norm / (norm + 1e-6), max=1.0))


def play_episodes(act: Callable[[np.ndarray], Any], env_id: str, episodes: int = 10, seed: int = 10_000) -> list[float]:
    """Undiscounted returns of ``episodes`` episodes of ``env_id`` seeded ``seed``, ``seed + 1``, ...,
    acting with ``act(observation) -> action`` (any policy: the course's, Stable-Baselines3's...)."""
    env = gym.make(env_id)
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return returns


def evaluate_policy(agent, env_id: str, episodes: int = 10, seed: int = 10_000,
                    deterministic: bool = True) -> list[float]:
    """Undiscounted returns of ``episodes`` episodes played by ``agent`` (greedy by default, as SB3)."""
    probe = gym.make(env_id)
    space = probe.action_space
    probe.close()

    def act(raw: np.ndarray) -> Any:
        noise = torch.randn(1, space.shape[0]) if agent.continuous else torch.empty(1, agent.act_dim).exponential_()
        action = agent.act(agent.normalize(raw[None]), noise, deterministic)[0].numpy()
        return np.clip(action, space.low, space.high) if agent.continuous else action

    return play_episodes(act, env_id, episodes, seed)


def bar_label(text: str) -> str:
    """``text`` with non-breaking spaces and hyphens: the notebook progress bar's label area is
    narrow, and "REINFORCE CartPole-v1" would otherwise wrap after "CartPole-"."""
    return text.replace(" ", "\u00a0").replace("-", "\u2011")
