"""The TRPO trainer: it learns CartPole on every seed tried, it is deterministic for a seed, every
accepted step respects the trust region, and it runs the learner's functions."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils.trainers import trpo
from course_utils.trainers.trpo import train_trpo
from tests.learning import assert_learns

# As the shipped reference curve "trpo_cartpole", but shorter (about 10 s a seed).
CARTPOLE = dict(env_id="CartPole-v1", num_envs=8, num_steps=256, gamma=0.99, lam=0.97, max_kl=0.01)


@pytest.mark.learning
def test_trpo_learns_cartpole_on_every_seed():
    threads = torch.get_num_threads()
    runs = assert_learns(lambda seed: train_trpo(**CARTPOLE, total_steps=40_000, seed=seed, progress=False),
                         seeds=[0, 1, 2], threshold=200, reference="trpo_cartpole", budget=40_000)
    assert torch.get_num_threads() == threads  # restored after training
    for history in runs:
        # every accepted step stayed inside the trust region and improved the surrogate
        for kl, backtracks, gain in zip(history.trpo["kl"], history.trpo["backtracks"],
                                        history.trpo["surrogate_improvement"]):
            assert (backtracks == -1 and kl == 0.0 and gain == 0.0) or (0 <= kl <= 0.01 and gain > 0)
        assert history.policy is not None


def test_seeded_runs_are_identical():
    def run(seed):
        return train_trpo(**CARTPOLE, total_steps=4_096, seed=seed, progress=False)

    a, b = run(3), run(3)
    assert a.episode_returns == b.episode_returns and a.env_steps == b.env_steps
    assert a.policy_loss == b.policy_loss and a.value_loss == b.value_loss and a.trpo == b.trpo
    assert run(4).episode_returns != a.episode_returns


def test_pendulum_runs_with_a_gaussian_policy():
    h = train_trpo("Pendulum-v1", total_steps=4_096, num_envs=8, num_steps=256, gamma=0.95, lam=0.95,
                   seed=0, progress=False)
    assert len(h.env_steps) == 2 and h.episode_returns and all(r < 0 for r in h.episode_returns)
    assert all(0 <= kl <= 0.01 for kl in h.trpo["kl"])


def test_learner_functions_are_called_with_the_spine_signatures():
    calls = {"cg": [], "fvp": [], "step": [], "kl": []}

    def my_cg(Avp, b, iters=10, tol=1e-10):
        calls["cg"].append((callable(Avp), tuple(b.shape), iters, tol))
        return trpo.conjugate_gradient(Avp, b, iters, tol)

    def my_fvp(kl_fn, theta, v, damping=0.0):
        calls["fvp"].append((callable(kl_fn), tuple(theta.shape), tuple(v.shape), damping))
        return trpo.fisher_vector_product(kl_fn, theta, v, damping)

    def my_step(x, Fx, delta):
        calls["step"].append((tuple(x.shape), tuple(Fx.shape), delta))
        return trpo.trust_region_step(x, Fx, delta)

    def my_kl(logits_p, logits_q):
        calls["kl"].append((tuple(logits_p.shape), logits_p.requires_grad))
        return trpo.kl_categorical(logits_p, logits_q)

    kwargs = dict(**CARTPOLE, total_steps=2_048, seed=1, progress=False)
    mine = train_trpo(conjugate_gradient=my_cg, fisher_vector_product=my_fvp, trust_region_step=my_step,
                      kl_categorical=my_kl, **kwargs)
    ref = train_trpo(**kwargs)
    assert mine.episode_returns == ref.episode_returns and mine.trpo == ref.trpo
    assert mine.config["conjugate_gradient"] == "learner" and ref.config["conjugate_gradient"] == "answer"
    n_params = sum(p.numel() for p in ref.policy.parameters())
    assert calls["cg"] == [(True, (n_params,), 10, 1e-10)]
    assert all(c == (True, (n_params,), (n_params,), 0.1) for c in calls["fvp"]) and len(calls["fvp"]) >= 2
    assert calls["step"] == [((n_params,), (n_params,), 0.01)]
    assert all(shape == (2048, 2) and not grad for shape, grad in calls["kl"])  # pi_old carries no gradient


def test_a_rejected_step_leaves_the_policy_unchanged():
    def wrong_direction(x, Fx, delta):  # a step against the gradient can never improve the surrogate
        return -trpo.trust_region_step(x, Fx, delta)

    h = train_trpo(**CARTPOLE, total_steps=2_048, trust_region_step=wrong_direction, seed=0, progress=False)
    assert h.trpo["backtracks"] == [-1] and h.trpo["kl"] == [0.0]
    torch.manual_seed(0)
    fresh = train_trpo(**CARTPOLE, total_steps=0, seed=0, progress=False).policy
    for p, q in zip(h.policy.parameters(), fresh.parameters()):
        assert torch.equal(p, q)
    assert np.isfinite(h.value_loss).all()


def test_the_update_is_the_answer_keys_loop_or_the_learners():
    """train_trpo runs answers.trpo_update; a learner's trpo_update is called with the loop item's
    signature instead (here one that reproduces the answer's digits: the same log-probability formula)."""
    from course_utils import answers

    calls = []

    def my_update(logits_fn, theta_old, actions, advantages, max_kl, damping, cg_iters, backtrack_iters,
                  backtrack_coeff):
        calls.append((tuple(logits_fn(theta_old).shape), tuple(theta_old.shape), tuple(actions.shape),
                      tuple(advantages.shape), max_kl, damping, cg_iters, backtrack_iters, backtrack_coeff))
        return answers.trpo_update(
            logits_fn, theta_old, actions, advantages, max_kl, damping, cg_iters, backtrack_iters, backtrack_coeff,
            log_prob=lambda logits, a: torch.log_softmax(logits, -1).gather(-1, a[:, None]).squeeze(-1))

    kwargs = dict(**CARTPOLE, total_steps=4_096, seed=2, progress=False)
    mine, ref = train_trpo(trpo_update=my_update, **kwargs), train_trpo(**kwargs)
    assert mine.config["trpo_update"] == "learner" and ref.config["trpo_update"] == "answer"
    assert mine.episode_returns == ref.episode_returns and mine.trpo == ref.trpo
    n_params = sum(p.numel() for p in ref.policy.parameters())
    assert calls == [((2048, 2), (n_params,), (2048,), (2048,), 0.01, 0.1, 10, 10, 0.8)] * 2
    with pytest.raises(ValueError, match="softmax"):
        train_trpo("Pendulum-v1", trpo_update=my_update, total_steps=512, progress=False)


@pytest.mark.learning
def test_a_learners_correct_loop_learns_cartpole():
    """A correct variant of the loop item (tests/alternatives_loops_ch07.py) trains as the answer does."""
    from tests.alternatives_loops_ch07 import trpo_update_while_loop

    assert_learns(lambda seed: train_trpo(**CARTPOLE, trpo_update=trpo_update_while_loop, total_steps=40_000,
                                          seed=seed, progress=False),
                  seeds=[0, 1], threshold=200, reference="trpo_cartpole", budget=40_000)
