"""Chapter 07's loop item, trpo_update: the answer passes, the stub is not implemented, every
catalogued wrong loop is rejected with its own message, correct variants pass, the sandbox's path
(observations through the transport, judged without the learner's code) agrees, and the numbers the
cases quote in their explanations are what the cases do."""
from __future__ import annotations

import json
import math

import pytest
import torch

from course_utils import answers
from course_utils.catalogue import grade, registry
from course_utils.grading import transport
from course_utils.grading.judge import judge_exercise
from course_utils.grading.observe import observe_exercise
from course_utils.seeding import one_torch_thread
from tests.alternatives_loops_ch07 import ALTERNATIVES

EX = registry()["trpo_update"]


@pytest.fixture(autouse=True)
def _one_thread():
    with one_torch_thread():  # small tensors: two threads only add overhead (and the check has a time limit)
        yield


def _sandboxed(fn):
    return judge_exercise(EX, transport.decode(json.loads(json.dumps(transport.encode(observe_exercise(EX, fn))))))


def test_it_is_a_loop_item_of_chapter_07():
    assert EX.kind == "loop" and EX.chapter.startswith("07") and len(EX.hints) == 3


def test_the_answer_passes_in_the_workbook_and_through_the_sandbox():
    assert grade("trpo_update", EX.answer).passed
    assert _sandboxed(EX.answer).passed


def test_the_stub_is_not_implemented():
    def trpo_update(logits_fn, theta_old, actions, advantages, max_kl, damping, cg_iters, backtrack_iters,
                    backtrack_coeff):
        raise NotImplementedError

    assert grade("trpo_update", trpo_update).status == "not_implemented"


def test_at_least_five_mistakes_are_catalogued():
    assert len(EX.mistakes) >= 5
    assert len({m.message for m in EX.mistakes}) == len(EX.mistakes)


@pytest.mark.parametrize("mistake", EX.mistakes, ids=lambda m: m.name)
def test_each_catalogued_mistake_is_rejected_with_its_own_message(mistake):
    for res in (grade("trpo_update", mistake.fn), _sandboxed(mistake.fn)):
        assert not res.passed
        assert res.diagnosis == mistake.message and res.mistake == mistake.name


@pytest.mark.parametrize("fn", ALTERNATIVES, ids=lambda f: f.__name__)
def test_correct_variants_pass(fn):
    res = grade("trpo_update", fn)
    assert res.passed, res.message
    assert _sandboxed(fn).passed


def test_a_loop_that_returns_only_theta_is_told_what_to_return():
    def trpo_update(*args):
        return EX.answer(*args)[0]

    res = grade("trpo_update", trpo_update)
    assert not res.passed and "(theta_new, stats)" in res.message


def test_a_missing_statistic_is_named():
    def trpo_update(*args):
        theta_new, stats = EX.answer(*args)
        return theta_new, {k: v for k, v in stats.items() if k != "expected_improvement"}

    res = grade("trpo_update", trpo_update)
    assert not res.passed and "expected_improvement" in res.message


def test_a_loop_that_moves_theta_old_in_place_is_told():
    def trpo_update(logits_fn, theta_old, *rest):
        theta_new, stats = EX.answer(logits_fn, theta_old, *rest)
        theta_old.copy_(theta_new)  # "updates the policy" by overwriting the caller's tensor
        return theta_new, stats

    res = grade("trpo_update", trpo_update)
    assert not res.passed and "theta_old" in res.message


def test_the_line_search_cases_say_what_they_do():
    """The numbers quoted in the cases' explanations, recomputed (the search's every candidate)."""
    cases = EX.cases()

    def trace(case):
        logits_fn, theta_old, actions, advantages, max_kl, damping, cg_iters, backtrack_iters, c = \
            case.make_args().values()
        with torch.no_grad():
            logits_old = logits_fn(theta_old)
            logp_old = answers.categorical_log_prob(logits_old, actions)

        def L(theta):
            return (torch.exp(answers.categorical_log_prob(logits_fn(theta), actions) - logp_old) * advantages).mean()

        def kl(theta, reverse=False):
            pair = (logits_fn(theta), logits_old) if reverse else (logits_old, logits_fn(theta))
            return answers.kl_categorical(*pair).mean()

        theta = theta_old.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(L(theta), theta)
        Fvp = lambda v: answers.fisher_vector_product(kl, theta_old, v, damping)  # noqa: E731
        x = answers.conjugate_gradient(Fvp, g, cg_iters)
        s = answers.trust_region_step(x, Fvp(x), max_kl)
        with torch.no_grad():
            return [(float(L(theta_old + c**j * s) - L(theta_old)), float(kl(theta_old + c**j * s)),
                     float(kl(theta_old + c**j * s, reverse=True))) for j in range(3)], max_kl

    rows, _ = trace(cases[0])  # by hand: L = tanh(theta), KL = log cosh(theta), full step 0.2
    assert rows[0][0] == pytest.approx(math.tanh(0.2), abs=1e-6)
    assert rows[0][1] == pytest.approx(math.log(math.cosh(0.2)), abs=1e-6) and rows[0][1] < 0.02
    rows, delta = trace(cases[1])  # one step back
    assert round(rows[0][1], 4) == 0.0111 and rows[0][0] > 0 and round(rows[1][1], 4) == 0.0066
    rows, delta = trace(cases[2])  # two steps back
    assert round(rows[0][1], 3) == 0.020 and round(rows[1][1], 3) == 0.011 and rows[2][1] <= delta
    rows, delta = trace(cases[3])  # within the limit, surrogate worse
    assert round(rows[0][1], 4) == 0.0097 and round(rows[0][0], 4) == -0.0050 and rows[1][0] > 0
    rows, delta = trace(cases[4])  # the two directions of the KL on either side of delta
    assert round(rows[0][1], 3) == 0.011 and round(rows[0][2], 4) == 0.0095
    rows, delta = trace(cases[5])  # budget of 2: both break the limit
    assert rows[0][1] > delta and rows[1][1] > delta
    # every decision of every case has a margin far above float32 rounding, on both floating-point paths
    for case in cases:
        rows, delta = trace(case)
        for gain, kl, _ in rows:
            assert abs(kl / delta - 1) > 5e-3 and abs(gain) > 1e-3


def test_workbook_07_names_the_lesson_instead_of_printing_formulas_above_its_stubs():
    """Issue 25: the markdown a learner reads above a stub of workbook 07 carries no solving formula
    (the step's beta, the double back-propagation, the update's candidates); it names the lesson's section."""
    from tests.conftest import ROOT

    nb = json.loads((ROOT / "exercises" / "07_trpo.ipynb").read_text(encoding="utf-8"))
    forbidden = [r"\sqrt{2\delta", r"\sqrt{\frac{2\delta", r"\nabla_\theta\,(\nabla", r"\nabla_\theta \mathrm{KL} \cdot v",
                 "c^j s", r"\theta_k + c^j", "exp(", "rr_new / rr", "beta_k"]
    above = []
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            above.append(text)
            continue
        if "raise NotImplementedError" in text:
            prose = "\n".join(above)
            assert not [f for f in forbidden if f in prose], (text.splitlines()[0], prose)
            assert "lesson" in prose + text
        above = []
