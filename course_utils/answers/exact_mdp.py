"""Answers of chapter 06 (trust regions) on small finite MDPs solved exactly.

``P`` (S, A, S) with ``P[s, a, s']`` the probability of s' after a in s; ``R`` (S, A) expected
rewards; ``pi`` (S, A) with rows summing to 1; ``mu`` (S,) the start distribution. The rest of
the chapter's laboratory (MDP generators, surrogates, bounds) is :mod:`course_utils.tabular`.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["transition_matrix", "policy_evaluation", "q_values", "advantages", "discounted_visitation",
           "trust_region_iteration"]


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


def trust_region_iteration(P: Tensor, R: Tensor, mu: Tensor, gamma: float, logits: Tensor, delta: float,
                           iterations: int) -> Tensor:
    """Policy iteration inside a trust region, on a small MDP solved exactly (chapter 06's bug lab).

    A tabular softmax policy pi = softmax(logits) takes ``iterations`` steps. Each moves the logits
    along the current policy's advantage table A^pi (the natural-gradient direction of a tabular softmax
    policy) by the largest eta of 10, 5, 2.5, ... (40 tries) whose mean KL under the current policy's
    visitation, sum_s d_pi(s) KL(pi(.|s) || pi_new(.|s)), is at most ``delta``.

    P (S, A, S), R (S, A), mu (S,), gamma in [0, 1); logits (S, A), not changed; delta > 0; iterations >= 1.
    Returns (iterations, 4), one row per step: J(pi) before the step, J(pi_new) after it, the gain the
    surrogate predicts, sum_s d_pi(s) sum_a pi_new(a|s) A^pi(s, a) / (1 - gamma), and the step's mean KL.
    """
    S = P.shape[0]
    eye = torch.eye(S, dtype=P.dtype)
    pi = torch.softmax(logits, -1)
    rows = []
    for _ in range(iterations):
        V = policy_evaluation(P, R, pi, gamma)
        A = q_values(P, R, V, gamma) - V[:, None]
        d = torch.linalg.solve((eye - gamma * transition_matrix(P, pi)).T, (1 - gamma) * mu)
        eta = 10.0
        for _ in range(40):
            new_logits = logits + eta * A
            pi_new = torch.softmax(new_logits, -1)
            kl = (d * (pi * (torch.log_softmax(logits, -1) - torch.log_softmax(new_logits, -1))).sum(-1)).sum()
            if kl <= delta:
                break
            eta /= 2
        predicted = (d * (pi_new * A).sum(-1)).sum() / (1 - gamma)
        J_after = mu @ policy_evaluation(P, R, pi_new, gamma)
        rows.append(torch.stack([mu @ V, J_after, predicted, kl]))
        logits, pi = new_logits, pi_new
    return torch.stack(rows)
