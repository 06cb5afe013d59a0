"""Chapter 01, the log-derivative trick: log-probabilities of policies and score-function gradients."""
from __future__ import annotations

import math

import torch

from course_utils import answers
from course_utils.answers.log_probs import LOG_2PI
from course_utils.checks._common import fixed, gen
from course_utils.grading.spec import Case, Exercise, Mistake

CHAPTER = "01 The log-derivative trick"
EXERCISES: list[Exercise] = []  # in course order; course_utils.catalogue collects them


# ---------------------------------------------------------------- categorical_log_prob


def _cat_cases():
    g = gen(101)
    return [
        Case("two states, three actions (worked by hand)",
             fixed(logits=torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]), actions=torch.tensor([2, 0])),
             why="uniform logits give log(1/3) = -1.0986; in the second row log p(0) = 1 - logsumexp(1,2,3) = -2.4076"),
        Case("a batch of 6 states, 4 actions",
             fixed(logits=torch.randn(6, 4, generator=g), actions=torch.randint(0, 4, (6,), generator=g))),
        Case("one state, many actions",
             fixed(logits=torch.randn(1, 7, generator=g) * 3, actions=torch.tensor([5]))),
        Case("huge logits (numerical stability)",
             fixed(logits=torch.tensor([[1000.0, 0.0, -1000.0], [-50.0, 60.0, 0.0]]), actions=torch.tensor([0, 1])),
             why="exp(1000) overflows float32; a stable formula never exponentiates large numbers"),
        Case("a very unlikely action",
             fixed(logits=torch.tensor([[0.0, 0.0, -200.0], [30.0, -120.0, 5.0]]), actions=torch.tensor([2, 1])),
             why="its probability (about e^-200) rounds to 0 in float32, but its log-probability is a normal number"),
    ]


EXERCISES.append(Exercise(
    id="categorical_log_prob",
    chapter=CHAPTER,
    title="log-probability of a softmax policy",
    signature="categorical_log_prob(logits (N, A), actions (N,) int64) -> (N,)",
    answer=answers.categorical_log_prob,
    cases=_cat_cases,
    grad_wrt=("logits",),
    mistakes=[
        Mistake("probabilities", lambda logits, actions: torch.softmax(logits, -1).gather(-1, actions[:, None]).squeeze(-1),
                "you returned the probability pi(a|s), not its logarithm."),
        Mistake("raw logit", lambda logits, actions: logits.gather(-1, actions[:, None]).squeeze(-1),
                "you returned the raw logit of the action. Logits are unnormalised: subtract "
                "logsumexp(logits) over the actions so that the probabilities sum to one."),
        Mistake("naive softmax", lambda logits, actions: torch.log(
            torch.exp(logits) / torch.exp(logits).sum(-1, keepdim=True)).gather(-1, actions[:, None]).squeeze(-1),
                "exp(logits) overflows for large logits (exp(1000) is inf in float32), and inf / inf is NaN. Subtract "
                "each row's log-sum-exp (torch.logsumexp) from its logits instead: it never exponentiates "
                "large numbers."),
        Mistake("log of softmax", lambda logits, actions: torch.log(torch.softmax(logits, -1)).gather(
            -1, actions[:, None]).squeeze(-1),
                "log(softmax(logits)) underflows: a probability like exp(-1000) rounds to 0 and its log is -inf. "
                "Compute the log-probabilities directly with logsumexp (or torch.log_softmax)."),
        Mistake("wrong axis", lambda logits, actions: (logits - torch.logsumexp(logits, 0, keepdim=True)).gather(
            -1, actions[:, None]).squeeze(-1),
                "the normalisation runs over the batch axis (dim=0). Each state has its own distribution over "
                "actions: normalise over the last axis (dim=-1)."),
    ],
    hints=[
        "Take the log of pi(a|s) = exp(z_a) / sum_b exp(z_b) by hand. Which part of the result can overflow when "
        "the logits are in the hundreds?",
        "The log of a ratio is a difference: the chosen action's logit minus the log of the sum of the "
        "exponentials of all logits. That second term is a log-sum-exp, which torch computes stably. Then pick, "
        "in each row, the entry of the action taken.",
        "log pi(a_i|s_i) = z_{i,a_i} - logsumexp_b z_{i,b}: form the (N, A) table of log-probabilities row by "
        "row, then select column a_i of row i.",
    ],
    success="Your log-probabilities are exact and stable even for huge logits, and gradients flow to the logits.",
))


