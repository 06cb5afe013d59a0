"""Chapter 04, actor-critic: TD residuals, bootstrapped n-step returns, the A2C loss, and A2C itself (loop
items: the rollout of a vector environment and the update)."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import gymnasium as gym
import numpy as np
import torch
from gymnasium.wrappers import TimeLimit
from torch import nn

from course_utils import answers
from course_utils.checks._common import fixed, gen
from course_utils.grading.spec import Case, Exercise, Mistake, OutcomeError

CHAPTER = "04 Actor-critic"
EXERCISES: list[Exercise] = []  # in course order; course_utils.catalogue collects them


def _episodes(T: int, N: int | None, g: torch.Generator, p_end: float = 0.2) -> torch.Tensor:
    """Random episode ends (float 0/1) of shape (T,) or (T, N): several episodes per column."""
    shape = (T,) if N is None else (T, N)
    return (torch.rand(shape, generator=g) < p_end).float()


# ---------------------------------------------------------------- td_residuals
def _td_cases():
    g = gen(1212)
    T, N = 12, 4
    return [
        Case("a value that is already right, then a terminal step (worked by hand)",
             fixed(rewards=torch.tensor([1.0, 1.0, 1.0]), values=torch.tensor([10.0, 10.0, 10.0]),
                   next_values=torch.tensor([10.0, 10.0, 10.0]), dones=torch.tensor([0.0, 0.0, 1.0]), gamma=0.9),
             why="1 + 0.9 * 10 - 10 = 0 while the episode goes on; at the terminal step nothing is "
                 "bootstrapped, so 1 - 10 = -9"),
        Case("different values now and next, no episode end (worked by hand)",
             fixed(rewards=torch.tensor([0.0, 2.0]), values=torch.tensor([1.0, 3.0]),
                   next_values=torch.tensor([3.0, 4.0]), dones=torch.tensor([0.0, 0.0]), gamma=0.5),
             why="[0 + 0.5 * 3 - 1, 2 + 0.5 * 4 - 3] = [0.5, 1.0]"),
        Case("a (T, N) batch: 12 steps of 4 environments, episodes ending inside",
             fixed(rewards=torch.randn(T, N, generator=g), values=torch.randn(T, N, generator=g),
                   next_values=torch.randn(T, N, generator=g), dones=_episodes(T, N, g), gamma=0.99),
             why="every column is one environment; the formula is elementwise"),
        Case("gamma = 0: the residual is r_t - V(s_t)",
             fixed(rewards=torch.randn(6, generator=g), values=torch.randn(6, generator=g),
                   next_values=torch.randn(6, generator=g), dones=_episodes(6, None, g), gamma=0.0)),
        Case("one long rollout of 50 steps",
             fixed(rewards=torch.rand(50, generator=g), values=torch.randn(50, generator=g) * 5,
                   next_values=torch.randn(50, generator=g) * 5, dones=_episodes(50, None, g, 0.05), gamma=0.97)),
    ]


EXERCISES.append(Exercise(
    id="td_residuals",
    kind="debug",
    bug="no done mask",  # the handed-out code makes this mistake
    chapter=CHAPTER,
    title="the one-step TD residual",
    signature="td_residuals(rewards (T,...), values (T,...), next_values (T,...), dones (T,...), gamma) -> (T,...)",
    answer=answers.td_residuals,
    cases=_td_cases,
    mistakes=[
        Mistake("no done mask", lambda rewards, values, next_values, dones, gamma:
                rewards + gamma * next_values - values,
                "at a terminal step (dones = 1) you still added gamma * V(s_{t+1}). After a terminal state "
                "nothing follows: multiply the bootstrap by (1 - dones)."),
        Mistake("mask on V(s_t)", lambda rewards, values, next_values, dones, gamma:
                rewards + gamma * (1 - dones) * next_values - (1 - dones) * values,
                "the mask (1 - dones) also removed V(s_t). Only the bootstrap V(s_{t+1}) disappears at a terminal "
                "step; the value of the state the action was taken in is always subtracted."),
        Mistake("next value = current value", lambda rewards, values, next_values, dones, gamma:
                rewards + gamma * (1 - dones) * values - values,
                "you bootstrapped with V(s_t) instead of V(s_{t+1}): the residual compares the value now with the "
                "reward plus the value of the NEXT state, which is `next_values`."),
        Mistake("no discount", lambda rewards, values, next_values, dones, gamma:
                rewards + (1 - dones) * next_values - values,
                "gamma is missing: the next state's value is one step in the future, so it is discounted once."),
        Mistake("reversed sign", lambda rewards, values, next_values, dones, gamma:
                values - rewards - gamma * (1 - dones) * next_values,
                "the sign is reversed: delta_t = (r_t + gamma V(s_{t+1})) - V(s_t), the target minus the "
                "prediction, so a positive delta means the action did better than expected."),
    ],
    hints=[
        "delta_t compares the critic's prediction V(s_t) with a one-step look-ahead. What should the state after "
        "a terminal step contribute to it?",
        "The look-ahead is the reward just received plus the discounted value of the next state. When step t "
        "ended the episode, the next state is terminal and worth 0, whatever next_values holds: let the done flag "
        "switch that term off. Elementwise operations serve (T,) and (T, N) alike.",
        "delta_t = r_t + gamma (1 - d_t) V(s_{t+1}) - V(s_t), for every t at once; no loop is needed.",
    ],
    success="delta_t is a one-sample estimate of the advantage A(s_t, a_t) whose noise comes from a single step; "
            "its bias comes from the critic's errors.",
))


# ---------------------------------------------------------------- bootstrapped_returns
def _br_no_bootstrap(rewards, dones, last_value, gamma):
    return answers.bootstrapped_returns(rewards, dones, torch.zeros_like(torch.as_tensor(last_value)), gamma)


def _br_no_dones(rewards, dones, last_value, gamma):
    return answers.bootstrapped_returns(rewards, torch.zeros_like(dones), last_value, gamma)


def _br_next_done(rewards, dones, last_value, gamma):
    # the mask of step t+1 applied between t and t+1: the off-by-one of the done convention
    shifted = torch.cat([dones[1:], torch.zeros_like(dones[:1])])
    return answers.bootstrapped_returns(rewards, shifted, last_value, gamma)


def _br_done_kills_reward(rewards, dones, last_value, gamma):
    returns = answers.bootstrapped_returns(rewards, dones, last_value, gamma)
    return returns * (1 - dones)


def _br_cases():
    g = gen(1313)
    T, N = 10, 3
    return [
        Case("two steps cut by the rollout, bootstrapped with V(s_T) = 10 (worked by hand)",
             fixed(rewards=torch.tensor([1.0, 1.0]), dones=torch.tensor([0.0, 0.0]), last_value=torch.tensor(10.0),
                   gamma=0.5),
             why="G_1 = 1 + 0.5 * 10 = 6, then G_0 = 1 + 0.5 * 6 = 4"),
        Case("an episode ends in the middle of the rollout (worked by hand)",
             fixed(rewards=torch.tensor([1.0, 2.0, 3.0]), dones=torch.tensor([0.0, 1.0, 0.0]),
                   last_value=torch.tensor(5.0), gamma=0.9),
             why="G_2 = 3 + 0.9 * 5 = 7.5 belongs to the new episode; G_1 = 2 (terminal step); G_0 = 1 + 0.9 * 2 = 2.8"),
        Case("terminal last step: V(s_T) must be ignored",
             fixed(rewards=torch.tensor([0.0, 0.0, 1.0]), dones=torch.tensor([0.0, 0.0, 1.0]),
                   last_value=torch.tensor(100.0), gamma=0.9),
             why="the state after a terminal step is the reset state of a new episode: [0.81, 0.9, 1]"),
        Case("a (T, N) batch: 10 steps of 3 environments, last_value of shape (N,)",
             fixed(rewards=torch.randn(T, N, generator=g), dones=_episodes(T, N, g, 0.25),
                   last_value=torch.randn(N, generator=g) * 10, gamma=0.99)),
        Case("a rollout of 5 steps without episode ends (A2C's usual case)",
             fixed(rewards=torch.rand(5, generator=g), dones=torch.zeros(5), last_value=torch.tensor(40.0),
                   gamma=0.99)),
    ]


EXERCISES.append(Exercise(
    id="bootstrapped_returns",
    chapter=CHAPTER,
    title="n-step returns that stop at episode ends and bootstrap at the rollout's end",
    signature="bootstrapped_returns(rewards (T,...), dones (T,...), last_value () or (N,), gamma) -> (T,...)",
    answer=answers.bootstrapped_returns,
    cases=_br_cases,
    mistakes=[
        Mistake("no bootstrap", _br_no_bootstrap,
                "the rollout's end was treated as the episode's end: the recursion must start from "
                "G_T = last_value, the critic's estimate of everything after the cut."),
        Mistake("dones ignored", _br_no_dones,
                "the return flows across an episode end: after a terminal step the next rewards belong to a new "
                "episode. Multiply the carried return by (1 - dones[t])."),
        Mistake("done of the next step", _br_next_done,
                "the mask is off by one step: dones[t] = 1 means that step t itself was the last one, so it cuts "
                "the link between G_t and G_{t+1}. Use dones[t], not dones[t + 1]."),
        Mistake("terminal reward dropped", _br_done_kills_reward,
                "the return of a terminal step is set to 0, but the reward r_t of that step was received: "
                "G_t = r_t there, only the future is cut."),
    ],
    hints=[
        "This is reward-to-go with two twists. Where does the recursion start when the rollout stops in the "
        "middle of an episode, and what happens to it at a terminal step?",
        "Run backwards from the end of the rollout. The value after the last step is the critic's V(s_T) = "
        "last_value, because the episode goes on. At a step that terminated its episode nothing after it belongs "
        "to its return: the return there is the reward alone.",
        "G_T = V(s_T), then G_t = r_t + gamma (1 - d_t) G_{t+1} for t = T-1 down to 0; each G_t is a row of shape "
        "() or (N,).",
    ],
    success="Step t now looks T - t steps ahead and lets the critic stand in for the rest: the last steps of a "
            "rollout lean most on the critic, the first ones least.",
))


# ---------------------------------------------------------------- a2c_loss
def _loss_args(g: torch.Generator, M: int, value_coef: float, entropy_coef: float):
    return fixed(logp=-torch.rand(M, generator=g) * 2, values=torch.randn(M, generator=g) * 3,
                 advantages=torch.randn(M, generator=g), returns=torch.randn(M, generator=g) * 3,
                 entropy=torch.rand(M, generator=g) * 0.7, value_coef=value_coef, entropy_coef=entropy_coef)


def _al_cases():
    g = gen(1414)
    return [
        Case("two samples (worked by hand)",
             fixed(logp=torch.tensor([-1.0, -2.0]), values=torch.tensor([1.0, 2.0]),
                   advantages=torch.tensor([1.0, -1.0]), returns=torch.tensor([2.0, 2.0]),
                   entropy=torch.tensor([0.5, 0.7]), value_coef=0.5, entropy_coef=0.1),
             why="policy -(-1 * 1 + -2 * -1) / 2 = -0.5; value 0.5 * ((1 - 2)^2 + 0) / 2 = 0.25; entropy "
                 "-0.1 * 0.6 = -0.06; total -0.31"),
        Case("a batch of 40 (8 environments x 5 steps)", _loss_args(g, 40, 0.5, 0.01)),
        Case("value_coef = 1, no entropy bonus", _loss_args(g, 16, 1.0, 0.0)),
        Case("a strong entropy bonus", _loss_args(g, 10, 0.25, 0.5)),
    ]


EXERCISES.append(Exercise(
    id="a2c_loss",
    chapter=CHAPTER,
    title="the combined A2C loss: actor, critic and entropy bonus",
    signature="a2c_loss(logp (M,), values (M,), advantages (M,), returns (M,), entropy (M,), value_coef, "
              "entropy_coef) -> () tensor",
    answer=answers.a2c_loss,
    cases=_al_cases,
    grad_wrt=("logp", "values", "advantages", "returns", "entropy"),
    mistakes=[
        Mistake("entropy penalised", lambda logp, values, advantages, returns, entropy, value_coef, entropy_coef:
                -(logp * advantages.detach()).mean() + value_coef * ((values - returns.detach()) ** 2).mean()
                + entropy_coef * entropy.mean(),
                "the entropy term has the wrong sign: the loss is MINIMISED, so an entropy BONUS enters with a "
                "minus sign (-entropy_coef * mean entropy). With a plus, the policy is pushed to be deterministic."),
        Mistake("advantages not detached", lambda logp, values, advantages, returns, entropy, value_coef, entropy_coef:
                -(logp * advantages).mean() + value_coef * ((values - returns.detach()) ** 2).mean()
                - entropy_coef * entropy.mean(),
                "gradient flows into the advantages. They were computed from the critic, so the policy loss would "
                "also train the critic, in a direction that has nothing to do with fitting values: detach them."),
        Mistake("returns not detached", lambda logp, values, advantages, returns, entropy, value_coef, entropy_coef:
                -(logp * advantages.detach()).mean() + value_coef * ((values - returns) ** 2).mean()
                - entropy_coef * entropy.mean(),
                "gradient flows into the returns. They are the critic's regression targets, fixed numbers for "
                "this step (a bootstrapped target is not differentiated either): use returns.detach()."),
        Mistake("value_coef ignored", lambda logp, values, advantages, returns, entropy, value_coef, entropy_coef:
                -(logp * advantages.detach()).mean() + ((values - returns.detach()) ** 2).mean()
                - entropy_coef * entropy.mean(),
                "the critic's squared error is not multiplied by value_coef, which balances the two losses when "
                "they share one optimiser (or one network)."),
        Mistake("policy sign", lambda logp, values, advantages, returns, entropy, value_coef, entropy_coef:
                (logp * advantages.detach()).mean() + value_coef * ((values - returns.detach()) ** 2).mean()
                - entropy_coef * entropy.mean(),
                "the policy term has the wrong sign: minimising -mean(logp * A) raises the probability of actions "
                "with positive advantage."),
    ],
    hints=[
        "One A2C update wants a better policy, a better critic, and a policy that does not turn deterministic too "
        "soon. Which inputs are data rather than things to move?",
        "The policy-gradient surrogate (as in pg_loss, weighted by the advantages), plus value_coef times the "
        "critic's mean squared error against the returns, minus entropy_coef times the mean entropy (minus, "
        "because more entropy is a bonus). Advantages and returns are constants: detach them.",
        "L = -mean_i(logp_i A_i) + c_v mean_i (V_i - hat R_i)^2 - c_H mean_i H_i, with A and hat R detached.",
    ],
    success="One backward pass now trains both networks: the actor through logp and the entropy, the critic "
            "through values, and nothing flows through the advantages or the targets.",
))


# ================================================================ loop items: the rollout and the A2C update
# A scripted environment: a real gymnasium.Env whose episodes end at known steps, by termination (its
# script) or by truncation (the TimeLimit wrapper), inside gymnasium's SyncVectorEnv with same-step
# autoreset. Its observation is (k, e, c): steps taken in the episode, the episode's number, the env's
# index, so every stored observation says where it comes from. Acting and the critic are deterministic
# functions of the observation: no hidden randomness, every correct rollout stores the same arrays.
class ScriptedEnv(gym.Env):
    """Episode e terminates after ``terminate_at[e]`` steps (None: it runs until the time limit cuts it);
    the reward depends on the action and on the step: r = (1 + a)(0.5 + 0.25 k) - 0.1 e."""

    metadata = {"render_modes": []}

    def __init__(self, index: int, terminate_at: Sequence[Optional[int]]):
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.index, self.terminate_at = index, list(terminate_at)
        self.episode, self.k, self.steps_taken = -1, 0, 0

    def _obs(self) -> np.ndarray:
        return np.array([self.k, self.episode, self.index], dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.episode, self.k = self.episode + 1, 0
        return self._obs(), {}

    def step(self, action):
        self.k += 1
        self.steps_taken += 1
        reward = (1.0 + int(action)) * (0.5 + 0.25 * self.k) - 0.1 * self.episode
        script = self.terminate_at[min(self.episode, len(self.terminate_at) - 1)]
        return self._obs(), reward, script is not None and self.k >= script, False, {}


def _scripted_envs(scripts: Sequence[tuple[Sequence[Optional[int]], int]]) -> gym.vector.SyncVectorEnv:
    """One ScriptedEnv per (terminate_at, time limit), stepped together with same-step autoreset."""
    fns = [lambda i=i, s=s, limit=limit: TimeLimit(ScriptedEnv(i, s), max_episode_steps=limit)
           for i, (s, limit) in enumerate(scripts)]
    return gym.vector.SyncVectorEnv(fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)


def scripted_act(obs) -> tuple[torch.Tensor, torch.Tensor]:
    """The case's policy: a_t = (k + e + c) mod 2, and its log-probability under logits
    (0.3 k - 0.2 e, 0.1 c + 0.05 k + 0.1). obs (N, 3) -> (actions (N,) int64, logp (N,))."""
    obs = torch.as_tensor(np.asarray(obs), dtype=torch.float32).reshape(-1, 3)
    k, e, c = obs.unbind(-1)
    actions = (k + e + c).round().long() % 2
    logits = torch.stack([0.3 * k - 0.2 * e, 0.1 * c + 0.05 * k + 0.1], dim=-1)
    return actions, torch.log_softmax(logits, dim=-1).gather(-1, actions[:, None]).squeeze(-1)


def scripted_value(obs) -> torch.Tensor:
    """The case's critic: V(k, e, c) = 1.5 k - 0.25 e + 0.1 c + 0.3. obs (B, 3) -> (B,)."""
    obs = torch.as_tensor(np.asarray(obs.detach() if isinstance(obs, torch.Tensor) else obs),
                          dtype=torch.float32).reshape(-1, 3)
    return obs @ torch.tensor([1.5, -0.25, 0.1]) + 0.3


