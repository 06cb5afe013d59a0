"""Answers about returns: R(tau), the reward-to-go, the bootstrapped (n-step) return and the
lambda-return (chapters 02, 03, 04 and 05).

Conventions (see shared/EXERCISES.md): time runs along the **first** axis, ``(T,)`` or ``(T, N)``;
``dones[t] = 1`` means the episode **terminated** at step t (nothing is bootstrapped from the
state after it; time-limit truncation is folded into the rewards by the rollout code, see
:mod:`course_utils.rl.rollout`); ``last_value`` is V(s_T), the value of the state after the
last step of the rollout.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from course_utils.answers._arrays import numpy32 as _numpy32

__all__ = ["discounted_return", "reward_to_go", "bootstrapped_returns", "lambda_returns"]


def discounted_return(rewards: Tensor, gamma: float) -> Tensor:
    r"""R(tau) = sum_t gamma^t r_t, the discounted return of one whole episode.

    Args:
        rewards: (T,) rewards r_0 ... r_{T-1} of one episode.
        gamma: discount factor in [0, 1]; 1.0 gives the plain sum (CartPole's score), 0.99 is usual.

    Returns:
        () tensor. Example: rewards [1, 1, 1], gamma 0.5 -> 1 + 0.5 + 0.25 = 1.75.
        A full CartPole-v1 episode (500 rewards of 1) gives 500 with gamma 1 and
        (1 - 0.99^500) / 0.01 = 99.34 with gamma 0.99.
    """
    rewards = torch.as_tensor(rewards, dtype=torch.float32)
    discounts = gamma ** torch.arange(rewards.shape[0], dtype=rewards.dtype)
    return (discounts * rewards).sum()


def reward_to_go(rewards: Tensor, gamma: float = 1.0) -> Tensor:
    r"""hat R_t = sum_{t' >= t} gamma^(t' - t) r_t', the (discounted) reward-to-go of one episode.

    Computed backwards with hat R_t = r_t + gamma * hat R_{t+1} and hat R_T = 0.

    Args:
        rewards: (T,) rewards of one episode (a (T, N) batch of N episodes of equal length
            also works, column by column).
        gamma: discount factor in [0, 1]; 1.0 (the default) is the undiscounted reward-to-go.

    Returns:
        (T,) tensor, same shape as ``rewards``. Example: rewards [1, 1, 1], gamma 1.0 ->
        [3, 2, 1]; rewards [0, 0, 1], gamma 0.9 -> [0.81, 0.9, 1].
    """
    # the recursion runs in NumPy: indexing a tensor costs ~10 us a step, a NumPy row ~0.2 us
    r = _numpy32(rewards)
    returns = np.zeros_like(r)
    running = np.zeros_like(r[0])
    for t in reversed(range(r.shape[0])):
        running = r[t] + gamma * running
        returns[t] = running
    return torch.from_numpy(returns)


def bootstrapped_returns(rewards: Tensor, dones: Tensor, last_value: Tensor, gamma: float) -> Tensor:
    r"""G_t = r_t + gamma (1 - d_t) G_{t+1}, with G_T = V(s_T) = ``last_value``.

    The return from step t to the end of the rollout, bootstrapped with the critic where the
    rollout cuts an episode, and stopped where an episode ends: step t looks T - t steps ahead
    (A2C's n-step return). Shapes: rewards, dones (T,) or (T, N); last_value () or (N,).
    Example: rewards [1, 1], dones [0, 0], last_value 10, gamma 0.5 -> [4, 6].
    """
    r, not_done = rewards.float(), 1.0 - dones.float()
    returns = torch.zeros_like(r)
    running = torch.as_tensor(last_value, dtype=r.dtype).detach()
    for t in reversed(range(r.shape[0])):
        running = r[t] + gamma * not_done[t] * running
        returns[t] = running
    return returns


def lambda_returns(
    rewards: Tensor, values: Tensor, dones: Tensor, last_value: Tensor, gamma: float, lam: float
) -> Tensor:
    r"""G^lam_t = r_t + gamma (1 - d_t) [(1 - lam) V(s_{t+1}) + lam G^lam_{t+1}], G^lam_T = V(s_T).

    The critic's targets that go with GAE: G^lam_t = hat A_t + V(s_t). Each step blends the
    one-step bootstrap V(s_{t+1}) with the longer return G^lam_{t+1}; lam = 0 gives
    r_t + gamma V(s_{t+1}), lam = 1 the bootstrapped return. Constants, no gradient.
    Shapes: rewards, values, dones (T,) or (T, N); last_value () or (N,).
    Example: rewards [0, 0, 1], values 0.5, dones 0, last_value 1, gamma 1, lam 0.5 ->
    [0.875, 1.25, 2].
    """
    r, v, not_done = rewards.float(), values.detach().float(), 1.0 - dones.float()
    returns = torch.zeros_like(r)
    next_value = next_return = torch.as_tensor(last_value, dtype=r.dtype).detach()
    for t in reversed(range(r.shape[0])):
        next_return = r[t] + gamma * not_done[t] * ((1 - lam) * next_value + lam * next_return)
        returns[t] = next_return
        next_value = v[t]
    return returns
