"""The pieces of PPO that are not the training loop (chapter 08): the reference answers of the
exercises, running normalisation statistics, a cheap global gradient-norm clip, and greedy
evaluation. :mod:`course_utils.trainers.ppo` imports them; they live here to keep that file a
single readable page.
"""
from __future__ import annotations


import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

__all__ = ["ppo_clip_loss", "approx_kl", "clipped_value_loss", "adaptive_kl_beta", "RunningMeanStd",
           "clip_grad_norm", "evaluate_policy", "make_envs"]


# ----------------------------------------------------------------------------- reference math
def ppo_clip_loss(logp: Tensor, logp_old: Tensor, advantages: Tensor, clip_eps: float) -> Tensor:
    """L = -mean(min(r A, clip(r, 1 - eps, 1 + eps) A)), r = exp(logp - logp_old); all (M,) -> ()."""
    ratio = torch.exp(logp - logp_old.detach())
    advantages = advantages.detach()
    clipped = torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    return -torch.min(ratio * advantages, clipped * advantages).mean()


def approx_kl(logp: Tensor, logp_old: Tensor) -> Tensor:
    """KL(pi_old || pi) ~ mean((r - 1) - log r) over actions drawn from pi_old (>= 0, low variance)."""
    log_ratio = logp - logp_old.detach()
    return (torch.exp(log_ratio) - 1.0 - log_ratio).mean()


def clipped_value_loss(values: Tensor, values_old: Tensor, returns: Tensor, clip_eps: float) -> Tensor:
    """mean(max((V - R)^2, (V_old + clip(V - V_old, -eps, eps) - R)^2)): V may not move far from V_old."""
    values_old, returns = values_old.detach(), returns.detach()
    clipped = values_old + torch.clamp(values - values_old, -clip_eps, clip_eps)
    return torch.max((values - returns) ** 2, (clipped - returns) ** 2).mean()


def adaptive_kl_beta(beta: float, kl: float, target_kl: float) -> float:
    """PPO-penalty's dual step: beta * 2 if kl > 1.5 target, beta / 2 if kl < target / 1.5, else beta."""
    if kl > 1.5 * target_kl:
        return float(beta * 2.0)
    if kl < target_kl / 1.5:
        return float(beta / 2.0)
    return float(beta)


# ----------------------------------------------------------------------------- helpers
class RunningMeanStd:
    """Mean and variance of a stream of arrays (batch-merged Welford), for normalisation."""

    def __init__(self, shape: tuple[int, ...] = ()) -> None:
        self.mean, self.var, self.count = np.zeros(shape), np.ones(shape), 1e-4

    def update(self, x: np.ndarray) -> None:
        batch_mean, batch_var, n = x.mean(0), x.var(0), x.shape[0]
        delta, total = batch_mean - self.mean, self.count + n
        self.mean = self.mean + delta * n / total
        self.var = (self.var * self.count + batch_var * n + delta**2 * self.count * n / total) / total
        self.count = total


def clip_grad_norm(params: list[Tensor], max_norm: float) -> None:
    """Rescale all gradients together so that their global L2 norm is at most ``max_norm``
    (what nn.utils.clip_grad_norm_ does, with ~3x less overhead for a dozen small tensors)."""
    grads = [p.grad for p in params if p.grad is not None]
    norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    torch._foreach_mul_(grads, torch.clamp(max_norm / (norm + 1e-6), max=1.0))


def evaluate_policy(agent, env_id: str, episodes: int = 10, seed: int = 10_000,
                    deterministic: bool = True) -> list[float]:
    """Undiscounted returns of ``episodes`` episodes played by ``agent`` (greedy by default, as SB3)."""
    env = gym.make(env_id)
    returns = []
    for episode in range(episodes):
        raw, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            noise = torch.randn(1, env.action_space.shape[0]) if agent.continuous else torch.empty(
                1, agent.act_dim).exponential_()
            action = agent.act(agent.normalize(raw[None]), noise, deterministic)[0].numpy()
            if agent.continuous:
                action = np.clip(action, env.action_space.low, env.action_space.high)
            raw, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return returns


def make_envs(env_id: str, num_envs: int) -> gym.vector.VectorEnv:
    """NumPy-vectorised env when Gymnasium has one (CartPole), else SyncVectorEnv; next-step autoreset."""
    try:
        return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
    except gym.error.Error:
        return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync")
