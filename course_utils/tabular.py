"""Small finite MDPs solved exactly: the laboratory of chapter 06 (trust regions).

Everything here is a few lines of linear algebra in float64 torch, so every quantity of the
trust-region theory can be computed *exactly* (no sampling) and differentiated with autograd:

- ``P`` has shape (S, A, S): ``P[s, a, s']`` is the probability of moving to s' after a in s;
- ``R`` has shape (S, A): the expected reward of taking a in s;
- ``pi`` has shape (S, A): ``pi[s, a]`` = pi(a | s), every row sums to 1;
- ``mu`` has shape (S,): the distribution of the first state s_0;
- J(pi) = E[sum_t gamma^t r_t] = mu . V^pi, the *unnormalised* discounted return.

Defined in chapter 06 (``notebooks/06_trust_regions.ipynb``) and used by its tests
(``tests/test_trust_region_theory.py``) and checks (``course_utils/checks/ch06_trust_regions.py``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

# the exercises of chapter 06 are answers; the laboratory re-exports them (lesson 06 uses T.policy_evaluation)
from course_utils.answers.exact_mdp import (advantages, discounted_visitation, policy_evaluation, q_values,  # noqa: F401
                                            transition_matrix)

__all__ = [
    "MDP", "random_mdp", "chain_mdp", "softmax_policy", "random_policy", "transition_matrix",
    "policy_evaluation", "q_values", "advantages", "discounted_visitation", "expected_return",
    "surrogate", "mixture", "tv_max", "kl_max", "cpi_lower_bound",
]  # fmt: skip

DTYPE = torch.float64


@dataclass
class MDP:
    """A finite MDP: transitions P (S, A, S), rewards R (S, A), start distribution mu (S,)."""

    P: Tensor
    R: Tensor
    mu: Tensor
    gamma: float

    @property
    def n_states(self) -> int:
        return int(self.P.shape[0])

    @property
    def n_actions(self) -> int:
        return int(self.P.shape[1])


def random_mdp(n_states: int = 5, n_actions: int = 3, gamma: float = 0.9, seed: int = 0,
               sharpness: float = 1.0) -> MDP:
    """A random MDP with rewards uniform in [0, 1] and a uniform start distribution.

    Each row P[s, a] is proportional to w^sharpness with w ~ Exponential(1) (sharpness 1 gives
    a uniform draw from the simplex; 3-5 gives nearly deterministic transitions).
    """
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(n_states, n_actions, n_states, generator=g, dtype=DTYPE).clamp_min(1e-12)
    weights = (-u.log()) ** sharpness
    P = weights / weights.sum(-1, keepdim=True)
    R = torch.rand(n_states, n_actions, generator=g, dtype=DTYPE)
    mu = torch.full((n_states,), 1.0 / n_states, dtype=DTYPE)
    return MDP(P, R, mu, gamma)


def chain_mdp(n_states: int = 6, gamma: float = 0.9, slip: float = 0.1) -> MDP:
    """A corridor: action 1 moves right, action 0 moves left (each slips the other way with
    probability ``slip``). Reward 1 for acting in the rightmost state, 0.1 for acting in the
    leftmost one (a tempting local optimum). Starts in the leftmost state."""
    S = n_states
    P = torch.zeros(S, 2, S, dtype=DTYPE)
    for s in range(S):
        left, right = max(s - 1, 0), min(s + 1, S - 1)
        P[s, 0, left] += 1 - slip
        P[s, 0, right] += slip
        P[s, 1, right] += 1 - slip
        P[s, 1, left] += slip
    R = torch.zeros(S, 2, dtype=DTYPE)
    R[S - 1, :] = 1.0
    R[0, :] = 0.1
    mu = torch.zeros(S, dtype=DTYPE)
    mu[0] = 1.0
    return MDP(P, R, mu, gamma)


def softmax_policy(logits: Tensor) -> Tensor:
    """pi(a | s) = softmax over actions of logits[s]: (S, A) -> (S, A)."""
    return torch.softmax(logits, dim=-1)


def random_policy(n_states: int, n_actions: int, seed: int = 0, scale: float = 1.0) -> Tensor:
    """A random softmax policy with logits ~ N(0, scale^2): (S, A), rows sum to 1."""
    g = torch.Generator().manual_seed(seed)
    return softmax_policy(scale * torch.randn(n_states, n_actions, generator=g, dtype=DTYPE))


def expected_return(mdp: MDP, pi: Tensor) -> Tensor:
    """J(pi) = sum_s mu(s) V^pi(s), a 0-d tensor (differentiable in pi)."""
    return mdp.mu @ policy_evaluation(mdp.P, mdp.R, pi, mdp.gamma)


def surrogate(mdp: MDP, pi: Tensor, pi_new: Tensor) -> Tensor:
    """L_pi(pi_new) = J(pi) + 1/(1 - gamma) sum_s d_pi(s) sum_a pi_new(a | s) A^pi(s, a).

    The states are weighted by the *old* policy's visitation d_pi: that is the approximation.
    Replacing d_pi by d_{pi_new} would give J(pi_new) exactly (the performance-difference identity).
    """
    A = advantages(mdp.P, mdp.R, pi, mdp.gamma)
    d = discounted_visitation(mdp.P, pi, mdp.mu, mdp.gamma)
    return expected_return(mdp, pi) + (d[:, None] * pi_new * A).sum() / (1 - mdp.gamma)


def mixture(pi: Tensor, pi_prime: Tensor, alpha: float) -> Tensor:
    """The conservative policy (1 - alpha) pi + alpha pi' (state by state)."""
    return (1 - alpha) * pi + alpha * pi_prime


def tv_max(pi: Tensor, pi_new: Tensor) -> Tensor:
    """max_s D_TV(pi(.|s), pi_new(.|s)), with D_TV(p, q) = 1/2 sum_a |p_a - q_a|."""
    return 0.5 * (pi - pi_new).abs().sum(-1).max()


def kl_max(pi: Tensor, pi_new: Tensor) -> Tensor:
    """max_s KL(pi(.|s) || pi_new(.|s))."""
    return (pi * (pi.log() - pi_new.log())).sum(-1).max()


def cpi_lower_bound(policy_advantage: float, epsilon: float, alpha: float, gamma: float) -> float:
    """Kakade & Langford's guarantee for the mixture (1 - alpha) pi + alpha pi':

        J(pi_alpha) - J(pi) >= alpha / (1 - gamma) * (A - 2 alpha gamma epsilon / (1 - gamma (1 - alpha)))

    with A = E_{s ~ d_pi} E_{a ~ pi'} A^pi(s, a) (the policy advantage, d_pi normalised) and
    epsilon = max_s |E_{a ~ pi'} A^pi(s, a)|.
    """
    return alpha / (1 - gamma) * (policy_advantage - 2 * alpha * gamma * epsilon / (1 - gamma * (1 - alpha)))