def _rollout_args(scripts, num_steps: int, warmup: int = 0):
    def make():
        envs = _scripted_envs(scripts)
        obs, _ = envs.reset(seed=0)
        for _ in range(warmup):  # start in the middle of the episodes
            obs, *_ = envs.step(np.zeros(envs.num_envs, dtype=np.int64))
        return {"envs": envs, "obs": torch.as_tensor(obs), "act": scripted_act, "value": scripted_value,
                "num_steps": num_steps}
    return make


def _rollout_cases():
    return [
        Case("3 environments, 8 steps from a reset: terminations, truncations by a time limit (one at the last "
             "step), a step both terminated and truncated",
             _rollout_args([([3, None], 5), ([None], 4), ([2, 4, 2], 4)], 8),
             shown="env 0: terminates after 3 steps, then the limit of 5 cuts the next episode (step 7); env 1: "
                   "the limit of 4 cuts every episode (steps 3 and 7, the rollout's last); env 2: terminates "
                   "after 2 steps (step 1), then after 4 steps just as the limit of 4 ends it (step 5: "
                   "terminated AND truncated), then after 2 (step 7). Observations (k, e, c): k steps into "
                   "episode e of env c; V(k, e, c) = 1.5 k - 0.25 e + 0.1 c + 0.3",
             why="the observation a step returns for a finished episode is the next episode's first; the "
                 "truncated episode's last one is in info['final_obs']"),
        Case("2 environments, 6 steps, started in the middle of the episodes; env 1's episodes last one step",
             _rollout_args([([None], 3), ([1], 10)], 6, warmup=2),
             shown="two steps were taken before your rollout starts (obs is where they left the envs); env 0: "
                   "the limit of 3 cuts every episode; env 1: every step terminates its episode",
             why="every step of env 1 ends an episode: nothing of the next one belongs to it"),
        Case("1 environment, 4 steps, no episode end", _rollout_args([([None], 100)], 4),
             shown="a single environment whose episode runs on: V(s_T) bootstraps the rollout's end"),
    ]


