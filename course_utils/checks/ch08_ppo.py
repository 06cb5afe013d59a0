"""Chapter 08, PPO: the clipped surrogate, the KL penalty with its adaptive coefficient, value clipping."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from course_utils import answers
from course_utils.checks._common import fixed, gen
from course_utils.grading.spec import Case, Exercise, Mistake, OutcomeError

CHAPTER = "08 PPO"
EXERCISES: list[Exercise] = []  # in course order; course_utils.catalogue collects them


# ---------------------------------------------------------------- ppo_clip_loss
def _ratios(r: list[float], base: float = -1.0) -> dict[str, torch.Tensor]:
    """logp_old = base, logp = base + log r, so that exp(logp - logp_old) = r exactly enough."""
    logp_old = torch.full((len(r),), base)
    return {"logp": logp_old + torch.tensor(r).log(), "logp_old": logp_old}


def _dual_clip(logp, logp_old, advantages, clip_eps, c=3.0):
    """Dual-clip PPO: the clipped objective, bounded below by c A where A < 0 (a known variant, not this loss)."""
    objective = torch.min(*_clip_terms(logp, logp_old, advantages, clip_eps))
    advantages = advantages.detach()
    return -torch.where(advantages < 0, torch.max(objective, c * advantages), objective).mean()


def _clip_cases():
    g = gen(1801)
    hand = _ratios([0.5, 1.0, 1.5, 1.5, 0.7])
    old = -torch.rand(64, generator=g) * 2 - 0.1
    old_wide = -torch.rand(40, generator=g) * 3 - 0.1
    return [
        Case("five ratios, both signs of A (worked by hand)",
             fixed(**hand, advantages=torch.tensor([1.0, 1.0, 1.0, -1.0, -2.0]), clip_eps=0.2),
             shown="ratios r = [0.5, 1, 1.5, 1.5, 0.7], advantages = [1, 1, 1, -1, -2], clip_eps = 0.2",
             why="the terms min(rA, clip(r)A) are 0.5, 1, 1.2 (clipped), -1.5, -1.6 (clipped); their mean is -0.08, "
                 "so the loss is 0.08, and only the three unclipped terms pass a gradient to logp"),
        Case("ratios all equal to 1: the plain policy gradient",
             fixed(logp=torch.tensor([-0.5, -1.2, -2.0]), logp_old=torch.tensor([-0.5, -1.2, -2.0]),
                   advantages=torch.tensor([2.0, -1.0, 0.5]), clip_eps=0.2),
             why="at r = 1 nothing is clipped: the loss is -mean(A) = -0.5 and d/dlogp = -A / 3"),
        Case("a batch of 64, ratios within about 0.6-1.6, clip_eps = 0.1",
             fixed(logp=old + torch.randn(64, generator=g) * 0.25, logp_old=old,
                   advantages=torch.randn(64, generator=g), clip_eps=0.1)),
        Case("a batch of 40 with large ratios, clip_eps = 0.3",
             fixed(logp=old_wide + torch.randn(40, generator=g), logp_old=old_wide,
                   advantages=torch.randn(40, generator=g) * 3, clip_eps=0.3)),
    ]


def _clip_terms(logp, logp_old, advantages, clip_eps, detach_old=True, detach_adv=True):
    r = torch.exp(logp - (logp_old.detach() if detach_old else logp_old))
    a = advantages.detach() if detach_adv else advantages
    return r * a, torch.clamp(r, 1 - clip_eps, 1 + clip_eps) * a


EXERCISES.append(Exercise(
    id="ppo_clip_loss",
    chapter=CHAPTER,
    title="PPO's clipped surrogate loss",
    signature="ppo_clip_loss(logp (M,), logp_old (M,), advantages (M,), clip_eps float) -> () tensor",
    answer=answers.ppo_clip_loss,
    cases=_clip_cases,
    grad_wrt=("logp", "logp_old", "advantages"),
    mistakes=[
        Mistake("no clipping", lambda logp, logp_old, advantages, clip_eps: -_clip_terms(
            logp, logp_old, advantages, clip_eps)[0].mean(),
                "nothing is clipped: this is the plain importance-sampled surrogate -mean(r A), which keeps rewarding "
                "a ratio that is already far from 1. Take the minimum with the clipped term."),
        Mistake("clipped term only", lambda logp, logp_old, advantages, clip_eps: -_clip_terms(
            logp, logp_old, advantages, clip_eps)[1].mean(),
                "you kept only clip(r, 1 - eps, 1 + eps) A. The minimum with the unclipped r A matters: when a change "
                "made an action's objective WORSE (r < 1 - eps with A > 0, or r > 1 + eps with A < 0), PPO keeps the "
                "full penalty and its gradient so that the step can be undone."),
        Mistake("max instead of min", lambda logp, logp_old, advantages, clip_eps: -torch.max(*_clip_terms(
            logp, logp_old, advantages, clip_eps)).mean(),
                "you took the maximum of the two terms; PPO takes the minimum, a pessimistic bound on the "
                "improvement, so that moving the ratio outside [1 - eps, 1 + eps] can never look better."),
        Mistake("wrong sign", lambda logp, logp_old, advantages, clip_eps: torch.min(*_clip_terms(
            logp, logp_old, advantages, clip_eps)).mean(),
                "the sign is flipped: the surrogate is to be MAXIMISED, so the loss an optimiser minimises is minus "
                "its mean."),
        Mistake("sum", lambda logp, logp_old, advantages, clip_eps: -torch.min(*_clip_terms(
            logp, logp_old, advantages, clip_eps)).sum(),
                "you summed over the batch; take the mean, so that the step size does not grow with the batch."),
        Mistake("ratio as a quotient of log-probabilities", lambda logp, logp_old, advantages, clip_eps: -torch.min(
            (logp / logp_old.detach()) * advantages.detach(),
            torch.clamp(logp / logp_old.detach(), 1 - clip_eps, 1 + clip_eps) * advantages.detach()).mean(),
                "the ratio is pi(a|s) / pi_old(a|s), a quotient of PROBABILITIES: exp(logp - logp_old), not "
                "logp / logp_old."),
        Mistake("logp_old not detached", lambda logp, logp_old, advantages, clip_eps: -torch.min(*_clip_terms(
            logp, logp_old, advantages, clip_eps, detach_old=False)).mean(),
                "gradient flows into logp_old. It is the log-probability under the policy that collected the data, a "
                "constant of the update: use logp_old.detach() in the ratio."),
        Mistake("advantages not detached", lambda logp, logp_old, advantages, clip_eps: -torch.min(*_clip_terms(
            logp, logp_old, advantages, clip_eps, detach_adv=False)).mean(),
                "gradient flows into the advantages. They come from the critic and must act as constant weights "
                "here: detach them."),
        Mistake("dual clip", _dual_clip,
                "this is dual-clip PPO (Ye et al., 2020): for a negative advantage it also bounds the objective "
                "below by c A (c = 3), so that a huge ratio cannot produce a huge loss. A sound variant, but this "
                "exercise is the original clipped objective of Schulman et al. (2017): drop the extra lower bound."),
    ],
    hints=[
        "How do you get the probability ratio r = pi(a|s) / pi_old(a|s) from log-probabilities? And why would PPO "
        "take the smaller of two surrogates?",
        "r is the exponential of the difference of the log-probabilities. For each sample compare the plain "
        "surrogate r A with the one whose ratio is clipped to [1 - eps, 1 + eps], and keep the smaller: a "
        "pessimistic bound that stops rewarding a move once the ratio has left the interval in the helpful "
        "direction. Only logp may get a gradient; logp_old and the advantages are constants.",
        "r_i = exp(logp_i - logp_old_i); L = -(1/M) sum_i min( r_i A_i, clip(r_i, 1 - eps, 1 + eps) A_i ), with "
        "logp_old and A detached.",
    ],
    success="Inside [1 - eps, 1 + eps] this is the ordinary policy gradient; outside, a sample whose ratio already "
            "moved in the helpful direction stops pulling, so many epochs on one batch cannot run away.",
))


# ---------------------------------------------------------------- approx_kl
def _kl_cases():
    g = gen(1802)
    old = -torch.rand(50, generator=g) * 2 - 0.1
    return [
        Case("ratios 1 and 2 (worked by hand)",
             fixed(logp=torch.tensor([-1.0, -1.0 + math.log(2.0)]), logp_old=torch.tensor([-1.0, -1.0])),
             why="the terms (r - 1) - log r are 0 and 1 - log 2 = 0.3069, mean 0.1534"),
        Case("the same policy: KL 0", fixed(logp=torch.tensor([-0.3, -2.0, -1.1]), logp_old=torch.tensor([-0.3, -2.0, -1.1])),
             why="every ratio is 1, so every term is 0, and so is the gradient"),
        Case("a batch of 50 small changes", fixed(logp=old + torch.randn(50, generator=g) * 0.1, logp_old=old)),
        Case("a batch of 50 large changes", fixed(logp=old + torch.randn(50, generator=g), logp_old=old)),
    ]


EXERCISES.append(Exercise(
    id="approx_kl",
    chapter=CHAPTER,
    title="estimating KL(pi_old || pi) from the sampled actions",
    signature="approx_kl(logp (M,), logp_old (M,)) -> () tensor",
    answer=answers.approx_kl,
    cases=_kl_cases,
    grad_wrt=("logp", "logp_old"),
    mistakes=[
        Mistake("minus the mean log-ratio", lambda logp, logp_old: (logp_old.detach() - logp).mean(),
                "this is the simplest estimator, mean(log pi_old - log pi). It is unbiased, but single terms are "
                "negative half the time and the batch mean can be too; add r - 1 (whose mean under pi_old is 0) to "
                "get terms that are never negative."),
        Mistake("reversed ratio", lambda logp, logp_old: (torch.exp(logp_old.detach() - logp) - 1
                                                          - (logp_old.detach() - logp)).mean(),
                "the ratio is upside down: use r = pi / pi_old = exp(logp - logp_old). The actions were drawn from "
                "pi_old, and (r - 1) - log r averages to KL(pi_old || pi) under that distribution."),
        Mistake("half squared log-ratio", lambda logp, logp_old: (0.5 * (logp - logp_old.detach()) ** 2).mean(),
                "0.5 (log r)^2 is another estimator (biased, fine for tiny changes); the exercise asks for "
                "(r - 1) - log r, which is unbiased and never negative."),
        Mistake("sum", lambda logp, logp_old: (torch.exp(logp - logp_old.detach()) - 1
                                               - (logp - logp_old.detach())).sum(),
                "you summed the terms; the KL is an average over states, so take the mean."),
        Mistake("logp_old not detached", lambda logp, logp_old: (torch.exp(logp - logp_old) - 1
                                                                 - (logp - logp_old)).mean(),
                "gradient flows into logp_old, the log-probabilities of the policy that collected the data: "
                "detach them, only the new policy may move."),
    ],
    hints=[
        "Only the sampled actions are available, and they were drawn from pi_old. How can you write KL(pi_old || "
        "pi) as an average over them?",
        "With r = pi / pi_old, KL(pi_old || pi) = E_old[-log r]. Adding r - 1, whose expectation under pi_old is "
        "0, keeps the estimate unbiased and makes every term non-negative, since log r <= r - 1. Only logp may "
        "receive a gradient.",
        "k_i = (r_i - 1) - log r_i with log r_i = logp_i - logp_old_i (logp_old detached); the estimate is the "
        "mean of the k_i over the batch.",
    ],
    success="This is the estimator CleanRL and Stable-Baselines3 log as approx_kl; PPO-penalty adds beta times it to "
            "the loss, and early stopping compares it with a target.",
))


# ---------------------------------------------------------------- adaptive_kl_beta
EXERCISES.append(Exercise(
    id="adaptive_kl_beta",
    chapter=CHAPTER,
    title="PPO-penalty's adaptive KL coefficient",
    signature="adaptive_kl_beta(beta float, kl float, target_kl float) -> float",
    answer=answers.adaptive_kl_beta,
    returns="float",
    cases=lambda: [
        Case("KL five times the target (worked by hand)", fixed(beta=1.0, kl=0.05, target_kl=0.01),
             why="0.05 > 1.5 * 0.01, the update moved too far: beta doubles to 2"),
        Case("KL a tenth of the target", fixed(beta=1.0, kl=0.001, target_kl=0.01),
             why="0.001 < 0.01 / 1.5, the update was timid: beta halves to 0.5"),
        Case("KL inside the tolerance band", fixed(beta=0.3, kl=0.012, target_kl=0.01),
             why="0.01 / 1.5 <= 0.012 <= 1.5 * 0.01: beta stays 0.3"),
        Case("just above the band", fixed(beta=3.0, kl=0.0155, target_kl=0.01), why="0.0155 > 0.015: 6.0"),
        Case("just below the band", fixed(beta=0.25, kl=0.0066, target_kl=0.01), why="0.0066 < 0.00667: 0.125"),
    ],
    mistakes=[
        Mistake("inverted", lambda beta, kl, target_kl: beta / 2 if kl > 1.5 * target_kl else (
            beta * 2 if kl < target_kl / 1.5 else beta),
                "the updates are inverted. A KL above the target means the policy moved too far, so the penalty "
                "must get STRONGER (beta doubles); a small KL lets it relax (beta halves)."),
        Mistake("no tolerance band", lambda beta, kl, target_kl: beta * 2 if kl > target_kl else beta / 2,
                "beta changes at every update. Between target / 1.5 and 1.5 * target it must stay as it is, "
                "otherwise it oscillates around a KL that is already good."),
        Mistake("factor 1.5", lambda beta, kl, target_kl: beta * 1.5 if kl > 1.5 * target_kl else (
            beta / 1.5 if kl < target_kl / 1.5 else beta),
                "1.5 is the width of the tolerance band, not the step: beta is doubled or halved."),
        Mistake("proportional", lambda beta, kl, target_kl: beta * kl / target_kl,
                "beta was scaled by kl / target. The rule in the PPO paper is a fixed step: double above "
                "1.5 * target, halve below target / 1.5, otherwise keep."),
    ],
    hints=[
        "beta is the price of moving the policy. What should happen to that price when the last update moved too "
        "far, and when it was too timid?",
        "Compare the measured KL with the target, allowing a factor of 1.5 either way: well above the target, "
        "double beta; well below it, halve beta; in between, leave it alone. Return a plain Python float in every "
        "case.",
        "beta_next = 2 beta if d > 1.5 d_target, beta / 2 if d < d_target / 1.5, and beta otherwise (as a float).",
    ],
    success="This is a dual step on the constrained problem max L(theta) s.t. KL <= target: beta plays the Lagrange "
            "multiplier and follows the constraint's violation.",
))


# ---------------------------------------------------------------- clipped_value_loss
def _vc_cases():
    g = gen(1803)
    old = torch.randn(32, generator=g) * 5
    return [
        Case("three states, values_old = 0, clip 0.2 (worked by hand)",
             fixed(values=torch.tensor([0.5, -0.1, 0.5]), values_old=torch.zeros(3),
                   returns=torch.tensor([1.0, 1.0, -1.0]), clip_eps=0.2),
             why="the clipped values are [0.2, -0.1, 0.2]; the loss is 1.3667, and the first state gets no "
                 "gradient"),
        Case("no clipping needed", fixed(values=torch.tensor([1.0, 2.0]), values_old=torch.tensor([1.05, 1.9]),
                                         returns=torch.tensor([3.0, 0.0]), clip_eps=0.5),
             why="the values moved less than 0.5: the plain mean squared error, ((1 - 3)^2 + 2^2) / 2 = 4"),
        Case("a batch of 32, clip 1.0",
             fixed(values=old + torch.randn(32, generator=g) * 2, values_old=old,
                   returns=old + torch.randn(32, generator=g) * 3, clip_eps=1.0)),
    ]


def _vc_ref(values, values_old, returns, clip_eps, agg=torch.max, detach_old=True, detach_ret=True):
    vo = values_old.detach() if detach_old else values_old
    ret = returns.detach() if detach_ret else returns
    clipped = vo + torch.clamp(values - vo, -clip_eps, clip_eps)
    return agg((values - ret) ** 2, (clipped - ret) ** 2).mean()


EXERCISES.append(Exercise(
    id="clipped_value_loss",
    kind="debug",
    bug="min instead of max",  # the handed-out code makes this mistake
    chapter=CHAPTER,
    title="the clipped value loss",
    signature="clipped_value_loss(values (M,), values_old (M,), returns (M,), clip_eps float) -> () tensor",
    answer=answers.clipped_value_loss,
    cases=_vc_cases,
    grad_wrt=("values", "values_old", "returns"),
    mistakes=[
        Mistake("min instead of max", lambda values, values_old, returns, clip_eps: _vc_ref(
            values, values_old, returns, clip_eps, agg=torch.min),
                "you took the smaller of the two errors. Like the policy's clipping, this is pessimistic: keep the "
                "LARGER squared error, so that the clipped version only ever removes incentive to move."),
        Mistake("clipped error only", lambda values, values_old, returns, clip_eps: (
            (values_old + torch.clamp(values - values_old, -clip_eps, clip_eps) - returns) ** 2).mean(),
                "only the clipped error is there. Take the maximum with the unclipped (V - R)^2."),
        Mistake("no clipping", lambda values, values_old, returns, clip_eps: ((values - returns) ** 2).mean(),
                "this is the plain squared error: clip_eps is ignored."),
        Mistake("half", lambda values, values_old, returns, clip_eps: 0.5 * _vc_ref(values, values_old, returns, clip_eps),
                "the factor 0.5 (CleanRL writes it) is not part of this exercise: return the plain mean of the "
                "larger squared error, as in chapter 03's value_loss."),
        Mistake("returns not detached", lambda values, values_old, returns, clip_eps: _vc_ref(
            values, values_old, returns, clip_eps, detach_ret=False),
                "gradient flows into the returns; they are regression targets: use returns.detach()."),
        Mistake("values_old not detached", lambda values, values_old, returns, clip_eps: _vc_ref(
            values, values_old, returns, clip_eps, detach_old=False),
                "gradient flows into values_old, the critic's predictions when the data was collected: they anchor "
                "the clipping and are constants."),
    ],
    hints=[
        "What is clipped here: the value itself, or how far it moved from V_old? And of the two squared errors, "
        "which one does a pessimistic loss keep?",
        "Clip the change V - V_old to [-eps, eps] and add it back to V_old: that is the clipped prediction. "
        "Compute the squared error of the unclipped and of the clipped prediction against the returns, keep the "
        "larger of the two for each state, and average. V_old and the returns are constants.",
        "V^clip_i = V_old_i + clip(V_i - V_old_i, -eps, eps); L_V = (1/M) sum_i max( (V_i - hat R_i)^2, (V^clip_i "
        "- hat R_i)^2 ), with V_old and hat R detached.",
    ],
    success="A state whose prediction has already moved more than clip_eps from V_old, in the direction the "
            "clipping blocks, now gives no gradient: a soft brake, not a bound (other states and later minibatches "
            "can still move it further). Note that the ablation in the lesson finds it does not help on these "
            "tasks, as Andrychowicz et al. (2021) report.",
))


# ---------------------------------------------------------------- explained_variance
def _ev_cases():
    g = gen(1804)
    returns = torch.randn(64, generator=g) * 10 + 30
    return [
        Case("three states (worked by hand)",
             fixed(values=torch.tensor([0.0, 4.0, 5.0]), returns=torch.tensor([0.0, 2.0, 4.0])),
             why="the errors R - V are [0, -2, -1]: mean -1, variance 1; the returns' variance is 4; 1 - 1/4 = 0.75"),
        Case("a critic that predicts the batch's mean return",
             fixed(values=torch.full((4,), 2.5), returns=torch.tensor([1.0, 2.0, 3.0, 4.0])),
             why="R - V varies exactly as R does: the critic explains none of the variance, 0"),
        Case("a perfect critic", fixed(values=torch.tensor([1.0, 2.0, 3.0, 4.0]), returns=torch.tensor([1.0, 2.0, 3.0, 4.0])),
             why="R - V = 0 everywhere: nothing is left unexplained, 1"),
        Case("every prediction off by the same +5",
             fixed(values=torch.tensor([6.0, 7.0, 8.0, 9.0]), returns=torch.tensor([1.0, 2.0, 3.0, 4.0])),
             why="R - V = -5 everywhere has variance 0, so the score is 1: a constant offset is invisible to a "
                 "variance (the value loss would see it)"),
        Case("a critic with the sign flipped",
             fixed(values=-torch.tensor([1.0, 2.0, 3.0, 4.0]), returns=torch.tensor([1.0, 2.0, 3.0, 4.0])),
             why="R - V = 2R has four times the variance of R: 1 - 4 = -3, worse than predicting the mean"),
        Case("a batch of 64, a fair critic",
             fixed(values=returns + torch.randn(64, generator=g) * 5, returns=returns)),
    ]


def _ev(values, returns, num=lambda r, v: torch.var(r - v), den=lambda r, v: torch.var(r), one=True):
    ratio = num(returns.detach(), values.detach()) / den(returns.detach(), values.detach())
    return float(1.0 - ratio) if one else float(ratio)


EXERCISES.append(Exercise(
    id="explained_variance",
    chapter=CHAPTER,
    title="the critic's explained variance",
    signature="explained_variance(values (M,), returns (M,)) -> float",
    answer=answers.explained_variance,
    cases=_ev_cases,
    returns="float",
    mistakes=[
        Mistake("no 1 -", lambda values, returns: _ev(values, returns, one=False),
                "this is the fraction of the variance LEFT unexplained, Var[R - V] / Var[R]: subtract it from 1, so "
                "that a perfect critic scores 1 and a useless one 0."),
        Mistake("ratio upside down", lambda values, returns: _ev(values, returns, num=lambda r, v: torch.var(r),
                                                                  den=lambda r, v: torch.var(r - v)),
                "the ratio is upside down: the variance of the errors R - V goes on top, the variance of the "
                "returns below."),
        Mistake("divided by Var[V]", lambda values, returns: _ev(values, returns, den=lambda r, v: torch.var(v)),
                "you divided by the variance of the predictions; the yardstick is the variance of the returns "
                "(what a critic that always predicts their mean leaves unexplained)."),
        Mistake("mean squared error on top", lambda values, returns: _ev(
            values, returns, num=lambda r, v: ((r - v) ** 2).mean() * len(r) / (len(r) - 1)),
                "the numerator is the mean squared error, which also counts a constant offset of the critic; the "
                "score uses the VARIANCE of R - V (subtract its mean), so a critic off by the same amount "
                "everywhere still scores 1."),
        Mistake("Var[V] / Var[R]", lambda values, returns: _ev(values, returns, num=lambda r, v: torch.var(v),
                                                                one=False),
                "Var[V] / Var[R] compares how much the predictions and the returns spread, not whether they agree: "
                "a critic with the sign flipped would score 1. Use the errors R - V."),
        Mistake("mixed normalisation", lambda values, returns: _ev(values, returns,
                                                                  num=lambda r, v: torch.var(r - v, unbiased=False)),
                "the two variances are normalised differently (one by M, the other by M - 1): use the same for both, "
                "then the choice cancels."),
        Mistake("mixed normalisation, the other way", lambda values, returns: _ev(
            values, returns, den=lambda r, v: torch.var(r, unbiased=False)),
                "the two variances are normalised differently (one by M - 1, the other by M): use the same for both, "
                "then the choice cancels."),
        Mistake("standard deviations", lambda values, returns: _ev(values, returns, num=lambda r, v: torch.std(r - v),
                                                                  den=lambda r, v: torch.std(r)),
                "you compared standard deviations; the score is about variances (squared spreads), so that the "
                "explained and the unexplained parts add up: use Var, not std."),
        Mistake("squared correlation", lambda values, returns: float(torch.corrcoef(torch.stack([values, returns]))[0, 1]
                                                                       ** 2),
                "this is the squared correlation of V and R, which forgives any scale and sign: a critic with the "
                "sign flipped scores 1 with it. Measure the errors R - V themselves."),
    ],
    hints=[
        "A critic that always predicts the batch's mean return leaves all the variance of the returns unexplained. "
        "How much does your critic leave? Which errors would you measure, and against what yardstick?",
        "Measure the spread of the errors R - V and compare it with the spread of the returns themselves; the score "
        "is one minus that ratio. Use variances (not mean squared errors), with the same normalisation for both.",
        "EV = 1 - Var_i[R_i - V_i] / Var_i[R_i], over the M states of the batch, returned as a Python float.",
    ],
    success="CleanRL and Stable-Baselines3 log this number as explained_variance; the diagnostics lab below reads it "
            "alongside entropy, approximate KL and clip fraction.",
))


# ================================================================ loop items: PPO's update, then a whole PPO
class CaseAgent(nn.Module):
    """The actor-critic the loop items' cases hand in: two tanh MLPs (obs_dim -> hidden -> act_dim, and
    -> 1), CleanRL's agent split into the three methods the loops call. ``act`` samples by the Gumbel-max
    trick with noise that is a fixed function of the observation's bits, so that a rollout is the same
    whether it acts on all N environments at once or on each in turn (no hidden random state)."""

    def __init__(self, obs_dim: int = 4, act_dim: int = 2, hidden: int = 16) -> None:
        super().__init__()
        self.actor = nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, act_dim))
        self.critic = nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """V(s): (B, obs_dim) -> (B,)."""
        return self.critic(obs).squeeze(-1)

    def evaluate(self, obs: torch.Tensor, actions: torch.Tensor):
        """(log pi(a|s) (B,), V(s) (B,), entropy of pi(.|s) (B,)) for obs (B, obs_dim), actions (B,)."""
        logp_all = torch.log_softmax(self.actor(obs), -1)
        logp = logp_all.gather(-1, actions.long().reshape(-1, 1)).squeeze(-1)
        return logp, self.value(obs), -(logp_all.exp() * logp_all).sum(-1)

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """a ~ pi(.|s) for obs (B, obs_dim) -> (B,) int64, the noise a hash of each row's float32 bits."""
        logits = self.actor(obs)
        bits = obs.detach().to(torch.float32).contiguous().view(torch.int32).to(torch.int64)
        h = (bits * torch.tensor([1_000_003, 998_244_353, 19_260_817, 2_654_435])[: bits.shape[-1]]).sum(-1)
        k = torch.arange(1, logits.shape[-1] + 1)
        u = (torch.remainder(h[:, None] * 40_503 + k * 2_246_822_519, 2**24).double() + 0.5) / 2**24
        return (logits.double() - torch.log(-torch.log(u))).argmax(-1)


