"""Correct REINFORCE iterations (chapter 02's loop item) written differently from the answer
(course_utils.answers.reinforce_step): each must pass the check."""
from __future__ import annotations

import torch


def reinforce_step_per_episode(policy, optimizer, episodes, gamma):
    """A Python loop per episode: plain-list reward-to-go, log-probs per episode, the sum divided by M;
    policy.zero_grad() instead of the optimiser's, and a 0-d tensor returned instead of a float."""
    policy.zero_grad()
    total, steps = 0.0, 0
    for ep in episodes:
        running, weights = 0.0, []
        for r in reversed(ep.rewards.tolist()):
            running = r + gamma * running
            weights.append(running)
        weights = torch.tensor(weights[::-1])
        logp = policy.distribution(ep.obs).log_prob(ep.actions)
        total = total - (logp * weights).sum()
        steps += len(weights)
    loss = total / steps
    loss.backward()
    optimizer.step()
    return loss.detach()


def reinforce_step_discount_matrix(policy, optimizer, episodes, gamma):
    """Reward-to-go of each episode as one matrix product (upper-triangular discounts), log-probs
    from the logits by log_softmax and gather, zero_grad(set_to_none=False) after the previous step."""
    weights = []
    for ep in episodes:
        T = len(ep.rewards)
        t = torch.arange(T, dtype=torch.float64)
        power = (t[None, :] - t[:, None]).clamp(min=0)
        discounts = torch.where(t[None, :] >= t[:, None], gamma ** power, torch.zeros(()))  # [t, t']
        weights.append((discounts @ ep.rewards.double()).float())
    obs = torch.cat([ep.obs for ep in episodes])
    actions = torch.cat([ep.actions for ep in episodes])
    logp = torch.log_softmax(policy.logits_net(obs), dim=-1).gather(1, actions[:, None]).squeeze(1)
    loss = -(logp * torch.cat(weights)).mean()
    optimizer.zero_grad(set_to_none=False)
    loss.backward()
    optimizer.step()
    return loss.item()


ALTERNATIVES = {"reinforce_step": [reinforce_step_per_episode, reinforce_step_discount_matrix]}  # exercise id -> alternatives
