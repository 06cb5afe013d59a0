"""Answers of chapter 06 (trust regions) on small finite MDPs solved exactly.

``P`` (S, A, S) with ``P[s, a, s']`` the probability of s' after a in s; ``R`` (S, A) expected
rewards; ``pi`` (S, A) with rows summing to 1; ``mu`` (S,) the start distribution. The rest of
the chapter's laboratory (MDP generators, surrogates, bounds) is :mod:`course_utils.tabular`.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["transition_matrix", "policy_evaluation", "q_values", "advantages", "discounted_visitation"]


def transition_matrix(P: Tensor, pi: Tensor) -> Tensor:
    """P_pi[s, s'] = sum_a pi(a | s) P(s' | s, a): the state-to-state chain of a policy, (S, S)."""
    return torch.einsum("sa,sat->st", pi, P)


def policy_evaluation(P: Tensor, R: Tensor, pi: Tensor, gamma: float) -> Tensor:
    """V^pi solves the Bellman equation V = r_pi + gamma P_pi V, i.e. (I - gamma P_pi) V = r_pi.

    P (S, A, S), R (S, A), pi (S, A) -> V (S,). Exact, by one linear solve.
    """
    S = P.shape[0]
    r_pi = (pi * R).sum(-1)
    eye = torch.eye(S, dtype=P.dtype)
    return torch.linalg.solve(eye - gamma * transition_matrix(P, pi), r_pi)


def q_values(P: Tensor, R: Tensor, V: Tensor, gamma: float) -> Tensor:
    """Q(s, a) = R(s, a) + gamma sum_s' P(s' | s, a) V(s'): (S, A)."""
    return R + gamma * torch.einsum("sat,t->sa", P, V)


def advantages(P: Tensor, R: Tensor, pi: Tensor, gamma: float) -> Tensor:
    """A^pi(s, a) = Q^pi(s, a) - V^pi(s): (S, A). Its pi-average in every state is 0."""
    V = policy_evaluation(P, R, pi, gamma)
    return q_values(P, R, V, gamma) - V[:, None]


def discounted_visitation(P: Tensor, pi: Tensor, mu: Tensor, gamma: float) -> Tensor:
    """d_pi(s) = (1 - gamma) sum_t gamma^t Pr(s_t = s | s_0 ~ mu, pi): a distribution over S.

    Summing the geometric series: d^T = (1 - gamma) mu^T (I - gamma P_pi)^{-1}, so d solves
    (I - gamma P_pi)^T d = (1 - gamma) mu.
    """
    S = P.shape[0]
    eye = torch.eye(S, dtype=P.dtype)
    return torch.linalg.solve((eye - gamma * transition_matrix(P, pi)).T, (1 - gamma) * mu)
