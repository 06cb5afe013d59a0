"""Correct loops of chapter 04 written differently from the answers (course_utils/answers/a2c_loop.py): the
critic called at every step instead of once, preallocated storage instead of lists, a per-environment
inner loop, another container for the result; the update with the targets in a loop of its own, the
values recomputed, torch's own clipping, another order of the optimiser's calls that means the same."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from course_utils.answers import a2c_loss, bootstrapped_returns


# ---------------------------------------------------------------- a2c_rollout
def a2c_rollout_per_step_critic(envs, obs, act, value, num_steps):
    """CleanRL's layout: (T, N) tensors preallocated, V(s_t) at every step, V(final obs) when a step is cut."""
    T, N = num_steps, envs.num_envs
    obs = torch.as_tensor(obs, dtype=torch.float32)
    storage = {"obs": torch.zeros((T, N, obs.shape[-1])), "actions": torch.zeros((T, N), dtype=torch.long)}
    for key in ("logp", "values", "rewards", "terminated", "truncated", "truncation_values"):
        storage[key] = torch.zeros((T, N))
    for t in range(T):
        with torch.no_grad():
            actions, logp = act(obs)
            values = value(obs)
        next_obs, reward, terminated, truncated, info = envs.step(actions.numpy())
        storage["obs"][t], storage["actions"][t], storage["logp"][t], storage["values"][t] = obs, actions, logp, values
        storage["rewards"][t] = torch.as_tensor(reward)
        storage["terminated"][t] = torch.as_tensor(terminated, dtype=torch.float32)
        storage["truncated"][t] = torch.as_tensor(truncated & ~terminated, dtype=torch.float32)
        for i in range(N):
            if truncated[i] and not terminated[i]:
                final = torch.as_tensor(info["final_obs"][i], dtype=torch.float32)
                storage["truncation_values"][t, i] = value(final.unsqueeze(0))[0]
        obs = torch.as_tensor(next_obs, dtype=torch.float32)
    storage["last_value"], storage["next_obs"] = value(obs).detach(), obs
    return storage


def a2c_rollout_numpy_namespace(envs, obs, act, value, num_steps):
    """NumPy storage, Gymnasium's raw truncated flag (a step both terminated and truncated keeps both flags
    and no bootstrap), lists of per-step arrays, the result as an object with attributes."""
    T, N = num_steps, envs.num_envs
    current = np.asarray(obs, dtype=np.float32)
    out = SimpleNamespace(obs=[], actions=[], logp=[], values=[], rewards=[], terminated=[], truncated=[],
                          truncation_values=[])
    for _ in range(T):
        actions, logp = act(torch.from_numpy(current))
        next_obs, reward, terminated, truncated, info = envs.step(np.asarray(actions))
        boot = np.zeros(N, dtype=np.float32)
        cut = np.flatnonzero(truncated & ~terminated)
        if len(cut):
            finals = np.stack([info["final_obs"][i] for i in cut]).astype(np.float32)
            boot[cut] = value(torch.from_numpy(finals)).detach().numpy()
        out.obs.append(current.copy()), out.actions.append(np.asarray(actions)), out.logp.append(np.asarray(logp))
        out.values.append(value(torch.from_numpy(current)).detach().numpy())
        out.rewards.append(np.asarray(reward, dtype=np.float32)), out.terminated.append(terminated.astype(np.float32))
        out.truncated.append(truncated.astype(np.float32)), out.truncation_values.append(boot)
        current = np.asarray(next_obs, dtype=np.float32)
    out.last_value = value(torch.from_numpy(current)).detach().numpy()
    out.next_obs = current
    return out


# ---------------------------------------------------------------- a2c_update
def a2c_update_values_recomputed(agent, optimizer, rollout, gamma, value_coef, entropy_coef, max_grad_norm):
    """The returns in a loop of its own, advantages from the fresh forward pass (detached), torch's
    distributions and clip_grad_norm_; gradients cleared after the step (and before the backward)."""
    T, N = rollout["rewards"].shape
    logits, values = agent(rollout["obs"].reshape(T * N, -1))
    dist = torch.distributions.Categorical(logits=logits)
    logp, entropy = dist.log_prob(rollout["actions"].reshape(-1)), dist.entropy()
    returns = torch.zeros(T, N)
    future = rollout["last_value"].clone()
    for t in reversed(range(T)):
        ended = torch.clamp(rollout["terminated"][t] + rollout["truncated"][t], max=1.0)
        reward = rollout["rewards"][t] + gamma * rollout["truncation_values"][t]
        future = reward + gamma * (1.0 - ended) * future
        returns[t] = future
    returns = returns.reshape(-1)
    advantages = returns - values.detach()
    loss = a2c_loss(logp, values, advantages, returns, entropy, value_coef, entropy_coef)
    agent.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm)
    optimizer.step()
    optimizer.zero_grad()
    return {"policy_loss": float(-(logp.detach() * advantages).mean()),
            "value_loss": torch.mean((values.detach() - returns) ** 2)}


def a2c_update_env_major(agent, optimizer, rollout, gamma, value_coef, entropy_coef, max_grad_norm):
    """Environment-major flattening (each env's steps together), the spine's bootstrapped_returns on the
    truncation-augmented rewards, the loss written out, the global norm clipped by hand."""
    rewards = rollout["rewards"] + gamma * rollout["truncation_values"]
    dones = ((rollout["terminated"] + rollout["truncated"]) > 0).float()
    returns = bootstrapped_returns(rewards, dones, rollout["last_value"], gamma).T.reshape(-1)
    advantages = returns - rollout["values"].T.reshape(-1)
    obs = rollout["obs"].transpose(0, 1).reshape(-1, rollout["obs"].shape[-1])
    logits, values = agent(obs)
    log_probs = torch.log_softmax(logits, -1)
    logp = log_probs[torch.arange(len(obs)), rollout["actions"].T.reshape(-1)]
    entropy = -(log_probs.exp() * log_probs).sum(-1)
    policy_loss = -(logp * advantages).mean()
    value_loss = ((values - returns) ** 2).mean()
    optimizer.zero_grad()
    (policy_loss + value_coef * value_loss - entropy_coef * entropy.mean()).backward()
    params = [p for p in agent.parameters() if p.grad is not None]
    norm = torch.sqrt(sum((p.grad ** 2).sum() for p in params))
    for p in params:
        p.grad.mul_(min(1.0, max_grad_norm / (float(norm) + 1e-6)))
    optimizer.step()
    return {"policy_loss": policy_loss.item(), "value_loss": value_loss.item()}


ROLLOUT_ALTERNATIVES = [a2c_rollout_per_step_critic, a2c_rollout_numpy_namespace]
UPDATE_ALTERNATIVES = [a2c_update_values_recomputed, a2c_update_env_major]
ALTERNATIVES = {"a2c_rollout": ROLLOUT_ALTERNATIVES, "a2c_update": UPDATE_ALTERNATIVES}
