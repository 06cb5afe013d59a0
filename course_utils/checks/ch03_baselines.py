"""Chapter 03, reward-to-go and baselines: causality, the optimal constant baseline, a value baseline."""
from __future__ import annotations

import torch

from course_utils import answers
from course_utils.checks._common import fixed, gen
from course_utils.grading.spec import Case, Exercise, Mistake

CHAPTER = "03 Reward-to-go and baselines"
EXERCISES: list[Exercise] = []  # in course order; course_utils.catalogue collects them


# ---------------------------------------------------------------- reward_to_go
def _rtg_loop_forward_cumsum(rewards, gamma=1.0):
    out, running = [], 0.0
    for r in rewards.tolist():
        running = running * gamma + r
        out.append(running)
    return torch.tensor(out)


def _rtg_excluding_now(rewards, gamma=1.0):
    full = answers.reward_to_go(rewards, gamma)
    return torch.cat([full[1:], torch.zeros(1)])


def _rtg_discount_from_start(rewards, gamma=1.0):
    discounted = rewards * gamma ** torch.arange(len(rewards), dtype=torch.float32)
    return torch.flip(torch.cumsum(torch.flip(discounted, [0]), 0), [0])


def _rtg_cases():
    g = gen(808)
    return [
        Case("three rewards of 1, gamma = 1 (worked by hand)", fixed(rewards=torch.tensor([1.0, 1.0, 1.0])),
             why="the default gamma is 1: [3, 2, 1]"),
        Case("reward only at the last step, gamma = 0.9", fixed(rewards=torch.tensor([0.0, 0.0, 1.0]), gamma=0.9),
             why="[0.81, 0.9, 1.0]"),
        Case("gamma = 0 keeps only the immediate reward", fixed(rewards=torch.tensor([2.0, -1.0, 4.0]), gamma=0.0)),
        Case("an episode of 9 random rewards, gamma = 0.99", fixed(rewards=torch.randn(9, generator=g), gamma=0.99)),
        Case("a single step", fixed(rewards=torch.tensor([5.0]), gamma=0.5)),
    ]


EXERCISES.append(Exercise(
    id="reward_to_go",
    chapter=CHAPTER,
    title="reward-to-go: only the future counts",
    signature="reward_to_go(rewards (T,), gamma float = 1.0) -> (T,)",
    answer=answers.reward_to_go,
    cases=_rtg_cases,
    mistakes=[
        Mistake("forward cumsum", _rtg_loop_forward_cumsum,
                "you accumulated from the start of the episode: that is the reward of the PAST. Reward-to-go sums "
                "from step t to the end, so run the recursion backwards in time."),
        Mistake("excludes r_t", _rtg_excluding_now,
                "the reward of step t itself is missing: hat R_t starts with r_t, the reward that action a_t earned."),
        Mistake("discount from the start", _rtg_discount_from_start,
                "each reward is discounted from the start of the episode (gamma^t'), not from step t "
                "(gamma^(t' - t)): hat R_t must begin with r_t at full weight."),
        Mistake("total return", lambda rewards, gamma=1.0: answers.discounted_return(rewards, gamma).expand(len(rewards)),
                "every step got the return of the whole episode. That is vanilla REINFORCE's weight; reward-to-go "
                "drops the rewards that came before the action."),
    ],
    hints=[
        "An action cannot change rewards that were already collected: hat R_t = r_t + gamma r_{t+1} + gamma^2 r_{t+2} + ...",
        "Notice the recursion hat R_t = r_t + gamma hat R_{t+1}, with nothing after the last step. Which direction "
        "should the loop run?",
        "Loop t from T-1 down to 0, keep a running sum `running = rewards[t] + gamma * running`, store it at index t.",
    ],
    success="Each step is now credited only with what came after it, which removes noise without adding bias.",
))


# ---------------------------------------------------------------- optimal_baseline


def _ob_cases():
    g = gen(909)
    return [
        Case("two trajectories, one parameter (worked by hand)",
             fixed(grad_logp=torch.tensor([[1.0], [2.0]]), returns=torch.tensor([10.0, 1.0])),
             why="E[g^2 R] = (1*10 + 4*1)/2 = 7 and E[g^2] = 2.5, so b = 2.8, far from the mean return 5.5"),
        Case("three parameters, 5 trajectories",
             fixed(grad_logp=torch.randn(5, 3, generator=g), returns=torch.randn(5, generator=g) * 5 + 20)),
        Case("equal scores give the average return",
             fixed(grad_logp=torch.ones(4, 2), returns=torch.tensor([1.0, 2.0, 3.0, 6.0])),
             why="with g^2 the same for every trajectory, b is the plain mean 3.0"),
        Case("200 trajectories, 10 parameters",
             fixed(grad_logp=torch.randn(200, 10, generator=g), returns=torch.rand(200, generator=g) * 100)),
    ]


