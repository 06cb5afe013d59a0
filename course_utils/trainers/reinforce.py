"""REINFORCE, with the learner's own functions plugged in (chapters 2 and 3).

One iteration reads top to bottom:

    collect whole episodes  ->  weights (return or reward-to-go)  ->  advantages (minus a
    value baseline, optionally normalised)  ->  one policy step on pg_loss  ->  a few value
    steps on value_loss  ->  log.

Every spine function a learner wrote can be passed in; ``None`` means the course's answer
from :mod:`course_utils.answers`. They are called exactly with the spine's signatures:
``discounted_return(rewards (T,), gamma)``, ``reward_to_go(rewards (T,), gamma)`` once per
episode, and ``pg_loss(logp (M,), weights (M,))`` once per batch of M steps.

Plain REINFORCE with reward-to-go weights (no baseline, no normalisation) is chapter 02's loop
item: its whole policy update is one call of ``reinforce_step(policy, optimizer, episodes,
gamma)``, the answer's (:func:`course_utils.answers.reinforce_step`) or the learner's.

Time-limit truncation (CartPole-v1 stops at 500 steps). With a value baseline the truncated
episode is bootstrapped: gamma * V(s_T) of the cut-off observation is added to the last reward
before the return or reward-to-go is computed, as if the episode had gone on. Without a critic
there is nothing to bootstrap with, and the episode is treated as ending there: its return is
the score that CartPole reports (at most 500).
"""
from __future__ import annotations

import time
import warnings
from typing import Callable, Literal

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from course_utils import answers
from course_utils.rl.policies import CategoricalPolicy, GaussianPolicy, ValueNet
from course_utils.rl.rollout import Episode, collect_episodes
from course_utils.trainers.history import History
from course_utils.trainers.kit import bar_label, plug_in
from course_utils.seeding import one_torch_thread

__all__ = ["train_reinforce", "mse_value_loss"]


def mse_value_loss(values: Tensor, returns: Tensor) -> Tensor:
    """L(phi) = 1/M sum_i (V_phi(s_i) - hat R_i)^2: values (M,), returns (M,) -> ()."""
    return F.mse_loss(values, returns)


