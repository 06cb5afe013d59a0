"""Correct solutions of chapters 08 (PPO) and 09 (GRPO) written differently from the answers (course_utils.answers)."""
from __future__ import annotations

import numpy as np
import torch


def ppo_clip_loss_where(logp, logp_old, advantages, clip_eps):
    # the case analysis of the lesson: clip only where the ratio moved in the advantage's favour
    ratio = (logp - logp_old.detach()).exp()
    adv = advantages.detach()
    too_far = ((adv > 0) & (ratio > 1 + clip_eps)) | ((adv < 0) & (ratio < 1 - clip_eps))
    capped = torch.where(adv > 0, torch.full_like(ratio, 1 + clip_eps), torch.full_like(ratio, 1 - clip_eps))
    return -torch.where(too_far, capped * adv, ratio * adv).mean()


def ppo_clip_loss_loop(logp, logp_old, advantages, clip_eps):
    terms = []
    for lp, lo, a in zip(logp, logp_old.detach(), advantages.detach()):
        r = torch.exp(lp - lo)
        terms.append(torch.minimum(r * a, r.clamp(1 - clip_eps, 1 + clip_eps) * a))
    return -torch.stack(terms).sum() / len(terms)


def approx_kl_expm1(logp, logp_old):
    log_ratio = logp - logp_old.detach()
    return torch.mean(torch.expm1(log_ratio) - log_ratio)


def adaptive_kl_beta_numpy(beta, kl, target_kl):
    factor = np.select([kl > 1.5 * target_kl, kl < target_kl / 1.5], [2.0, 0.5], default=1.0)
    return float(beta * factor)


def adaptive_kl_beta_dict(beta, kl, target_kl):
    high, low = kl > 1.5 * target_kl, kl < target_kl / 1.5
    return {(True, False): beta * 2, (False, True): beta / 2}.get((high, low), beta)


def clipped_value_loss_clamp(values, values_old, returns, clip_eps):
    vo, target = values_old.detach(), returns.detach()
    clipped = torch.clamp(values, vo - clip_eps, vo + clip_eps)
    return torch.maximum((values - target).pow(2), (clipped - target).pow(2)).mean()


def explained_variance_numpy(values, returns):
    # the returns' population variance on both sides, in NumPy (SB3 computes it this way)
    v, r = values.detach().numpy(), returns.detach().numpy()
    return 1.0 - np.var(r - v) / np.var(r)


def explained_variance_r2_of_centred(values, returns):
    # the coefficient of determination after removing each side's mean from the errors: a loop
    errors = returns - values
    m_err, m_ret = sum(errors) / len(errors), sum(returns) / len(returns)
    ss_err = sum((e - m_err) ** 2 for e in errors)
    ss_ret = sum((x - m_ret) ** 2 for x in returns)
    return (1 - ss_err / ss_ret).item()


def group_relative_advantages_loop(rewards, eps=1e-8):
    rows = []
    for row in rewards:
        rows.append((row - row.mean()) / (row.std() + eps))
    return torch.stack(rows)


def group_relative_advantages_numpy(rewards, eps=1e-8):
    r = rewards.numpy().astype(np.float64)
    out = (r - r.mean(1, keepdims=True)) / (r.std(1, ddof=1, keepdims=True) + eps)
    return out.astype(np.float32)


def grpo_loss_explicit(logp, logp_old, logp_ref, advantages, clip_eps, beta):
    ratio = torch.exp(logp - logp_old.detach())
    adv = advantages.detach()
    surrogate = torch.min(ratio * adv, ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv)
    ref_over_pi = torch.exp(logp_ref.detach() - logp)
    kl = ref_over_pi - torch.log(ref_over_pi) - 1
    return (beta * kl - surrogate).mean()


ALTERNATIVES = {
    "ppo_clip_loss": [ppo_clip_loss_where, ppo_clip_loss_loop],
    "approx_kl": [approx_kl_expm1],
    "adaptive_kl_beta": [adaptive_kl_beta_numpy, adaptive_kl_beta_dict],
    "clipped_value_loss": [clipped_value_loss_clamp],
    "explained_variance": [explained_variance_numpy, explained_variance_r2_of_centred],
    "group_relative_advantages": [group_relative_advantages_loop, group_relative_advantages_numpy],
    "grpo_loss": [grpo_loss_explicit],
}