# ---------------------------------------------------------------- gaussian_log_prob


def _gauss_cases():
    g = gen(202)
    return [
        Case("standard normal at zero, two samples in D = 2 (worked by hand)",
             fixed(x=torch.zeros(2, 2), mu=torch.zeros(2, 2), log_std=torch.zeros(2)),
             why="each dimension contributes -0.5 log(2 pi) = -0.9189, so D = 2 gives -1.8379"),
        Case("5 samples in 3 dimensions, shared log_std (D,)",
             fixed(x=torch.randn(5, 3, generator=g), mu=torch.randn(5, 3, generator=g),
                   log_std=torch.randn(3, generator=g) * 0.5)),
        Case("4 samples in 2 dimensions, per-sample log_std (N, D)",
             fixed(x=torch.randn(4, 2, generator=g), mu=torch.randn(4, 2, generator=g),
                   log_std=torch.randn(4, 2, generator=g) * 0.5)),
        Case("one sample, six dimensions",
             fixed(x=torch.randn(1, 6, generator=g) * 2, mu=torch.zeros(1, 6), log_std=torch.full((6,), -1.0))),
    ]


def _g_mistake(body):
    def f(x, mu, log_std):
        return body(x, mu, log_std.expand_as(mu))
    return f


EXERCISES.append(Exercise(
    id="gaussian_log_prob",
    kind="debug",
    bug="mean over D",  # the handed-out code makes this mistake
    chapter=CHAPTER,
    title="log-density of a diagonal Gaussian policy",
    signature="gaussian_log_prob(x (N, D), mu (N, D), log_std (D,) or (N, D)) -> (N,)",
    answer=answers.gaussian_log_prob,
    cases=_gauss_cases,
    grad_wrt=("mu", "log_std"),
    mistakes=[
        Mistake("no 2 pi", _g_mistake(lambda x, mu, ls: (-0.5 * ((x - mu) / ls.exp()) ** 2 - ls).sum(-1)),
                "the constant -0.5 log(2 pi) per dimension is missing. It does not change gradients, but the "
                "log-density is then off by 0.919 per dimension, and comparisons with torch.distributions break."),
        Mistake("log_std used as std", _g_mistake(lambda x, mu, ls: (-0.5 * ((x - mu) / ls) ** 2 - torch.log(ls.abs())
                                                                      - 0.5 * LOG_2PI).sum(-1)),
                "log_std is the logarithm of sigma: sigma = exp(log_std). Dividing by log_std itself is a common slip."),
        Mistake("no normaliser", _g_mistake(lambda x, mu, ls: (-0.5 * ((x - mu) / ls.exp()) ** 2 - 0.5 * LOG_2PI).sum(-1)),
                "the -log(sigma) term of the normaliser is missing: a wider Gaussian spreads its density, so its "
                "log-density must go down by log sigma per dimension."),
        Mistake("variance as std", _g_mistake(lambda x, mu, ls: (-0.5 * (x - mu) ** 2 / ls.exp() - ls
                                                                  - 0.5 * LOG_2PI).sum(-1)),
                "the squared distance is divided by sigma instead of sigma^2."),
        Mistake("mean over D", _g_mistake(lambda x, mu, ls: (-0.5 * ((x - mu) / ls.exp()) ** 2 - ls
                                                              - 0.5 * LOG_2PI).mean(-1)),
                "you averaged over the action dimensions. The dimensions are independent, so the joint "
                "log-density is the SUM of the per-dimension log-densities."),
        Mistake("no sum", _g_mistake(lambda x, mu, ls: (-0.5 * ((x - mu) / ls.exp()) ** 2 - ls - 0.5 * LOG_2PI)),
                "you returned one log-density per dimension, shape (N, D). Sum over the last axis: independent "
                "dimensions multiply their densities, so their logs add up."),
    ],
    hints=[
        "What is the log-density of a one-dimensional normal N(mu, sigma^2)? And what does independence across "
        "the D dimensions do to the joint density?",
        "Independence makes the joint density a product, so its log is a sum over dimensions of one-dimensional "
        "log-densities. Each has three terms: a squared standardised distance, the log of the standard deviation "
        "and a constant. A log_std of shape (D,) broadcasts against (N, D) on its own.",
        "log pi(x_i) = sum_d [ -1/2 ((x_id - mu_id) / sigma_d)^2 - log sigma_d - 1/2 log(2 pi) ] with sigma_d = "
        "e^{log_std_d}; the sum runs over the last axis only.",
    ],
    success="Your Gaussian log-density matches torch.distributions.Normal(mu, exp(log_std)).log_prob(x).sum(-1), "
            "and its gradients with respect to mu and log_std are right.",
))


