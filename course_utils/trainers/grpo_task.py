"""GRPO on a tiny "verifiable reward" task, and PPO with a learned critic on the same task (chapter 09).

The task, small enough to train in well under a minute on a CPU: a prompt is a list of
``prompt_len`` digits in ``0 .. vocab - 1``; the policy writes an answer of the same length, one
token at a time; a checker scores the finished answer by the fraction of positions that agree
with the sorted prompt. Like a language model fine-tuned on maths problems, the reward arrives
only at the end of the answer, and it comes from a program, not from a learned reward model.

    prompt [3, 0, 5, 0]   answer [0, 0, 3, 5]  -> reward 1.0
                          answer [0, 3, 0, 5]  -> reward 0.5 (positions 0 and 3 agree)

Two trainers, the same policy network and the same number of sampled answers per update:

* :func:`train_grpo` samples a *group* of G answers per prompt and uses the group-standardised
  rewards as every token's advantage (no value model), then takes a few epochs of the clipped
  surrogate with a KL penalty towards a frozen reference policy (the starting policy here; the
  supervised model in language-model fine-tuning);
* :func:`train_ppo_critic` samples one answer per prompt and learns V(prompt, tokens so far)
  for GAE advantages, PPO as in chapter 08.

Both return a :class:`~course_utils.trainers.history.History` in which an "episode" is one
answer (its return is the answer's reward) and ``env_steps`` counts sampled answers.
"""
from __future__ import annotations

import copy
import time
from typing import Callable

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from course_utils import answers as answer_key  # "answers" here are the sampled sequences
from course_utils.answers import group_relative_advantages, grpo_loss, ppo_clip_loss  # noqa: F401
from course_utils.rl.sort_task import SequencePolicy, SortTask
from course_utils.trainers.history import History
from course_utils.trainers.kit import bar_label, plug_in
from course_utils.seeding import one_torch_thread

__all__ = ["SortTask", "SequencePolicy", "group_relative_advantages", "grpo_loss", "train_grpo", "train_ppo_critic",
           "success_rate", "smoothed"]


def _record(history: History, rewards: Tensor, start: float, p_loss: float, v_loss: float) -> None:
    seen = history.env_steps[-1] if history.env_steps else 0
    history.episode_returns.extend(rewards.tolist())
    history.episode_end_steps.extend(range(seen + 1, seen + len(rewards) + 1))
    history.env_steps.append(seen + len(rewards))
    history.iteration_mean_return.append(float(rewards.mean()))
    history.policy_loss.append(p_loss)
    history.value_loss.append(v_loss)
    history.wall_time.append(time.perf_counter() - start)