def train_reinforce(
    env_id: str = "CartPole-v1",
    *,
    weights_fn: Literal["return", "reward_to_go"] = "return",
    discounted_return: Callable | None = None,
    reward_to_go: Callable | None = None,
    pg_loss: Callable | None = None,
    baseline: Literal["value"] | None = None,
    value_loss: Callable | None = None,
    advantage_normalise: bool | Callable = False,
    reinforce_step: Callable | None = None,
    total_steps: int = 100_000,
    batch_steps: int = 2_000,
    lr: float = 1e-2,
    value_lr: float = 1e-2,
    value_iters: int = 10,
    gamma: float = 0.99,
    hidden: tuple[int, ...] = (64, 64),
    seed: int = 0,
    progress: bool = True,
    live_plot: bool = False,
) -> History:
    """Train a policy on ``env_id`` with REINFORCE and return its :class:`History`.

    Args:
        env_id: a Gymnasium id with a Discrete (categorical policy) or Box action space.
        weights_fn: what multiplies grad log pi(a_t|s_t): ``"return"``, the whole episode's
            discounted return R(tau) (chapter 2), or ``"reward_to_go"``, hat R_t (chapter 3).
        discounted_return: learner's ``(rewards (T,), gamma) -> ()``; None: the answer.
        reward_to_go: learner's ``(rewards (T,), gamma) -> (T,)``; None: the answer.
        pg_loss: learner's ``(logp (M,), weights (M,)) -> ()``; None: the answer.
        baseline: ``"value"`` learns V(s) on the reward-to-go and uses weights - V(s_t) as the
            advantage (and bootstraps truncated episodes); None uses the weights as they are.
        value_loss: learner's ``(values (M,), returns (M,)) -> ()``; None: mean squared error.
        advantage_normalise: rescale the batch's weights to mean 0, std 1 before pg_loss
            (True), or pass the learner's ``normalize_advantages(advantages (M,)) -> (M,)``.
        reinforce_step: learner's ``(policy, optimizer, episodes, gamma) -> loss float``, the whole
            policy update of plain REINFORCE with reward-to-go weights (weights_fn="reward_to_go",
            no baseline, no normalisation); None: the answer's, used in that setting when no
            reward_to_go or pg_loss of the learner is passed.
        total_steps: environment steps to train for (the last batch may overshoot a little).
        batch_steps: steps per update; whole episodes are collected until at least this many
            (2,000-5,000 for CartPole).
        lr: Adam learning rate of the policy (1e-3 to 1e-2).
        value_lr: Adam learning rate of the value net (1e-3 to 1e-2).
        value_iters: full-batch value-net steps per iteration (5-80).
        gamma: discount factor (0.99; 1.0 gives the undiscounted REINFORCE of the lessons).
        hidden: hidden-layer sizes of the policy and value MLPs.
        seed: seeds torch (initialisation, action sampling) and the environment.
        progress: show a progress bar with the latest batch's mean return.
        live_plot: redraw a learning curve during training (in a notebook only).

    Returns:
        The run's :class:`History`. Uses one torch thread while it runs (the thread count
        changes the result, see shared/GYMNASIUM_NOTES.md) and restores the previous count.
    """
    discounted_return = plug_in(discounted_return, answers.discounted_return, "discounted_return")
    reward_to_go = plug_in(reward_to_go, answers.reward_to_go, "reward_to_go")
    pg_loss = plug_in(pg_loss, answers.pg_loss, "pg_loss", needs_grad=True)
    value_loss = plug_in(value_loss, mse_value_loss, "value_loss", needs_grad=True)
    plain_rtg = weights_fn == "reward_to_go" and baseline is None and advantage_normalise is False
    if reinforce_step is not None and not plain_rtg:
        raise ValueError('reinforce_step is plain REINFORCE with reward-to-go weights: pass weights_fn="reward_to_go", '
                         'baseline=None and advantage_normalise=False with it')
    # the loop item's step runs unless the learner's own reward_to_go or pg_loss are to be plugged in
    use_step = plain_rtg and (reinforce_step is not None or (reward_to_go.source, pg_loss.source) == ("answer", "answer"))
    reinforce_step = plug_in(reinforce_step, answers.reinforce_step, "reinforce_step", returns="float")
    if weights_fn not in ("return", "reward_to_go"):
        raise ValueError(f'weights_fn must be "return" or "reward_to_go", not {weights_fn!r}')
    if baseline not in (None, "value"):
        raise ValueError(f'baseline must be None or "value", not {baseline!r}')
    config = dict(
        env_id=env_id, weights_fn=weights_fn, baseline=baseline,
        advantage_normalise="learner" if callable(advantage_normalise) else advantage_normalise,
        total_steps=total_steps,
        batch_steps=batch_steps, lr=lr, value_lr=value_lr, value_iters=value_iters,
        gamma=gamma, hidden=list(hidden), seed=seed, torch_threads=1,
        discounted_return=discounted_return.source, reward_to_go=reward_to_go.source,
        pg_loss=pg_loss.source, value_loss=value_loss.source if baseline else None,
        reinforce_step=("answer" if reinforce_step is answers.reinforce_step else "learner") if use_step else None,
    )  # fmt: skip

    with one_torch_thread():
        # ---- env and agent
        torch.manual_seed(seed)
        env = gym.make(env_id)
        obs_dim = int(np.prod(env.observation_space.shape))
        if isinstance(env.action_space, gym.spaces.Discrete):
            policy = CategoricalPolicy(obs_dim, int(env.action_space.n), hidden)
        else:
            policy = GaussianPolicy(obs_dim, int(np.prod(env.action_space.shape)), hidden)
        policy_optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
        value_net = ValueNet(obs_dim, hidden) if baseline == "value" else None
        value_optimizer = torch.optim.Adam(value_net.parameters(), lr=value_lr) if value_net else None

        history = History(config=config)
        plot = _LivePlot(env_id) if live_plot else None
        bar = tqdm(total=total_steps, disable=not progress, unit="step", desc=bar_label(f"REINFORCE {env_id}"))
        start = time.perf_counter()
        steps = 0
        while steps < total_steps:
            # ---- rollout: whole episodes, at least batch_steps steps
            episodes = collect_episodes(env, policy, min_steps=batch_steps, seed=seed if steps == 0 else None)
            if use_step:  # chapter 02's loop item: reward-to-go, log-probs, surrogate, one step
                policy_loss = reinforce_step(policy, policy_optimizer, episodes, gamma)
            else:
                obs = torch.cat([ep.obs for ep in episodes])  # (M, obs_dim)
                actions = torch.cat([ep.actions for ep in episodes])  # (M,) or (M, act_dim)

                # ---- weights: R(tau) for every step of an episode, or the reward-to-go hat R_t
                episode_weights, episode_targets = [], []
                for ep in episodes:
                    rewards = _bootstrapped_rewards(ep, value_net, gamma)  # (T,)
                    if weights_fn == "return":
                        R = discounted_return(rewards, gamma)  # ()
                        episode_weights.append(R.reshape(1).expand(len(ep)))
                    else:
                        episode_weights.append(reward_to_go(rewards, gamma))  # (T,)
                    if value_net is not None:  # V(s_t) is fitted to the reward-to-go
                        is_rtg = weights_fn == "reward_to_go"
                        episode_targets.append(episode_weights[-1] if is_rtg else reward_to_go(rewards, gamma))
                weights = torch.cat(episode_weights).float()  # (M,)

                # ---- advantages: weights minus the baseline, optionally normalised
                advantages = weights
                if value_net is not None:
                    with torch.no_grad():
                        advantages = weights - value_net(obs)
                if callable(advantage_normalise):  # the learner's normalize_advantages
                    advantages = torch.as_tensor(advantage_normalise(advantages), dtype=torch.float32)
                elif advantage_normalise:
                    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

                # ---- policy update: one gradient step on the surrogate
                logp = policy.distribution(obs).log_prob(actions)  # (M,)
                loss = pg_loss(logp, advantages)
                policy_optimizer.zero_grad()
                loss.backward()
                policy_optimizer.step()
                policy_loss = loss.item()

            # ---- value update: regress V(s_t) on the reward-to-go
            v_loss = torch.tensor(float("nan"))
            if value_net is not None:  # (obs and episode_targets come from the general path above)
                targets = torch.cat(episode_targets).float()  # (M,)
                for _ in range(value_iters):
                    v_loss = value_loss(value_net(obs), targets)
                    value_optimizer.zero_grad()
                    v_loss.backward()
                    value_optimizer.step()

            # ---- log
            batch_returns = [ep.total_reward for ep in episodes]
            for ep in episodes:
                steps += len(ep)
                history.episode_returns.append(ep.total_reward)
                history.episode_end_steps.append(steps)
            history.env_steps.append(steps)
            history.iteration_mean_return.append(float(np.mean(batch_returns)))
            history.policy_loss.append(policy_loss)
            history.value_loss.append(v_loss.item())
            history.wall_time.append(time.perf_counter() - start)
            bar.update(min(sum(len(ep) for ep in episodes), bar.total - bar.n))
            bar.set_postfix(mean_return=f"{np.mean(batch_returns):.1f}", episodes=len(episodes))
            if plot is not None:
                plot.update(history)
        bar.close()
        env.close()
        history.policy = policy
        return history


