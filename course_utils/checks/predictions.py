"""The course's predict items: one question per chapter, asked in the workbook before a demo.

Each is answered by thinking, not by computing, and the demo under it shows what happens
(:mod:`course_utils.predict`: ``predict(id)``, then the demo, then ``reveal(id)``); the
catalogue collects them with the exercises.
"""
from __future__ import annotations

from course_utils.grading.spec import Prediction

# the diagnostics lab of workbook 08: each of runs A, B and C has one of these broken
WHAT_BROKE = {"a": "the learning rate is 30 times too large (3e-2 instead of 1e-3)",
              "b": "the advantages are not normalised",
              "c": "GAE is computed without the done mask"}

PREDICTIONS = [
    Prediction(
        id="score_constant_shift",
        chapter="01 The log-derivative trick",
        title="add a constant to f",
        question="You estimate d/dmu E[f(x)], x ~ N(mu, sigma^2), with the score-function estimator, once for "
                 "f(x) = x^2 and once for f(x) = x^2 + 100, on the same samples. Over many batches, compared "
                 "with f = x^2, the estimates for f = x^2 + 100 have...",
        choices={"a": "the same mean and the same spread",
                 "b": "the same mean and a much larger spread",
                 "c": "a mean shifted by about 100 and the same spread",
                 "d": "a shifted mean and a larger spread"},
        answer="b",
        explanation="The score has mean zero, E[(x - mu) / sigma^2] = 0, so the constant adds nothing on average: "
                    "the gradient of E[f] does not depend on a constant in f. But each sample now carries "
                    "100 (x - mu) / sigma^2, a large term of random sign, and the batch average of such terms "
                    "is very noisy. Subtracting a constant before weighting the score (a baseline, chapter 03) "
                    "is the cure.",
    ),
    Prediction(
        id="batch_size_spread",
        chapter="02 REINFORCE",
        title="four times the batch",
        question="The policy-gradient estimate averages M independent samples. Going from M = 8 to M = 32 "
                 "samples per batch, the standard deviation of each gradient component is multiplied by about...",
        choices={"a": "1/4", "b": "1/2", "c": "1 (unchanged)", "d": "2"},
        answer="b",
        explanation="The estimate is a mean of M independent terms, so its variance is Var(term) / M and its "
                    "standard deviation shrinks like 1/sqrt(M): four times the data halves the noise. This "
                    "square-root law is why a larger batch buys less than it costs, and why chapters 03 to 05 "
                    "shrink the variance of each term instead.",
    ),
    Prediction(
        id="baseline_mean_and_spread",
        chapter="03 Reward-to-go and baselines",
        title="what a constant baseline changes",
        question="A two-armed bandit plays arm 1 with probability p = 0.3; arm 0 pays 10 and arm 1 pays 11, "
                 "each plus noise of standard deviation 1. You weight the score by (R - b) with a constant b "
                 "equal to the average reward (10.3), instead of by R. Over many samples, the gradient "
                 "estimate's mean and variance...",
        choices={"a": "mean unchanged, variance smaller",
                 "b": "mean moves towards zero, variance smaller",
                 "c": "both unchanged",
                 "d": "mean unchanged, variance larger"},
        answer="a",
        explanation="E[b grad log pi(a)] = b sum_a grad pi(a) = b grad 1 = 0, so any constant b leaves the mean "
                    "alone. The variance is E[g^2 (R - b)^2] - (mean)^2, a quadratic in b. Here the rewards share "
                    "a large common part (10), and b = 10.3 removes it from every weight: the variance falls "
                    "about a hundredfold. That is this bandit, not a rule: where the common part is small, the "
                    "average can overshoot the best b and raise the variance (lesson 03's laboratory: 0.28 with "
                    "the average return subtracted from the reward-to-go, 0.23 without). The exercise derives "
                    "the b that minimises the variance.",
    ),
    Prediction(
        id="forgotten_done_mask",
        chapter="04 Actor-critic",
        title="a critic that ignores episode ends",
        question="Episodes of 3 steps, reward 1 per step, gamma = 0.9, repeated forever. A critic is trained "
                 "by TD(0) with the done flag ignored, so the last step bootstraps from the first state of "
                 "the next episode. The value it learns for the LAST state of an episode is...",
        choices={"a": "1, the right value", "b": "about 2.71", "c": "about 10", "d": "it diverges"},
        answer="c",
        explanation="Without the mask, the last state's target is 1 + 0.9 V(first state), so the chain of "
                    "targets never ends: every state is worth 1 + 0.9 + 0.81 + ... = 1 / (1 - 0.9) = 10, as if "
                    "the pole never fell. The critic then cannot tell that falling is bad, and the advantages "
                    "lose the signal that matters most. With (1 - d_t) the values are 2.71, 1.9 and 1.",
    ),
    Prediction(
        id="lambda_bias_variance",
        chapter="05 Generalized advantage estimation",
        title="sliding lambda from 0 to 1",
        question="GAE on a 7-state walk with two actions (step left, step right), noisy rewards and a critic "
                 "whose error e(s) grows towards the right. As lambda goes from 0 to 1, how do the bias of the "
                 "gap A(s_0, right) - A(s_0, left) between the first step's two estimates (the gap is what "
                 "tilts the policy gradient) and the variance of one estimate change?",
        choices={"a": "bias falls, variance rises",
                 "b": "bias rises, variance falls",
                 "c": "both fall",
                 "d": "both rise"},
        answer="a",
        explanation="lambda = 0 trusts the critic after one step: one reward of noise, but the critic's error at "
                    "s_1 enters as bias gamma e(s_1), and s_1 depends on the action, so the gap is off by "
                    "gamma (e(right) - e(left)) = 0.95 x 0.5 = 0.475. lambda = 1 sums every reward to the end: "
                    "the critic's errors telescope away except -e(s_0), the same for both actions, so the gap "
                    "is unbiased, but every reward's noise adds up. The weights (gamma lambda)^l slide between "
                    "the two.",
    ),
    Prediction(
        id="kl_step_doubles",
        chapter="06 Trust regions and the natural gradient",
        title="double the step, and the KL?",
        question="Move a softmax policy's logits a small step h along a fixed direction. When h doubles, "
                 "KL(p_old || p_new) is multiplied by about...",
        choices={"a": "2", "b": "4", "c": "sqrt(2)", "d": "8"},
        answer="b",
        explanation="At h = 0 the KL and its gradient are zero (the KL is smallest when the two policies "
                    "agree), so its Taylor series starts with the quadratic term: KL ~ h^2 d^T F d / 2, "
                    "with F the Fisher matrix. Doubling the step quadruples the KL; that is why a trust "
                    "region of size delta allows steps of length proportional to sqrt(delta).",
    ),
    Prediction(
        id="cg_distinct_eigenvalues",
        chapter="07 TRPO",
        title="how many CG iterations?",
        question="A 60 x 60 symmetric positive definite matrix has only 3 distinct eigenvalues (each repeated "
                 "20 times). Starting from x = 0, conjugate gradient solves A x = b (to float64 precision) in "
                 "about how many iterations?",
        choices={"a": "3", "b": "20", "c": "60", "d": "it never converges exactly"},
        answer="a",
        explanation="After k iterations CG's error is the best polynomial of degree k (with p(0) = 1) applied to "
                    "the initial error. A polynomial with a root at each distinct eigenvalue kills every "
                    "eigen-component, so k = 3 suffice however large the matrix. TRPO's Fisher matrix has a "
                    "few dominant directions, which is why 10 iterations are enough there.",
    ),
    Prediction(
        id="first_minibatch_clip",
        chapter="08 PPO",
        title="the clip at the first minibatch",
        question="At the first minibatch of a PPO update the policy has not moved yet, so every ratio is "
                 "exactly 1. Compared with the gradient of the plain surrogate -mean(ratio * A), the gradient "
                 "of the clipped loss is...",
        choices={"a": "the same", "b": "zero", "c": "clipped to +-clip_eps", "d": "half of it"},
        answer="a",
        explanation="With ratio = 1 inside [1 - eps, 1 + eps], both terms of the min are equal and the clipped "
                    "term's gradient is the unclipped one: PPO's first step is a plain policy-gradient step. "
                    "The clip acts from the next minibatch on, once a ratio has left the band in the direction "
                    "its advantage pushes it: the first step already moves the ratios, so later minibatches of "
                    "the same first epoch can be clipped.",
    ),
    Prediction(
        id="diagnose_run_a",
        chapter="08 PPO",
        title="diagnostics lab: what broke run A?",
        question="Run A is the zoo's PPO on CartPole with exactly one of three things broken (each of runs A, B and "
                 "C has a different one). Read its five panels against the healthy band: which is broken in run A?",
        choices=WHAT_BROKE,
        answer="c",
        explanation="The return stays far below the healthy band (early on even below a random policy's, about 22: "
                    "the policy learns to fall sooner), while the size of the updates (approximate KL, clip "
                    "fraction) looks healthy: the optimiser does its job on a wrong signal. Without the done mask a "
                    "fall no longer cuts the return: the chain of TD residuals runs on through the reset step into "
                    "the next episode, so a fall costs about one reward instead of the ~50 a healthy critic "
                    "learns, and what it is worth is left to the critic's guesses. The mean value shows it: about 39 over "
                    "the first 20,000 steps, while a 23-step episode is worth at most (1 - 0.98^23) / 0.02, about 18 "
                    "(the healthy critic's 32 is right for its 150-step episodes). The explained variance is "
                    "about 0 or negative over the first 10,000 steps, the critic chasing targets that move as it "
                    "learns; once it fits them (from about 16,000 steps) every diagnostic looks healthy and only "
                    "the return tells. Updates of a healthy size with a return that does not rise: check how the "
                    "advantages are computed.",
    ),
    Prediction(
        id="diagnose_run_c",
        chapter="08 PPO",
        title="diagnostics lab: what broke run C?",
        question="Run C has one of the same three things broken (each of runs A, B and C a different one). Which?",
        choices=WHAT_BROKE,
        answer="a",
        explanation="Every update moves the policy about twenty times further than a healthy one (approximate KL "
                    "around 0.14 instead of 0.007) and clips about twice as many samples (0.24 against 0.13): the "
                    "steps are too large. The median entropy collapses within 10,000 steps (0.16 against 0.52), "
                    "the policy turning nearly deterministic before it is good. One of the five seeds never "
                    "recovers: from about 18,000 steps on it balances for 9 steps, with entropy 0 and nothing left to clip, "
                    "and its critic explains 99.8% of the variance, because such short episodes are easy to "
                    "predict: a high explained variance does not mean a healthy run. A large KL with a high clip "
                    "fraction is the classic sign of a learning rate (or a number of epochs) too large.",
    ),
    Prediction(
        id="diagnose_run_b",
        chapter="08 PPO",
        title="diagnostics lab: what broke run B?",
        question="Run B has one of the same three things broken (each of runs A, B and C a different one). Which?",
        choices=WHAT_BROKE,
        answer="b",
        explanation="It differs only a little from the healthy band: slightly smaller updates, an entropy that falls "
                    "a little faster, a critic that explains a little more; nothing points at a cause, so you name "
                    "it by elimination. Unnormalised advantages mostly change the scale of the policy's gradient, "
                    "which Adam's per-parameter step size largely cancels; while the critic lags they are also "
                    "mostly positive, reinforcing every sampled action, hence the faster-falling entropy. On the "
                    "return, the lesson's ablation could not tell it from the zoo settings with 5 seeds. Diagnostics "
                    "show what an update does; a mistake that changes little shows little.",
    ),
    Prediction(
        id="same_reward_group",
        chapter="09 GRPO",
        title="a group where every answer scores the same",
        question="All 8 answers sampled for one prompt get the same reward (all right, or all wrong). Their "
                 "group-relative advantages are...",
        choices={"a": "all 0: that prompt teaches nothing this step",
                 "b": "all +1", "c": "not a number (0 / 0)", "d": "the reward itself"},
        answer="a",
        explanation="Each advantage is (r - mean) / (std + eps_num): r - mean is 0 for every answer and eps_num keeps "
                    "the division finite, so the prompt contributes no policy gradient (only the KL penalty "
                    "still acts on its tokens). Prompts that are "
                    "always solved, or never, carry no signal; GRPO learns from groups whose answers differ.",
    ),
    Prediction(
        id="longer_wrong_answers",
        chapter="10 RL for language models",
        title="which aggregation lets wrong answers grow?",
        question="GRPO fine-tunes the adding model from the same start, 5 seeds for each of three aggregations of "
                 "the per-token loss, nothing else changed. The checker ignores fillers '~' written before the end "
                 "token, so a filler changes an answer's length and nothing else. After 100 updates, which "
                 "aggregation leaves the WRONG answers with the most fillers, as far as the 5 seeds can tell?",
        choices={"a": "the per-answer mean (GRPO): each answer's token terms averaged, then the answers",
                 "b": "the per-token mean over the batch (DAPO)",
                 "c": "the constant normaliser (Dr. GRPO)",
                 "d": "none that 5 seeds can tell apart at this scale"},
        answer="d",
        explanation="The per-answer mean does push towards longer wrong answers: once an answer is wrong, every way "
                    "of finishing it shares one negative advantage, and dividing by the answer's length makes the "
                    "longer finishes lose less per token. The per-token mean and the constant have no such push. "
                    "But in 100 updates of this small model the push is weaker than the seed-to-seed spread: fillers "
                    "rise in some seeds and fall in others, in right and wrong answers alike, under all three. The "
                    "per-answer mean ends with more fillers per wrong answer than the per-token mean in 4 of the 5 "
                    "seeds, yet the 95% bootstrap interval of the difference of medians contains 0. Papers that "
                    "report the drift measure long runs of large models, where wrong answers ramble for hundreds of "
                    "tokens.",
    ),
]
