"""A tiny language model that adds numbers, fine-tuned with GRPO on the checker's verdict (chapter 10).

Everything of language-model RL at the scale of a laptop CPU, in one file:

* :class:`AdditionTask`: prompts such as ``"47+85="``, written character by character; the answer
  ``"132."`` ends with the end-of-answer token ``"."``. The checker reads the answer up to its first
  ``"."`` and ignores the filler token ``"~"`` after the digits (``"132~~."`` is right too), so
  answers of one value can have different lengths. Sums have 1 to 3 digits.
* :class:`TinyTransformer`: a decoder-only transformer (token and position embeddings, 2 blocks of
  causal self-attention and an MLP, a linear head to the 15 characters), about 70 thousand weights.
* :func:`train_sft`: supervised fine-tuning on *imperfect* demonstrations (some sums are wrong, some
  have leading zeros), the starting point of RL. The course ships its result (``data/llm_sft.pt``,
  remade by ``python -m course_utils experiments llm_sft``); :func:`load_sft_policy` loads it.
* :func:`train_llm_grpo`: groups of answers sampled per prompt, group-relative advantages (chapter
  09), the masked per-token clipped loss with a choice of aggregation, optionally a KL penalty
  towards the frozen SFT model.

Sequences are (N, T) tensors of token ids: the prompt, left-padded to ``PROMPT_LEN`` columns, then
``ANSWER_LEN`` columns of answer. Sampling always writes all ``ANSWER_LEN`` answer tokens; whatever
follows the first ``"."`` is ignored by the checker and masked out of every loss.
"""
from __future__ import annotations

import copy
import math
import time
from importlib import resources
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from course_utils import answers as answer_key
from course_utils.seeding import one_torch_thread
from course_utils.trainers.history import History
from course_utils.trainers.kit import bar_label, plug_in

__all__ = ["VOCAB", "PAD", "END", "PROMPT_LEN", "ANSWER_LEN", "AdditionTask", "TinyTransformer", "CausalSelfAttention",
           "FILLER", "generate", "answer_token_log_probs", "train_sft", "load_sft_policy", "sft_path", "train_llm_grpo",
           "evaluate"]

VOCAB = "_0123456789+=.~"  # "_" pads, "." ends an answer, "~" is filler the checker ignores
PAD, END, FILLER = VOCAB.index("_"), VOCAB.index("."), VOCAB.index("~")
PROMPT_LEN = 6  # "99+99=" at most
ANSWER_LEN = 7  # up to 3 digits, 3 fillers and "."


