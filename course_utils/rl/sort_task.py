"""Chapter 09's task and policy: sort a short list of digits, one token at a time.

A prompt is a list of ``prompt_len`` digits in ``0 .. vocab - 1``; a policy writes an answer of the
same length, token by token; a checker (a program, not a learned model) scores the finished answer
by the fraction of positions that agree with the sorted prompt:

    prompt [3, 0, 5, 0]   answer [0, 0, 3, 5]  -> reward 1.0
                          answer [0, 3, 0, 5]  -> reward 0.5 (positions 0 and 3 agree)

The trainers of :mod:`course_utils.trainers.grpo_task` train on it, and chapter 09's loop item
builds its cases from it (the checks may import ``rl``, never a trainer).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from course_utils.rl.policies import mlp

__all__ = ["SortTask", "SequencePolicy"]


class SortTask:
    """Prompts of ``prompt_len`` digits below ``vocab``; the checker rewards agreement with the sorted prompt."""

    def __init__(self, prompt_len: int = 5, vocab: int = 8) -> None:
        self.prompt_len, self.vocab = prompt_len, vocab

    def prompts(self, n: int, generator: torch.Generator) -> Tensor:
        return torch.randint(0, self.vocab, (n, self.prompt_len), generator=generator)

    def reward(self, prompts: Tensor, answers: Tensor) -> Tensor:
        """The checker: fraction of positions where the answer equals the sorted prompt, (n,)."""
        return (answers == prompts.sort(dim=1).values).float().mean(dim=1)


class SequencePolicy(nn.Module):
    """pi(token_t | prompt, tokens_<t): an MLP on one-hot features, plus an optional value head.

    The features of position t are the one-hot prompt, the one-hot tokens written before t
    (zeros for later positions) and a one-hot position: (n, L, L V + L V + L) for all t at once,
    so that the log-probabilities of whole answers need a single forward pass.
    """

    def __init__(self, task: SortTask, hidden: tuple[int, ...] = (128, 128), value_head: bool = False) -> None:
        super().__init__()
        L, V = task.prompt_len, task.vocab
        self.L, self.V = L, V
        self.net = mlp(2 * L * V + L, V, hidden, nn.ReLU, out_gain=0.01)
        self.value_net = mlp(2 * L * V + L, 1, hidden, nn.ReLU, out_gain=1.0) if value_head else None
        self.register_buffer("earlier", torch.tril(torch.ones(L, L), diagonal=-1))  # [t, s] = 1 if s < t

    def features(self, prompts: Tensor, answers: Tensor) -> Tensor:
        n, L, V = prompts.shape[0], self.L, self.V
        prompt = nn.functional.one_hot(prompts, V).float().reshape(n, 1, L * V).expand(n, L, L * V)
        written = nn.functional.one_hot(answers, V).float()[:, None] * self.earlier[None, :, :, None]  # (n, L, L, V)
        position = torch.eye(L).expand(n, L, L)
        return torch.cat([prompt, written.reshape(n, L, L * V), position], dim=-1)

    def log_prob(self, prompts: Tensor, answers: Tensor) -> Tensor:
        """log pi(answer_t | prompt, answer_<t) for every position: (n, L)."""
        logits = self.net(self.features(prompts, answers))
        return torch.log_softmax(logits, -1).gather(-1, answers[..., None]).squeeze(-1)

    def values(self, prompts: Tensor, answers: Tensor) -> Tensor:
        """V(prompt, answer_<t) for every position: (n, L)."""
        return self.value_net(self.features(prompts, answers)).squeeze(-1)

    @torch.no_grad()
    def generate(self, prompts: Tensor, generator: torch.Generator) -> Tensor:
        """Sample answers token by token: (n, L) int64."""
        answers = torch.zeros_like(prompts)
        for t in range(self.L):
            logits = self.net(self.features(prompts, answers)[:, t])
            answers[:, t] = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator).squeeze(-1)
        return answers
