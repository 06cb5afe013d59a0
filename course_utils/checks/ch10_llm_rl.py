"""Chapter 10, policy optimisation for language models: masks over answer tokens, sequence
log-probabilities, the per-token GRPO loss and its aggregation, KL-shaped per-token rewards."""
from __future__ import annotations

import math

import torch

from course_utils import answers
from course_utils.checks._common import fixed, gen
from course_utils.grading.spec import Case, Exercise, Mistake

CHAPTER = "10 RL for language models"
EXERCISES: list[Exercise] = []  # in course order; course_utils.catalogue collects them


def _random_sequences(g: torch.Generator, n: int, prompt_len: int, answer_len: int, vocab: int, end_id: int):
    """Token ids (n, prompt_len + answer_len) without end tokens in the prompt, each answer ending (or not) at random."""
    tokens = torch.randint(0, vocab, (n, prompt_len + answer_len), generator=g)
    tokens[tokens == end_id] = (end_id + 1) % vocab
    ends = torch.randint(0, answer_len + 2, (n,), generator=g)  # >= answer_len: no end token
    for i, e in enumerate(ends.tolist()):
        if e < answer_len:
            tokens[i, prompt_len + e] = end_id
    extra = torch.rand(n, prompt_len + answer_len, generator=g) < 0.2  # more ends after the first one
    extra[:, :prompt_len] = False
    tokens[extra] = end_id
    return tokens


def _mask_of(tokens: torch.Tensor, prompt_len: int, end_id: int) -> torch.Tensor:
    """The answer mask of a case, computed from the tokens by an explicit loop (not by the answer key)."""
    out = torch.zeros(tokens.shape)
    for i, row in enumerate(tokens.tolist()):
        for t in range(prompt_len, len(row)):
            out[i, t] = 1.0
            if row[t] == end_id:
                break
    return out


# ---------------------------------------------------------------- sequence_log_prob
def _slp_cases():
    g = gen(2001)
    tokens = _random_sequences(g, 6, 4, 5, 14, 13)
    third = math.log(1 / 3)
    return [
        Case("one sequence, three tokens of vocabulary (worked by hand)",
             fixed(logits=torch.tensor([[[0.0, math.log(2.0), 0.0], [0.0, 0.0, 0.0], [100.0, 0.0, 0.0],
                                         [0.0, 0.0, 0.0]]]),
                   tokens=torch.tensor([[2, 1, 0, 1]]), mask=torch.tensor([[0.0, 1.0, 1.0, 0.0]])),
             shown="tokens [2, 1, 0, 1], mask [0, 1, 1, 0]; the logits at position 0 give probabilities "
                   "[0.25, 0.5, 0.25], at position 1 [1/3, 1/3, 1/3], at position 2 almost [1, 0, 0]",
             why=f"token 1 (position 1) is predicted by position 0: log 0.5; token 0 (position 2) by position 1: "
                 f"log(1/3); the last token is masked out. Total {math.log(0.5) + third:.4f}"),
        Case("6 sequences: a prompt of 4 tokens, answers of different lengths",
             fixed(logits=torch.randn(6, 9, 14, generator=g) * 2, tokens=tokens, mask=_mask_of(tokens, 4, 13))),
        Case("large logits (numerical stability)",
             fixed(logits=torch.randn(3, 6, 5, generator=g) * 60, tokens=torch.randint(0, 5, (3, 6), generator=g),
                   mask=torch.tensor([[0.0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 0, 0], [0, 0, 1, 0, 0, 0]])),
             why="logits of several tens: exp overflows unless the log-softmax is computed stably"),
    ]


def _token_logp(logits, tokens):
    return torch.log_softmax(logits[:, :-1], -1).gather(-1, tokens[:, 1:, None]).squeeze(-1)


