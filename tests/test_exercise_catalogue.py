"""Every exercise's checker accepts right answers and rejects wrong ones, each with its message."""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
import torch

import course_utils
from course_utils.catalogue import registry
from tests.alternatives import ALTERNATIVES

IDS = course_utils.exercise_ids()
SPINE = ["categorical_log_prob", "gaussian_log_prob", "score_gradient_gaussian_mean", "discounted_return",
         "pg_loss", "reward_to_go", "optimal_baseline", "td_residuals", "gae", "kl_categorical",
         "conjugate_gradient", "tabular_policy_evaluation", "ppo_clip_loss", "adaptive_kl_beta",
         "group_relative_advantages"]


def test_ids_are_unique_and_in_chapter_order():
    chapters = [registry()[i].chapter for i in IDS]
    assert chapters == sorted(chapters), "exercise_ids() must follow course order"


def test_catalogue_rejects_a_duplicate_id_and_missing_hints(monkeypatch):
    """Ids are dict keys in the catalogue, so a duplicate would silently replace an exercise: it must raise."""
    from course_utils import catalogue
    from course_utils.checks import ch01_log_derivative_trick as ch01

    first = ch01.EXERCISES[0]
    monkeypatch.setattr(catalogue, "_CATALOGUE", {})
    monkeypatch.setattr(ch01, "EXERCISES", [first, first])
    with pytest.raises(ValueError, match="defined twice"):
        catalogue.registry()
    monkeypatch.setattr(ch01, "EXERCISES", [dataclasses.replace(first, hints=first.hints[:1])])
    with pytest.raises(ValueError, match="tiered hints"):
        catalogue.registry()


def test_spine_exercises_present_so_far():
    # the spine exercises of the chapters that exist must all be registered
    chapters = {registry()[i].chapter[:2] for i in IDS}
    expected_by_chapter = {"01": SPINE[:3], "02": SPINE[3:5], "03": SPINE[5:7], "04": SPINE[7:8], "05": SPINE[8:9],
                           "06": SPINE[9:12], "08": SPINE[12:14], "09": SPINE[14:]}
    for ch, ids in expected_by_chapter.items():
        if ch in chapters:
            for ex_id in ids:
                if ex_id in ("kl_categorical", "conjugate_gradient"):
                    continue  # natural-gradient chapter may split these between 06 and 07
                assert ex_id in IDS, f"spine exercise {ex_id} missing from chapter {ch}"


@pytest.mark.parametrize("ex_id", IDS)
def test_catalogue_is_complete(ex_id):
    ex = registry()[ex_id]
    assert len(ex.hints) >= 3, "three tiers of hints: a nudge, the key idea, a near-solution"
    assert len(ex.mistakes) >= 2, "each exercise catalogues its classic mistakes"
    assert ex.success, "a passed check says what the result means"
    assert ALTERNATIVES.get(ex_id), "list at least one correct alternative in tests/alternatives.py"
    assert len(ex.cases()) >= 3


@pytest.mark.parametrize("ex_id", IDS)
def test_answer_passes_quickly(ex_id):
    ex = registry()[ex_id]
    course_utils.grade(ex_id, ex.answer)  # warm-up: imports and first-call costs are not the check's
    start = time.perf_counter()
    res = course_utils.grade(ex_id, ex.answer)
    elapsed = time.perf_counter() - start
    assert res.passed, res.message
    assert res.status == "passed" and res.message.startswith("PASSED")
    assert elapsed < 2.0, f"a check should return in about a second ({elapsed:.2f} s)"


@pytest.mark.parametrize("ex_id,alt", [(i, a) for i in IDS for a in ALTERNATIVES.get(i, [])],
                         ids=lambda x: getattr(x, "__name__", str(x)))
def test_correct_alternatives_pass(ex_id, alt):
    res = course_utils.grade(ex_id, alt)
    assert res.passed, res.message


@pytest.mark.parametrize("ex_id,mistake", [(i, m) for i in IDS for m in registry()[i].mistakes],
                         ids=lambda x: getattr(x, "name", str(x)))
def test_each_mistake_is_rejected_with_its_diagnosis(ex_id, mistake):
    from course_utils.grading.judge import ZERO_NOTE

    res = course_utils.grade(ex_id, mistake.fn)
    assert not res.passed
    if mistake.name == registry()[ex_id].bug:  # a debug exercise's own bug: found, but not named
        from course_utils.grading.check_function import DEBUG_NUDGE

        assert res.diagnosis == DEBUG_NUDGE and mistake.message not in res.message, res.message
        return
    assert mistake.message in res.message, res.message
    assert res.mistake == mistake.name  # the name travels as data (the class report counts it)
    if res.diagnosis.startswith(ZERO_NOTE):  # the mistake gives 0 on the failing case: so would a constant 0
        assert res.diagnosis == f"{ZERO_NOTE}. Or: {mistake.message}"
        return
    assert res.diagnosis == mistake.message


@pytest.mark.parametrize("ex_id", IDS)
def test_stub_reports_not_implemented(ex_id):
    def stub(*args):
        raise NotImplementedError("Write your code here, then run the check below.")

    res = course_utils.grade(ex_id, stub)
    assert not res.passed and res.status == "not_implemented"
    assert "NOT IMPLEMENTED YET" in res.message


