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
    kind="debug",
    bug="excludes r_t",  # the handed-out code makes this mistake
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
        "Which rewards can the action at step t still influence? And how is hat R_t related to hat R_{t+1}?",
        "hat R_t keeps only the rewards from step t on, and it obeys a one-step recursion: the reward now plus "
        "gamma times the reward-to-go of the next step, with nothing after the last step. One pass from the end "
        "of the episode to its start computes every entry.",
        "hat R_{T-1} = r_{T-1}, then hat R_t = r_t + gamma hat R_{t+1} for t = T-2 down to 0, each value stored "
        "at index t.",
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
        "The variance of g_k (R - b) is a quadratic function of b. Where does a parabola reach its minimum?",
        "Var[g_k (R - b)] = E[g_k^2 (R - b)^2] - (E[g_k (R - b)])^2, and the second term does not depend on b "
        "(the EGLP lemma gives E[g_k] = 0). Setting the derivative of the first term with respect to b to zero "
        "gives an average of the returns weighted by the squared score.",
        "b_k = mean_i(g_ik^2 R_i) / mean_i(g_ik^2) for every k at once: means over the trajectory axis, with R "
        "broadcast across the P columns.",
    ],
    success="Trajectories with large scores dominate the gradient's variance, so the best constant baseline leans "
            "towards their returns.",
))


# ---------------------------------------------------------------- two_action_optimal_baseline (derive)
def _two_arm_cases():
    return [
        Case("p = 0.5, arms paying 0 and 1 (worked by hand)", fixed(p=0.5, r0=0.0, r1=1.0),
             why="with equal probabilities the two weights are equal: b* = 0.5"),
        Case("p = 0.3, arms paying 10 and 11", fixed(p=0.3, r0=10.0, r1=11.0),
             why="b* = 0.7 * 11 + 0.3 * 10 = 10.7, while the average reward is 10.3"),
        Case("p = 0.9, arm 1 pays nothing", fixed(p=0.9, r0=1.0, r1=0.0),
             why="the rare arm 0 gets the large weight 0.9: b* = 0.9"),
        Case("p = 0.05, negative rewards", fixed(p=0.05, r0=-3.0, r1=2.0)),
    ]


EXERCISES.append(Exercise(
    id="two_action_optimal_baseline",
    chapter=CHAPTER,
    title="the best baseline of a two-armed bandit",
    kind="derive",
    signature="two_action_optimal_baseline(p float, r0 float, r1 float) -> float",
    answer=answers.two_action_optimal_baseline,
    cases=_two_arm_cases,
    returns="float",
    mistakes=[
        Mistake("average reward", lambda p, r0, r1: p * r1 + (1 - p) * r0,
                "that is the average reward, E[R]: a good baseline but not the variance-optimal one. Weight each "
                "reward by the squared score of its action, E[g^2 R] / E[g^2], and simplify."),
        Mistake("midpoint", lambda p, r0, r1: (r0 + r1) / 2,
                "the midpoint of the two rewards ignores the policy. The squared score of each action depends "
                "on p: work out g(a)^2 for a = 0 and a = 1 first."),
        Mistake("not normalised", lambda p, r0, r1: p * (1 - p) * ((1 - p) * r1 + p * r0),
                "this is E[g^2 R] alone: divide by E[g^2] = p (1 - p), the mean squared score."),
    ],
    hints=[
        "For pi(a = 1) = sigmoid(theta) = p, what is d/dtheta log pi(a) for a = 1, and for a = 0?",
        "The variance-optimal constant is b* = E[g^2 R] / E[g^2] (the lesson's section on the optimal baseline). "
        "Write both expectations as a sum over the two actions, each term weighted by its probability.",
        "g(1)^2 = (1 - p)^2 and g(0)^2 = p^2; numerator p (1 - p)^2 r1 + (1 - p) p^2 r0, denominator "
        "p (1 - p)^2 + (1 - p) p^2: factor p (1 - p) out of both.",
    ],
    success="The optimal baseline weights each arm's reward by the OTHER arm's probability: the rare action, whose "
            "score is large, gets the large weight.",
))


# ---------------------------------------------------------------- value_loss


def _vl_cases():
    g = gen(1010)
    return [
        Case("two states (worked by hand)", fixed(values=torch.tensor([1.0, 2.0]), returns=torch.tensor([3.0, 2.5])),
             why="((1 - 3)^2 + (2 - 2.5)^2) / 2 = 2.125; d/dvalues = 2 (values - returns) / M, "
                 "which for M = 2 is values - returns = [-2, -0.5]"),
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
        "V_phi(s) should predict the return from s. Which loss turns that into a regression, and which of the two "
        "tensors is data rather than something to move?",
        "The mean squared error between predictions and targets. The targets are measurements: cut them from the "
        "graph so that the gradient moves the predictions only.",
        "L = (1/M) sum_i (V_i - hat R_i)^2, with hat R detached: a mean, and no factor 1/2.",
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
        Case("eps passed explicitly: eps = 0.5", fixed(advantages=torch.tensor([1.0, 2.0, 3.0]), eps=0.5),
             why="std 1, so the result is [-1, 0, 1] / 1.5: the eps argument must be used, whatever its value"),
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
        Mistake("eps hard-coded", lambda advantages, eps=1e-8: (advantages - advantages.mean())
                / (advantages.std() + 1e-8),
                "eps = 0.5 was passed, and your result is what a constant 1e-8 gives: use the eps argument (the "
                "caller sets it), not a number of your own."),
        Mistake("no eps", lambda advantages, eps=1e-8: (advantages - advantages.mean()) / advantages.std(),
                "without eps a batch of identical advantages divides 0 by 0 and gives NaN."),
        Mistake("population std", lambda advantages, eps=1e-8: (advantages - advantages.mean())
                / (advantages.std(unbiased=False) + eps),
                "you used the population standard deviation (divide by M); use torch's default, Bessel-corrected "
                "std (divide by M - 1)."),
    ],
    hints=[
        "Which two statistics of the batch do you remove to get mean 0 and standard deviation 1? And what happens "
        "when every advantage is equal?",
        "Subtract the batch mean, then divide by the batch's standard deviation (the Bessel-corrected one, "
        "torch's default). eps goes in the denominator next to the standard deviation, and it is the argument "
        "eps, not a number of your own.",
        "tilde A_i = (A_i - mean(A)) / (std(A) + eps), both statistics taken over the whole batch.",
    ],
    success="Normalised advantages make the step size independent of the reward scale; the mean subtraction is "
            "itself a (batch-average) baseline.",
))
