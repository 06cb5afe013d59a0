"""Answers about the policy-gradient losses: sampling actions, the surrogate whose gradient is the
policy gradient, the variance-minimising baseline, the critic's loss and A2C's combined loss
(chapters 02, 03 and 04). A "loss" is a scalar to minimise; its gradient is what is graded.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["sample_actions", "pg_loss", "optimal_baseline", "value_loss", "a2c_loss", "two_action_optimal_baseline"]


def sample_actions(logits: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF sampling: a = #{b : cdf_b <= u}; logits (N, A), u (N,) in [0, 1) -> (N,) int64."""
    cdf = torch.cumsum(torch.softmax(logits, dim=-1), dim=-1)
    actions = (cdf <= u.unsqueeze(-1)).sum(-1)
    return actions.clamp(max=logits.shape[-1] - 1)  # guards against cdf[-1] = 0.9999999 < u


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


def optimal_baseline(grad_logp: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
    """b_k = E[g_k^2 R] / E[g_k^2] per parameter k; grad_logp (N, P), returns (N,) -> (P,)."""
    g2 = grad_logp**2
    return (g2 * returns.unsqueeze(-1)).mean(0) / g2.mean(0)


def value_loss(values: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
    """Mean squared error (1/M) sum_i (V(s_i) - hat R_i)^2; values, returns (M,) -> (); returns are targets."""
    return ((values - returns.detach()) ** 2).mean()


def a2c_loss(
    logp: Tensor,
    values: Tensor,
    advantages: Tensor,
    returns: Tensor,
    entropy: Tensor,
    value_coef: float = 0.5,
    entropy_coef: float = 0.01,
) -> Tensor:
    r"""L = -mean(log pi(a|s) A) + c_v mean((V(s) - hat R)^2) - c_H mean(H[pi(.|s)]).

    Shapes: every tensor (M,); advantages and returns are constants (detached). Minimising L
    follows the policy gradient, regresses the critic on its targets and, through the entropy
    bonus, keeps the policy from becoming deterministic too early.
    """
    policy_loss = -(logp * advantages.detach()).mean()
    value_loss = ((values - returns.detach()) ** 2).mean()
    return policy_loss + value_coef * value_loss - entropy_coef * entropy.mean()


def two_action_optimal_baseline(p: float, r0: float, r1: float) -> float:
    """The variance-minimising constant baseline of a two-armed bandit with a sigmoid policy.

    pi(a = 1) = p = sigmoid(theta) and arm a pays r_a; the score is a - p, so
    b* = E[score^2 R] / E[score^2] weights each arm's reward by the OTHER arm's probability.
    """
    return (1.0 - p) * r1 + p * r0
