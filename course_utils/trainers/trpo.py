"""TRPO, with the learner's own pieces plugged in (chapter 07).

One iteration reads top to bottom:

    rollout (T steps of N envs)  ->  GAE advantages  ->  the TRPO update (trpo_update: g = grad
    of the surrogate L(theta), x ~ F^-1 g by conjugate gradient with F v by double
    back-propagation through the KL, full step sqrt(2 delta / x^T F x) x, backtracking line
    search: the surrogate must improve AND the mean KL must stay <= delta)
    ->  value-function regression  ->  log.

The policy is updated in "flat" form: theta is the vector of all its parameters, and
``torch.func.functional_call`` evaluates the network at any theta, so that the KL and the
surrogate are ordinary functions of one (P,) tensor. The update is the answer key's
``trpo_update`` (the algorithm is written once, in :mod:`course_utils.answers.trpo_loop`), or the
learner's own loop. Every learner function is optional (``None`` means the answer of
:mod:`course_utils.answers`) and is called with the spine's signature:
``trpo_update(logits_fn, theta_old, actions, advantages, max_kl, damping, cg_iters,
backtrack_iters, backtrack_coeff) -> (theta_new, stats)``, ``conjugate_gradient(Avp, b, iters, tol)``,
``fisher_vector_product(kl_fn, theta, v, damping)``, ``trust_region_step(x, Fx, delta)``,
``kl_categorical(logits_p, logits_q)``. A learner's ``trpo_update`` runs with its own pieces.
"""
from __future__ import annotations

import math
import time
from typing import Callable

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.func import functional_call
from torch.nn.utils import parameters_to_vector, vector_to_parameters
from tqdm.auto import tqdm

from course_utils import answers
from course_utils.answers.trust_region import (conjugate_gradient, fisher_vector_product, kl_categorical,  # noqa: F401
                                               kl_diag_gaussian, trust_region_step)
from course_utils.rl.policies import CategoricalPolicy, GaussianPolicy, ValueNet
from course_utils.rl.rollout import RolloutCollector, make_vector_env
from course_utils.trainers.history import History
from course_utils.trainers.kit import bar_label, plug_in
from course_utils.seeding import one_torch_thread

__all__ = ["train_trpo", "kl_categorical", "kl_diag_gaussian", "conjugate_gradient",
           "fisher_vector_product", "trust_region_step"]


