"""Answers about trust regions (chapters 06 and 07): KL divergences between policies, the
conjugate-gradient solver, the Fisher-vector product by double back-propagation, and the
step that fills the trust region.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

__all__ = ["kl_categorical", "kl_diag_gaussian", "conjugate_gradient", "fisher_vector_product", "trust_region_step", "softmax_fisher"]


def kl_categorical(logits_p: Tensor, logits_q: Tensor) -> Tensor:
    """KL(p || q) = sum_a p_a (log p_a - log q_a) per row: logits (N, A) -> (N,).

    log_softmax keeps it finite for any logits (softmax, then log, overflows for logits ~ 100).
    """
    logp, logq = torch.log_softmax(logits_p, -1), torch.log_softmax(logits_q, -1)
    return (logp.exp() * (logp - logq)).sum(-1)


def kl_diag_gaussian(mu_p: Tensor, log_std_p: Tensor, mu_q: Tensor, log_std_q: Tensor) -> Tensor:
    """KL(N(mu_p, sd_p^2) || N(mu_q, sd_q^2)) summed over the D action dims: (N, D) -> (N,)."""
    var_p, var_q = (2 * log_std_p).exp(), (2 * log_std_q).exp()
    return (log_std_q - log_std_p + (var_p + (mu_p - mu_q) ** 2) / (2 * var_q) - 0.5).sum(-1)


def conjugate_gradient(Avp: Callable[[Tensor], Tensor], b: Tensor, iters: int = 10, tol: float = 1e-10) -> Tensor:
    """Approximately solve A x = b (A symmetric positive definite) from products A v only.

    Starts at x = 0. After k iterations x minimises the A-norm of the error over the Krylov
    space span{b, Ab, ..., A^(k-1) b}. Stops early once r^T r < tol (the residual is ~0).
    b: (P,); iters: 10 is TRPO's usual budget. Returns x (P,).
    """
    x = torch.zeros_like(b)
    r = b.clone()  # residual b - A x, with x = 0
    p = b.clone()  # search direction
    rr = r @ r
    for _ in range(iters):
        if rr < tol:
            break
        Ap = Avp(p)
        alpha = rr / (p @ Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        rr_new = r @ r
        p = r + (rr_new / rr) * p  # the next direction is A-conjugate to all previous ones
        rr = rr_new
    return x


def fisher_vector_product(kl_fn: Callable[[Tensor], Tensor], theta: Tensor, v: Tensor, damping: float = 0.0) -> Tensor:
    """(H + damping I) v with H = Hessian of kl_fn at theta, by double back-propagation.

    At theta = theta_old the Hessian of the mean KL(pi_old || pi_theta) is the Fisher matrix F.
    grad(kl) is built with create_graph=True, so (grad(kl) . v) can be differentiated again;
    F itself (P x P) is never formed. kl_fn: (P,) -> (); theta, v: (P,). Returns (P,).
    """
    theta = theta.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(kl_fn(theta), theta, create_graph=True)
    (Hv,) = torch.autograd.grad(g @ v.detach(), theta)
    return Hv + damping * v


def trust_region_step(x: Tensor, Fx: Tensor, delta: float) -> Tensor:
    """beta x with beta = sqrt(2 delta / x^T F x): the longest step along x whose quadratic
    KL model 1/2 s^T F s equals delta. x, Fx: (P,) -> (P,)."""
    return torch.sqrt(2 * delta / (x @ Fx)) * x


def softmax_fisher(logits: Tensor) -> Tensor:
    """The Fisher matrix of a softmax policy in its logits: diag(p) - p p^T, p = softmax(logits).

    It is the Hessian of KL(softmax(logits) || softmax(theta)) in theta at theta = logits.
    logits (..., A) -> (..., A, A).
    """
    p = torch.softmax(logits, dim=-1)
    return torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)