# ----------------------------------------------------------------------------- task
class AdditionTask:
    """Add two numbers of 1 or 2 digits; the checker compares the answer's value with the sum."""

    def encode(self, text: str) -> list[int]:
        return [VOCAB.index(c) for c in text]

    def decode(self, ids: Tensor | list[int]) -> str:
        return "".join(VOCAB[i] for i in (ids.tolist() if isinstance(ids, Tensor) else ids))

    def operands(self, n: int, generator: torch.Generator) -> Tensor:
        """(n, 2) int64: each operand has 1 or 2 digits with equal probability, then uniform."""
        digits = torch.randint(1, 3, (n, 2), generator=generator)
        low = torch.where(digits == 1, 0, 10 ** (digits - 1))
        return low + (torch.rand(n, 2, generator=generator) * (10 ** digits - low)).long()

    def prompts(self, operands: Tensor) -> Tensor:
        """(n, PROMPT_LEN) token ids of "a+b=", left-padded."""
        return torch.tensor([self.encode(f"{a}+{b}=".rjust(PROMPT_LEN, "_")) for a, b in operands.tolist()])

    def reward(self, operands: Tensor, answers: Tensor) -> Tensor:
        """The checker, (n,): 1.0 when the answer up to its first ".", trailing "~" removed, is the
        decimal a + b (no leading zero), else 0.0."""
        out = []
        for (a, b), text in zip(operands.tolist(), (self.decode(row) for row in answers)):
            head, ended, _ = text.partition(".")
            head = head.rstrip("~")
            out.append(float(ended == "." and head == str(a + b)))
        return torch.tensor(out)

    def demonstrations(self, operands: Tensor, generator: torch.Generator, error_rate: float = 0.25,
                       filler_probs: tuple[float, ...] = (0.6, 0.2, 0.1, 0.1)) -> Tensor:
        """(n, ANSWER_LEN) imperfect demonstrations: the sum, then 0-3 fillers "~" (probabilities
        ``filler_probs``, whether the sum is right or not), then "."; in a fraction ``error_rate`` of
        them one digit of the sum is replaced by another."""
        n = len(operands)
        wrong = torch.rand(n, generator=generator) < error_rate
        fillers = torch.multinomial(torch.tensor(filler_probs), n, replacement=True, generator=generator)
        place = torch.rand(n, generator=generator)
        shift = torch.randint(1, 10, (n,), generator=generator)
        rows = []
        for i, (a, b) in enumerate(operands.tolist()):
            digits = [int(c) for c in str(a + b)]
            if wrong[i]:
                k = int(place[i] * len(digits))
                digits[k] = (digits[k] + int(shift[i])) % 10
                if digits[0] == 0 and len(digits) > 1:  # keep it a number written without a leading zero
                    digits[0] = 1
            text = "".join(map(str, digits)) + "~" * int(fillers[i]) + "."
            rows.append(self.encode(text.ljust(ANSWER_LEN, "_")))
        return torch.tensor(rows)