EXERCISES.append(Exercise(
    id="sequence_log_prob",
    chapter=CHAPTER,
    title="the log-probability of an answer",
    signature="sequence_log_prob(logits (N, T, V), tokens (N, T) int64, mask (N, T)) -> (N,)",
    answer=answers.sequence_log_prob,
    cases=_slp_cases,
    grad_wrt=("logits",),
    mistakes=[
        Mistake("no shift", lambda logits, tokens, mask:
                (torch.log_softmax(logits, -1).gather(-1, tokens[..., None]).squeeze(-1) * mask).sum(1),
                "you scored token t with the logits of position t. A causal model's output at position t is its "
                "guess for the NEXT token, t + 1: token t is scored by the logits of position t - 1."),
        Mistake("mask ignored", lambda logits, tokens, mask: _token_logp(logits, tokens).sum(1),
                "every token was counted, the prompt (and the padding) too. The policy did not write the prompt: "
                "only the answer's tokens, where the mask is 1, belong to log pi(answer | prompt)."),
        Mistake("raw logits", lambda logits, tokens, mask:
                (logits[:, :-1].gather(-1, tokens[:, 1:, None]).squeeze(-1) * mask[:, 1:]).sum(1),
                "you summed the chosen tokens' logits, not their log-probabilities: normalise each position with a "
                "log-softmax over the vocabulary first."),
        Mistake("mean over tokens", lambda logits, tokens, mask:
                (_token_logp(logits, tokens) * mask[:, 1:]).sum(1) / mask[:, 1:].sum(1).clamp(min=1),
                "you averaged over the answer's tokens. The probability of a sequence is the PRODUCT of its tokens' "
                "conditional probabilities, so its log is their sum."),
        Mistake("mask shifted", lambda logits, tokens, mask: (_token_logp(logits, tokens) * mask[:, :-1]).sum(1),
                "the mask is one position out of step with the tokens: it describes tokens, so after the shift it "
                "must drop its first column as the tokens do."),
    ],
    hints=[
        "The model's output at position t: which token is it a distribution over? And which tokens did the policy "
        "itself choose?",
        "Turn logits into log-probabilities over the vocabulary, pair the outputs of positions 0 .. T - 2 with the "
        "tokens at 1 .. T - 1, pick each token's entry, and add up only the entries the mask marks (the mask is "
        "aligned with the tokens).",
        "log pi(o | q) = sum_{t=1}^{T-1} m_t log softmax(z_{t-1})[x_t], with z the logits, x the tokens and m the mask.",
    ],
    success="This is the quantity every policy-gradient method for language models differentiates: the answer's "
            "log-probability, the prompt and the padding left out.",
))


# ---------------------------------------------------------------- answer_mask (debug)
def _am_cases():
    g = gen(2002)
    return [
        Case("three answers after a prompt of 3 tokens, end token 9 (worked by hand)",
             fixed(tokens=torch.tensor([[1, 2, 3, 4, 9, 5, 5], [1, 2, 3, 4, 4, 4, 4], [1, 2, 3, 9, 9, 1, 1]]),
                   prompt_len=3, end_id=9),
             why="row 1 ends at position 4: [0 0 0 1 1 0 0]; row 2 never ends: [0 0 0 1 1 1 1]; row 3 ends at "
                 "once: [0 0 0 1 0 0 0], the second 9 is after the end"),
        Case("20 sampled answers, prompt of 5 tokens",
             fixed(tokens=_random_sequences(g, 20, 5, 6, 14, 13), prompt_len=5, end_id=13)),
        Case("a prompt of 1 token", fixed(tokens=_random_sequences(g, 8, 1, 7, 6, 0), prompt_len=1, end_id=0)),
    ]


def _mask_from(in_answer, tokens, end_id, include_end=True):
    is_end = (tokens == end_id) & in_answer
    before = (is_end.long().cumsum(1) - (is_end.long() if include_end else 0)) > 0
    return (in_answer & ~before).float()


