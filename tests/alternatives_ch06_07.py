"""Correct solutions of chapters 06-07 written differently from the answers (course_utils.answers)."""
from __future__ import annotations

import numpy as np
import torch


# ---------------------------------------------------------------- tabular_policy_evaluation
def tabular_policy_evaluation_numpy(P, R, pi, gamma):
    P_pi = np.einsum("sa,sat->st", pi.numpy(), P.numpy())
    r_pi = (pi.numpy() * R.numpy()).sum(1)
    return np.linalg.solve(np.eye(len(r_pi)) - gamma * P_pi, r_pi)


def tabular_policy_evaluation_iterative(P, R, pi, gamma):
    # iterative policy evaluation to convergence (the error shrinks by gamma per sweep)
    P_pi = torch.einsum("sa,sat->st", pi, P)
    r_pi = (pi * R).sum(-1)
    V = torch.zeros_like(r_pi)
    for _ in range(100_000):
        V_new = r_pi + gamma * P_pi @ V
        if (V_new - V).abs().max() < 1e-12:
            return V_new
        V = V_new
    return V


def tabular_policy_evaluation_inverse(P, R, pi, gamma):
    S = P.shape[0]
    P_pi = (pi[:, :, None] * P).sum(1)
    return torch.inverse(torch.eye(S, dtype=P.dtype) - gamma * P_pi) @ (pi * R).sum(1)


# ---------------------------------------------------------------- advantage_table
def advantage_table_loops(P, R, pi, gamma):
    V = tabular_policy_evaluation_inverse(P, R, pi, gamma)
    S, A = R.shape
    out = torch.zeros(S, A, dtype=R.dtype)
    for s in range(S):
        for a in range(A):
            out[s, a] = R[s, a] + gamma * (P[s, a] * V).sum() - V[s]
    return out


def advantage_table_q_minus_pi_mean(P, R, pi, gamma):
    V = tabular_policy_evaluation_numpy(P, R, pi, gamma)
    Q = R.numpy() + gamma * P.numpy() @ V
    return Q - (pi.numpy() * Q).sum(1, keepdims=True)  # V(s) = sum_a pi(a|s) Q(s, a)


# ---------------------------------------------------------------- discounted_visitation
def discounted_visitation_series(P, pi, mu, gamma):
    P_pi = torch.einsum("sa,sat->st", pi, P)
    d, state_dist, discount = torch.zeros_like(mu), mu.clone(), 1.0
    while discount > 1e-14:
        d = d + discount * state_dist
        state_dist = state_dist @ P_pi
        discount *= gamma
    return (1 - gamma) * d


def discounted_visitation_fixed_point(P, pi, mu, gamma):
    # d = (1 - gamma) mu + gamma P_pi^T d, solved with NumPy
    P_pi = np.einsum("sa,sat->st", pi.numpy(), P.numpy())
    return np.linalg.solve(np.eye(len(mu)) - gamma * P_pi.T, (1 - gamma) * mu.numpy())


# ---------------------------------------------------------------- kl_categorical
def kl_categorical_distributions(logits_p, logits_q):
    p = torch.distributions.Categorical(logits=logits_p)
    q = torch.distributions.Categorical(logits=logits_q)
    return torch.distributions.kl_divergence(p, q)


def kl_categorical_logsumexp(logits_p, logits_q):
    logp = logits_p - torch.logsumexp(logits_p, -1, keepdim=True)
    logq = logits_q - torch.logsumexp(logits_q, -1, keepdim=True)
    return (torch.softmax(logits_p, -1) * (logp - logq)).sum(-1)


def kl_categorical_functional(logits_p, logits_q):
    # F.kl_div(input=log q, target=log p, log_target=True) sums p (log p - log q)
    return torch.nn.functional.kl_div(torch.log_softmax(logits_q, -1), torch.log_softmax(logits_p, -1),
                                      reduction="none", log_target=True).sum(-1)


# ---------------------------------------------------------------- conjugate_gradient
def conjugate_gradient_hestenes_stiefel(Avp, b, iters=10, tol=1e-10):
    # the textbook layout: the tolerance test at the end of the loop
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rdotr = torch.dot(r, r)
    if rdotr < tol:
        return x
    for _ in range(iters):
        z = Avp(p)
        v = rdotr / torch.dot(p, z)
        x += v * p
        r -= v * z
        newrdotr = torch.dot(r, r)
        p = r + (newrdotr / rdotr) * p
        rdotr = newrdotr
        if rdotr < tol:
            break
    return x


def conjugate_gradient_recomputed_residual(Avp, b, iters=10, tol=1e-10):
    # r = b - A x recomputed from scratch each iteration (two products per iteration)
    x = torch.zeros_like(b)
    r = b - Avp(x)
    p = r.clone()
    for _ in range(iters):
        rr = r @ r
        if rr < tol:
            break
        Ap = Avp(p)
        alpha = rr / (p @ Ap)
        x = x + alpha * p
        r = b - Avp(x)
        p = r - (r @ Ap) / (p @ Ap) * p  # Hestenes-Stiefel form of beta (A-conjugacy directly)
    return x


