"""RLHF in miniature on the adding model (chapter 10): preferences, a reward model, PPO, and DPO.

The recipe of InstructGPT (Ouyang et al., 2022), at the scale of a laptop CPU, in one file:

* :func:`gold_score`: the hidden "rater". It likes a right sum and dislikes padding: 1 for a right
  answer, minus 0.5 per filler ``"~"``. The learner never optimises it; it only writes preferences
  and measures what the optimisation did.
* :func:`preference_pairs`: two answers of the SFT model to one prompt, and which one the rater
  preferred, drawn from the Bradley-Terry model P(a preferred to b) = sigmoid((gold_a - gold_b) / tau).
* :class:`RewardModel`: the SFT transformer's body with a scalar head read at the answer's last
  token, trained on those pairs with the Bradley-Terry loss (:func:`train_reward_model`). Its
  scores on SFT answers are standardised (mean 0, standard deviation 1).
* :func:`train_llm_ppo`: PPO on the reward model's score, with a value model (the reward model's
  body and a head per position), per-token GAE over the answer, and the KL to the SFT model either
  folded into the reward (``kl_in="reward"``, InstructGPT) or added to the loss as k3
  (``kl_in="loss"``, GRPO's way).
* :func:`train_dpo`: DPO (Rafailov et al., 2023) on the same pairs, with no reward model and no
  sampling during training.

Every run records, as it goes, the proxy (reward-model) score, the gold score and the KL from the
SFT model of fresh samples, so that over-optimisation (Gao et al., 2022) can be measured.
"""
from __future__ import annotations

import copy
import time
from typing import Callable

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from course_utils import answers as answer_key
from course_utils.seeding import one_torch_thread
from course_utils.trainers.history import History
from course_utils.trainers.kit import bar_label, plug_in
from course_utils.trainers.llm_grpo import (ANSWER_LEN, END, FILLER, PROMPT_LEN, AdditionTask, TinyTransformer,
                                            answer_token_log_probs, generate, load_sft_policy)

__all__ = ["AdditionTask", "load_sft_policy", "FILLER_COST", "TAU", "gold_score", "preference_pairs", "RewardModel", "train_reward_model",
           "pair_accuracy", "train_llm_ppo", "train_dpo", "measure"]

FILLER_COST = 0.5  # the rater's dislike of one filler, in units of a right answer
TAU = 0.25  # the rater's noise: a gold difference of tau is preferred with probability sigmoid(1) = 0.73


def gold_score(task: AdditionTask, operands: Tensor, tokens: Tensor) -> Tensor:
    """The hidden rater's score, (n,): [answer right] - FILLER_COST x (fillers before the end)."""
    right = task.reward(operands, tokens[:, PROMPT_LEN:])
    mask = answer_key.answer_mask(tokens, PROMPT_LEN, END)
    fillers = ((tokens == FILLER).float() * mask).sum(1)
    return right - FILLER_COST * fillers


def preference_pairs(policy: TinyTransformer, task: AdditionTask, n: int, generator: torch.Generator,
                     tau: float = TAU) -> dict[str, Tensor]:
    """n pairs of the policy's answers to one prompt each, ordered (chosen, rejected) by a rater who
    prefers a with probability sigmoid((gold_a - gold_b) / tau). Returns the operands (n, 2) and the
    token tensors ``chosen`` and ``rejected`` (n, PROMPT_LEN + ANSWER_LEN)."""
    operands = task.operands(n, generator)
    prompts = task.prompts(operands)
    a, b = generate(policy, prompts, generator), generate(policy, prompts, generator)
    gap = gold_score(task, operands, a) - gold_score(task, operands, b)
    a_wins = torch.rand(n, generator=generator) < torch.sigmoid(gap / tau)
    chosen = torch.where(a_wins[:, None], a, b)
    rejected = torch.where(a_wins[:, None], b, a)
    return {"operands": operands, "chosen": chosen, "rejected": rejected}