ROLLOUT_KEYS = ("obs", "actions", "logp", "values", "rewards", "terminated", "truncated", "truncation_values",
                "last_value", "next_obs")


def _read(returned: Any, key: str) -> Any:
    if returned is None:
        raise OutcomeError("your rollout returned None: return a dict with the keys "
                           + ", ".join(f"'{k}'" for k in ROLLOUT_KEYS) + ".")
    value = returned.get(key) if isinstance(returned, dict) else getattr(returned, key, None)
    if value is None:
        raise OutcomeError(f"what your rollout returned has no '{key}': return a dict with the keys "
                           + ", ".join(f"'{k}'" for k in ROLLOUT_KEYS) + ".")
    return value


def _as_float_tensor(value: Any) -> torch.Tensor:
    """A tensor, an array, or a list of per-step tensors/arrays (stacked) -> float32 tensor."""
    if isinstance(value, (list, tuple)):
        return torch.stack([_as_float_tensor(v) for v in value]) if len(value) else torch.zeros(0)
    if isinstance(value, torch.Tensor):
        return value.detach().float()
    return torch.as_tensor(np.asarray(value, dtype=np.float64)).float()


def _rollout_record(args, returned):
    """What the rollout stored, in the course's convention: ``truncated`` means cut by the time limit AND not
    terminated (a learner's raw flag is reduced to that), every other entry as stored."""
    record = {key: _as_float_tensor(_read(returned, key)) for key in ROLLOUT_KEYS}
    record["truncated"] = record["truncated"] * (1.0 - record["terminated"]).clamp(0.0, 1.0) \
        if record["truncated"].shape == record["terminated"].shape else record["truncated"]
    record["steps each environment took"] = torch.tensor(
        [float(env.unwrapped.steps_taken) for env in args["envs"].envs])
    return record


