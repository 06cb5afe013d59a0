"""The REINFORCE iteration written once (chapter 02's loop item; the REINFORCE trainer runs it).

From a batch of whole episodes to one policy step:

    reward-to-go of every episode  ->  log-probabilities of the actions under the policy  ->
    the surrogate loss  ->  zero_grad, backward, step.
"""
from __future__ import annotations

from typing import Sequence

import torch

from course_utils.answers.policy_gradient import pg_loss
from course_utils.answers.returns import reward_to_go

__all__ = ["reinforce_step"]


def reinforce_step(policy, optimizer: torch.optim.Optimizer, episodes: Sequence, gamma: float) -> float:
    r"""One REINFORCE update: theta <- theta + step along (1/M) sum_i grad log pi(a_i|s_i) hat R_i.

    Every step t of every episode is weighted by its own reward-to-go, hat R_t = sum_{t' >= t}
    gamma^(t' - t) r_t', summed inside its episode only (the next episode starts afresh). The loss
    is the mean over all M steps of the batch of -log pi(a_t|s_t) hat R_t; one optimiser step
    follows, after the old gradients are cleared.

    Args:
        policy: ``policy.distribution(obs (M, obs_dim))`` is a torch distribution whose
            ``log_prob(actions (M,))`` is (M,) with gradient (the course's CategoricalPolicy).
        optimizer: over the policy's parameters (Adam or SGD); its ``.grad`` may hold gradients
            left by earlier code, which must not leak into this step.
        episodes: whole episodes, each with ``obs`` (T, obs_dim), ``actions`` (T,) and ``rewards``
            (T,) (the course's Episode records); T differs from episode to episode.
        gamma: discount factor in [0, 1] (0.99 for CartPole).

    Returns:
        The surrogate loss of the batch before the step, a float.
    """
    obs = torch.cat([ep.obs for ep in episodes])  # (M, obs_dim), episodes end to end
    actions = torch.cat([ep.actions for ep in episodes])  # (M,)
    weights = torch.cat([reward_to_go(ep.rewards, gamma) for ep in episodes]).float()  # (M,) one episode at a time
    logp = policy.distribution(obs).log_prob(actions)  # (M,) with gradient
    loss = pg_loss(logp, weights)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()
