"""The A2C trainer: it learns CartPole on every seed tried, it is deterministic for a seed, and it
calls the learner's functions with (T, N) tensors and the spine's signatures."""
from __future__ import annotations

import pytest
import torch

from course_utils import answers
from course_utils.trainers import a2c as A2C
from course_utils.trainers.a2c import train_a2c
from tests.learning import assert_learns

# the shipped reference curve "a2c_cartpole" (8 envs x 5 steps, Adam 1e-3, no entropy bonus),
# shortened to 40,000 steps (about 4 s a seed).
A2C_CONFIG = dict(env_id="CartPole-v1", advantage="n_step", num_envs=8, num_steps=5, lr=1e-3, gamma=0.99,
                  value_coef=0.5, entropy_coef=0.0, max_grad_norm=0.5)  # fmt: skip


@pytest.mark.learning
def test_a2c_learns_cartpole_on_every_seed():
    threads = torch.get_num_threads()
    runs = assert_learns(lambda seed: train_a2c(**A2C_CONFIG, total_steps=40_000, seed=seed, progress=False),
                         seeds=[0, 1, 2], threshold=150, reference="a2c_cartpole", budget=40_000)
    assert torch.get_num_threads() == threads  # restored after training
    assert all(h.policy is not None and h.config["a2c_loss"] == "answer" for h in runs)


def test_seeded_runs_are_identical():
    def run(seed: int, **kwargs):
        return train_a2c(**{**A2C_CONFIG, **kwargs}, total_steps=3_000, seed=seed, progress=False)

    a, b = run(3), run(3)
    assert a.episode_returns == b.episode_returns and a.env_steps == b.env_steps
    assert a.policy_loss == b.policy_loss and a.value_loss == b.value_loss
    assert run(4).episode_returns != a.episode_returns
    g1, g2 = run(5, advantage="gae", num_steps=16, lam=0.9), run(5, advantage="gae", num_steps=16, lam=0.9)
    assert g1.value_loss == g2.value_loss


@pytest.mark.parametrize("advantage", ["n_step", "td", "gae"])
def test_learner_functions_get_rollout_tensors_and_match_the_reference(advantage):
    calls: list[tuple] = []

    def my_td_residuals(rewards, values, next_values, dones, gamma):
        calls.append(("td_residuals", rewards.shape, next_values.shape, dones.shape))
        return answers.td_residuals(rewards, values, next_values, dones, gamma)

    def my_bootstrapped_returns(rewards, dones, last_value, gamma):
        calls.append(("bootstrapped_returns", rewards.shape, last_value.shape, dones.shape))
        return A2C.bootstrapped_returns(rewards, dones, last_value, gamma)

    def my_gae(rewards, values, dones, last_value, gamma, lam):
        calls.append(("gae", rewards.shape, last_value.shape, dones.shape))
        return answers.gae(rewards, values, dones, last_value, gamma, lam)

    def my_lambda_returns(rewards, values, dones, last_value, gamma, lam):
        calls.append(("lambda_returns", rewards.shape, last_value.shape, dones.shape))
        return A2C.lambda_returns(rewards, values, dones, last_value, gamma, lam)

    def my_a2c_loss(logp, values, advantages, returns, entropy, value_coef, entropy_coef):
        calls.append(("a2c_loss", logp.shape, values.requires_grad, advantages.requires_grad))
        return A2C.a2c_loss(logp, values, advantages, returns, entropy, value_coef, entropy_coef)

    kwargs = dict(A2C_CONFIG, advantage=advantage, num_envs=4, num_steps=8, total_steps=320, seed=2, progress=False)
    mine = train_a2c(**kwargs, td_residuals=my_td_residuals, bootstrapped_returns=my_bootstrapped_returns,
                     gae=my_gae, lambda_returns=my_lambda_returns, a2c_loss=my_a2c_loss)
    ref = train_a2c(**kwargs)
    assert mine.policy_loss == ref.policy_loss and mine.episode_returns == ref.episode_returns
    names = {c[0] for c in calls}
    expected = {"n_step": {"bootstrapped_returns"}, "td": {"td_residuals"}, "gae": {"gae", "lambda_returns"}}
    assert names == expected[advantage] | {"a2c_loss"}
    for name, *shapes in calls:
        if name == "a2c_loss":
            assert shapes == [torch.Size([32]), True, False]
        else:
            assert shapes[0] == shapes[2] == torch.Size([8, 4])  # rewards and dones (T, N)
            assert shapes[1] == torch.Size([8, 4] if name == "td_residuals" else [4])  # next_values / last_value


def test_undifferentiable_loss_is_rejected():
    def detached_loss(logp, values, advantages, returns, entropy, value_coef, entropy_coef):
        return A2C.a2c_loss(logp, values, advantages, returns, entropy, value_coef, entropy_coef).detach()

    with pytest.raises(TypeError, match="without gradient"):
        train_a2c(a2c_loss=detached_loss, total_steps=80, progress=False)


