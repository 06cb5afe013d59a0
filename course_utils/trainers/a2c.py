"""A2C, advantage actor-critic on synchronous vector environments (chapters 4 and 5).

One iteration reads top to bottom, as in CleanRL:

    collect T steps in each of N environments  ->  advantages and critic targets (n-step
    returns, TD residuals or GAE)  ->  one gradient step on the combined loss  ->  log.

Every spine function a learner wrote can be passed in; ``None`` means the course's reference.
They are called with (T, N) tensors, exactly with the signatures of the exercises:

    td_residuals(rewards, values, next_values, dones, gamma)        advantage="td"
    bootstrapped_returns(rewards, dones, last_value, gamma)          advantage="n_step"
    gae(rewards, values, dones, last_value, gamma, lam)              advantage="gae"
    lambda_returns(rewards, values, dones, last_value, gamma, lam)    advantage="gae"
    a2c_loss(logp, values, advantages, returns, entropy, value_coef, entropy_coef)   always

Episode ends inside a rollout. The vector environment autoresets on the same step, so the
observation after an episode's last step already belongs to the next episode. ``dones`` passed
to the functions above marks every episode end (terminated or truncated) and nothing is
bootstrapped across it; a truncated step (CartPole and Acrobot stop at 500 steps) gets
gamma * V(final observation) added to its reward first, so the time limit is not mistaken for
a terminal state (see :class:`course_utils.rl.rollout.RolloutBuffer`).
"""
from __future__ import annotations

import json
import math
import platform
import time
from typing import Callable, Literal, Sequence

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn
from torch.distributions import Categorical
from tqdm.auto import tqdm

from course_utils.rl import functional as reference
from course_utils.rl.policies import mlp
from course_utils.rl.rollout import RolloutCollector, make_vector_env
from course_utils.trainers.history import History
from course_utils.trainers.reinforce import _checked
from course_utils.seeding import one_torch_thread

__all__ = ["ActorCritic", "train_a2c", "bootstrapped_returns", "lambda_returns", "a2c_loss"]


# ----------------------------------------------------------------------------- reference math
def bootstrapped_returns(rewards: Tensor, dones: Tensor, last_value: Tensor, gamma: float) -> Tensor:
    r"""G_t = r_t + gamma (1 - d_t) G_{t+1}, with G_T = V(s_T) = ``last_value``.

    The return from step t to the end of the rollout, bootstrapped with the critic where the
    rollout cuts an episode, and stopped where an episode ends: step t looks T - t steps ahead
    (A2C's n-step return). Shapes: rewards, dones (T,) or (T, N); last_value () or (N,).
    Example: rewards [1, 1], dones [0, 0], last_value 10, gamma 0.5 -> [4, 6].
    """
    r, not_done = rewards.float(), 1.0 - dones.float()
    returns = torch.zeros_like(r)
    running = torch.as_tensor(last_value, dtype=r.dtype).detach()
    for t in reversed(range(r.shape[0])):
        running = r[t] + gamma * not_done[t] * running
        returns[t] = running
    return returns


def lambda_returns(
    rewards: Tensor, values: Tensor, dones: Tensor, last_value: Tensor, gamma: float, lam: float
) -> Tensor:
    r"""G^lam_t = r_t + gamma (1 - d_t) [(1 - lam) V(s_{t+1}) + lam G^lam_{t+1}], G^lam_T = V(s_T).

    The critic's targets that go with GAE: G^lam_t = hat A_t + V(s_t). Each step blends the
    one-step bootstrap V(s_{t+1}) with the longer return G^lam_{t+1}; lam = 0 gives
    r_t + gamma V(s_{t+1}), lam = 1 the bootstrapped return. Constants, no gradient.
    Shapes: rewards, values, dones (T,) or (T, N); last_value () or (N,).
    Example: rewards [0, 0, 1], values 0.5, dones 0, last_value 1, gamma 1, lam 0.5 ->
    [0.875, 1.25, 2].
    """
    r, v, not_done = rewards.float(), values.detach().float(), 1.0 - dones.float()
    returns = torch.zeros_like(r)
    next_value = next_return = torch.as_tensor(last_value, dtype=r.dtype).detach()
    for t in reversed(range(r.shape[0])):
        next_return = r[t] + gamma * not_done[t] * ((1 - lam) * next_value + lam * next_return)
        returns[t] = next_return
        next_value = v[t]
    return returns


