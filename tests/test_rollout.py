"""Rollout collection: episode ends, bootstrapping on truncation, no fake transitions, seeds."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from course_utils.rl import (
    CategoricalPolicy,
    GaussianPolicy,
    RolloutCollector,
    ValueNet,
    collect_episodes,
    make_vector_env,
)
from course_utils.answers import gae


class StepCounterEnv(gym.Env):
    """obs = [steps since reset], reward = step number (1, 2, 3, ...), never 0.

    Action 1 terminates the episode; the registered time limit truncates it after 4 steps.
    A reward of 0 or an observation that skips a count would reveal a fake transition.
    """

    observation_space = gym.spaces.Box(0.0, 100.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([self.t], np.float32), float(self.t), bool(action == 1), False, {}


gym.register("StepCounter-v0", entry_point=StepCounterEnv, max_episode_steps=4)


class ScriptedPolicy(nn.Module):
    """Environment 0 never terminates (always truncated at 4 steps); environment 1 takes
    action 1 on its second step (terminated after 2 steps)."""

    def act(self, obs):
        n = obs.shape[0]
        actions = torch.zeros(n, dtype=torch.int64)
        if n > 1:
            actions[1] = int(obs[1, 0] == 1.0)
        return actions, torch.zeros(n)


class AffineValue(nn.Module):
    """V(s) = 10 + s: the value of the cut-off observation [4] is 14."""

    def forward(self, obs):
        return 10.0 + obs[:, 0]


def test_vector_env_uses_same_step_autoreset():
    for env_id in ["CartPole-v1", "Pendulum-v1"]:
        envs = make_vector_env(env_id, 2)
        assert envs.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
        envs.close()
    next_step = gym.make_vec("CartPole-v1", 2, vectorization_mode="vector_entry_point")
    with pytest.raises(ValueError):
        RolloutCollector(next_step)


def test_terminated_and_truncated_steps_are_kept_apart_and_bootstrapped():
    collector = RolloutCollector(make_vector_env("StepCounter-v0", 2), seed=0)
    buf = collector.collect(ScriptedPolicy(), AffineValue(), num_steps=8)
    # env 0: truncated at steps 3 and 7; env 1: terminated at steps 1, 3, 5, 7
    assert buf.truncated[:, 0].tolist() == [0, 0, 0, 1, 0, 0, 0, 1]
    assert buf.terminated[:, 0].sum() == 0
    assert buf.terminated[:, 1].tolist() == [0, 1] * 4
    assert buf.truncated[:, 1].sum() == 0
    # bootstrap on truncation uses V(final_obs) = V([4]) = 14, not V of the reset observation
    assert buf.truncation_values[:, 0].tolist() == [0, 0, 0, 14, 0, 0, 0, 14]
    assert buf.truncation_values[:, 1].abs().sum() == 0  # terminal: nothing bootstrapped
    assert torch.equal(buf.bootstrapped_rewards(0.5)[:, 0], torch.tensor([1, 2, 3, 4 + 7, 1, 2, 3, 4 + 7.0]))
    assert torch.equal(buf.episode_ends, torch.maximum(buf.terminated, buf.truncated))
    # no fake transition: every stored step was really played (rewards never 0, the
    # observation after an episode end is the reset one, counts never skip)
    assert (buf.rewards > 0).all()
    assert buf.obs[:, 0, 0].tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    assert buf.obs[:, 1, 0].tolist() == [0, 1] * 4
    assert buf.last_value.tolist() == [10.0, 10.0]  # both envs just reset
    assert sorted(buf.episode_returns) == [3, 3, 3, 3, 10, 10]
    assert sorted(buf.episode_lengths) == [2, 2, 2, 2, 4, 4]


def test_gae_on_a_buffer_bootstraps_truncation_only():
    collector = RolloutCollector(make_vector_env("StepCounter-v0", 2), seed=0)
    buf = collector.collect(ScriptedPolicy(), AffineValue(), num_steps=4)
    gamma = 0.9
    adv = gae(buf.bootstrapped_rewards(gamma), buf.values, buf.episode_ends, buf.last_value, gamma, 0.0)
    # truncated step 3 of env 0: r + gamma V([4]) - V([3]) = 4 + 0.9 * 14 - 13
    assert adv[3, 0].item() == pytest.approx(4 + gamma * 14 - 13)
    # terminated step 1 of env 1: r - V([1]) = 2 - 11
    assert adv[1, 1].item() == pytest.approx(2 - 11)
    # an ordinary step: r + gamma V(s') - V(s)
    assert adv[0, 0].item() == pytest.approx(1 + gamma * 11 - 10)


def test_episode_statistics_carry_across_rollouts():
    collector = RolloutCollector(make_vector_env("StepCounter-v0", 2), seed=0)
    first = collector.collect(ScriptedPolicy(), None, num_steps=3)  # env 0 unfinished
    second = collector.collect(ScriptedPolicy(), None, num_steps=1)
    assert first.episode_returns == [3]
    assert second.episode_returns == [10, 3]
    assert (first.values == 0).all() and collector.global_step == 8


def test_real_truncation_pendulum():
    torch.manual_seed(0)
    collector = RolloutCollector(make_vector_env("Pendulum-v1", 2), seed=0)
    policy, value_net = GaussianPolicy(3, 1), ValueNet(3)
    buf = collector.collect(policy, value_net, num_steps=201)
    assert buf.actions.shape == (201, 2, 1) and buf.logp.shape == (201, 2)
    assert buf.truncated[199].tolist() == [1.0, 1.0] and buf.truncated.sum() == 2
    assert buf.terminated.sum() == 0
    assert (buf.truncation_values[199] != 0).all()
    assert not torch.equal(buf.obs[200], buf.obs[199])  # step 200 starts a new episode
    assert len(buf.episode_returns) == 2 and buf.episode_lengths == [200, 200]


def test_rollouts_are_deterministic_for_a_seed():
    def run():
        torch.manual_seed(0)
        policy, value_net = CategoricalPolicy(4, 2), ValueNet(4)
        collector = RolloutCollector(make_vector_env("CartPole-v1", 4), seed=0)
        return [collector.collect(policy, value_net, num_steps=64) for _ in range(2)]

    for a, b in zip(run(), run()):
        for name in ["obs", "actions", "logp", "rewards", "terminated", "truncated", "values", "truncation_values"]:
            assert torch.equal(getattr(a, name), getattr(b, name)), name
        assert a.episode_returns == b.episode_returns


# ---------------------------------------------------------------- whole episodes


def test_collect_episodes_flags_and_final_obs():
    env = gym.make("StepCounter-v0")
    episodes = collect_episodes(env, ScriptedPolicy(), n_episodes=3, seed=0)
    assert len(episodes) == 3
    for ep in episodes:  # single env: the scripted policy never terminates, the limit cuts it
        assert ep.truncated and not ep.terminated and len(ep) == 4
        assert ep.final_obs.tolist() == [4.0]
        assert ep.obs[:, 0].tolist() == [0, 1, 2, 3]
        assert ep.rewards.tolist() == [1, 2, 3, 4] and ep.total_reward == 10


def test_collect_episodes_cartpole_min_steps_and_determinism():
    def run():
        torch.manual_seed(1)
        policy = CategoricalPolicy(4, 2)
        return collect_episodes(gym.make("CartPole-v1"), policy, min_steps=300, seed=1)

    a, b = run(), run()
    lengths = [len(ep) for ep in a]
    assert sum(lengths) >= 300 and sum(lengths[:-1]) < 300
    assert all(ep.terminated and not ep.truncated for ep in a)  # a random policy falls
    assert a[0].obs.shape == (len(a[0]), 4) and a[0].actions.dtype == torch.int64
    assert len(a) == len(b)
    for ea, eb in zip(a, b):
        assert torch.equal(ea.obs, eb.obs) and torch.equal(ea.actions, eb.actions)
    with pytest.raises(ValueError):
        collect_episodes(gym.make("CartPole-v1"), CategoricalPolicy(4, 2))


def test_categorical_act_samples_like_its_distribution():
    torch.manual_seed(0)
    policy = CategoricalPolicy(4, 3)
    obs = torch.randn(64, 4)
    torch.manual_seed(1)
    actions, logp = policy.act(obs)
    torch.manual_seed(1)
    dist = policy.distribution(obs)
    expected = dist.sample()
    assert torch.equal(actions, expected)
    assert torch.allclose(logp, dist.log_prob(actions), atol=1e-6)


def test_fast_cartpole_steps_like_gymnasium_and_resets_on_the_same_step():
    """make_vector_env(..., fast=True): Gymnasium's CartPole dynamics, rewards, termination and
    time limit, step for step, with the finished carts reset inside the step that ended them."""
    from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

    from course_utils.rl.rollout import SameStepCartPoleVectorEnv

    fast, gym_envs = make_vector_env("CartPole-v1", 8, fast=True), CartPoleVectorEnv(8)
    assert isinstance(fast, SameStepCartPoleVectorEnv) and fast.spec.id == "CartPole-v1"
    assert fast.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    obs, _ = fast.reset(seed=3)
    assert np.array_equal(obs, gym_envs.reset(seed=3)[0])
    fast.max_episode_steps = gym_envs.max_episode_steps = 40  # reach the time limit too
    rng, ends, truncations = np.random.default_rng(0), 0, 0
    for _ in range(2_000):
        action = rng.integers(0, 2, 8)
        gym_envs.state, gym_envs.steps = fast.state.copy(), fast.steps.copy()  # same start, no pending reset
        gym_envs.prev_done[:] = False
        expected = gym_envs.step(action)
        obs, reward, terminated, truncated, info = fast.step(action)
        done = terminated | truncated
        assert np.array_equal(reward, expected[1]) and reward.dtype == np.float32
        assert np.array_equal(terminated, expected[2]) and np.array_equal(truncated, expected[3])
        if done.any():
            assert np.array_equal(info["_final_obs"], done)
            assert np.array_equal(info["final_obs"][done], expected[0][done])  # the episode's last obs
            assert np.all(np.abs(obs[done]) <= 0.05) and np.all(fast.steps[done] == 0)  # already reset
        assert np.array_equal(obs[~done], expected[0][~done])
        ends, truncations = ends + done.sum(), truncations + (truncated & ~terminated).sum()
    assert ends > 100 and truncations > 0


def test_fast_is_only_for_cartpole():
    envs = make_vector_env("Acrobot-v1", 2, fast=True)
    assert isinstance(envs, gym.vector.SyncVectorEnv)
    assert envs.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    envs.close()
