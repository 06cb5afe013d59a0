"""The theorems of chapter 06 checked numerically on exact tabular MDPs, and the linear algebra
of chapter 07 (Fisher = Hessian of the KL, conjugate gradient on ill-conditioned systems)."""
from __future__ import annotations

import math

import pytest
import torch

import course_utils
from course_utils import tabular as T
from course_utils.checks.ch07_trpo import spd_matrix
from course_utils.trainers.trpo import (
    conjugate_gradient,
    fisher_vector_product,
    kl_categorical,
    trust_region_step,
)

pytestmark = pytest.mark.numerics  # run again under another float path (scripts/test.sh)

MDPS = [(5, 3, 0.9, 0, 1.0), (8, 2, 0.95, 1, 3.0), (12, 4, 0.99, 2, 1.0), (3, 5, 0.5, 3, 5.0)]


def _pair(S, A, seed):
    return T.random_policy(S, A, seed=seed + 10, scale=1.0), T.random_policy(S, A, seed=seed + 20, scale=2.0)


@pytest.mark.parametrize("S,A,gamma,seed,sharp", MDPS)
def test_performance_difference_identity(S, A, gamma, seed, sharp):
    """J(pi') - J(pi) = 1/(1 - gamma) E_{s ~ d_pi'} E_{a ~ pi'} A^pi(s, a), exactly."""
    mdp = T.random_mdp(S, A, gamma, seed=seed, sharpness=sharp)
    pi, pi_new = _pair(S, A, seed)
    lhs = T.expected_return(mdp, pi_new) - T.expected_return(mdp, pi)
    adv = T.advantages(mdp.P, mdp.R, pi, gamma)
    d_new = T.discounted_visitation(mdp.P, pi_new, mdp.mu, gamma)
    rhs = (d_new[:, None] * pi_new * adv).sum() / (1 - gamma)
    assert torch.allclose(lhs, rhs, atol=1e-10, rtol=1e-10)
    # the surrogate uses d_pi instead of d_pi': it is NOT exact (otherwise the theory would be trivial)
    assert abs(float(T.surrogate(mdp, pi, pi_new) - T.expected_return(mdp, pi_new))) > 1e-6


@pytest.mark.parametrize("S,A,gamma,seed,sharp", MDPS)
def test_visitation_is_a_distribution_and_matches_the_series(S, A, gamma, seed, sharp):
    mdp = T.random_mdp(S, A, gamma, seed=seed, sharpness=sharp)
    pi, _ = _pair(S, A, seed)
    d = T.discounted_visitation(mdp.P, pi, mdp.mu, gamma)
    assert torch.isclose(d.sum(), torch.tensor(1.0, dtype=d.dtype)) and (d >= 0).all()
    P_pi, state, series = T.transition_matrix(mdp.P, pi), mdp.mu.clone(), torch.zeros_like(d)
    for t in range(3000):
        series += (1 - gamma) * gamma**t * state
        state = state @ P_pi
    assert torch.allclose(d, series, atol=1e-10)
    # J = 1/(1 - gamma) E_{s ~ d_pi} E_{a ~ pi} R(s, a)
    assert torch.isclose(T.expected_return(mdp, pi), (d[:, None] * pi * mdp.R).sum() / (1 - gamma))


