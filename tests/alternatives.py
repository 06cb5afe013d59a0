"""Correct solutions written differently from the answers (course_utils.answers) (loops, NumPy, other torch calls).

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


def two_action_optimal_baseline_by_definition(p, r0, r1):
    """E[g^2 R] / E[g^2] summed over the two actions, unsimplified."""
    weights = {1: p * (1 - p) ** 2, 0: (1 - p) * p**2}
    return (weights[1] * r1 + weights[0] * r0) / (weights[1] + weights[0])


def two_action_optimal_baseline_torch(p, r0, r1):
    probs = torch.tensor([1 - p, p], dtype=torch.float64)
    scores = torch.tensor([-p, 1 - p], dtype=torch.float64)
    rewards = torch.tensor([r0, r1], dtype=torch.float64)
    return ((probs * scores**2 * rewards).sum() / (probs * scores**2).sum()).item()


ALTERNATIVES = {
    "two_action_optimal_baseline": [two_action_optimal_baseline_by_definition, two_action_optimal_baseline_torch],
    "undiscounted_return": [undiscounted_return_loop, undiscounted_return_numpy],
    "run_episode": [run_episode_for_loop],
    "categorical_log_prob": [categorical_log_prob_log_softmax, categorical_log_prob_distribution,
                             categorical_log_prob_max_trick],
    "gaussian_log_prob": [gaussian_log_prob_distribution, gaussian_log_prob_loop],
    "softmax_score": [softmax_score_autograd, softmax_score_numpy],
    "score_gradient_gaussian_mean": [score_gradient_gaussian_mean_loop, score_gradient_gaussian_mean_autograd],
}


# ---------------------------------------------------------------- chapters 02 and 03
def discounted_return_loop(rewards, gamma):
    total, discount = 0.0, 1.0
    for r in rewards.tolist():
        total += discount * r
        discount *= gamma
    return torch.tensor(total)


def discounted_return_horner(rewards, gamma):
    total = torch.tensor(0.0)
    for r in reversed(rewards):
        total = r + gamma * total
    return total


def sample_actions_searchsorted(logits, u):
    cdf = torch.softmax(logits, -1).cumsum(-1)
    return torch.searchsorted(cdf, u[:, None], right=True).squeeze(-1).clamp(max=logits.shape[1] - 1)


def sample_actions_loop(logits, u):
    out = []
    for row, ui in zip(torch.softmax(logits, -1), u):
        acc, a = 0.0, 0
        for p in row.tolist():
            acc += p
            if ui < acc:
                break
            a += 1
        out.append(min(a, len(row) - 1))
    return torch.tensor(out)


def pg_loss_sum_over_len(logp, weights):
    return -torch.sum(logp * weights.detach()) / logp.shape[0]


def pg_loss_no_grad_weights(logp, weights):
    with torch.no_grad():
        w = weights.clone()
    return -(logp * w).mean()


def reward_to_go_flip_cumsum_gamma1(rewards, gamma=1.0):
    # discounting by rescaling: sum_{t'>=t} gamma^(t'-t) r_t' = gamma^-t sum_{t'>=t} gamma^t' r_t'
    t = torch.arange(len(rewards), dtype=torch.float64)
    if gamma == 0:
        return rewards.clone()
    scaled = rewards.double() * gamma**t
    return (torch.flip(torch.cumsum(torch.flip(scaled, [0]), 0), [0]) / gamma**t).float()


def reward_to_go_matrix(rewards, gamma=1.0):
    T = len(rewards)
    i = torch.arange(T)
    powers = (i[None, :] - i[:, None]).clamp(min=0).float()
    mask = (i[None, :] >= i[:, None]).float()
    return (mask * gamma**powers) @ rewards


def optimal_baseline_numpy(grad_logp, returns):
    g2 = grad_logp.numpy() ** 2
    return (g2 * returns.numpy()[:, None]).sum(0) / g2.sum(0)


def optimal_baseline_einsum(grad_logp, returns):
    g2 = grad_logp.pow(2)
    return torch.einsum("np,n->p", g2, returns) / g2.sum(0)


def value_loss_functional(values, returns):
    return F.mse_loss(values, returns.detach())


def normalize_advantages_manual(advantages, eps=1e-8):
    m = advantages.mean()
    s = ((advantages - m) ** 2).sum().div(len(advantages) - 1).sqrt()
    return (advantages - m) / (s + eps)


ALTERNATIVES.update({
    "discounted_return": [discounted_return_loop, discounted_return_horner],
    "sample_actions": [sample_actions_searchsorted, sample_actions_loop],
    "pg_loss": [pg_loss_sum_over_len, pg_loss_no_grad_weights],
    "reward_to_go": [reward_to_go_flip_cumsum_gamma1, reward_to_go_matrix],
    "optimal_baseline": [optimal_baseline_numpy, optimal_baseline_einsum],
    "value_loss": [value_loss_functional],
    "normalize_advantages": [normalize_advantages_manual],
})


# later chapters keep their alternatives in their own files (one per pair of chapters)
def _merge_chapter_files() -> None:
    import importlib
    import pkgutil

    import tests

    for info in pkgutil.iter_modules(tests.__path__):
        if info.name.startswith(("alternatives_ch", "alternatives_loops_ch")):
            module = importlib.import_module(f"tests.{info.name}")
            ALTERNATIVES.update(getattr(module, "BY_ID", module.ALTERNATIVES))


_merge_chapter_files()