def _bootstrapped_rewards(ep: Episode, value_net: torch.nn.Module | None, gamma: float) -> Tensor:
    """The episode's rewards, plus gamma * V(s_T) on the last one if the time limit cut it."""
    if not ep.truncated or value_net is None:
        return ep.rewards
    rewards = ep.rewards.clone()
    with torch.no_grad():
        rewards[-1] += gamma * value_net(ep.final_obs.unsqueeze(0))[0]
    return rewards


class _LivePlot:
    """One learning-curve figure redrawn in place through an IPython display handle."""

    def __init__(self, title: str) -> None:
        self.handle = None
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            get_ipython = lambda: None  # noqa: E731
        if get_ipython() is None or not hasattr(get_ipython(), "kernel"):
            warnings.warn("live_plot needs a Jupyter notebook; training without it.", stacklevel=3)
            return
        import matplotlib.pyplot as plt

        self.fig, self.ax = plt.subplots(figsize=(6, 3.5))
        self.title = title
        plt.close(self.fig)  # drawn only through the handle, not again at the end of the cell
        self.handle = display(self.fig, display_id=True)

    def update(self, history: History) -> None:
        if self.handle is None:
            return
        self.ax.clear()
        self.ax.plot(history.episode_end_steps, history.episode_returns, ".", alpha=0.2, label="episodes")
        self.ax.plot(*history.rolling_return(20), label="rolling mean (20 episodes)")
        self.ax.set(xlabel="environment steps", ylabel="return", title=self.title)
        self.ax.legend(loc="upper left")
        self.handle.update(self.fig)