# ----------------------------------------------------------------------------- policy
class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t sees positions 0 .. t only."""

    def __init__(self, d_model: int, heads: int, max_len: int) -> None:
        super().__init__()
        self.heads, self.d_head = heads, d_model // heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.register_buffer("future", torch.triu(torch.ones(max_len, max_len, dtype=torch.bool), diagonal=1))

    def forward(self, x: Tensor) -> Tensor:
        n, T, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=-1)
        q, k, v = (z.reshape(n, T, self.heads, self.d_head).transpose(1, 2) for z in (q, k, v))  # (n, h, T, dh)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d_head)  # (n, h, T, T): query t, key s
        scores = scores.masked_fill(self.future[:T, :T], float("-inf"))  # no looking at s > t
        mixed = torch.softmax(scores, dim=-1) @ v  # (n, h, T, dh)
        return self.out(mixed.transpose(1, 2).reshape(n, T, d))


class Block(nn.Module):
    """Pre-norm transformer block: x + attention(norm(x)), then x + MLP(norm(x))."""

    def __init__(self, d_model: int, heads: int, max_len: int, hidden: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attention = CausalSelfAttention(d_model, heads, max_len)
        self.mlp = nn.Sequential(nn.Linear(d_model, hidden), nn.GELU(), nn.Linear(hidden, d_model))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyTransformer(nn.Module):
    """logits[:, t] = the distribution of the token at position t + 1, given tokens 0 .. t."""

    def __init__(self, d_model: int = 64, heads: int = 4, layers: int = 2, hidden: int = 128,
                 max_len: int = PROMPT_LEN + ANSWER_LEN) -> None:
        super().__init__()
        self.token = nn.Embedding(len(VOCAB), d_model)
        self.position = nn.Embedding(max_len, d_model)
        self.blocks = nn.ModuleList([Block(d_model, heads, max_len, hidden) for _ in range(layers)])
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, len(VOCAB))

    def forward(self, tokens: Tensor) -> Tensor:
        x = self.token(tokens) + self.position(torch.arange(tokens.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))  # (n, T, V)


@torch.no_grad()
def generate(policy: TinyTransformer, prompts: Tensor, generator: torch.Generator, greedy: bool = False) -> Tensor:
    """Write ANSWER_LEN tokens after each prompt: (n, PROMPT_LEN + ANSWER_LEN) int64."""
    tokens = prompts
    for _ in range(ANSWER_LEN):
        logits = policy(tokens)[:, -1]
        nxt = logits.argmax(-1) if greedy else torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)[:, 0]
        tokens = torch.cat([tokens, nxt[:, None]], dim=1)
    return tokens


def answer_token_log_probs(policy: TinyTransformer, tokens: Tensor) -> Tensor:
    """log pi(token_t | tokens_<t) for the ANSWER_LEN answer positions: (n, ANSWER_LEN)."""
    logits = policy(tokens[:, :-1])[:, PROMPT_LEN - 1:]  # the outputs that predict the answer's tokens
    return torch.log_softmax(logits, -1).gather(-1, tokens[:, PROMPT_LEN:, None]).squeeze(-1)


def evaluate(policy: TinyTransformer, task: AdditionTask, n: int = 1000, seed: int = 1234) -> dict[str, float]:
    """Sampled answers to n fresh prompts: accuracy, mean length (tokens up to and including ".") of
    right and of wrong answers, and the mean number of fillers "~" in right and in wrong answers."""
    generator = torch.Generator().manual_seed(seed)
    operands = task.operands(n, generator)
    tokens = generate(policy, task.prompts(operands), generator)
    return _answer_stats(task, operands, tokens)


def _answer_stats(task: AdditionTask, operands: Tensor, tokens: Tensor) -> dict[str, float]:
    rewards = task.reward(operands, tokens[:, PROMPT_LEN:])
    mask = answer_key.answer_mask(tokens, PROMPT_LEN, END)
    lengths = mask.sum(1)
    right, wrong = rewards == 1, rewards == 0
    fillers = ((tokens == FILLER).float() * mask).sum(1)

    def mean(x: Tensor) -> float:
        return float(x.float().mean()) if len(x) else float("nan")

    return {"accuracy": mean(rewards), "length_right": mean(lengths[right]), "length_wrong": mean(lengths[wrong]),
            "length": mean(lengths), "fillers_right": mean(fillers[right]), "fillers_wrong": mean(fillers[wrong])}


# ----------------------------------------------------------------------------- supervised fine-tuning
def train_sft(steps: int = 1500, batch: int = 256, lr: float = 2e-3, seed: int = 0, error_rate: float = 0.25,
              progress: bool = True) -> TinyTransformer:
    """Next-token cross-entropy on the answer tokens of imperfect demonstrations (the prompt is given)."""
    task = AdditionTask()
    with one_torch_thread():
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        policy = TinyTransformer()
        optimizer = torch.optim.AdamW(policy.parameters(), lr=lr, weight_decay=0.01)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)
        for _ in tqdm(range(steps), disable=not progress, desc="SFT"):
            operands = task.operands(batch, generator)
            tokens = torch.cat([task.prompts(operands), task.demonstrations(operands, generator, error_rate)], 1)
            mask = answer_key.answer_mask(tokens, PROMPT_LEN, END)
            loss = -(answer_token_log_probs(policy, tokens) * mask[:, PROMPT_LEN:]).sum() / mask.sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    return policy


def sft_path() -> Path:
    """``course_utils/data/llm_sft.pt``: the shipped SFT model's weights (a dict of tensors)."""
    return Path(str(resources.files("course_utils"))) / "data" / "llm_sft.pt"


def load_sft_policy() -> TinyTransformer:
    """The shipped SFT model (loaded with weights_only=True: tensors only, no code)."""
    policy = TinyTransformer()
    policy.load_state_dict(torch.load(sft_path(), weights_only=True))
    return policy


