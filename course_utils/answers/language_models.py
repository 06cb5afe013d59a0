"""Chapter 10: the pieces of policy optimisation that are particular to language models.

A language-model policy writes an answer token by token after a prompt. Its data are
rectangular tensors of token ids, (N, T), in which only some positions are the answer: the
prompt comes first, and a sampled answer may end (with its end-of-answer token) before the
last column. Every quantity of RL is therefore a sum over a *mask* of answer positions.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["sequence_log_prob", "answer_mask", "grpo_token_loss", "kl_shaped_rewards", "bradley_terry_loss", "dpo_loss",
           "AGGREGATIONS"]

AGGREGATIONS = ("sequence", "token", "constant")


def sequence_log_prob(logits: Tensor, tokens: Tensor, mask: Tensor) -> Tensor:
    """log pi(answer | prompt) = sum_t mask_t log softmax(logits_{t-1})[tokens_t], one number per row.

    logits: (N, T, V) the model's output; position t predicts the token at t + 1.
    tokens: (N, T) int64, the prompt followed by the answer (and padding).
    mask:   (N, T) 1.0 on the tokens that count (the answer's), 0.0 elsewhere; mask[:, 0] is 0.
    Returns (N,).
    """
    logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, tokens[:, 1:, None]).squeeze(-1)  # (N, T - 1)
    return (logp * mask[:, 1:]).sum(dim=1)


def answer_mask(tokens: Tensor, prompt_len: int, end_id: int) -> Tensor:
    """1.0 on the answer's tokens, from position prompt_len up to and including the first end token.

    tokens: (N, T) int64, prompt in columns 0 .. prompt_len - 1, then the sampled answer.
    Returns (N, T) float32; a row without an end token counts every answer position.
    """
    in_answer = torch.arange(tokens.shape[1]) >= prompt_len  # (T,)
    is_end = (tokens == end_id) & in_answer
    ended_before = (is_end.long().cumsum(dim=1) - is_end.long()) > 0  # an end token strictly earlier
    return (in_answer & ~ended_before).float()


def grpo_token_loss(logp: Tensor, logp_old: Tensor, advantages: Tensor, mask: Tensor, clip_eps: float,
                    aggregation: str) -> Tensor:
    """Minus the clipped surrogate of every answer token, aggregated in one of three ways.

    logp, logp_old: (N, T) per-token log-probabilities now (with gradient) and at sampling (constants).
    advantages:     (N,) one advantage per answer, shared by its tokens (constants).
    mask:           (N, T) 1.0 on answer tokens.
    aggregation:    "sequence": mean over each answer's tokens, then over answers (GRPO);
                    "token":    one mean over every answer token of the batch (DAPO);
                    "constant": the batch's sum divided by N T, a constant (Dr. GRPO).
    """
    ratio = torch.exp(logp - logp_old.detach())
    adv = advantages.detach()[:, None]
    surrogate = torch.minimum(ratio * adv, ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv) * mask
    if aggregation == "sequence":
        return -(surrogate.sum(dim=1) / mask.sum(dim=1)).mean()
    if aggregation == "token":
        return -surrogate.sum() / mask.sum()
    if aggregation == "constant":
        return -surrogate.sum() / mask.numel()
    raise ValueError(f"aggregation must be one of {AGGREGATIONS}, not {aggregation!r}")


def kl_shaped_rewards(rewards: Tensor, logp: Tensor, logp_ref: Tensor, mask: Tensor, beta: float) -> Tensor:
    """Per-token rewards r_t = -beta (log pi - log pi_ref)_t, plus the checker's reward on the last answer token.

    rewards:        (N,) the checker's score of each answer.
    logp, logp_ref: (N, T) per-token log-probabilities of the sampled tokens under the policy and the reference.
    mask:           (N, T) 1.0 on answer tokens; padding gets reward 0.
    Returns (N, T), constants (no gradient).
    """
    shaped = -beta * (logp - logp_ref).detach() * mask
    last = (torch.arange(mask.shape[1]) * (mask > 0)).argmax(dim=1)  # the last answer position of each row
    shaped[torch.arange(mask.shape[0]), last] += rewards
    return shaped


def bradley_terry_loss(r_chosen: Tensor, r_rejected: Tensor) -> Tensor:
    """Minus the mean log-likelihood of the preferences under Bradley-Terry:
    P(chosen preferred to rejected) = sigmoid(r_chosen - r_rejected), so the loss is
    -mean log sigmoid(r_chosen - r_rejected), computed stably.

    r_chosen, r_rejected: (N,) the reward model's scores of the preferred and the other answer.
    Returns a 0-d tensor.
    """
    return -torch.nn.functional.logsigmoid(r_chosen - r_rejected).mean()


def dpo_loss(logp_chosen: Tensor, logp_rejected: Tensor, logp_ref_chosen: Tensor, logp_ref_rejected: Tensor,
             beta: float) -> Tensor:
    """DPO: Bradley-Terry with the implicit reward r = beta log(pi / pi_ref) of each answer,
    -mean log sigmoid(beta [(log pi - log pi_ref)(chosen) - (log pi - log pi_ref)(rejected)]).

    logp_chosen, logp_rejected:         (N,) log pi(answer | prompt) under the policy (with gradient).
    logp_ref_chosen, logp_ref_rejected: (N,) the same under the frozen reference (constants).
    beta: the KL weight of the objective the optimum solves, e.g. 0.1.
    Returns a 0-d tensor.
    """
    margin = (logp_chosen - logp_ref_chosen.detach()) - (logp_rejected - logp_ref_rejected.detach())
    return -torch.nn.functional.logsigmoid(beta * margin).mean()