def _agent_and_optimizer(seed: int, lr: float):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        agent = CaseAgent()
    return agent, torch.optim.Adam(agent.parameters(), lr=lr)


def _update_args(seed: int, M: int, epochs: int, sizes: list[int], lr: float = 0.01, clip_eps: float = 0.2,
                 value_coef: float = 0.5, ent_coef: float = 0.01, max_grad_norm=0.5, target_kl=None,
                 drift: float = 0.1):
    """A batch of M transitions stored by a policy a little older than the agent's (log-probabilities
    off by ~drift), with K = epochs shuffles of it split into minibatches of the given sizes."""
    def make():
        g = gen(seed)
        agent, optimizer = _agent_and_optimizer(seed, lr)
        obs = torch.randn(M, 4, generator=g)
        actions = agent.act(obs)
        with torch.no_grad():
            logp_now, values, _ = agent.evaluate(obs, actions)
        logp_old = logp_now + drift * torch.randn(M, generator=g)
        advantages = torch.randn(M, generator=g) * 2 + 0.3
        returns = values + advantages + 0.5 * torch.randn(M, generator=g)
        minibatches = [list(torch.randperm(M, generator=g).split(sizes)) for _ in range(epochs)]
        return dict(agent=agent, optimizer=optimizer, obs=obs, actions=actions, logp_old=logp_old,
                    advantages=advantages, returns=returns, minibatches=minibatches, clip_eps=clip_eps,
                    value_coef=value_coef, ent_coef=ent_coef, max_grad_norm=max_grad_norm, target_kl=target_kl)
    return make


