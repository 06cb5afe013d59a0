"""The grading engine on ``loop`` items (lock-step replay), on a small loop made up for the test.

The loop: plain SGD on a linear model over minibatches handed in, returning the loss of each step.
The chapters' real loop items (rollouts, A2C/TRPO/PPO/GRPO updates) are tested in test_loop_ch*.py;
this file pins the engine's behaviour: what a loop may change, how its record travels through the
sandbox's transport, and what the learner reads when a record differs.
"""
from __future__ import annotations

import json

import torch
from torch import nn

from course_utils.grading import transport
from course_utils.grading.check_function import grade_exercise
from course_utils.grading.judge import judge_exercise
from course_utils.grading.observe import observe_exercise
from course_utils.grading.spec import Case, Exercise, Mistake, OutcomeError


def sgd_steps(model, optimizer, x, y, minibatches):
    """One optimiser step per minibatch (index lists) on the mean squared error; the losses, (B,)."""
    losses = []
    for idx in minibatches:
        optimizer.zero_grad()
        loss = ((model(x[idx]).squeeze(-1) - y[idx]) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {"losses": losses}


def sgd_steps_vectorised_variant(model, optimizer, x, y, minibatches):
    """Correct too: zero_grad after the step (and before the first), a tensor of losses."""
    optimizer.zero_grad()
    out = []
    for idx in minibatches:
        loss = nn.functional.mse_loss(model(x[idx]).reshape(-1), y[idx])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        out.append(loss.detach())
    return {"losses": torch.stack(out)}


def no_zero_grad(model, optimizer, x, y, minibatches):
    losses = []
    for idx in minibatches:
        loss = ((model(x[idx]).squeeze(-1) - y[idx]) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {"losses": losses}


def one_step_for_all(model, optimizer, x, y, minibatches):
    optimizer.zero_grad()
    losses = []
    for idx in minibatches:
        loss = ((model(x[idx]).squeeze(-1) - y[idx]) ** 2).mean()
        loss.backward()
        losses.append(loss.item())
    optimizer.step()
    return {"losses": losses}


def _args():
    gen = torch.Generator().manual_seed(3)
    with torch.random.fork_rng():
        torch.manual_seed(5)
        model = nn.Linear(3, 1)
    x = torch.randn(12, 3, generator=gen)
    y = torch.randn(12, generator=gen)
    return {"model": model, "optimizer": torch.optim.SGD(model.parameters(), lr=0.1), "x": x, "y": y,
            "minibatches": [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]}


def _record(args, returned):
    if not isinstance(returned, dict) or "losses" not in returned:
        raise OutcomeError("return a dict with the key 'losses'.")
    record = {f"{name} after the loop": p for name, p in args["model"].named_parameters()}
    record["returned losses"] = torch.as_tensor(returned["losses"], dtype=torch.float32).reshape(-1)
    return record


EX = Exercise(
    id="sgd_steps", chapter="test", title="SGD over minibatches", kind="loop",
    signature="sgd_steps(model, optimizer, x (N, 3), y (N,), minibatches list of index lists) -> {'losses'}",
    answer=sgd_steps, cases=lambda: [Case("three minibatches of four", _args, shown="12 points, 3 minibatches")],
    updates=("model", "optimizer"), outcome=_record,
    record_axes={"weight after the loop": ("output", "input"), "returned losses": ("minibatch",)},
    mistakes=[Mistake("zero_grad forgotten", no_zero_grad, "gradients accumulate: zero them before each backward."),
              Mistake("one step per epoch", one_step_for_all, "one optimiser step per minibatch, not one for all.")],
    hints=["q", "idea", "key"],
)


def _sandboxed(fn):
    return judge_exercise(EX, transport.decode(json.loads(json.dumps(transport.encode(observe_exercise(EX, fn))))))


def test_the_answer_and_a_correct_variant_pass_in_the_workbook_and_through_the_sandbox():
    for fn in (sgd_steps, sgd_steps_vectorised_variant):
        assert grade_exercise(EX, fn).passed
        assert _sandboxed(fn).passed


def test_each_catalogued_wrong_loop_is_named_with_the_first_entry_that_differs():
    for mistake in EX.mistakes:
        for res in (grade_exercise(EX, mistake.fn), _sandboxed(mistake.fn)):
            assert not res.passed
            assert res.diagnosis == mistake.message and res.mistake == mistake.name
            assert "`weight after the loop` differs from the answer's, first at output 0, input" in res.headline


def test_entries_that_agree_are_listed_and_the_returned_statistics_are_compared():
    def wrong_losses(model, optimizer, x, y, minibatches):
        out = sgd_steps(model, optimizer, x, y, minibatches)
        return {"losses": [v * 2 for v in out["losses"]]}

    res = grade_exercise(EX, wrong_losses)
    assert not res.passed and "`returned losses` differs" in res.headline and "minibatch 0" in res.headline
    assert "These agree with the answer: `weight after the loop`, `bias after the loop`" in res.details
    assert res.diagnosis == ""


def test_the_stub_an_unreadable_return_and_a_changed_batch_get_their_own_messages():
    def stub(model, optimizer, x, y, minibatches):
        raise NotImplementedError

    assert grade_exercise(EX, stub).status == "not_implemented"

    def returns_nothing(model, optimizer, x, y, minibatches):
        sgd_steps(model, optimizer, x, y, minibatches)

    for res in (grade_exercise(EX, returns_nothing), _sandboxed(returns_nothing)):
        assert not res.passed and "could not be read" in res.headline and "'losses'" in res.details

    def shuffles_the_batch(model, optimizer, x, y, minibatches):
        x[:] = x.flip(0)
        return sgd_steps(model, optimizer, x, y, minibatches)

    res = grade_exercise(EX, shuffles_the_batch)
    assert not res.passed and "modified its input `x` in place" in res.headline


def test_the_sandbox_must_have_run_the_loop_on_the_policy_the_grader_builds():
    observed = transport.decode(json.loads(json.dumps(transport.encode(observe_exercise(EX, sgd_steps)))))
    real = EX.cases

    def other_init():
        args = _args()
        with torch.no_grad():
            args["model"].weight.add_(1.0)
        return args

    EX.cases = lambda: [Case("three minibatches of four", other_init)]
    try:
        res = judge_exercise(EX, observed)
    finally:
        EX.cases = real
    assert not res.passed and "internal grader error" in res.headline
