"""The reference PPO: it learns on every seed tried, determinism, every switch runs, learner hooks."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils.trainers.ppo import PPOConfig, ZOO, evaluate_policy, ppo_config, train_ppo
from tests.learning import assert_learns


@pytest.mark.learning
def test_zoo_cartpole_learns_on_every_seed():
    # 3 seeds, 30k steps: each must rise far above a random policy (~22). The 8 reference seeds'
    # best rolling-20 mean by 30k steps is checked to leave a wide margin (tests/learning.py).
    runs = assert_learns(lambda seed: train_ppo("CartPole-v1", total_steps=30_000, seed=seed, progress=False),
                         seeds=[0, 1, 2], threshold=200, reference="ppo_cartpole", budget=30_000)
    for history in runs:
        assert history.env_steps[-1] >= 30_000 and history.config["torch_threads"] == 1
    best = max(runs, key=lambda h: h.rolling_return(20)[1][-1])
    assert np.mean(evaluate_policy(best.policy, "CartPole-v1", episodes=3)) >= 200


def test_same_seed_same_run_and_thread_count_restored():
    torch.set_num_threads(2)
    a = train_ppo("CartPole-v1", total_steps=2_048, seed=3, progress=False)
    b = train_ppo("CartPole-v1", total_steps=2_048, seed=3, progress=False)
    c = train_ppo("CartPole-v1", total_steps=2_048, seed=4, progress=False)
    assert a.episode_returns == b.episode_returns and a.policy_loss == b.policy_loss
    assert a.episode_returns != c.episode_returns
    assert torch.get_num_threads() == 2
    torch.set_num_threads(1)


def test_reset_steps_are_not_counted_as_transitions():
    history = train_ppo("CartPole-v1", total_steps=1_000, num_envs=4, num_steps=64, seed=0, progress=False)
    calls = 4 * 64 * len(history.env_steps)  # step() calls; the one after each episode's end only resets
    episodes = len(history.episode_returns)
    assert episodes > 0
    assert calls - episodes <= history.env_steps[-1] <= calls - episodes + 4  # the last resets may be pending
    assert sum(history.episode_returns) <= history.env_steps[-1]  # CartPole: reward 1 per real transition


@pytest.mark.parametrize("overrides", [
    dict(objective="kl_penalty"), dict(clip_value=0.2, ent_coef=0.01), dict(target_kl=0.001),
    dict(num_minibatches=4, update_epochs=2), dict(orthogonal_init=False, norm_adv=False, max_grad_norm=None),
    dict(anneal_lr=False, anneal_clip=False), dict(norm_obs=True, norm_reward=True),
], ids=lambda d: ",".join(d))
def test_every_switch_runs(overrides):
    history = train_ppo("CartPole-v1", total_steps=1_024, seed=0, progress=False, **overrides)
    assert len(history.env_steps) >= 4 and np.isfinite(history.policy_loss).all()
    if overrides.get("objective") == "kl_penalty":
        assert len(set(history.diagnostics["kl_beta"])) > 1  # the adaptive beta moved
    if "target_kl" in overrides:
        assert min(history.diagnostics["epochs"]) < 20  # early stopping cut some updates short


def test_continuous_actions_and_zoo_presets():
    history = train_ppo("Pendulum-v1", total_steps=4_096, num_minibatches=8, update_epochs=2, seed=0, progress=False)
    assert history.policy.continuous and len(history.episode_returns) >= 16
    assert all(-1_700 < r <= 0 for r in history.episode_returns)
    assert ppo_config("Pendulum-v1").num_steps == ZOO["Pendulum-v1"]["num_steps"] == 1024
    assert ppo_config("Acrobot-v1").num_envs == PPOConfig().num_envs


def test_learner_functions_are_called_and_recorded():
    calls = {"clip": 0, "kl": 0, "beta": 0}

    def my_clip(logp, logp_old, advantages, clip_eps):
        calls["clip"] += 1
        r = torch.exp(logp - logp_old.detach())
        return -torch.min(r * advantages, r.clamp(1 - clip_eps, 1 + clip_eps) * advantages).mean()

    def my_kl(logp, logp_old):
        calls["kl"] += 1
        x = logp - logp_old.detach()
        return (x.exp() - 1 - x).mean()

    def my_beta(beta, kl, target_kl):
        calls["beta"] += 1
        return beta * 2 if kl > 1.5 * target_kl else beta / 2 if kl < target_kl / 1.5 else beta

    h = train_ppo("CartPole-v1", total_steps=512, seed=0, progress=False, ppo_clip_loss=my_clip)
    assert calls["clip"] > 0 and h.config["ppo_clip_loss"] == "learner"
    h = train_ppo("CartPole-v1", total_steps=512, seed=0, progress=False, objective="kl_penalty", approx_kl=my_kl,
                  adaptive_kl_beta=my_beta)
    assert calls["kl"] > 0 and calls["beta"] == len(h.env_steps) and h.config["adaptive_kl_beta"] == "learner"


def test_diagnostics_are_logged_and_gae_and_explained_variance_plug_in():
    """Every update logs the diagnostics of lesson 08's section 8; a learner's (or a broken)
    GAE and explained variance are the ones used."""
    calls = {"gae": 0, "ev": 0}

    def my_ev(values, returns):
        calls["ev"] += 1
        return float(1 - (returns - values).var() / returns.var())

    h = train_ppo("CartPole-v1", total_steps=1_024, seed=0, progress=False, explained_variance=my_ev)
    d = h.diagnostics
    assert {"approx_kl", "clip_fraction", "entropy", "explained_variance", "value_mean"} <= set(d)
    assert all(len(d[k]) == len(h.env_steps) for k in d)
    assert all(0 < e <= np.log(2) + 1e-6 for e in d["entropy"])  # two actions: at most ln 2 nats
    assert all(k >= 0 for k in d["approx_kl"]) and all(0 <= c <= 1 for c in d["clip_fraction"])
    assert all(ev <= 1 for ev in d["explained_variance"])
    assert calls["ev"] == len(h.env_steps) and h.config["explained_variance"] == "learner"

    from course_utils import answers
    from course_utils.experiments.ppo_diagnostics import gae_without_done_mask

    def my_gae(*args):
        calls["gae"] += 1
        return answers.gae(*args)

    same = train_ppo("CartPole-v1", total_steps=1_024, seed=0, progress=False, gae=my_gae)
    assert calls["gae"] == len(same.env_steps) and same.config["gae"] == "learner"
    assert same.episode_returns == h.episode_returns  # the answer's GAE, called through the plug: the same run
    broken = train_ppo("CartPole-v1", total_steps=1_024, seed=0, progress=False, gae=gae_without_done_mask)
    assert broken.diagnostics["explained_variance"] != h.diagnostics["explained_variance"]


def test_a_detached_learner_loss_is_explained():
    with pytest.raises(TypeError, match="without gradient"):
        train_ppo("CartPole-v1", total_steps=256, progress=False,
                  ppo_clip_loss=lambda logp, logp_old, adv, eps: (logp * adv).mean().detach())


def test_the_update_is_the_answer_keys_loop_and_a_learners_plugs_in():
    """train_ppo's update is answers.ppo_update (workbook 08's loop item); a learner's loop replaces
    it, and the answer called through that plug gives the very same run."""
    from course_utils import answers

    calls = {"n": 0}

    def my_update(*args):
        calls["n"] += 1
        return answers.ppo_update(*args)

    a = train_ppo("CartPole-v1", total_steps=1_024, seed=0, progress=False)
    b = train_ppo("CartPole-v1", total_steps=1_024, seed=0, progress=False, ppo_update=my_update)
    assert calls["n"] == len(b.env_steps) and b.config["ppo_update"] == "learner" and a.config["ppo_update"] == "answer"
    assert a.episode_returns == b.episode_returns and a.policy_loss == b.policy_loss
    with pytest.raises(ValueError, match="ppo_update"):
        train_ppo("CartPole-v1", total_steps=256, progress=False, objective="kl_penalty", ppo_update=my_update)
