"""Chapter 10: the adding task's checker, the tiny transformer, the shipped SFT model, GRPO on it, and its cache."""
from __future__ import annotations

import pytest
import torch

from course_utils import answers
from course_utils.experiments import command, llm_aggregation, store
from course_utils.trainers import llm_grpo
from course_utils.trainers.llm_grpo import ANSWER_LEN, END, PROMPT_LEN, AdditionTask, TinyTransformer


def _answers(task: AdditionTask, texts: list[str]) -> torch.Tensor:
    return torch.tensor([task.encode(t.ljust(ANSWER_LEN, "_")) for t in texts])


def test_the_checker_reads_up_to_the_end_and_ignores_trailing_fillers():
    task = AdditionTask()
    texts = ["132.", "132~~~.", "131.", "0132.", "13~2.", "132____", "132.99", "~132."]
    rewards = task.reward(torch.tensor([[47, 85]] * len(texts)), _answers(task, texts))
    assert rewards.tolist() == [1, 1, 0, 0, 0, 0, 1, 0]


def test_demonstrations_are_imperfect_and_padded_with_fillers():
    task = AdditionTask()
    g = torch.Generator().manual_seed(0)
    operands = task.operands(4000, g)
    demos = task.demonstrations(operands, g)
    right = task.reward(operands, demos).mean().item()
    assert 0.7 < right < 0.8  # one in four has a wrong digit
    mask = answers.answer_mask(torch.cat([task.prompts(operands), demos], 1), PROMPT_LEN, END)
    assert mask.sum(1).min() >= 2 and mask.sum(1).max() <= ANSWER_LEN
    assert 0.3 < (demos == llm_grpo.FILLER).any(1).float().mean().item() < 0.5


def test_the_transformer_is_causal_and_small():
    torch.manual_seed(0)
    model = TinyTransformer()
    assert 50_000 < sum(p.numel() for p in model.parameters()) < 100_000
    x = torch.randint(0, 15, (3, PROMPT_LEN + ANSWER_LEN))
    y = x.clone()
    y[:, 9] = (y[:, 9] + 1) % 15
    with torch.no_grad():
        a, b = model(x), model(y)
    assert torch.equal(a[:, :9], b[:, :9]) and not torch.equal(a[:, 9:], b[:, 9:])


def test_shipped_sft_model_is_small_tensors_only_and_recorded():
    path = llm_grpo.sft_path()
    assert path.stat().st_size < 400_000
    state = torch.load(path, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    record = llm_aggregation.load_sft_record()
    assert record["parameters"] == sum(v.numel() for k, v in state.items() if k.endswith(("weight", "bias")))
    assert record["meta"]["command"] == "python -m course_utils experiments llm_sft"
    assert 0.6 < record["evaluation"]["accuracy"] < 0.85  # imperfect: RL has room


def test_grpo_is_deterministic_and_takes_the_learners_functions():
    def my_mask(tokens, prompt_len, end_id):
        return answers.answer_mask(tokens, prompt_len, end_id)

    a = llm_grpo.train_llm_grpo(iterations=3, seed=3, progress=False)
    b = llm_grpo.train_llm_grpo(iterations=3, seed=3, progress=False, answer_mask=my_mask)
    assert a.stats == b.stats and a.iteration_mean_return == b.iteration_mean_return
    assert a.config["answer_mask"] == "answer" and b.config["answer_mask"] == "learner"
    for name in answers.language_models.AGGREGATIONS:
        h = llm_grpo.train_llm_grpo(iterations=1, seed=0, progress=False, aggregation=name)
        assert h.config["aggregation"] == name


def test_unknown_aggregation_is_refused():
    with pytest.raises(ValueError, match="aggregation"):
        answers.grpo_token_loss(torch.zeros(1, 2), torch.zeros(1, 2), torch.ones(1), torch.ones(1, 2), 0.2, "mean")


def test_the_cache_has_every_aggregation_over_five_seeds_and_its_command():
    data = llm_aggregation.load()
    assert llm_aggregation.cache_path() == store.path("llm_aggregation.json")
    assert set(data["runs"]) == set(llm_aggregation.AGGREGATIONS)
    for runs in data["runs"].values():
        assert len(runs) >= 5 and all(len(run["accuracy"]) == data["iterations"] for run in runs)
    assert {"llm_sft", "llm_aggregation"} <= set(command.names())