# ----------------------------------------------------------------------------- GRPO
def train_grpo(
    task: SortTask | None = None,
    *,
    group_relative_advantages: Callable | None = None,
    grpo_loss: Callable | None = None,
    grpo_update: Callable | None = None,
    iterations: int = 150,
    prompts_per_iteration: int = 32,
    group_size: int = 8,
    epochs: int = 2,
    clip_eps: float = 0.2,
    beta: float = 0.02,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """GRPO: per iteration, B prompts x G answers, group-relative advantages, ``epochs`` full-batch
    steps on the clipped surrogate plus beta * KL(pi || pi_ref). Learner's functions: None = the answer.

    The update is chapter 09's loop item, ``grpo_update(policy, reference, optimizer, prompts, answers,
    rewards, group_size, minibatches, clip_eps, beta)``: the answer's, or the learner's when passed;
    with the learner's ``group_relative_advantages`` or ``grpo_loss`` (and no ``grpo_update``) the same
    steps are written out below with those pieces plugged in."""
    task = task or SortTask()
    if grpo_update is not None and (group_relative_advantages is not None or grpo_loss is not None):
        raise ValueError("grpo_update calls its own group_relative_advantages and grpo_loss: pass it alone")
    use_update = group_relative_advantages is None and grpo_loss is None
    update_fn = plug_in(grpo_update, answer_key.grpo_update, "grpo_update", returns="float")
    advantages_fn = plug_in(group_relative_advantages, answer_key.group_relative_advantages,
                             "group_relative_advantages")
    loss_fn = plug_in(grpo_loss, answer_key.grpo_loss, "grpo_loss", needs_grad=True)
    history = History(config=dict(algorithm="GRPO", prompt_len=task.prompt_len, vocab=task.vocab, iterations=iterations,
                                  prompts_per_iteration=prompts_per_iteration, group_size=group_size, epochs=epochs,
                                  clip_eps=clip_eps, beta=beta, lr=lr, seed=seed, torch_threads=1,
                                  group_relative_advantages=advantages_fn.source, grpo_loss=loss_fn.source,
                                  grpo_update=("answer" if grpo_update is None else "learner") if use_update else None))
    with one_torch_thread():
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        policy = SequencePolicy(task)
        reference = copy.deepcopy(policy).requires_grad_(False)  # frozen: the policy we must not drift far from
        optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
        start = time.perf_counter()
        for _ in tqdm(range(iterations), disable=not progress, desc="GRPO"):
            B, G = prompts_per_iteration, group_size
            prompts = task.prompts(B, generator).repeat_interleave(G, dim=0)  # (B G, L): G answers per prompt
            answers = policy.generate(prompts, generator)
            rewards = task.reward(prompts, answers)  # (B G,)
            if use_update:  # chapter 09's loop item: `epochs` steps, each on the full batch
                every_answer = torch.arange(B * G)
                p_loss = update_fn(policy, reference, optimizer, prompts, answers, rewards, G,
                                   [[every_answer]] * epochs, clip_eps, beta)
            else:  # the same steps, with the learner's advantages or loss plugged in
                advantages = advantages_fn(rewards.reshape(B, G)).reshape(B * G, 1).expand(B * G, task.prompt_len)
                with torch.no_grad():
                    logp_old, logp_ref = policy.log_prob(prompts, answers), reference.log_prob(prompts, answers)
                for _ in range(epochs):
                    loss = loss_fn(policy.log_prob(prompts, answers).reshape(-1), logp_old.reshape(-1),
                                   logp_ref.reshape(-1), advantages.reshape(-1).float(), clip_eps, beta)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                p_loss = loss.item()
            _record(history, rewards, start, p_loss, float("nan"))
        history.policy = policy
        return history


# ----------------------------------------------------------------------------- PPO with a critic
def train_ppo_critic(
    task: SortTask | None = None,
    *,
    iterations: int = 150,
    answers_per_iteration: int = 256,
    epochs: int = 2,
    clip_eps: float = 0.2,
    gae_lambda: float = 0.95,
    lr: float = 1e-3,
    value_coef: float = 0.5,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """PPO with a learned V(prompt, tokens so far): one answer per prompt, the reward on the last
    token, GAE with gamma = 1 over the answer, normalised advantages, clipped surrogate."""
    task = task or SortTask()
    history = History(config=dict(algorithm="PPO + critic", prompt_len=task.prompt_len, vocab=task.vocab,
                                  iterations=iterations, answers_per_iteration=answers_per_iteration, epochs=epochs,
                                  clip_eps=clip_eps, gae_lambda=gae_lambda, lr=lr, value_coef=value_coef, seed=seed,
                                  torch_threads=1))
    with one_torch_thread():
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        policy = SequencePolicy(task, value_head=True)
        optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
        L, n = task.prompt_len, answers_per_iteration
        start = time.perf_counter()
        for _ in tqdm(range(iterations), disable=not progress, desc=bar_label("PPO + critic")):
            prompts = task.prompts(n, generator)
            answers = policy.generate(prompts, generator)
            rewards = task.reward(prompts, answers)
            with torch.no_grad():
                logp_old, values = policy.log_prob(prompts, answers), policy.values(prompts, answers)
            token_rewards = torch.zeros(n, L)
            token_rewards[:, -1] = rewards  # the checker speaks once the answer is complete
            dones = torch.zeros(n, L)
            dones[:, -1] = 1.0
            # time runs along the first axis for gae: (L, n)
            advantages = answer_key.gae(token_rewards.T, values.T, dones.T, torch.zeros(n), 1.0, gae_lambda).T
            returns = advantages + values
            adv = ((advantages - advantages.mean()) / (advantages.std() + 1e-8)).reshape(-1)
            for _ in range(epochs):
                p_loss = ppo_clip_loss(policy.log_prob(prompts, answers).reshape(-1), logp_old.reshape(-1), adv,
                                       clip_eps)
                v_loss = ((policy.values(prompts, answers) - returns) ** 2).mean()
                optimizer.zero_grad()
                (p_loss + value_coef * v_loss).backward()
                optimizer.step()
            _record(history, rewards, start, p_loss.item(), v_loss.item())
        history.policy = policy
        return history


def success_rate(policy: SequencePolicy, task: SortTask, n: int = 2000, seed: int = 123) -> float:
    """Fraction of fresh prompts whose sampled answer is exactly the sorted prompt."""
    generator = torch.Generator().manual_seed(seed)
    prompts = task.prompts(n, generator)
    return float((task.reward(prompts, policy.generate(prompts, generator)) == 1.0).float().mean())


def smoothed(history: History, window: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(answers sampled, mean reward per iteration averaged over ``window`` iterations)."""
    r = np.asarray(history.iteration_mean_return)
    kernel = np.ones(window) / window
    return np.asarray(history.env_steps)[window - 1:], np.convolve(r, kernel, mode="valid")