def _wrong_rollout(*, store="current", truncation="final obs", dones="this step", both="terminal",
                   after_end="autoreset", last_value="s_T"):
    """A rollout with one thing done wrong (the catalogued loop mistakes below)."""
    def rollout(envs, obs, act, value, num_steps):
        T, N = num_steps, envs.num_envs
        obs = torch.as_tensor(obs, dtype=torch.float32)
        out = {k: [] for k in ("obs", "actions", "logp", "values", "rewards", "terminated", "truncated",
                               "truncation_values")}
        previous_term = np.zeros(N, dtype=bool)
        for t in range(T):
            actions, logp = act(obs)
            values = value(obs)
            next_obs, reward, term, trunc, info = envs.step(actions.numpy())
            if both == "terminal":
                trunc = trunc & ~term
            if truncation == "termination":
                term, trunc = term | trunc, np.zeros_like(trunc)
            next_obs = torch.as_tensor(next_obs, dtype=torch.float32)
            boot = torch.zeros(N)
            for i in np.flatnonzero(trunc):
                if truncation == "final obs":
                    boot[i] = value(torch.as_tensor(info["final_obs"][i])[None])[0]
                elif truncation == "reset obs":
                    boot[i] = value(next_obs[i][None])[0]
            out["obs"].append(next_obs if store == "next" else obs)
            out["actions"].append(actions), out["logp"].append(logp), out["values"].append(values)
            out["rewards"].append(torch.as_tensor(reward, dtype=torch.float32))
            flags = previous_term if dones == "previous step" else term
            out["terminated"].append(torch.as_tensor(flags, dtype=torch.float32))
            out["truncated"].append(torch.as_tensor(trunc, dtype=torch.float32)), out["truncation_values"].append(boot)
            previous_term = term
            ended = term | trunc
            if after_end == "final obs" and ended.any():  # carries on from the episode's last observation
                for i in np.flatnonzero(ended):
                    next_obs[i] = torch.as_tensor(info["final_obs"][i])
            elif after_end == "reset" and ended.any():  # resets every environment, cutting the others' episodes
                next_obs = torch.as_tensor(envs.reset()[0], dtype=torch.float32)
            obs = next_obs
        record = {k: torch.stack(v) for k, v in out.items()}
        record["last_value"] = value(out["obs"][-1] if last_value == "s_T-1" else obs)
        record["next_obs"] = obs
        return record
    return rollout


