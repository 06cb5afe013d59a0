"""Answers about clipped and penalised surrogates (chapters 08 and 09): PPO's clipped objective,
the approximate KL, the clipped value loss, PPO-penalty's beta update, the critic's explained
variance (a diagnostic) and GRPO's loss.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["ppo_clip_loss", "approx_kl", "clipped_value_loss", "adaptive_kl_beta", "explained_variance", "grpo_loss"]


def ppo_clip_loss(logp: Tensor, logp_old: Tensor, advantages: Tensor, clip_eps: float) -> Tensor:
    """L = -mean(min(r A, clip(r, 1 - eps, 1 + eps) A)), r = exp(logp - logp_old); all (M,) -> ()."""
    ratio = torch.exp(logp - logp_old.detach())
    advantages = advantages.detach()
    clipped = torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    return -torch.min(ratio * advantages, clipped * advantages).mean()


def approx_kl(logp: Tensor, logp_old: Tensor) -> Tensor:
    """KL(pi_old || pi) ~ mean((r - 1) - log r) over actions drawn from pi_old (>= 0, low variance)."""
    log_ratio = logp - logp_old.detach()
    return (torch.exp(log_ratio) - 1.0 - log_ratio).mean()


def clipped_value_loss(values: Tensor, values_old: Tensor, returns: Tensor, clip_eps: float) -> Tensor:
    """mean(max((V - R)^2, (V_old + clip(V - V_old, -eps, eps) - R)^2)): V may not move far from V_old."""
    values_old, returns = values_old.detach(), returns.detach()
    clipped = values_old + torch.clamp(values - values_old, -clip_eps, clip_eps)
    return torch.max((values - returns) ** 2, (clipped - returns) ** 2).mean()


def adaptive_kl_beta(beta: float, kl: float, target_kl: float) -> float:
    """PPO-penalty's dual step: beta * 2 if kl > 1.5 target, beta / 2 if kl < target / 1.5, else beta."""
    if kl > 1.5 * target_kl:
        return float(beta * 2.0)
    if kl < target_kl / 1.5:
        return float(beta / 2.0)
    return float(beta)


def explained_variance(values: Tensor, returns: Tensor) -> float:
    """1 - Var[R - V] / Var[R] over a batch of M states: values (M,), returns (M,) -> float.

    1: the critic predicts every return (up to a constant offset, which a variance ignores);
    0: no better than predicting the batch's mean return; below 0: worse than that. Both
    variances with the same normalisation, so the ratio does not depend on which; undefined
    (inf or NaN) when the returns are all equal.
    """
    values, returns = values.detach(), returns.detach()
    return float(1.0 - torch.var(returns - values) / torch.var(returns))


def grpo_loss(logp: Tensor, logp_old: Tensor, logp_ref: Tensor, advantages: Tensor, clip_eps: float,
              beta: float) -> Tensor:
    """-mean(min(r A, clip(r, 1 +- eps) A)) + beta * mean(pi_ref/pi - log(pi_ref/pi) - 1); all (M,) -> ().

    One entry per generated token; ``advantages`` repeats each answer's group-relative advantage
    over its tokens. The KL term is the k3 estimator of KL(pi || pi_ref) on tokens sampled from pi.
    """
    log_ref_ratio = logp_ref.detach() - logp
    kl = torch.exp(log_ref_ratio) - log_ref_ratio - 1.0
    return ppo_clip_loss(logp, logp_old, advantages, clip_eps) + beta * kl.mean()