EXERCISES.append(Exercise(
    id="answer_mask",
    kind="debug",
    bug="prompt token counted",  # the handed-out code makes this mistake
    chapter=CHAPTER,
    title="the mask of answer tokens",
    signature="answer_mask(tokens (N, T) int64, prompt_len int, end_id int) -> (N, T) float",
    answer=answers.answer_mask,
    cases=_am_cases,
    mistakes=[
        Mistake("prompt token counted", lambda tokens, prompt_len, end_id:
                _mask_from(torch.arange(tokens.shape[1]) >= prompt_len - 1, tokens, end_id),
                "the last prompt token is marked as part of the answer. The prompt occupies columns 0 .. "
                "prompt_len - 1; the first answer token is at column prompt_len. (The logits that PREDICT it sit "
                "at prompt_len - 1, which is where this one-position slip usually comes from.)"),
        Mistake("end token dropped", lambda tokens, prompt_len, end_id:
                _mask_from(torch.arange(tokens.shape[1]) >= prompt_len, tokens, end_id, include_end=False),
                "the end-of-answer token is masked out. The policy chose to stop there, and that choice is rewarded "
                "or penalised like any other: keep the first end token in the mask."),
        Mistake("after the end counted", lambda tokens, prompt_len, end_id:
                (torch.arange(tokens.shape[1]) >= prompt_len).float().expand(tokens.shape).clone(),
                "tokens after the first end token are counted. The checker stops reading there, so what follows "
                "earns no reward and must get no gradient."),
    ],
    hints=[
        "Take the worked case of three rows and write the mask you expect by hand, column by column. Where does "
        "the function's output first differ from yours?",
        "An answer position is one at or after column prompt_len and not after the first end token of the answer; "
        "the end token itself counts. Check each of those three boundaries against the code, one at a time.",
        "m_t = [t >= prompt_len] * [no end token at any s with prompt_len <= s < t].",
    ],
    success="Every loss of this chapter is a sum over this mask: the prompt and whatever follows the end token get "
            "no gradient, the end token does.",
))


# ---------------------------------------------------------------- grpo_token_loss
def _gtl_cases():
    g = gen(2003)
    old = -torch.rand(12, 6, generator=g) * 2 - 0.05
    lengths = torch.randint(1, 7, (12,), generator=g)
    mask = (torch.arange(6)[None] < lengths[:, None]).float()
    new = old + torch.randn(12, 6, generator=g) * 0.3
    adv = torch.randn(12, generator=g)
    even = fixed(logp=torch.zeros(2, 3), logp_old=torch.zeros(2, 3), advantages=torch.tensor([1.0, -1.0]),
                 mask=torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]), clip_eps=0.2)
    shown = "ratio 1 everywhere, advantages [1, -1], mask [[1, 1, 1], [1, 0, 0]] (a right answer of 3 tokens, a " \
            "wrong one of 1)"
    return [
        Case("aggregation 'sequence' (worked by hand)", lambda: {**even(), "aggregation": "sequence"}, shown=shown,
             why="each answer's mean is its advantage: (1 + (-1)) / 2 = 0, loss 0; the gradient on each token of "
                 "the long answer is -1/6, on the short one +1/2"),
        Case("aggregation 'token' (worked by hand)", lambda: {**even(), "aggregation": "token"}, shown=shown,
             why="(1 + 1 + 1 - 1) / 4 answer tokens = 0.5, loss -0.5; every token's gradient has size 1/4"),
        Case("aggregation 'constant' (worked by hand)", lambda: {**even(), "aggregation": "constant"}, shown=shown,
             why="(1 + 1 + 1 - 1) / (2 x 3) = 1/3, loss -0.333; every token's gradient has size 1/6"),
        *[Case(f"12 answers of 1 to 6 tokens, the policy moved since sampling, aggregation '{a}'",
               fixed(logp=new, logp_old=old, advantages=adv, mask=mask, clip_eps=0.2, aggregation=a))
          for a in ("sequence", "token", "constant")],
    ]


def _gtl(logp, logp_old, advantages, mask, clip_eps, aggregation, *, use_mask=True, clip=True, swap=False,
         sequence_over_width=False):
    ratio = torch.exp(logp - logp_old.detach())
    adv = advantages.detach()[:, None]
    s = torch.minimum(ratio * adv, ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv) if clip else ratio * adv
    m = mask if use_mask else torch.ones_like(mask)
    s = s * m
    if swap:
        aggregation = {"sequence": "token", "token": "sequence"}.get(aggregation, aggregation)
    if aggregation == "sequence":
        return -(s.sum(1) / (m.shape[1] if sequence_over_width else m.sum(1))).mean()
    if aggregation == "token":
        return -s.sum() / m.sum()
    return -s.sum() / m.numel()


