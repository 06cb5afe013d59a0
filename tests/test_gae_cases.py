"""GAE and TD residuals on cases worked out by hand (in the style of Stable-Baselines3's test_gae),
plus the identities that tie the estimators of chapters 04 and 05 together."""
from __future__ import annotations

import pytest
import torch

from course_utils.answers import gae, k_step_advantage, td_residuals
from course_utils.trainers.a2c import bootstrapped_returns, lambda_returns

pytestmark = pytest.mark.numerics  # run again under another float path (scripts/test.sh)

GAMMAS = [0.0, 0.5, 0.9, 0.99, 1.0]
LAMS = [0.0, 0.5, 0.9, 0.95, 1.0]


def _close(a, b, atol=1e-5):
    return torch.allclose(torch.as_tensor(a, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32), atol=atol)


def _next_values(values, last_value):
    return torch.cat([values[1:], torch.as_tensor(last_value).reshape(1, *values.shape[1:])])


# ---------------------------------------------------------------- hand-worked cases
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("lam", LAMS)
@pytest.mark.parametrize("T", [1, 3, 10])
def test_reward_only_at_the_terminal_step_with_zero_values(gamma, lam, T):
    # the only non-zero residual is the last one (= 1), so A_t = (gamma lam)^(T-1-t)
    rewards = torch.zeros(T)
    rewards[-1] = 1.0
    dones = torch.zeros(T)
    dones[-1] = 1.0
    advantages = gae(rewards, torch.zeros(T), dones, torch.tensor(123.0), gamma, lam)  # last_value is ignored
    expected = torch.tensor([(gamma * lam) ** (T - 1 - t) for t in range(T)])
    assert _close(advantages, expected)


@pytest.mark.parametrize("gamma", [0.5, 0.9, 0.99])
@pytest.mark.parametrize("lam", LAMS)
def test_constant_value_equal_to_the_true_value_gives_zero_advantage(gamma, lam):
    # reward 1 forever is worth 1 / (1 - gamma): every residual, hence every advantage, is 0
    T, v = 20, 1.0 / (1.0 - gamma)
    advantages = gae(torch.ones(T), torch.full((T,), v), torch.zeros(T), torch.tensor(v), gamma, lam)
    assert _close(advantages, torch.zeros(T), atol=1e-4)


@pytest.mark.parametrize("gamma", [0.5, 0.9, 1.0])
@pytest.mark.parametrize("lam", LAMS)
def test_constant_value_with_a_termination(gamma, lam):
    # rewards 1, V = c everywhere, terminal at the last step: delta_t = 1 + (gamma - 1) c except the last,
    # which is 1 - c; A_t = sum_l (gamma lam)^l delta_{t+l}
    T, c = 5, 2.0
    dones = torch.zeros(T)
    dones[-1] = 1.0
    delta = [1 + (gamma - 1) * c] * (T - 1) + [1 - c]
    expected = [sum((gamma * lam) ** l * delta[t + l] for l in range(T - t)) for t in range(T)]
    assert _close(gae(torch.ones(T), torch.full((T,), c), dones, torch.tensor(50.0), gamma, lam), expected)


def test_episode_boundary_in_the_middle_by_hand():
    rewards, values = torch.ones(4), torch.full((4,), 0.5)
    dones = torch.tensor([0.0, 1.0, 0.0, 0.0])
    # gamma = lam = 1: old episode [1.5, 0.5], new episode bootstrapped with V(s_T) = 2: [3.5, 2.5]
    assert _close(gae(rewards, values, dones, torch.tensor(2.0), 1.0, 1.0), [1.5, 0.5, 3.5, 2.5])
    # gamma = 0.5, lam = 0.5: residuals [0.75, 0.5, 0.75, 1.5], gamma lam = 0.25
    assert _close(gae(rewards, values, dones, torch.tensor(2.0), 0.5, 0.5), [0.875, 0.5, 1.125, 1.5])


def test_td_residuals_by_hand():
    delta = td_residuals(torch.tensor([1.0, 1.0, 1.0]), torch.full((3,), 10.0), torch.full((3,), 10.0),
                         torch.tensor([0.0, 0.0, 1.0]), 0.9)
    assert _close(delta, [0.0, 0.0, -9.0])
    delta = td_residuals(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 3.0]), torch.tensor([3.0, 4.0]),
                         torch.tensor([0.0, 0.0]), 0.5)
    assert _close(delta, [0.5, 1.0])


def test_truncated_rollout_bootstraps_with_last_value():
    # no episode end: the last step bootstraps with V(s_T) (the rollout stopped, not the episode)
    advantages = gae(torch.zeros(3), torch.zeros(3), torch.zeros(3), torch.tensor(1.0), 0.9, 1.0)
    assert _close(advantages, [0.729, 0.81, 0.9])