@pytest.mark.parametrize("S,A,gamma,seed,sharp", MDPS)
def test_surrogate_matches_J_to_first_order(S, A, gamma, seed, sharp):
    mdp = T.random_mdp(S, A, gamma, seed=seed, sharpness=sharp)
    theta0 = torch.randn(S, A, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    pi0 = T.softmax_policy(theta0)

    def J(theta):
        return T.expected_return(mdp, T.softmax_policy(theta))

    def L(theta):
        return T.surrogate(mdp, pi0, T.softmax_policy(theta))

    # equal values and equal gradients at theta0 (autograd)
    th = theta0.clone().requires_grad_(True)
    (gJ,) = torch.autograd.grad(J(th), th)
    (gL,) = torch.autograd.grad(L(th), th)
    assert torch.isclose(J(theta0), L(theta0), atol=1e-12)
    assert torch.allclose(gJ, gL, atol=1e-10)
    # finite differences: the gap J - L shrinks like eps^2 (second order), not like eps
    u = torch.randn(S, A, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    gaps = [abs(float(J(theta0 + eps * u) - L(theta0 + eps * u))) for eps in (1e-2, 5e-3, 2.5e-3)]
    assert 3.5 < gaps[0] / gaps[1] < 4.5 and 3.5 < gaps[1] / gaps[2] < 4.5, gaps
    # ... while each of J and L moves linearly with eps
    assert abs(float(J(theta0 + 1e-2 * u) - J(theta0))) > 10 * gaps[0]


@pytest.mark.parametrize("S,A,gamma,seed,sharp", MDPS)
def test_cpi_lower_bound_holds_for_every_alpha(S, A, gamma, seed, sharp):
    mdp = T.random_mdp(S, A, gamma, seed=seed, sharpness=sharp)
    pi, random_other = _pair(S, A, seed)
    adv = T.advantages(mdp.P, mdp.R, pi, gamma)
    greedy = torch.nn.functional.one_hot(adv.argmax(-1), A).double()
    d = T.discounted_visitation(mdp.P, pi, mdp.mu, gamma)
    for pi_prime in (greedy, random_other):
        per_state = (pi_prime * adv).sum(-1)  # E_{a ~ pi'} A^pi(s, a)
        policy_advantage, eps = float(d @ per_state), float(per_state.abs().max())
        J0 = float(T.expected_return(mdp, pi))
        for alpha in torch.linspace(0, 1, 41).tolist():
            gain = float(T.expected_return(mdp, T.mixture(pi, pi_prime, alpha))) - J0
            bound = T.cpi_lower_bound(policy_advantage, eps, alpha, gamma)
            assert gain >= bound - 1e-12, (alpha, gain, bound)
        # the bound is tight to first order: slope alpha A / (1 - gamma) at alpha = 0
        small = 1e-4
        slope = (float(T.expected_return(mdp, T.mixture(pi, pi_prime, small))) - J0) / small
        assert math.isclose(slope, policy_advantage / (1 - gamma), rel_tol=1e-2, abs_tol=1e-6)


def test_pinsker_and_the_tv_kl_relations():
    g = torch.Generator().manual_seed(0)
    for scale in (0.1, 1.0, 5.0):
        lp = torch.log_softmax(scale * torch.randn(2000, 6, generator=g), -1)
        lq = torch.log_softmax(scale * torch.randn(2000, 6, generator=g), -1)
        tv = 0.5 * (lp.exp() - lq.exp()).abs().sum(-1)
        kl = kl_categorical(lp, lq)
        assert (kl >= -1e-7).all()
        assert (tv <= torch.sqrt(kl / 2) + 1e-6).all()  # Pinsker
        assert (tv**2 <= kl + 1e-6).all()  # the looser form TRPO's paper uses
    # nearly tight for close distributions: tv^2 / (kl / 2) -> 1 for p = (1/2 + e, 1/2 - e)
    e = 1e-3
    p, q = torch.tensor([[0.5 + e, 0.5 - e]]).log(), torch.tensor([[0.5, 0.5]]).log()
    kl = kl_categorical(p.double(), q.double())
    assert math.isclose(float((e**2) / (kl / 2)), 1.0, rel_tol=1e-3)


@pytest.mark.parametrize("S,A,gamma,seed,sharp", MDPS)
def test_kl_penalised_lower_bound(S, A, gamma, seed, sharp):
    """J(pi~) >= L_pi(pi~) - 4 eps gamma / (1 - gamma)^2 * TV_max^2 >= L - C KL_max."""
    mdp = T.random_mdp(S, A, gamma, seed=seed, sharpness=sharp)
    pi, _ = _pair(S, A, seed)
    adv = T.advantages(mdp.P, mdp.R, pi, gamma)
    C = 4 * float(adv.abs().max()) * gamma / (1 - gamma) ** 2
    g = torch.Generator().manual_seed(seed)
    logits = pi.log()
    for size in (0.01, 0.1, 0.5, 2.0):
        for _ in range(5):
            new = T.softmax_policy(logits + size * torch.randn(S, A, generator=g, dtype=torch.float64))
            J_new, L_new = float(T.expected_return(mdp, new)), float(T.surrogate(mdp, pi, new))
            assert J_new >= L_new - C * float(T.tv_max(pi, new)) ** 2 - 1e-12
            assert J_new >= L_new - C * float(T.kl_max(pi, new)) - 1e-12


def test_minorise_maximise_iteration_improves_monotonically():
    """Maximising M(pi) = L_pi_k(pi) - C KL_max(pi_k, pi) never decreases J (the MM argument)."""
    mdp = T.random_mdp(6, 3, 0.8, seed=4)
    logits = torch.zeros(6, 3, dtype=torch.float64)
    returns = [float(T.expected_return(mdp, T.softmax_policy(logits)))]
    for _ in range(5):
        pi_k = T.softmax_policy(logits)
        C = 4 * float(T.advantages(mdp.P, mdp.R, pi_k, mdp.gamma).abs().max()) * mdp.gamma / (1 - mdp.gamma) ** 2
        theta = logits.clone().requires_grad_(True)
        opt = torch.optim.Adam([theta], lr=0.02)
        for _ in range(100):
            pi = T.softmax_policy(theta)
            M = T.surrogate(mdp, pi_k, pi) - C * (pi_k * (pi_k.log() - pi.log())).sum(-1).max()
            opt.zero_grad()
            (-M).backward()
            opt.step()
        logits = theta.detach()
        returns.append(float(T.expected_return(mdp, T.softmax_policy(logits))))
    assert all(b >= a - 1e-9 for a, b in zip(returns, returns[1:])), returns
    assert returns[-1] > returns[0]


def _linear_softmax(S=20, F=4, A=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    features, theta_old = torch.randn(S, F, generator=g, dtype=torch.float64), torch.randn(F * A, generator=g,
                                                                                          dtype=torch.float64)
    logits_old = features @ theta_old.reshape(F, A)

    def mean_kl(theta):
        return kl_categorical(logits_old, features @ theta.reshape(F, A)).mean()

    return features, theta_old, logits_old, mean_kl, (F, A)


def test_fisher_is_the_hessian_of_the_kl():
    features, theta_old, logits_old, mean_kl, (F, A) = _linear_softmax()
    probs = torch.softmax(logits_old, -1)
    # Fisher = E_s E_{a ~ pi} [grad log pi(a|s) grad log pi(a|s)^T], enumerated exactly
    fisher = torch.zeros(F * A, F * A, dtype=torch.float64)
    for s in range(features.shape[0]):
        for a in range(A):
            theta = theta_old.clone().requires_grad_(True)
            logp = torch.log_softmax(features[s] @ theta.reshape(F, A), -1)[a]
            (score,) = torch.autograd.grad(logp, theta)
            fisher += probs[s, a] * torch.outer(score, score) / features.shape[0]
    hessian = torch.autograd.functional.hessian(mean_kl, theta_old)
    assert torch.allclose(fisher, hessian, atol=1e-10)
    # the gradient of the KL vanishes at theta_old, so the KL is quadratic to leading order
    theta = theta_old.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(mean_kl(theta), theta)
    assert grad.abs().max() < 1e-12
    # and the double-backprop product agrees with the explicit matrix
    v = torch.randn(F * A, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert torch.allclose(fisher_vector_product(mean_kl, theta_old, v, 0.1), fisher @ v + 0.1 * v, atol=1e-10)


def test_natural_step_has_the_requested_kl_and_is_parametrisation_invariant():
    features, theta_old, logits_old, mean_kl, (F, A) = _linear_softmax(seed=2)
    # g: the gradient of an expected reward (it lies in the range of F; the shift of all logits by
    # a constant is a direction in which neither the policy nor the objective changes)
    rewards = torch.randn(features.shape[0], A, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    theta = theta_old.clone().requires_grad_(True)
    (g,) = torch.autograd.grad((torch.softmax(features @ theta.reshape(F, A), -1) * rewards).sum(-1).mean(), theta)
    Fvp = lambda v: fisher_vector_product(mean_kl, theta_old, v, 1e-8)  # noqa: E731
    x = conjugate_gradient(Fvp, g, iters=F * A * 3, tol=1e-30)
    for delta in (1e-5, 1e-4, 1e-3):
        step = trust_region_step(x, Fvp(x), delta)
        assert math.isclose(float(mean_kl(theta_old + step)), delta, rel_tol=0.1)
    # reparametrise theta = M phi (M invertible): the natural step, mapped back, is the same
    M = torch.randn(F * A, F * A, generator=torch.Generator().manual_seed(5), dtype=torch.float64) + 3 * torch.eye(F * A)
    phi_old = torch.linalg.solve(M, theta_old)
    kl_phi = lambda phi: mean_kl(M @ phi)  # noqa: E731
    g_phi = M.T @ g  # chain rule for the gradient of the same objective
    Fvp_phi = lambda v: fisher_vector_product(kl_phi, phi_old, v, 0.0)  # noqa: E731
    x_phi = conjugate_gradient(Fvp_phi, g_phi, iters=200, tol=1e-30)
    step_theta = trust_region_step(x, Fvp(x), 1e-4)
    step_phi = trust_region_step(x_phi, Fvp_phi(x_phi), 1e-4)

    def new_policy(step):  # compare in policy space: F has a null space (shifts of all logits)
        return torch.softmax(features @ (theta_old + step).reshape(F, A), -1)

    assert torch.allclose(new_policy(M @ step_phi), new_policy(step_theta), atol=1e-8)
    # the plain gradient step, scaled to the same Euclidean length, is not invariant
    plain_theta, plain_phi = g / g.norm() * 0.01, M @ (g_phi / g_phi.norm()) * 0.01
    assert (new_policy(plain_theta) - new_policy(plain_phi)).abs().max() > 1e-3


@pytest.mark.parametrize("condition", [1e2, 1e4, 1e6])
def test_conjugate_gradient_on_ill_conditioned_systems(condition):
    n = 50
    A = spd_matrix(n, condition, seed=7)
    b = torch.randn(n, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    x_star = torch.linalg.solve(A, b)

    def a_norm_error(x):
        e = x - x_star
        return float(e @ A @ e) ** 0.5

    errors = [a_norm_error(conjugate_gradient(lambda v: A @ v, b, k, 0.0)) for k in range(0, 21)]
    # CG minimises the A-norm error over growing Krylov spaces: it never increases
    assert all(e1 <= e0 * (1 + 1e-9) for e0, e1 in zip(errors, errors[1:]))
    # the classical bound: error_k <= 2 ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^k error_0
    rho = (math.sqrt(condition) - 1) / (math.sqrt(condition) + 1)
    assert all(errors[k] <= 2 * rho**k * errors[0] * (1 + 1e-6) for k in range(21))
    # with a budget of 10 iterations an ill-conditioned system is far from solved
    if condition >= 1e4:
        assert errors[10] > 1e-3 * errors[0]


def test_conjugate_gradient_needs_few_iterations_when_few_eigenvalues_dominate():
    """Fisher matrices of policies have a few large eigenvalues: CG captures them first."""
    n = 200
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    eig = torch.cat([torch.tensor([100.0, 50.0, 20.0, 10.0, 5.0], dtype=torch.float64), torch.full((n - 5,), 0.1)])
    A = (Q * eig) @ Q.T
    b = torch.randn(n, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x = conjugate_gradient(lambda v: A @ v, b, iters=6, tol=0.0)
    assert torch.allclose(x, torch.linalg.solve(A, b), atol=1e-8)  # 5 outliers + 1 cluster = 6 iterations


def test_cg_grader_compares_residuals_on_a_float32_system():
    """The cases are float64 iterates; a second check runs a float32 system with condition number
    1e5 and compares the residual with the reference CG's. Probe it with a solver that is right
    in float64 and does one iteration too many in float32."""

    def extra_iteration_in_float32(Avp, b, iters=10, tol=1e-10):
        return conjugate_gradient(Avp, b, iters + (b.dtype == torch.float32), tol)

    def bfloat16_products(Avp, b, iters=10, tol=1e-10):
        return conjugate_gradient(lambda v: Avp(v).to(torch.bfloat16).to(v.dtype), b, iters, tol)

    res = course_utils.grade("conjugate_gradient", extra_iteration_in_float32)
    assert not res.passed and "residual" in res.message and "10 CG iterations reach" in res.message
    assert not course_utils.grade("conjugate_gradient", bfloat16_products).passed
    assert course_utils.grade("conjugate_gradient", conjugate_gradient).passed