EXERCISES.append(Exercise(
    id="grpo_token_loss",
    chapter=CHAPTER,
    title="the per-token GRPO loss and its aggregation",
    signature="grpo_token_loss(logp (N, T), logp_old (N, T), advantages (N,), mask (N, T), clip_eps float, "
              "aggregation str) -> () tensor",
    answer=answers.grpo_token_loss,
    cases=_gtl_cases,
    grad_wrt=("logp",),
    mistakes=[
        Mistake("padding counted", lambda *a: _gtl(*a, use_mask=False),
                "positions where the mask is 0 (after the end of an answer) entered the loss. They are not part of "
                "the answer: multiply each token's term by the mask, and count only masked tokens."),
        Mistake("sequence and token swapped", lambda *a: _gtl(*a, swap=True),
                "'sequence' and 'token' are the other way round: 'sequence' averages within each answer, then over "
                "answers (GRPO); 'token' takes one mean over all the batch's answer tokens (DAPO)."),
        Mistake("sequence over the width", lambda *a: _gtl(*a, sequence_over_width=True),
                "for 'sequence' each answer must be divided by its OWN number of tokens (the row sum of the mask), "
                "not by the width T of the tensor."),
        Mistake("no clipping", lambda *a: _gtl(*a, clip=False),
                "the ratio is not clipped: each token's term is min(r A, clip(r, 1 - eps, 1 + eps) A), as in "
                "chapter 08."),
        Mistake("sign", lambda *a: -_gtl(*a),
                "the loss has the wrong sign: it is minimised, so it is MINUS the clipped surrogate."),
    ],
    hints=[
        "Every answer token gets the same term as in PPO; the question is what you divide the sum of those terms "
        "by. In the worked case, how many tokens does each answer have?",
        "Compute the clipped surrogate per token with the answer's advantage broadcast along its row, zero it "
        "where the mask is 0, then: 'sequence' divides each row's sum by that row's token count and averages the "
        "rows; 'token' divides the total by the total token count; 'constant' divides the total by N T.",
        "L_seq = -(1/N) sum_i (1/|o_i|) sum_t m_it s_it;  L_tok = -sum_it m_it s_it / sum_it m_it;  "
        "L_const = -sum_it m_it s_it / (N T), with s_it = min(r_it A_i, clip(r_it, 1 - eps, 1 + eps) A_i).",
    ],
    success="Same tokens, same advantages, three different weightings: under 'sequence' a token of a short answer "
            "weighs more than a token of a long one, and the next section measures what that does.",
))


# ---------------------------------------------------------------- kl_shaped_rewards
def _ksr_cases():
    g = gen(2004)
    lengths = torch.randint(1, 8, (10,), generator=g)
    lengths[0] = 7
    mask = (torch.arange(7)[None] < lengths[:, None]).float()
    return [
        Case("two answers, beta = 0.1 (worked by hand)",
             fixed(rewards=torch.tensor([1.0, 0.0]),
                   logp=torch.tensor([[-0.5, -1.0, -3.0], [-1.0, -0.2, -0.1]]),
                   logp_ref=torch.tensor([[-1.0, -1.0, -0.5], [-0.5, -0.2, -0.3]]),
                   mask=torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]), beta=0.1),
             why="log-ratios [[0.5, 0, -2.5], [-0.5, 0, 0.2]], times -0.1 and the mask: [[-0.05, 0, 0], [0.05, 0, "
                 "-0.02]]; the checker's 1 goes on the LAST ANSWER token of row 1 (column 1, not 2): "
                 "[[-0.05, 1, 0], [0.05, 0, -0.02]]"),
        Case("10 answers of 1 to 7 tokens, beta = 0.05",
             fixed(rewards=(torch.rand(10, generator=g) < 0.5).float(), logp=-torch.rand(10, 7, generator=g) * 3,
                   logp_ref=-torch.rand(10, 7, generator=g) * 3, mask=mask, beta=0.05)),
        Case("beta = 0: only the checker's reward",
             fixed(rewards=torch.tensor([0.5, 2.0, -1.0]), logp=-torch.rand(3, 4, generator=g),
                   logp_ref=-torch.rand(3, 4, generator=g),
                   mask=torch.tensor([[1.0, 0, 0, 0], [1, 1, 1, 1], [1, 1, 0, 0]]), beta=0.0)),
    ]


