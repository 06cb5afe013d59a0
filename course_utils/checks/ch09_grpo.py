"""Chapter 09, GRPO: advantages relative to a group of answers, and the GRPO loss with its KL to a reference."""
from __future__ import annotations

import math

import torch

from course_utils import answers
from course_utils.checks._common import fixed, gen
from course_utils.grading.spec import Case, Exercise, Mistake

CHAPTER = "09 GRPO"
EXERCISES: list[Exercise] = []  # in course order; course_utils.catalogue collects them


# ---------------------------------------------------------------- group_relative_advantages
def _gra_cases():
    g = gen(1901)
    return [
        Case("two prompts, four answers each (worked by hand)",
             fixed(rewards=torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 2.0, 4.0, 6.0]])),
             why="group 1: mean 0.5, std sqrt(1/3) = 0.577, so +-0.866; group 2: mean 3, std 2.582, so "
                 "[-1.162, -0.387, 0.387, 1.162]"),
        Case("a group where every answer got the same reward",
             fixed(rewards=torch.tensor([[1.0, 1.0, 1.0], [0.0, 1.0, 2.0]])),
             why="the first group's std is 0: eps keeps it finite and its advantages are all 0 (nothing to learn "
                 "from); the second group gives [-1, 0, 1]"),
        Case("16 prompts x 8 answers, rewards in [0, 1]", fixed(rewards=torch.rand(16, 8, generator=g))),
        Case("3 prompts x 5 answers on different scales",
             fixed(rewards=torch.randn(3, 5, generator=g) * torch.tensor([[1.0], [10.0], [100.0]]))),
        Case("eps passed explicitly: eps = 0.5", fixed(rewards=torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]]),
                                                        eps=0.5),
             why="std 1, so the first group gives [-1, 0, 1] / 1.5 and the second zeros: the eps argument must be "
                 "used, whatever its value"),
    ]


EXERCISES.append(Exercise(
    id="group_relative_advantages",
    kind="debug",
    bug="whole batch",  # the handed-out code makes this mistake
    chapter=CHAPTER,
    title="group-relative advantages",
    signature="group_relative_advantages(rewards (B, G), eps float = 1e-8) -> (B, G)",
    answer=answers.group_relative_advantages,
    cases=_gra_cases,
    mistakes=[
        Mistake("whole batch", lambda rewards, eps=1e-8: (rewards - rewards.mean()) / (rewards.std() + eps),
                "you standardised over the whole batch. Each row is one prompt's group: an answer is compared only "
                "with the other answers to the SAME prompt, so take mean and std along dim=1. Over the batch, a "
                "prompt that every answer solves gets positive advantages and one that none solves negative ones, "
                "although neither group tells a better answer from a worse one."),
        Mistake("wrong axis", lambda rewards, eps=1e-8: (rewards - rewards.mean(0, keepdim=True))
                / (rewards.std(0, keepdim=True) + eps),
                "the statistics were taken down the columns (dim=0), across prompts. A group is a ROW: the G answers "
                "sampled for one prompt."),
        Mistake("population std", lambda rewards, eps=1e-8: (rewards - rewards.mean(1, keepdim=True))
                / (rewards.std(1, keepdim=True, unbiased=False) + eps),
                "you used the population standard deviation (divide by G); the contract asks for torch's default, "
                "Bessel-corrected std (divide by G - 1). A convention more than a bug: it rescales every advantage "
                "by sqrt(G / (G - 1)), 1.07 for G = 8, which the learning rate absorbs."),
        Mistake("eps hard-coded", lambda rewards, eps=1e-8: (rewards - rewards.mean(1, keepdim=True))
                / (rewards.std(1, keepdim=True) + 1e-8),
                "eps = 0.5 was passed, and your result is what a constant 1e-8 gives: use the eps argument (the "
                "caller sets it), not a number of your own."),
        Mistake("no centring", lambda rewards, eps=1e-8: rewards / (rewards.std(1, keepdim=True) + eps),
                "the group mean was not subtracted. The mean is the baseline: an answer is good when it beats the "
                "other answers to its prompt, so about half of each group should get a negative advantage."),
        Mistake("no eps", lambda rewards, eps=1e-8: (rewards - rewards.mean(1, keepdim=True))
                / rewards.std(1, keepdim=True),
                "a group whose answers all got the same reward has std 0, and 0 / 0 gives NaN: add eps to the std."),
    ],
    hints=[
        "Without a critic, what can serve as the baseline of one answer? Which axis of the (B, G) table holds the "
        "answers to one prompt?",
        "Each row is one prompt's group. Standardise within the row: subtract the row's mean and divide by the "
        "row's Bessel-corrected standard deviation plus eps. Keep the reduced axis, so that the row statistics "
        "broadcast back over the G answers.",
        "hat A_ij = (r_ij - mean_j r_ij) / (std_j r_ij + eps), the statistics taken along axis 1 with shape (B, "
        "1); eps is the argument, not a constant of your own.",
    ],
    success="Every prompt now contributes advantages of mean 0 and spread 1, whether it is easy or hard: the group "
            "is the baseline that a value network would otherwise have to learn.",
))


