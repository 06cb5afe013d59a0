"""Answers about advantage estimates: TD residuals, GAE, k-step advantages, normalisation and
GRPO's group-relative advantages (chapters 03, 04, 05 and 09).

Conventions as in :mod:`course_utils.answers.returns`: time along the first axis, ``dones[t] = 1``
where the episode terminated, ``last_value`` = V(s_T).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from course_utils.answers._arrays import numpy32 as _numpy32

__all__ = ["td_residuals", "gae", "next_state_values", "k_step_advantage", "normalize_advantages", "group_relative_advantages", "lambda_for_horizon"]


def td_residuals(
    rewards: Tensor, values: Tensor, next_values: Tensor, dones: Tensor, gamma: float
) -> Tensor:
    r"""delta_t = r_t + gamma (1 - d_t) V(s_{t+1}) - V(s_t), the one-step TD residual.

    Args:
        rewards: (T,) or (T, N) rewards r_t.
        values: (T,) or (T, N) V(s_t).
        next_values: (T,) or (T, N) V(s_{t+1}); ignored where the episode terminated.
        dones: (T,) or (T, N) 1.0 where the episode terminated at step t (bool accepted).
        gamma: discount factor, usually 0.99.

    Returns:
        (T,) or (T, N) residuals. Example: r=1, V(s)=10, V(s')=10, gamma=0.9, not done ->
        1 + 9 - 10 = 0 (a value that is already right); done -> 1 - 10 = -9.
    """
    not_done = 1.0 - dones.to(rewards.dtype)
    return rewards + gamma * not_done * next_values - values


def gae(
    rewards: Tensor,
    values: Tensor,
    dones: Tensor,
    last_value: Tensor,
    gamma: float,
    lam: float,
) -> Tensor:
    r"""hat A_t = sum_{l >= 0} (gamma lam)^l delta_{t+l}, generalised advantage estimates.

    Computed backwards with hat A_t = delta_t + gamma lam (1 - d_t) hat A_{t+1}, where
    delta_t = r_t + gamma (1 - d_t) V(s_{t+1}) - V(s_t) and V(s_T) = ``last_value``. A done
    step cuts both the bootstrap and the sum, so a rollout may hold several episodes.
    lam = 0 gives the TD residuals delta_t; lam = 1 gives the Monte-Carlo advantage
    (discounted reward-to-go, bootstrapped with ``last_value``, minus V(s_t)).

    Args:
        rewards: (T,) or (T, N) rewards r_t.
        values: (T,) or (T, N) V(s_t).
        dones: (T,) or (T, N) 1.0 where the episode terminated at step t (bool accepted).
        last_value: () or (N,) V(s_T), the value of the state after the last step.
        gamma: discount factor, usually 0.99.
        lam: GAE lambda in [0, 1], close to 1 (0.9-0.97; 0.95 is usual).

    Returns:
        (T,) or (T, N) advantages. Example: rewards [0, 0, 1], values 0, dones [0, 0, 1],
        gamma 0.9, lam 1.0 -> [0.81, 0.9, 1].
    """
    # the recursion runs in NumPy, as in reward_to_go; advantages are constants (no gradient)
    r = _numpy32(rewards)
    v = _numpy32(values)
    not_done = 1.0 - _numpy32(dones)
    advantages = np.zeros_like(r)
    next_advantage = np.zeros_like(r[0])
    next_value = _numpy32(last_value)
    for t in reversed(range(r.shape[0])):
        delta = r[t] + gamma * not_done[t] * next_value - v[t]
        next_advantage = delta + gamma * lam * not_done[t] * next_advantage
        advantages[t] = next_advantage
        next_value = v[t]
    return torch.from_numpy(advantages)


def next_state_values(values: torch.Tensor, last_value) -> torch.Tensor:
    """V(s_{t+1}) for every t: values shifted by one step, then V(s_T) = last_value."""
    last = torch.as_tensor(last_value, dtype=values.dtype).reshape(1, *values.shape[1:])
    return torch.cat([values[1:], last])


def k_step_advantage(rewards: torch.Tensor, values: torch.Tensor, dones: torch.Tensor, last_value,
                     gamma: float, k: int) -> torch.Tensor:
    r"""hat A^(k)_t = sum_{l=0}^{k-1} gamma^l delta_{t+l}, cut at an episode end and at the rollout's end.

    Equivalently r_t + ... + gamma^(n-1) r_{t+n-1} + gamma^n V(s_{t+n}) - V(s_t) with n the number
    of steps actually available (at most k). Shapes as gae; k >= 1.
    """
    delta = td_residuals(rewards, values, next_state_values(values, last_value), dones, gamma)
    not_done = 1.0 - dones.float()
    T = rewards.shape[0]
    advantages = torch.zeros_like(delta)
    for t in range(T):
        weight = torch.ones_like(delta[0])  # gamma^l while the episode lasts, then 0
        for l in range(min(k, T - t)):
            advantages[t] = advantages[t] + weight * delta[t + l]
            weight = weight * gamma * not_done[t + l]
    return advantages


def normalize_advantages(advantages: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(A - mean(A)) / (std(A) + eps) over the whole batch; advantages (M,) -> (M,)."""
    return (advantages - advantages.mean()) / (advantages.std() + eps)


def group_relative_advantages(rewards: Tensor, eps: float = 1e-8) -> Tensor:
    """A_ij = (r_ij - mean_j r_ij) / (std_j r_ij + eps) within each group i; rewards (B, G) -> (B, G)."""
    return (rewards - rewards.mean(dim=1, keepdim=True)) / (rewards.std(dim=1, keepdim=True) + eps)


def lambda_for_horizon(gamma: float, horizon: float) -> float:
    """The lambda whose GAE weights (gamma lambda)^l sum to ``horizon`` steps: 1 / (1 - gamma lambda) = H."""
    return (1.0 - 1.0 / horizon) / gamma
