"""Correct solutions written differently from the references (loops, NumPy, other torch calls).

Every exercise must list at least one: a checker that rejects a correct but different answer is
as bad as one that accepts a wrong one. ``tests/test_exercise_catalogue.py`` grades them all.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def undiscounted_return_loop(rewards):
    total = 0.0
    for r in rewards:
        total = total + r
    return torch.as_tensor(total, dtype=torch.float32)


def undiscounted_return_numpy(rewards):
    return np.sum(rewards.numpy())


def run_episode_for_loop(env, policy, seed):
    obs, _ = env.reset(seed=seed)
    out = []
    done = False
    while not done:
        obs, r, terminated, truncated, _ = env.step(policy(obs))
        out.append(r)
        done = terminated or truncated
    return torch.tensor(np.array(out, dtype=np.float32))


def categorical_log_prob_log_softmax(logits, actions):
    return F.log_softmax(logits, dim=1)[torch.arange(len(actions)), actions]


def categorical_log_prob_distribution(logits, actions):
    return torch.distributions.Categorical(logits=logits).log_prob(actions)


def categorical_log_prob_max_trick(logits, actions):
    m = logits.max(dim=-1, keepdim=True).values
    lse = m.squeeze(-1) + torch.log(torch.exp(logits - m).sum(-1))
    return logits[torch.arange(logits.shape[0]), actions] - lse


def gaussian_log_prob_distribution(x, mu, log_std):
    return torch.distributions.Normal(mu, log_std.exp()).log_prob(x).sum(-1)


def gaussian_log_prob_loop(x, mu, log_std):
    log_std = log_std.expand_as(mu)
    total = torch.zeros(x.shape[0])
    for d in range(x.shape[1]):
        var = torch.exp(2 * log_std[:, d])
        total = total - (x[:, d] - mu[:, d]) ** 2 / (2 * var) - log_std[:, d] - 0.5 * math.log(2 * math.pi)
    return total


def softmax_score_autograd(logits, actions):
    z = logits.detach().clone().requires_grad_(True)
    logp = torch.log_softmax(z, -1).gather(-1, actions[:, None]).sum()
    (g,) = torch.autograd.grad(logp, z)
    return g


def softmax_score_numpy(logits, actions):
    z = logits.numpy().astype(np.float64)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(z.shape[1])[actions.numpy()]
    return (onehot - p).astype(np.float32)


def score_gradient_gaussian_mean_loop(x, fx, mu, sigma):
    total = 0.0
    for xi, fi in zip(x.tolist(), fx.tolist()):
        total += fi * (xi - mu) / sigma**2
    return torch.tensor(total / len(x))


def score_gradient_gaussian_mean_autograd(x, fx, mu, sigma):
    m = torch.tensor(float(mu), requires_grad=True)
    logp = torch.distributions.Normal(m, sigma).log_prob(x).mul(fx).mean()
    (g,) = torch.autograd.grad(logp, m)
    return g


ALTERNATIVES = {
    "undiscounted_return": [undiscounted_return_loop, undiscounted_return_numpy],
    "run_episode": [run_episode_for_loop],
    "categorical_log_prob": [categorical_log_prob_log_softmax, categorical_log_prob_distribution,
                             categorical_log_prob_max_trick],
    "gaussian_log_prob": [gaussian_log_prob_distribution, gaussian_log_prob_loop],
    "softmax_score": [softmax_score_autograd, softmax_score_numpy],
    "score_gradient_gaussian_mean": [score_gradient_gaussian_mean_loop, score_gradient_gaussian_mean_autograd],
}