def _body(model: TinyTransformer, tokens: Tensor) -> Tensor:
    """The transformer's last hidden states, (n, T, d_model): its forward pass without the head."""
    x = model.token(tokens) + model.position(torch.arange(tokens.shape[1]))
    for block in model.blocks:
        x = block(x)
    return model.norm(x)


class RewardModel(nn.Module):
    """A scalar score per position from a transformer body: ``score(tokens)`` reads it at each row's
    last answer token (the reward model), ``forward(tokens)`` at every position (the value model)."""

    def __init__(self, body: TinyTransformer) -> None:
        super().__init__()
        self.body = body
        self.head = nn.Linear(body.head.in_features, 1)
        self.shift, self.scale = 0.0, 1.0  # set after training: SFT answers score mean 0, std 1

    def forward(self, tokens: Tensor) -> Tensor:
        return self.head(_body(self.body, tokens)).squeeze(-1)  # (n, T)

    def score(self, tokens: Tensor) -> Tensor:
        """(n,): the score at the last answer position (the first end token, or the last column)."""
        mask = answer_key.answer_mask(tokens, PROMPT_LEN, END)
        last = (torch.arange(tokens.shape[1]) * (mask > 0)).argmax(1)
        raw = self(tokens)[torch.arange(len(tokens)), last]
        return (raw - self.shift) / self.scale


def train_reward_model(pairs: dict[str, Tensor], bradley_terry_loss: Callable | None = None, epochs: int = 6,
                       batch: int = 64, lr: float = 1e-3, seed: int = 0, progress: bool = True) -> RewardModel:
    """Bradley-Terry on (chosen, rejected) pairs, from the SFT model's body; then standardised so that
    the chosen and rejected answers of the pairs score mean 0 and standard deviation 1."""
    loss_fn = plug_in(bradley_terry_loss, answer_key.bradley_terry_loss, "bradley_terry_loss", needs_grad=True)
    with one_torch_thread():
        torch.manual_seed(seed)
        model = RewardModel(load_sft_policy())
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
        n = len(pairs["chosen"])
        for _ in tqdm(range(epochs), disable=not progress, desc="reward model"):
            for idx in torch.randperm(n).split(batch):
                loss = loss_fn(model.score(pairs["chosen"][idx]), model.score(pairs["rejected"][idx]))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        with torch.no_grad():
            scores = torch.cat([model.score(pairs["chosen"]), model.score(pairs["rejected"])])
        model.shift, model.scale = float(scores.mean()), float(scores.std())
        model.requires_grad_(False)
    return model


@torch.no_grad()
def pair_accuracy(model: RewardModel, pairs: dict[str, Tensor]) -> float:
    """The fraction of pairs in which the reward model scores the chosen answer higher."""
    return float((model.score(pairs["chosen"]) > model.score(pairs["rejected"])).float().mean())


@torch.no_grad()
def measure(policy: TinyTransformer, reference: TinyTransformer, reward_model: RewardModel, task: AdditionTask,
            n: int = 256, seed: int = 4321) -> dict[str, float]:
    """Fresh samples of the policy: mean proxy score, gold score, accuracy, fillers, and KL(pi || pi_SFT)
    of whole answers estimated by the mean of sum_t (log pi - log pi_SFT) over the answer (nats)."""
    generator = torch.Generator().manual_seed(seed)
    operands = task.operands(n, generator)
    tokens = generate(policy, task.prompts(operands), generator)
    mask = answer_key.answer_mask(tokens, PROMPT_LEN, END)[:, PROMPT_LEN:]
    log_ratio = answer_token_log_probs(policy, tokens) - answer_token_log_probs(reference, tokens)
    right = task.reward(operands, tokens[:, PROMPT_LEN:])
    return {"proxy": float(reward_model.score(tokens).mean()), "gold": float(gold_score(task, operands, tokens).mean()),
            "kl": float((log_ratio * mask).sum(1).mean()), "accuracy": float(right.mean()),
            "fillers": float(((tokens[:, PROMPT_LEN:] == FILLER).float() * mask).sum(1).mean())}