# ---------------------------------------------------------------- hostile learner code
def _answer_of(ex_id):
    return registry()[ex_id].answer


def hostile_functions(ex_id):
    ref = _answer_of(ex_id)

    def returns_none(*args):
        return None

    def raises(*args):
        return {}["no such key"]

    def endless(*args):
        while True:
            pass

    def endless_swallowing(*args):
        while True:
            try:
                time.sleep(0.01)
            except Exception:  # learner code that swallows everything must still be stopped
                pass

    def mutates(*args):
        for a in args:
            if isinstance(a, torch.Tensor) and a.is_floating_point():
                a.mul_(2.0)
                break
        else:
            return None
        return ref(*args)

    def nan(*args):
        out = ref(*args)
        return out * float("nan") if isinstance(out, torch.Tensor) else float("nan")

    def wrong_shape(*args):
        out = ref(*args)
        return out.detach().unsqueeze(0).repeat(2, *([1] * out.dim())) if isinstance(out, torch.Tensor) else [out]

    def wrong_dtype(*args):
        out = ref(*args)
        if not isinstance(out, torch.Tensor):
            return "a string"
        return out.detach().round().long() if out.is_floating_point() else out.float()

    def a_string(*args):
        return "42"

    def deep_recursion(*args):
        return deep_recursion(*args)

    def calls_exit(*args):
        raise SystemExit(1)

    return [returns_none, raises, endless, endless_swallowing, mutates, nan, wrong_shape, wrong_dtype, a_string,
            deep_recursion, calls_exit]


@pytest.mark.parametrize("ex_id", IDS)
def test_hostile_code_is_contained(ex_id, monkeypatch):
    ex = registry()[ex_id]
    monkeypatch.setattr(ex, "timeout_s", 0.3)
    for fn in hostile_functions(ex_id):
        start = time.perf_counter()
        res = course_utils.grade(ex_id, fn)  # must not raise
        assert not res.passed, (fn.__name__, res.message)
        assert res.message.startswith("FAILED"), (fn.__name__, res.message)
        assert time.perf_counter() - start < 5, fn.__name__
        if fn.__name__.startswith("endless"):
            assert "did not finish" in res.message
        if fn.__name__ == "returns_none":
            assert "returned None" in res.message
        if fn.__name__ == "raises":
            assert "KeyError" in res.message and "raises" in res.message
        if fn.__name__ == "mutates" and "modified its input" not in res.message:
            # inputs that require grad make torch itself refuse the in-place operation; an exercise
            # without float tensor inputs cannot be mutated this way at all
            has_float_input = any(isinstance(v, torch.Tensor) and v.is_floating_point()
                                  for v in ex.cases()[0].make_args().values())
            assert not has_float_input or "in-place operation" in res.message, res.message


@pytest.mark.parametrize("ex_id", IDS)
def test_huge_print_is_truncated_and_does_not_fail(ex_id, capsys):
    ref = _answer_of(ex_id)

    def chatty(*args):
        print("x" * 5_000_000)
        return ref(*args)

    res = course_utils.grade(ex_id, chatty)
    assert res.passed, res.message
    assert "printed 5,000,001 characters" in res.message
    assert len(res.message) < 2_000
    assert capsys.readouterr().out == ""


def test_numpy_results_are_accepted_with_a_note_where_no_gradient_is_needed():
    res = course_utils.grade("softmax_score", lambda logits, actions: (
        np.eye(logits.shape[1])[actions.numpy()] - torch.softmax(logits, -1).numpy()).astype(np.float32))
    assert res.passed and "NumPy" in res.message


def test_numpy_results_are_rejected_where_gradients_matter():
    res = course_utils.grade("categorical_log_prob", lambda logits, actions: torch.log_softmax(
        logits, -1).gather(-1, actions[:, None]).squeeze(-1).detach().numpy())
    assert not res.passed and "no gradient can flow" in res.message


def test_detached_result_is_diagnosed():
    res = course_utils.grade("gaussian_log_prob", lambda x, mu, log_std: torch.distributions.Normal(
        mu, log_std.exp()).log_prob(x).sum(-1).detach())
    assert not res.passed and "cut off from the autograd graph" in res.message


def test_grade_never_raises_on_nonsense():
    assert not course_utils.grade("gae_typo", lambda: 0).passed
    assert "no exercise called" in course_utils.grade("no_such_exercise", len).message
    assert "function itself" in course_utils.grade("reward_to_go" if "reward_to_go" in IDS else IDS[0], 3.0).message


def test_statistical_case_tolerance_rejects_a_biased_estimator():
    # 10% bias is far outside 5 standard errors on 200,000 samples: must be rejected
    res = course_utils.grade("score_gradient_gaussian_mean",
                             lambda x, fx, mu, sigma: 1.1 * (fx * (x - mu) / sigma**2).mean())
    assert not res.passed


def test_grading_leaves_random_state_untouched():
    torch.manual_seed(0)
    np.random.seed(0)
    expected = torch.rand(3), np.random.rand(3)
    torch.manual_seed(0)
    np.random.seed(0)
    for ex_id in IDS:
        course_utils.grade(ex_id, _answer_of(ex_id))
    assert torch.equal(torch.rand(3), expected[0]) and np.array_equal(np.random.rand(3), expected[1])