# ---------------------------------------------------------------- softmax_score


def _score_cases():
    g = gen(303)
    return [
        Case("uniform policy over 4 actions (worked by hand)",
             fixed(logits=torch.zeros(1, 4), actions=torch.tensor([1])),
             why="every probability is 1/4, so the score is [-0.25, 0.75, -0.25, -0.25]"),
        Case("a batch of 5 states, 3 actions",
             fixed(logits=torch.randn(5, 3, generator=g) * 2, actions=torch.randint(0, 3, (5,), generator=g))),
        Case("large logits",
             fixed(logits=torch.tensor([[200.0, 0.0, -200.0]]), actions=torch.tensor([2]))),
    ]


EXERCISES.append(Exercise(
    id="softmax_score",
    chapter=CHAPTER,
    title="the score of a softmax policy, in closed form",
    signature="softmax_score(logits (N, A), actions (N,) int64) -> (N, A)",
    answer=answers.softmax_score,
    cases=_score_cases,
    mistakes=[
        Mistake("sign", lambda logits, actions: torch.softmax(logits, -1) - torch.nn.functional.one_hot(
            actions, logits.shape[-1]).to(logits.dtype),
                "the sign is flipped: the score pushes UP the logit of the action taken (one-hot minus "
                "probabilities), which is what makes that action more likely after an ascent step."),
        Mistake("one-hot only", lambda logits, actions: torch.nn.functional.one_hot(
            actions, logits.shape[-1]).to(logits.dtype),
                "only the one-hot part is there. Differentiating logsumexp(logits) gives the softmax "
                "probabilities, which must be subtracted."),
        Mistake("probabilities only", lambda logits, actions: -torch.softmax(logits, -1),
                "the one-hot vector of the chosen action is missing: d logits[a] / d logits is one-hot(a)."),
        Mistake("log-probabilities", lambda logits, actions: torch.nn.functional.one_hot(
            actions, logits.shape[-1]).to(logits.dtype) - torch.log_softmax(logits, -1),
                "you subtracted log-probabilities; the derivative of logsumexp(logits) is softmax(logits), "
                "the probabilities themselves."),
    ],
    hints=[
        "log pi(a|s) is the chosen logit minus the log-sum-exp of all logits. What is the derivative of each of "
        "the two terms with respect to one logit z_b?",
        "The first term depends on z_a only: its gradient is 1 at position a and 0 elsewhere. The derivative of "
        "the log-sum-exp with respect to z_b is exp(z_b) / sum_c exp(z_c), the probability of b. The score is the "
        "first gradient minus the second.",
        "score_i = e_{a_i} - pi(. | s_i): the one-hot row of the action taken, minus the row of softmax "
        "probabilities. Every row sums to 0, a quick self-check.",
    ],
    success="Each row sums to zero because adding one constant to every logit leaves the policy unchanged. "
            "The expected grad-log-prob lemma is a different fact: averaged over actions drawn from the policy "
            "itself, sum_a pi(a) (e_a - pi), the rows give the zero vector.",
))