def _update_cases():
    return [
        Case("2 epochs x 2 minibatches of 12, with gradient clipping and an entropy bonus",
             _update_args(1810, M=24, epochs=2, sizes=[12, 12]),
             shown="a batch of M = 24 transitions (obs (24, 4), 2 actions), stored log-probs of the policy that "
                   "collected it; minibatches = 2 epochs of 2 index lists of 12; clip_eps = 0.2, value_coef = 0.5, "
                   "ent_coef = 0.01, max_grad_norm = 0.5, target_kl = None; Adam, lr = 0.01"),
        Case("4 epochs of 3 unequal minibatches: the KL early stop ends the update after epoch 2",
             _update_args(1811, M=20, epochs=4, sizes=[7, 7, 6], lr=0.01, target_kl=0.007, max_grad_norm=None,
                          ent_coef=0.0),
             shown="M = 20, minibatches = 4 epochs of index lists of 7, 7 and 6; Adam, lr = 0.01; clip_eps = 0.2, "
                   "value_coef = 0.5, ent_coef = 0, max_grad_norm = None, target_kl = 0.007: approx-KL over the whole "
                   "batch is 0.0098 after epoch 1 and 0.0139 after epoch 2 (1.5 * target_kl = 0.0105)"),
        Case("3 epochs x 4 minibatches of 8, clip_eps = 0.1, value_coef = 1, gradient clipping at 0.3",
             _update_args(1812, M=32, epochs=3, sizes=[8, 8, 8, 8], clip_eps=0.1, value_coef=1.0, ent_coef=0.05,
                          max_grad_norm=0.3, target_kl=1.0),
             shown="M = 32, minibatches = 3 epochs of 4 index lists of 8; Adam, lr = 0.01; clip_eps = 0.1, "
                   "value_coef = 1, ent_coef = 0.05, max_grad_norm = 0.3, target_kl = 1 (never reached)"),
    ]


