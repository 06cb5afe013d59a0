"""Chapter 02, REINFORCE: returns, sampling a stochastic policy, and the policy-gradient surrogate."""
from __future__ import annotations

import torch

from course_utils import answers
from course_utils.checks._common import fixed, gen
from course_utils.grading.spec import Case, Exercise, Mistake

CHAPTER = "02 REINFORCE"
EXERCISES: list[Exercise] = []  # in course order; course_utils.catalogue collects them


# ---------------------------------------------------------------- discounted_return
def _dr_cases():
    g = gen(505)
    return [
        Case("three rewards, gamma = 0.5 (worked by hand)", fixed(rewards=torch.tensor([1.0, 1.0, 1.0]), gamma=0.5),
             why="1 + 0.5 + 0.25 = 1.75"),
        Case("reward only at the last step", fixed(rewards=torch.tensor([0.0, 0.0, 0.0, 10.0]), gamma=0.9),
             why="10 * 0.9^3 = 7.29: a late reward is worth less"),
        Case("gamma = 1 is the plain sum", fixed(rewards=torch.randn(6, generator=g), gamma=1.0)),
        Case("a long episode, gamma = 0.99", fixed(rewards=torch.rand(200, generator=g), gamma=0.99)),
        Case("one step", fixed(rewards=torch.tensor([2.5]), gamma=0.3)),
    ]


EXERCISES.append(Exercise(
    id="discounted_return",
    kind="debug",
    bug="exponent off by one",  # the handed-out code makes this mistake
    chapter=CHAPTER,
    title="the discounted return of an episode",
    signature="discounted_return(rewards (T,), gamma float) -> () tensor",
    answer=answers.discounted_return,
    cases=_dr_cases,
    mistakes=[
        Mistake("exponent off by one", lambda rewards, gamma: (gamma ** torch.arange(1, len(rewards) + 1) * rewards).sum(),
                "the first reward is discounted too: the exponent of gamma must start at 0 (r_0 counts in full)."),
        Mistake("reversed discount", lambda rewards, gamma: (gamma ** torch.arange(len(rewards) - 1, -1, -1)
                                                              * rewards).sum(),
                "the discounts run backwards: it is the LATE rewards that are discounted most, gamma^t for r_t."),
        Mistake("no discount", lambda rewards, gamma: rewards.sum(),
                "gamma is ignored: each reward r_t must be multiplied by gamma^t."),
        Mistake("mean", lambda rewards, gamma: (gamma ** torch.arange(len(rewards)) * rewards).mean(),
                "you averaged the discounted rewards; the return is their sum."),
    ],
    hints=[
        "How much is a reward that arrives at step t worth, compared with the same reward arriving now?",
        "Reward r_t is multiplied by gamma to the power t, so the first reward counts in full. Build all T "
        "discount factors at once rather than in a Python loop, then combine them with the rewards.",
        "R = sum_{t=0}^{T-1} gamma^t r_t: the powers gamma^0, ..., gamma^{T-1} (in the rewards' dtype), "
        "multiplied elementwise by the rewards, then summed.",
    ],
    success="With gamma = 0.99, a full CartPole episode of 500 steps is worth about 99.3, not 500: the discount "
            "is a horizon of roughly 1 / (1 - gamma) = 100 steps.",
))


# ---------------------------------------------------------------- sample_actions


def _sa_cases():
    g = gen(606)
    logits = torch.tensor([[0.25, 0.25, 0.5]]).log() + 3.0  # softmax ignores the shift
    return [
        Case("probabilities [0.25, 0.25, 0.5] at four values of u (worked by hand)",
             fixed(logits=logits.expand(4, 3), u=torch.tensor([0.1, 0.3, 0.6, 0.99])),
             why="the cumulative probabilities are [0.25, 0.5, 1.0], so u = 0.1, 0.3, 0.6, 0.99 pick actions 0, 1, 2, 2"),
        Case("u exactly on a boundary", fixed(logits=logits.expand(2, 3), u=torch.tensor([0.25, 0.5])),
             why="u = 0.25 lies in [0.25, 0.5), the interval of action 1"),
        Case("a batch of 50 states, 6 actions",
             fixed(logits=torch.randn(50, 6, generator=g) * 2, u=torch.rand(50, generator=g))),
        Case("one state, one dominant action",
             fixed(logits=torch.tensor([[-5.0, 8.0, -5.0, 0.0]]), u=torch.tensor([0.5]))),
        Case("u just below 1 where rounding leaves the last cumulative probability below u",
             fixed(logits=torch.randn(32, 1000, generator=gen(2606)),
                   u=torch.full((32,), 1.0).nextafter(torch.tensor(0.0))),
             shown="32 states with 1,000 actions each (random logits), u = 0.99999994 (the largest float32 below 1)",
             why="in float32 the cumulative probabilities of some rows end just below u, so no interval contains "
                 "it; the answer is then the last action, 999, never 1000"),
    ]


