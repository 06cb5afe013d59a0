"""A2C written once (chapter 04's loop items; the A2C trainer runs them).

Two loops, one iteration of A2C between them:

    a2c_rollout: T steps of N environments  ->  what each step stores, and the critic's values
                 (of every stored observation, of the observation after the rollout, and of the
                 last observation of every episode the time limit cut)
    a2c_update:  n-step returns and advantages  ->  the A2C loss  ->  zero_grad, backward,
                 gradient clipping, one optimiser step.

The vector environment resets a finished sub-environment on the same step (Gymnasium 1.x's
``AutoresetMode.SAME_STEP``, the course's ``make_vector_env``): the observation a step returns
for a finished episode is already the first one of the next episode, and the episode's last
observation is in ``info["final_obs"][i]``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor

from course_utils.answers.policy_gradient import a2c_loss as course_a2c_loss
from course_utils.answers.returns import bootstrapped_returns

__all__ = ["a2c_rollout", "a2c_update", "n_step_targets", "clip_grad_norm"]


def a2c_rollout(envs, obs: Tensor, act: Callable, value: Callable, num_steps: int) -> dict[str, Tensor]:
    r"""Play T = ``num_steps`` steps in each of the N environments of ``envs`` and store them.

    Step t stores the observation s_t the action was chosen in (not the one the step returned),
    a_t and log pi(a_t|s_t) from ``act``, the reward r_t, and the two ways the episode can end:
    ``terminated`` (a terminal state: nothing is bootstrapped) and ``truncated`` (the time limit
    cut a running episode, and it did not also terminate). The values come from ``value``:
    V(s_t) of every stored observation, V(s_T) of the observation after the rollout
    (``last_value``), and, at each truncated step, V of the episode's FINAL observation, read from
    ``info["final_obs"]`` (the observation the step returned is already the next episode's
    first). The policy does not change during a rollout, so one call of the critic after the loop
    gives them all.

    Args:
        envs: a Gymnasium vector environment with same-step autoreset, N = ``envs.num_envs``,
            already reset; the rollout steps it T times.
        obs: (N, obs_dim) float32, the observation each environment is in now.
        act: ``act(obs (N, obs_dim)) -> (actions (N,) int64, logp (N,))``, the policy's choice.
        value: ``value(obs (B, obs_dim)) -> (B,)``, the critic V(s), any batch size B.
        num_steps: T, steps per environment (5 for A2C).

    Returns:
        A dict of tensors: ``obs`` (T, N, obs_dim), ``actions`` (T, N) int64, ``logp``,
        ``values``, ``rewards``, ``terminated``, ``truncated`` (1.0 or 0.0) and
        ``truncation_values`` (V(final observation) where truncated, else 0), all (T, N);
        ``last_value`` (N,), V(s_T); ``next_obs`` (N, obs_dim), s_T, where the next rollout starts.
    """
    T, N = num_steps, envs.num_envs
    obs = torch.as_tensor(obs, dtype=torch.float32)
    observations, actions, logps = [], [], []  # per step: s_t (the observation a_t was chosen in), a_t, log pi
    rewards, terminations, truncations = [], [], []  # per step, as the environment returns them
    cut_steps, cut_envs, cut_obs = [], [], []  # where the time limit cut an episode, and its last observation
    for t in range(T):
        action, logp = act(obs)
        next_obs, reward, terminated, truncated, info = envs.step(action.numpy())
        truncated = truncated & ~terminated  # both at once: the state is terminal, nothing to bootstrap
        observations.append(obs), actions.append(action), logps.append(logp)
        rewards.append(reward), terminations.append(terminated), truncations.append(truncated)
        for i in np.flatnonzero(truncated) if truncated.any() else ():
            cut_steps.append(t), cut_envs.append(i), cut_obs.append(info["final_obs"][i])
        obs = torch.as_tensor(next_obs, dtype=torch.float32)  # already the next episode's first where one ended

    def stacked(arrays: list) -> Tensor:  # T arrays of shape (N,) -> (T, N) float32
        return torch.as_tensor(np.stack(arrays), dtype=torch.float32)

    rollout = {"obs": torch.stack(observations), "actions": torch.stack(actions), "logp": torch.stack(logps),
               "rewards": stacked(rewards), "terminated": stacked(terminations), "truncated": stacked(truncations)}

    # the critic, once, on s_0 ... s_{T-1}, then s_T, then the final observations of truncated episodes
    batch = [rollout["obs"].reshape(T * N, -1), obs]
    if cut_obs:
        batch.append(torch.as_tensor(np.stack(cut_obs), dtype=torch.float32))
    with torch.no_grad():
        all_values = value(torch.cat(batch))
    rollout["values"] = all_values[: T * N].reshape(T, N)
    rollout["truncation_values"] = torch.zeros((T, N))  # V(final observation) where truncated, else 0
    if cut_obs:
        rollout["truncation_values"][cut_steps, cut_envs] = all_values[T * N + N:]
    rollout["last_value"], rollout["next_obs"] = all_values[T * N: T * N + N], obs
    return rollout


def n_step_targets(rewards: Tensor, values: Tensor, dones: Tensor, last_value: Tensor,
                   gamma: float) -> tuple[Tensor, Tensor]:
    """A2C's estimates: hat R_t = G_t, the n-step return to the rollout's end, and A_t = G_t - V(s_t).

    rewards already carry gamma V(final observation) at truncated steps; dones mark every episode
    end. All (T, N); returns (advantages, returns), constants.
    """
    returns = bootstrapped_returns(rewards, dones, last_value, gamma)
    return returns - values, returns


def a2c_update(agent, optimizer: torch.optim.Optimizer, rollout: dict[str, Tensor], gamma: float,
               value_coef: float, entropy_coef: float, max_grad_norm: float | None, *,
               targets: Callable | None = None, a2c_loss: Callable | None = None,
               normalize_advantages: bool = False) -> dict[str, float]:
    r"""One A2C update from a stored rollout: L = -mean(log pi A) + c_v mean((V - hat R)^2) - c_H mean(H).

    1. Where the time limit cut an episode, its reward gets gamma V(final observation): the episode
       would have gone on. Then every episode end (terminated or truncated) stops the return.
    2. hat R_t = G_t, bootstrapped with V(s_T) at the rollout's end; A_t = G_t - V(s_t) with the
       stored values: both are constants of the loss.
    3. One forward pass with gradient on the stored observations gives log pi(a_t|s_t), V(s_t) and
       the entropy; the loss of chapter 04 (``a2c_loss``).
    4. Clear the old gradients, backpropagate, clip the global gradient norm to ``max_grad_norm``,
       one optimiser step.

    Args:
        agent: ``agent(obs (B, obs_dim)) -> (logits (B, n_actions), values (B,))``, with gradient.
        optimizer: over the agent's parameters; their ``.grad`` may hold old gradients.
        rollout: what :func:`a2c_rollout` returns (``obs``, ``actions``, ``values``, ``rewards``,
            ``terminated``, ``truncated``, ``truncation_values``, ``last_value``).
        gamma: discount factor (0.99); value_coef: c_v (0.5); entropy_coef: c_H (0 to 0.01);
        max_grad_norm: the global gradient norm's limit (0.5); None: no clipping.
        targets, a2c_loss, normalize_advantages: the trainer's options (other advantage estimators,
            the learner's loss, standardised advantages); None: A2C's n-step targets and the
            course's a2c_loss, as in the exercise.

    Returns:
        ``{"policy_loss": -mean(logp A), "value_loss": mean((V - hat R)^2)}``, floats, before the step.
    """
    targets, a2c_loss = targets or n_step_targets, a2c_loss or course_a2c_loss
    T, N = rollout["rewards"].shape
    rewards = rollout["rewards"] + gamma * rollout["truncation_values"]  # bootstrap where the time limit cut
    dones = torch.maximum(rollout["terminated"], rollout["truncated"])  # nothing flows across an episode end
    advantages, returns = targets(rewards, rollout["values"], dones, rollout["last_value"], gamma)
    advantages, returns = advantages.reshape(-1).float(), returns.reshape(-1).float()  # (M,), M = T N
    if normalize_advantages:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

    logits, values = agent(rollout["obs"].reshape(T * N, -1))  # with gradient
    logp_all = torch.log_softmax(logits, dim=-1)
    logp = logp_all.gather(-1, rollout["actions"].reshape(-1, 1)).squeeze(-1)  # log pi(a_t|s_t), (M,)
    with torch.set_grad_enabled(entropy_coef != 0):  # without a bonus, no gradient to trace
        entropy = -(logp_all.exp() * logp_all).sum(-1)  # H[pi(.|s_t)], (M,)
    loss = a2c_loss(logp, values, advantages, returns, entropy, value_coef, entropy_coef)

    optimizer.zero_grad()
    loss.backward()
    if max_grad_norm is not None:
        clip_grad_norm([p for group in optimizer.param_groups for p in group["params"]], max_grad_norm)
    optimizer.step()
    return {"policy_loss": -(logp.detach() * advantages).mean().item(),
            "value_loss": ((values.detach() - returns) ** 2).mean().item()}


def clip_grad_norm(parameters, max_norm: float) -> None:
    """Scale all gradients together so that their global L2 norm is at most ``max_norm``: what
    ``torch.nn.utils.clip_grad_norm_(parameters, max_norm)`` does, in three operations (about a third of
    its overhead at A2C's size, where each update is a few milliseconds)."""
    grads = [p.grad for p in parameters if p.grad is not None]
    norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))  # sqrt(sum of squares), all at once
    torch._foreach_mul_(grads, torch.clamp(max_norm / (norm + 1e-6), max=1.0))
