"""The trusted half of grading: compare what a learner's function did with the answer, and say why.

:func:`judge_case` takes an :class:`~course_utils.grading.observe.Observation` (the outcome of
one call on one case) and either accepts it (None) or returns the failed
:class:`~course_utils.grading.result.Result`: the case, its inputs, the expected and the obtained
values, and, when the learner's output equals one of the exercise's catalogued mistakes, that
mistake's diagnosis. The answer and the mistakes run here, on inputs this side builds itself
from the case, never on anything the learner's code handed over except its outputs.
:func:`judge_exercise` judges a whole exercise observed elsewhere (the batch grader's sandbox).
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch

from course_utils.grading import comparison, replay
from course_utils.grading.calls import gradients, inputs_digest, prepare_args, preserved_rng
from course_utils.grading.guard import GradingTimeout, Outcome, deadline, describe_printed
from course_utils.grading.observe import Observation, Observed
from course_utils.grading.result import Result, compose
from course_utils.grading.spec import Case, Exercise, ExtraCheck

DEBUG_NUDGE = ("This is still the output of the code you were handed: the bug is in there. Compare each line "
               "with the lesson's definition on the failing case above (hint(...) narrows it down).")
MISTAKE_TIMEOUT_S = 3.0  # a catalogued mistake that loops (e.g. ignores truncation) is abandoned
NO_TIME_LIMIT = ("This check ran without a time limit (not available on this platform or thread); "
                 "if it never finishes, press Interrupt (the square button) in the toolbar.")

__all__ = ["DEBUG_NUDGE", "MISTAKE_TIMEOUT_S", "judge_case", "judge_extra", "judge_exercise", "conclude", "fail", "internal_error",
           "evaluate"]


def evaluate(ex: Exercise, fn: Callable[..., Any], case: Case, kwargs: dict[str, Any]):
    """Run a trusted implementation (the answer or a mistake): its value (detached) and gradients."""
    call_kwargs = prepare_args(ex, kwargs)
    with torch.enable_grad():
        value = fn(*call_kwargs.values())
    if ex.returns == "float":
        return float(value), None
    value = torch.as_tensor(value)
    grads = None
    if ex.grad_wrt and value.requires_grad:
        grads, _ = gradients(ex, value, call_kwargs)
    return value.detach(), grads


def _same(ex: Exercise, case: Case, a_val, a_grads, b_val, b_grads) -> bool:
    atol = case.atol if case.atol is not None else ex.atol
    rtol = case.rtol if case.rtol is not None else ex.rtol
    if ex.returns == "float":
        return b_val is not None and abs(float(a_val) - float(b_val)) <= atol + rtol * abs(float(b_val))
    if not isinstance(a_val, torch.Tensor) or not comparison.close(a_val, b_val, atol, rtol):
        return False
    if a_grads is not None and b_grads is not None:
        return all(comparison.close(a_grads[k], b_grads[k], atol, rtol) for k in b_grads)
    return True


ZERO_NOTE = ("your function returns 0 for every entry here (if it does on every input, the computation is not "
             "written yet, or everything is multiplied by a zero term)")
ZERO_MISTAKE = "(returns 0)"  # not a catalogued mistake: the name the class report counts it under


def _agree(ex: Exercise, case: Case, got, got_grads, m_val, m_grads, broadcast: bool) -> bool:
    """Whether the learner's output equals a mistake's; with ``broadcast``, where the shapes differ
    and one of them holds a single value, after broadcasting it (a scalar where the mistake gives
    shape (1,), or one value repeated over shape (P,), is that mistake)."""
    if isinstance(m_val, torch.Tensor) and isinstance(got, torch.Tensor) and m_val.shape != got.shape:
        if not broadcast or min(m_val.numel(), got.numel()) != 1:
            return False
        shape = m_val.shape if got.numel() == 1 else got.shape
        return _same(ex, case, got.reshape(()).expand(shape) if got.numel() == 1 else got, None,
                     m_val.reshape(()).expand(shape) if m_val.numel() == 1 else m_val, None)
    return not broadcast and _same(ex, case, got, got_grads, m_val, m_grads)


def _all_zero(value) -> bool:
    if isinstance(value, torch.Tensor):
        return value.numel() > 0 and bool((value.detach() == 0).all())
    return isinstance(value, (int, float)) and value == 0


def _diagnosed(ex: Exercise, case: Case, got, got_grads, by_value_only: bool = False,
               expected=None) -> dict[str, str]:
    """``{diagnosis, mistake}``: the message and the name of the first catalogued mistake that
    reproduces the learner's answer, of the same shape first, then after broadcasting a single value.
    An answer that is 0 everywhere (the reference is not) is said to be so: alone when no mistake
    gives it, beside the mistake when one gives 0 on this case too (one case cannot tell them apart)."""
    zero = expected is not None and _all_zero(got) and not _all_zero(expected)
    values = []
    for mistake in ex.mistakes:
        try:
            with contextlib.redirect_stdout(None), preserved_rng(), deadline(MISTAKE_TIMEOUT_S):
                values.append((mistake, *evaluate(ex, mistake.fn, case, case.make_args())))
        except (Exception, GradingTimeout):  # noqa: BLE001  (a mistake may crash or loop on some inputs)
            continue
    for broadcast in (False, True):
        for mistake, m_val, m_grads in values:
            if _agree(ex, case, got, None if by_value_only else got_grads, m_val, None if by_value_only else m_grads,
                      broadcast):
                if mistake.name == ex.bug:  # a debug exercise still making the bug it was handed out with
                    return {"diagnosis": DEBUG_NUDGE, "mistake": mistake.name}
                return {"diagnosis": f"{ZERO_NOTE}. Or: {mistake.message}" if zero else mistake.message,
                        "mistake": mistake.name}
    if zero:
        return {"diagnosis": ZERO_NOTE[:1].upper() + ZERO_NOTE[1:] + ".", "mistake": ZERO_MISTAKE}
    return {"diagnosis": "", "mistake": ""}


def fail(ex: Exercise, the_case: Case, kwargs: dict[str, Any], headline: str, index: int, total: int,
         **fields) -> Result:
    """A failed result on ``the_case`` (case ``index`` of ``total``), its inputs shown from ``kwargs``."""
    shown = the_case.shown if the_case.shown is not None else comparison.fmt_inputs(kwargs)
    data: dict[str, Any] = dict(exercise_id=ex.id, passed=False, status="failed", title=ex.title, headline=headline,
                                case=the_case.name, case_why=the_case.why or "", inputs=shown, cases_run=index,
                                cases_total=total)
    data.update(fields)
    return Result(**data)


def _note_printed(obs: Observation, notes: list[str]) -> None:
    printed = describe_printed(Outcome(printed=obs.printed, printed_chars=obs.printed_chars))
    if printed and printed not in notes:
        notes.append(printed)
    if not obs.timeout_enforced and "no time limit" not in " ".join(notes):
        notes.append(NO_TIME_LIMIT)


def judge_case(ex: Exercise, case: Case, index: int, total: int, obs: Observation, notes: list[str],
               kwargs: Optional[dict[str, Any]] = None) -> Optional[Result]:
    """None when ``obs`` agrees with the answer on ``case`` (case ``index`` of ``total``), else the
    failed Result. ``kwargs``: the pristine inputs of the call (rebuilt from the case when None);
    notes (what was printed, a missing time limit) are appended to ``notes``."""
    if kwargs is None:
        kwargs = comparison.clone_inputs(case.make_args())
    _note_printed(obs, notes)

    def failed(headline: str, **fields) -> Result:
        return fail(ex, case, kwargs, headline, index, total, **fields)

    if obs.kind == "not_implemented":
        return failed("the function still raises NotImplementedError. Replace the `# YOUR CODE HERE` "
                      "line and `raise NotImplementedError` with your code, run that cell, then run this check again.",
                      status="not_implemented", case="", inputs="")
    if obs.kind == "timeout":
        return failed(f"your function did not finish within {obs.limit_s:g} seconds "
                      "and was stopped. Look for a loop that never ends.", diagnosis=ex.timeout_hint)
    if obs.kind == "unreadable":  # a loop item whose return value the record could not be read from
        return failed("what your loop returned could not be read.", details=obs.error)
    if obs.kind != "ok":
        details = "Traceback (your code):\n" + obs.error
        if "TypeError" in obs.error and ("argument" in obs.error or "positional" in obs.error):
            details += f"\nThe grader calls your function as {ex.signature}."
        return failed("your function raised an error on this input.", details=details)

    flagged = [c[: -len(".requires_grad")] for c in obs.mutated if c.endswith(".requires_grad")]
    if flagged:
        names = ", ".join(f"`{c}`" for c in flagged)
        return failed(f"your function switched the requires_grad flag of the caller's {names} (e.g. with "
                      "`theta.requires_grad_(True)`). The caller's tensor must come back as it was given: "
                      "differentiate with respect to a fresh leaf copy, `theta = theta.detach().requires_grad_(True)`.")
    if obs.mutated:
        names = ", ".join(f"`{c}`" for c in obs.mutated)
        return failed(f"your function modified its input {names} in place. The caller still needs those "
                      "values: work on a copy (e.g. `x = x.clone()`) or use out-of-place operations "
                      "(`x = x - 1` instead of `x -= 1`).")

    if ex.outcome is not None:  # a loop item: lock-step replay of the answer on fresh inputs
        return replay.judge_record(ex, case, obs.value, failed, DEBUG_NUDGE)

    # fresh arguments: a call may consume them (step or close an environment)
    expected, expected_grads = evaluate(ex, ex.answer, case, case.make_args())
    if case.expected is not None:
        expected = case.expected(comparison.clone_inputs(kwargs))
        expected_grads = None
        if ex.returns != "float":
            expected = torch.as_tensor(expected)

    if ex.returns == "float":
        got = obs.value
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, (np.floating, np.integer)):
            got = float(got)
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            return failed(f"your function returned {'None' if got is None else 'a ' + type(got).__name__}, "
                          "but it should return a Python float.")
        if not _same(ex, case, float(got), None, expected, None):
            return failed("the returned number is wrong.", expected=comparison.fmt_number(expected),
                          got=comparison.fmt_number(float(got)),
                          **_diagnosed(ex, case, float(got), None, expected=float(expected)))
        return None

    got, problem, note = comparison.as_tensor(obs.value, expected)
    if problem:
        return failed(problem)
    if note:
        if ex.grad_wrt:
            return failed("your function returned a non-tensor value, so no gradient can flow through it. "
                          "This result feeds a loss that is minimised by gradient descent: compute it with "
                          "torch operations on the input tensors.", got=comparison.fmt_value(got))
        if note not in notes:
            notes.append(note)
    problem, note = comparison.dtype_problem(got, expected)
    if problem:
        return failed(problem, expected=comparison.fmt_value(expected), got=comparison.fmt_value(got))
    if note and note not in notes:
        notes.append(note)
    problem = comparison.shape_problem(got, expected)
    if problem:
        return failed(problem, **_diagnosed(ex, case, got.detach(), None, by_value_only=True, expected=expected))

    got_val = got.detach()
    exp_finite = torch.isfinite(expected)
    if not bool(torch.isfinite(got_val)[exp_finite].all()):
        return failed("your result contains NaN or infinite values where the reference is finite.",
                      expected=comparison.fmt_value(expected), got=comparison.fmt_value(got_val),
                      **_diagnosed(ex, case, got_val, None, by_value_only=True))

    if not _same(ex, case, got_val, None, expected, None):
        details = "" if expected.numel() <= 8 else "In detail: " + comparison.first_difference(got_val, expected) + "."
        return failed("the values are wrong.", expected=comparison.fmt_value(expected),
                      got=comparison.fmt_value(got_val), details=details,
                      **_diagnosed(ex, case, got_val, None, by_value_only=True, expected=expected))

    if ex.grad_wrt and expected_grads is not None:
        got_grads, why = obs.grads, obs.grads_why
        if got_grads is None:
            if why == "detached":
                return failed("the value is right, but it is cut off from the autograd graph, so no gradient "
                              "reaches the inputs: was it computed under torch.no_grad(), or through .item(), "
                              ".numpy(), .detach() or torch.tensor(...) of the inputs? A loss (or anything a loss "
                              "is built from) must be computed with gradients on.", expected="a tensor with a grad_fn",
                              got="a tensor with requires_grad=False")
            return failed("the value is right, but back-propagating through it failed.", details=why)
        for name in expected_grads:
            if not comparison.close(got_grads[name], expected_grads[name], ex.atol, ex.rtol):
                zero = bool((expected_grads[name] == 0).all())
                headline = (f"the value is right, but a gradient flows into `{name}`, which must be treated "
                            "as a constant." if zero else
                            f"the value is right, but its gradient with respect to `{name}` is wrong.")
                return failed(headline, expected=f"d/d{name} = {comparison.fmt_value(expected_grads[name])}",
                              got=f"d/d{name} = {comparison.fmt_value(got_grads[name])}",
                              **_diagnosed(ex, case, got_val, got_grads))
    return None


def judge_extra(extra: ExtraCheck, obs: Observation) -> Optional[str]:
    """The problem an extra check finds in ``obs`` (judged on inputs rebuilt here), or None."""
    if not isinstance(extra, ExtraCheck):  # an old-style callable: it ran beside the learner's code
        return obs.problem or None
    outcome = Outcome(value=obs.value, kind=obs.kind, error=obs.error, printed=obs.printed,
                      printed_chars=obs.printed_chars)
    return extra.judge(extra.make_args(), outcome)


def conclude(ex: Exercise, total: int, notes: list[str], problems: Sequence[Callable[[], Optional[str]]]) -> Result:
    """The result once all ``total`` cases agreed: failed on the first extra check whose thunk in
    ``problems`` returns a problem (or raises), else passed."""
    for problem_of in problems:
        try:
            problem = problem_of()
        except Exception as exc:  # noqa: BLE001
            problem = f"your function raised {type(exc).__name__}: {exc}"
        if problem:
            return compose(Result(exercise_id=ex.id, passed=False, status="failed", title=ex.title,
                                  headline=problem, notes=notes, cases_run=total, cases_total=total))
    return compose(Result(exercise_id=ex.id, passed=True, status="passed", title=ex.title, headline=ex.success,
                          notes=notes, cases_run=total, cases_total=total))


def internal_error(ex: Exercise, why: str) -> Result:
    """A failed result that blames the grader, not the learner (``why``: where it went wrong)."""
    return compose(Result(exercise_id=ex.id, passed=False, status="failed", title=ex.title,
                          headline=f"internal grader error {why}. Please report this to the course maintainers."))


def judge_exercise(ex: Exercise, observed: Observed) -> Result:
    """Judge what ``ex``'s function did, case by case, in order: THE per-case loop of grading.

    ``observed`` comes from :func:`~course_utils.grading.observe.observations` (in a workbook:
    lazy, each case called when this loop reaches it, so a check stops at the first wrong case)
    or from a sandbox (:func:`~course_utils.grading.observe.observe_exercise`, decoded by
    :mod:`~course_utils.grading.transport`). Each case's inputs are rebuilt here and must have the
    digest of those the function was called on; a missing or inconsistent observation is a
    grader error, never a pass. Never raises because of what the learner's function did."""
    if observed.error.startswith("not callable: "):
        kind = observed.error.split(": ", 1)[1]
        return compose(Result(exercise_id=ex.id, passed=False, status="failed", title=ex.title,
                              headline=f"check() needs the function itself, e.g. check({ex.id}), not its "
                              f"result (got a {kind})."))
    notes: list[str] = []
    with preserved_rng():
        try:
            cases = list(ex.cases())
        except Exception as exc:  # noqa: BLE001  (a grader bug must not look like the learner's)
            return internal_error(ex, f"while building cases: {exc!r}")
        observations = iter(observed.cases)
        for i, case in enumerate(cases, start=1):
            obs = next(observations, None)
            if obs is None:
                return internal_error(ex, f"on case {i}: the function was not run on it ({observed.why_missing()})")
            try:
                kwargs = case.make_args()
                if obs.digest != inputs_digest(kwargs):
                    return internal_error(ex, f"on case {i}: the sandbox called the function on other inputs than "
                                         "the grader built")
                res = judge_case(ex, case, i, len(cases), obs, notes, comparison.clone_inputs(kwargs))
            except Exception as exc:  # noqa: BLE001  (never let the check itself crash the notebook)
                res = fail(ex, case, {}, "the grader could not compare your result with the reference.",
                           i, len(cases), details=f"{type(exc).__name__}: {exc}")
            if res is not None:
                res.notes = notes
                return compose(res)
        extras = iter(observed.extras)

        def problem_of(extra: ExtraCheck) -> Optional[str]:
            obs = next(extras, None)
            return "the extra check did not run." if obs is None else judge_extra(extra, obs)

        return conclude(ex, len(cases), notes, [lambda extra=extra: problem_of(extra) for extra in ex.extra_checks])
