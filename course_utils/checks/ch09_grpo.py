"""Chapter 09, GRPO: advantages relative to a group of answers, the GRPO loss with its KL to a reference, and
GRPO's whole update written by the learner (the loop item grpo_update, graded by lock-step replay)."""
from __future__ import annotations

import math

import torch

from course_utils import answers
from course_utils.checks._common import fixed, gen
from course_utils.grading.spec import Case, Exercise, Mistake, OutcomeError
from course_utils.rl.sort_task import SequencePolicy, SortTask

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


# ---------------------------------------------------------------- grpo_update (loop)
# The learner writes GRPO's update. Cases hand in a SequencePolicy of a small SortTask (built under a
# fixed seed, with logits of order 1), a different frozen reference, the optimiser, prompts repeated G
# times, answers sampled with a seeded generator, their rewards, and the minibatches of every epoch;
# the record is the returned loss, then every policy parameter after the update.
def _gu_case(B, G, epochs, minibatch, seed, optimizer="sgd", stale_grads=False, clip_eps=0.2, beta=0.1,
             rewards=None):
    def make():
        task = SortTask(prompt_len=3, vocab=4)
        g = gen(seed)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            policy = SequencePolicy(task, hidden=(16,))
            reference = SequencePolicy(task, hidden=(16,))
            with torch.no_grad():  # logits of order 1 (a fresh head gives nearly uniform ones)
                policy.net[-1].weight.mul_(100.0)
                reference.net[-1].weight.mul_(100.0)
            reference.requires_grad_(False)
            prompts = task.prompts(B, g).repeat_interleave(G, dim=0)  # (B G, L): rows of one prompt together
            answers_ = policy.generate(prompts, g)
            if stale_grads:  # gradients left by earlier code
                policy.log_prob(prompts, answers_).mean().backward()
        r = task.reward(prompts, answers_) if rewards is None else torch.tensor(rewards, dtype=torch.float32)
        n = B * G
        minibatches = [list(torch.randperm(n, generator=g).split(minibatch)) for _ in range(epochs)]
        opt = (torch.optim.SGD(policy.parameters(), lr=1.0) if optimizer == "sgd"
               else torch.optim.Adam(policy.parameters(), lr=1e-2))
        return {"policy": policy, "reference": reference, "optimizer": opt, "prompts": prompts, "answers": answers_,
                "rewards": r, "group_size": G, "minibatches": minibatches, "clip_eps": clip_eps, "beta": beta}
    return make


def _gu_cases():
    return [
        Case("2 prompts x 4 answers, one full-batch step",
             _gu_case(2, 4, 1, 8, 901, rewards=[1.0, 0.0, 0.0, 1.0, 0.0, 1 / 3, 2 / 3, 1.0]),
             shown="prompts of 3 digits below 4; 2 prompts x 4 answers with rewards [1, 0, 0, 1] and [0, 1/3, 2/3, 1]; "
                   "one epoch of one minibatch (all 8 answers); clip_eps = 0.2, beta = 0.1; SGD with lr = 1",
             why="group 1's advantages are [0.866, -0.866, -0.866, 0.866] on each of an answer's 3 tokens; the "
                 "ratio is 1 at the first step, so the loss is minus the mean advantage plus beta times the KL"),
        Case("3 prompts x 4 answers, 2 epochs of 3 minibatches", _gu_case(3, 4, 2, 4, 902),
             shown="3 prompts x 4 answers scored by the checker; 2 epochs, each 3 shuffled minibatches of 4 answers; "
                   "clip_eps = 0.2, beta = 0.1; SGD with lr = 1",
             why="after the first step the ratio pi / pi_old moves away from 1, measured against the log-probs "
                 "stored before the first step"),
        Case("gradients left in .grad by earlier code", _gu_case(2, 6, 2, 6, 903, stale_grads=True),
             shown="2 prompts x 6 answers, 2 epochs of 2 minibatches; the policy's .grad holds stale gradients; "
                   "SGD with lr = 1"),
        Case("a group whose answers all got the same reward", _gu_case(
            3, 3, 1, 3, 904, rewards=[0.0, 1.0, 1.0, 2 / 3, 2 / 3, 2 / 3, 1.0, 0.0, 1 / 3]),
             shown="3 prompts x 3 answers with rewards [0, 1, 1], [2/3, 2/3, 2/3], [1, 0, 1/3]; one epoch of 3 "
                   "minibatches; SGD with lr = 1",
             why="the second group has nothing to compare: its advantages are 0, and its answers feel only the KL"),
        Case("the trainer's setting: Adam, 4 prompts x 8 answers, 2 full-batch epochs", _gu_case(
            4, 8, 2, 32, 905, optimizer="adam", beta=0.04),
             shown="4 prompts x 8 answers, 2 epochs of one minibatch (all 32 answers), clip_eps = 0.2, beta = 0.04; "
                   "Adam with lr = 0.01"),
    ]


def _gu_record(args, returned):
    """The returned loss, then every policy parameter after the update."""
    if returned is None:
        raise OutcomeError("your loop returned None: return the last minibatch's loss as a float (loss.item()).")
    try:  # a float, a 0-d tensor or a NumPy number
        loss = float(returned.detach() if isinstance(returned, torch.Tensor) else returned)
    except (TypeError, ValueError, RuntimeError):
        raise OutcomeError(f"return the last minibatch's loss as a float (loss.item()), not "
                           f"{type(returned).__name__}.") from None
    record = {"returned loss": torch.tensor(loss, dtype=torch.float64)}
    for name, p in args["policy"].named_parameters():
        record[f"{name} after the update"] = p.detach()
    return record


