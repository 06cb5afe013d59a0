"""Chapter 00, set-up and RL primer: returns and rolling out one Gymnasium episode."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from course_utils import answers
from course_utils.checks._common import fixed
from course_utils.grading.spec import Case, Exercise, Mistake

CHAPTER = "00 Set-up and RL primer"
EXERCISES: list[Exercise] = []  # in course order; course_utils.catalogue collects them


# ---------------------------------------------------------------- undiscounted_return


EXERCISES.append(Exercise(
    id="undiscounted_return",
    chapter=CHAPTER,
    title="the return of a finite trajectory",
    signature="undiscounted_return(rewards (T,)) -> () tensor",
    answer=answers.undiscounted_return,
    cases=lambda: [
        Case("three rewards (worked by hand)", fixed(rewards=torch.tensor([1.0, 2.0, 4.0])), why="1 + 2 + 4 = 7"),
        Case("a CartPole-like episode of 25 steps", fixed(rewards=torch.ones(25))),
        Case("negative and fractional rewards", fixed(rewards=torch.tensor([-0.5, 1.25, -3.0, 0.125]))),
        Case("an episode of a single step", fixed(rewards=torch.tensor([7.0]))),
    ],
    mistakes=[
        Mistake("mean", lambda rewards: rewards.mean(), "you averaged the rewards; the return is their SUM."),
        Mistake("last reward", lambda rewards: rewards[-1], "you returned the last reward only; the return adds up "
                "every reward of the trajectory."),
        Mistake("skips first", lambda rewards: rewards[1:].sum(), "the first reward is missing (an off-by-one in "
                "the loop: Python ranges start at 0)."),
        Mistake("skips last", lambda rewards: rewards[:-1].sum(), "the last reward is missing (an off-by-one: "
                "range(len(rewards) - 1) stops one step early)."),
    ],
    hints=[
        "With no discount, how much does each reward of the trajectory count towards the return?",
        "Every reward counts once and in full: the return is their total. A single tensor reduction over the time "
        "axis does it, and it already gives a 0-d tensor.",
        "R = r_0 + r_1 + ... + r_{T-1}: one reduction over time, no division and no loop needed.",
    ],
    success="This is the quantity every algorithm of the course tries to make large on average.",
))


# ---------------------------------------------------------------- run_episode


def push_right(obs: np.ndarray) -> int:
    """Always push the cart to the right (the pole soon falls: the episode terminates)."""
    return 1


def push_towards_lean(obs: np.ndarray) -> int:
    """Push the cart the way the pole leans: keeps it up for a while (obs[2] is the pole angle)."""
    return int(obs[2] > 0)


def full_torque(obs: np.ndarray) -> np.ndarray:
    """Pendulum: always apply the maximal torque (the episode never terminates, only truncates)."""
    return np.array([2.0], dtype=np.float32)


def _ignore_truncation(env, policy, seed):
    obs, info = env.reset(seed=seed)
    rewards = []
    for _ in range(1000):  # bounded so that the grader's own copy of this mistake always ends
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        rewards.append(float(reward))
        if terminated:
            break
    return torch.tensor(rewards, dtype=torch.float32)


def _drops_last(env, policy, seed):
    obs, info = env.reset(seed=seed)
    rewards, done = [], False
    obs, reward, terminated, truncated, info = env.step(policy(obs))
    while not (terminated or truncated):
        rewards.append(float(reward))
        obs, reward, terminated, truncated, info = env.step(policy(obs))
    return torch.tensor(rewards, dtype=torch.float32)


def _no_seed(env, policy, seed):
    return answers.run_episode(env, policy, seed + 1)


def _env_case(name, env_id, limit, policy, seed, why):
    def make():
        return {"env": gym.make(env_id, max_episode_steps=limit), "policy": policy, "seed": seed}
    return Case(name, make, shown=f"env = gym.make('{env_id}', max_episode_steps={limit}), "
                                   f"policy = {policy.__name__}, seed = {seed}", why=why)


EXERCISES.append(Exercise(
    id="run_episode",
    chapter=CHAPTER,
    title="roll out one episode with the Gymnasium API",
    signature="run_episode(env, policy, seed) -> rewards (T,) float32",
    answer=answers.run_episode,
    cases=lambda: [
        _env_case("CartPole, always push right", "CartPole-v1", 500, push_right, 0,
                  "the pole falls after 8 steps: the episode is terminated"),
        _env_case("CartPole with a time limit of 20 steps", "CartPole-v1", 20, push_towards_lean, 3,
                  "this policy keeps the pole up for 36 steps, so the time limit truncates the episode at 20"),
        _env_case("Pendulum with a time limit of 12 steps", "Pendulum-v1", 12, full_torque, 5,
                  "Pendulum never terminates; its rewards are negative floats"),
    ],
    timeout_s=3.0,
    timeout_hint="the loop probably waits for `terminated` only. An episode also ends when `truncated` is True "
                 "(a time limit): stop when `terminated or truncated`.",
    mistakes=[
        Mistake("ignores truncation", _ignore_truncation,
                "the loop stops on `terminated` only, so it ran past the time limit. An episode ends when "
                "`terminated or truncated`; `truncated` means the time limit cut it short."),
        Mistake("drops the last reward", _drops_last,
                "the last reward is missing: the loop checks for the end of the episode before storing the reward "
                "of the step that ended it. Store the reward first, then test terminated/truncated."),
        Mistake("wrong seed", _no_seed, "the environment was not reset with the given seed, so the episode is "
                "not the one expected: reset it with the `seed` argument you were given."),
    ],
    hints=[
        "What must happen before the first step so that the same seed always replays the same episode? And which "
        "two flags can end an episode?",
        "Reset the environment with the given seed, then repeat: ask the policy for an action from the current "
        "observation, step, keep the reward. Stop as soon as the episode terminates or is truncated, after "
        "keeping that step's reward.",
        "obs <- reset with the seed; repeat { a <- the policy's action for obs; (obs, r, terminated, truncated, info) "
        "<- step(a); "
        "append r } until terminated or truncated; hand back the rewards as a float32 tensor of shape (T,).",
    ],
    success="Your loop handles both ways an episode ends: terminated (the task says stop) and truncated (a time "
            "limit). Later chapters treat those two very differently.",
))
