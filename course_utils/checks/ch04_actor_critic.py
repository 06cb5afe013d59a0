"""Chapter 04, actor-critic: TD residuals, bootstrapped n-step returns, and the A2C loss."""
from __future__ import annotations

import torch

from course_utils import answers
from course_utils.checks._common import fixed, gen
from course_utils.grading.spec import Case, Exercise, Mistake

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
