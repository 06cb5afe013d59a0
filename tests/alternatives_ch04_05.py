"""Correct answers to the exercises of chapters 04 and 05, written differently from the answers (course_utils.answers)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


# ---------------------------------------------------------------- chapter 04
def td_residuals_where(rewards, values, next_values, dones, gamma):
    bootstrap = torch.where(dones.bool(), torch.zeros_like(next_values), next_values)
    return rewards + gamma * bootstrap - values


def td_residuals_numpy(rewards, values, next_values, dones, gamma):
    r, v, nv, d = (x.numpy() for x in (rewards, values, next_values, dones))
    return r + gamma * (1.0 - d) * nv - v


def bootstrapped_returns_loop_per_column(rewards, dones, last_value, gamma):
    if rewards.dim() == 1:
        return bootstrapped_returns_loop_per_column(rewards[:, None], dones[:, None], last_value.reshape(1), gamma)[:, 0]
    T, N = rewards.shape
    out = torch.zeros(T, N)
    for i in range(N):
        running = float(last_value[i])
        for t in reversed(range(T)):
            running = float(rewards[t, i]) + (0.0 if dones[t, i] else gamma * running)
            out[t, i] = running
    return out


def bootstrapped_returns_via_gae(rewards, dones, last_value, gamma):
    # with V = 0 everywhere, GAE with lam = 1 is the bootstrapped return itself
    from course_utils.answers import gae

    return gae(rewards, torch.zeros_like(rewards), dones, last_value, gamma, 1.0)


def a2c_loss_functional(logp, values, advantages, returns, entropy, value_coef, entropy_coef):
    return (-(logp * advantages.detach()).mean() + value_coef * F.mse_loss(values, returns.detach())
            - entropy_coef * entropy.mean())


def a2c_loss_no_grad_targets(logp, values, advantages, returns, entropy, value_coef, entropy_coef):
    with torch.no_grad():
        a, r = advantages.clone(), returns.clone()
    M = logp.shape[0]
    return (-(logp @ a) + value_coef * ((values - r) ** 2).sum() - entropy_coef * entropy.sum()) / M


# ---------------------------------------------------------------- chapter 05
def gae_numpy_per_column(rewards, values, dones, last_value, gamma, lam):
    r, v, d = rewards.numpy(), values.numpy(), dones.numpy()
    lv = np.asarray(last_value.numpy())
    squeeze = r.ndim == 1
    if squeeze:
        r, v, d, lv = r[:, None], v[:, None], d[:, None], lv.reshape(1)
    T, N = r.shape
    out = np.zeros((T, N), dtype=np.float64)
    for i in range(N):
        running = 0.0
        for t in reversed(range(T)):
            next_value = lv[i] if t == T - 1 else v[t + 1, i]
            nonterminal = 1.0 - d[t, i]
            delta = r[t, i] + gamma * nonterminal * next_value - v[t, i]
            running = delta + gamma * lam * nonterminal * running
            out[t, i] = running
    out = out.astype(np.float32)
    return torch.from_numpy(out[:, 0] if squeeze else out)


def gae_matrix(rewards, values, dones, last_value, gamma, lam):
    # closed form A_t = sum_l (gamma lam)^l prod_{j<l} (1 - d_{t+j}) delta_{t+l}, as a (T, T) weight matrix
    T = rewards.shape[0]
    next_values = torch.cat([values[1:], last_value.reshape(1, *values.shape[1:])])
    not_done = 1.0 - dones
    delta = rewards + gamma * not_done * next_values - values
    out = torch.zeros_like(delta)
    for t in range(T):
        weight = torch.ones_like(delta[0])
        for s in range(t, T):
            out[t] = out[t] + weight * delta[s]
            weight = weight * gamma * lam * not_done[s]
    return out


def k_step_advantage_returns(rewards, values, dones, last_value, gamma, k):
    # k-step return minus V(s_t): rewards first, then the critic at s_{t+n}
    T = rewards.shape[0]
    next_values = torch.cat([values[1:], last_value.reshape(1, *values.shape[1:])])
    out = torch.zeros_like(rewards)
    for t in range(T):
        total = torch.zeros_like(rewards[0])
        alive = torch.ones_like(rewards[0])
        discount = 1.0
        n = min(k, T - t)
        for l in range(n):
            total = total + alive * discount * rewards[t + l]
            if l == n - 1:
                total = total + alive * discount * gamma * (1 - dones[t + l]) * next_values[t + l]
            alive = alive * (1 - dones[t + l])
            discount *= gamma
        out[t] = total - values[t]
    return out


def lambda_returns_from_gae(rewards, values, dones, last_value, gamma, lam):
    from course_utils.answers import gae

    return gae(rewards, values, dones, last_value, gamma, lam) + values


def lambda_returns_loop(rewards, values, dones, last_value, gamma, lam):
    T = rewards.shape[0]
    out = torch.zeros_like(rewards)
    next_return = last_value.clone().float()
    for t in range(T - 1, -1, -1):
        next_value = last_value if t == T - 1 else values[t + 1]
        out[t] = rewards[t] + gamma * (1 - dones[t]) * (lam * next_return + (1 - lam) * next_value)
        next_return = out[t]
    return out


# ---------------------------------------------------------------- lambda_for_horizon (derive)
def lambda_for_horizon_rearranged(gamma, horizon):
    return (horizon - 1) / (horizon * gamma)


def lambda_for_horizon_bisection(gamma, horizon):
    """Solve sum_l (gamma lam)^l = horizon numerically."""
    lo, hi = 0.0, 1.0 / gamma
    for _ in range(200):
        mid = (lo + hi) / 2
        if 1 / (1 - gamma * mid) < horizon:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


ALTERNATIVES = {
    "lambda_for_horizon": [lambda_for_horizon_rearranged, lambda_for_horizon_bisection],
    "td_residuals": [td_residuals_where, td_residuals_numpy],
    "bootstrapped_returns": [bootstrapped_returns_loop_per_column, bootstrapped_returns_via_gae],
    "a2c_loss": [a2c_loss_functional, a2c_loss_no_grad_targets],
    "gae": [gae_numpy_per_column, gae_matrix],
    "k_step_advantage": [k_step_advantage_returns],
    "lambda_returns": [lambda_returns_from_gae, lambda_returns_loop],
}