def _gu_loop(policy, reference, optimizer, prompts, answers_, rewards, group_size, minibatches, clip_eps, beta,
             advantages_of=None, old_of="stored", ref_of="reference", zero="each", last_token_only=False):
    """GRPO's update with one thing changed (the catalogued wrong loops below)."""
    n, L = answers_.shape
    per_answer = (advantages_of(rewards, group_size) if advantages_of
                  else answers.group_relative_advantages(rewards.reshape(-1, group_size)).reshape(n))
    advantages = per_answer.reshape(n, 1).expand(n, L).clone()
    if last_token_only:
        advantages[:, :-1] = 0.0
    with torch.no_grad():
        logp_old = policy.log_prob(prompts, answers_)
        logp_ref = reference.log_prob(prompts, answers_) if ref_of == "reference" else logp_old
    for epoch in minibatches:
        if zero == "epoch":
            optimizer.zero_grad()
        for rows in epoch:
            logp = policy.log_prob(prompts[rows], answers_[rows])
            old = logp_old[rows] if old_of == "stored" else logp.detach()
            loss = answers.grpo_loss(logp.reshape(-1), old.reshape(-1), logp_ref[rows].reshape(-1),
                                     advantages[rows].reshape(-1), clip_eps, beta)
            if zero == "each":
                optimizer.zero_grad()
            loss.backward()
            if zero != "epoch":
                optimizer.step()
        if zero == "epoch":
            optimizer.step()
    return loss.item()


def _gu_no_zero_grad(*args):
    return _gu_loop(*args, zero="never")


def _gu_step_per_epoch(*args):
    return _gu_loop(*args, zero="epoch")


def _gu_recomputed_old(*args):
    return _gu_loop(*args, old_of="current")


def _gu_whole_batch(*args):
    return _gu_loop(*args, advantages_of=lambda r, G: (r - r.mean()) / (r.std() + 1e-8))


def _gu_groups_across_prompts(*args):
    return _gu_loop(*args, advantages_of=lambda r, G: answers.group_relative_advantages(r.reshape(G, -1)).reshape(-1))


def _gu_kl_to_old(*args):
    return _gu_loop(*args, ref_of="old")


def _gu_last_token(*args):
    return _gu_loop(*args, last_token_only=True)


EXERCISES.append(Exercise(
    id="grpo_update",
    kind="loop",
    chapter=CHAPTER,
    title="GRPO's update over groups of answers",
    signature="grpo_update(policy, reference, optimizer, prompts (n, L), answers (n, L), rewards (n,), group_size "
              "int, minibatches list (epochs) of lists of (m,) index tensors, clip_eps float, beta float) -> float",
    answer=answers.grpo_update,
    cases=_gu_cases,
    updates=("policy", "optimizer"),
    outcome=_gu_record,
    record_axes={"net.0.weight after the update": ("unit", "feature"), "net.0.bias after the update": ("unit",),
                 "net.2.weight after the update": ("token", "unit"), "net.2.bias after the update": ("token",)},
    timeout_s=10.0,
    mistakes=[
        Mistake("zero_grad forgotten", _gu_no_zero_grad,
                "gradients accumulated from step to step: each minibatch's step also carried the gradients of "
                "the minibatches before it (and whatever .grad held on entry). Clear them before every backward."),
        Mistake("one step per epoch", _gu_step_per_epoch,
                "you took one optimiser step per epoch, with the minibatches' gradients summed; each minibatch "
                "gets its own step (clear, backward, step), so that later minibatches see the moved policy."),
        Mistake("log-probs recomputed", _gu_recomputed_old,
                "the ratio was taken against log-probs recomputed from the current policy at every step, so it "
                "was always 1 and the clip never acted. log pi_old is stored once, before the first step, under "
                "the policy that sampled the answers."),
        Mistake("whole-batch advantages", _gu_whole_batch,
                "the rewards were standardised over the whole batch, not within each prompt's group of G answers: "
                "an answer must be compared only with the other answers to the same prompt."),
        Mistake("groups across prompts", _gu_groups_across_prompts,
                "the groups were cut the wrong way: the G answers to one prompt are G CONSECUTIVE rows (the prompts "
                "were repeated with repeat_interleave), so the (B, G) table is the rewards reshaped to "
                "(n / G, G), one prompt per row."),
        Mistake("KL to the old policy", _gu_kl_to_old,
                "the KL penalty pulled towards the policy that sampled the answers, not towards the frozen "
                "reference: use the reference's log-probabilities (stored once, without gradient)."),
        Mistake("advantage on the last token only", _gu_last_token,
                "only the last token of each answer got its advantage. The checker scores the whole answer, and "
                "GRPO gives that answer's advantage to every one of its tokens."),
    ],
    hints=[
        "What must be computed once, before the first optimiser step, and what must be recomputed at every "
        "minibatch? Which rows of the batch form one group?",
        "First the advantages: reshape the rewards to one row per prompt, apply your group_relative_advantages, "
        "and give each answer's value to all its tokens. Then store, without gradient, the log-probs of every "
        "token under the policy and under the reference. Then loop over epochs and their minibatches: fresh "
        "log-probs of the minibatch's answers, your grpo_loss against the stored ones, and one clear-backward-step "
        "per minibatch.",
        "hat A_(i,j) on all L tokens of answer (i, j); log pi_old, log pi_ref fixed before the loop; per "
        "minibatch: L = grpo_loss(log pi, log pi_old, log pi_ref, A, clip_eps, beta) over its m L tokens, then "
        "zero_grad, backward, step; return the last L as a float.",
    ],
    success="That is GRPO's update: PPO's epochs over minibatches, with the critic replaced by the group and a KL "
            "penalty inside the loss. The trainer train_grpo runs this same loop.",
))
