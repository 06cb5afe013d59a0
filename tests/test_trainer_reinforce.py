"""The REINFORCE trainer: it learns CartPole on every seed tried, it is deterministic for a
seed, and it runs the learner's functions (converted or rejected with a clear message)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from course_utils import answers
from course_utils.trainers import History, train_reinforce
from tests.learning import assert_learns

# reward-to-go + value baseline + normalised advantages, as the shipped reference curve
# "reinforce_rtg_baseline_cartpole" but shorter (40,000 steps, about 20 s a seed).
BASELINE_CONFIG = dict(
    env_id="CartPole-v1", weights_fn="reward_to_go", baseline="value", advantage_normalise=True,
    batch_steps=2_000, lr=1e-2, value_lr=1e-2, value_iters=10, gamma=0.99,
)  # fmt: skip


@pytest.mark.learning
def test_reinforce_with_baseline_learns_cartpole_on_every_seed():
    threads = torch.get_num_threads()
    assert_learns(lambda seed: train_reinforce(**BASELINE_CONFIG, total_steps=40_000, seed=seed, progress=False),
                  seeds=[0, 1, 2], threshold=250, reference="reinforce_rtg_baseline_cartpole", budget=40_000)
    assert torch.get_num_threads() == threads  # restored after training


def test_seeded_runs_are_identical():
    def run() -> History:
        return train_reinforce(**BASELINE_CONFIG, total_steps=3_000, seed=3, progress=False)

    a, b = run(), run()
    assert a.episode_returns == b.episode_returns
    assert a.env_steps == b.env_steps
    assert a.policy_loss == b.policy_loss and a.value_loss == b.value_loss
    c = train_reinforce(**BASELINE_CONFIG, total_steps=3_000, seed=4, progress=False)
    assert c.episode_returns != a.episode_returns


def test_learner_functions_are_called_with_the_spine_signatures():
    calls: dict[str, list] = {"reward_to_go": [], "pg_loss": [], "discounted_return": []}

    def my_reward_to_go(rewards, gamma=1.0):
        calls["reward_to_go"].append((tuple(rewards.shape), gamma))
        return answers.reward_to_go(rewards, gamma)

    def my_pg_loss(logp, weights):
        calls["pg_loss"].append((tuple(logp.shape), tuple(weights.shape), weights.requires_grad))
        return answers.pg_loss(logp, weights)

    def my_discounted_return(rewards, gamma):
        calls["discounted_return"].append((tuple(rewards.shape), gamma))
        return answers.discounted_return(rewards, gamma)

    kwargs = dict(total_steps=400, batch_steps=200, seed=1, progress=False)
    mine = train_reinforce(weights_fn="reward_to_go", reward_to_go=my_reward_to_go, pg_loss=my_pg_loss, **kwargs)
    ref = train_reinforce(weights_fn="reward_to_go", **kwargs)
    assert mine.episode_returns == ref.episode_returns and mine.policy_loss == ref.policy_loss
    assert mine.config["pg_loss"] == "learner" and ref.config["pg_loss"] == "answer"
    assert all(len(shape) == 1 and gamma == 0.99 for shape, gamma in calls["reward_to_go"])
    assert sum(shape[0] for shape, _ in calls["reward_to_go"]) == mine.env_steps[-1]
    assert all(lp == w and len(lp) == 1 and not grad for lp, w, grad in calls["pg_loss"])

    train_reinforce(weights_fn="return", discounted_return=my_discounted_return, gamma=1.0, **kwargs)
    assert calls["discounted_return"] and all(len(s) == 1 and g == 1.0 for s, g in calls["discounted_return"])


def test_numpy_answers_are_converted_and_undifferentiable_losses_rejected():
    def numpy_reward_to_go(rewards, gamma=1.0):
        return answers.reward_to_go(rewards, gamma).numpy()

    with pytest.warns(UserWarning, match="converting"):
        train_reinforce(weights_fn="reward_to_go", reward_to_go=numpy_reward_to_go,
                        total_steps=200, batch_steps=200, progress=False)  # fmt: skip

    def float_loss(logp, weights):
        return (-(logp * weights).mean()).item()

    with pytest.raises(TypeError, match="cannot be differentiated"):
        train_reinforce(pg_loss=float_loss, total_steps=200, batch_steps=200, progress=False)

    def detached_loss(logp, weights):
        return -(logp.detach() * weights).mean()

    with pytest.raises(TypeError, match="without gradient"):
        train_reinforce(pg_loss=detached_loss, total_steps=200, batch_steps=200, progress=False)


def test_history_json_round_trip():
    history = train_reinforce(baseline=None, total_steps=300, batch_steps=150, progress=False)
    assert np.isnan(history.value_loss).all()
    again = History.from_json(history.to_json())
    assert again.episode_returns == history.episode_returns
    assert again.config == json.loads(json.dumps(history.config))
    assert np.isnan(again.value_loss).all()
    # NaN anywhere in the numeric records is strict JSON's null; a trainer's extra records survive
    history.iteration_mean_return[0] = float("nan")
    history.diagnostics = {"approx_kl": [0.01, float("nan")], "epochs": [3, 4]}
    text = history.to_json()
    json.loads(text, parse_constant=lambda name: pytest.fail(f"bare {name} in the JSON"))
    again = History.from_json(text)
    assert np.isnan(again.iteration_mean_return[0]) and again.iteration_mean_return[1:] == history.iteration_mean_return[1:]
    assert again.diagnostics["epochs"] == [3, 4] and np.isnan(again.diagnostics["approx_kl"][1])
    grid = np.array([0, history.episode_end_steps[0], history.env_steps[-1]])
    curve = history.curve(grid)
    assert np.isnan(curve[0]) and curve[1] == history.episode_returns[0]


def test_continuous_actions_and_truncation_bootstrap_run():
    # Pendulum-v1 never terminates: every episode is truncated at 200 steps and bootstrapped
    history = train_reinforce("Pendulum-v1", weights_fn="reward_to_go", baseline="value",
                              total_steps=400, batch_steps=400, progress=False)  # fmt: skip
    assert history.env_steps == [400] and len(history.episode_returns) == 2
    assert np.isfinite(history.policy_loss).all() and np.isfinite(history.value_loss).all()


def test_the_plain_reward_to_go_update_is_the_loop_item_and_a_learners_loop_plugs_in():
    """Chapter 02's loop item: train_reinforce runs answers.reinforce_step, or the learner's reinforce_step."""
    from tests.alternatives_loops_ch02 import reinforce_step_per_episode

    kwargs = dict(weights_fn="reward_to_go", total_steps=1_200, batch_steps=300, seed=2, progress=False)
    ref = train_reinforce(**kwargs)
    assert ref.config["reinforce_step"] == "answer"
    calls = []

    def my_reinforce_step(policy, optimizer, episodes, gamma):
        calls.append((len(episodes), gamma))
        return answers.reinforce_step(policy, optimizer, episodes, gamma)

    mine = train_reinforce(reinforce_step=my_reinforce_step, **kwargs)
    assert mine.config["reinforce_step"] == "learner" and calls and all(g == 0.99 for _, g in calls)
    assert mine.episode_returns == ref.episode_returns and mine.policy_loss == ref.policy_loss
    variant = train_reinforce(reinforce_step=reinforce_step_per_episode, **kwargs)  # equal up to float rounding
    assert len(variant.policy_loss) == len(ref.policy_loss)
    assert abs(variant.policy_loss[0] - ref.policy_loss[0]) < 1e-4 * max(1.0, abs(ref.policy_loss[0]))
    with pytest.raises(ValueError, match="reinforce_step"):
        train_reinforce(reinforce_step=my_reinforce_step, weights_fn="return", total_steps=200, progress=False)
    with pytest.raises(ValueError, match="reinforce_step"):
        train_reinforce(reinforce_step=my_reinforce_step, weights_fn="reward_to_go", baseline="value",
                        total_steps=200, progress=False)
