"""Chapter 07, TRPO: conjugate gradient, Fisher-vector products, the trust-region step, and the whole TRPO
update written by the learner (the loop item trpo_update, graded by lock-step replay).

Why the conjugate-gradient check compares iterates. After k iterations CG returns the unique
minimiser of the A-norm error ||x - A^-1 b||_A over the Krylov space span{b, ..., A^(k-1) b};
every correct arrangement of the algorithm computes this same x_k and they differ only by
rounding. The cases are float64 systems whose condition numbers reach 1e4 with budgets of 3-10
iterations (far from convergence, so a solver that ignores ``iters`` is caught); there, correct
implementations (the answer, the textbook layout, a "recompute r = b - A x" variant and a
Krylov projection on an orthonormal basis) agree to 1.4e-14 relative (measured), so the
default rtol 1e-4 / atol 1e-5 is loose for them and tight for every catalogued mistake (those
are off by 1e-2 or more).

A second, float32 check asks what TRPO needs: on a 200-dimensional system with condition
number 1e5 and 10 iterations, the residual ||b - A x|| must match the answer CG's within
1%. There, correct float32 implementations differ from the answer by at most 9e-6 relative
in that residual (and float64 by 2e-6), while one iteration more or fewer changes it by +6% and
-19%, and steepest descent by -75% (measured): a 1% band separates them with margin.

Why trpo_update's cases are float64 and what they test. The update's record (the four statistics,
then theta_new) depends on the line search's discrete decisions, so each case is built so that
every candidate tried has its KL at least 0.5% away from delta and its surrogate gain at least
1e-3 away from 0 (tests/test_loop_ch07.py recomputes them): a correct variant cannot decide
otherwise by rounding. In float32, CG on a Fisher matrix damped by 0.001-0.01 amplified the
rounding of an equivalent KL formula to 2e-5 in theta_new (measured), too close to the tolerance;
in float64 correct variants agree to ~1e-10. The seven cases: one worked by hand (one
parameter, L = tanh, KL = log cosh), the full step breaking the KL limit once and twice, keeping it
while lowering the surrogate, the forward and reversed KL on either side of delta, a search that
fails within its budget, and a CartPole-sized batch with actions sampled by pi_old. Each of the 13
catalogued wrong loops is named on the first case where it differs (their order in the list
matters: a loop that piles candidates up rejects every step on case 2, as a ratio of the new
policy with itself does on case 1, so it is listed first).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.func import functional_call
from torch.nn.utils import parameters_to_vector

from course_utils.checks._common import gen
from course_utils.grading.spec import Case, Exercise, ExtraCheck, Mistake, OutcomeError
from course_utils import answers

CHAPTER = "07 TRPO"
EXERCISES: list[Exercise] = []  # in course order; course_utils.catalogue collects them
D = torch.float64


def spd_matrix(n: int, condition: float, seed: int, dtype=D) -> torch.Tensor:
    """Q diag(lambda) Q^T with eigenvalues log-spaced from 1 down to 1 / condition."""
    g = gen(seed)
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=D))
    eig = torch.logspace(0, -math.log10(condition), n, dtype=D)
    return ((Q * eig) @ Q.T).to(dtype)


class MatrixProduct:
    """The callable v -> A v handed to conjugate_gradient, named for the feedback."""

    def __init__(self, A: torch.Tensor, name: str) -> None:
        self.A, self.__name__ = A, name

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        return self.A @ v


def _cg_case(n, condition, iters, seed, name, tol=1e-10, why=None):
    A = spd_matrix(n, condition, seed)
    b = torch.randn(n, generator=gen(seed + 1), dtype=D)

    def make():
        return {"Avp": MatrixProduct(A, f"v -> A v ({n} x {n}, condition {condition:g})"), "b": b.clone(),
                "iters": iters, "tol": tol}

    return Case(name, make, why=why,
                shown=f"A: {n} x {n} SPD, eigenvalues log-spaced in [1/{condition:g}, 1]; b: random; iters = {iters}")


def _fixed_system(A, b, iters, tol=1e-10):
    def make():
        return {"Avp": MatrixProduct(A.clone(), "v -> A v"), "b": b.clone(), "iters": iters, "tol": tol}
    return make


# ---------------------------------------------------------------- conjugate_gradient mistakes
def _cg_generic(Avp, b, iters, tol, conjugate=True, beta_inverted=False, stop=True, extra=0):
    x = torch.zeros_like(b)
    r, p = b.clone(), b.clone()
    rr = r @ r
    for _ in range(iters + extra):
        if stop and rr < tol:
            break
        Ap = Avp(p)
        alpha = rr / (p @ Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        rr_new = r @ r
        if not conjugate:
            p = r
        else:
            beta = rr / rr_new if beta_inverted else rr_new / rr
            p = r + beta * p
        rr = rr_new
    return x


def _cg_runs_to_convergence(Avp, b, iters=10, tol=1e-10):
    return _cg_generic(Avp, b, 10 * len(b), 1e-20)


def _cg_steepest_descent(Avp, b, iters=10, tol=1e-10):
    return _cg_generic(Avp, b, iters, tol, conjugate=False)


def _cg_one_more(Avp, b, iters=10, tol=1e-10):
    return _cg_generic(Avp, b, iters, tol, extra=1)


def _cg_one_fewer(Avp, b, iters=10, tol=1e-10):
    return _cg_generic(Avp, b, iters, tol, extra=-1)


def _cg_beta_inverted(Avp, b, iters=10, tol=1e-10):
    return _cg_generic(Avp, b, iters, tol, beta_inverted=True)


def _cg_no_stop(Avp, b, iters=10, tol=1e-10):
    return _cg_generic(Avp, b, iters, tol, stop=False)


def _cg_cases():
    A3 = torch.diag(torch.tensor([1.0, 2.0, 4.0], dtype=D))
    return [
        Case("A = 2 I, b = [2, 4], iters = 10 (worked by hand)",
             _fixed_system(2 * torch.eye(2, dtype=D), torch.tensor([2.0, 4.0], dtype=D), 10),
             shown="Avp = v -> 2 v, b = [2, 4], iters = 10, tol = 1e-10",
             why="one step along b solves it: x = [1, 2], after which the residual is exactly 0 and r^T r < tol must "
                 "stop the loop (continuing divides 0 by 0)"),
        Case("A = diag(1, 2, 4), b = [1, 1, 1], one iteration (worked by hand)",
             _fixed_system(A3, torch.ones(3, dtype=D), 1),
             shown="Avp = v -> diag(1, 2, 4) v, b = [1, 1, 1], iters = 1",
             why="the first CG step is a steepest-descent step along b: x = (b.b / b.Ab) b = (3/7) [1, 1, 1]"),
        Case("A = diag(1, 2, 4), b = [1, 1, 1], two iterations",
             _fixed_system(A3, torch.ones(3, dtype=D), 2),
             shown="Avp = v -> diag(1, 2, 4) v, b = [1, 1, 1], iters = 2",
             why="three distinct eigenvalues: CG needs exactly 3 iterations to solve it, so after 2 it is not there yet"),
        _cg_case(30, 1e3, 5, 11, "30 x 30, condition number 1e3, 5 iterations"),
        _cg_case(60, 1e4, 10, 12, "60 x 60, condition number 1e4, 10 iterations (TRPO's budget)",
                 why="far from converged after 10 iterations: the answer is the 10-iteration iterate, not A^-1 b"),
        _cg_case(40, 10.0, 3, 13, "40 x 40, well conditioned, 3 iterations"),
    ]


def _cg_residual_args() -> dict:
    """float32, 200 x 200, condition 1e5, 10 iterations (built on both sides of the batch grader)."""
    A = spd_matrix(200, 1e5, 21, dtype=torch.float32)
    b = torch.randn(200, generator=gen(22))
    return {"Avp": MatrixProduct(A, "v -> A v"), "b": b, "iters": 10, "tol": 1e-10}


def _cg_residual_judge(args: dict, out) -> str | None:
    """The residual of the learner's x must match the answer's within 1%."""
    A, b = args["Avp"].A, args["b"]
    if out.kind != "ok":
        return "on a float32 system (200 x 200, condition 1e5) your function " + (
            "did not finish in time." if out.kind == "timeout" else "raised an error:\n" + out.error)
    try:
        x = torch.as_tensor(out.value, dtype=torch.float32).reshape(200)
    except Exception:  # noqa: BLE001
        return "on a float32 system (200 x 200) your function did not return a vector of 200 numbers."
    expected = answers.conjugate_gradient(lambda v: A @ v, b.clone(), 10)
    res_ref = float(torch.linalg.vector_norm(b - A @ expected))
    res = float(torch.linalg.vector_norm(b - A @ x))
    if not math.isfinite(res) or abs(res - res_ref) > 0.01 * res_ref:
        return (f"on a float32 system (200 x 200, condition number 1e5, iters = 10) the residual ||b - A x|| of your "
                f"answer is {res:.4g}, but 10 CG iterations reach {res_ref:.4g}. Check that you do exactly `iters` "
                "iterations and that nothing is computed in a lower precision than b.")
    return None


EXERCISES.append(Exercise(
    id="conjugate_gradient",
    kind="debug",
    bug="beta inverted",  # the handed-out code makes this mistake
    chapter=CHAPTER,
    title="conjugate gradient: solving A x = b from products A v",
    signature="conjugate_gradient(Avp callable v -> A v, b (P,), iters int = 10, tol float = 1e-10) -> (P,)",
    answer=answers.conjugate_gradient,
    cases=_cg_cases,
    extra_checks=(ExtraCheck(_cg_residual_args, _cg_residual_judge),),
    mistakes=[
        Mistake("no early stop", _cg_no_stop,
                "once the residual is 0 (the system is solved), the next step computes 0 / 0 and fills x with NaN. "
                "Stop the loop as soon as r^T r < tol."),
        Mistake("runs to convergence", _cg_runs_to_convergence,
                "you ran until the system was solved. TRPO gives CG a budget of `iters` iterations (10): the result "
                "must be the iterate after exactly `iters` steps (fewer only if r^T r < tol earlier)."),
        Mistake("one iteration too many", _cg_one_more,
                "you did iters + 1 iterations; the loop must run `iters` times."),
        Mistake("one iteration too few", _cg_one_fewer,
                "you did iters - 1 iterations; the loop must run `iters` times."),
        Mistake("steepest descent", _cg_steepest_descent,
                "the search direction is the plain residual (steepest descent). CG keeps the directions A-conjugate: "
                "p <- r + beta p with beta = (r_new . r_new) / (r_old . r_old)."),
        Mistake("beta inverted", _cg_beta_inverted,
                "beta is upside down: it is (r_new . r_new) / (r_old . r_old), the new squared residual over the old."),
    ],
    hints=[
        "CG needs nothing but products A v. What does one iteration do with the current residual r and search "
        "direction p, and when is the system already solved?",
        "Start from x = 0, so that the residual r = b - A x is b and the first direction is r. Each iteration "
        "takes the step along p that minimises the quadratic, updates x and r, then builds the next direction "
        "from the new residual plus a multiple of the old direction, which makes it A-conjugate to it. Stop early "
        "once r.r < tol.",
        "x_0 = 0, r_0 = p_0 = b; then for k = 0, 1, ...: alpha_k = (r_k . r_k) / (p_k . A p_k); x_{k+1} = x_k + "
        "alpha_k p_k; r_{k+1} = r_k - alpha_k A p_k; beta_k = (r_{k+1} . r_{k+1}) / (r_k . r_k); p_{k+1} = "
        "r_{k+1} + beta_k p_k. One product A p_k per iteration.",
    ],
    success="Ten products F v instead of forming and inverting F: for a policy with 5,000 parameters that is "
            "the difference between milliseconds and a 5,000 x 5,000 matrix.",
    timeout_s=3.0,
    timeout_hint="a `while` loop on the residual alone never ends when the residual stalls; loop over "
                 "range(iters) and break when r.r < tol.",
))


# ---------------------------------------------------------------- fisher_vector_product
class QuadraticKL:
    """kl(theta) = 1/2 sum_i h_i (theta_i - c_i)^2: its Hessian is diag(h) everywhere."""

    def __init__(self, h: torch.Tensor, c: torch.Tensor) -> None:
        self.h, self.c = h, c
        self.__name__ = "1/2 sum h_i (theta_i - c_i)^2"

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.h * (theta - self.c) ** 2).sum()


class SoftmaxPolicyKL:
    """Mean over N states of KL(pi_old(.|s) || pi_theta(.|s)) for a linear softmax policy
    logits = features @ W, theta = W.flatten(); pi_old is the policy at ``theta_old``."""

    def __init__(self, features: torch.Tensor, n_actions: int, theta_old: torch.Tensor) -> None:
        self.features, self.n_actions = features, n_actions
        self.logits_old = (features @ theta_old.reshape(features.shape[1], n_actions)).detach()
        self.__name__ = f"mean KL(pi_old || pi_theta), linear softmax policy, {features.shape[0]} states"

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        logits = self.features @ theta.reshape(self.features.shape[1], self.n_actions)
        logp_old, logp = torch.log_softmax(self.logits_old, -1), torch.log_softmax(logits, -1)
        return (logp_old.exp() * (logp_old - logp)).sum(-1).mean()


class CubicKL:
    """A non-quadratic function, sum_i theta_i^3 / 3 + (sum_i theta_i)^2 / 2: Hessian diag(2 theta) + 11^T."""

    __name__ = "sum theta_i^3 / 3 + (sum theta_i)^2 / 2"

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        return (theta**3).sum() / 3 + theta.sum() ** 2 / 2


def _fvp_cases():
    g = gen(707)
    features = torch.randn(32, 4, generator=g)
    theta_old = torch.randn(12, generator=g)
    v = torch.randn(12, generator=g)
    theta_c = torch.tensor([0.5, -1.0, 2.0])
    return [
        Case("a quadratic with Hessian diag(1, 2, 3), damping 0.1 (worked by hand)",
             lambda: {"kl_fn": QuadraticKL(torch.tensor([1.0, 2.0, 3.0]), torch.zeros(3)),
                      "theta": torch.tensor([0.3, -0.2, 0.1]), "v": torch.ones(3), "damping": 0.1},
             shown="kl_fn = 1/2 (theta_1^2 + 2 theta_2^2 + 3 theta_3^2), theta = [0.3, -0.2, 0.1], v = [1, 1, 1], "
                   "damping = 0.1",
             why="the Hessian is diag(1, 2, 3) everywhere, so (H + 0.1 I) v = [1.1, 2.1, 3.1]"),
        Case("a non-quadratic function away from its minimum, no damping",
             lambda: {"kl_fn": CubicKL(), "theta": theta_c.clone(), "v": torch.tensor([1.0, 0.0, -1.0]),
                      "damping": 0.0},
             shown="kl_fn = sum theta_i^3 / 3 + (sum theta_i)^2 / 2, theta = [0.5, -1, 2], v = [1, 0, -1], damping = 0",
             why="H = diag(2 theta) + 1 1^T, so H v = [1, 0, -4] + 0 = [1, 0, -4]; its gradient there is not 0"),
        Case("the KL of a linear softmax policy at theta_old (the Fisher matrix), damping 0.1",
             lambda: {"kl_fn": SoftmaxPolicyKL(features, 3, theta_old), "theta": theta_old.clone(), "v": v.clone(),
                      "damping": 0.1},
             shown="kl_fn = mean over 32 states of KL(pi_old || pi_theta), 4 features x 3 actions (12 parameters), "
                   "theta = theta_old, damping = 0.1"),
        Case("the same KL, evaluated away from theta_old",
             lambda: {"kl_fn": SoftmaxPolicyKL(features, 3, theta_old), "theta": theta_old + 0.5 * v,
                      "v": v.clone(), "damping": 0.01},
             shown="the same kl_fn, theta = theta_old + 0.5 v, damping = 0.01"),
    ]


def _fvp_gradient(kl_fn, theta, v, damping=0.0):
    theta = theta.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(kl_fn(theta), theta)
    return g + damping * v


def _fvp_outer(kl_fn, theta, v, damping=0.0):
    theta = theta.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(kl_fn(theta), theta)
    return g * (g @ v) + damping * v


EXERCISES.append(Exercise(
    id="fisher_vector_product",
    chapter=CHAPTER,
    title="Fisher-vector products by double back-propagation",
    signature="fisher_vector_product(kl_fn callable theta -> (), theta (P,), v (P,), damping float = 0.0) -> (P,)",
    answer=answers.fisher_vector_product,
    cases=_fvp_cases,
    mistakes=[
        Mistake("no damping", lambda kl_fn, theta, v, damping=0.0: answers.fisher_vector_product(kl_fn, theta, v, 0.0),
                "the damping term is missing: the result is H v plus damping times v. It keeps F + damping I positive definite, so "
                "conjugate gradient never divides by ~0."),
        Mistake("damping times ones", lambda kl_fn, theta, v, damping=0.0: answers.fisher_vector_product(kl_fn, theta, v, 0.0)
                + damping,
                "damping was added as a constant; it is (H + damping I) v, so add damping times the vector v itself."),
        Mistake("first derivative only", _fvp_gradient,
                "you returned the gradient of kl_fn. Differentiate a second time: the gradient of (grad kl . v) with "
                "respect to theta is H v (build the first gradient with create_graph=True)."),
        Mistake("outer product of gradients", _fvp_outer,
                "g (g . v) uses the gradient of the MEAN KL, which is 0 at theta_old. The Hessian-vector product "
                "comes from differentiating g . v once more."),
    ],
    hints=[
        "H v is the derivative of something simple. What is the gradient with respect to theta of the scalar "
        "(grad KL(theta)) . v, when v does not depend on theta?",
        "Differentiate twice. The first gradient of kl_fn must keep its own graph (create_graph) so that it can "
        "be differentiated again; its dot product with v is a scalar whose gradient is H v. Work on a fresh leaf "
        "copy of theta that requires grad, so that the caller's theta is never touched, and add damping times v "
        "at the end.",
        "g(theta) = grad_theta KL(theta), its graph kept; Hv = grad_theta (g(theta) . v); result = Hv + lambda v "
        "with lambda = damping.",
    ],
    success="Two backward passes give F v for the price of about three gradient evaluations, without ever storing "
            "the P x P matrix F.",
))


# ---------------------------------------------------------------- trust_region_step
def _trs_cases():
    g = gen(808)
    M = torch.randn(6, 6, generator=g)
    F = M @ M.T + 0.1 * torch.eye(6)
    x = torch.randn(6, generator=g)
    return [
        Case("x = [1, 0], F x = [2, 0], delta = 0.01 (worked by hand)",
             lambda: {"x": torch.tensor([1.0, 0.0]), "Fx": torch.tensor([2.0, 0.0]), "delta": 0.01},
             why="x^T F x = 2, so beta = sqrt(2 * 0.01 / 2) = 0.1 and the step is [0.1, 0]"),
        Case("x = [3, 4], F = I, delta = 0.02 (worked by hand)",
             lambda: {"x": torch.tensor([3.0, 4.0]), "Fx": torch.tensor([3.0, 4.0]), "delta": 0.02},
             why="x^T F x = 25: beta = sqrt(0.04 / 25) = 0.04, step [0.12, 0.16], whose length is sqrt(2 delta) = 0.2"),
        Case("a random 6-dimensional problem, delta = 0.05",
             lambda: {"x": x.clone(), "Fx": F @ x, "delta": 0.05}),
    ]


EXERCISES.append(Exercise(
    id="trust_region_step",
    chapter=CHAPTER,
    title="scaling the natural-gradient direction to the trust region",
    signature="trust_region_step(x (P,), Fx (P,), delta float) -> (P,)",
    answer=answers.trust_region_step,
    cases=_trs_cases,
    mistakes=[
        Mistake("factor 2 missing", lambda x, Fx, delta: torch.sqrt(delta / (x @ Fx)) * x,
                "the quadratic model of the KL is 1/2 s^T F s; setting it to delta gives beta = sqrt(2 delta / "
                "x^T F x). The factor 2 is missing."),
        Mistake("no square root", lambda x, Fx, delta: 2 * delta / (x @ Fx) * x,
                "beta^2 x^T F x / 2 = delta is quadratic in beta: take the square root, beta = sqrt(2 delta / "
                "x^T F x)."),
        Mistake("Euclidean length", lambda x, Fx, delta: torch.sqrt(2 * delta / (x @ x)) * x,
                "you measured x with the Euclidean norm x^T x. The trust region is a KL ball: measure the step with "
                "the Fisher matrix, x^T F x."),
        Mistake("along F x", lambda x, Fx, delta: torch.sqrt(2 * delta / (x @ Fx)) * Fx,
                "the step points along F x; it must point along x (which approximates F^-1 g, the natural-gradient "
                "direction), only its length comes from x^T F x."),
    ],
    hints=[
        "The step s = beta x has quadratic KL 1/2 s^T F s. For which beta > 0 does that equal delta?",
        "The quadratic KL grows like beta^2: 1/2 beta^2 x^T F x = delta. You are given F x, so x^T F x is a "
        "single dot product. Solve for beta, take the positive root, and scale x.",
        "beta = sqrt(2 delta / (x . Fx)), s = beta x: a tensor of shape (P,).",
    ],
    success="With x = F^-1 g this is the natural-gradient step sqrt(2 delta / g^T F^-1 g) F^-1 g: delta replaces "
            "the learning rate, and it is measured in nats of KL, whatever the parametrisation.",
))


# ---------------------------------------------------------------- trpo_update (a loop item)
class PolicyOnBatch:
    """The callable theta (P,) -> logits (M, A) handed to trpo_update: a small softmax policy (an MLP
    with tanh units) evaluated at flat parameters theta on M fixed states, named for the feedback."""

    def __init__(self, net: nn.Module, states: torch.Tensor, name: str) -> None:
        self.net, self.states, self.__name__ = net, states, name
        self.names = [n for n, _ in net.named_parameters()]
        self.shapes = [p.shape for p in net.parameters()]
        self.sizes = [p.numel() for p in net.parameters()]

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        params = {n: t.view(s) for n, t, s in zip(self.names, theta.split(self.sizes), self.shapes)}
        return functional_call(self.net, params, (self.states,))


class OneParameterPolicy:
    """theta (1,) -> logits [theta, -theta] in each of M states: pi(a=0) = sigmoid(2 theta)."""

    __name__ = "theta -> logits [theta, -theta] in each state"

    def __init__(self, n_states: int) -> None:
        self.n_states = n_states

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        return torch.stack([theta[0], -theta[0]]).expand(self.n_states, 2)


def _mlp_batch(seed: int, n_states: int, hidden: int, state_scale: float, init_scale: float,
               n_actions: int = 2, sample_actions: bool = False):
    """A seeded MLP softmax policy on ``n_states`` random states; actions uniform (or sampled from the policy);
    advantages standardised. Returns (logits_fn, theta_old, actions, advantages), in float64: CG on a Fisher matrix
    damped by only 0.001 amplifies float32 rounding to ~1e-4 in theta_new, float64 keeps correct variants within
    1e-10 of each other (measured), far inside the tolerances."""
    g = gen(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(4, hidden), nn.Tanh(), nn.Linear(hidden, n_actions)).to(D)
    states = (torch.randn(n_states, 4, generator=g) * state_scale).to(D)
    if sample_actions:  # the policy's own (seeded) choices, as in a rollout
        with torch.no_grad():
            probs = torch.softmax(net(states) * init_scale, -1)
        actions = torch.multinomial(probs, 1, generator=g).squeeze(-1)
    else:
        actions = torch.randint(0, n_actions, (n_states,), generator=g)
    advantages = torch.randn(n_states, generator=g).to(D)
    advantages = (advantages - advantages.mean()) / advantages.std()
    theta_old = parameters_to_vector(net.parameters()).detach() * init_scale
    name = f"theta -> logits of a 4-{hidden}-{n_actions} tanh MLP on {n_states} states"
    return PolicyOnBatch(net, states, name), theta_old, actions, advantages


def _trpo_case(name, seed, n_states, hidden, state_scale, init_scale, max_kl, damping, backtrack_iters=10,
               shown_extra="", why=None, **kw):
    def make():
        logits_fn, theta_old, actions, advantages = _mlp_batch(seed, n_states, hidden, state_scale, init_scale, **kw)
        return {"logits_fn": logits_fn, "theta_old": theta_old, "actions": actions, "advantages": advantages,
                "max_kl": max_kl, "damping": damping, "cg_iters": 10, "backtrack_iters": backtrack_iters,
                "backtrack_coeff": 0.8}
    return Case(name, make, why=why,
                shown=f"float64; a 4-{hidden}-2 tanh softmax policy ({4 * hidden + hidden + 2 * hidden + 2} parameters) on "
                      f"{n_states} states, standardised advantages; max_kl = {max_kl:g}, damping = {damping:g}, "
                      f"cg_iters = 10, backtrack_iters = {backtrack_iters}, backtrack_coeff = 0.8" + shown_extra)


def _trpo_cases():
    return [
        Case("one parameter, logits [theta, -theta] (worked by hand)",
             lambda: {"logits_fn": OneParameterPolicy(2), "theta_old": torch.zeros(1, dtype=D),
                      "actions": torch.tensor([0, 1]), "advantages": torch.tensor([1.0, -1.0], dtype=D), "max_kl": 0.02, "damping": 0.0, "cg_iters": 10,
                      "backtrack_iters": 10, "backtrack_coeff": 0.8},
             shown="logits_fn(theta) = [theta, -theta] in 2 states, theta_old = [0], actions [0, 1], advantages "
                   "[1, -1], max_kl = 0.02, damping = 0, cg_iters = 10, backtrack_iters = 10, backtrack_coeff = 0.8",
             why="L(theta) = tanh(theta) and the mean KL is log cosh(theta), so g = 1, F = 1, x = 1 and the full step "
                 "is sqrt(2 * 0.02) = 0.2; its KL log cosh(0.2) = 0.019868 <= 0.02 and its gain tanh(0.2) = 0.197375 "
                 "> 0: accepted at fraction 1, theta_new = [0.2], expected improvement g . s = 0.2"),
        _trpo_case("the full step breaks the KL limit: one step back", 3, 32, 8, 2.0, 1.0, 0.01, 0.01,
                   why="the full step's mean KL is 0.0111 > 0.01 although it improves the surrogate; 0.8 of it "
                       "(KL 0.0066) passes both tests"),
        _trpo_case("the full step breaks the KL limit twice over: two steps back", 3, 32, 8, 2.0, 2.0, 0.01, 0.003,
                   why="the mean KL of the full step is 0.020 and of 0.8 of it 0.011, both above 0.01; 0.64 of it "
                       "passes"),
        _trpo_case("the full step keeps the KL limit but makes the surrogate worse", 0, 32, 8, 2.0, 1.0, 0.01, 0.001,
                   why="the full step's KL (0.0097) is within the limit, but L drops by 0.0050: the surrogate is only "
                       "trusted near theta_old; 0.8 of the step improves it"),
        _trpo_case("KL(pi_old || pi_new) and KL(pi_new || pi_old) fall on either side of delta", 2, 32, 8, 1.0, 3.0,
                   0.01, 0.01,
                   why="the full step's KL(pi_old || pi_new) is 0.011 > 0.01, while the reversed KL(pi_new || pi_old) "
                       "is 0.0095: only the old policy first gives the trust region of the lesson"),
        _trpo_case("no candidate passes within the budget", 3, 32, 8, 2.0, 2.0, 0.01, 0.003, backtrack_iters=2,
                   why="with only 2 tries, 1 and 0.8 of the step both break the KL limit: the update must be "
                       "skipped, theta_new = theta_old and the statistics are 0"),
        _trpo_case("a CartPole-sized batch: 256 states, 16 hidden units, actions sampled by pi_old", 7, 256, 16, 1.0,
                   1.0, 0.01, 0.1, sample_actions=True, shown_extra="; actions sampled from pi_old"),
    ]


TRPO_STATS = ("step_fraction", "kl", "improvement", "expected_improvement")


def _trpo_record(args, returned):
    """The four statistics in order, then theta_new (the line search's decision first: it is what differs)."""
    if returned is None:
        raise OutcomeError("your loop returned None: return a pair (theta_new, stats).")
    if not isinstance(returned, (tuple, list)) or len(returned) != 2:
        raise OutcomeError(f"return a pair (theta_new, stats), not {type(returned).__name__}"
                           + (f" of length {len(returned)}" if isinstance(returned, (tuple, list)) else "") + ".")
    theta_new, stats = returned
    record = {}
    for key in TRPO_STATS:
        value = stats.get(key) if isinstance(stats, dict) else getattr(stats, key, None)
        if value is None:
            raise OutcomeError(f"stats has no '{key}': return a dict with the keys " + ", ".join(TRPO_STATS) + ".")
        try:
            record[key] = torch.tensor(float(value.detach() if isinstance(value, torch.Tensor) else value),
                                       dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            raise OutcomeError(f"stats['{key}'] should be a number (a float or a 0-d tensor), not "
                               f"{type(value).__name__}.") from None
    theta_new = torch.as_tensor(theta_new.detach() if isinstance(theta_new, torch.Tensor) else np.asarray(theta_new))
    n = args["theta_old"].numel()
    if theta_new.numel() != n:
        raise OutcomeError(f"theta_new should hold the {n} parameters (shape ({n},), like theta_old), not "
                           f"{theta_new.numel()} numbers.")
    record["theta_new"] = theta_new.reshape(n)
    return record


def _trpo_generic(logits_fn, theta_old, actions, advantages, max_kl, damping, cg_iters, backtrack_iters,
                  backtrack_coeff, *, kl_check=True, gain_check=True, kl_reversed=False, scaled=True,
                  ratio_with_itself=False, shrink="step", keep_last=False, use_damping=True, kl_stat="accepted",
                  gain_stat="actual", summed=False, from_previous=False):
    """A TRPO update with the catalogued mistakes as switches (all off: the answer's loop)."""
    with torch.no_grad():
        logits_old = logits_fn(theta_old)
        logp_old = answers.categorical_log_prob(logits_old, actions)

    def surrogate(theta):
        logp = answers.categorical_log_prob(logits_fn(theta), actions)
        terms = torch.exp(logp - (logp.detach() if ratio_with_itself else logp_old)) * advantages
        return terms.sum() if summed else terms.mean()

    def mean_kl(theta):
        if kl_reversed:
            return answers.kl_categorical(logits_fn(theta), logits_old).mean()
        return answers.kl_categorical(logits_old, logits_fn(theta)).mean()

    theta = theta_old.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(surrogate(theta), theta)
    Fvp = lambda v: answers.fisher_vector_product(mean_kl, theta_old, v, damping if use_damping else 0.0)  # noqa: E731
    x = answers.conjugate_gradient(Fvp, g, cg_iters, 1e-10)
    Fx = Fvp(x)
    step = answers.trust_region_step(x, Fx, max_kl) if scaled else x
    expected = float(g @ step)
    with torch.no_grad():
        L_old = float(surrogate(theta_old))
        full_kl = float(mean_kl(theta_old + step))
        candidate = theta_old
        for j in range(backtrack_iters):
            fraction = backtrack_coeff**j
            if shrink == "delta":  # the radius shrinks, and the step is rescaled to it
                candidate = theta_old + answers.trust_region_step(x, Fx, fraction * max_kl)
            elif shrink == "parameters":  # the whole parameter vector shrinks
                candidate = fraction * (theta_old + step)
            elif from_previous:  # each candidate built on the last one
                candidate = candidate + fraction * step
            else:
                candidate = theta_old + fraction * step
            gain = float(surrogate(candidate)) - L_old
            kl = float(mean_kl(candidate))
            if (kl <= max_kl or not kl_check) and (gain > 0 or not gain_check):
                return candidate, {"step_fraction": fraction, "kl": full_kl if kl_stat == "full" else kl,
                                   "improvement": gain if gain_stat == "actual" else fraction * expected,
                                   "expected_improvement": expected}
    if keep_last:
        return candidate, {"step_fraction": fraction, "kl": kl, "improvement": gain, "expected_improvement": expected}
    return theta_old.clone(), {"step_fraction": 0.0, "kl": 0.0, "improvement": 0.0, "expected_improvement": expected}


def _trpo_mistake(**switches):
    def wrong(logits_fn, theta_old, actions, advantages, max_kl, damping, cg_iters, backtrack_iters,
              backtrack_coeff):
        return _trpo_generic(logits_fn, theta_old, actions, advantages, max_kl, damping, cg_iters, backtrack_iters,
                             backtrack_coeff, **switches)
    return wrong


EXERCISES.append(Exercise(
    id="trpo_update",
    kind="loop",
    chapter=CHAPTER,
    title="the TRPO update: natural step, trust region, backtracking line search",
    signature="trpo_update(logits_fn callable theta -> (M, A), theta_old (P,), actions (M,) int64, advantages (M,), "
              "max_kl float, damping float, cg_iters int, backtrack_iters int, backtrack_coeff float) "
              "-> (theta_new (P,), stats dict)",
    answer=answers.trpo_update,
    cases=_trpo_cases,
    outcome=_trpo_record,
    record_axes={"theta_new": ("parameter",)},
    mistakes=[
        Mistake("no KL check", _trpo_mistake(kl_check=False),
                "your line search accepted a candidate whose mean KL is above max_kl: it only asked whether the "
                "surrogate improved. The quadratic model put the full step at KL = delta, but the real KL can be "
                "larger; the trust region is the constraint, so each candidate must also pass KL <= max_kl."),
        Mistake("no improvement check", _trpo_mistake(gain_check=False),
                "your line search accepted a candidate that makes the surrogate worse: it only checked the KL. "
                "Within the KL limit the surrogate can still fall (it is trusted only near theta_old); a candidate "
                "must also improve it, L(candidate) - L(theta_old) > 0."),
        Mistake("KL reversed", _trpo_mistake(kl_reversed=True),
                "your mean KL is KL(pi_new || pi_old), the old policy second. Near theta_old both directions have "
                "the same Fisher matrix, so the step is right, but the line search's test and the reported KL "
                "differ: the lesson's trust region is the mean of KL(pi_old(.|s) || pi_theta(.|s)), old policy "
                "first (kl_categorical(logits_old, logits_new))."),
        Mistake("step not scaled", _trpo_mistake(scaled=False),
                "your candidates move along CG's x itself, whose length is arbitrary (it solves F x = g, so it "
                "grows with the gradient). Scale it to the trust region's edge first: s = sqrt(2 delta / x^T F x) "
                "x (your trust_region_step), then backtrack from s."),
        Mistake("candidates built on the previous one", _trpo_mistake(from_previous=True),
                "each of your candidates adds c^j s to the previous candidate, so after a rejection the steps pile "
                "up (1 + 0.8 + ...) instead of shrinking. Every candidate starts again from theta_old: theta_old + "
                "c^j s."),
        Mistake("ratio of the new policy with itself", _trpo_mistake(ratio_with_itself=True),
                "your loop never accepted a step although the full step promises g . s > 0: every candidate's "
                "surrogate gain came out 0 (or negative). A ratio whose log pi_old is recomputed from the candidate "
                "itself is 1 everywhere, so L never changes: compute log pi_old once, from theta_old, before the "
                "search. (A step taken downhill, theta_old - c^j s or the gradient of -L, shows the same record.)"),
        Mistake("backtracking shrinks delta", _trpo_mistake(shrink="delta"),
                "your line search shrinks the radius (delta c^j) and rescales the step to it, so the candidates "
                "are sqrt(c^j) of the full step, not c^j of it. Backtracking shrinks the step itself: "
                "theta_old + c^j s, with s computed once."),
        Mistake("backtracking shrinks the parameters", _trpo_mistake(shrink="parameters"),
                "your candidates are c^j (theta_old + s): the factor shrank the whole parameter vector, not the "
                "step. Only the step is shortened: theta_old + c^j s."),
        Mistake("last candidate kept when the search fails", _trpo_mistake(keep_last=True),
                "when no candidate passed, your loop kept the last one it tried (and its statistics). A failed "
                "line search skips the update: return theta_old and statistics of 0."),
        Mistake("damping left out", _trpo_mistake(use_damping=False),
                "your Fisher-vector products have no damping: the direction and the step differ from the ones of "
                "(F + damping I). Pass damping to your fisher_vector_product, in CG and in the product F x that "
                "scales the step."),
        Mistake("KL of the full step reported", _trpo_mistake(kl_stat="full"),
                "the candidate and the step are right, but stats['kl'] is the KL of the full step: report the mean "
                "KL of the candidate you accepted."),
        Mistake("predicted improvement reported", _trpo_mistake(gain_stat="predicted"),
                "the step is right, but stats['improvement'] is the linear model's prediction c^j g . s; report "
                "the actual change of the surrogate, L(theta_new) - L(theta_old) (the lesson's table compares the "
                "two)."),
        Mistake("surrogate summed", _trpo_mistake(summed=True),
                "your step is right (the trust region fixes its length whatever the scale of g), but your "
                "surrogate is a sum over the M samples, so its improvements are M times too large: L is the mean "
                "of ratio times advantage."),
    ],
    hints=[
        "Which quantities are fixed before the search starts, and which two tests must a candidate pass before "
        "you accept it? What do you return when none passes?",
        "Freeze pi_old first: its logits and the log-probabilities of the actions taken, with no gradient. Then "
        "the surrogate and the mean KL are functions of a parameter vector; your earlier pieces give the "
        "natural direction (CG on damped Fisher-vector products of that KL at theta_old) and the step at the "
        "trust region's edge. The search tries ever shorter fractions of that one step, from theta_old each "
        "time, and stops at the first that both improves the surrogate and stays within the KL limit.",
        "L(theta) = mean_i exp(log pi_theta(a_i|s_i) - log pi_old(a_i|s_i)) A_i; D(theta) = mean_i "
        "KL(pi_old(.|s_i) || pi_theta(.|s_i)); g = grad L at theta_old; x = CG(v -> (F + nu I) v, g); s = "
        "sqrt(2 delta / x^T F x) x; for j = 0, 1, ...: theta_j = theta_old + c^j s, accept the first with "
        "L(theta_j) - L(theta_old) > 0 and D(theta_j) <= delta; none: theta_old, statistics 0.",
    ],
    success="That is TRPO's update: everything the chapter built, in the order the paper runs it. The line "
            "search is what turns a quadratic model's promise into a guarantee on the batch.",
    timeout_s=10.0,
))
