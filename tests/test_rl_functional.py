"""The reference spine math of course_utils.answers, checked three ways: against plain
loops written from the definitions, on cases worked out by hand, and against each other
(gae with lam=0 is td_residuals, with lam=1 the Monte-Carlo advantage)."""
from __future__ import annotations

import pytest
import torch

from course_utils.answers import discounted_return, gae, pg_loss, reward_to_go, td_residuals

pytestmark = pytest.mark.numerics  # run again under another float path (scripts/test.sh)

GAMMAS = [0.0, 0.5, 0.9, 0.99, 1.0]
LAMS = [0.0, 0.5, 0.95, 1.0]


def close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-5) -> bool:
    return torch.allclose(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64), rtol=tol, atol=tol)


# ---------------------------------------------------------------- slow definitions to compare with


def return_by_definition(rewards: torch.Tensor, gamma: float) -> float:
    return sum(gamma**t * float(r) for t, r in enumerate(rewards))


def gae_by_definition(rewards, values, dones, last_value, gamma, lam) -> torch.Tensor:
    """hat A_t = sum_l (gamma lam)^l delta_{t+l}, summed explicitly up to the episode's end."""
    T = len(rewards)
    next_values = torch.cat([values[1:], torch.as_tensor(last_value).reshape(1)])
    delta = [float(rewards[k] + gamma * (1 - dones[k]) * next_values[k] - values[k]) for k in range(T)]
    advantages = torch.zeros(T, dtype=torch.float64)
    for t in range(T):
        for k in range(t, T):
            advantages[t] += (gamma * lam) ** (k - t) * delta[k]
            if dones[k]:
                break
    return advantages


def mc_returns(rewards, dones, last_value, gamma) -> torch.Tensor:
    """G_t = sum of discounted rewards to the episode's end, + gamma^(T-t) V(s_T) if it has not ended."""
    T = len(rewards)
    G = torch.zeros(T, dtype=torch.float64)
    for t in range(T):
        for k in range(t, T):
            G[t] += gamma ** (k - t) * float(rewards[k])
            if dones[k]:
                break
        else:
            G[t] += gamma ** (T - t) * float(last_value)
    return G


