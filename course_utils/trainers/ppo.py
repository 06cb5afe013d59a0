"""PPO, proximal policy optimisation (chapter 08), in one file that reads top to bottom.

    config -> vector env -> agent -> rollout into (T, N) storage -> GAE -> epochs x
    minibatches of the clipped (or KL-penalised) surrogate -> log

Every "detail" that makes PPO work in practice is a switch of :class:`PPOConfig`, so that an
ablation is a loop over configs. The learner's functions can replace the course's answers:
``ppo_clip_loss(logp, logp_old, advantages, clip_eps)``, ``approx_kl(logp, logp_old)``,
``clipped_value_loss(values, values_old, returns, clip_eps)`` and
``adaptive_kl_beta(beta, kl, target_kl)``; ``None`` means the answer (:mod:`course_utils.answers`).
The update itself (epochs over minibatches, one optimiser step each, KL early stop) is
``answers.ppo_update``, the loop chapter 08's workbook asks for; a learner's ``ppo_update`` can
replace it when the config uses none of the switches it does not know (the KL penalty, value
clipping, advantages left unnormalised).

Speed (benchmarks/README.md): one torch thread, NumPy-vectorised CartPole, no torch.distributions
in the loops, a rollout's sampling noise drawn at once, values and old log-probabilities in one
batched pass after the rollout, actor and critic evaluated together, fused Adam.

Episode ends. With Gymnasium's default *next-step* autoreset, the step after an episode's end
only resets that sub-environment (action ignored, reward 0): such steps get ``valid = 0`` and
are left out of the update and of the step count. The observation stored at a reset step is
the ended episode's last one, so a truncated episode is bootstrapped with r_t + gamma V(s_T).
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Callable, Literal

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from course_utils import answers
from course_utils.answers import adaptive_kl_beta, approx_kl, clipped_value_loss, ppo_clip_loss  # noqa: F401
from course_utils.rl.policies import mlp
from course_utils.rl.rollout import make_vector_env
from course_utils.trainers.history import History
from course_utils.trainers.kit import RunningMeanStd, bar_label, clip_grad_norm, evaluate_policy, plug_in  # noqa: F401
from course_utils.seeding import one_torch_thread

__all__ = ["PPOConfig", "ZOO", "ppo_config", "train_ppo", "evaluate_policy", "ppo_clip_loss", "approx_kl",
           "clipped_value_loss", "adaptive_kl_beta"]


# ----------------------------------------------------------------------------- config
@dataclass
class PPOConfig:
    env_id: str = "CartPole-v1"
    """Gymnasium id; Discrete actions get a softmax policy, Box actions a diagonal Gaussian."""
    total_steps: int = 100_000
    """environment transitions to train for, all environments together"""
    num_envs: int = 8
    """N, environments stepped in lockstep"""
    num_steps: int = 32
    """T, steps per environment per rollout (a batch holds about T * N transitions)"""
    gamma: float = 0.98
    """discount factor"""
    gae_lambda: float = 0.8
    """GAE lambda: 0 is the TD residual, 1 the Monte-Carlo advantage"""
    objective: Literal["clip", "kl_penalty"] = "clip"
    """the clipped surrogate (PPO-clip) or the surrogate minus beta * KL (PPO-penalty)"""
    clip_eps: float = 0.2
    """epsilon of the clipped surrogate (0.1-0.3)"""
    anneal_clip: bool = True
    """decay clip_eps linearly to 0 over training"""
    kl_target: float = 0.01
    """target KL per update of PPO-penalty's adaptive beta"""
    kl_beta: float = 1.0
    """initial KL coefficient beta of PPO-penalty"""
    update_epochs: int = 20
    """K, passes over each batch"""
    num_minibatches: int = 1
    """minibatches per pass (gradient steps per epoch)"""
    lr: float = 1e-3
    """Adam learning rate"""
    anneal_lr: bool = True
    """decay the learning rate linearly to 0 over training"""
    norm_adv: bool = True
    """standardise advantages within each minibatch"""
    value_coef: float = 0.5
    """weight of the critic's squared error in the loss"""
    clip_value: float | None = None
    """clip the value update to +- this (None: plain squared error)"""
    ent_coef: float = 0.0
    """weight of the entropy bonus"""
    max_grad_norm: float | None = 0.5
    """clip the global gradient norm (None: no clipping)"""
    target_kl: float | None = None
    """stop an update after the epoch where approx-KL over the batch exceeds 1.5 * target_kl (None: never)"""
    orthogonal_init: bool = True
    """orthogonal weights (gain sqrt 2, policy head 0.01) instead of PyTorch's default"""
    norm_obs: bool = False
    """standardise observations with running statistics (continuous control)"""
    norm_reward: bool = False
    """scale rewards by a running std of the discounted return (continuous control)"""
    hidden: tuple[int, ...] = (64, 64)
    """hidden layers of the actor and of the critic (two separate tanh MLPs)"""
    log_std_init: float = 0.0
    """initial log standard deviation of a Gaussian policy"""
    seed: int = 0
    """seeds torch and the environments"""


