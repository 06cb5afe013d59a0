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
        id="score_constant_shift",  # (the id of an earlier question, kept so that progress files still match)
        chapter="01 The log-derivative trick",
        title="a function with a jump",
        question="f(x) = 1 when x > 0, else 0: a step, flat everywhere except at the jump. At mu = 0, sigma = 1 the "
                 "exact d/dmu E[f(x)] is the slope of P(x > 0), about 0.40. On the same 100,000 samples you compute "
                 "two estimates: your score-function estimator, and autograd through f(mu + sigma xi), the pathwise "
                 "gradient of the lesson's section 7 (f written with torch operations that autograd differentiates "
                 "wherever the step is flat). They come out about...",
        choices={"a": "both 0.40: both estimators are unbiased",
                 "b": "score function 0.40, pathwise 0",
                 "c": "score function 0, pathwise 0.40",
                 "d": "both 0: f is flat almost everywhere"},
        answer="b",
        explanation="The pathwise gradient averages f'(mu + sigma xi), and f' is 0 at every sample (no sample lands on "
                    "the jump exactly): it is 0 on every batch, however many samples, while the true derivative is "
                    "the density at the jump, 1 / sqrt(2 pi) = 0.399. Moving mu changes E[f] only through how much "
                    "probability crosses the jump, which no derivative of f sees. The score-function estimator never "
                    "differentiates f: it weights the values f(x) by (x - mu) / sigma^2, so it sees the jump through "
                    "which samples score 1. Its unbiasedness needs only that the density is differentiable in mu; "
                    "the pathwise estimator also needs f to be differentiable, and a reward that jumps (a goal "
                    "reached or not, a pole that falls) is not.",
    ),
    Prediction(
        id="batch_size_spread",  # (the id of an earlier question, kept so that progress files still match)
        chapter="02 REINFORCE",
        title="a constant added to every reward",
        question="A three-armed bandit pays 1, 2 or 3. The policy gradient is estimated from M = 32 samples "
                 "through pg_loss. Now 100 is added to every payout (101, 102, 103): the expected gradient does not "
                 "change. The standard deviation of each gradient component is multiplied by about...",
        choices={"a": "1: a constant shift changes nothing",
                 "b": "2",
                 "c": "50",
                 "d": "10,000"},
        answer="c",
        explanation="Each sample's term is its score times its weight, grad log pi(a) (r_a + 100). The score has mean "
                    "zero, so the constant adds nothing on average, but it multiplies a random vector of size about "
                    "1 by 100: the noise grows roughly in proportion to the weights' size, here about 40 to 60 times "
                    "per component (exactly 59, 53 and 38). By the square-root law, 2,500 times the batch would be "
                    "needed to undo it. Unbiased is not the same as usable: chapter 03 subtracts a baseline from the "
                    "weights for exactly this reason.",
    ),
    Prediction(
        id="baseline_mean_and_spread",  # (the id of an earlier question, kept so that progress files still match)
        chapter="03 Reward-to-go and baselines",
        title="the batch's own mean as the baseline",
        question="A two-armed bandit plays arm 1 with probability p = 0.3; arm 0 pays 10 and arm 1 pays 11, each "
                 "plus noise of standard deviation 1. The true gradient along its logit is p (1 - p) (11 - 10) = 0.21. "
                 "Samples come in batches of M = 4, and each sample's score is weighted by its reward minus the "
                 "mean reward of its own batch (itself included). Averaged over many batches, the estimate is "
                 "about...",
        choices={"a": "0.21: a baseline never moves the mean",
                 "b": "3/4 of 0.21",
                 "c": "0: the weights of a batch sum to zero",
                 "d": "4/3 of 0.21"},
        answer="b",
        explanation="The batch mean is (R_i + sum_{j != i} R_j) / M, so it contains 1/M of the sample's own reward, "
                    "which depends on its own action: it is not a baseline in the lesson's sense (a b that does not "
                    "look at a_i). The other rewards are independent of a_i and cost nothing in expectation, "
                    "E[g_i R_j] = E[g_i] E[R_j] = 0, but the own share does: E[g_i (R_i - mean)] = (1 - 1/M) "
                    "E[g_i R_i], here 3/4 of the gradient, 0.158. The weights of a batch do sum to zero, but "
                    "each is multiplied by a different score. Normalising advantages over a batch of thousands of "
                    "steps pays 1/M, nothing to see; a group of 4 or 8 answers (chapter 09's GRPO) pays a quarter "
                    "or an eighth, and the leave-one-out mean, (sum_{j != i} R_j) / (M - 1), pays nothing.",
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
        title="lambda halfway",
        question="GAE on a 7-state walk with two actions (step left, step right), discount gamma = 0.95, noisy rewards "
                 "and a critic whose error e(s) grows towards the right. What tilts the policy gradient is the gap "
                 "A(s_0, right) - A(s_0, left) between the first step's two estimates. With lambda = 0 the gap is off "
                 "by gamma (e(right) - e(left)), one step of the critic's error; with lambda = 1 it is unbiased. At "
                 "lambda = 0.5, halfway, how much of the bias of lambda = 0 is left?",
        choices={"a": "nearly all of it (over 90%)",
                 "b": "about half",
                 "c": "about a quarter",
                 "d": "none: any lambda > 0 reaches the end of the episode"},
        answer="a",
        explanation="The estimate is sum_l (gamma lambda)^l delta_{t+l}. The critic's errors telescope: -e(s_0), the "
                    "same for both actions, then each later state's error with weight gamma (1 - lambda) "
                    "(gamma lambda)^(l-1). Here the two branches keep their difference of states, so the gap's bias "
                    "is about gamma (e(right) - e(left)) times (1 - lambda) / (1 - gamma lambda): 0.475 at lambda = 0 "
                    "and still 0.95 of it at lambda = 0.5 (the walls of the walk take a little off: 0.443 exactly), "
                    "0.238 at lambda = 0.9, 0 only at lambda = 1. The bias goes only as fast as "
                    "(1 - lambda) / (1 - gamma lambda), so it lives in the last stretch of lambda below 1, while the "
                    "variance grows all the way (1.0 at lambda = 0, 1.9 at 0.5, 18.7 at 1): that is why the usual "
                    "lambda is 0.9 to 0.97, not 0.5.",
    ),
    Prediction(
        id="kl_step_doubles",
        chapter="06 Trust regions and the natural gradient",
        title="double a large step, and the KL?",
        question="Move a five-action softmax policy's logits (entries of order 1) a step h along a fixed direction "
                 "d (entries of order 1). For small h, doubling h multiplies KL(p_old || p_new) by 4. Far out, where "
                 "the new policy is nearly deterministic (h from 8 to 16, then 16 to 32), doubling h multiplies the "
                 "KL by about...",
        choices={"a": "4, as for small steps", "b": "2", "c": "sqrt(2)",
                 "d": "far more than 4: the new policy gives some old actions almost no probability, and their log "
                      "blows up"},
        answer="b",
        explanation="KL(p_old || p_new) = sum_a p_old(a) (log p_old(a) - log p_new(a)), and log p_new(a) = z_a + h d_a - "
                    "logsumexp(z + h d). For large h the logsumexp is z_max + h d_max plus a vanishing rest, so "
                    "log p_new(a) falls linearly in h, like h (d_a - d_max): the KL grows like h, and doubling a large "
                    "step doubles it (x2.25 from 8 to 16, x2.11 from 16 to 32 here). The log does blow up, but only "
                    "linearly in h. Near h = 0 the KL and its gradient vanish, so KL ~ h^2 d^T F d / 2: the factor 4 "
                    "belongs to small steps only. A trust region sized by the quadratic model is right only while "
                    "the step is small; for larger steps TRPO measures the actual KL in its line search.",
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
        id="same_reward_group",  # (the id of an earlier question, kept so that progress files still match)
        chapter="09 GRPO",
        title="one right answer among eight",
        question="Early in training most answers are wrong. One prompt gets G = 8 answers: one is right (reward "
                 "1), seven are wrong (reward 0). Its group-relative advantage (Bessel-corrected std, as in your "
                 "function) is about...",
        choices={"a": "0.875: its reward minus the group mean",
                 "b": "1: a standardised score",
                 "c": "2.5",
                 "d": "8"},
        answer="c",
        explanation="The group's mean is 1/8 and its Bessel-corrected standard deviation is sqrt(1/8) = 0.354, so "
                    "the right answer gets 0.875 / 0.354 = 2.47 and each wrong one -0.354 (the eight sum to 0). In "
                    "general a lone success among G gets (G - 1) / sqrt(G): the rarer it is, the harder it is pushed, "
                    "while a right answer in a half-right group gets about 0.94. Dividing by each group's std thus "
                    "weights prompts by how rarely they are solved (or failed), not only by how good an answer is, "
                    "which is the 'difficulty bias' that Dr. GRPO removes by not dividing. A group whose answers "
                    "all score the same is the limit: 0 / (0 + eps_num) = 0, no surrogate gradient at all.",
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
    Prediction(
        id="gold_score_peak",
        chapter="10 RL for language models",
        title="where does the gold score peak?",
        question="PPO maximises a reward model's score (the proxy) for 60 updates, the KL to the SFT model folded "
                 "into the per-token rewards. The reward model was fitted to 2,048 noisy preferences of a hidden "
                 "rater who likes right sums and dislikes fillers. The proxy score of fresh answers rises at every "
                 "measurement. Where is the hidden rater's gold score of fresh answers highest, as 5 seeds show?",
        choices={"a": "at the end: the gold score rises with the proxy all the way",
                 "b": "part-way, less than 1 nat from the SFT model; after that it falls while the proxy keeps "
                      "rising",
                 "c": "at the start: the gold score falls from the first update on",
                 "d": "nowhere in particular: it stays within the noise of the SFT model's"},
        answer="b",
        explanation="In every one of the 5 seeds the gold score rose first, from the SFT model's 0.35 to a peak of "
                    "0.48 to 0.63, reached 0.28 to 0.73 nats from the SFT model (after 10 to 35 updates), and then "
                    "fell, to between 0.15 and 0.53 after 60 updates, while the proxy went on rising. The rise is the "
                    "fillers going: the rater dislikes them, and that much the reward model learnt. The fall is the "
                    "sums going wrong: fitted to 2,048 noisy comparisons through one number per answer, the reward "
                    "model cannot check a sum (it orders only 0.56 to 0.59 of fresh pairs as the rater did), so "
                    "pushing its score further finds answers it overrates. Gao et al. (2022) measured the same rise "
                    "and fall with real reward models, against the square root of the KL.",
    ),
]
