"""PPO's algorithm (chapter 08), written once: the update over epochs and minibatches, and a whole
PPO (rollout, GAE, update) for a vector environment. The trainer (course_utils/trainers/ppo.py)
calls :func:`ppo_update`; the workbook's capstone is :func:`ppo_capstone`.

The agent both take is any module with three methods (CleanRL's agent, split in three):

    agent.act(obs (N, D))                -> actions (N,), sampled (the caller decides how)
    agent.value(obs (N, D))              -> V(s) (N,)
    agent.evaluate(obs (B, D), actions)  -> (log pi(a|s) (B,), V(s) (B,), entropy of pi(.|s) (B,))

Nothing here draws a random number: sampling is ``agent.act``'s, and the minibatches are handed in.
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from course_utils.answers.advantages import gae
from course_utils.answers.surrogates import approx_kl, ppo_clip_loss

__all__ = ["ppo_update", "ppo_capstone"]


def ppo_update(agent: nn.Module, optimizer: torch.optim.Optimizer, obs: Tensor, actions: Tensor, logp_old: Tensor,
               advantages: Tensor, returns: Tensor, minibatches: Iterable[Sequence[Tensor]], clip_eps: float,
               value_coef: float, ent_coef: float, max_grad_norm: Optional[float], target_kl: Optional[float], *,
               policy_loss: Optional[Callable] = None, values_old: Optional[Tensor] = None,
               value_loss: Optional[Callable] = None, norm_adv: bool = True) -> dict:
    """PPO's update: K epochs over the batch, one gradient step per minibatch, on

        L = L^CLIP(theta) + c_V mean (V(s) - hat R)^2 - c_H mean H[pi(.|s)],

    with the ratio taken against the log-probabilities STORED when the batch was collected.

    obs (M, D), actions (M,), logp_old (M,), advantages (M,), returns (M,): the flattened batch.
    minibatches: one entry per epoch, each a list of index tensors into the batch (the caller
        shuffles); an epoch is one pass over its list.
    clip_eps: epsilon of the clipped surrogate; value_coef c_V; ent_coef c_H (0: no bonus).
    max_grad_norm: clip the global gradient norm before each step (None: no clipping).
    target_kl: after each epoch, stop if approx-KL(pi_old || pi) over the whole batch exceeds
        1.5 * target_kl (None: never stop early).
    Returns {"epochs": epochs run, "policy_loss": ..., "value_loss": ... of the last minibatch}.

    Keyword-only hooks for the trainer's switches (the workbook's item uses none of them):
    ``policy_loss(logp, logp_old, advantages, clip_eps)`` (None: the clipped loss; a learner's, or
    PPO-penalty's), ``value_loss(values, values_old, returns)`` with ``values_old`` (M,) (value
    clipping), ``norm_adv`` (standardise each minibatch's advantages).
    """
    policy_loss = ppo_clip_loss if policy_loss is None else policy_loss
    epochs = 0
    for epoch_minibatches in minibatches:
        epochs += 1
        for idx in epoch_minibatches:
            logp, values, entropy = agent.evaluate(obs[idx], actions[idx])
            adv = advantages[idx]
            if norm_adv and len(adv) > 1:  # each minibatch standardised on its own
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            pi_loss = policy_loss(logp, logp_old[idx], adv, clip_eps)
            if value_loss is None:
                v_loss = ((values - returns[idx]) ** 2).mean()
            else:
                v_loss = value_loss(values, values_old[idx], returns[idx])
            loss = pi_loss + value_coef * v_loss
            if ent_coef:
                loss = loss - ent_coef * entropy.mean()
            optimizer.zero_grad()
            loss.backward()
            if max_grad_norm is not None:
                nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm)
            optimizer.step()
        if target_kl is not None:  # how far has the policy moved from the one that collected the batch?
            with torch.no_grad():
                kl = float(approx_kl(agent.evaluate(obs, actions)[0], logp_old))
            if kl > 1.5 * target_kl:
                break
    return {"epochs": epochs, "policy_loss": pi_loss.item(), "value_loss": v_loss.item()}


def ppo_capstone(envs, agent: nn.Module, optimizer: torch.optim.Optimizer, iterations: int, num_steps: int,
              gamma: float, lam: float, clip_eps: float, minibatches: Callable[[int], Iterable[Sequence[Tensor]]],
              value_coef: float, ent_coef: float, max_grad_norm: Optional[float], target_kl: Optional[float],
              seed: int) -> dict:
    """A whole PPO: ``iterations`` times, a rollout of ``num_steps`` steps of the N environments,
    GAE, then :func:`ppo_update`.

    envs: a Gymnasium vector environment with SAME-STEP autoreset (an ended episode's last
        observation is in info["final_obs"][i]); reset once, with ``seed``, before the first rollout.
    minibatches(M) -> the minibatch index lists of one update (per epoch, a list of index tensors
        into the batch of M = T * N transitions, flattened time-major: row t * N + n).
    A truncated episode's missing future is bootstrapped: gamma V(final obs) is added to its last
    reward, and its end cuts GAE as a termination does.
    Returns {"advantages": (T, N), "returns": (T, N) of the last rollout, "episode_returns": the
    undiscounted returns of the episodes that ended, in order (by step, then env),
    "episode_end_steps": the environment steps (all envs together) collected when each ended}.
    """
    T, N = num_steps, envs.num_envs
    next_obs = torch.as_tensor(envs.reset(seed=seed)[0], dtype=torch.float32)
    running, episode_returns, episode_end_steps, steps = np.zeros(N), [], [], 0
    for _ in range(iterations):
        # ---- rollout: store s_t, a_t, log pi_old(a_t|s_t), V(s_t), r_t and whether the episode ended
        obs = torch.zeros((T, N) + next_obs.shape[1:])
        actions = torch.zeros((T, N), dtype=torch.long)
        logp_old, values, rewards, dones = (torch.zeros(T, N) for _ in range(4))
        for t in range(T):
            obs[t] = next_obs
            with torch.no_grad():
                actions[t] = agent.act(next_obs)
                logp_old[t], values[t], _ = agent.evaluate(next_obs, actions[t])
            raw_obs, reward, terminated, truncated, info = envs.step(actions[t].numpy())
            rewards[t] = torch.as_tensor(reward, dtype=torch.float32)
            truncated = truncated & ~terminated
            if truncated.any():  # bootstrap from the ended episode's last observation, not the reset one
                final = torch.as_tensor(np.stack(info["final_obs"][truncated]), dtype=torch.float32)
                with torch.no_grad():
                    rewards[t, torch.as_tensor(truncated)] += gamma * agent.value(final)
            dones[t] = torch.as_tensor(terminated | truncated, dtype=torch.float32)
            next_obs = torch.as_tensor(raw_obs, dtype=torch.float32)
            steps += N
            running += reward
            for i in np.flatnonzero(terminated | truncated):
                episode_returns.append(float(running[i]))
                episode_end_steps.append(steps)
                running[i] = 0.0
        # ---- advantages
        with torch.no_grad():
            last_value = agent.value(next_obs)
        advantages = gae(rewards, values, dones, last_value, gamma, lam)
        returns = advantages + values
        # ---- update on the flattened batch
        ppo_update(agent, optimizer, obs.reshape(T * N, -1), actions.reshape(-1), logp_old.reshape(-1),
                   advantages.reshape(-1), returns.reshape(-1), minibatches(T * N), clip_eps, value_coef, ent_coef,
                   max_grad_norm, target_kl)
    return {"advantages": advantages, "returns": returns, "episode_returns": episode_returns,
            "episode_end_steps": episode_end_steps}