def _stat(returned, key: str):
    if returned is None:
        raise OutcomeError("your loop returned None: return a dict with the keys 'epochs', 'policy_loss' and "
                           "'value_loss' (did you forget the `return` statement?).")
    if isinstance(returned, dict):
        if key not in returned:
            raise OutcomeError(f"return a dict with the keys 'epochs', 'policy_loss' and 'value_loss' "
                               f"('{key}' is missing).")
        value = returned[key]
    elif hasattr(returned, key):
        value = getattr(returned, key)
    else:
        raise OutcomeError("return a dict with the keys 'epochs', 'policy_loss' and 'value_loss', not a "
                           f"{type(returned).__name__}.")
    if isinstance(value, torch.Tensor):
        value = value.detach()
        if value.numel() != 1:
            raise OutcomeError(f"'{key}' should be one number, not a tensor of shape {tuple(value.shape)}.")
        value = value.reshape(())
    return torch.as_tensor(float(value), dtype=torch.float64)


def _params_record(agent: nn.Module) -> dict[str, torch.Tensor]:
    return {f"{name} after the update": p.detach().clone() for name, p in agent.named_parameters()}


def _update_record(args, returned):
    record = {"epochs run (returned)": _stat(returned, "epochs")}
    record.update(_params_record(args["agent"]))
    record["policy_loss of the last minibatch (returned)"] = _stat(returned, "policy_loss")
    record["value_loss of the last minibatch (returned)"] = _stat(returned, "value_loss")
    return record


