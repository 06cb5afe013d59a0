"""Correct solutions of chapter 10 (RL for language models) written differently from the answers."""
from __future__ import annotations

import torch


def sequence_log_prob_loop(logits, tokens, mask):
    # token by token: the log-softmax of the previous position, picked at the token
    total = torch.zeros(tokens.shape[0])
    for t in range(1, tokens.shape[1]):
        logp = logits[:, t - 1] - torch.logsumexp(logits[:, t - 1], dim=-1, keepdim=True)
        total = total + mask[:, t] * logp[torch.arange(tokens.shape[0]), tokens[:, t]]
    return total


def sequence_log_prob_cross_entropy(logits, tokens, mask):
    nll = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), tokens[:, 1:], reduction="none")
    return -(nll * mask[:, 1:]).sum(-1)


def answer_mask_loop(tokens, prompt_len, end_id):
    out = torch.zeros(tokens.shape)
    for i in range(tokens.shape[0]):
        for t in range(prompt_len, tokens.shape[1]):
            out[i, t] = 1.0
            if tokens[i, t] == end_id:
                break
    return out


def answer_mask_cummax(tokens, prompt_len, end_id):
    n, T = tokens.shape
    answer = torch.zeros(n, T, dtype=torch.bool)
    answer[:, prompt_len:] = True
    is_end = (tokens == end_id) & answer
    seen = torch.cummax(is_end.int(), dim=1).values.bool()  # at or after the first end
    first = is_end & ~torch.cat([torch.zeros(n, 1, dtype=torch.bool), seen[:, :-1]], dim=1)
    return (answer & (~seen | first)).float()


def grpo_token_loss_where(logp, logp_old, advantages, mask, clip_eps, aggregation):
    ratio = (logp - logp_old.detach()).exp()
    adv = advantages.detach().unsqueeze(1).expand_as(ratio)
    clipped = torch.where(adv >= 0, torch.clamp(ratio, max=1 + clip_eps), torch.clamp(ratio, min=1 - clip_eps))
    terms = torch.where(mask > 0, clipped * adv, torch.zeros_like(ratio))
    if aggregation == "token":
        return -terms.sum() / mask.sum()
    if aggregation == "constant":
        return -terms.sum() / (mask.shape[0] * mask.shape[1])
    return -torch.stack([terms[i].sum() / mask[i].sum() for i in range(len(terms))]).mean()


def grpo_token_loss_weights(logp, logp_old, advantages, mask, clip_eps, aggregation):
    # one weight per token, then a single weighted sum
    n, T = mask.shape
    weights = {"sequence": mask / mask.sum(1, keepdim=True) / n, "token": mask / mask.sum(),
               "constant": mask / (n * T)}[aggregation]
    r = torch.exp(logp - logp_old.detach())
    a = advantages.detach()[:, None]
    return -(weights * torch.min(r * a, torch.clamp(r, 1 - clip_eps, 1 + clip_eps) * a)).sum()


def kl_shaped_rewards_loop(rewards, logp, logp_ref, mask, beta):
    out = torch.zeros(mask.shape)
    for i in range(mask.shape[0]):
        last = 0
        for t in range(mask.shape[1]):
            if mask[i, t] > 0:
                out[i, t] = -beta * (float(logp[i, t]) - float(logp_ref[i, t]))
                last = t
        out[i, last] += rewards[i]
    return out


def kl_shaped_rewards_onehot(rewards, logp, logp_ref, mask, beta):
    lengths = mask.sum(1).long()  # answers are a prefix of the columns here
    at_last = torch.nn.functional.one_hot(lengths - 1, mask.shape[1]).float()
    return beta * (logp_ref - logp).detach() * mask + rewards[:, None] * at_last


def bradley_terry_loss_softplus(r_chosen, r_rejected):
    # -log sigmoid(x) = log(1 + exp(-x)) = softplus(-x)
    return torch.nn.functional.softplus(r_rejected - r_chosen).mean()


def bradley_terry_loss_logsumexp(r_chosen, r_rejected):
    # -log(e^{r_c} / (e^{r_c} + e^{r_r})) = logsumexp(r_c, r_r) - r_c
    both = torch.stack([r_chosen, r_rejected], dim=1)
    return (torch.logsumexp(both, dim=1) - r_chosen).mean()


def dpo_loss_logsumexp(logp_chosen, logp_rejected, logp_ref_chosen, logp_ref_rejected, beta):
    # the two implicit rewards as a softmax over the pair
    rewards = beta * torch.stack([logp_chosen - logp_ref_chosen, logp_rejected - logp_ref_rejected], dim=1)
    return -torch.log_softmax(rewards, dim=1)[:, 0].mean()


def dpo_loss_ratios(logp_chosen, logp_rejected, logp_ref_chosen, logp_ref_rejected, beta):
    # policy log-odds of the pair minus the reference's
    margin = (logp_chosen - logp_rejected) - (logp_ref_chosen - logp_ref_rejected)
    return torch.nn.functional.softplus(-beta * margin).mean()


ALTERNATIVES = {
    "sequence_log_prob": [sequence_log_prob_loop, sequence_log_prob_cross_entropy],
    "answer_mask": [answer_mask_loop, answer_mask_cummax],
    "grpo_token_loss": [grpo_token_loss_where, grpo_token_loss_weights],
    "kl_shaped_rewards": [kl_shaped_rewards_onehot, kl_shaped_rewards_loop],
    "bradley_terry_loss": [bradley_terry_loss_softplus, bradley_terry_loss_logsumexp],
    "dpo_loss": [dpo_loss_logsumexp, dpo_loss_ratios],
}
