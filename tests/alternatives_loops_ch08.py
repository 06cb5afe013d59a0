"""Correct loops of chapter 08 written differently from the answers (course_utils/answers/ppo_loop.py):
another order of operations, another storage layout, a per-environment rollout."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


# ---------------------------------------------------------------- ppo_update
def ppo_update_zero_after_step(agent, optimizer, obs, actions, logp_old, advantages, returns, minibatches, clip_eps,
                               value_coef, ent_coef, max_grad_norm, target_kl):
    """Gradients cleared once before and after every step; the clipped term written as a case
    analysis; the global norm clipped by hand; an epoch counter from enumerate."""
    optimizer.zero_grad()
    params = [p for group in optimizer.param_groups for p in group["params"]]
    epochs = 0
    for epochs, epoch_minibatches in enumerate(minibatches, start=1):
        for idx in epoch_minibatches:
            idx = torch.as_tensor(idx)
            logp, values, entropy = agent.evaluate(obs[idx], actions[idx])
            std, mean = torch.std_mean(advantages[idx])
            adv = (advantages[idx] - mean) / (std + 1e-8)
            ratio = torch.exp(logp) / torch.exp(logp_old[idx])
            surrogate = torch.where(adv >= 0, torch.minimum(ratio, torch.tensor(1 + clip_eps)),
                                    torch.maximum(ratio, torch.tensor(1 - clip_eps))) * adv
            policy_loss = -surrogate.mean()
            value_loss = nn.functional.mse_loss(values, returns[idx])
            (policy_loss + value_coef * value_loss - ent_coef * entropy.mean()).backward()
            if max_grad_norm is not None:
                norm = torch.sqrt(sum((p.grad ** 2).sum() for p in params if p.grad is not None))
                scale = min(1.0, max_grad_norm / (float(norm) + 1e-6))
                for p in params:
                    if p.grad is not None:
                        p.grad.mul_(scale)
            optimizer.step()
            optimizer.zero_grad()
        if target_kl is not None:
            with torch.no_grad():
                log_ratio = agent.evaluate(obs, actions)[0] - logp_old
                if (torch.expm1(log_ratio) - log_ratio).mean() > 1.5 * target_kl:
                    break
    return {"epochs": torch.tensor(epochs), "policy_loss": policy_loss.detach(), "value_loss": value_loss.item()}


def ppo_update_batch_dict(agent, optimizer, obs, actions, logp_old, advantages, returns, minibatches, clip_eps,
                          value_coef, ent_coef, max_grad_norm, target_kl):
    """The batch gathered into a dict first, a while loop over epochs, the stop decided by a flag, a
    namespace returned instead of a dict."""
    from types import SimpleNamespace

    batch = {"obs": obs, "actions": actions, "logp_old": logp_old, "adv": advantages, "ret": returns}
    epochs_list, k, stop = list(minibatches), 0, False
    while k < len(epochs_list) and not stop:
        for idx in epochs_list[k]:
            mb = {key: value[idx] for key, value in batch.items()}
            logp, values, entropy = agent.evaluate(mb["obs"], mb["actions"])
            adv = (mb["adv"] - mb["adv"].mean()) / (mb["adv"].std() + 1e-8)
            ratio = (logp - mb["logp_old"]).exp()
            pg = -torch.min(ratio * adv, ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv).mean()
            vf = ((mb["ret"] - values) ** 2).mean()
            loss = pg - ent_coef * entropy.mean() + value_coef * vf
            optimizer.zero_grad(set_to_none=False)
            loss.backward()
            if max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm)
            optimizer.step()
        k += 1
        if target_kl is not None:
            with torch.no_grad():
                r = torch.exp(agent.evaluate(obs, actions)[0] - logp_old)
                stop = float(((r - 1) - torch.log(r)).mean()) > 1.5 * target_kl
    return SimpleNamespace(epochs=k, policy_loss=pg.item(), value_loss=vf.item())


# ---------------------------------------------------------------- ppo_capstone
def _gae_by_td(rewards, values, next_values, terminated_or_cut, gamma, lam):
    """GAE written with next values and a continuation mask, backwards over a (T, N) rollout."""
    T = len(rewards)
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in reversed(range(T)):
        keep = 1.0 - terminated_or_cut[t]
        delta = rewards[t] + gamma * keep * next_values[t] - values[t]
        running = delta + gamma * lam * keep * running
        advantages[t] = running
    return advantages


def ppo_capstone_per_env(envs, agent, optimizer, iterations, num_steps, gamma, lam, clip_eps, minibatches,
                         value_coef, ent_coef, max_grad_norm, target_kl, seed):
    """The rollout acts on each environment in turn and keeps Python lists per environment (an (N, T)
    layout), values and log-probs come from one batched pass after the rollout, the truncation
    bootstrap is a separate next-value array, GAE is written with td residuals, and the advantages
    are returned env-major (N, T)."""
    from tests.alternatives_loops_ch08 import ppo_update_zero_after_step

    N, T = envs.num_envs, num_steps
    current, _ = envs.reset(seed=seed)
    ep_return, finished, ended_at, steps = [0.0] * N, [], [], 0
    for _ in range(iterations):
        states = [[] for _ in range(N)]
        acts = [[] for _ in range(N)]
        rews = [[] for _ in range(N)]
        ends = [[] for _ in range(N)]
        cut_obs = {}  # (n, t) -> last observation of a truncated episode
        for t in range(T):
            chosen = []
            for n in range(N):
                a = int(agent.act(torch.as_tensor(current[n : n + 1], dtype=torch.float32))[0])
                states[n].append(np.array(current[n], dtype=np.float32))
                acts[n].append(a)
                chosen.append(a)
            nxt, reward, terminated, truncated, info = envs.step(np.array(chosen))
            for n in range(N):
                rews[n].append(float(reward[n]))
                ends[n].append(float(terminated[n] or truncated[n]))
                if truncated[n] and not terminated[n]:
                    cut_obs[(n, t)] = np.array(info["final_obs"][n], dtype=np.float32)
                ep_return[n] += float(reward[n])
            steps += N
            for n in range(N):  # episodes that ended at this step, in env order
                if terminated[n] or truncated[n]:
                    finished.append(ep_return[n])
                    ended_at.append(steps)
                    ep_return[n] = 0.0
            current = nxt
        obs = torch.as_tensor(np.array(states)).transpose(0, 1)  # (T, N, D)
        actions = torch.as_tensor(acts).T  # (T, N)
        with torch.no_grad():
            logp_old, values, _ = agent.evaluate(obs.reshape(T * N, -1), actions.reshape(-1))
            logp_old, values = logp_old.reshape(T, N), values.reshape(T, N)
            next_values = torch.cat([values[1:], agent.value(torch.as_tensor(current, dtype=torch.float32))[None]])
            for (n, t), last in cut_obs.items():
                next_values[t, n] = agent.value(torch.as_tensor(last)[None])[0]
        rewards = torch.as_tensor(rews, dtype=torch.float32).T
        ended = torch.as_tensor(ends).T
        terminated_only = ended.clone()
        for (n, t) in cut_obs:
            terminated_only[t, n] = 0.0
        # a truncated step keeps its bootstrap (next_values holds V(final obs)), then cuts the sum
        advantages = torch.zeros(T, N)
        running = torch.zeros(N)
        for t in reversed(range(T)):
            delta = rewards[t] + gamma * (1.0 - terminated_only[t]) * next_values[t] - values[t]
            running = delta + gamma * lam * (1.0 - ended[t]) * running
            advantages[t] = running
        returns = advantages + values
        ppo_update_zero_after_step(agent, optimizer, obs.reshape(T * N, -1), actions.reshape(-1),
                                   logp_old.reshape(-1), advantages.reshape(-1), returns.reshape(-1),
                                   minibatches(T * N), clip_eps, value_coef, ent_coef, max_grad_norm, target_kl)
    return {"advantages": advantages.T.numpy(), "returns": returns.T, "episode_returns": np.array(finished),
            "episode_end_steps": torch.tensor(ended_at)}


def ppo_capstone_numpy_storage(envs, agent, optimizer, iterations, num_steps, gamma, lam, clip_eps, minibatches,
                               value_coef, ent_coef, max_grad_norm, target_kl, seed):
    """NumPy storage preallocated as (T, N) arrays, an extra row for s_T, the course's gae through a
    td-residual rewrite, the batch flattened with np.reshape, the learner's own ppo_update variant."""
    T, N = num_steps, envs.num_envs
    obs_now, _ = envs.reset(seed=seed)
    running, done_returns, done_steps = np.zeros(N), [], []
    for it in range(iterations):
        obs = np.zeros((T, N, obs_now.shape[1]), dtype=np.float32)
        acts = np.zeros((T, N), dtype=np.int64)
        logps, vals, rews = (np.zeros((T, N), dtype=np.float32) for _ in range(3))
        ends, boots = np.zeros((T, N), dtype=np.float32), np.zeros((T, N), dtype=np.float32)
        for t in range(T):
            obs[t] = obs_now
            state = torch.from_numpy(obs[t])
            a = agent.act(state)
            with torch.no_grad():
                lp, v, _ = agent.evaluate(state, a)
            acts[t], logps[t], vals[t] = a.numpy(), lp.numpy(), v.numpy()
            obs_now, r, term, trunc, info = envs.step(acts[t])
            rews[t], ends[t] = r, term | trunc
            cut = trunc & ~term
            if cut.any():
                with torch.no_grad():
                    finals = torch.as_tensor(np.stack([info["final_obs"][i] for i in np.flatnonzero(cut)]),
                                             dtype=torch.float32)
                    boots[t, cut] = agent.value(finals).numpy()
            running += r
            for i in np.flatnonzero(term | trunc):
                done_returns.append(running[i])
                done_steps.append((it * T + t + 1) * N)
                running[i] = 0.0
        with torch.no_grad():
            last = agent.value(torch.as_tensor(obs_now, dtype=torch.float32)).numpy()
        next_vals = np.concatenate([vals[1:], last[None]])
        r_boot = torch.from_numpy(rews + gamma * boots)
        adv = _gae_by_td(r_boot, torch.from_numpy(vals), torch.from_numpy(next_vals), torch.from_numpy(ends),
                         gamma, lam)
        ret = adv + torch.from_numpy(vals)
        ppo_update_batch_dict(agent, optimizer, torch.from_numpy(obs.reshape(T * N, -1)),
                              torch.from_numpy(acts.reshape(-1)), torch.from_numpy(logps.reshape(-1)),
                              adv.reshape(-1), ret.reshape(-1), minibatches(T * N), clip_eps, value_coef, ent_coef,
                              max_grad_norm, target_kl)
    return {"advantages": adv, "returns": ret.numpy(), "episode_returns": done_returns, "episode_end_steps": done_steps}


UPDATE_ALTERNATIVES = [ppo_update_zero_after_step, ppo_update_batch_dict]
CAPSTONE_ALTERNATIVES = [ppo_capstone_per_env, ppo_capstone_numpy_storage]
ALTERNATIVES = {"ppo_update": UPDATE_ALTERNATIVES, "ppo_capstone": CAPSTONE_ALTERNATIVES}
