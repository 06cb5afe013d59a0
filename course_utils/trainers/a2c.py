"""A2C, advantage actor-critic on synchronous vector environments (chapters 4 and 5).

One iteration reads top to bottom, as in CleanRL:

    collect T steps in each of N environments  ->  advantages and critic targets (n-step
    returns, TD residuals or GAE)  ->  one gradient step on the combined loss  ->  log.

Every spine function a learner wrote can be passed in; ``None`` means the course's answer
(:mod:`course_utils.answers`).
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
a terminal state (the convention of :class:`course_utils.rl.rollout.RolloutBuffer`).

Speed (benchmarks/README.md). At these sizes time goes into the number of calls, not the
arithmetic, so the loop makes few of them: the actor acts in NumPy on views of its parameters
(no autograd needed to act), sampling noise for a whole rollout is drawn at once, CartPole's
copies are stepped together in NumPy, and one batched forward pass after the rollout gives
the logits and values for the loss *and* the values for the advantages (A2C takes a single
gradient step per rollout, so the parameters have not moved since acting). Fused Adam and a
cheap global gradient-norm clip finish the step.
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
from course_utils.trainers.kit import bar_label, clip_grad_norm, plug_in
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
        """V(s), obs (B, obs_dim) -> (B,)."""
        return self(obs)[1]

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
    config = dict(
        env_id=env_id, advantage=advantage, total_steps=total_steps, num_envs=num_envs, num_steps=num_steps,
        lr=lr, gamma=gamma, lam=lam if advantage == "gae" else None, value_coef=value_coef,
        entropy_coef=entropy_coef, max_grad_norm=max_grad_norm, normalize_advantages=normalize_advantages,
        hidden=list(hidden), shared=shared, optimizer=optimizer, seed=seed, torch_threads=1,
        **{fn.name: fn.source for fn in used}, a2c_loss=a2c_loss.source,
    )  # fmt: skip

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

        # ---- rollout storage, (T, N)
        T, N = num_steps, num_envs
        obs = np.zeros((T, N, obs_dim), dtype=np.float32)
        actions = np.zeros((T, N), dtype=np.int64)
        actor_logits = agent.numpy_actor()
        rewards, terminated, truncated = (np.zeros((T, N), dtype=np.float32) for _ in range(3))
        raw_obs, _ = envs.reset(seed=seed)
        running_return, steps = np.zeros(N), 0

        history = History(config=config)
        bar = tqdm(total=total_steps, disable=not progress, unit="step", desc=bar_label(f"A2C {env_id}"))
        start = time.perf_counter()
        while steps < total_steps:
            # ---- rollout: T steps in each of N environments. Acting needs no gradient: the actor runs
            # in NumPy and samples by the Gumbel-max trick, argmax(logits + g) with g = -log E, E ~ Exp(1)
            gumbel = -torch.empty(T, N, n_actions).exponential_().log().numpy()
            cut_t, cut_i, cut_obs, episode_returns = [], [], [], []  # truncated steps and the obs they cut off
            for t in range(T):
                obs[t] = raw_obs
                actions[t] = (actor_logits(raw_obs) + gumbel[t]).argmax(-1)
                raw_obs, reward, term, trunc, info = envs.step(actions[t])
                trunc = trunc & ~term  # a step that is both is a termination: nothing to bootstrap
                rewards[t], terminated[t], truncated[t] = reward, term, trunc
                running_return += reward
                for i in np.flatnonzero(term | trunc):
                    episode_returns.append(float(running_return[i]))
                    running_return[i] = 0.0
                    if trunc[i]:  # same-step autoreset: the observation the time limit cut off is in info
                        cut_t.append(t), cut_i.append(i), cut_obs.append(info["final_obs"][i])
            steps += T * N

            # ---- one forward pass, with gradient, on s_0 ... s_{T-1}, s_T and the cut-off observations.
            # A2C takes one gradient step per rollout, so these are also the values the rollout's policy
            # would have given: V(s_t) serves both as the baseline (detached) and as the critic's output.
            batch = [torch.from_numpy(obs).reshape(T * N, obs_dim), torch.from_numpy(raw_obs)]
            if cut_obs:
                batch.append(torch.from_numpy(np.stack(cut_obs)).float())
            logits, all_values = agent(torch.cat(batch))
            logits, new_values = logits[: T * N], all_values[: T * N]  # (M,), M = T N
            values = new_values.detach().reshape(T, N)  # V(s_t), constants
            last_value = all_values[T * N : T * N + N].detach()  # V(s_T)
            boot_rewards = torch.from_numpy(rewards.copy())  # r_t + gamma V(cut-off obs) where truncated
            if cut_obs:
                boot_rewards[cut_t, cut_i] += gamma * all_values[T * N + N :].detach()
            dones = torch.from_numpy(np.maximum(terminated, truncated))  # no bootstrap across an episode end

            # ---- advantages A_t and critic targets hat R_t, (T, N), constants
            with torch.no_grad():
                if advantage == "n_step":
                    returns = bootstrapped_returns(boot_rewards, dones, last_value, gamma)
                    advantages = returns - values
                elif advantage == "td":
                    next_values = torch.cat([values[1:], last_value.unsqueeze(0)])  # V(s_{t+1})
                    advantages = td_residuals(boot_rewards, values, next_values, dones, gamma)
                    returns = advantages + values  # r_t + gamma (1 - d_t) V(s_{t+1})
                else:
                    advantages = gae(boot_rewards, values, dones, last_value, gamma, lam)
                    returns = lambda_returns(boot_rewards, values, dones, last_value, gamma, lam)  # = A_t + V(s_t)
            advantages, returns = advantages.reshape(-1).float(), returns.reshape(-1).float()  # (M,)
            if normalize_advantages:
                advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

            # ---- update: one gradient step on the combined loss
            logp_all = torch.log_softmax(logits, dim=-1)
            logp = logp_all.gather(-1, torch.from_numpy(actions).reshape(-1, 1)).squeeze(-1)  # log pi(a_t|s_t), (M,)
            with torch.set_grad_enabled(entropy_coef != 0):  # without a bonus, no gradient to trace
                entropy = -(logp_all.exp() * logp_all).sum(-1)  # H[pi(.|s_t)], (M,)
            loss = a2c_loss(logp, new_values, advantages, returns, entropy, value_coef, entropy_coef)
            opt.zero_grad()
            loss.backward()
            if max_grad_norm is not None:
                clip_grad_norm(params, max_grad_norm)
            opt.step()

            # ---- log (the two parts of the loss, recomputed with the answers' formulas)
            history.episode_returns.extend(episode_returns)
            history.episode_end_steps.extend([steps] * len(episode_returns))
            history.env_steps.append(steps)
            history.iteration_mean_return.append(float(np.mean(episode_returns)) if episode_returns else float("nan"))
            history.policy_loss.append(-(logp.detach() * advantages).mean().item())
            history.value_loss.append(((new_values.detach() - returns) ** 2).mean().item())
            history.wall_time.append(time.perf_counter() - start)
            bar.update(min(T * N, bar.total - bar.n))
            if len(history.env_steps) % 50 == 0 and history.episode_returns:
                bar.set_postfix(mean_return=f"{np.mean(history.episode_returns[-20:]):.1f}")
        bar.close()
        envs.close()
        history.policy = agent
        return history
