"""Answers of chapter 00 (set-up): an episode's rewards and their sum.

``run_episode`` is Gymnasium's 5-tuple loop: it stops when the episode is terminated *or*
truncated (a time limit), and ``undiscounted_return`` is CartPole's score.
"""
from __future__ import annotations

import gymnasium as gym
import torch

__all__ = ["undiscounted_return", "run_episode"]


def undiscounted_return(rewards: torch.Tensor) -> torch.Tensor:
    """R(tau) = sum_t r_t; rewards (T,) -> () tensor."""
    return rewards.sum()


def run_episode(env: gym.Env, policy, seed: int) -> torch.Tensor:
    """Roll out one episode: reset(seed), act with policy(obs) until terminated OR truncated.

    Returns the rewards r_0 ... r_{T-1} as a float32 tensor of shape (T,).
    """
    obs, info = env.reset(seed=seed)
    rewards = []
    while True:
        action = policy(obs)
        obs, reward, terminated, truncated, info = env.step(action)
        rewards.append(float(reward))
        if terminated or truncated:
            return torch.tensor(rewards, dtype=torch.float32)