def _record(records: dict[str, list[float]], numbers: dict[str, float]) -> None:
    for key, value in numbers.items():
        records.setdefault(key, []).append(round(value, 4))


# ----------------------------------------------------------------------------- PPO (InstructGPT)
def train_llm_ppo(
    reward_model: RewardModel,
    *,
    kl_in: str = "reward",
    kl_shaped_rewards: Callable | None = None,
    iterations: int = 60,
    prompts_per_iteration: int = 64,
    epochs: int = 2,
    minibatches: int = 2,
    clip_eps: float = 0.2,
    beta: float = 0.05,
    gamma: float = 1.0,
    lam: float = 0.95,
    lr: float = 1e-4,
    value_lr: float = 1e-3,
    measure_every: int = 5,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """PPO from the SFT model on the reward model's score of each answer (one answer per prompt).

    ``kl_in="reward"``: every answer token's reward is -beta (log pi - log pi_SFT), the score is added
    on the last answer token (``kl_shaped_rewards``), and GAE (gamma, lam) over the answer's tokens
    with the value model gives per-token advantages. ``kl_in="loss"``: the rewards are the score
    alone and beta x k3 (per token, averaged over answer tokens) is added to the loss.
    Every ``measure_every`` iterations the history's ``measures`` record :func:`measure`."""
    task = AdditionTask()
    shape_fn = plug_in(kl_shaped_rewards, answer_key.kl_shaped_rewards, "kl_shaped_rewards")
    history = History(config=dict(algorithm="PPO-RLHF (language model)", kl_in=kl_in, iterations=iterations,
                                  prompts_per_iteration=prompts_per_iteration, epochs=epochs, minibatches=minibatches,
                                  clip_eps=clip_eps, beta=beta, gamma=gamma, lam=lam, lr=lr, value_lr=value_lr,
                                  seed=seed, torch_threads=1, kl_shaped_rewards=shape_fn.source))
    if kl_in not in ("reward", "loss"):
        raise ValueError(f"kl_in must be 'reward' or 'loss', not {kl_in!r}")
    measures: dict[str, list[float]] = {"iteration": []}
    with one_torch_thread():
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        policy = load_sft_policy()
        reference = load_sft_policy().requires_grad_(False)
        critic = RewardModel(copy.deepcopy(reward_model.body)).requires_grad_(True)  # InstructGPT: value from RM
        optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
        value_optimizer = torch.optim.Adam(critic.parameters(), lr=value_lr)
        start = time.perf_counter()
        n = prompts_per_iteration
        for it in tqdm(range(iterations + 1), disable=not progress, desc=bar_label(f"PPO-RLHF (KL in {kl_in})")):
            if it % measure_every == 0:
                measures["iteration"].append(it)
                _record(measures, measure(policy, reference, reward_model, task))
            if it == iterations:
                break
            operands = task.operands(n, generator)
            tokens = generate(policy, task.prompts(operands), generator)
            mask = answer_key.answer_mask(tokens, PROMPT_LEN, END)[:, PROMPT_LEN:]  # (n, A)
            with torch.no_grad():
                score = reward_model.score(tokens)
                logp_old = answer_token_log_probs(policy, tokens)
                logp_ref = answer_token_log_probs(reference, tokens)
                rewards = shape_fn(score, logp_old, logp_ref, mask, beta if kl_in == "reward" else 0.0)
                values = critic(tokens)[:, PROMPT_LEN - 1:-1] * mask  # V of the prefix before each answer token
                last = (torch.arange(ANSWER_LEN) * (mask > 0)).argmax(1)
                dones = torch.zeros_like(mask)
                dones[torch.arange(n), last] = 1.0
                advantages = answer_key.gae(rewards.T, values.T, dones.T, torch.zeros(n), gamma, lam).T * mask
                returns = advantages + values
                mean = advantages.sum() / mask.sum()
                std = (((advantages - mean) ** 2 * mask).sum() / mask.sum()).sqrt()
                advantages = (advantages - mean) / (std + 1e-8) * mask
            for _ in range(epochs):
                for idx in torch.randperm(n).split(n // minibatches):
                    m = mask[idx]
                    logp = answer_token_log_probs(policy, tokens[idx])
                    ratio = torch.exp(logp - logp_old[idx])
                    adv = advantages[idx]
                    surrogate = torch.minimum(ratio * adv, ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv)
                    loss = -(surrogate * m).sum() / m.sum()
                    if kl_in == "loss":
                        log_rho = logp_ref[idx] - logp
                        loss = loss + beta * ((torch.exp(log_rho) - log_rho - 1) * m).sum() / m.sum()
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    value = critic(tokens[idx])[:, PROMPT_LEN - 1:-1]
                    value_loss = (((value - returns[idx]) ** 2) * m).sum() / m.sum()
                    value_optimizer.zero_grad()
                    value_loss.backward()
                    value_optimizer.step()
            seen = history.env_steps[-1] if history.env_steps else 0
            history.env_steps.append(seen + n)
            history.iteration_mean_return.append(float(score.mean()))
            history.policy_loss.append(loss.item())
            history.value_loss.append(value_loss.item())
            history.wall_time.append(time.perf_counter() - start)
        history.measures = measures  # type: ignore[attr-defined]
        history.policy = policy
        return history


# ----------------------------------------------------------------------------- DPO
def train_dpo(
    pairs: dict[str, Tensor],
    reward_model: RewardModel,
    *,
    dpo_loss: Callable | None = None,
    beta: float = 0.1,
    epochs: int = 6,
    batch: int = 64,
    lr: float = 1e-4,
    measure_every: int = 10,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """DPO from the SFT model on the preference pairs; the reward model only measures (proxy score).
    ``measures`` holds :func:`measure` every ``measure_every`` steps (one step: one minibatch)."""
    task = AdditionTask()
    loss_fn = plug_in(dpo_loss, answer_key.dpo_loss, "dpo_loss", needs_grad=True)
    history = History(config=dict(algorithm="DPO (language model)", beta=beta, epochs=epochs, batch=batch, lr=lr,
                                  seed=seed, pairs=len(pairs["chosen"]), torch_threads=1, dpo_loss=loss_fn.source))
    measures: dict[str, list[float]] = {"iteration": []}
    with one_torch_thread():
        torch.manual_seed(seed)
        policy = load_sft_policy()
        reference = load_sft_policy().requires_grad_(False)
        optimizer = torch.optim.Adam(policy.parameters(), lr=lr)

        def logp_answer(model: TinyTransformer, tokens: Tensor) -> Tensor:
            mask = answer_key.answer_mask(tokens, PROMPT_LEN, END)[:, PROMPT_LEN:]
            return (answer_token_log_probs(model, tokens) * mask).sum(1)

        with torch.no_grad():
            ref_chosen, ref_rejected = logp_answer(reference, pairs["chosen"]), logp_answer(reference, pairs["rejected"])
        start, step = time.perf_counter(), 0
        n = len(pairs["chosen"])
        for _ in tqdm(range(epochs), disable=not progress, desc=bar_label("DPO")):
            for idx in torch.randperm(n).split(batch):
                if step % measure_every == 0:
                    measures["iteration"].append(step)
                    _record(measures, measure(policy, reference, reward_model, task))
                loss = loss_fn(logp_answer(policy, pairs["chosen"][idx]), logp_answer(policy, pairs["rejected"][idx]),
                               ref_chosen[idx], ref_rejected[idx], beta)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                step += 1
                history.policy_loss.append(loss.item())
                history.wall_time.append(time.perf_counter() - start)
        measures["iteration"].append(step)
        _record(measures, measure(policy, reference, reward_model, task))
        history.measures = measures  # type: ignore[attr-defined]
        history.policy = policy
        return history