EXERCISES.append(Exercise(
    id="sample_actions",
    chapter=CHAPTER,
    title="sampling a softmax policy with uniform numbers",
    signature="sample_actions(logits (N, A), u (N,) uniform in [0, 1)) -> (N,) int64",
    answer=answers.sample_actions,
    cases=_sa_cases,
    mistakes=[
        Mistake("greedy", lambda logits, u: logits.argmax(-1),
                "you picked the most likely action and ignored u. A stochastic policy must explore: every action with "
                "positive probability gets chosen sometimes, which is what the policy gradient learns from."),
        Mistake("cumsum of logits", lambda logits, u: (torch.cumsum(logits, -1) <= u[:, None]).sum(-1).clamp(
            max=logits.shape[-1] - 1),
                "the cumulative sum runs over the logits; turn them into probabilities with softmax first."),
        Mistake("strict inequality", lambda logits, u: (torch.cumsum(torch.softmax(logits, -1), -1) < u[:, None]).sum(
            -1).clamp(max=logits.shape[-1] - 1),
                "at a boundary u = cdf_a you chose action a; the interval of action a is [cdf_(a-1), cdf_a), closed "
                "on the left, so count the cumulative probabilities that are <= u."),
        Mistake("no cap at A - 1", lambda logits, u: (torch.cumsum(torch.softmax(logits, -1), -1)
                                                      <= u[:, None]).sum(-1),
                "you returned action A, which does not exist: in float32 the last cumulative probability can end "
                "just below 1, and below u, so every entry of the row counted. The last action's interval reaches "
                "1: cap the count at A - 1 (clamp(max=A - 1))."),
    ],
    hints=[
        "Lay the probabilities end to end on [0, 1): action a owns an interval of length pi(a|s). Which interval "
        "does u fall into?",
        "The right end of action a's interval is the cumulative probability c_a = pi(0) + ... + pi(a), and a "
        "cumulative sum gives all of them at once. The interval that contains u is found by counting how many "
        "right ends lie at or below u.",
        "a_i = #{ b : c_{i,b} <= u_i }, counted along the action axis with u_i compared with every entry of row "
        "i; then cap it at A - 1, in case rounding left the last c_{i,b} just below u_i.",
    ],
    success="This is how torch.distributions.Categorical.sample works underneath: one uniform number per state, "
            "one comparison with the cumulative probabilities.",
))


# ---------------------------------------------------------------- pg_loss
def _pg_cases():
    g = gen(707)
    return [
        Case("two samples (worked by hand)", fixed(logp=torch.tensor([-0.7, -0.7]), weights=torch.tensor([1.0, 3.0])),
             why="-(-0.7 * 1 - 0.7 * 3) / 2 = 1.4; the gradient with respect to logp is -weights / 2"),
        Case("negative weights", fixed(logp=torch.tensor([-0.1, -2.0, -0.5]), weights=torch.tensor([-1.0, 2.0, -0.5]))),
        Case("a batch of 64 samples",
             fixed(logp=-torch.rand(64, generator=g) * 3, weights=torch.randn(64, generator=g) * 10)),
    ]


EXERCISES.append(Exercise(
    id="pg_loss",
    chapter=CHAPTER,
    title="the policy-gradient surrogate loss",
    signature="pg_loss(logp (M,), weights (M,)) -> () tensor",
    answer=answers.pg_loss,
    cases=_pg_cases,
    grad_wrt=("logp", "weights"),
    mistakes=[
        Mistake("forgotten detach", lambda logp, weights: -(logp * weights).mean(),
                "gradient flows into the weights. They are returns or advantages, constants of the estimator: "
                "use weights.detach(), or a value baseline would be trained by the policy loss."),
        Mistake("wrong sign", lambda logp, weights: (logp * weights.detach()).mean(),
                "the sign is flipped. Optimisers MINIMISE a loss; to climb the expected return, minimise minus the "
                "return-weighted log-probability."),
        Mistake("sum", lambda logp, weights: -(logp * weights.detach()).sum(),
                "you summed over the samples; take the mean, so that the step size does not grow with the batch."),
        Mistake("probabilities", lambda logp, weights: -(logp.exp() * weights.detach()).mean(),
                "you weighted the probabilities, not the log-probabilities. The log-derivative trick needs "
                "grad log pi, which is what differentiating log pi gives."),
    ],
    hints=[
        "Which scalar has, as its gradient with respect to theta, minus the sample policy gradient (1/M) sum_i "
        "grad log pi(a_i|s_i) w_i?",
        "Differentiate the mean of logp_i w_i with respect to theta: with the weights held constant you get "
        "exactly the sample policy gradient. Flip the sign, because the optimiser minimises, and make sure no "
        "gradient can reach the weights.",
        "L = -(1/M) sum_i logp_i w_i, with w cut from the graph (detached), and a mean, not a sum, over the M "
        "samples.",
    ],
    success="Minimising this surrogate follows the policy gradient. Remember that its value says nothing about "
            "how well the policy performs; only its gradient matters.",
))