def _ksr(rewards, logp, logp_ref, mask, beta, *, sign=-1.0, use_mask=True, last_column=False, k3=False,
         everywhere=False):
    x = (logp - logp_ref).detach()
    per_token = (torch.exp(-x) + x - 1) if k3 else x
    shaped = sign * beta * per_token * (mask if use_mask else 1.0)
    if everywhere:
        return shaped + rewards[:, None] * mask
    last = torch.full((mask.shape[0],), mask.shape[1] - 1) if last_column else (
        torch.arange(mask.shape[1]) * (mask > 0)).argmax(1)
    shaped = shaped.clone()
    shaped[torch.arange(mask.shape[0]), last] += rewards
    return shaped


EXERCISES.append(Exercise(
    id="kl_shaped_rewards",
    chapter=CHAPTER,
    title="KL folded into per-token rewards",
    signature="kl_shaped_rewards(rewards (N,), logp (N, T), logp_ref (N, T), mask (N, T), beta float) -> (N, T)",
    answer=answers.kl_shaped_rewards,
    cases=_ksr_cases,
    mistakes=[
        Mistake("last column", lambda *a: _ksr(*a, last_column=True),
                "the checker's reward went to the last COLUMN, which is padding for an answer that ended early. It "
                "belongs on each answer's last token, the last position where the mask is 1."),
        Mistake("KL sign", lambda *a: _ksr(*a, sign=1.0),
                "the KL term has the wrong sign: drifting away from the reference (log pi > log pi_ref) must COST "
                "reward, so each token gets -beta (log pi - log pi_ref)."),
        Mistake("padding shaped", lambda *a: _ksr(*a, use_mask=False),
                "padding positions got a KL reward. Tokens after the end were never part of the answer: multiply "
                "the per-token term by the mask."),
        Mistake("k3 per token", lambda *a: _ksr(*a, k3=True),
                "you used the k3 estimator rho - log rho - 1 per token. As a reward, the plain log-ratio is used: its "
                "sum over the answer is a one-sample estimate of KL(pi || pi_ref) for the whole answer, and it is "
                "what a reward-to-go over the tokens adds up."),
        Mistake("reward on every token", lambda *a: _ksr(*a, everywhere=True),
                "the checker's reward was added to every answer token. It judges the finished answer once: put it "
                "on the last answer token only (reward-to-go then carries it back to every earlier token)."),
    ],
    hints=[
        "Which tokens does the checker speak after, and which tokens can a KL penalty be charged to?",
        "Every answer token pays beta times its log-ratio log pi - log pi_ref (the sampled token's, a constant "
        "here); padding pays nothing; the checker's score is added once per answer, at its last answer position, "
        "which you can find from the mask.",
        "r_it = -beta m_it (log pi_it - log pi_ref,it) + R_i [t = last t with m_it = 1].",
    ],
    success="That is KL in the reward, the way PPO-based RLHF does it; GRPO puts k3 in the loss instead. The sum of "
            "the shaped rewards of an answer is R - beta times a one-sample estimate of its KL to the reference.",
))


# ---------------------------------------------------------------- bradley_terry_loss
def _bt_cases():
    g = gen(2005)
    return [
        Case("two pairs (worked by hand)",
             fixed(r_chosen=torch.tensor([1.0, 0.0]), r_rejected=torch.tensor([1.0, math.log(3.0)])),
             why="pair 1: equal scores, P(chosen) = sigmoid(0) = 1/2, -log(1/2) = 0.6931; pair 2: "
                 "P = sigmoid(-log 3) = 1/(1 + 3) = 1/4, -log(1/4) = 1.3863; the mean is 1.0397"),
        Case("32 pairs of scores", fixed(r_chosen=torch.randn(32, generator=g) * 2,
                                         r_rejected=torch.randn(32, generator=g) * 2)),
        Case("scores of several tens (numerical stability)",
             fixed(r_chosen=torch.tensor([-60.0, 80.0, 3.0, -120.0]), r_rejected=torch.tensor([60.0, -80.0, 2.0, 0.0])),
             why="a margin of -120 makes exp(-margin) overflow in float32: log(1 + exp(-x)) must be computed "
                 "without forming exp(-x) for very negative x (torch.nn.functional.logsigmoid or softplus)"),
        Case("a batch of one pair", fixed(r_chosen=torch.tensor([0.3]), r_rejected=torch.tensor([-0.4]))),
    ]