# ----------------------------------------------------------------------------- the trainer
def train_trpo(
    env_id: str = "CartPole-v1",
    *,
    conjugate_gradient: Callable | None = None,
    fisher_vector_product: Callable | None = None,
    trust_region_step: Callable | None = None,
    kl_categorical: Callable | None = None,
    trpo_update: Callable | None = None,
    total_steps: int = 50_000,
    num_envs: int = 8,
    num_steps: int = 256,
    gamma: float = 0.99,
    lam: float = 0.97,
    max_kl: float = 0.01,
    damping: float = 0.1,
    cg_iters: int = 10,
    backtrack_iters: int = 10,
    backtrack_coeff: float = 0.8,
    value_lr: float = 1e-3,
    value_epochs: int = 10,
    value_minibatch: int = 256,
    hidden: tuple[int, ...] = (64, 64),
    log_std_init: float = 0.0,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """Train a policy on ``env_id`` with TRPO + GAE and return its :class:`History`.

    Args:
        env_id: Gymnasium id; Discrete actions give a softmax policy, Box a diagonal Gaussian.
        conjugate_gradient, fisher_vector_product, trust_region_step, kl_categorical: the
            learner's functions (chapters 06-07); None means the answer.
            ``kl_categorical`` is only used for discrete actions.
        trpo_update: the learner's TRPO update (workbook 07; softmax policies only), which then
            calls its own pieces; None means the answer's update, with the pieces above.
        total_steps: environment steps in all (CartPole: 50k-100k; Pendulum: 100k-200k).
        num_envs, num_steps: N environments stepped T times per iteration (N T per batch).
        gamma: discount (0.99; Pendulum learns faster with 0.95). lam: GAE lambda, close to 1.
        max_kl: delta, the trust-region radius on the mean KL(pi_old || pi_new) (0.005-0.05).
        damping: added to the Fisher matrix (F + damping I) so that CG is well posed (0.01-0.1).
        cg_iters: conjugate-gradient iterations (10). backtrack_iters, backtrack_coeff: the
            line search tries steps coeff^k * full step, k = 0 .. backtrack_iters - 1.
        value_lr, value_epochs, value_minibatch: Adam regression of V on the GAE returns.
        hidden: hidden sizes of both MLPs. log_std_init: initial log std (Gaussian policy).
        seed: seeds torch (initialisation, sampling) and the environments.
        progress: show a tqdm progress bar.

    Returns:
        The run's History (``policy_loss`` holds minus the surrogate gain of each accepted
        step, ``history.policy`` the trained policy) and ``history.trpo``, a dict of
        per-iteration lists: ``kl`` (mean KL of the accepted step), ``backtracks`` (line-search
        halvings; -1 when every candidate was rejected), ``expected_improvement`` (g . step)
        and ``surrogate_improvement``. Uses one torch thread while it runs.
    """
    cg = plug_in(conjugate_gradient, answers.conjugate_gradient, "conjugate_gradient")
    fvp = plug_in(fisher_vector_product, answers.fisher_vector_product, "fisher_vector_product")
    tr_step = plug_in(trust_region_step, answers.trust_region_step, "trust_region_step")
    kl_cat = plug_in(kl_categorical, answers.kl_categorical, "kl_categorical")
    config = dict(
        env_id=env_id, total_steps=total_steps, num_envs=num_envs, num_steps=num_steps, gamma=gamma, lam=lam,
        max_kl=max_kl, damping=damping, cg_iters=cg_iters, backtrack_iters=backtrack_iters,
        backtrack_coeff=backtrack_coeff, value_lr=value_lr, value_epochs=value_epochs,
        value_minibatch=value_minibatch, hidden=list(hidden), log_std_init=log_std_init, seed=seed, torch_threads=1,
        **{name: "learner" if fn is not None else "answer" for name, fn in [
            ("conjugate_gradient", conjugate_gradient), ("fisher_vector_product", fisher_vector_product),
            ("trust_region_step", trust_region_step), ("kl_categorical", kl_categorical),
            ("trpo_update", trpo_update)]},
    )  # fmt: skip
    with one_torch_thread():
        # ---- env and agent
        torch.manual_seed(seed)
        envs = make_vector_env(env_id, num_envs)
        collector = RolloutCollector(envs, seed=seed)
        obs_dim = int(np.prod(envs.single_observation_space.shape))
        discrete = isinstance(envs.single_action_space, gym.spaces.Discrete)
        if discrete:
            policy = CategoricalPolicy(obs_dim, int(envs.single_action_space.n), hidden)
        else:
            policy = GaussianPolicy(obs_dim, int(np.prod(envs.single_action_space.shape)), hidden, log_std_init)
        value_net = ValueNet(obs_dim, hidden)
        value_optimizer = torch.optim.Adam(value_net.parameters(), lr=value_lr)
        names = [n for n, _ in policy.named_parameters()]
        shapes = [p.shape for p in policy.parameters()]
        sizes = [p.numel() for p in policy.parameters()]

        def dist_params(theta: Tensor, obs: Tensor) -> tuple[Tensor, ...]:
            """The policy's output at parameters theta: (logits,) or (mu, log_std)."""
            params = {n: t.view(s) for n, t, s in zip(names, theta.split(sizes), shapes)}
            net, prefix = (policy.logits_net, "logits_net.") if discrete else (policy.mu_net, "mu_net.")
            out = functional_call(net, {n[len(prefix):]: t for n, t in params.items() if n.startswith(prefix)}, (obs,))
            return (out,) if discrete else (out, params["log_std"].expand_as(out))

        def log_prob(out: tuple[Tensor, ...], actions: Tensor) -> Tensor:
            if discrete:
                return torch.log_softmax(out[0], -1).gather(-1, actions[:, None]).squeeze(-1)
            mu, log_std = out
            return (-0.5 * ((actions - mu) / log_std.exp()) ** 2 - log_std - 0.5 * np.log(2 * np.pi)).sum(-1)

        def log_prob_of(out, actions: Tensor) -> Tensor:
            """log pi(a|s) from the policy's output: logits (discrete) or (mu, log_std)."""
            return log_prob((out,) if discrete else out, actions)

        def kl_of(out_p, out_q) -> Tensor:
            """KL(p || q) per state: the learner's (or the answer's) kl_categorical, or the Gaussian's."""
            return kl_cat(out_p, out_q) if discrete else kl_diag_gaussian(*out_p, *out_q)

        if trpo_update is not None and not discrete:
            raise ValueError("a trpo_update of your own is written for a softmax policy (discrete actions); "
                             f"{env_id} has continuous actions: train it with trpo_update=None")

        history = History(config=config)
        history.trpo = {"kl": [], "backtracks": [], "expected_improvement": [], "surrogate_improvement": []}
        bar = tqdm(total=total_steps, disable=not progress, unit="step", desc=bar_label(f"TRPO {env_id}"))
        start = time.perf_counter()
        while collector.global_step < total_steps:
            # ---- rollout and GAE advantages
            buffer = collector.collect(policy, value_net, num_steps)
            advantages = answers.gae(buffer.bootstrapped_rewards(gamma), buffer.values, buffer.episode_ends,
                                   buffer.last_value, gamma, lam)  # (T, N)
            returns = (advantages + buffer.values).reshape(-1)  # regression targets for V
            obs = buffer.obs.reshape(-1, obs_dim)  # (M, obs_dim), M = T N
            actions = buffer.actions.reshape(-1, *buffer.actions.shape[2:])
            adv = advantages.reshape(-1)
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)

            # ---- the TRPO update of the flat parameters (surrogate, natural step, line search)
            theta_old = parameters_to_vector(policy.parameters()).detach()
            out_at = (lambda theta: dist_params(theta, obs)[0]) if discrete else (lambda theta: dist_params(theta, obs))
            if trpo_update is None:  # the answer's loop, with the pieces plugged in above
                theta_new, stats = answers.trpo_update(
                    out_at, theta_old, actions, adv, max_kl, damping, cg_iters, backtrack_iters, backtrack_coeff,
                    log_prob=log_prob_of, kl=kl_of, conjugate_gradient=cg, fisher_vector_product=fvp,
                    trust_region_step=tr_step)
            else:  # the learner's loop, with its own pieces
                theta_new, stats = trpo_update(out_at, theta_old, actions, adv, max_kl, damping, cg_iters,
                                               backtrack_iters, backtrack_coeff)
            theta_new = torch.as_tensor(theta_new, dtype=torch.float32).detach().reshape(theta_old.shape)
            read = lambda key: float(stats[key] if isinstance(stats, dict) else getattr(stats, key))  # noqa: E731
            fraction, kl, gain = read("step_fraction"), read("kl"), read("improvement")
            expected = read("expected_improvement")
            backtracks = round(math.log(fraction) / math.log(backtrack_coeff)) if fraction > 0 else -1
            vector_to_parameters(theta_new, policy.parameters())

            # ---- value function: a few epochs of minibatch regression on the GAE returns
            for _ in range(value_epochs):
                for idx in torch.randperm(len(obs)).split(value_minibatch):
                    v_loss = F.mse_loss(value_net(obs[idx]), returns[idx])
                    value_optimizer.zero_grad()
                    v_loss.backward()
                    value_optimizer.step()

            # ---- log
            step_base = collector.global_step - len(obs)
            ends = buffer.episode_ends.nonzero().tolist()  # (t, i) of each finished episode, in time order
            for (t, _), ret in zip(ends, buffer.episode_returns):
                history.episode_returns.append(ret)
                history.episode_end_steps.append(step_base + (t + 1) * num_envs)
            history.env_steps.append(collector.global_step)
            recent = buffer.episode_returns or history.episode_returns[-1:] or [float("nan")]
            history.iteration_mean_return.append(float(np.mean(recent)))
            history.policy_loss.append(-gain)
            history.value_loss.append(v_loss.item())
            history.wall_time.append(time.perf_counter() - start)
            for key, val in [("kl", kl), ("backtracks", backtracks), ("expected_improvement", expected),
                             ("surrogate_improvement", gain)]:
                history.trpo[key].append(val)
            bar.update(min(len(obs), bar.total - bar.n))
            bar.set_postfix(mean_return=f"{history.iteration_mean_return[-1]:.1f}", kl=f"{kl:.4f}")
        bar.close()
        envs.close()
        history.policy = policy
        return history