_LAYER_AXES = {f"{net}.{layer}.weight after the update": ("output", "input") for net in ("actor", "critic")
               for layer in (0, 2)}
_LAYER_AXES.update({f"{net}.{layer}.bias after the update": ("output",) for net in ("actor", "critic")
                    for layer in (0, 2)})


def _wrong_update(*, zero_grad=True, logp_old_from="stored", norm="minibatch", step_every="minibatch",
                  kl_check="epoch", kl_factor=1.5, clip="before step", entropy_sign=-1.0, value_coef_used=True):
    """PPO's update with one thing done wrong (the catalogued loop mistakes below)."""
    def update(agent, optimizer, obs, actions, logp_old, advantages, returns, minibatches, clip_eps, value_coef,
               ent_coef, max_grad_norm, target_kl):
        epochs, stop = 0, False
        if norm == "batch":
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        if logp_old_from == "start of the update":
            with torch.no_grad():
                logp_old = agent.evaluate(obs, actions)[0]

        def kl_too_far():
            with torch.no_grad():
                return float(answers.approx_kl(agent.evaluate(obs, actions)[0], logp_old)) > kl_factor * target_kl

        for epoch_minibatches in minibatches:
            epochs += 1
            if step_every == "epoch":
                optimizer.zero_grad()
            for idx in epoch_minibatches:
                logp, values, entropy = agent.evaluate(obs[idx], actions[idx])
                adv = advantages[idx]
                if norm == "minibatch":
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                old = logp.detach() if logp_old_from == "current policy" else logp_old[idx]
                pi_loss = answers.ppo_clip_loss(logp, old, adv, clip_eps)
                v_loss = ((values - returns[idx]) ** 2).mean()
                loss = pi_loss + (value_coef if value_coef_used else 1.0) * v_loss + entropy_sign * ent_coef * entropy.mean()
                if step_every == "minibatch":
                    if zero_grad:
                        optimizer.zero_grad()
                    loss.backward()
                    if max_grad_norm is not None and clip == "before step":
                        nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm)
                    elif max_grad_norm is not None and clip == "per tensor":
                        for p in agent.parameters():
                            nn.utils.clip_grad_norm_([p], max_grad_norm)
                    optimizer.step()
                else:
                    loss.backward()
                if target_kl is not None and kl_check == "minibatch" and kl_too_far():
                    stop = True
                    break
            if step_every == "epoch":
                if max_grad_norm is not None:
                    nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm)
                optimizer.step()
            if stop or (target_kl is not None and kl_check == "epoch" and kl_too_far()):
                break
        return {"epochs": epochs, "policy_loss": pi_loss.item(), "value_loss": v_loss.item()}
    return update