# ---------------------------------------------------------------- score_gradient_gaussian_mean


def _sg_cases():
    g = gen(404)
    x_small = torch.tensor([0.5, 1.5, 2.5])
    mu, sigma = 1.5, 0.5
    x_big = mu + sigma * torch.randn(200_000, generator=g)
    fx_big = x_big**2
    terms = fx_big * (x_big - mu) / sigma**2
    # A correct estimator is an average of N i.i.d. terms, so by the central limit theorem it lies
    # within 5 standard errors of the truth d/dmu E[x^2] = 2 mu with probability > 0.999999.
    five_se = 5 * float(terms.std() / math.sqrt(len(terms)))
    x_mid = torch.randn(10, generator=g)
    return [
        Case("three samples (worked by hand)", fixed(x=x_small, fx=torch.tensor([1.0, 2.0, 4.0]), mu=mu, sigma=sigma),
             why="the scores (x - mu)/sigma^2 are [-4, 0, 4], so the estimate is (1*(-4) + 2*0 + 4*4) / 3 = 4.0"),
        Case("ten samples of a standard normal, f(x) = sin(x)",
             fixed(x=x_mid, fx=torch.sin(x_mid), mu=0.0, sigma=1.0)),
        Case("statistical: 200,000 samples, f(x) = x^2, mu = 1.5, sigma = 0.5",
             fixed(x=x_big, fx=fx_big, mu=mu, sigma=sigma), shown="x ~ N(1.5, 0.5^2), 200,000 samples; fx = x^2",
             expected=lambda a: torch.tensor(2 * mu), atol=five_se, rtol=0.0,
             why=f"d/dmu E[x^2] = 2 mu = 3.0 exactly; an unbiased estimator lands within 5 standard errors "
                 f"(+-{five_se:.3f})"),
    ]


EXERCISES.append(Exercise(
    id="score_gradient_gaussian_mean",
    chapter=CHAPTER,
    title="score-function estimate of d/dmu E[f(x)]",
    signature="score_gradient_gaussian_mean(x (N,), fx (N,), mu float, sigma float) -> () tensor",
    answer=answers.score_gradient_gaussian_mean,
    cases=_sg_cases,
    mistakes=[
        Mistake("sigma not squared", lambda x, fx, mu, sigma: (fx * (x - mu) / sigma).mean(),
                "the score of a Gaussian mean is (x - mu) / sigma^2: you divided by sigma only."),
        Mistake("sign", lambda x, fx, mu, sigma: (fx * (mu - x) / sigma**2).mean(),
                "the sign is flipped: d/dmu log N(x; mu, sigma^2) = +(x - mu) / sigma^2."),
        Mistake("sum", lambda x, fx, mu, sigma: (fx * (x - mu) / sigma**2).sum(),
                "you summed over the samples; an expectation is estimated by the sample MEAN."),
        Mistake("no f", lambda x, fx, mu, sigma: ((x - mu) / sigma**2).mean(),
                "f(x) is missing: the estimator weights each sample's score by its value f(x). Without it you "
                "estimate E[score], which is zero by the expected grad-log-prob lemma."),
        Mistake("x instead of x - mu", lambda x, fx, mu, sigma: (fx * x / sigma**2).mean(),
                "the score needs the deviation x - mu, not x itself."),
    ],
    hints=[
        "The log-derivative trick writes d/dmu E[f(x)] as E[f(x) times something]. What is that something for a "
        "Gaussian, and how do you estimate an expectation from samples?",
        "The something is the score d/dmu log N(x; mu, sigma^2): differentiate the Gaussian's log-density with "
        "respect to its mean (only the squared term depends on mu). Then replace the expectation by the average "
        "over the N samples.",
        "estimate = (1/N) sum_i f(x_i) (x_i - mu) / sigma^2, a 0-d tensor. Mind that the denominator is the "
        "variance sigma^2, not sigma.",
    ],
    success="Your estimator is unbiased: on 200,000 samples it lands within a few standard errors of the exact "
            "derivative, using nothing but samples and values of f.",
))
