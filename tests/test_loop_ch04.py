"""Chapter 04's loop items, a2c_rollout and a2c_update: the answer passes, the stub is not implemented,
every catalogued wrong loop is rejected with its own message, correct variants pass, and the sandbox's
path (observations through the transport, judged without the learner's code) agrees."""
from __future__ import annotations

import json

import pytest

from course_utils.catalogue import grade, registry
from course_utils.grading import transport
from course_utils.grading.judge import judge_exercise
from course_utils.grading.observe import observe_exercise
from tests.alternatives_loops_ch04 import ROLLOUT_ALTERNATIVES, UPDATE_ALTERNATIVES

IDS = ("a2c_rollout", "a2c_update")


def _sandboxed(ex, fn):
    return judge_exercise(ex, transport.decode(json.loads(json.dumps(transport.encode(observe_exercise(ex, fn))))))


@pytest.mark.parametrize("ex_id", IDS)
def test_loop_items_of_chapter_04(ex_id):
    ex = registry()[ex_id]
    assert ex.kind == "loop" and ex.chapter.startswith("04") and len(ex.hints) == 3
    assert len(ex.mistakes) >= 5 and len({m.message for m in ex.mistakes}) == len(ex.mistakes)


@pytest.mark.parametrize("ex_id", IDS)
def test_the_answer_passes_in_the_workbook_and_through_the_sandbox(ex_id):
    ex = registry()[ex_id]
    assert grade(ex_id, ex.answer).passed
    assert _sandboxed(ex, ex.answer).passed


def test_the_stubs_are_not_implemented():
    def a2c_rollout(envs, obs, act, value, num_steps):
        raise NotImplementedError

    def a2c_update(agent, optimizer, rollout, gamma, value_coef, entropy_coef, max_grad_norm):
        raise NotImplementedError

    assert grade("a2c_rollout", a2c_rollout).status == "not_implemented"
    assert grade("a2c_update", a2c_update).status == "not_implemented"


@pytest.mark.parametrize("ex_id,mistake", [(i, m) for i in IDS for m in registry()[i].mistakes],
                         ids=lambda x: x if isinstance(x, str) else x.name)
def test_each_catalogued_mistake_is_rejected_with_its_own_message(ex_id, mistake):
    ex = registry()[ex_id]
    for res in (grade(ex_id, mistake.fn), _sandboxed(ex, mistake.fn)):
        assert not res.passed
        assert res.diagnosis == mistake.message and res.mistake == mistake.name


@pytest.mark.parametrize("ex_id,fn", [("a2c_rollout", f) for f in ROLLOUT_ALTERNATIVES]
                         + [("a2c_update", f) for f in UPDATE_ALTERNATIVES], ids=lambda x: getattr(x, "__name__", x))
def test_correct_variants_pass(ex_id, fn):
    res = grade(ex_id, fn)
    assert res.passed, res.message
    assert _sandboxed(registry()[ex_id], fn).passed


def test_the_rollout_says_which_step_and_env_differ_and_what_agrees():
    ex = registry()["a2c_rollout"]
    wrong = next(m for m in ex.mistakes if m.name == "bootstrapped from the reset observation")
    res = grade("a2c_rollout", wrong.fn)
    assert "`truncation_values` differs from the answer's, first at step 3, env 1" in res.headline
    assert "`obs`, `actions`, `logp`, `values`, `rewards`, `terminated`, `truncated`" in res.details


def test_the_update_says_which_parameter_first_diverged():
    wrong = next(m for m in registry()["a2c_update"].mistakes if m.name == "zero_grad forgotten")
    res = grade("a2c_update", wrong.fn)
    assert "`actor.0.weight after the update` differs from the answer's, first at output" in res.headline
    assert "`policy_loss (returned)`, `value_loss (returned)`" in res.details


def test_an_unreadable_rollout_says_what_to_return():
    def returns_a_tuple(envs, obs, act, value, num_steps):
        out = registry()["a2c_rollout"].answer(envs, obs, act, value, num_steps)
        return out["obs"], out["actions"]

    res = grade("a2c_rollout", returns_a_tuple)
    assert not res.passed and "'obs'" in res.details and "'next_obs'" in res.details