EXERCISES.append(Exercise(
    id="ppo_update",
    chapter=CHAPTER,
    kind="loop",
    title="PPO's update: epochs over minibatches of the clipped surrogate",
    signature="ppo_update(agent, optimizer, obs (M, D), actions (M,), logp_old (M,), advantages (M,), returns (M,), "
              "minibatches (K epochs of index lists), clip_eps, value_coef, ent_coef, max_grad_norm, target_kl) "
              "-> {'epochs', 'policy_loss', 'value_loss'}",
    answer=answers.ppo_update,
    cases=_update_cases,
    updates=("agent", "optimizer"),
    outcome=_update_record,
    record_axes=_LAYER_AXES,
    mistakes=[
        Mistake("zero_grad forgotten", _wrong_update(zero_grad=False),
                "your loop never clears the gradients: each backward adds to what the previous minibatches left "
                "in .grad, so from the second step on the optimiser follows the sum of all gradients so far. Zero "
                "the gradients before each backward."),
        Mistake("log-probs recomputed from the current policy", _wrong_update(logp_old_from="current policy"),
                "your ratio compares the policy with itself: the log-probabilities below it were computed from the "
                "current network (detached) at each minibatch, so the ratio is 1, nothing is ever clipped and the "
                "update is a plain policy-gradient step every time. Divide by the probabilities STORED when the "
                "batch was collected (logp_old)."),
        Mistake("log-probs recomputed at the start of the update", _wrong_update(logp_old_from="start of the update"),
                "your ratio is taken against log-probabilities recomputed from the network when the update began, "
                "not against the ones stored with the batch. The loop must use logp_old as handed in: it is the "
                "probability of the policy that chose those actions."),
        Mistake("advantages normalised over the whole batch", _wrong_update(norm="batch"),
                "your loop standardises the advantages once, over the whole batch. The contract standardises each "
                "MINIBATCH's advantages on their own (their mean and std), just before its loss."),
        Mistake("advantages not normalised", _wrong_update(norm="none"),
                "your loop uses the advantages as they are: standardise each minibatch's advantages (subtract "
                "their mean, divide by their std + 1e-8) before the clipped loss."),
        Mistake("one optimiser step per epoch", _wrong_update(step_every="epoch"),
                "your loop sums the minibatches' gradients and steps once per epoch. PPO takes one optimiser "
                "step per MINIBATCH: zero the gradients, backward, clip, step, then the next minibatch."),
        Mistake("KL early stop inside the epoch", _wrong_update(kl_check="minibatch"),
                "your loop checks the KL after every minibatch and can stop in the middle of an epoch. The "
                "contract checks it once per epoch, after the epoch's last minibatch, over the whole batch."),
        Mistake("KL compared with target_kl itself", _wrong_update(kl_factor=1.0),
                "your loop stops as soon as the KL passes target_kl; the contract (as Stable-Baselines3) allows "
                "1.5 times the target before it stops."),
        Mistake("gradient clipped per tensor", _wrong_update(clip="per tensor"),
                "your loop clips each parameter tensor's gradient to max_grad_norm on its own. Clip the GLOBAL "
                "norm, of all the parameters' gradients together, so that the step keeps its direction."),
        Mistake("no gradient clipping", _wrong_update(clip="none"),
                "your loop never clips the gradient: rescale all gradients together so that their global norm is "
                "at most max_grad_norm, between backward and the optimiser step."),
        Mistake("entropy bonus with the wrong sign", _wrong_update(entropy_sign=1.0),
                "your loss adds ent_coef times the entropy, so minimising it makes the policy MORE certain. The "
                "entropy is a bonus: subtract it from the loss."),
        Mistake("value loss not weighted", _wrong_update(value_coef_used=False),
                "your loss adds the value loss with weight 1: weight it by value_coef."),
    ],
    hints=[
        "Write the update as two nested loops. What happens, in order, for one minibatch? And what does the loop "
        "compare the new policy with: the network as it is now, or the probabilities stored with the batch?",
        "For each minibatch: evaluate the current policy and critic on its transitions; standardise that "
        "minibatch's advantages; build the clipped surrogate from the ratio against the stored logp_old, the "
        "critic's squared error and the entropy bonus; clear the old gradients, backpropagate, clip the global "
        "gradient norm, step. After each epoch (not each minibatch), measure the approximate KL over the whole "
        "batch and stop if it is too large. Return what was asked of the last minibatch.",
        "Per minibatch B: A_B <- (A_B - mean A_B) / (std A_B + 1e-8); r = exp(log pi_theta(a|s) - logp_old); "
        "L = -mean min(r A_B, clip(r, 1 - eps, 1 + eps) A_B) + c_V mean (V - R)^2 - c_H mean H; one optimiser step "
        "on L after clipping ||grad|| to max_grad_norm. After epoch k: stop if mean((r - 1) - log r) over all M "
        "transitions > 1.5 target_kl.",
    ],
    success="This is the update of CleanRL's and Stable-Baselines3's PPO; the course's trainer "
            "(course_utils/trainers/ppo.py) calls the same loop, and the capstone below puts it after your rollout.",
    timeout_s=10.0, atol=1e-5, rtol=1e-4,
))


