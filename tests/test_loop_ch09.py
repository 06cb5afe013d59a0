"""Chapter 09's loop item, grpo_update (GRPO's update over groups): the answer passes, the stub is not implemented, every
catalogued wrong loop is rejected with its own message, correct variants pass, and the sandbox's
path (observations through the transport, judged without the learner's code) agrees."""
from __future__ import annotations

import json

import pytest

from course_utils.catalogue import grade, registry
from course_utils.grading import transport
from course_utils.grading.judge import judge_exercise
from course_utils.grading.observe import observe_exercise
from tests.alternatives_loops_ch09 import ALTERNATIVES as BY_ID

ALTERNATIVES = BY_ID["grpo_update"]

EX = registry()["grpo_update"]


def _sandboxed(fn):
    return judge_exercise(EX, transport.decode(json.loads(json.dumps(transport.encode(observe_exercise(EX, fn))))))


def test_it_is_a_loop_item_of_chapter_09():
    assert EX.kind == "loop" and EX.chapter.startswith("09") and len(EX.hints) == 3


def test_the_answer_passes_in_the_workbook_and_through_the_sandbox():
    assert grade("grpo_update", EX.answer).passed
    assert _sandboxed(EX.answer).passed


def test_the_stub_is_not_implemented():
    def grpo_update(policy, reference, optimizer, prompts, answers, rewards, group_size, minibatches,
                    clip_eps, beta):
        raise NotImplementedError

    assert grade("grpo_update", grpo_update).status == "not_implemented"


def test_at_least_five_mistakes_are_catalogued():
    assert len(EX.mistakes) >= 5
    assert len({m.message for m in EX.mistakes}) == len(EX.mistakes)


@pytest.mark.parametrize("mistake", EX.mistakes, ids=lambda m: m.name)
def test_each_catalogued_mistake_is_rejected_with_its_own_message(mistake):
    for res in (grade("grpo_update", mistake.fn), _sandboxed(mistake.fn)):
        assert not res.passed
        assert res.diagnosis == mistake.message and res.mistake == mistake.name


@pytest.mark.parametrize("fn", ALTERNATIVES, ids=lambda f: f.__name__)
def test_correct_variants_pass(fn):
    assert grade("grpo_update", fn).passed, grade("grpo_update", fn).message
    assert _sandboxed(fn).passed


def test_a_loop_that_returns_nothing_is_told_what_to_return():
    def grpo_update(*args):
        EX.answer(*args)

    res = grade("grpo_update", grpo_update)
    assert not res.passed and "loss.item()" in res.message


def test_the_grpo_trainer_runs_the_loop_item_and_its_written_out_steps_agree():
    """train_grpo's update is answers.grpo_update (or the learner's grpo_update); with the learner's pieces
    plugged in instead, the written-out steps give the same run."""
    from course_utils import answers
    from course_utils.trainers.grpo_task import train_grpo

    kwargs = dict(iterations=6, prompts_per_iteration=8, group_size=4, seed=3, progress=False)
    ref = train_grpo(**kwargs)
    assert ref.config["grpo_update"] == "answer"
    pieces = train_grpo(group_relative_advantages=answers.group_relative_advantages, grpo_loss=answers.grpo_loss,
                        **kwargs)
    assert pieces.config["grpo_update"] is None
    mine = train_grpo(grpo_update=ALTERNATIVES[0], **kwargs)
    assert mine.config["grpo_update"] == "learner"
    assert pieces.iteration_mean_return == ref.iteration_mean_return and pieces.policy_loss == ref.policy_loss
    assert mine.iteration_mean_return[0] == ref.iteration_mean_return[0]
    assert abs(mine.policy_loss[0] - ref.policy_loss[0]) < 1e-5
    with pytest.raises(ValueError, match="alone"):
        train_grpo(grpo_update=ALTERNATIVES[0], grpo_loss=answers.grpo_loss, **kwargs)