def test_shared_body_runs():
    history = train_a2c("CartPole-v1", total_steps=400, num_envs=2, num_steps=10, shared=True, progress=False)
    agent = history.policy
    assert torch.isfinite(torch.tensor(history.value_loss)).all()
    assert sum(p.numel() for p in agent.parameters()) < sum(
        p.numel() for p in A2C.ActorCritic(4, 2, shared=False).parameters())
    # one body: the critic's loss alone moves the body, which the actor reads
    agent.zero_grad()
    agent.value(torch.randn(5, 4)).sum().backward()
    assert all(w.grad is not None and w.grad.abs().sum() > 0 for w in agent.hidden_w)
    assert agent.pi_w.grad is None


@pytest.mark.parametrize("shared", [False, True])
def test_actor_critic_computes_two_tanh_mlps(shared):
    """The stacked, (in, out)-stored network is the same function as mlp(...) networks built
    from the same seed, and its NumPy actor reads the live parameters."""
    from course_utils.rl.policies import mlp

    torch.manual_seed(0)
    agent = A2C.ActorCritic(4, 2, hidden=(64, 32), shared=shared)
    torch.manual_seed(0)
    if shared:
        body = torch.nn.Sequential(mlp(4, 32, (64,), out_gain=2**0.5), torch.nn.Tanh())
        actor, critic = torch.nn.Sequential(body, mlp(32, 2, (), out_gain=0.01)), torch.nn.Sequential(
            body, mlp(32, 1, (), out_gain=1.0))
    else:
        actor, critic = mlp(4, 2, (64, 32), out_gain=0.01), mlp(4, 1, (64, 32), out_gain=1.0)
    obs = torch.randn(7, 4)
    logits, values = agent(obs)
    torch.testing.assert_close(logits, actor(obs))
    torch.testing.assert_close(values, critic(obs).squeeze(-1))
    reference_params = {id(p): p for p in [*actor.parameters(), *critic.parameters()]}.values()  # body once
    assert sum(p.numel() for p in agent.parameters()) == sum(p.numel() for p in reference_params)
    numpy_logits = agent.numpy_actor()
    with torch.no_grad():  # an in-place change of the parameters shows through the NumPy views
        for p in agent.parameters():
            p.add_(0.1 * torch.randn_like(p))
    np_out = numpy_logits(obs.numpy())
    torch.testing.assert_close(torch.from_numpy(np_out), agent(obs)[0].detach(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_numpy_actor_follows_the_optimizer(optimizer):
    """After training, acting in NumPy (the rollout's path) and in torch give the same logits."""
    history = train_a2c(**A2C_CONFIG, total_steps=2_000, optimizer=optimizer, seed=0, progress=False)
    agent, obs = history.policy, torch.randn(16, 4)
    torch.testing.assert_close(torch.from_numpy(agent.numpy_actor()(obs.numpy())), agent(obs)[0].detach(),
                               rtol=1e-5, atol=1e-6)
    assert history.config["optimizer"] == optimizer


def test_unknown_optimizer_is_rejected():
    with pytest.raises(ValueError, match="optimizer"):
        train_a2c(optimizer="sgd", total_steps=80, progress=False)


def test_the_learners_rollout_and_update_plug_in_and_reproduce_the_answers_run():
    """train_a2c runs the answer key's a2c_rollout and a2c_update; a learner's own (here correct variants
    written differently) are called with the loop items' signatures and give the same run."""
    from tests.alternatives_loops_ch04 import a2c_rollout_per_step_critic, a2c_update_values_recomputed

    calls = []

    def my_rollout(envs, obs, act, value, num_steps):
        calls.append(("rollout", tuple(obs.shape), num_steps))
        return A2C.answers.a2c_rollout(envs, obs, act, value, num_steps)

    def my_update(agent, optimizer, rollout, gamma, value_coef, entropy_coef, max_grad_norm):
        calls.append(("update", tuple(rollout["rewards"].shape), max_grad_norm))
        return A2C.answers.a2c_update(agent, optimizer, rollout, gamma, value_coef, entropy_coef, max_grad_norm)

    kwargs = dict(A2C_CONFIG, total_steps=800, seed=4, progress=False)
    ref = train_a2c(**kwargs)
    mine = train_a2c(**kwargs, a2c_rollout=my_rollout, a2c_update=my_update)
    assert mine.episode_returns == ref.episode_returns and mine.policy_loss == ref.policy_loss
    assert calls[:2] == [("rollout", (8, 4), 5), ("update", (5, 8), 0.5)]
    assert mine.config["a2c_rollout"] == mine.config["a2c_update"] == "learner"
    assert ref.config["a2c_rollout"] == ref.config["a2c_update"] == "answer"
    variant = train_a2c(**kwargs, a2c_rollout=a2c_rollout_per_step_critic, a2c_update=a2c_update_values_recomputed)
    assert len(variant.episode_returns) > 0 and torch.isfinite(torch.tensor(variant.value_loss)).all()


def test_a_learners_update_is_not_mixed_with_other_estimators():
    def my_update(agent, optimizer, rollout, gamma, value_coef, entropy_coef, max_grad_norm):
        raise AssertionError("not called")

    with pytest.raises(ValueError, match="n_step"):
        train_a2c(advantage="td", a2c_update=my_update, total_steps=80, progress=False)