_ROLLOUT_AXES = {key: ("step", "env") for key in ROLLOUT_KEYS}
_ROLLOUT_AXES.update({"obs": ("step", "env", "feature"), "last_value": ("env",), "next_obs": ("env", "feature"),
                      "steps each environment took": ("env",)})

EXERCISES.append(Exercise(
    id="a2c_rollout",
    kind="loop",
    chapter=CHAPTER,
    title="the rollout: T steps of N environments, what each step stores, and the truncation bootstrap",
    signature="a2c_rollout(envs, obs (N, obs_dim), act, value, num_steps) -> dict of obs (T, N, obs_dim), "
              "actions, logp, values, rewards, terminated, truncated, truncation_values (T, N), last_value (N,), "
              "next_obs (N, obs_dim)",
    answer=answers.a2c_rollout,
    cases=_rollout_cases,
    updates=("envs",),
    outcome=_rollout_record,
    record_axes=_ROLLOUT_AXES,
    mistakes=[
        Mistake("next observation stored", _wrong_rollout(store="next"),
                "`obs[t]` holds the observation the step RETURNED, s_{t+1}, not the one the action was chosen in. "
                "Store obs before stepping: the update asks how good a_t was in s_t."),
        Mistake("truncation treated as termination", _wrong_rollout(truncation="termination"),
                "a time-limit cut is stored as a termination (and not bootstrapped): the episode was still "
                "running, so its future is not worth 0. Keep `truncated` apart from `terminated` and store "
                "V(final observation) for it."),
        Mistake("bootstrapped from the reset observation", _wrong_rollout(truncation="reset obs"),
                "at a truncated step you took V of the observation the step returned, which after a same-step "
                "autoreset is already the NEXT episode's first. The cut episode's last observation is "
                "info['final_obs'][i]."),
        Mistake("no truncation bootstrap", _wrong_rollout(truncation="none"),
                "the flags are right, but `truncation_values` is 0 at the truncated steps: the time limit cut an "
                "episode that would have gone on, so store V of its final observation (info['final_obs'][i])."),
        Mistake("done flag of the previous step", _wrong_rollout(dones="previous step"),
                "`terminated[t]` is one step late: it holds the flag the PREVIOUS step returned (CleanRL's "
                "'next_done' convention). Here terminated[t] says that step t itself ended its episode."),
        Mistake("terminated and truncated at once, bootstrapped", _wrong_rollout(both="truncated"),
                "a step that was both terminated and truncated was treated as a truncation and bootstrapped. The "
                "state is terminal: nothing follows it, so it is a termination only."),
        Mistake("continued from the final observation", _wrong_rollout(after_end="final obs"),
                "after an episode ended you carried on from its final observation, so the next step pairs that "
                "old observation with a transition of the new episode (a fake transition across the boundary). "
                "The environment has already reset: continue from the observation the step returned."),
        Mistake("reset by hand after an episode end", _wrong_rollout(after_end="reset"),
                "you called envs.reset() when an episode ended. That resets EVERY environment, cutting the "
                "others' episodes; the vector environment already resets a finished one by itself."),
        Mistake("last value of the last stored observation", _wrong_rollout(last_value="s_T-1"),
                "`last_value` is V(s_{T-1}), the last STORED observation; the rollout's end is bootstrapped with "
                "V(s_T), the observation after the last step (the one the next rollout starts from)."),
    ],
    hints=[
        "At step t, which observation did the policy look at, and which one does envs.step hand back? When a "
        "step ends an episode, what does the returned observation belong to, and where is the episode's own "
        "last observation?",
        "Keep the observation you act on until the step is done, and store that one. With same-step autoreset, "
        "an environment whose episode just ended already returns the first observation of its next episode; "
        "the ended episode's last observation waits in the step's info. A time-limit cut leaves a future worth "
        "V(that last observation); a termination leaves none, and a step that is both is a termination. After "
        "the T steps, the observation you hold is s_T.",
        "Step t stores s_t, a_t, log pi(a_t|s_t), V(s_t), r_t, terminated_t and truncated_t = truncated and not "
        "terminated; truncation_values[t, i] = V(final_obs_i) where truncated_t,i, else 0; last_value = V(s_T); "
        "next_obs = s_T.",
    ],
    success="Your rollout stores what the update needs and nothing false: no fake transition across an episode "
            "boundary, and the time limit is not mistaken for the end of the world.",
    timeout_s=10.0,
))