# ---------------------------------------------------------------- identities, several episode layouts
LAYOUTS = {
    "no episode end": [0, 0, 0, 0, 0, 0, 0, 0],
    "terminal last step": [0, 0, 0, 0, 0, 0, 0, 1],
    "end in the middle": [0, 0, 0, 1, 0, 0, 0, 0],
    "two ends": [0, 1, 0, 0, 0, 1, 0, 0],
    "ends back to back": [0, 0, 1, 1, 0, 0, 0, 1],
    "every step terminal": [1, 1, 1, 1, 1, 1, 1, 1],
}


def _rollout(layout, seed=0):
    g = torch.Generator().manual_seed(seed)
    T = len(layout)
    return (torch.randn(T, generator=g), torch.randn(T, generator=g), torch.tensor(layout, dtype=torch.float32),
            torch.randn((), generator=g))


@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
@pytest.mark.parametrize("gamma", [0.9, 0.99, 1.0])
def test_lam_zero_is_the_td_residual(layout, gamma):
    rewards, values, dones, last_value = _rollout(LAYOUTS[layout])
    delta = td_residuals(rewards, values, _next_values(values, last_value), dones, gamma)
    assert _close(gae(rewards, values, dones, last_value, gamma, 0.0), delta)


@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
@pytest.mark.parametrize("gamma", [0.9, 0.99, 1.0])
def test_lam_one_is_the_monte_carlo_advantage(layout, gamma):
    rewards, values, dones, last_value = _rollout(LAYOUTS[layout])
    # Monte Carlo, written directly: discounted rewards to the episode's end (or to the rollout's end,
    # then V(s_T)), minus V(s_t)
    T = len(rewards)
    expected = []
    for t in range(T):
        total, discount, s = 0.0, 1.0, t
        while True:
            total += discount * float(rewards[s])
            if dones[s]:
                break
            discount *= gamma
            s += 1
            if s == T:
                total += discount * float(last_value)
                break
        expected.append(total - float(values[t]))
    assert _close(gae(rewards, values, dones, last_value, gamma, 1.0), expected, atol=1e-4)
    assert _close(bootstrapped_returns(rewards, dones, last_value, gamma) - values, expected, atol=1e-4)


@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
@pytest.mark.parametrize("lam", [0.0, 0.5, 0.95, 1.0])
def test_gae_is_the_exponential_average_of_k_step_advantages(layout, lam):
    # hat A^GAE_t = (1 - lam) sum_{k >= 1} lam^(k-1) hat A^(k)_t; with a finite rollout A^(k) = A^(T) for
    # k >= T, so the tail weight lam^(T-1) goes to A^(T)
    rewards, values, dones, last_value = _rollout(LAYOUTS[layout], seed=1)
    gamma, T = 0.9, len(rewards)
    k_step = [k_step_advantage(rewards, values, dones, last_value, gamma, k) for k in range(1, T + 1)]
    mixture = sum((1 - lam) * lam ** (k - 1) * k_step[k - 1] for k in range(1, T)) + lam ** (T - 1) * k_step[-1]
    assert _close(gae(rewards, values, dones, last_value, gamma, lam), mixture, atol=1e-4)


@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
@pytest.mark.parametrize("lam", LAMS)
def test_lambda_returns_are_advantages_plus_values(layout, lam):
    rewards, values, dones, last_value = _rollout(LAYOUTS[layout], seed=2)
    assert _close(lambda_returns(rewards, values, dones, last_value, 0.99, lam),
                  gae(rewards, values, dones, last_value, 0.99, lam) + values, atol=1e-4)


@pytest.mark.parametrize("lam", [0.0, 0.9, 1.0])
def test_columns_of_a_batch_equal_single_rollouts(lam):
    layouts = list(LAYOUTS.values())
    cols = [_rollout(layout, seed=i) for i, layout in enumerate(layouts)]
    rewards, values, dones = (torch.stack([c[j] for c in cols], 1) for j in range(3))
    last_value = torch.stack([c[3] for c in cols])
    batch = gae(rewards, values, dones, last_value, 0.99, lam)
    batch_td = td_residuals(rewards, values, _next_values(values, last_value), dones, 0.99)
    batch_lr = lambda_returns(rewards, values, dones, last_value, 0.99, lam)
    batch_br = bootstrapped_returns(rewards, dones, last_value, 0.99)
    assert batch.shape == rewards.shape == (8, len(layouts))
    for i, (r, v, d, lv) in enumerate(cols):
        assert _close(batch[:, i], gae(r, v, d, lv, 0.99, lam))
        assert _close(batch_td[:, i], td_residuals(r, v, _next_values(v, lv), d, 0.99))
        assert _close(batch_lr[:, i], lambda_returns(r, v, d, lv, 0.99, lam))
        assert _close(batch_br[:, i], bootstrapped_returns(r, d, lv, 0.99))


def test_bool_dones_are_accepted_by_the_references():
    rewards, values, dones, last_value = _rollout(LAYOUTS["two ends"])
    assert _close(gae(rewards, values, dones.bool(), last_value, 0.9, 0.9), gae(rewards, values, dones, last_value,
                                                                               0.9, 0.9))