def random_rollout(T: int, N: int | None = None, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    shape = (T,) if N is None else (T, N)
    rewards = torch.randn(shape, generator=g)
    values = torch.randn(shape, generator=g)
    dones = (torch.rand(shape, generator=g) < 0.2).float()
    last_value = torch.randn(shape[1:], generator=g)
    return rewards, values, dones, last_value


# ---------------------------------------------------------------- discounted_return


def test_discounted_return_hand_cases():
    assert close(discounted_return(torch.tensor([1.0, 1.0, 1.0]), 0.5), torch.tensor(1.75))
    assert close(discounted_return(torch.ones(500), 1.0), torch.tensor(500.0))
    assert close(discounted_return(torch.ones(500), 0.99), torch.tensor((1 - 0.99**500) / 0.01), tol=1e-4)
    assert close(discounted_return(torch.tensor([0.0, 0.0, 2.0]), 0.9), torch.tensor(2 * 0.81))
    assert discounted_return(torch.ones(3), 0.9).shape == ()


@pytest.mark.parametrize("gamma", GAMMAS)
def test_discounted_return_matches_definition(gamma):
    rewards = torch.randn(57, generator=torch.Generator().manual_seed(1))
    assert close(discounted_return(rewards, gamma), torch.tensor(return_by_definition(rewards, gamma)), tol=1e-4)


# ---------------------------------------------------------------- reward_to_go


def test_reward_to_go_hand_cases():
    assert close(reward_to_go(torch.tensor([1.0, 1.0, 1.0])), torch.tensor([3.0, 2.0, 1.0]))
    assert close(reward_to_go(torch.tensor([0.0, 0.0, 1.0]), 0.9), torch.tensor([0.81, 0.9, 1.0]))
    assert close(reward_to_go(torch.tensor([5.0]), 0.3), torch.tensor([5.0]))


@pytest.mark.parametrize("gamma", GAMMAS)
def test_reward_to_go_matches_definition_and_matrix_form(gamma):
    rewards = torch.randn(40, generator=torch.Generator().manual_seed(2))
    rtg = reward_to_go(rewards, gamma)
    by_definition = torch.tensor([return_by_definition(rewards[t:], gamma) for t in range(40)])
    # vectorised: hat R = U r with U[t, t'] = gamma^(t'-t) for t' >= t
    t = torch.arange(40, dtype=torch.float64)
    U = torch.triu(torch.where(t[None] >= t[:, None], gamma ** (t[None] - t[:, None]).clamp(min=0), 0.0))
    assert rtg.shape == (40,) and rtg.dtype == torch.float32
    assert close(rtg, by_definition, tol=1e-4)
    assert close(rtg, U @ rewards.double(), tol=1e-4)
    assert close(rtg[0], discounted_return(rewards, gamma), tol=1e-4)


def test_reward_to_go_batch_is_columnwise():
    rewards = torch.randn(30, 4, generator=torch.Generator().manual_seed(3))
    batch = reward_to_go(rewards, 0.9)
    for i in range(4):
        assert close(batch[:, i], reward_to_go(rewards[:, i], 0.9))


# ---------------------------------------------------------------- pg_loss


def test_pg_loss_value_and_gradient_closed_form():
    logp = torch.tensor([-0.7, -0.7], requires_grad=True)
    weights = torch.tensor([1.0, 3.0], requires_grad=True)
    loss = pg_loss(logp, weights)
    assert loss.shape == () and close(loss, torch.tensor(1.4))
    loss.backward()
    assert close(logp.grad, -weights.detach() / 2)  # d/d logp_i = -w_i / M
    assert weights.grad is None  # the weights are constants


def test_pg_loss_gradient_through_a_softmax_policy():
    # d/dz of -1/M sum_i w_i log softmax(z_i)[a_i] = -1/M w_i (onehot(a_i) - softmax(z_i))
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(16, 3, generator=g, requires_grad=True)
    actions = torch.randint(0, 3, (16,), generator=g)
    weights = torch.randn(16, generator=g)
    logp = torch.log_softmax(logits, -1).gather(1, actions[:, None]).squeeze(1)
    pg_loss(logp, weights).backward()
    onehot = torch.nn.functional.one_hot(actions, 3).float()
    expected = -(weights[:, None] * (onehot - torch.softmax(logits.detach(), -1))) / 16
    assert close(logits.grad, expected)


# ---------------------------------------------------------------- td_residuals


def test_td_residuals_hand_cases():
    r, v, nv = torch.tensor([1.0, 1.0]), torch.tensor([10.0, 10.0]), torch.tensor([10.0, 10.0])
    assert close(td_residuals(r, v, nv, torch.tensor([0.0, 1.0]), 0.9), torch.tensor([0.0, -9.0]))
    assert close(td_residuals(r, v, nv, torch.tensor([False, True]), 0.9), torch.tensor([0.0, -9.0]))


# ---------------------------------------------------------------- gae


@pytest.mark.parametrize("gamma", [0.5, 0.9, 0.99, 1.0])
@pytest.mark.parametrize("lam", LAMS)
def test_gae_matches_definition_across_episode_boundaries(gamma, lam):
    rewards, values, dones, last_value = random_rollout(40, seed=5)
    assert dones.sum() >= 3  # several episodes inside the rollout
    got = gae(rewards, values, dones, last_value, gamma, lam)
    assert got.shape == (40,)
    assert close(got, gae_by_definition(rewards, values, dones, last_value, gamma, lam), tol=1e-4)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_gae_lambda_zero_is_td_residuals(gamma):
    rewards, values, dones, last_value = random_rollout(30, 3, seed=6)
    next_values = torch.cat([values[1:], last_value[None]])
    expected = td_residuals(rewards, values, next_values, dones, gamma)
    assert close(gae(rewards, values, dones, last_value, gamma, 0.0), expected)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_gae_lambda_one_is_monte_carlo_advantage(gamma):
    rewards, values, dones, last_value = random_rollout(30, seed=7)
    expected = mc_returns(rewards, dones, last_value, gamma) - values.double()
    assert close(gae(rewards, values, dones, last_value, gamma, 1.0), expected, tol=1e-4)


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("lam", LAMS)
def test_gae_reward_only_at_last_step(gamma, lam):
    # values 0, one terminal reward of 1: delta = r, so hat A_t = (gamma lam)^(T-1-t)
    T = 6
    rewards = torch.zeros(T)
    rewards[-1] = 1.0
    dones = torch.zeros(T)
    dones[-1] = 1.0
    got = gae(rewards, torch.zeros(T), dones, torch.tensor(123.0), gamma, lam)
    expected = torch.tensor([(gamma * lam) ** (T - 1 - t) for t in range(T)])
    assert close(got, expected)


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("lam", LAMS)
def test_gae_constant_values_no_reward(gamma, lam):
    # V = c everywhere, no reward, no end: delta = (gamma - 1) c at every step
    T, c = 8, 2.0
    got = gae(torch.zeros(T), torch.full((T,), c), torch.zeros(T), torch.tensor(c), gamma, lam)
    expected = torch.tensor([(gamma - 1) * c * sum((gamma * lam) ** l for l in range(T - t)) for t in range(T)])
    assert close(got, expected)


def test_gae_constant_values_are_exact_for_a_constant_reward():
    # r = 1, V = 1 / (1 - gamma) is the true value of an endless episode: every delta is 0
    gamma = 0.9
    got = gae(torch.ones(10), torch.full((10,), 10.0), torch.zeros(10), torch.tensor(10.0), gamma, 0.95)
    assert close(got, torch.zeros(10), tol=1e-4)


def test_gae_does_not_look_across_a_termination():
    rewards, values, dones, last_value = random_rollout(20, seed=8)
    dones[9] = 1.0
    before = gae(rewards, values, dones, last_value, 0.99, 0.95)[:10]
    rewards[10:] += 100.0
    values[10:] -= 50.0
    after = gae(rewards, values, dones, last_value + 7.0, 0.99, 0.95)[:10]
    assert close(before, after)


def test_gae_batch_is_columnwise():
    rewards, values, dones, last_value = random_rollout(25, 5, seed=9)
    batch = gae(rewards, values, dones, last_value, 0.99, 0.95)
    assert batch.shape == (25, 5)
    for i in range(5):
        assert close(batch[:, i], gae(rewards[:, i], values[:, i], dones[:, i], last_value[i], 0.99, 0.95))
    assert close(batch, gae(rewards, values, dones.bool(), last_value, 0.99, 0.95))
