"""A2C, advantage actor-critic on synchronous vector environments (chapters 4 and 5).

One iteration reads top to bottom, as in CleanRL, and its two halves are the answer key's loops
(chapter 04's loop items), or the learner's own:

    rollout = a2c_rollout(envs, obs, act, value, T)     T steps in each of N environments
    a2c_update(agent, optimizer, rollout, ...)           advantages and critic targets (n-step
                                                         returns, TD residuals or GAE), the combined
                                                         loss, one clipped gradient step    ->  log.

Every spine function a learner wrote can be passed in; ``None`` means the course's answer
(:mod:`course_utils.answers`). They are called with (T, N) tensors, exactly with the signatures
of the exercises:

    td_residuals(rewards, values, next_values, dones, gamma)        advantage="td"
    bootstrapped_returns(rewards, dones, last_value, gamma)          advantage="n_step"
    gae(rewards, values, dones, last_value, gamma, lam)              advantage="gae"
    lambda_returns(rewards, values, dones, last_value, gamma, lam)    advantage="gae"
    a2c_loss(logp, values, advantages, returns, entropy, value_coef, entropy_coef)   always
    a2c_rollout(envs, obs, act, value, num_steps)                    the loop items: a learner's
    a2c_update(agent, optimizer, rollout, gamma, value_coef,         update computes A2C's n-step
               entropy_coef, max_grad_norm)                          targets with its own functions

Episode ends inside a rollout. The vector environment autoresets on the same step, so the
observation after an episode's last step already belongs to the next episode. ``dones`` passed
to the functions above marks every episode end (terminated or truncated) and nothing is
bootstrapped across it; a truncated step (CartPole and Acrobot stop at 500 steps) gets
gamma * V(final observation) added to its reward first, so the time limit is not mistaken for
a terminal state (the rollout stores V(final observation) in ``truncation_values``).

Speed (benchmarks/README.md). At these sizes time goes into the number of calls, not the
arithmetic, so the loop makes few of them: the actor acts in NumPy on views of its parameters
(no autograd needed to act), sampling noise for a whole rollout is drawn at once, CartPole's
copies are stepped together in NumPy, the critic (alone) runs once per rollout on s_0 ... s_T and
the truncated episodes' last observations, and the update makes one batched forward pass with
gradient. Fused Adam and a cheap global gradient-norm clip finish the step.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Literal, Sequence

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn
from torch.distributions import Categorical
from tqdm.auto import tqdm

from course_utils import answers
from course_utils.answers import a2c_loss, bootstrapped_returns, lambda_returns
from course_utils.rl.policies import mlp
from course_utils.rl.rollout import make_vector_env
from course_utils.trainers.history import History
from course_utils.trainers.kit import bar_label, plug_in
from course_utils.seeding import one_torch_thread

__all__ = ["ActorCritic", "train_a2c", "bootstrapped_returns", "lambda_returns", "a2c_loss"]




# ----------------------------------------------------------------------------- agent
class ActorCritic(nn.Module):
    """pi_theta(a|s) = softmax(logits(s)) and V_phi(s) for a discrete action space: tanh MLPs.

    ``shared=False`` (default): two separate MLPs, so the critic's large regression gradients
    cannot disturb the policy's features. ``shared=True``: one body, two linear heads; fewer
    parameters and features learnt from both signals, but the two losses must be balanced
    with ``value_coef``. obs (B, obs_dim) -> logits (B, n_actions), values (B,).

    Written for speed at small sizes, where the cost is the number of torch calls, not the
    arithmetic (benchmarks/README.md). Weights are stored (in, out), so a layer is one
    ``addmm``; without a shared body, layer l of the actor and of the critic sit side by side
    in one (2, in, out) tensor, so both hidden stacks run as one batched ``baddbmm`` per layer.
    Same functions and initialisation as ``mlp(...)`` networks (they are built, then copied).
    """

    def __init__(self, obs_dim: int, n_actions: int, hidden: Sequence[int] = (64, 64), shared: bool = False):
        super().__init__()
        hidden, self.shared = list(hidden), shared
        if shared:  # body: every layer followed by tanh; heads: one linear layer each
            body = _linears(mlp(obs_dim, hidden[-1], hidden[:-1], out_gain=math.sqrt(2)))
            pi_head, v_head = _linears(mlp(hidden[-1], n_actions, (), out_gain=0.01)), _linears(
                mlp(hidden[-1], 1, (), out_gain=1.0))
            hidden_w = [w.T for w, _ in body]
            hidden_b = [b for _, b in body]
        else:  # two tanh MLPs; their hidden layers stacked along a new leading axis of size 2
            actor, critic = (_linears(mlp(obs_dim, n_actions, hidden, out_gain=0.01)),
                             _linears(mlp(obs_dim, 1, hidden, out_gain=1.0)))
            pi_head, v_head = actor[-1:], critic[-1:]
            hidden_w = [torch.stack([wa.T, wc.T]) for (wa, _), (wc, _) in zip(actor[:-1], critic[:-1])]
            hidden_b = [torch.stack([ba, bc]).unsqueeze(1) for (_, ba), (_, bc) in zip(actor[:-1], critic[:-1])]
        self.hidden_w = nn.ParameterList([nn.Parameter(w.contiguous()) for w in hidden_w])
        self.hidden_b = nn.ParameterList([nn.Parameter(b.clone()) for b in hidden_b])
        self.pi_w, self.pi_b = nn.Parameter(pi_head[0][0].T.contiguous()), nn.Parameter(pi_head[0][1].clone())
        self.v_w, self.v_b = nn.Parameter(v_head[0][0].T.contiguous()), nn.Parameter(v_head[0][1].clone())
        self._hidden = tuple(zip(self.hidden_w, self.hidden_b))  # plain tuple: ParameterList indexing is slow

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """obs (B, obs_dim) -> (logits (B, n_actions), V(s) (B,))."""
        if self.shared:
            h = obs
            for w, b in self._hidden:
                h = torch.tanh(torch.addmm(b, h, w))
            h_pi = h_v = h
        else:
            h = obs.expand(2, *obs.shape)  # (2, B, obs_dim): the actor's input and the critic's
            for w, b in self._hidden:
                h = torch.tanh(torch.baddbmm(b, h, w))
            h_pi, h_v = h
        return torch.addmm(self.pi_b, h_pi, self.pi_w), torch.addmm(self.v_b, h_v, self.v_w).squeeze(-1)

    def logits(self, obs: Tensor) -> Tensor:
        """The actor's output alone, obs (B, obs_dim) -> logits (B, n_actions)."""
        return self(obs)[0]

    def distribution(self, obs: Tensor) -> Categorical:
        return Categorical(logits=self(obs)[0], validate_args=False)

    def value(self, obs: Tensor) -> Tensor:
        """V(s), obs (B, obs_dim) -> (B,): the critic alone (half the work of ``self(obs)``, the same numbers)."""
        h = obs
        for w, b in self._hidden:
            h = torch.tanh(torch.addmm(b, h, w) if self.shared else torch.addmm(b[1], h, w[1]))
        return torch.addmm(self.v_b, h, self.v_w).squeeze(-1)

    @torch.no_grad()
    def act(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """Sample a ~ pi(.|s): (action (B,) int64, logp (B,)), without gradient."""
        logp_all = torch.log_softmax(self(obs)[0], dim=-1)
        action = torch.multinomial(logp_all.exp(), 1)
        return action.squeeze(-1), logp_all.gather(-1, action).squeeze(-1)

    def numpy_actor(self) -> Callable[[np.ndarray], np.ndarray]:
        """The actor as a NumPy function, obs (B, obs_dim) float32 -> logits (B, n_actions).

        It reads NumPy *views* of the live parameters, so the optimizer's in-place steps show
        through without copying. For acting in a rollout: at a batch of 8, a NumPy matrix
        product costs about a microsecond and a torch call about ten, and no gradient is needed.
        """
        hidden = [(w.detach().numpy(), b.detach().numpy()) for w, b in self._hidden]
        if not self.shared:
            hidden = [(w[0], b[0]) for w, b in hidden]  # the actor's half
        pi_w, pi_b = self.pi_w.detach().numpy(), self.pi_b.detach().numpy()

        def logits(obs: np.ndarray) -> np.ndarray:
            for w, b in hidden:
                obs = np.tanh(obs @ w + b)
            return obs @ pi_w + pi_b

        return logits


def _linears(net: nn.Sequential) -> list[tuple[Tensor, Tensor]]:
    """(weight (out, in), bias (out,)) of each nn.Linear of ``net``, in order, detached."""
    return [(m.weight.detach(), m.bias.detach()) for m in net.modules() if isinstance(m, nn.Linear)]


# ----------------------------------------------------------------------------- training
def _targets(advantage: str, lam: float, td_residuals: Callable, bootstrapped_returns: Callable, gae: Callable,
             lambda_returns: Callable) -> Callable:
    """(rewards, values, dones, last_value, gamma) -> (advantages, returns), (T, N) constants, for ``advantage``."""

    @torch.no_grad()
    def targets(rewards: Tensor, values: Tensor, dones: Tensor, last_value: Tensor, gamma: float):
        if advantage == "n_step":  # A_t = G_t - V(s_t), hat R_t = G_t
            returns = bootstrapped_returns(rewards, dones, last_value, gamma)
            return returns - values, returns
        if advantage == "td":  # A_t = delta_t, hat R_t = r_t + gamma (1 - d_t) V(s_{t+1})
            next_values = torch.cat([values[1:], last_value.unsqueeze(0)])  # V(s_{t+1})
            advantages = td_residuals(rewards, values, next_values, dones, gamma)
            return advantages, advantages + values
        advantages = gae(rewards, values, dones, last_value, gamma, lam)
        return advantages, lambda_returns(rewards, values, dones, last_value, gamma, lam)  # = A_t + V(s_t)

    return targets


def train_a2c(
    env_id: str = "CartPole-v1",
    *,
    advantage: Literal["n_step", "td", "gae"] = "n_step",
    td_residuals: Callable | None = None,
    bootstrapped_returns: Callable | None = None,
    gae: Callable | None = None,
    lambda_returns: Callable | None = None,
    a2c_loss: Callable | None = None,
    a2c_rollout: Callable | None = None,
    a2c_update: Callable | None = None,
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
    optimizer: Literal["adam", "rmsprop"] = "adam",
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
            functions (see the module docstring); None: the course's answer.
        a2c_rollout, a2c_update: the learner's loops (chapter 04's loop items); None: the answer's.
            A learner's update computes n-step targets with the learner's own functions, so it
            goes with ``advantage="n_step"`` and ``normalize_advantages=False`` only.
        total_steps: environment steps, all environments together (CartPole: 50k-150k).
        num_envs: N, environments stepped in lockstep (4-16).
        num_steps: T, steps per environment per update (5 for A2C; 16-128 with GAE).
        lr: the optimizer's learning rate (3e-4 to 3e-3).
        gamma: discount factor (0.99).
        lam: GAE lambda, used by ``advantage="gae"`` only (0.9-0.97; 0 and 1 are the ends).
        value_coef: c_v, weight of the critic's squared error in the combined loss (0.25-1).
        entropy_coef: c_H, weight of the entropy bonus (0-0.01).
        max_grad_norm: clip the global gradient norm to this (0.5); None: no clipping.
        normalize_advantages: standardise the batch's advantages before the loss.
        hidden: hidden-layer sizes of the actor and critic MLPs.
        shared: one body for actor and critic (see :class:`ActorCritic`).
        optimizer: ``"adam"`` (eps 1e-5) or ``"rmsprop"`` (alpha 0.99, eps 1e-5, Stable-Baselines3's
            A2C default).
        seed: seeds torch (initialisation, action sampling) and the environments.
        progress: show a progress bar with the recent mean return.

    Returns:
        The run's :class:`History`, with ``history.policy`` the trained :class:`ActorCritic`.
        Uses one torch thread while it runs and restores the previous count afterwards.
    """
    if advantage not in ("n_step", "td", "gae"):
        raise ValueError(f'advantage must be "n_step", "td" or "gae", not {advantage!r}')
    if optimizer not in ("adam", "rmsprop"):
        raise ValueError(f'optimizer must be "adam" or "rmsprop", not {optimizer!r}')
    td_residuals = plug_in(td_residuals, answers.td_residuals, "td_residuals")
    bootstrapped_returns = plug_in(bootstrapped_returns, answers.bootstrapped_returns, "bootstrapped_returns")
    gae = plug_in(gae, answers.gae, "gae")
    lambda_returns = plug_in(lambda_returns, answers.lambda_returns, "lambda_returns")
    a2c_loss = plug_in(a2c_loss, answers.a2c_loss, "a2c_loss", needs_grad=True)
    used = {"n_step": [bootstrapped_returns], "td": [td_residuals], "gae": [gae, lambda_returns]}[advantage]
    if a2c_update is not None and (advantage != "n_step" or normalize_advantages
                                   or any(fn.source == "learner" for fn in [*used, a2c_loss])):
        raise ValueError("your a2c_update computes A2C's n-step targets and calls your own bootstrapped_returns "
                         "and a2c_loss: train it with advantage='n_step', normalize_advantages=False, and without "
                         "passing those functions separately")
    config = dict(
        env_id=env_id, advantage=advantage, total_steps=total_steps, num_envs=num_envs, num_steps=num_steps,
        lr=lr, gamma=gamma, lam=lam if advantage == "gae" else None, value_coef=value_coef,
        entropy_coef=entropy_coef, max_grad_norm=max_grad_norm, normalize_advantages=normalize_advantages,
        hidden=list(hidden), shared=shared, optimizer=optimizer, seed=seed, torch_threads=1,
        **{fn.name: fn.source for fn in used}, a2c_loss=a2c_loss.source if a2c_update is None else "learner",
        a2c_rollout="answer" if a2c_rollout is None else "learner",
        a2c_update="answer" if a2c_update is None else "learner",
    )  # fmt: skip
    a2c_rollout = plug_in(a2c_rollout, answers.a2c_rollout, "a2c_rollout", returns="float")
    if a2c_update is None:  # the answer's loop, with this run's estimator and loss
        options = dict(targets=_targets(advantage, lam, td_residuals, bootstrapped_returns, gae, lambda_returns),
                       a2c_loss=a2c_loss, normalize_advantages=normalize_advantages)
    else:
        options = {}
    a2c_update = plug_in(a2c_update, answers.a2c_update, "a2c_update", returns="float")

    with one_torch_thread():
        # ---- env and agent
        torch.manual_seed(seed)
        envs = make_vector_env(env_id, num_envs, fast=True)  # same-step autoreset
        if not isinstance(envs.single_action_space, gym.spaces.Discrete):
            raise ValueError("train_a2c handles discrete action spaces only")
        obs_dim, n_actions = int(np.prod(envs.single_observation_space.shape)), int(envs.single_action_space.n)
        agent = ActorCritic(obs_dim, n_actions, hidden, shared)
        params = list(agent.parameters())
        if optimizer == "adam":
            opt = torch.optim.Adam(params, lr=lr, eps=1e-5, fused=True)  # fused: one kernel per tensor
        else:  # SB3's A2C default
            opt = torch.optim.RMSprop(params, lr=lr, alpha=0.99, eps=1e-5, foreach=True)

        # ---- acting: the actor runs in NumPy on views of its live parameters (no autograd needed to act)
        # and samples by the Gumbel-max trick, argmax(logits + g) with g = -log E, E ~ Exp(1), the noise
        # of a whole rollout drawn at once; the critic is called once per rollout, inside a2c_rollout
        T, N = num_steps, num_envs
        actor_logits = agent.numpy_actor()
        noise = iter(())

        rows = np.arange(N)

        def act(obs: Tensor) -> tuple[Tensor, Tensor]:  # (a_t (N,), log pi(a_t|s_t) (N,)), a NumPy policy
            logits = actor_logits(obs.numpy())
            action = (logits + next(noise)).argmax(-1)
            logp = logits[rows, action] - np.logaddexp.reduce(logits, axis=-1)  # log softmax, stable
            return torch.from_numpy(action), torch.from_numpy(logp)

        obs = torch.from_numpy(envs.reset(seed=seed)[0])
        running_return, steps = np.zeros(N), 0

        history = History(config=config)
        bar = tqdm(total=total_steps, disable=not progress, unit="step", desc=bar_label(f"A2C {env_id}"))
        start = time.perf_counter()
        while steps < total_steps:
            # ---- rollout: T steps in each of N environments (answers.a2c_rollout, or the learner's)
            noise = iter(-torch.empty(T, N, n_actions).exponential_().log().numpy())
            rollout = a2c_rollout(envs, obs, act, agent.value, T)
            obs = rollout["next_obs"]
            steps += T * N
            episode_returns = []  # episodes that ended in this rollout (terminated or truncated)
            rewards = np.asarray(rollout["rewards"], dtype=np.float32)
            ends = np.maximum(np.asarray(rollout["terminated"]), np.asarray(rollout["truncated"])) > 0
            for t in range(T):
                running_return += rewards[t]
                for i in np.flatnonzero(ends[t]) if ends[t].any() else ():
                    episode_returns.append(float(running_return[i]))
                    running_return[i] = 0.0

            # ---- update: advantages and critic targets, the combined loss, one clipped gradient step
            # (answers.a2c_update, or the learner's)
            stats = a2c_update(agent, opt, rollout, gamma, value_coef, entropy_coef, max_grad_norm, **options)

            # ---- log
            history.episode_returns.extend(episode_returns)
            history.episode_end_steps.extend([steps] * len(episode_returns))
            history.env_steps.append(steps)
            history.iteration_mean_return.append(float(np.mean(episode_returns)) if episode_returns else float("nan"))
            history.policy_loss.append(float(stats["policy_loss"]))
            history.value_loss.append(float(stats["value_loss"]))
            history.wall_time.append(time.perf_counter() - start)
            bar.update(min(T * N, bar.total - bar.n))
            if len(history.env_steps) % 50 == 0 and history.episode_returns:
                bar.set_postfix(mean_return=f"{np.mean(history.episode_returns[-20:]):.1f}")
        bar.close()
        envs.close()
        history.policy = agent
        return history
