"""Correct GRPO updates (chapter 09's loop item) written differently from the answer
(course_utils.answers.grpo_update): each must pass the check."""
from __future__ import annotations

import torch


def grpo_update_per_group(policy, reference, optimizer, prompts, answers, rewards, group_size, minibatches,
                          clip_eps, beta):
    """Advantages group by group in a Python loop; log-probs of the whole batch indexed per minibatch;
    the loss written out (clipped surrogate plus the k3 KL) instead of calling grpo_loss."""
    n, L = answers.shape
    per_answer = torch.empty(n)
    for start in range(0, n, group_size):
        group = rewards[start:start + group_size]
        per_answer[start:start + group_size] = (group - group.mean()) / (group.std() + 1e-8)
    advantages = per_answer[:, None].repeat(1, L)
    logp_old = policy.log_prob(prompts, answers).detach()
    logp_ref = reference.log_prob(prompts, answers).detach()
    loss = None
    for epoch in minibatches:
        for rows in epoch:
            logp = policy.log_prob(prompts, answers)[rows]
            ratio = torch.exp(logp - logp_old[rows])
            adv = advantages[rows]
            surrogate = torch.min(ratio * adv, torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * adv).mean()
            log_rho = logp_ref[rows] - logp
            kl = (torch.exp(log_rho) - log_rho - 1).mean()
            loss = -surrogate + beta * kl
            policy.zero_grad()
            loss.backward()
            optimizer.step()
    return loss.item()


def grpo_update_views(policy, reference, optimizer, prompts, answers, rewards, group_size, minibatches,
                      clip_eps, beta):
    """Advantages through a (B, G, 1) view broadcast to (B, G, L); gradients cleared after each step
    (and once before the first) with set_to_none=False; the loss returned as a 0-d tensor."""
    from course_utils.answers import grpo_loss  # the learner's own function in a workbook

    n, L = answers.shape
    table = rewards.view(-1, group_size)
    advantages = ((table - table.mean(1, keepdim=True)) / (table.std(1, keepdim=True) + 1e-8))
    advantages = advantages.unsqueeze(-1).expand(-1, -1, L).reshape(n, L)
    with torch.no_grad():
        stored = torch.stack([policy.log_prob(prompts, answers), reference.log_prob(prompts, answers)])
    optimizer.zero_grad(set_to_none=False)
    for epoch in minibatches:
        for rows in epoch:
            loss = grpo_loss(policy.log_prob(prompts[rows], answers[rows]).flatten(), stored[0, rows].flatten(),
                             stored[1, rows].flatten(), advantages[rows].flatten(), clip_eps, beta)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=False)
    return loss.detach()


ALTERNATIVES = {"grpo_update": [grpo_update_per_group, grpo_update_views]}  # exercise id -> alternatives