def _bt_unstable(r_chosen, r_rejected):
    return -torch.log(torch.sigmoid(r_chosen - r_rejected)).mean()


EXERCISES.append(Exercise(
    id="bradley_terry_loss",
    chapter=CHAPTER,
    title="the reward model's loss on preferences",
    signature="bradley_terry_loss(r_chosen (N,), r_rejected (N,)) -> () tensor",
    answer=answers.bradley_terry_loss,
    cases=_bt_cases,
    grad_wrt=("r_chosen", "r_rejected"),
    mistakes=[
        Mistake("unstable log of sigmoid", _bt_unstable,
                "your loss is right for moderate scores but not for a margin of a hundred or so: sigmoid underflows "
                "to 0 there and log(0) is -inf. Use torch.nn.functional.logsigmoid (or -softplus(-x)), which "
                "never forms the tiny probability."),
        Mistake("order swapped", lambda r_chosen, r_rejected: -torch.nn.functional.logsigmoid(r_rejected - r_chosen).mean(),
                "your loss is smallest when the REJECTED answer scores higher. Bradley-Terry's probability that the "
                "chosen answer wins is sigmoid(r_chosen - r_rejected): that is what the loss makes large."),
        Mistake("sign", lambda r_chosen, r_rejected: torch.nn.functional.logsigmoid(r_chosen - r_rejected).mean(),
                "you returned the mean log-likelihood itself. A loss is minimised: return MINUS it."),
        Mistake("sum, not mean", lambda r_chosen, r_rejected: -torch.nn.functional.logsigmoid(r_chosen - r_rejected).sum(),
                "you summed over the pairs; take the mean, so that the loss (and the step size it asks of the "
                "optimiser) does not grow with the batch."),
        Mistake("no log", lambda r_chosen, r_rejected: -torch.sigmoid(r_chosen - r_rejected).mean(),
                "you maximised the probability itself, not its log. The likelihood of independent preferences is "
                "a product; its log is the sum of log sigmoid(margin), which keeps pushing on pairs that are "
                "badly wrong instead of saturating."),
        Mistake("hinge", lambda r_chosen, r_rejected: torch.relu(1 - (r_chosen - r_rejected)).mean(),
                "a margin (hinge) loss stops once the chosen answer leads by 1. Bradley-Terry is a probability "
                "model: use -log sigmoid(r_chosen - r_rejected)."),
    ],
    hints=[
        "Bradley-Terry says the chosen answer wins with probability sigmoid(r_chosen - r_rejected). What is the "
        "negative log-likelihood of the observed winners?",
        "Take the margin r_chosen - r_rejected per pair, its log-sigmoid (with a function that is stable for large "
        "negative margins), and minus the mean over the pairs.",
        "L = -(1/N) sum_i log sigmoid(r_chosen_i - r_rejected_i).",
    ],
    success="The reward model learns a score whose DIFFERENCES predict preferences: adding a constant to every "
            "score changes nothing, which is why the course standardises the scores after training.",
))


# ---------------------------------------------------------------- dpo_loss (derive)
def _dpo_cases():
    g = gen(2006)
    lc, lr_ = -torch.rand(16, generator=g) * 8 - 0.5, -torch.rand(16, generator=g) * 8 - 0.5
    return [
        Case("one pair, beta = 0.5 (worked by hand)",
             fixed(logp_chosen=torch.tensor([-2.0]), logp_rejected=torch.tensor([-3.0]),
                   logp_ref_chosen=torch.tensor([-3.0]), logp_ref_rejected=torch.tensor([-2.0]), beta=0.5),
             why="the implicit rewards are 0.5 (-2 + 3) = 0.5 and 0.5 (-3 + 2) = -0.5, a margin of 1: "
                 "-log sigmoid(1) = 0.3133"),
        Case("the policy still equals the reference: every pair gives log 2",
             fixed(logp_chosen=lc, logp_rejected=lr_, logp_ref_chosen=lc.clone(), logp_ref_rejected=lr_.clone(),
                   beta=0.1),
             why="all implicit rewards are 0, so the loss is -log(1/2) = 0.6931 whatever the answers"),
        Case("16 pairs, beta = 0.1", fixed(logp_chosen=lc + torch.randn(16, generator=g), logp_rejected=lr_ +
                                          torch.randn(16, generator=g), logp_ref_chosen=lc, logp_ref_rejected=lr_,
                                          beta=0.1)),
        Case("16 pairs, beta = 2, large margins", fixed(logp_chosen=lc + 30 * torch.randn(16, generator=g),
                                                       logp_rejected=lr_, logp_ref_chosen=lc,
                                                       logp_ref_rejected=lr_ + 30 * torch.randn(16, generator=g),
                                                       beta=2.0)),
    ]


