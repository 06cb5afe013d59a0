"""The GRPO update written once (chapter 09's loop item; the GRPO trainer runs it).

From a batch of sampled answers, G per prompt, to the updated policy:

    group-relative advantages, one per answer, given to each of its tokens  ->  log-probabilities
    stored under the policy that sampled (and under the frozen reference)  ->  for each epoch, for
    each minibatch handed in: the GRPO loss (clipped ratio against the stored log-probabilities,
    plus beta times the KL to the reference), zero_grad, backward, step.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from course_utils.answers.advantages import group_relative_advantages
from course_utils.answers.surrogates import grpo_loss

__all__ = ["grpo_update"]


def grpo_update(policy, reference, optimizer: torch.optim.Optimizer, prompts: Tensor, answers: Tensor,
                rewards: Tensor, group_size: int, minibatches: Sequence[Sequence[Tensor]], clip_eps: float,
                beta: float) -> float:
    r"""GRPO's policy update on n = B G answers, G consecutive answers per prompt.

    hat A_ij = (r_ij - mean_j r_ij) / (std_j r_ij + eps) within each group of G answers, given to
    every token of answer (i, j); log pi_old and log pi_ref of every token are stored before the
    first step; then each minibatch of each epoch takes one optimiser step on
    -mean(min(rho A, clip(rho, 1 - eps, 1 + eps) A)) + beta mean(pi_ref/pi - log(pi_ref/pi) - 1),
    rho = pi / pi_old, over the minibatch's tokens.

    Args:
        policy: ``policy.log_prob(prompts (m, L), answers (m, L))`` is (m, L), log pi(token_t |
            prompt, tokens_<t) with gradient (the lesson's SequencePolicy).
        reference: the frozen reference policy (same interface); never updated.
        optimizer: over the policy's parameters.
        prompts: (n, L) int64; rows i G ... i G + G - 1 are the same prompt i.
        answers: (n, L) int64, the sampled answers, row by row with the prompts.
        rewards: (n,) float, the checker's reward of each answer.
        group_size: G, the answers per prompt (n is a multiple of G).
        minibatches: ``minibatches[e][k]`` is a (m,) int64 tensor of answer rows: minibatch k of
            epoch e; one optimiser step per minibatch, in this order.
        clip_eps: the ratio's clip range (0.2).
        beta: weight of the KL penalty towards the reference (0.02-0.04; 0 disables it).

    Returns:
        The loss of the last minibatch step, a float.
    """
    n, L = answers.shape
    groups = rewards.reshape(n // group_size, group_size)  # (B, G): one prompt's answers per row
    advantages = group_relative_advantages(groups).reshape(n, 1).expand(n, L)  # (n, L): an answer's A on each token
    with torch.no_grad():  # stored once, under the policy that sampled the answers
        logp_old = policy.log_prob(prompts, answers)  # (n, L)
        logp_ref = reference.log_prob(prompts, answers)  # (n, L)
    for epoch in minibatches:
        for rows in epoch:
            logp = policy.log_prob(prompts[rows], answers[rows])  # (m, L) with gradient
            loss = grpo_loss(logp.reshape(-1), logp_old[rows].reshape(-1), logp_ref[rows].reshape(-1),
                             advantages[rows].reshape(-1).float(), clip_eps, beta)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return loss.item()