# ----------------------------------------------------------------------------- GRPO
def train_llm_grpo(
    policy: TinyTransformer | None = None,
    *,
    aggregation: str = "sequence",
    answer_mask: Callable | None = None,
    grpo_token_loss: Callable | None = None,
    group_relative_advantages: Callable | None = None,
    iterations: int = 100,
    prompts_per_iteration: int = 16,
    group_size: int = 8,
    epochs: int = 2,
    clip_eps: float = 0.2,
    beta: float = 0.0,
    lr: float = 2e-4,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """GRPO from the SFT model: per iteration B prompts x G sampled answers, the checker's reward,
    group-relative advantages, ``epochs`` steps on the masked clipped loss aggregated by
    ``aggregation`` ("sequence", "token" or "constant"), plus beta * KL(pi || pi_SFT) (k3, per
    token, the same aggregation) when beta > 0. Learner's functions: None = the answer.

    Besides the usual record, the history keeps per iteration the accuracy and the mean length of
    the batch's right and wrong answers (``extras``)."""
    task = AdditionTask()
    mask_fn = plug_in(answer_mask, answer_key.answer_mask, "answer_mask")
    loss_fn = plug_in(grpo_token_loss, answer_key.grpo_token_loss, "grpo_token_loss", needs_grad=True)
    adv_fn = plug_in(group_relative_advantages, answer_key.group_relative_advantages, "group_relative_advantages")
    history = History(config=dict(algorithm="GRPO (language model)", aggregation=aggregation, iterations=iterations,
                                  prompts_per_iteration=prompts_per_iteration, group_size=group_size, epochs=epochs,
                                  clip_eps=clip_eps, beta=beta, lr=lr, seed=seed, torch_threads=1,
                                  answer_mask=mask_fn.source, grpo_token_loss=loss_fn.source,
                                  group_relative_advantages=adv_fn.source))
    stats: dict[str, list[float]] = {"accuracy": [], "length_right": [], "length_wrong": [], "fillers_right": [],
                                     "fillers_wrong": []}
    with one_torch_thread():
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        policy = copy.deepcopy(policy) if policy is not None else load_sft_policy()
        reference = copy.deepcopy(policy).requires_grad_(False)  # the SFT model, frozen
        optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
        start = time.perf_counter()
        B, G = prompts_per_iteration, group_size
        for _ in tqdm(range(iterations), disable=not progress, desc=bar_label(f"GRPO ({aggregation})")):
            operands = task.operands(B, generator).repeat_interleave(G, dim=0)  # G answers per prompt
            tokens = generate(policy, task.prompts(operands), generator)  # (B G, PROMPT_LEN + ANSWER_LEN)
            rewards = task.reward(operands, tokens[:, PROMPT_LEN:])
            mask = mask_fn(tokens, PROMPT_LEN, END)[:, PROMPT_LEN:].float()  # (B G, ANSWER_LEN)
            advantages = adv_fn(rewards.reshape(B, G)).reshape(B * G).float()
            with torch.no_grad():
                logp_old = answer_token_log_probs(policy, tokens)
                logp_ref = answer_token_log_probs(reference, tokens)
            for _ in range(epochs):
                logp = answer_token_log_probs(policy, tokens)
                loss = loss_fn(logp, logp_old, advantages, mask, clip_eps, aggregation)
                if beta > 0:  # k3 per token, aggregated like the surrogate (zero advantages: only the KL)
                    log_rho = logp_ref - logp
                    k3 = torch.exp(log_rho) - log_rho - 1
                    loss = loss + beta * _aggregate(k3, mask, aggregation)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            batch = _answer_stats(task, operands, tokens)
            for key in stats:
                stats[key].append(batch[key])
            seen = history.env_steps[-1] if history.env_steps else 0
            history.env_steps.append(seen + B * G)
            history.iteration_mean_return.append(float(rewards.mean()))
            history.policy_loss.append(loss.item())
            history.value_loss.append(float("nan"))
            history.wall_time.append(time.perf_counter() - start)
        history.stats = stats  # type: ignore[attr-defined]
        history.policy = policy
        return history


def _aggregate(per_token: Tensor, mask: Tensor, aggregation: str) -> Tensor:
    """The mean of a per-token quantity over answer tokens, in the loss's aggregation."""
    if aggregation == "sequence":
        return ((per_token * mask).sum(1) / mask.sum(1)).mean()
    if aggregation == "token":
        return (per_token * mask).sum() / mask.sum()
    return (per_token * mask).sum() / mask.numel()