# ---------------------------------------------------------------- the capstone: a whole PPO
def _capstone_args(seed: int, num_envs: int, num_steps: int, max_episode_steps: int, iterations: int,
                   epochs: int, num_minibatches: int, target_kl=None, lr: float = 0.005):
    """CartPole with same-step autoreset and a short time limit (episodes end by termination and by
    truncation within the rollout), the case agent, Adam, and a seeded shuffler of minibatches."""
    from course_utils.rl.rollout import SameStepCartPoleVectorEnv

    def make():
        agent, optimizer = _agent_and_optimizer(seed, lr)
        envs = SameStepCartPoleVectorEnv(num_envs=num_envs, max_episode_steps=max_episode_steps)
        g = gen(seed)

        def minibatches(M: int):
            """K epochs, each a random split of range(M) into num_minibatches index tensors."""
            return [list(torch.randperm(M, generator=g).chunk(num_minibatches)) for _ in range(epochs)]

        return dict(envs=envs, agent=agent, optimizer=optimizer, iterations=iterations, num_steps=num_steps,
                    gamma=0.98, lam=0.8, clip_eps=0.2, minibatches=minibatches, value_coef=0.5, ent_coef=0.01,
                    max_grad_norm=0.5, target_kl=target_kl, seed=seed)
    return make


def _capstone_cases():
    return [
        Case("one iteration: 4 CartPoles x 24 steps, episodes cut at 14 steps",
             _capstone_args(1820, num_envs=4, num_steps=24, max_episode_steps=14, iterations=1, epochs=3,
                            num_minibatches=2),
             shown="envs: 4 CartPole-v1 with same-step autoreset and a time limit of 14 steps (so episodes end by "
                   "termination and by truncation inside the rollout), reset with seed = 1820; iterations = 1, "
                   "num_steps = 24, gamma = 0.98, lam = 0.8, clip_eps = 0.2, minibatches(M) = 3 epochs of 2 "
                   "shuffled halves, value_coef = 0.5, ent_coef = 0.01, max_grad_norm = 0.5, target_kl = None"),
        Case("two iterations: 3 CartPoles x 16 steps, episodes cut at 10 steps, KL early stop",
             _capstone_args(1821, num_envs=3, num_steps=16, max_episode_steps=10, iterations=2, epochs=4,
                            num_minibatches=3, target_kl=0.01),
             shown="envs: 3 CartPole-v1 (same-step autoreset, time limit 10 steps), seed = 1821; iterations = 2 "
                   "(the second rollout continues from where the first stopped), num_steps = 16, minibatches(M) = "
                   "4 epochs of 3 shuffled thirds, target_kl = 0.01, the rest as in the first case"),
        Case("one iteration: 2 CartPoles x 20 steps under the usual time limit of 500, the whole batch as one "
             "minibatch",
             _capstone_args(1822, num_envs=2, num_steps=20, max_episode_steps=500, iterations=1, epochs=2,
                            num_minibatches=1),
             shown="envs: 2 CartPole-v1 (same-step autoreset, time limit 500: nothing is truncated), seed = 1822; "
                   "iterations = 1, num_steps = 20, minibatches(M) = 2 epochs of one index list of all 40 "
                   "transitions (shuffled), the rest as in the first case"),
    ]


def _as_time_env(value, name: str, T: int, N: int) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(value.detach() if isinstance(value, torch.Tensor) else value), dtype=torch.float64)
    if t.shape == (T, N):
        return t
    if t.shape == (N, T) and T != N:  # a per-environment layout: the same numbers
        return t.T.contiguous()
    if t.numel() == T * N:
        return t.reshape(T, N)  # flattened time-major, as the batch
    raise OutcomeError(f"'{name}' should hold the last rollout's {T} steps x {N} environments, shape ({T}, {N}); "
                       f"yours has shape {tuple(t.shape)}.")


def _capstone_record(args, returned):
    keys = ("advantages", "returns", "episode_returns", "episode_end_steps")
    if returned is None:
        raise OutcomeError("your loop returned None (did you forget the `return` statement?): return a dict with "
                           "the keys 'advantages', 'returns', 'episode_returns' and 'episode_end_steps'.")
    if not isinstance(returned, dict) or any(k not in returned for k in keys):
        raise OutcomeError("return a dict with the keys 'advantages' and 'returns' (of the last rollout, (T, N)), "
                           "'episode_returns' (the returns of the episodes that ended, in order) and "
                           "'episode_end_steps' (the environment steps, all envs together, collected when each "
                           "ended).")
    T, N = args["num_steps"], args["envs"].num_envs
    record = {"advantages of the last rollout": _as_time_env(returned["advantages"], "advantages", T, N),
              "returns of the last rollout": _as_time_env(returned["returns"], "returns", T, N)}
    for key, name in (("episode_returns", "episode returns"), ("episode_end_steps", "episode end steps")):
        values = returned[key]
        record[name] = torch.as_tensor(
            [float(x) for x in (values.reshape(-1).tolist() if hasattr(values, "reshape") else values)],
            dtype=torch.float64)
    record.update(_params_record(args["agent"]))
    return record