def conjugate_gradient_krylov_projection(Avp, b, iters=10, tol=1e-10):
    # x_k = argmin over the Krylov space K_k of ||x - A^-1 b||_A, computed by a Galerkin projection
    # on an orthonormal (Lanczos-like, fully re-orthogonalised) basis of K_k
    basis = []
    w = b.clone()
    for _ in range(iters):
        for q in basis:
            w = w - (q @ w) * q
        for q in basis:  # second pass for orthogonality in floating point
            w = w - (q @ w) * q
        norm = torch.linalg.vector_norm(w)
        if norm ** 2 < tol * 1e-6 or norm < 1e-12 * torch.linalg.vector_norm(b):
            break
        basis.append(w / norm)
        w = Avp(basis[-1])
    if not basis:
        return torch.zeros_like(b)
    Qk = torch.stack(basis, 1)  # (P, k)
    AQ = torch.stack([Avp(q) for q in basis], 1)
    y = torch.linalg.solve(Qk.T @ AQ, Qk.T @ b)
    return Qk @ y


# ---------------------------------------------------------------- fisher_vector_product
def fisher_vector_product_grad_outputs(kl_fn, theta, v, damping=0.0):
    theta = theta.detach().clone().requires_grad_(True)
    kl = kl_fn(theta)
    (g,) = torch.autograd.grad(kl, theta, create_graph=True)
    (Hv,) = torch.autograd.grad(g, theta, grad_outputs=v)
    return Hv + damping * v


def fisher_vector_product_functorch(kl_fn, theta, v, damping=0.0):
    _, Hv = torch.autograd.functional.hvp(kl_fn, theta.detach(), v)
    return Hv + damping * v


def fisher_vector_product_full_hessian(kl_fn, theta, v, damping=0.0):
    H = torch.autograd.functional.hessian(kl_fn, theta.detach())
    return H @ v + damping * v


# ---------------------------------------------------------------- trust_region_step
def trust_region_step_numpy(x, Fx, delta):
    xn = x.numpy()
    return np.sqrt(2 * delta / xn.dot(Fx.numpy())) * xn


def trust_region_step_normalised(x, Fx, delta):
    # scale so that 1/2 s^T F s = delta: s = x * sqrt(delta / (1/2 x^T F x))
    quadratic_kl = 0.5 * (x * Fx).sum()
    return x * (delta / quadratic_kl) ** 0.5


# ---------------------------------------------------------------- softmax_fisher (derive)
def softmax_fisher_by_autograd(logits):
    """The definition itself: the Hessian of the KL, by autograd."""
    p = torch.softmax(logits, -1).detach()

    def fisher(row_logits, row_p):
        return torch.autograd.functional.hessian(
            lambda theta: (row_p * (torch.log(row_p) - torch.log_softmax(theta, -1))).sum(), row_logits)

    flat_logits, flat_p = logits.reshape(-1, logits.shape[-1]), p.reshape(-1, logits.shape[-1])
    out = torch.stack([fisher(z, q) for z, q in zip(flat_logits, flat_p)])
    return out.reshape(*logits.shape, logits.shape[-1])


def softmax_fisher_jacobian_of_softmax(logits):
    """The Jacobian of softmax, which is the same matrix."""
    flat = logits.reshape(-1, logits.shape[-1])
    out = torch.stack([torch.autograd.functional.jacobian(lambda z: torch.softmax(z, -1), z) for z in flat])
    return out.reshape(*logits.shape, logits.shape[-1])


def softmax_fisher_numpy_loop(logits):
    p = torch.softmax(logits, -1).numpy()
    out = np.zeros(p.shape + (p.shape[-1],), dtype=p.dtype)
    for idx in np.ndindex(*p.shape[:-1]):
        for a in range(p.shape[-1]):
            for b in range(p.shape[-1]):
                out[idx + (a, b)] = p[idx + (a,)] * ((a == b) - p[idx + (b,)])
    return torch.from_numpy(out)


ALTERNATIVES = {
    "softmax_fisher": [softmax_fisher_by_autograd, softmax_fisher_jacobian_of_softmax, softmax_fisher_numpy_loop],
    "tabular_policy_evaluation": [tabular_policy_evaluation_numpy, tabular_policy_evaluation_iterative,
                                  tabular_policy_evaluation_inverse],
    "advantage_table": [advantage_table_loops, advantage_table_q_minus_pi_mean],
    "discounted_visitation": [discounted_visitation_series, discounted_visitation_fixed_point],
    "kl_categorical": [kl_categorical_distributions, kl_categorical_logsumexp, kl_categorical_functional],
    "conjugate_gradient": [conjugate_gradient_hestenes_stiefel, conjugate_gradient_recomputed_residual,
                           conjugate_gradient_krylov_projection],
    "fisher_vector_product": [fisher_vector_product_grad_outputs, fisher_vector_product_functorch,
                              fisher_vector_product_full_hessian],
    "trust_region_step": [trust_region_step_numpy, trust_region_step_normalised],
}
