"""Correct TRPO updates written differently from the answer (chapter 07's loop item, trpo_update).

Each must pass the check: they differ from the answer only in ways that do not change the update
(another log-probability and KL formula, the step shortened in place, a while loop, statistics as
0-d tensors or attributes, their own conjugate gradient and Hessian-vector product).
"""
from __future__ import annotations

from types import SimpleNamespace

import torch
from torch.distributions import Categorical, kl_divergence

from course_utils import answers


def trpo_update_distributions(logits_fn, theta_old, actions, advantages, max_kl, damping, cg_iters,
                              backtrack_iters, backtrack_coeff):
    """torch.distributions for log-probabilities and the KL; the candidate step shortened in place;
    statistics returned as 0-d tensors."""
    with torch.no_grad():
        pi_old = Categorical(logits=logits_fn(theta_old))
        logp_old = pi_old.log_prob(actions)

    def surrogate(theta):
        return (torch.exp(Categorical(logits=logits_fn(theta)).log_prob(actions) - logp_old) * advantages).mean()

    def mean_kl(theta):
        return kl_divergence(pi_old, Categorical(logits=logits_fn(theta))).mean()

    theta = theta_old.clone().requires_grad_(True)
    g = torch.autograd.grad(surrogate(theta), theta)[0]
    Fvp = lambda v: answers.fisher_vector_product(mean_kl, theta_old, v, damping)  # noqa: E731
    x = answers.conjugate_gradient(Fvp, g, cg_iters)
    full_step = answers.trust_region_step(x, Fvp(x), max_kl)
    with torch.no_grad():
        L_old = surrogate(theta_old)
        step, fraction = full_step.clone(), 1.0
        for _ in range(backtrack_iters):
            candidate = theta_old + step
            kl, gain = mean_kl(candidate), surrogate(candidate) - L_old
            if gain > 0 and kl <= max_kl:
                return candidate, {"step_fraction": torch.tensor(fraction), "kl": kl, "improvement": gain,
                                   "expected_improvement": g @ full_step}
            step *= backtrack_coeff
            fraction *= backtrack_coeff
    zero = torch.tensor(0.0)
    return theta_old.clone(), {"step_fraction": zero, "kl": zero, "improvement": zero,
                               "expected_improvement": g @ full_step}


def _textbook_cg(Avp, b, iters):
    """CG that recomputes the residual r = b - A x each iteration (one extra product, same iterates)."""
    x = torch.zeros_like(b)
    p = b.clone()
    r = b.clone()
    for _ in range(iters):
        if r @ r < 1e-10:
            break
        Ap = Avp(p)
        alpha = (r @ r) / (p @ Ap)
        x = x + alpha * p
        r_new = b - Avp(x)
        p = r_new + (r_new @ r_new) / (r @ r) * p
        r = r_new
    return x


def trpo_update_while_loop(logits_fn, theta_old, actions, advantages, max_kl, damping, cg_iters,
                           backtrack_iters, backtrack_coeff):
    """Its own CG and Hessian-vector product (torch.autograd.functional.hvp), log_softmax for the
    log-probabilities, a while loop with the KL tested first, statistics as attributes."""
    with torch.no_grad():
        logq_old = torch.log_softmax(logits_fn(theta_old), -1)
        logp_old = logq_old.gather(1, actions[:, None]).squeeze(1)

    def surrogate(theta):
        logp = torch.log_softmax(logits_fn(theta), -1).gather(1, actions[:, None]).squeeze(1)
        return torch.mean(advantages * (logp - logp_old).exp())

    def mean_kl(theta):
        logq = torch.log_softmax(logits_fn(theta), -1)
        return (logq_old.exp() * (logq_old - logq)).sum(1).mean()

    def Fvp(v):
        return torch.autograd.functional.hvp(mean_kl, theta_old.clone(), v)[1] + damping * v

    g = torch.func.grad(surrogate)(theta_old.clone())
    x = _textbook_cg(Fvp, g, cg_iters)
    step = (2 * max_kl / (x @ Fvp(x))).sqrt() * x
    expected = (g * step).sum().item()
    L_old = surrogate(theta_old).item()
    j = 0
    while j < backtrack_iters:
        theta_try = (theta_old + backtrack_coeff**j * step).detach()
        kl = mean_kl(theta_try).item()
        if kl <= max_kl:
            gain = surrogate(theta_try).item() - L_old
            if gain > 0:
                return theta_try, SimpleNamespace(step_fraction=backtrack_coeff**j, kl=kl, improvement=gain,
                                                  expected_improvement=expected)
        j += 1
    return theta_old.detach().clone(), SimpleNamespace(step_fraction=0.0, kl=0.0, improvement=0.0,
                                                       expected_improvement=expected)


ALTERNATIVES = [trpo_update_distributions, trpo_update_while_loop]

BY_ID = {"trpo_update": ALTERNATIVES}  # the shape tests/alternatives.py merges (exercise id -> alternatives)
