"""Chapter 02's loop item, reinforce_step: the answer passes, the stub is not implemented, every
catalogued wrong loop is rejected with its own message, correct variants pass, and the sandbox's
path (observations through the transport, judged without the learner's code) agrees."""
from __future__ import annotations

import json

import pytest

from course_utils.catalogue import grade, registry
from course_utils.grading import transport
from course_utils.grading.judge import judge_exercise
from course_utils.grading.observe import observe_exercise
from tests.alternatives_loops_ch02 import ALTERNATIVES as BY_ID

ALTERNATIVES = BY_ID["reinforce_step"]

EX = registry()["reinforce_step"]


def _sandboxed(fn):
    return judge_exercise(EX, transport.decode(json.loads(json.dumps(transport.encode(observe_exercise(EX, fn))))))


def test_it_is_a_loop_item_of_chapter_02():
    assert EX.kind == "loop" and EX.chapter.startswith("02") and len(EX.hints) == 3


def test_the_answer_passes_in_the_workbook_and_through_the_sandbox():
    assert grade("reinforce_step", EX.answer).passed
    assert _sandboxed(EX.answer).passed


def test_the_stub_is_not_implemented():
    def reinforce_step(policy, optimizer, episodes, gamma):
        raise NotImplementedError

    assert grade("reinforce_step", reinforce_step).status == "not_implemented"


def test_at_least_five_mistakes_are_catalogued():
    assert len(EX.mistakes) >= 5
    assert len({m.message for m in EX.mistakes}) == len(EX.mistakes)


@pytest.mark.parametrize("mistake", EX.mistakes, ids=lambda m: m.name)
def test_each_catalogued_mistake_is_rejected_with_its_own_message(mistake):
    for res in (grade("reinforce_step", mistake.fn), _sandboxed(mistake.fn)):
        assert not res.passed
        assert res.diagnosis == mistake.message and res.mistake == mistake.name


@pytest.mark.parametrize("fn", ALTERNATIVES, ids=lambda f: f.__name__)
def test_correct_variants_pass(fn):
    assert grade("reinforce_step", fn).passed, grade("reinforce_step", fn).message
    assert _sandboxed(fn).passed


def test_a_loop_that_returns_nothing_is_told_what_to_return():
    def reinforce_step(policy, optimizer, episodes, gamma):
        EX.answer(policy, optimizer, episodes, gamma)

    res = grade("reinforce_step", reinforce_step)
    assert not res.passed and "loss.item()" in res.message


def test_detached_log_probs_are_reported_not_crashing_the_grader():
    def reinforce_step(policy, optimizer, episodes, gamma):  # the stored log-probs have no gradient
        import torch

        logp = torch.cat([ep.logp for ep in episodes])
        weights = torch.cat([torch.ones(len(ep.rewards)) for ep in episodes])
        loss = -(logp * weights).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    res = grade("reinforce_step", reinforce_step)
    assert not res.passed and res.status != "passed"
