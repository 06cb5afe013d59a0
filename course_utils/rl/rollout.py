"""Collecting experience: whole episodes for REINFORCE, fixed-length rollouts for actor-critic.

Two collectors, one convention for the end of an episode (Gymnasium's 5-tuple):

- ``terminated``: the MDP reached a terminal state (the pole fell). Nothing comes after it;
  its value is 0 and nothing is bootstrapped.
- ``truncated``: the time limit cut the episode (CartPole-v1 stops at 500 steps). The state
  reached is *not* terminal; the return would have continued, so the right target
  bootstraps with gamma * V(final_obs), the value of the last observation.

:func:`collect_episodes` (chapters 2-3) returns whole episodes with their final observation,
so a trainer can bootstrap truncated ones. :class:`RolloutCollector` (chapters 4-5) steps a
vector environment created with same-step autoreset and fills preallocated (T, N) tensors;
it keeps the environment rewards as they are and stores V(final_obs) of truncated steps
separately in ``truncation_values``. :meth:`RolloutBuffer.bootstrapped_rewards` folds
gamma * V(final_obs) into the reward of each truncated step, and
:attr:`RolloutBuffer.episode_ends` marks terminated *and* truncated steps as ends, which is
exactly what the spine's ``gae(rewards, values, dones, last_value, gamma, lam)`` expects:
the next observation in the buffer already belongs to a new episode, so nothing may be
bootstrapped across the boundary, and the truncated episode's missing future is in the reward.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import gymnasium as gym
import numpy as np
import torch
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv
from torch import Tensor, nn

__all__ = [
    "Episode",
    "collect_episodes",
    "make_vector_env",
    "SameStepCartPoleVectorEnv",
    "RolloutBuffer",
    "RolloutCollector",
]


# ----------------------------------------------------------------------------- episodes


@dataclass
class Episode:
    """One whole episode s_0, a_0, r_0, ..., s_{T-1}, a_{T-1}, r_{T-1}, s_T."""

    obs: Tensor  # (T, obs_dim) float32: s_0 ... s_{T-1}
    actions: Tensor  # (T,) int64 for discrete actions, (T, act_dim) float32 for continuous
    logp: Tensor  # (T,) log pi(a_t | s_t) under the policy that acted, no gradient
    rewards: Tensor  # (T,) float32
    final_obs: Tensor  # (obs_dim,) s_T, the observation after the last step
    terminated: bool  # s_T is terminal: nothing to bootstrap
    truncated: bool  # cut by the time limit: bootstrap with V(s_T) if there is a critic

    def __len__(self) -> int:
        return int(self.rewards.shape[0])

    @property
    def total_reward(self) -> float:
        """The undiscounted return sum_t r_t, the score reported on learning curves."""
        return float(self.rewards.sum())


def _to_env_action(action: Tensor, action_space: gym.Space) -> np.ndarray:
    """Convert a sampled action to what ``env.step`` takes, clipping continuous actions."""
    a = action.numpy()
    if isinstance(action_space, gym.spaces.Box):
        a = np.clip(a, action_space.low, action_space.high)
    return a


def collect_episodes(
    env: gym.Env,
    policy: nn.Module,
    n_episodes: int | None = None,
    min_steps: int | None = None,
    seed: int | None = None,
) -> list[Episode]:
    """Run ``policy`` in a single environment and return whole episodes.

    Stops after ``n_episodes`` episodes, or after the first episode that brings the total
    number of steps to at least ``min_steps`` (exactly one of the two). Every episode is
    played to its end, so no episode is cut by the batch size (stopping only between
    episodes also avoids favouring short episodes).

    Args:
        env: a single (non-vector) Gymnasium environment, e.g. ``gym.make("CartPole-v1")``.
        policy: has ``act(obs (1, obs_dim)) -> (action (1, ...), logp (1,))``.
        n_episodes: number of episodes to collect.
        min_steps: minimum number of environment steps to collect (typical: 2000-5000).
        seed: passed to the first ``env.reset`` only; later episodes continue the env's RNG.
            Seed torch too (``torch.manual_seed``), since actions are sampled with it.

    Returns:
        A list of :class:`Episode`, in the order they were played.
    """
    if (n_episodes is None) == (min_steps is None):
        raise ValueError("give exactly one of n_episodes and min_steps")
    episodes: list[Episode] = []
    total_steps = 0
    while True:
        obs, _ = env.reset(seed=seed if not episodes else None)
        obs_list, action_list, logp_list, reward_list = [], [], [], []
        terminated = truncated = False
        while not (terminated or truncated):
            obs_tensor = torch.as_tensor(obs, dtype=torch.float32)
            action, logp = policy.act(obs_tensor.unsqueeze(0))
            next_obs, reward, terminated, truncated, _ = env.step(
                _to_env_action(action[0], env.action_space)
            )
            obs_list.append(obs_tensor)
            action_list.append(action[0])
            logp_list.append(logp[0])
            reward_list.append(float(reward))
            obs = next_obs
        episodes.append(
            Episode(
                obs=torch.stack(obs_list),
                actions=torch.stack(action_list),
                logp=torch.stack(logp_list),
                rewards=torch.tensor(reward_list, dtype=torch.float32),
                final_obs=torch.as_tensor(obs, dtype=torch.float32),
                terminated=bool(terminated),
                truncated=bool(truncated and not terminated),
            )
        )
        total_steps += len(reward_list)
        if n_episodes is not None and len(episodes) >= n_episodes:
            return episodes
        if min_steps is not None and total_steps >= min_steps:
            return episodes


# ----------------------------------------------------------------------------- vector rollouts


class SameStepCartPoleVectorEnv(CartPoleVectorEnv):
    """Gymnasium's NumPy-vectorised CartPole with **same-step** autoreset.

    Gymnasium 1.4 ships CartPole's vector version with next-step autoreset only. This subclass
    keeps its physics constants, spaces, seeding and rendering, and steps the N carts itself so
    that a finished sub-environment is reset inside the step that ended it, as ``SyncVectorEnv``
    does in same-step mode: the returned observation starts the new episode and the ended
    episode's last observation is in ``info["final_obs"][i]`` where ``info["_final_obs"][i]``.
    The dynamics are Gymnasium's (explicit Euler, tests compare trajectories), without its
    per-step checks: about four times faster than eight Python CartPoles.
    """

    metadata = {**CartPoleVectorEnv.metadata, "autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}

    def step(self, action):
        state = self.state  # (4, N) float64: x, x_dot, theta, theta_dot
        force = self.force_mag * (2.0 * np.asarray(action) - 1.0)  # action 1 pushes right, 0 left
        cos, sin = np.cos(state[2]), np.sin(state[2])
        temp = (force + self.polemass_length * state[3] ** 2 * sin) / self.total_mass
        theta_acc = (self.gravity * sin - cos * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * cos**2 / self.total_mass))
        x_acc = temp - self.polemass_length * theta_acc * cos / self.total_mass
        state[0] += self.tau * state[1]  # explicit Euler: positions move with the old velocities
        state[2] += self.tau * state[3]
        state[1] += self.tau * x_acc
        state[3] += self.tau * theta_acc
        x, theta = state[0], state[2]
        self.steps += 1

        terminated = (np.abs(x) > self.x_threshold) | (np.abs(theta) > self.theta_threshold_radians)
        truncated = self.steps >= self.max_episode_steps
        reward = np.ones(self.num_envs, dtype=np.float32)
        obs, info = state.T.astype(np.float32), {}
        done = terminated | truncated
        if done.any():  # same-step autoreset of the finished carts
            info = {"final_obs": obs.copy(), "_final_obs": done}
            state[:, done] = self.np_random.uniform(low=self.low, high=self.high, size=(4, int(done.sum())))
            self.steps[done] = 0
            obs[done] = state[:, done].T
        return obs, reward, terminated, truncated, info


def make_vector_env(env_id: str, num_envs: int, fast: bool = False,
                    autoreset: Literal["same_step", "next_step"] = "same_step", **env_kwargs) -> gym.vector.VectorEnv:
    """``num_envs`` copies of ``env_id`` stepped together, with **same-step** autoreset by default.

    The course's one env factory. ``autoreset="next_step"`` (Gymnasium's own default, and
    CleanRL's) is for a training loop that masks the reset step itself: the PPO trainer
    (:mod:`course_utils.trainers.ppo`) keeps it so that its results stay those of CleanRL's
    loop; it gets the NumPy-vectorised version when Gymnasium has one, else a ``SyncVectorEnv``.

    Same-step autoreset: when a sub-environment ends at step t, the observation returned by
    that ``step`` is already the first one of the next episode, and the episode's last
    observation is in ``info["final_obs"][i]`` (for bootstrapping on truncation). Gymnasium's
    default, next-step autoreset, would instead spend the following ``step`` on a reset and
    return a fake transition (reward 0, action ignored) that a rollout must not learn from.

    The NumPy-vectorised ``vector_entry_point`` version is used when it supports same-step
    autoreset. In Gymnasium 1.4 CartPole's does not (it is next-step only); ``fast=True``
    gives CartPole-v1 the course's same-step NumPy version
    (:class:`SameStepCartPoleVectorEnv`, used by the A2C trainer). Every other case gets a
    ``SyncVectorEnv``: one Python environment per copy, stepped in turn.
    """
    if autoreset == "next_step":
        try:
            return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **env_kwargs)
        except gym.error.Error:
            return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", **env_kwargs)
    same_step = gym.vector.AutoresetMode.SAME_STEP
    if fast and env_id == "CartPole-v1" and not env_kwargs:
        envs = SameStepCartPoleVectorEnv(num_envs=num_envs, max_episode_steps=gym.spec(env_id).max_episode_steps)
        envs.spec = gym.spec(env_id)
        return envs
    try:
        envs = gym.make_vec(
            env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **env_kwargs
        )
        if envs.metadata.get("autoreset_mode") == same_step:
            return envs
        envs.close()
    except gym.error.Error:
        pass  # no vector entry point for this environment
    return gym.make_vec(
        env_id,
        num_envs=num_envs,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": same_step},
        **env_kwargs,
    )


@dataclass
class RolloutBuffer:
    """T steps of N environments. Index [t, i] is step t of environment i.

    Rewards are the environment's. Truncated steps keep their reward; the value of the
    observation the time limit cut off is in ``truncation_values``. For advantage estimation
    use ``bootstrapped_rewards(gamma)`` with ``episode_ends`` as ``dones``::

        advantages = gae(buffer.bootstrapped_rewards(gamma), buffer.values,
                         buffer.episode_ends, buffer.last_value, gamma, lam)
    """

    obs: Tensor  # (T, N, obs_dim) s_t
    actions: Tensor  # (T, N) int64, or (T, N, act_dim) float32
    logp: Tensor  # (T, N) log pi_old(a_t | s_t), no gradient
    rewards: Tensor  # (T, N) r_t as returned by the environment
    terminated: Tensor  # (T, N) 1.0 where the episode reached a terminal state at step t
    truncated: Tensor  # (T, N) 1.0 where the time limit cut it (and it did not terminate)
    values: Tensor  # (T, N) V(s_t) at collection time (zeros when no value net was given)
    truncation_values: Tensor  # (T, N) V(final_obs) where truncated, else 0
    last_value: Tensor  # (N,) V(s_T), the value of the observation after the last step
    episode_returns: list[float] = field(default_factory=list)  # episodes finished here
    episode_lengths: list[int] = field(default_factory=list)

    def bootstrapped_rewards(self, gamma: float) -> Tensor:
        """r_t + gamma * V(final_obs) on truncated steps, r_t elsewhere: (T, N)."""
        return self.rewards + gamma * self.truncation_values

    @property
    def episode_ends(self) -> Tensor:
        """(T, N) 1.0 where an episode ended at step t, terminated or truncated."""
        return torch.maximum(self.terminated, self.truncated)


class RolloutCollector:
    """Steps a same-step-autoreset vector env and returns one :class:`RolloutBuffer` per call.

    Keeps the current observations and the running return and length of every unfinished
    episode between calls, so episodes may span several rollouts.

    Example::

        envs = make_vector_env("CartPole-v1", num_envs=8)
        collector = RolloutCollector(envs, seed=0)
        buffer = collector.collect(policy, value_net, num_steps=128)  # 1024 transitions
    """

    def __init__(self, envs: gym.vector.VectorEnv, seed: int | None = None) -> None:
        if envs.metadata.get("autoreset_mode") != gym.vector.AutoresetMode.SAME_STEP:
            raise ValueError("create the vector env with same-step autoreset (make_vector_env)")
        self.envs = envs
        self.num_envs = envs.num_envs
        obs, _ = envs.reset(seed=seed)
        self.obs = torch.as_tensor(obs, dtype=torch.float32)
        self.running_return = np.zeros(self.num_envs)
        self.running_length = np.zeros(self.num_envs, dtype=np.int64)
        self.global_step = 0  # transitions collected so far, all environments together

    @torch.no_grad()
    def collect(self, policy: nn.Module, value_net: nn.Module | None, num_steps: int) -> RolloutBuffer:
        """Play ``num_steps`` steps in each of the N environments (num_steps * N transitions)."""
        T, N = num_steps, self.num_envs
        space = self.envs.single_action_space
        action_shape = space.shape if isinstance(space, gym.spaces.Box) else ()
        action_dtype = torch.float32 if isinstance(space, gym.spaces.Box) else torch.int64
        obs = torch.zeros((T, N, *self.obs.shape[1:]))
        actions = torch.zeros((T, N, *action_shape), dtype=action_dtype)
        logp = torch.zeros((T, N))
        rewards = torch.zeros((T, N))
        terminated = torch.zeros((T, N))
        truncated = torch.zeros((T, N))
        values = torch.zeros((T, N))
        truncation_values = torch.zeros((T, N))
        episode_returns: list[float] = []
        episode_lengths: list[int] = []

        def value_of(o: Tensor) -> Tensor:
            return value_net(o) if value_net is not None else torch.zeros(o.shape[0])

        for t in range(T):
            obs[t] = self.obs
            actions[t], logp[t] = policy.act(self.obs)
            values[t] = value_of(self.obs)
            next_obs, reward, term, trunc, info = self.envs.step(
                _to_env_action(actions[t], space)
            )
            trunc = trunc & ~term  # a step that is both is a termination: nothing to bootstrap
            rewards[t] = torch.as_tensor(reward, dtype=torch.float32)
            terminated[t] = torch.as_tensor(term, dtype=torch.float32)
            truncated[t] = torch.as_tensor(trunc, dtype=torch.float32)
            if trunc.any():
                # same-step autoreset: next_obs is already the reset observation of the new
                # episode; the observation the time limit cut off is in info["final_obs"]
                idx = np.flatnonzero(trunc)
                final_obs = torch.as_tensor(np.stack(info["final_obs"][idx]), dtype=torch.float32)
                truncation_values[t, idx] = value_of(final_obs)

            self.running_return += reward
            self.running_length += 1
            for i in np.flatnonzero(term | trunc):
                episode_returns.append(float(self.running_return[i]))
                episode_lengths.append(int(self.running_length[i]))
                self.running_return[i] = 0.0
                self.running_length[i] = 0
            self.obs = torch.as_tensor(next_obs, dtype=torch.float32)
        self.global_step += T * N

        return RolloutBuffer(
            obs=obs,
            actions=actions,
            logp=logp,
            rewards=rewards,
            terminated=terminated,
            truncated=truncated,
            values=values,
            truncation_values=truncation_values,
            last_value=value_of(self.obs),
            episode_returns=episode_returns,
            episode_lengths=episode_lengths,
        )
