"""The TRPO update as one loop (chapter 07): from a batch to the next policy parameters.

The chapter's pieces, put together in the order of the lesson's section 7: the surrogate and its
gradient g, the natural direction x ~ F^-1 g by conjugate gradient on damped Fisher-vector
products, the step s scaled to the trust region's edge, then the backtracking line search that
accepts the first candidate theta_old + c^j s that improves the surrogate AND keeps the mean
KL(pi_old || pi_new) within delta. ``train_trpo`` runs this function (or the learner's).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from course_utils.answers.log_probs import categorical_log_prob
from course_utils.answers.trust_region import conjugate_gradient as _conjugate_gradient
from course_utils.answers.trust_region import fisher_vector_product as _fisher_vector_product
from course_utils.answers.trust_region import kl_categorical
from course_utils.answers.trust_region import trust_region_step as _trust_region_step

__all__ = ["trpo_update"]


def trpo_update(logits_fn: Callable[[Tensor], Tensor], theta_old: Tensor, actions: Tensor, advantages: Tensor,
                max_kl: float = 0.01, damping: float = 0.1, cg_iters: int = 10, backtrack_iters: int = 10,
                backtrack_coeff: float = 0.8, *, log_prob: Callable | None = None, kl: Callable | None = None,
                conjugate_gradient: Callable | None = None, fisher_vector_product: Callable | None = None,
                trust_region_step: Callable | None = None) -> tuple[Tensor, dict[str, float]]:
    """One TRPO update: maximise L(theta) = mean_i ratio_i A_i subject to mean KL(pi_old || pi_theta) <= delta.

    logits_fn:   theta (P,) -> logits (M, A) of the policy at flat parameters theta on the batch's M states.
    theta_old:   (P,) the parameters that collected the batch (pi_old); never changed.
    actions:     (M,) int64 actions taken; advantages: (M,) their (normalised) advantage estimates.
    max_kl:      delta, the trust-region radius in nats (0.01). damping: nu in (F + nu I) v (0.1).
    cg_iters:    conjugate-gradient iterations (10). The line search tries the fractions
                 backtrack_coeff^j of the full step, j = 0 .. backtrack_iters - 1 (0.8, 10).
    Returns (theta_new (P,), stats): stats["step_fraction"] is c^j of the accepted candidate,
    stats["kl"] its mean KL, stats["improvement"] its L(theta_new) - L(theta_old), and
    stats["expected_improvement"] is g . s of the full step (the linear model's promise). When no
    candidate passes, theta_new is theta_old and the first three are 0.

    The keyword-only arguments are the trainer's hooks (a Gaussian policy's log-density and KL, a
    learner's pieces plugged in); None means the course's answer for a softmax policy.
    """
    log_prob = log_prob or categorical_log_prob
    kl = kl or kl_categorical
    conjugate_gradient = conjugate_gradient or _conjugate_gradient
    fisher_vector_product = fisher_vector_product or _fisher_vector_product
    trust_region_step = trust_region_step or _trust_region_step

    with torch.no_grad():
        logits_old = logits_fn(theta_old)  # pi_old on the batch: a constant of the update
        logp_old = log_prob(logits_old, actions)  # stored once, before any candidate exists

    def surrogate(theta: Tensor) -> Tensor:
        """L(theta) = mean_i exp(log pi_theta(a_i|s_i) - log pi_old(a_i|s_i)) A_i."""
        ratio = torch.exp(log_prob(logits_fn(theta), actions) - logp_old)
        return (ratio * advantages).mean()

    def mean_kl(theta: Tensor) -> Tensor:
        """D(theta) = mean_i KL(pi_old(.|s_i) || pi_theta(.|s_i)): old policy first."""
        return kl(logits_old, logits_fn(theta)).mean()

    # the natural direction x ~ (F + nu I)^-1 g, and the step s = beta x at the trust region's edge
    theta = theta_old.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(surrogate(theta), theta)

    def Fvp(v: Tensor) -> Tensor:
        return fisher_vector_product(mean_kl, theta_old, v, damping)

    x = conjugate_gradient(Fvp, g, cg_iters, 1e-10)
    step = trust_region_step(x, Fvp(x), max_kl)
    expected_improvement = float(g @ step)

    # backtracking line search: the first fraction c^j whose candidate passes both tests
    with torch.no_grad():
        L_old = float(surrogate(theta_old))
        for j in range(backtrack_iters):
            fraction = backtrack_coeff**j
            candidate = theta_old + fraction * step
            improvement = float(surrogate(candidate)) - L_old
            kl_new = float(mean_kl(candidate))
            if kl_new <= max_kl and improvement > 0:
                return candidate, {"step_fraction": fraction, "kl": kl_new, "improvement": improvement,
                                   "expected_improvement": expected_improvement}
    return theta_old.detach().clone(), {"step_fraction": 0.0, "kl": 0.0, "improvement": 0.0,
                                        "expected_improvement": expected_improvement}