# ---------------------------------------------------------------- the A2C update
class CaseActorCritic(nn.Module):
    """The update cases' agent: tanh MLPs, obs (B, obs_dim) -> (logits (B, n_actions), values (B,)); with
    ``shared`` one body and two heads."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: int = 8, shared: bool = False):
        super().__init__()
        self.shared = shared
        if shared:
            self.body = nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh())
            self.actor, self.critic = nn.Linear(hidden, n_actions), nn.Linear(hidden, 1)
        else:
            self.actor = nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, n_actions))
            self.critic = nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(obs) if self.shared else obs
        return self.actor(h), self.critic(h).squeeze(-1)


def _update_args(seed: int, T: int, N: int, ends: dict[str, list[tuple[int, int]]], *, shared=False,
                 optimizer="sgd", gamma=0.9, value_coef=0.5, entropy_coef=0.0, max_grad_norm=0.5, obs_dim=4,
                 n_actions=3):
    def make():
        g = gen(seed)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            agent = CaseActorCritic(obs_dim, n_actions, shared=shared)
        if optimizer == "sgd":
            opt = torch.optim.SGD(agent.parameters(), lr=0.1)
        else:  # Adam after three earlier steps, so that its step depends on the gradient's size
            opt = torch.optim.Adam(agent.parameters(), lr=0.01)
            for _ in range(3):
                opt.zero_grad()
                (agent(torch.randn(6, obs_dim, generator=g))[0].sum() + agent(torch.randn(6, obs_dim, generator=g))[1].pow(2).sum()).backward()
                opt.step()
        opt.zero_grad()
        stale = agent(torch.randn(5, obs_dim, generator=g))  # gradients left in .grad by earlier code
        (stale[0].square().sum() + stale[1].sum()).backward()
        obs = torch.randn(T, N, obs_dim, generator=g)
        actions = torch.randint(0, n_actions, (T, N), generator=g)
        terminated, truncated = torch.zeros(T, N), torch.zeros(T, N)
        for t, i in ends.get("terminated", []):
            terminated[t, i] = 1.0
        for t, i in ends.get("truncated", []):
            truncated[t, i] = 1.0
        final_obs, next_obs = torch.randn(T, N, obs_dim, generator=g), torch.randn(N, obs_dim, generator=g)
        with torch.no_grad():
            logits, values = agent(obs.reshape(T * N, -1))
            logp = torch.log_softmax(logits, -1).gather(-1, actions.reshape(-1, 1)).reshape(T, N)
            truncation_values = agent(final_obs.reshape(T * N, -1))[1].reshape(T, N) * truncated
            last_value = agent(next_obs)[1]
        rollout = {"obs": obs, "actions": actions, "logp": logp, "values": values.reshape(T, N),
                   "rewards": torch.randn(T, N, generator=g) + 1.0, "terminated": terminated,
                   "truncated": truncated, "truncation_values": truncation_values, "last_value": last_value,
                   "next_obs": next_obs}
        return {"agent": agent, "optimizer": opt, "rollout": rollout, "gamma": gamma, "value_coef": value_coef,
                "entropy_coef": entropy_coef, "max_grad_norm": max_grad_norm}
    return make


def _update_cases():
    return [
        Case("5 steps of 3 environments, SGD: a termination, a truncation, gradients left in .grad",
             _update_args(41, 5, 3, {"terminated": [(1, 0)], "truncated": [(3, 2)]}),
             shown="a rollout of T = 5, N = 3 (obs_dim 4, 3 actions) from an actor and a critic of 8 tanh units; "
                   "env 0 terminates at step 1, env 2 is truncated at step 3; SGD with lr 0.1; gamma 0.9, "
                   "value_coef 0.5, no entropy bonus, max_grad_norm 0.5 (the gradient is larger: it is clipped)"),
        Case("8 steps of 2 environments, Adam after three steps, a shared body, an entropy bonus",
             _update_args(42, 8, 2, {"terminated": [(2, 1), (6, 0)], "truncated": [(4, 0), (7, 1)]}, shared=True,
                          optimizer="adam", gamma=0.99, entropy_coef=0.05, max_grad_norm=0.3),
             shown="T = 8, N = 2, one body and two heads, Adam (lr 0.01) that has taken three steps; env 1 "
                   "terminates at step 2 and is truncated at the last step; env 0 is truncated at step 4 and "
                   "terminates at step 6; gamma 0.99, entropy_coef 0.05, max_grad_norm 0.3"),
        Case("5 steps of 4 environments, no episode end, a loose clipping limit",
             _update_args(43, 5, 4, {}, max_grad_norm=100.0, value_coef=0.25),
             shown="T = 5, N = 4, every episode runs on (V(s_T) bootstraps every return); max_grad_norm 100 "
                   "(no clipping happens), value_coef 0.25, SGD"),
    ]


def _stat(returned: Any, key: str) -> torch.Tensor:
    if returned is None:
        raise OutcomeError("your update returned None: return a dict {'policy_loss': ..., 'value_loss': ...}, "
                           "the two parts of the loss before the step, as numbers.")
    if not isinstance(returned, dict) or key not in returned:
        raise OutcomeError("return a dict {'policy_loss': ..., 'value_loss': ...}: the two parts of the loss "
                           "before the step, as numbers.")
    value = returned[key]
    value = value.detach() if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value, dtype=np.float64))
    if value.numel() != 1:
        raise OutcomeError(f"'{key}' should be one number, not a tensor of shape {tuple(value.shape)}.")
    return value.reshape(()).float()


def _update_record(args, returned):
    record = {"policy_loss (returned)": _stat(returned, "policy_loss"),
              "value_loss (returned)": _stat(returned, "value_loss")}
    record.update({f"{name} after the update": p.detach().clone() for name, p in args["agent"].named_parameters()})
    return record


def _wrong_update(*, zero_grad="before backward", bootstrap=True, truncation_bootstrap=True,
                  truncation_ends=True, logp_from="forward", baseline=True, clip="before step",
                  detach_advantages=True):
    """The A2C update with one thing done wrong (the catalogued loop mistakes below)."""
    def update(agent, optimizer, rollout, gamma, value_coef, entropy_coef, max_grad_norm):
        T, N = rollout["rewards"].shape
        rewards = rollout["rewards"] + (gamma * rollout["truncation_values"] if truncation_bootstrap else 0.0)
        dones = torch.maximum(rollout["terminated"], rollout["truncated"]) if truncation_ends \
            else rollout["terminated"]
        last_value = rollout["last_value"] if bootstrap else torch.zeros_like(rollout["last_value"])
        returns = answers.bootstrapped_returns(rewards, dones, last_value, gamma).reshape(-1)
        logits, values = agent(rollout["obs"].reshape(T * N, -1))
        logp_all = torch.log_softmax(logits, -1)
        logp = logp_all.gather(-1, rollout["actions"].reshape(-1, 1)).squeeze(-1) if logp_from == "forward" \
            else rollout["logp"].reshape(-1)
        entropy = -(logp_all.exp() * logp_all).sum(-1)
        if not baseline:
            advantages = returns
        elif detach_advantages:
            advantages = returns - rollout["values"].reshape(-1)
        else:
            advantages = returns - values  # the critic's output, with its gradient
        if detach_advantages:
            loss = answers.a2c_loss(logp, values, advantages, returns, entropy, value_coef, entropy_coef)
        else:  # the loss written out, without detaching the advantages
            loss = (-(logp * advantages).mean() + value_coef * ((values - returns) ** 2).mean()
                    - entropy_coef * entropy.mean())
        if zero_grad == "before backward":
            optimizer.zero_grad()
        loss.backward()
        if zero_grad == "after backward":
            optimizer.zero_grad()
        if clip == "before step":
            torch.nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm)
        optimizer.step()
        if clip == "after step":
            torch.nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm)
        return {"policy_loss": -(logp.detach() * advantages.detach()).mean().item(),
                "value_loss": ((values.detach() - returns) ** 2).mean().item()}
    return update


EXERCISES.append(Exercise(
    id="a2c_update",
    kind="loop",
    chapter=CHAPTER,
    title="the A2C update from a stored rollout: targets, advantages, the loss, one clipped gradient step",
    signature="a2c_update(agent, optimizer, rollout dict, gamma, value_coef, entropy_coef, max_grad_norm) -> "
              "{'policy_loss': float, 'value_loss': float}",
    answer=answers.a2c_update,
    cases=_update_cases,
    updates=("agent", "optimizer"),
    outcome=_update_record,
    record_axes={f"{net}.{layer}.weight after the update": ("output", "input")
                 for net in ("actor", "critic") for layer in (0, 2)}
    | {"body.0.weight after the update": ("output", "input"), "actor.weight after the update": ("output", "input"),
       "critic.weight after the update": ("output", "input")},
    mistakes=[
        Mistake("zero_grad forgotten", _wrong_update(zero_grad="never"),
                "the gradients left in .grad by earlier code were added to this update's: have the optimiser "
                "clear them before the backward pass."),
        Mistake("zero_grad after backward", _wrong_update(zero_grad="after backward"),
                "the gradients were cleared after the backward pass, which wiped the gradient you had just "
                "computed, and the step used none. Clear first, then backpropagate, then step."),
        Mistake("no bootstrap at the rollout's end", _wrong_update(bootstrap=False),
                "the returns start from 0 at the rollout's end: the episodes go on after step T-1, so the "
                "recursion starts from last_value = V(s_T)."),
        Mistake("truncation bootstrap ignored", _wrong_update(truncation_bootstrap=False),
                "at a truncated step the return stops at r_t, as if the state were terminal: add gamma times "
                "the stored truncation value, V(final observation), to that step's reward."),
        Mistake("truncation not an episode end", _wrong_update(truncation_ends=False),
                "only terminations stop the return, so after a truncated step the next episode's rewards flow "
                "into the cut episode's return: every episode end (terminated or truncated) cuts it, and the "
                "truncation's future comes from its bootstrap instead."),
        Mistake("stored log-probs used", _wrong_update(logp_from="rollout"),
                "the loss used the log-probabilities stored during the rollout: they carry no gradient, so "
                "the actor did not move. Recompute log pi(a_t|s_t) with a forward pass of the agent."),
        Mistake("no baseline", _wrong_update(baseline=False),
                "the advantages are the returns themselves: subtract the stored V(s_t), A_t = G_t - V(s_t)."),
        Mistake("advantages not detached", _wrong_update(detach_advantages=False),
                "the advantages were computed from the critic's output with its gradient, so the policy loss "
                "also trains the critic: use the stored values (or detach them); A_t is a constant of the loss."),
        Mistake("clipping after the step", _wrong_update(clip="after step"),
                "the step used the unclipped gradient: its global norm must be clipped to max_grad_norm between "
                "the backward pass and the optimiser's step (clipping after the step, or not at all, changes "
                "nothing in this update)."),
    ],
    hints=[
        "Which quantities in the A2C loss are numbers fixed by the rollout, and which must carry a gradient "
        "from a new forward pass? And what is still sitting in the parameters' .grad before you start?",
        "First the targets: a truncated step's reward gets the discounted value of its final observation, every "
        "episode end stops the return, and the rollout's end is bootstrapped with V(s_T); the advantage is the "
        "return minus the stored value. Then a forward pass on the stored observations gives log pi, V and "
        "the entropy, with gradient, for the loss you wrote. Then the optimiser's four moves, in order: clear, "
        "backpropagate, clip, step.",
        "r'_t = r_t + gamma V(final obs) where truncated; d_t = 1 where terminated or truncated; G_T = V(s_T), "
        "G_t = r'_t + gamma (1 - d_t) G_{t+1}; A_t = G_t - V(s_t); the gradient g is scaled by "
        "min(1, max_grad_norm / |g|) before the step.",
    ],
    success="One A2C iteration is now yours end to end: the rollout decides what is true, the update decides "
            "what is constant, and the optimiser's moves come in the only order that works.",
    timeout_s=10.0,
))