def a2c_loss(
    logp: Tensor,
    values: Tensor,
    advantages: Tensor,
    returns: Tensor,
    entropy: Tensor,
    value_coef: float = 0.5,
    entropy_coef: float = 0.01,
) -> Tensor:
    r"""L = -mean(log pi(a|s) A) + c_v mean((V(s) - hat R)^2) - c_H mean(H[pi(.|s)]).

    Shapes: every tensor (M,); advantages and returns are constants (detached). Minimising L
    follows the policy gradient, regresses the critic on its targets and, through the entropy
    bonus, keeps the policy from becoming deterministic too early.
    """
    policy_loss = -(logp * advantages.detach()).mean()
    value_loss = ((values - returns.detach()) ** 2).mean()
    return policy_loss + value_coef * value_loss - entropy_coef * entropy.mean()


# the defaults of train_a2c's learner-function arguments (which shadow the names above)
_REFERENCES = {"bootstrapped_returns": bootstrapped_returns, "lambda_returns": lambda_returns, "a2c_loss": a2c_loss}


# ----------------------------------------------------------------------------- agent
class ActorCritic(nn.Module):
    """pi_theta(a|s) = softmax(actor(s)) and V_phi(s) = critic(s) for a discrete action space.

    ``shared=False`` (default): two separate MLPs, so the critic's large regression gradients
    cannot disturb the policy's features. ``shared=True``: one body, two linear heads; fewer
    parameters and features learnt from both signals, but the two losses must be balanced
    with ``value_coef``. obs (B, obs_dim) -> logits (B, n_actions), values (B,).
    """

    def __init__(self, obs_dim: int, n_actions: int, hidden: Sequence[int] = (64, 64), shared: bool = False):
        super().__init__()
        hidden = list(hidden)
        if shared:
            body = nn.Sequential(mlp(obs_dim, hidden[-1], hidden[:-1], out_gain=math.sqrt(2)), nn.Tanh())
            self.actor = nn.Sequential(body, mlp(hidden[-1], n_actions, (), out_gain=0.01))
            self.critic = nn.Sequential(body, mlp(hidden[-1], 1, (), out_gain=1.0))
        else:
            self.actor = mlp(obs_dim, n_actions, hidden, out_gain=0.01)
            self.critic = mlp(obs_dim, 1, hidden, out_gain=1.0)

    def distribution(self, obs: Tensor) -> Categorical:
        return Categorical(logits=self.actor(obs), validate_args=False)

    def value(self, obs: Tensor) -> Tensor:
        return self.critic(obs).squeeze(-1)

    @torch.no_grad()
    def act(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """Sample a ~ pi(.|s): (action (B,) int64, logp (B,)), without gradient."""
        logp_all = torch.log_softmax(self.actor(obs), dim=-1)
        action = torch.multinomial(logp_all.exp(), 1)
        return action.squeeze(-1), logp_all.gather(-1, action).squeeze(-1)


# ----------------------------------------------------------------------------- training
def train_a2c(
    env_id: str = "CartPole-v1",
    *,
    advantage: Literal["n_step", "td", "gae"] = "n_step",
    td_residuals: Callable | None = None,
    bootstrapped_returns: Callable | None = None,
    gae: Callable | None = None,
    lambda_returns: Callable | None = None,
    a2c_loss: Callable | None = None,
    total_steps: int = 100_000,
    num_envs: int = 8,
    num_steps: int = 5,
    lr: float = 1e-3,
    gamma: float = 0.99,
    lam: float = 0.95,
    value_coef: float = 0.5,
    entropy_coef: float = 0.0,
    max_grad_norm: float = 0.5,
    normalize_advantages: bool = False,
    hidden: tuple[int, ...] = (64, 64),
    shared: bool = False,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """Train an actor-critic on ``env_id`` (discrete actions) and return its :class:`History`.

    Args:
        advantage: how A_t and the critic's target hat R_t are estimated from a rollout:
            ``"n_step"`` (A2C): hat R_t = G_t, the return to the rollout's end bootstrapped
            with V(s_T), and A_t = G_t - V(s_t); ``"td"``: A_t = delta_t, hat R_t = r_t +
            gamma V(s_{t+1}); ``"gae"``: A_t = GAE(gamma, lam), hat R_t = the lambda-return
            A_t + V(s_t).
        td_residuals, bootstrapped_returns, gae, lambda_returns, a2c_loss: the learner's
            functions (see the module docstring); None: the course's reference.
        total_steps: environment steps, all environments together (CartPole: 50k-150k).
        num_envs: N, environments stepped in lockstep (4-16).
        num_steps: T, steps per environment per update (5 for A2C; 16-128 with GAE).
        lr: Adam learning rate (3e-4 to 3e-3).
        gamma: discount factor (0.99).
        lam: GAE lambda, used by ``advantage="gae"`` only (0.9-0.97; 0 and 1 are the ends).
        value_coef: c_v, weight of the critic's squared error in the combined loss (0.25-1).
        entropy_coef: c_H, weight of the entropy bonus (0-0.01).
        max_grad_norm: clip the global gradient norm to this (0.5); None: no clipping.
        normalize_advantages: standardise the batch's advantages before the loss.
        hidden: hidden-layer sizes of the actor and critic MLPs.
        shared: one body for actor and critic (see :class:`ActorCritic`).
        seed: seeds torch (initialisation, action sampling) and the environments.
        progress: show a progress bar with the recent mean return.

    Returns:
        The run's :class:`History`, with ``history.policy`` the trained :class:`ActorCritic`.
        Uses one torch thread while it runs and restores the previous count afterwards.
    """
    if advantage not in ("n_step", "td", "gae"):
        raise ValueError(f'advantage must be "n_step", "td" or "gae", not {advantage!r}')
    td_residuals = _checked(td_residuals, reference.td_residuals, "td_residuals")
    bootstrapped_returns = _checked(bootstrapped_returns, _REFERENCES["bootstrapped_returns"], "bootstrapped_returns")
    gae = _checked(gae, reference.gae, "gae")
    lambda_returns = _checked(lambda_returns, _REFERENCES["lambda_returns"], "lambda_returns")
    a2c_loss = _checked(a2c_loss, _REFERENCES["a2c_loss"], "a2c_loss", needs_grad=True)
    used = {"n_step": [bootstrapped_returns], "td": [td_residuals], "gae": [gae, lambda_returns]}[advantage]
    config = dict(
        env_id=env_id, advantage=advantage, total_steps=total_steps, num_envs=num_envs, num_steps=num_steps,
        lr=lr, gamma=gamma, lam=lam if advantage == "gae" else None, value_coef=value_coef,
        entropy_coef=entropy_coef, max_grad_norm=max_grad_norm, normalize_advantages=normalize_advantages,
        hidden=list(hidden), shared=shared, seed=seed, torch_threads=1,
        **{fn.name: fn.source for fn in used}, a2c_loss=a2c_loss.source,
    )  # fmt: skip

    with one_torch_thread():
        # ---- env and agent
        torch.manual_seed(seed)
        envs = make_vector_env(env_id, num_envs)
        if not isinstance(envs.single_action_space, gym.spaces.Discrete):
            raise ValueError("train_a2c handles discrete action spaces only")
        obs_dim = int(np.prod(envs.single_observation_space.shape))
        agent = ActorCritic(obs_dim, int(envs.single_action_space.n), hidden, shared)
        optimizer = torch.optim.Adam(agent.parameters(), lr=lr, eps=1e-5)
        collector = RolloutCollector(envs, seed=seed)

        history = History(config=config)
        bar = tqdm(total=total_steps, disable=not progress, unit="step", desc=f"A2C {env_id}")
        start = time.perf_counter()
        while collector.global_step < total_steps:
            # ---- rollout: T steps in each of N environments, (T, N) tensors
            buffer = collector.collect(agent, agent.value, num_steps)
            rewards = buffer.bootstrapped_rewards(gamma)  # + gamma V(final obs) where truncated
            dones = buffer.episode_ends  # terminated or truncated: no bootstrap across it
            values, last_value = buffer.values, buffer.last_value  # V(s_t), V(s_T); no gradient

            # ---- advantages A_t and critic targets hat R_t, (T, N), constants
            with torch.no_grad():
                if advantage == "n_step":
                    returns = bootstrapped_returns(rewards, dones, last_value, gamma)
                    advantages = returns - values
                elif advantage == "td":
                    next_values = torch.cat([values[1:], last_value.unsqueeze(0)])  # V(s_{t+1})
                    advantages = td_residuals(rewards, values, next_values, dones, gamma)
                    returns = advantages + values  # r_t + gamma (1 - d_t) V(s_{t+1})
                else:
                    advantages = gae(rewards, values, dones, last_value, gamma, lam)
                    returns = lambda_returns(rewards, values, dones, last_value, gamma, lam)  # = A_t + V(s_t)
            advantages, returns = advantages.reshape(-1).float(), returns.reshape(-1).float()  # (M,) M = T N
            if normalize_advantages:
                advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

            # ---- update: one gradient step on the combined loss
            obs = buffer.obs.reshape(-1, obs_dim)
            dist = agent.distribution(obs)
            logp = dist.log_prob(buffer.actions.reshape(-1))  # (M,)
            new_values = agent.value(obs)  # (M,), with gradient
            loss = a2c_loss(logp, new_values, advantages, returns, dist.entropy(), value_coef, entropy_coef)
            optimizer.zero_grad()
            loss.backward()
            if max_grad_norm is not None:
                nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm)
            optimizer.step()

            # ---- log (the two parts of the loss, recomputed with the reference formulas)
            steps = collector.global_step
            for ret in buffer.episode_returns:
                history.episode_returns.append(ret)
                history.episode_end_steps.append(steps)
            history.env_steps.append(steps)
            history.iteration_mean_return.append(
                float(np.mean(buffer.episode_returns)) if buffer.episode_returns else float("nan"))
            history.policy_loss.append(-(logp.detach() * advantages).mean().item())
            history.value_loss.append(((new_values.detach() - returns) ** 2).mean().item())
            history.wall_time.append(time.perf_counter() - start)
            bar.update(min(num_steps * num_envs, bar.total - bar.n))
            if len(history.env_steps) % 50 == 0 and history.episode_returns:
                bar.set_postfix(mean_return=f"{np.mean(history.episode_returns[-20:]):.1f}")
        bar.close()
        envs.close()
        history.policy = agent
        return history


# ----------------------------------------------------------------------------- the lam lab's cache
# Chapter 5's "same question on a real task": actor-critic + GAE on Acrobot-v1 for several lam,
# seeded runs, cached so the lesson only loads them. Regenerate with
#     python -m course_utils.trainers.reference gae_lambda_sweep
LAMBDA_SWEEP = dict(
    lams=[0.0, 0.5, 0.9, 0.95, 1.0],
    seeds=[0, 1, 2],
    grid_step=1_000,
    config=dict(env_id="Acrobot-v1", advantage="gae", total_steps=60_000, num_envs=8, num_steps=32, lr=1e-3,
                gamma=0.99, value_coef=0.5, entropy_coef=0.0, max_grad_norm=0.5),
)  # fmt: skip


def _sweep_path():
    from course_utils.trainers.reference import _data_dir

    return _data_dir().parent / "gae_lambda_sweep.json"


def make_lambda_sweep(progress: bool = True) -> dict:
    """Train every (lam, seed) of :data:`LAMBDA_SWEEP`; rolling-20 mean return on a grid, per run."""
    grid = np.arange(0, LAMBDA_SWEEP["config"]["total_steps"] + 1, LAMBDA_SWEEP["grid_step"])
    runs: dict[str, dict[str, dict]] = {}
    for lam in LAMBDA_SWEEP["lams"]:
        runs[str(lam)] = {}
        for seed in LAMBDA_SWEEP["seeds"]:
            history = train_a2c(**LAMBDA_SWEEP["config"], lam=lam, seed=seed, progress=progress)
            curve = history.curve(grid, 20)
            reached = history.steps_to_reach(-100, 20)
            runs[str(lam)][str(seed)] = {
                "curve": [None if np.isnan(v) else round(float(v), 2) for v in curve],
                "final_rolling_return": round(float(history.rolling_return(20)[1][-1]), 2),
                "steps_to_minus_100": reached[0] if reached else None,
                "episodes": len(history.episode_returns),
            }
            print(f"lam {lam} seed {seed}: final {runs[str(lam)][str(seed)]['final_rolling_return']}", flush=True)
    return {
        "name": "gae_lambda_sweep",
        "description": "Actor-critic + GAE on Acrobot-v1 for several lam; rolling mean return over the last 20 "
                       "training episodes, per run, on a grid of environment steps.",
        "config": LAMBDA_SWEEP["config"],
        "lams": LAMBDA_SWEEP["lams"],
        "seeds": LAMBDA_SWEEP["seeds"],
        "env_steps": grid.tolist(),
        "runs": runs,
        "meta": {"command": "python -m course_utils.trainers.reference gae_lambda_sweep", "torch_threads": 1,
                 "versions": {"torch": torch.__version__, "gymnasium": gym.__version__,
                              "numpy": np.__version__, "python": platform.python_version()},
                 "created": time.strftime("%Y-%m-%d")},
    }  # fmt: skip


def load_lambda_sweep() -> dict:
    """The cached sweep: ``data["env_steps"]`` (G,), ``data["runs"][str(lam)][str(seed)]["curve"]`` (G,)."""
    data = json.loads(_sweep_path().read_text())
    for per_seed in data["runs"].values():
        for run in per_seed.values():
            run["curve"] = np.array([np.nan if v is None else v for v in run["curve"]], dtype=float)
    data["env_steps"] = np.asarray(data["env_steps"])
    return data
