"""Chapter 08's loop items, ppo_update and the capstone ppo_capstone: the answer passes, the stub is
not implemented, every catalogued wrong loop is rejected with its own message, correct variants pass,
and the sandbox's path (observations through the transport, judged without the learner's code) agrees."""
from __future__ import annotations

import json

import pytest
import torch

from course_utils.catalogue import grade, registry
from course_utils.grading import transport
from course_utils.grading.judge import judge_exercise
from course_utils.grading.observe import observe_exercise
from tests.alternatives_loops_ch08 import CAPSTONE_ALTERNATIVES, UPDATE_ALTERNATIVES

IDS = ("ppo_update", "ppo_capstone")


def _sandboxed(ex, fn):
    return judge_exercise(ex, transport.decode(json.loads(json.dumps(transport.encode(observe_exercise(ex, fn))))))


@pytest.mark.parametrize("ex_id", IDS)
def test_loop_items_of_chapter_08(ex_id):
    ex = registry()[ex_id]
    assert ex.kind == "loop" and ex.chapter.startswith("08") and len(ex.hints) == 3
    assert len(ex.mistakes) >= 5 and len({m.message for m in ex.mistakes}) == len(ex.mistakes)


@pytest.mark.parametrize("ex_id", IDS)
def test_the_answer_passes_in_the_workbook_and_through_the_sandbox(ex_id):
    ex = registry()[ex_id]
    assert grade(ex_id, ex.answer).passed
    assert _sandboxed(ex, ex.answer).passed


def test_the_stubs_are_not_implemented():
    def ppo_update(agent, optimizer, obs, actions, logp_old, advantages, returns, minibatches, clip_eps, value_coef,
                   ent_coef, max_grad_norm, target_kl):
        raise NotImplementedError

    def ppo_capstone(envs, agent, optimizer, iterations, num_steps, gamma, lam, clip_eps, minibatches, value_coef,
                     ent_coef, max_grad_norm, target_kl, seed):
        raise NotImplementedError

    assert grade("ppo_update", ppo_update).status == "not_implemented"
    assert grade("ppo_capstone", ppo_capstone).status == "not_implemented"


@pytest.mark.parametrize("ex_id,mistake", [(i, m) for i in IDS for m in registry()[i].mistakes],
                         ids=lambda x: x if isinstance(x, str) else x.name)
def test_each_catalogued_mistake_is_rejected_with_its_own_message(ex_id, mistake):
    ex = registry()[ex_id]
    for res in (grade(ex_id, mistake.fn), _sandboxed(ex, mistake.fn)):
        assert not res.passed
        assert res.diagnosis == mistake.message and res.mistake == mistake.name


@pytest.mark.parametrize("ex_id,fn", [("ppo_update", f) for f in UPDATE_ALTERNATIVES]
                         + [("ppo_capstone", f) for f in CAPSTONE_ALTERNATIVES], ids=lambda x: getattr(x, "__name__", x))
def test_correct_variants_pass(ex_id, fn):
    res = grade(ex_id, fn)
    assert res.passed, res.message
    assert _sandboxed(registry()[ex_id], fn).passed


def test_the_update_says_where_the_parameters_first_differ_and_what_agrees():
    ex = registry()["ppo_update"]
    wrong = next(m for m in ex.mistakes if m.name == "one optimiser step per epoch")
    res = grade("ppo_update", wrong.fn)
    assert "`actor.0.weight after the update` differs from the answer's, first at output" in res.headline
    assert "`epochs run (returned)`" in res.details  # the part of the loop that is right


def test_the_capstone_says_which_step_and_env_differ():
    ex = registry()["ppo_capstone"]
    wrong = next(m for m in ex.mistakes if m.name == "truncation treated as termination")
    res = grade("ppo_capstone", wrong.fn)
    assert "`advantages of the last rollout` differs from the answer's, first at step" in res.headline
    assert ", env " in res.headline


def test_a_capstone_that_returns_nothing_is_told_what_to_return():
    def ppo_capstone(*args):
        registry()["ppo_capstone"].answer(*args)

    res = grade("ppo_capstone", ppo_capstone)
    assert not res.passed and "'episode_returns'" in res.message


def test_the_case_agent_acts_the_same_per_environment_and_vectorised():
    from course_utils.checks.ch08_ppo import CaseAgent

    torch.manual_seed(0)
    agent, obs = CaseAgent(), torch.randn(64, 4)
    together = agent.act(obs)
    assert torch.equal(together, torch.cat([agent.act(obs[i : i + 1]) for i in range(64)]))
    assert 10 < int(together.sum()) < 54  # both actions occur: it samples, it is not the argmax