# rl-baselines3-zoo hyperparameters (their Pendulum also uses gSDE exploration, not offered here)
ZOO = {
    "CartPole-v1": dict(num_envs=8, num_steps=32, num_minibatches=1, gamma=0.98, gae_lambda=0.8, update_epochs=20,
                        lr=1e-3, anneal_lr=True, clip_eps=0.2, anneal_clip=True, total_steps=100_000),
    "Pendulum-v1": dict(num_envs=4, num_steps=1024, num_minibatches=64, gamma=0.9, gae_lambda=0.95, update_epochs=10,
                        lr=1e-3, anneal_lr=False, clip_eps=0.2, anneal_clip=False, total_steps=100_000),
}  # fmt: skip


def ppo_config(env_id: str = "CartPole-v1", **overrides) -> PPOConfig:
    """The zoo settings of ``env_id`` (PPOConfig's defaults otherwise), then ``overrides``."""
    return PPOConfig(**{"env_id": env_id, **ZOO.get(env_id, {}), **overrides})


# ----------------------------------------------------------------------------- agent
class Agent(nn.Module):
    """Actor pi_theta(a|s) and critic V_phi(s): two separate tanh MLPs of the same shape, as in
    SB3 and CleanRL, stored side by side so that layer l of both is one batched matrix product
    (``torch.baddbmm`` over a leading axis of size 2). Same maths as two ``nn.Sequential``, half
    the operations, and operations are what cost time at these sizes (benchmarks/README.md).
    """

    def __init__(self, obs_dim: int, act_dim: int, continuous: bool, cfg: PPOConfig) -> None:
        super().__init__()
        self.continuous, self.act_dim = continuous, act_dim
        actor = mlp(obs_dim, act_dim, cfg.hidden, orthogonal_init=cfg.orthogonal_init, out_gain=0.01)
        critic = mlp(obs_dim, 1, cfg.hidden, orthogonal_init=cfg.orthogonal_init, out_gain=1.0)
        self.weights, self.biases = nn.ParameterList(), nn.ParameterList()
        for a, c in zip(actor[::2], critic[::2]):  # the nn.Linear layers; the critic's head is padded
            w, b = torch.zeros(2, a.in_features, a.out_features), torch.zeros(2, 1, a.out_features)
            w[0], b[0, 0] = a.weight.detach().T, a.bias.detach()
            w[1, :, : c.out_features], b[1, 0, : c.out_features] = c.weight.detach().T, c.bias.detach()
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(b))
        self.log_std = nn.Parameter(torch.full((act_dim,), cfg.log_std_init)) if continuous else None
        self.obs_rms = RunningMeanStd((obs_dim,)) if cfg.norm_obs else None
        self.with_entropy = cfg.ent_coef != 0  # what evaluate returns by default: the loss needs it only then
        self.layers = tuple(zip(self.weights, self.biases))  # plain tuple: ParameterList indexing is slow

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """obs (B, obs_dim) -> (actor output (B, act_dim): logits or Gaussian mean, V(s) (B,))."""
        h = obs.expand(2, *obs.shape)
        for i, (w, b) in enumerate(self.layers):
            h = torch.baddbmm(b, h, w) if i == len(self.layers) - 1 else torch.tanh(torch.baddbmm(b, h, w))
        return h[0], h[1, :, 0]

    def actor(self, obs: Tensor) -> Tensor:
        """The actor's half alone (for acting): obs (B, obs_dim) -> (B, act_dim)."""
        for i, (w, b) in enumerate(self.layers):
            obs = torch.addmm(b[0], obs, w[0]) if i == len(self.layers) - 1 else torch.tanh(torch.addmm(b[0], obs, w[0]))
        return obs

    def normalize(self, obs: np.ndarray) -> Tensor:
        if self.obs_rms is not None:
            obs = np.clip((obs - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + 1e-8), -10, 10)
        return torch.as_tensor(obs, dtype=torch.float32)

    def evaluate(self, obs: Tensor, actions: Tensor, entropy: bool | None = None) -> tuple[Tensor, Tensor, Tensor | None]:
        """(log pi(a|s) (B,), V(s) (B,), entropy of pi(.|s) (B,) or None), without torch.distributions.
        The entropy is computed when ``entropy`` is true, or (None) when the config's ent_coef is not 0."""
        entropy = self.with_entropy if entropy is None else entropy
        out, values = self(obs)
        if self.continuous:  # diagonal Gaussian: the log-density summed over action dimensions
            z = (actions - out) * torch.exp(-self.log_std)
            logp = (-0.5 * z**2 - self.log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
            ent = (self.log_std + 0.5 * (1 + math.log(2 * math.pi))).sum().expand(len(obs)) if entropy else None
            return logp, values, ent
        logp_all = torch.log_softmax(out, -1)
        ent = -(logp_all.exp() * logp_all).sum(-1) if entropy else None
        return logp_all.gather(-1, actions.unsqueeze(-1)).squeeze(-1), values, ent

    @torch.no_grad()
    def act(self, obs: Tensor, noise: Tensor | None = None, deterministic: bool = False) -> Tensor:
        """Sample a ~ pi(.|s) with the given noise: Gaussian eps (B, D), or Exp(1) draws (B, A)
        for the Gumbel-max trick, argmax(logits - log E) being a sample of softmax(logits)."""
        out = self.actor(obs)
        if deterministic:
            return out if self.continuous else out.argmax(-1)
        if self.continuous:
            return out + self.log_std.exp() * noise
        return (out - noise.log()).argmax(-1)


# ----------------------------------------------------------------------------- training
def _penalised_surrogate(kl_fn: Callable, beta: float) -> Callable:
    """PPO-penalty's policy loss, -mean(r A) + beta KL(pi_old || pi), with this update's beta."""
    def loss(logp: Tensor, logp_old: Tensor, advantages: Tensor, clip_eps: float) -> Tensor:
        kl = kl_fn(logp, logp_old)
        return -(torch.exp(logp - logp_old) * advantages).mean() + beta * kl
    return loss


def train_ppo(
    env_id: str = "CartPole-v1",
    *,
    config: PPOConfig | None = None,
    ppo_clip_loss: Callable | None = None,
    approx_kl: Callable | None = None,
    clipped_value_loss: Callable | None = None,
    adaptive_kl_beta: Callable | None = None,
    gae: Callable | None = None,
    explained_variance: Callable | None = None,
    ppo_update: Callable | None = None,
    progress: bool = True,
    **overrides,
) -> History:
    """Train PPO and return its :class:`History` (``history.policy`` is the trained :class:`Agent`).

    ``config`` defaults to ``ppo_config(env_id, **overrides)``: the zoo settings of the env with
    any field of :class:`PPOConfig` overridden, e.g. ``train_ppo("CartPole-v1", seed=1)``.
    ``history.diagnostics`` holds, per update: approx_kl and clip_fraction of the whole batch
    after the update, entropy (mean entropy of the policy at the batch's states, in nats, after
    the update), explained_variance of the critic's rollout values against the returns they
    were trained towards and value_mean, the mean of those values (before the update), kl_beta
    and the epochs run.

    ``ppo_update(agent, optimizer, obs, actions, logp_old, advantages, returns, minibatches,
    clip_eps, value_coef, ent_coef, max_grad_norm, target_kl)`` (workbook 08's loop),
    ``gae(rewards, values, dones, last_value, gamma, lam)`` and ``explained_variance(values,
    returns)`` may be a learner's functions too (chapter 05's and chapter 08's exercises); the
    diagnostics lab of chapter 08 passes a GAE without its done mask to break a run on purpose.
    """
    cfg = dataclasses.replace(config, **overrides) if config else ppo_config(env_id, **overrides)
    clip_loss_fn = plug_in(ppo_clip_loss, answers.ppo_clip_loss, "ppo_clip_loss", needs_grad=True)
    kl_fn = plug_in(approx_kl, answers.approx_kl, "approx_kl", needs_grad=True)
    value_loss_fn = plug_in(clipped_value_loss, answers.clipped_value_loss, "clipped_value_loss", needs_grad=True)
    beta_fn = plug_in(adaptive_kl_beta, answers.adaptive_kl_beta, "adaptive_kl_beta", returns="float")
    gae_fn = plug_in(gae, answers.gae, "gae")
    ev_fn = plug_in(explained_variance, answers.explained_variance, "explained_variance", returns="float")
    penalty = cfg.objective == "kl_penalty"
    if ppo_update is not None and (penalty or cfg.clip_value is not None or not cfg.norm_adv):
        raise ValueError("a learner's ppo_update runs the clipped objective with plain value loss and normalised "
                         "advantages: leave objective, clip_value and norm_adv at their defaults")
    update_fn = ppo_update or answers.ppo_update
    used = {"ppo_clip_loss": clip_loss_fn.source, "approx_kl": kl_fn.source if penalty else None,
            "clipped_value_loss": value_loss_fn.source if cfg.clip_value else None,
            "adaptive_kl_beta": ("learner" if adaptive_kl_beta else "answer") if penalty else None,
            "gae": gae_fn.source, "explained_variance": "learner" if explained_variance else "answer",
            "ppo_update": "learner" if ppo_update else "answer"}
    history = History(config={**dataclasses.asdict(cfg), "hidden": list(cfg.hidden), "torch_threads": 1, **used})
    history.diagnostics = {"approx_kl": [], "clip_fraction": [], "entropy": [], "explained_variance": [], "value_mean": [],
                           "kl_beta": [], "epochs": []}
    with one_torch_thread():
        # ---- env and agent
        torch.manual_seed(cfg.seed)
        envs = make_vector_env(cfg.env_id, cfg.num_envs, autoreset="next_step")  # as CleanRL
        continuous = isinstance(envs.single_action_space, gym.spaces.Box)
        obs_dim = int(np.prod(envs.single_observation_space.shape))
        act_dim = int(np.prod(envs.single_action_space.shape)) if continuous else int(envs.single_action_space.n)
        agent = Agent(obs_dim, act_dim, continuous, cfg)
        params = list(agent.parameters())
        optimizer = torch.optim.Adam(params, lr=cfg.lr, eps=1e-5, fused=True)  # one kernel per tensor
        low, high = (envs.single_action_space.low, envs.single_action_space.high) if continuous else (None, None)
        reward_rms, discounted = RunningMeanStd(), np.zeros(cfg.num_envs)  # reward normalisation

        # ---- rollout storage, (T, N) as in CleanRL; obs has one extra row for s_T
        T, N = cfg.num_steps, cfg.num_envs
        obs = torch.zeros((T + 1, N, obs_dim))
        actions = torch.zeros((T, N, act_dim)) if continuous else torch.zeros((T, N), dtype=torch.long)
        rewards, terminated, truncated, valid = (np.zeros((T, N), dtype=np.float32) for _ in range(4))
        raw_obs, _ = envs.reset(seed=cfg.seed)
        prev_done, running_return = np.zeros(N, dtype=bool), np.zeros(N)  # prev_done: next step is a reset step
        beta, steps = cfg.kl_beta, 0
        bar = tqdm(total=cfg.total_steps, disable=not progress, unit="step", desc=bar_label(f"PPO {cfg.env_id}"))
        start = time.perf_counter()
        while steps < cfg.total_steps:
            # ---- rollout: T steps of N envs; all sampling noise drawn at once
            noise = torch.randn(T, N, act_dim) if continuous else torch.empty(T, N, act_dim).exponential_()
            episode_returns = []
            for t in range(T):
                if agent.obs_rms is not None:
                    agent.obs_rms.update(raw_obs)
                obs[t] = agent.normalize(raw_obs)
                actions[t] = agent.act(obs[t], noise[t])
                env_action = np.clip(actions[t].numpy(), low, high) if continuous else actions[t].numpy()
                raw_obs, reward, term, trunc, _ = envs.step(env_action)
                valid[t] = ~prev_done  # a reset step is not a transition of the MDP
                rewards[t], terminated[t], truncated[t] = reward, term, trunc & ~term
                prev_done = term | trunc
                running_return += reward
                for i in np.flatnonzero(prev_done):
                    episode_returns.append(float(running_return[i]))
                    history.episode_returns.append(float(running_return[i]))
                    history.episode_end_steps.append(steps + int(valid[: t + 1].sum()))
                    running_return[i] = 0.0
                if cfg.norm_reward:  # scale by the std of the discounted return, as SB3's VecNormalize
                    discounted = discounted * cfg.gamma + reward
                    reward_rms.update(discounted)
                    rewards[t] = np.clip(reward / np.sqrt(reward_rms.var + 1e-8), -10, 10)
                    discounted[prev_done] = 0.0
            obs[T] = agent.normalize(raw_obs)
            steps += int(valid.sum())

            # ---- advantages: values and old log-probs in one batched pass, then GAE
            with torch.no_grad():
                flat_actions = torch.cat([actions, actions[:1]]).reshape((T + 1) * N, *actions.shape[2:])
                logp_old, values_ext, _ = agent.evaluate(obs.reshape((T + 1) * N, -1), flat_actions)
            logp_old, values_ext = logp_old[: T * N], values_ext.reshape(T + 1, N)  # V(s_0) ... V(s_T)
            values = values_ext[:T]
            # a truncated episode's last observation is stored at t + 1: bootstrap with its value
            boot_rewards = torch.from_numpy(rewards) + cfg.gamma * torch.from_numpy(truncated) * values_ext[1:]
            dones = torch.from_numpy(np.maximum(terminated, truncated))
            advantages = gae_fn(boot_rewards, values, dones, values_ext[T], cfg.gamma, cfg.gae_lambda)
            returns = advantages + values

            # ---- flatten (T, N) -> (M,), keeping only real transitions
            keep = torch.from_numpy(valid.reshape(-1)).bool()
            b_obs, b_actions = obs[:T].reshape(T * N, -1)[keep], actions.reshape(T * N, *actions.shape[2:])[keep]
            b_logp, b_adv = logp_old[keep], advantages.reshape(-1)[keep]
            b_returns, b_values = returns.reshape(-1)[keep], values.reshape(-1)[keep]
            explained = float(ev_fn(b_values, b_returns))  # how well the critic predicted these targets

            # ---- update: K epochs of minibatch steps on the surrogate (answers.ppo_update, chapter 08's loop)
            frac = 1.0 - min(steps / cfg.total_steps, 1.0)  # SB3's "progress remaining"
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr * frac if cfg.anneal_lr else cfg.lr
            clip_eps = cfg.clip_eps * frac if cfg.anneal_clip else cfg.clip_eps
            M, mb_size = len(b_obs), math.ceil(len(b_obs) / cfg.num_minibatches)
            # one minibatch is the whole batch (its order does not matter): a slice, no copy; otherwise a
            # shuffle per epoch, drawn only when the epoch runs (an early stop draws no more)
            minibatches = ([slice(None)] if cfg.num_minibatches == 1 else torch.randperm(M).split(mb_size)
                           for _ in range(cfg.update_epochs))
            if ppo_update is not None:
                stats = update_fn(agent, optimizer, b_obs, b_actions, b_logp, b_adv, b_returns, minibatches, clip_eps,
                                  cfg.value_coef, cfg.ent_coef, cfg.max_grad_norm, cfg.target_kl)
            else:
                stats = update_fn(agent, optimizer, b_obs, b_actions, b_logp, b_adv, b_returns, minibatches, clip_eps,
                                  cfg.value_coef, cfg.ent_coef, cfg.max_grad_norm, cfg.target_kl,
                                  policy_loss=_penalised_surrogate(kl_fn, beta) if penalty else clip_loss_fn,
                                  values_old=b_values, norm_adv=cfg.norm_adv,
                                  value_loss=None if cfg.clip_value is None else
                                  (lambda v, v_old, r: value_loss_fn(v, v_old, r, cfg.clip_value)))
            epoch = int(stats["epochs"])

            # ---- how far the update moved the policy; PPO-penalty's dual step on beta
            with torch.no_grad():
                logp_after, _, entropy_after = agent.evaluate(b_obs, b_actions, entropy=True)
                log_ratio = logp_after - b_logp
                kl_total = float(((log_ratio.exp() - 1.0) - log_ratio).mean())  # the approx_kl estimator
                clip_fraction = float(((log_ratio.exp() - 1.0).abs() > clip_eps).float().mean())
            if penalty:
                beta = float(beta_fn(beta, kl_total, cfg.kl_target))

            # ---- log
            history.env_steps.append(steps)
            history.iteration_mean_return.append(float(np.mean(episode_returns)) if episode_returns else float("nan"))
            history.policy_loss.append(float(stats["policy_loss"]))
            history.value_loss.append(float(stats["value_loss"]))
            history.wall_time.append(time.perf_counter() - start)
            for key, value in dict(approx_kl=kl_total, clip_fraction=clip_fraction, entropy=entropy_after.mean(),
                                   value_mean=b_values.mean(),
                                   explained_variance=explained, kl_beta=beta, epochs=epoch).items():
                history.diagnostics[key].append(float(value))
            bar.update(min(steps, cfg.total_steps) - bar.n)
            if len(history.env_steps) % 20 == 0 and history.episode_returns:
                bar.set_postfix(mean_return=f"{np.mean(history.episode_returns[-20:]):.1f}")
        bar.close()
        envs.close()
        history.policy = agent
        return history