def _dpo(logp_chosen, logp_rejected, logp_ref_chosen, logp_ref_rejected, beta, *, ref_sign=1.0, use_beta=True,
         swap=False, no_ref=False):
    rc = logp_chosen - (0 if no_ref else ref_sign * logp_ref_chosen)
    rr = logp_rejected - (0 if no_ref else ref_sign * logp_ref_rejected)
    margin = (rr - rc) if swap else (rc - rr)
    return -torch.nn.functional.logsigmoid((beta if use_beta else 1.0) * margin).mean()


EXERCISES.append(Exercise(
    id="dpo_loss",
    kind="derive",
    chapter=CHAPTER,
    title="the DPO loss, from the optimum of the KL-regularised objective",
    signature="dpo_loss(logp_chosen (N,), logp_rejected (N,), logp_ref_chosen (N,), logp_ref_rejected (N,), "
              "beta float) -> () tensor",
    answer=answers.dpo_loss,
    cases=_dpo_cases,
    grad_wrt=("logp_chosen", "logp_rejected"),
    mistakes=[
        Mistake("reference ignored", lambda *a: _dpo(*a, no_ref=True),
                "the reference's log-probabilities are missing. The implicit reward is beta log(pi / pi_ref): "
                "without pi_ref the loss only pushes the chosen answer's probability up, with no anchor."),
        Mistake("reference added", lambda *a: _dpo(*a, ref_sign=-1.0),
                "the reference's log-probability was added. log(pi / pi_ref) = log pi - log pi_ref."),
        Mistake("beta forgotten", lambda *a: _dpo(*a, use_beta=False),
                "beta is missing. Solving the optimum for the reward gives r = beta log(pi / pi_ref) + beta log Z: "
                "the margin inside the sigmoid is beta times the difference of log-ratios."),
        Mistake("chosen and rejected swapped", lambda *a: _dpo(*a, swap=True),
                "the margin is rejected minus chosen: your loss prefers the rejected answers. Bradley-Terry gives "
                "the CHOSEN answer probability sigmoid(r_chosen - r_rejected)."),
        Mistake("divided by beta", lambda logp_chosen, logp_rejected, logp_ref_chosen, logp_ref_rejected, beta:
                -torch.nn.functional.logsigmoid(((logp_chosen - logp_ref_chosen) - (logp_rejected - logp_ref_rejected))
                                                / beta).mean(),
                "you divided by beta. From pi* = pi_ref exp(r / beta) / Z, r = beta log(pi* / pi_ref) + beta log Z: "
                "beta multiplies the log-ratio."),
    ],
    hints=[
        "Start from the optimum pi*(o|q) = pi_ref(o|q) exp(r(q, o) / beta) / Z(q). Take logs and solve for r. What "
        "happens to the term with Z(q) when you subtract the rewards of two answers to the same prompt?",
        "r(q, o) = beta log(pi*(o|q) / pi_ref(o|q)) + beta log Z(q); in the difference r(chosen) - r(rejected) the "
        "log Z cancels. Put that difference, with pi in place of pi*, into Bradley-Terry's -log sigmoid and "
        "average over pairs.",
        "L = -(1/N) sum_i log sigmoid(beta [(log pi_c - log pi_ref,c) - (log pi_r - log pi_ref,r)]).",
    ],
    success="Right: a reward model hidden in the policy. DPO fits the same Bradley-Terry likelihood as the reward "
            "model, with the reward written as beta log(pi / pi_ref): no reward network, no sampling, no value model.",
))
