"""Answers of chapter 01 (the log-derivative trick): log-probabilities and score functions.

log pi(a|s) of a softmax policy and of a diagonal Gaussian, the score grad log pi of a softmax
policy, and the score-function estimate of d/dmu E[f(x)].
"""
from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)

__all__ = ["categorical_log_prob", "gaussian_log_prob", "softmax_score", "score_gradient_gaussian_mean"]


def categorical_log_prob(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """log pi(a|s) = logits[a] - logsumexp(logits); logits (N, A), actions (N,) int64 -> (N,)."""
    log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    return log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1)


def gaussian_log_prob(x: torch.Tensor, mu: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """sum_d [ -(x-mu)^2 / (2 sigma^2) - log sigma - 0.5 log(2 pi) ]; x, mu (N, D), log_std (D,) or (N, D) -> (N,)."""
    log_std = log_std.expand_as(mu)
    z = (x - mu) / torch.exp(log_std)
    return (-0.5 * z**2 - log_std - 0.5 * LOG_2PI).sum(-1)


def softmax_score(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """grad_logits log pi(a|s) = onehot(a) - softmax(logits); logits (N, A), actions (N,) -> (N, A)."""
    onehot = torch.nn.functional.one_hot(actions, logits.shape[-1]).to(logits.dtype)
    return onehot - torch.softmax(logits, dim=-1)


def score_gradient_gaussian_mean(x: torch.Tensor, fx: torch.Tensor, mu: float, sigma: float) -> torch.Tensor:
    """(1/N) sum_i f(x_i) (x_i - mu) / sigma^2, estimating d/dmu E_{x ~ N(mu, sigma^2)}[f(x)]; x, fx (N,) -> ()."""
    return (fx * (x - mu) / sigma**2).mean()