# ---------------------------------------------------------------- grpo_loss
def _gl_cases():
    g = gen(1902)
    half = math.log(0.5)
    old = -torch.rand(60, generator=g) * 2 - 0.1
    return [
        Case("two tokens, ratio 1 (worked by hand)",
             fixed(logp=torch.tensor([half, half]), logp_old=torch.tensor([half, half]),
                   logp_ref=torch.tensor([math.log(0.25), half]), advantages=torch.tensor([1.0, -1.0]),
                   clip_eps=0.2, beta=0.1),
             shown="pi = [0.5, 0.5], pi_old = pi, pi_ref = [0.25, 0.5], advantages = [1, -1], clip_eps = 0.2, beta = 0.1",
             why="the surrogate is mean(A) = 0; the KL terms are 0.5 - log 0.5 - 1 = 0.1931 and 0, mean 0.0966; "
                 "the loss is 0.1 * 0.0966 = 0.00966"),
        Case("60 tokens, the policy moved since sampling",
             fixed(logp=old + torch.randn(60, generator=g) * 0.5, logp_old=old,
                   logp_ref=old + torch.randn(60, generator=g) * 0.3, advantages=torch.randn(60, generator=g),
                   clip_eps=0.2, beta=0.04)),
        Case("no KL penalty (beta = 0): PPO's clipped loss",
             fixed(logp=old[:10] + 0.4, logp_old=old[:10], logp_ref=old[:10] - 1.0,
                   advantages=torch.linspace(-1, 1, 10), clip_eps=0.2, beta=0.0)),
    ]


def _surrogate(logp, logp_old, advantages, clip_eps):
    return answers.ppo_clip_loss(logp, logp_old, advantages, clip_eps)


EXERCISES.append(Exercise(
    id="grpo_loss",
    chapter=CHAPTER,
    title="the GRPO loss: clipped surrogate plus a KL to the reference",
    signature="grpo_loss(logp (M,), logp_old (M,), logp_ref (M,), advantages (M,), clip_eps float, beta float) "
              "-> () tensor",
    answer=answers.grpo_loss,
    cases=_gl_cases,
    grad_wrt=("logp", "logp_old", "logp_ref", "advantages"),
    mistakes=[
        Mistake("KL with the wrong sign", lambda logp, logp_old, logp_ref, advantages, clip_eps, beta:
                _surrogate(logp, logp_old, advantages, clip_eps) - beta * (
                    torch.exp(logp_ref.detach() - logp) - (logp_ref.detach() - logp) - 1).mean(),
                "the KL term is subtracted, which REWARDS drifting away from the reference. It is a penalty: add "
                "beta times it to the loss."),
        Mistake("ratio upside down in the KL", lambda logp, logp_old, logp_ref, advantages, clip_eps, beta:
                _surrogate(logp, logp_old, advantages, clip_eps) + beta * (
                    torch.exp(logp - logp_ref.detach()) - (logp - logp_ref.detach()) - 1).mean(),
                "the KL estimator uses pi_ref / pi = exp(logp_ref - logp): the tokens were sampled from pi, and "
                "that ratio minus its log minus 1 averages to KL(pi || pi_ref) under pi."),
        Mistake("log-ratio KL", lambda logp, logp_old, logp_ref, advantages, clip_eps, beta:
                _surrogate(logp, logp_old, advantages, clip_eps) + beta * (logp - logp_ref.detach()).mean(),
                "mean(logp - logp_ref) estimates the same KL but its terms can be negative; GRPO uses "
                "pi_ref/pi - log(pi_ref/pi) - 1, whose terms are never negative."),
        Mistake("no clipping", lambda logp, logp_old, logp_ref, advantages, clip_eps, beta:
                -(torch.exp(logp - logp_old.detach()) * advantages.detach()).mean() + beta * (
                    torch.exp(logp_ref.detach() - logp) - (logp_ref.detach() - logp) - 1).mean(),
                "the surrogate is not clipped: take min(r A, clip(r, 1 - eps, 1 + eps) A), as in chapter 08 "
                "(you may call your ppo_clip_loss)."),
        Mistake("reference not detached", lambda logp, logp_old, logp_ref, advantages, clip_eps, beta:
                _surrogate(logp, logp_old, advantages, clip_eps) + beta * (
                    torch.exp(logp_ref - logp) - (logp_ref - logp) - 1).mean(),
                "gradient flows into logp_ref. The reference policy is frozen: detach its log-probabilities."),
    ],
    hints=[
        "GRPO's loss has two parts. Which one does chapter 08 already give you, and which divergence does the "
        "second part penalise?",
        "The first part is PPO's clipped surrogate loss on the per-token ratios. The second is beta times the "
        "mean over tokens of an estimate of KL(pi || pi_ref) built from the log-ratio x = log pi_ref - log pi: "
        "exp(x) - x - 1 is never negative, and zero when pi = pi_ref. Only logp may get a gradient.",
        "L = (PPO's clipped loss of logp, logp_old, A) + beta (1/M) sum_i (rho_i - log rho_i - 1), with log rho_i "
        "= logp_ref_i - logp_i and logp_ref detached.",
    ],
    success="That is the whole GRPO objective: PPO's clipped surrogate with group-relative advantages, held near a "
            "reference policy by a KL penalty inside the loss rather than in the reward.",
))