def _wrong_capstone(*, truncation="bootstrap final obs", store="current", dones=True, last_value=True,
                    reset_each_iteration=False, flatten="time-major"):
    """A whole PPO with one thing done wrong (the catalogued mistakes of the capstone)."""
    def capstone(envs, agent, optimizer, iterations, num_steps, gamma, lam, clip_eps, minibatches, value_coef,
                 ent_coef, max_grad_norm, target_kl, seed):
        T, N = num_steps, envs.num_envs
        next_obs = torch.as_tensor(envs.reset(seed=seed)[0], dtype=torch.float32)
        running, episode_returns, end_steps, steps = np.zeros(N), [], [], 0
        for it in range(iterations):
            if reset_each_iteration and it > 0:
                next_obs = torch.as_tensor(envs.reset(seed=seed)[0], dtype=torch.float32)
                running[:] = 0.0
            obs = torch.zeros(T, N, 4)
            actions = torch.zeros((T, N), dtype=torch.long)
            logp_old, values, rewards, ends = (torch.zeros(T, N) for _ in range(4))
            for t in range(T):
                with torch.no_grad():
                    actions[t] = agent.act(next_obs)
                    logp_old[t], values[t], _ = agent.evaluate(next_obs, actions[t])
                raw, reward, terminated, truncated, info = envs.step(actions[t].numpy())
                truncated = truncated & ~terminated
                rewards[t] = torch.as_tensor(reward, dtype=torch.float32)
                boot = {"bootstrap final obs": truncated, "none": np.zeros(N, bool),
                        "every end": terminated | truncated, "reset obs": truncated}[truncation]
                if boot.any():
                    final = torch.as_tensor(raw[boot] if truncation == "reset obs" else
                                            np.stack(info["final_obs"][boot]), dtype=torch.float32)
                    with torch.no_grad():
                        rewards[t, torch.as_tensor(boot)] += gamma * agent.value(final)
                ends[t] = torch.as_tensor(terminated | truncated, dtype=torch.float32)
                new_obs = torch.as_tensor(raw, dtype=torch.float32)
                obs[t] = new_obs if store == "next" else next_obs
                next_obs = new_obs
                running += reward
                steps += N
                for i in np.flatnonzero(terminated | truncated):
                    episode_returns.append(float(running[i]))
                    end_steps.append(steps)
                    running[i] = 0.0
            if store == "next":  # the stored states must match the log-probs and values used
                with torch.no_grad():
                    logp_old, values, _ = (x.reshape(T, N) for x in agent.evaluate(obs.reshape(T * N, -1),
                                                                                   actions.reshape(-1)))
            with torch.no_grad():
                last = agent.value(next_obs) if last_value else torch.zeros(N)
            advantages = answers.gae(rewards, values, ends if dones else torch.zeros(T, N), last, gamma, lam)
            returns = advantages + values
            flat = (lambda x: x.reshape(T * N, *x.shape[2:])) if flatten == "time-major" else (
                lambda x: x.transpose(0, 1).reshape(T * N, *x.shape[2:]))
            answers.ppo_update(agent, optimizer, flat(obs), flat(actions), flat(logp_old), flat(advantages),
                               flat(returns), minibatches(T * N), clip_eps, value_coef, ent_coef, max_grad_norm,
                               target_kl)
        return {"advantages": advantages, "returns": returns, "episode_returns": episode_returns,
                "episode_end_steps": end_steps}
    return capstone


EXERCISES.append(Exercise(
    id="ppo_capstone",
    chapter=CHAPTER,
    kind="loop",
    title="capstone: your whole PPO (rollout, GAE, update)",
    signature="ppo_capstone(envs, agent, optimizer, iterations, num_steps, gamma, lam, clip_eps, minibatches, "
              "value_coef, ent_coef, max_grad_norm, target_kl, seed) -> "
              "{'advantages', 'returns', 'episode_returns', 'episode_end_steps'}",
    answer=answers.ppo_capstone,
    cases=_capstone_cases,
    updates=("agent", "optimizer", "envs"),
    outcome=_capstone_record,
    record_axes={"advantages of the last rollout": ("step", "env"), "returns of the last rollout": ("step", "env"),
                 "episode returns": ("episode",), "episode end steps": ("episode",), **_LAYER_AXES},
    mistakes=[
        Mistake("truncation treated as termination", _wrong_capstone(truncation="none"),
                "your rollout treats an episode cut by the time limit like one that terminated: nothing is "
                "bootstrapped, so the advantage of its last step acts as if the cart's future were worth 0. Add "
                "gamma V(final observation) to the reward of a truncated step (the episode's last observation is in "
                "info['final_obs'])."),
        Mistake("value bootstrapped from the reset observation", _wrong_capstone(truncation="reset obs"),
                "your rollout bootstraps a truncated episode from the observation that step returned, which under "
                "same-step autoreset is already the FIRST observation of the next episode. Use the ended episode's "
                "last observation, info['final_obs'][i]."),
        Mistake("termination bootstrapped too", _wrong_capstone(truncation="every end"),
                "your rollout adds gamma V(final observation) at every episode end, terminations included. A "
                "terminated episode has no future: bootstrap only the truncated ones."),
        Mistake("next observation stored", _wrong_capstone(store="next"),
                "your rollout stores the observation that step() returned, s_{t+1}, next to the action taken in "
                "s_t. Store the state the action was chosen in, before stepping."),
        Mistake("episode ends ignored by GAE", _wrong_capstone(dones=False),
                "your GAE runs across episode boundaries: the next row of the rollout already belongs to a new "
                "episode. Pass dones = terminated or truncated, so that each end cuts the sum."),
        Mistake("no bootstrap at the rollout's end", _wrong_capstone(last_value=False),
                "your GAE starts from last_value = 0, as if every episode ended with the rollout. The episodes "
                "still running go on: bootstrap them with V of the observation after the last step."),
        Mistake("environments reset at every iteration", _wrong_capstone(reset_each_iteration=True),
                "your loop resets the environments before each rollout. Reset once, then let each rollout continue "
                "from the observation the previous one ended on (the episodes in progress are not over)."),
        Mistake("batch flattened env-major", _wrong_capstone(flatten="env-major"),
                "your batch is flattened environment by environment, so the minibatch indices pick other "
                "transitions than the course's. Flatten (T, N) time-major: row t * N + n (tensor.reshape(T * N, "
                "...) on the (T, N) storage)."),
    ],
    hints=[
        "Which arrays does one rollout have to fill for GAE and for the update, and at which moment of a step is "
        "each of them known? What is different about a step at which an episode was cut by the time limit?",
        "Reset once. Each iteration: for T steps, store the current observation, act, store the action, its "
        "log-probability and the value of the current state, step all environments, store the reward and whether "
        "the episode ended; for an episode cut by the time limit, add the discounted value of its last "
        "observation (in info['final_obs']) to that reward. Then GAE over the rollout, bootstrapped with the value "
        "of the observation after the last step, and the returns as the advantages plus the values; flatten "
        "time-major and call your ppo_update with this iteration's minibatches.",
        "r_t <- r_t + gamma V(s^final_t) if truncated_t; d_t = terminated_t or truncated_t; A = GAE(r, V(s_0..s_T-1), "
        "d, V(s_T), gamma, lam); hat R = A + V; the batch's row t * N + n is (s_t^n, a_t^n, log pi_old, A, hat R).",
    ],
    success="That is PPO, end to end, in your own code: the cell below trains it on CartPole and places the run "
            "among the course's reference seeds.",
    timeout_s=20.0, atol=1e-5, rtol=1e-4,
))
