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


# ---------------------------------------------------------------- RLHF in miniature
from course_utils.experiments import llm_rlhf as rlhf_cache  # noqa: E402
from course_utils.trainers import llm_rlhf  # noqa: E402


def test_the_gold_rater_rewards_right_sums_and_charges_each_filler():
    task = AdditionTask()
    texts = ["132.", "132~.", "132~~~.", "131.", "131~.", "132"]
    operands = torch.tensor([[47, 85]] * len(texts))
    tokens = torch.cat([task.prompts(operands), _answers(task, texts)], 1)
    gold = llm_rlhf.gold_score(task, operands, tokens)
    cost = llm_rlhf.FILLER_COST
    assert torch.allclose(gold, torch.tensor([1.0, 1 - cost, 1 - 3 * cost, 0.0, -cost, 0.0]))


def test_preferences_follow_the_gold_rater_when_it_is_certain():
    task = AdditionTask()
    sft = llm_grpo.load_sft_policy()
    pairs = llm_rlhf.preference_pairs(sft, task, 256, torch.Generator().manual_seed(0), tau=1e-6)
    chosen = llm_rlhf.gold_score(task, pairs["operands"], pairs["chosen"])
    rejected = llm_rlhf.gold_score(task, pairs["operands"], pairs["rejected"])
    assert (chosen >= rejected).all() and (chosen > rejected).float().mean() > 0.2
    assert torch.equal(pairs["chosen"][:, :PROMPT_LEN], pairs["rejected"][:, :PROMPT_LEN])  # one prompt per pair


def test_reward_model_ppo_and_dpo_are_deterministic_and_take_the_learners_functions():
    task = AdditionTask()
    pairs = llm_rlhf.preference_pairs(llm_grpo.load_sft_policy(), task, 128, torch.Generator().manual_seed(1))

    def my_bt(r_chosen, r_rejected):
        return torch.nn.functional.softplus(r_rejected - r_chosen).mean()

    a = llm_rlhf.train_reward_model(pairs, epochs=1, progress=False)
    b = llm_rlhf.train_reward_model(pairs, bradley_terry_loss=my_bt, epochs=1, progress=False)
    assert torch.allclose(a.score(pairs["chosen"]), b.score(pairs["chosen"]), atol=1e-5)
    both = torch.cat([a.score(pairs["chosen"]), a.score(pairs["rejected"])])
    assert abs(float(both.mean())) < 1e-4 and abs(float(both.std()) - 1) < 1e-4  # standardised
    for kl_in in ("reward", "loss"):
        h1 = llm_rlhf.train_llm_ppo(a, kl_in=kl_in, iterations=2, measure_every=2, progress=False)
        h2 = llm_rlhf.train_llm_ppo(a, kl_in=kl_in, iterations=2, measure_every=2, progress=False,
                                    kl_shaped_rewards=answers.kl_shaped_rewards)
        assert h1.measures == h2.measures and h2.config["kl_shaped_rewards"] == "learner"
        assert h1.measures["iteration"] == [0, 2] and h1.measures["kl"][0] == 0.0
    with pytest.raises(ValueError, match="kl_in"):
        llm_rlhf.train_llm_ppo(a, kl_in="both", iterations=1, progress=False)
    d = llm_rlhf.train_dpo(pairs, a, epochs=1, measure_every=1, progress=False)
    assert d.measures["iteration"] == [0, 1, 2] and d.config["dpo_loss"] == "answer"


def test_the_rlhf_cache_has_five_seeds_three_methods_and_its_command():
    data = rlhf_cache.load()
    assert rlhf_cache.cache_path() == store.path("llm_rlhf.json") and "llm_rlhf" in command.names()
    assert len(data["runs"]) >= 5 and data["meta"]["command"].startswith("python -m course_utils experiments llm_rlhf")
    for method in rlhf_cache.METHODS:
        gold, kl = rlhf_cache.curves(data, method, "gold"), rlhf_cache.curves(data, method, "kl")
        assert gold.shape == kl.shape and gold.shape[0] == len(data["runs"])
        assert (kl[:, 0] == 0).all()  # the first measurement is the SFT model itself
    assert len(rlhf_cache.peak_kl(data, "ppo_reward")) == len(data["runs"])


def test_dpo_takes_the_learners_loss_and_moves_the_policy_towards_the_chosen_answers():
    task = AdditionTask()
    pairs = llm_rlhf.preference_pairs(llm_grpo.load_sft_policy(), task, 128, torch.Generator().manual_seed(2))
    reward_model = llm_rlhf.train_reward_model(pairs, epochs=1, progress=False)

    def my_dpo(logp_chosen, logp_rejected, logp_ref_chosen, logp_ref_rejected, beta):
        margin = (logp_chosen - logp_rejected) - (logp_ref_chosen - logp_ref_rejected)
        return torch.nn.functional.softplus(-beta * margin).mean()

    a = llm_rlhf.train_dpo(pairs, reward_model, epochs=2, measure_every=4, progress=False)
    b = llm_rlhf.train_dpo(pairs, reward_model, dpo_loss=my_dpo, epochs=2, measure_every=4, progress=False)
    assert b.config["dpo_loss"] == "learner"
    assert a.measures["kl"] == pytest.approx(b.measures["kl"], abs=1e-3)
    assert a.policy_loss[-1] < a.policy_loss[0]  # the pairs' implicit-reward margin grew
