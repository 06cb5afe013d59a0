"""Reference implementations of the spine math of chapters 2-5 (see shared/EXERCISES.md).

Conventions shared by every function here:

- time runs along the **first** axis; functions marked *(T, ...)* accept one rollout ``(T,)``
  or a batch of vectorised environments ``(T, N)`` and treat each column independently;
- ``dones[t] = 1`` means the episode **terminated** at step t: the state after step t is
  terminal and nothing is bootstrapped from it. Time-limit truncation is not a termination;
  the rollout code folds ``gamma * V(final_obs)`` into the reward of a truncated step and then
  marks that step as an episode end (see :mod:`course_utils.rl.rollout`);
- ``last_value`` is V(s_T), the value of the state after the last step of the rollout.

These are the functions the trainers fall back to when a learner passes ``None``, and the
answers the graders compare the learner's functions with.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["discounted_return", "reward_to_go", "pg_loss", "td_residuals", "gae"]


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


def pg_loss(logp: Tensor, weights: Tensor) -> Tensor:
    r"""L(theta) = - 1/M sum_i log pi_theta(a_i | s_i) * w_i, the policy-gradient surrogate.

    Its gradient is minus the sample policy gradient, so minimising it ascends the expected
    return. The weights w_i (return, reward-to-go or advantage) are constants: they are
    detached, so no gradient flows into whatever produced them (a value baseline, say).
    The value of this loss means nothing on its own; only its gradient does.

    Args:
        logp: (M,) log pi(a_i | s_i) of the M sampled actions, with gradient.
        weights: (M,) weight of each sample.

    Returns:
        () tensor. Example: logp [-0.7, -0.7], weights [1, 3] -> 1.4.
    """
    return -(logp * weights.detach()).mean()


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


def _numpy32(x: Tensor | float) -> np.ndarray:
    """A float32 NumPy copy of a tensor, array or number, detached from any graph."""
    if isinstance(x, Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float32)