EXERCISES.append(Exercise(
    id="optimal_baseline",
    chapter=CHAPTER,
    title="the variance-minimising constant baseline",
    signature="optimal_baseline(grad_logp (N, P), returns (N,)) -> (P,)",
    answer=answers.optimal_baseline,
    cases=_ob_cases,
    mistakes=[
        Mistake("average return", lambda grad_logp, returns: returns.mean().expand(grad_logp.shape[1]).clone(),
                "this is the average return. It is a good baseline, but the variance-optimal one weights each "
                "return by the squared score g^2."),
        Mistake("not squared", lambda grad_logp, returns: (grad_logp * returns[:, None]).mean(0) / grad_logp.mean(0),
                "the score is not squared: the variance involves g^2, so b = E[g^2 R] / E[g^2]."),
        Mistake("no normalisation", lambda grad_logp, returns: (grad_logp**2 * returns[:, None]).mean(0),
                "the division by E[g^2] is missing."),
        Mistake("summed over parameters", lambda grad_logp, returns: (
            ((grad_logp**2).sum(1) * returns).mean() / (grad_logp**2).sum(1).mean()).expand(grad_logp.shape[1]).clone(),
                "the squared scores are summed over the parameters, giving one baseline for all; the exercise asks "
                "for one baseline per parameter, each minimising the variance of its own gradient component."),
    ],
    hints=[
        "The variance of one gradient component g_k (R - b) is minimised by setting its derivative with respect to b "
        "to zero.",
        "That gives b_k = E[g_k^2 R] / E[g_k^2]: a return average weighted by the squared score. Replace the "
        "expectations by means over the N trajectories.",
        "Square grad_logp elementwise, multiply by returns[:, None], average over axis 0, and divide by the average "
        "of the squares over axis 0.",
    ],
    success="Trajectories with large scores dominate the gradient's variance, so the best constant baseline leans "
            "towards their returns.",
))


# ---------------------------------------------------------------- value_loss


def _vl_cases():
    g = gen(1010)
    return [
        Case("two states (worked by hand)", fixed(values=torch.tensor([1.0, 2.0]), returns=torch.tensor([3.0, 2.5])),
             why="((1 - 3)^2 + (2 - 2.5)^2) / 2 = 2.125; d/dvalues = values - returns = [-2, -0.5]"),
        Case("a batch of 32 states", fixed(values=torch.randn(32, generator=g), returns=torch.randn(32, generator=g) * 5)),
        Case("perfect values", fixed(values=torch.tensor([4.0, -1.0, 0.5]), returns=torch.tensor([4.0, -1.0, 0.5]))),
    ]


EXERCISES.append(Exercise(
    id="value_loss",
    chapter=CHAPTER,
    title="fitting the value baseline by regression",
    signature="value_loss(values (M,), returns (M,)) -> () tensor",
    answer=answers.value_loss,
    cases=_vl_cases,
    grad_wrt=("values", "returns"),
    mistakes=[
        Mistake("targets not detached", lambda values, returns: ((values - returns) ** 2).mean(),
                "gradient flows into the returns. They are regression TARGETS, fixed numbers: use returns.detach()."),
        Mistake("absolute error", lambda values, returns: (values - returns.detach()).abs().mean(),
                "this is the mean absolute error; the value function is the conditional MEAN of the return, which the "
                "squared error estimates."),
        Mistake("sum", lambda values, returns: ((values - returns.detach()) ** 2).sum(),
                "you summed the squared errors; take the mean so that the learning rate does not depend on the "
                "batch size."),
        Mistake("half", lambda values, returns: 0.5 * ((values - returns.detach()) ** 2).mean(),
                "the factor 0.5 halves every gradient step; the exercise asks for the plain mean squared error."),
    ],
    hints=[
        "V(s) should predict the return from s: a regression problem, solved by minimising the squared error.",
        "Average (V(s_i) - hat R_i)^2 over the batch. Which of the two tensors must not be moved by the gradient?",
        "Take the difference between values and the detached returns, square it elementwise, then average over "
        "the batch.",
    ],
    success="Minimising this makes V(s) the average return from s, the baseline that removes the most noise "
            "among state-dependent ones in practice.",
))


# ---------------------------------------------------------------- normalize_advantages


def _na_cases():
    g = gen(1111)
    return [
        Case("three values (worked by hand)", fixed(advantages=torch.tensor([1.0, 2.0, 3.0])),
             why="mean 2, standard deviation 1 (Bessel-corrected), so [-1, 0, 1]"),
        Case("a batch of 100", fixed(advantages=torch.randn(100, generator=g) * 30 + 7)),
        Case("constant advantages", fixed(advantages=torch.full((5,), 3.0)),
             why="the standard deviation is 0: eps keeps the result finite (all zeros)"),
    ]


EXERCISES.append(Exercise(
    id="normalize_advantages",
    chapter=CHAPTER,
    title="advantage normalisation",
    signature="normalize_advantages(advantages (M,), eps float = 1e-8) -> (M,)",
    answer=answers.normalize_advantages,
    cases=_na_cases,
    mistakes=[
        Mistake("no centring", lambda advantages, eps=1e-8: advantages / (advantages.std() + eps),
                "the mean was not subtracted: after normalisation about half the advantages should be negative, "
                "which is what pushes bad actions down."),
        Mistake("no eps", lambda advantages, eps=1e-8: (advantages - advantages.mean()) / advantages.std(),
                "without eps a batch of identical advantages divides 0 by 0 and gives NaN."),
        Mistake("population std", lambda advantages, eps=1e-8: (advantages - advantages.mean())
                / (advantages.std(unbiased=False) + eps),
                "you used the population standard deviation (divide by M); use torch's default, Bessel-corrected "
                "std (divide by M - 1)."),
    ],
    hints=[
        "Shift and scale the batch so that it has mean 0 and standard deviation 1.",
        "Subtract advantages.mean(), divide by advantages.std() plus eps.",
        "Two reductions over the whole batch, .mean() and .std() (torch's default is Bessel-corrected); eps goes "
        "into the denominator only, next to the standard deviation.",
    ],
    success="Normalised advantages make the step size independent of the reward scale; the mean subtraction is "
            "itself a (batch-average) baseline.",
))
