"""The grading engine: compare a learner's function with the reference, case by case.

For each case of an exercise (in a fixed order) the learner's function is called on fresh
inputs under :func:`~course_utils.grading.guard.call_guarded`; the first case that fails stops
the check and is reported with its inputs, the expected and the obtained values, and, when the
answer equals one of the exercise's catalogued mistakes, that mistake's diagnosis. Gradients are
compared too for the exercises that name ``grad_wrt``. Random number generators are saved and
restored so that grading never changes what a seeded notebook computes next.
"""
from __future__ import annotations

import contextlib
import difflib
import random
import time
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch

from course_utils.grading import comparison
from course_utils.grading.guard import GradingTimeout, Outcome, _deadline, call_guarded, describe_printed
from course_utils.grading.result import Result, compose
from course_utils.grading.spec import Case, Exercise

TOTAL_BUDGET_S = 20.0  # a whole check stops after this much learner time
DEBUG_NUDGE = ("This is still the output of the code you were handed: the bug is in there. Compare each line "
               "with the lesson's definition on the failing case above (hint(...) narrows it down).")
MISTAKE_TIMEOUT_S = 3.0  # a catalogued mistake that loops (e.g. ignores truncation) is abandoned


@contextlib.contextmanager
def preserved_rng():
    """Restore Python, NumPy and torch RNG states (and torch's thread count) afterwards."""
    py_state, np_state, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    threads = torch.get_num_threads()
    grad_enabled = torch.is_grad_enabled()
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)
        torch.set_num_threads(threads)
        torch.set_grad_enabled(grad_enabled)


def _prepare(ex: Exercise, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Arguments for one call: inputs named in grad_wrt become fresh leaves that require grad."""
    out = dict(kwargs)
    for name in ex.grad_wrt:
        t = out.get(name)
        if isinstance(t, torch.Tensor):
            out[name] = t.detach().clone().requires_grad_(True)
    return out


def _cotangent(shape: torch.Size) -> torch.Tensor:
    """A fixed random direction for vector-Jacobian products (deterministic across runs)."""
    if len(shape) == 0:
        return torch.tensor(1.0)
    gen = torch.Generator().manual_seed(1234)
    return torch.rand(shape, generator=gen, dtype=torch.float32) + 0.5


def _grads(ex: Exercise, out: torch.Tensor, call_kwargs: dict[str, Any]) -> tuple[Optional[dict[str, torch.Tensor]], str]:
    """Gradients of <out, cotangent> w.r.t. the grad_wrt inputs, or (None, why not)."""
    leaves = [call_kwargs[n] for n in ex.grad_wrt if isinstance(call_kwargs.get(n), torch.Tensor)]
    names = [n for n in ex.grad_wrt if isinstance(call_kwargs.get(n), torch.Tensor)]
    if not out.requires_grad:
        return None, "detached"
    try:
        with torch.enable_grad():
            gs = torch.autograd.grad(out, leaves, grad_outputs=_cotangent(out.shape).to(out.dtype), allow_unused=True)
    except Exception as exc:  # noqa: BLE001
        return None, f"error: {type(exc).__name__}: {exc}"
    return {n: (torch.zeros_like(l) if g is None else g.detach()) for n, g, l in zip(names, gs, leaves)}, ""


def _evaluate(ex: Exercise, fn: Callable[..., Any], case: Case, kwargs: dict[str, Any]):
    """Run a trusted implementation (reference or mistake): value and gradients."""
    call_kwargs = _prepare(ex, kwargs)
    with torch.enable_grad():
        value = fn(*call_kwargs.values())
    if ex.returns == "float":
        return float(value), None
    value = torch.as_tensor(value)
    grads = None
    if ex.grad_wrt and value.requires_grad:
        grads, _ = _grads(ex, value, call_kwargs)
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


def _diagnose(ex: Exercise, case: Case, got, got_grads, by_value_only: bool = False) -> str:
    """The message of the first catalogued mistake that reproduces the learner's answer."""
    for mistake in ex.mistakes:
        try:
            with contextlib.redirect_stdout(None), preserved_rng(), _deadline(MISTAKE_TIMEOUT_S):
                m_val, m_grads = _evaluate(ex, mistake.fn, case, case.make_args())
        except (Exception, GradingTimeout):  # noqa: BLE001  (a mistake may crash or loop on some inputs)
            continue
        if isinstance(m_val, torch.Tensor) and isinstance(got, torch.Tensor) and m_val.shape != got.shape:
            continue
        if _same(ex, case, got, None if by_value_only else got_grads, m_val, None if by_value_only else m_grads):
            if mistake.name == ex.bug:  # a debug exercise still making the bug it was handed out with
                return DEBUG_NUDGE
            return mistake.message
    return ""


def _fail(ex: Exercise, the_case: Case, kwargs: dict[str, Any], headline: str, index: int, total: int,
          **fields) -> Result:
    shown = the_case.shown if the_case.shown is not None else comparison.fmt_inputs(kwargs)
    data: dict[str, Any] = dict(exercise_id=ex.id, passed=False, status="failed", title=ex.title, headline=headline,
                                case=the_case.name, case_why=the_case.why or "", inputs=shown, cases_run=index,
                                cases_total=total)
    data.update(fields)
    return Result(**data)


def _grade_case(ex: Exercise, fn: Callable[..., Any], case: Case, index: int, total: int,
                notes: list[str], budget_s: float) -> Optional[Result]:
    kwargs = case.make_args()
    pristine = comparison.clone_inputs(kwargs)
    call_kwargs = _prepare(ex, kwargs)
    outcome: Outcome = call_guarded(fn, call_kwargs, min(ex.timeout_s, budget_s))
    printed = describe_printed(outcome)
    if printed and printed not in notes:
        notes.append(printed)
    if not outcome.timeout_enforced and "no time limit" not in " ".join(notes):
        notes.append("This check ran without a time limit (not available on this platform or thread); "
                     "if it never finishes, press Interrupt (the square button) in the toolbar.")

    def fail(headline: str, **fields) -> Result:
        return _fail(ex, case, pristine, headline, index, total, **fields)

    if outcome.kind == "not_implemented":
        return fail("the function still raises NotImplementedError. Replace the `# YOUR CODE HERE` "
                    "line and `raise NotImplementedError` with your code, run that cell, then run this check again.",
                    status="not_implemented", case="", inputs="")
    if outcome.kind == "timeout":
        return fail(f"your function did not finish within {min(ex.timeout_s, budget_s):g} seconds "
                    "and was stopped. Look for a loop that never ends.", diagnosis=ex.timeout_hint)
    if outcome.kind == "exception":
        details = "Traceback (your code):\n" + outcome.error
        if "TypeError" in outcome.error and ("argument" in outcome.error or "positional" in outcome.error):
            details += f"\nThe grader calls your function as {ex.signature}."
        return fail("your function raised an error on this input.", details=details)

    changed = comparison.mutated_inputs(pristine, call_kwargs)
    if changed:
        names = ", ".join(f"`{c}`" for c in changed)
        return fail(f"your function modified its input {names} in place. The caller still needs those "
                    "values: work on a copy (e.g. `x = x.clone()`) or use out-of-place operations "
                    "(`x = x - 1` instead of `x -= 1`).")

    # fresh arguments: the learner's call may have consumed them (stepped or closed an environment)
    expected, expected_grads = _evaluate(ex, ex.answer, case, case.make_args())
    if case.expected is not None:
        expected = case.expected(comparison.clone_inputs(kwargs))
        expected_grads = None
        if ex.returns != "float":
            expected = torch.as_tensor(expected)

    if ex.returns == "float":
        got = outcome.value
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, (np.floating, np.integer)):
            got = float(got)
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            return fail(f"your function returned {'None' if got is None else 'a ' + type(got).__name__}, "
                        "but it should return a Python float.")
        if not _same(ex, case, float(got), None, expected, None):
            return fail("the returned number is wrong.", expected=comparison.fmt_number(expected), got=comparison.fmt_number(float(got)),
                        diagnosis=_diagnose(ex, case, float(got), None))
        return None

    got, problem, note = comparison.as_tensor(outcome.value, expected)
    if problem:
        return fail(problem)
    if note:
        if ex.grad_wrt:
            return fail("your function returned a non-tensor value, so no gradient can flow through it. "
                        "This result feeds a loss that is minimised by gradient descent: compute it with "
                        "torch operations on the input tensors.", got=comparison.fmt_value(got))
        if note not in notes:
            notes.append(note)
    problem, note = comparison.dtype_problem(got, expected)
    if problem:
        return fail(problem, expected=comparison.fmt_value(expected), got=comparison.fmt_value(got))
    if note and note not in notes:
        notes.append(note)
    problem = comparison.shape_problem(got, expected)
    if problem:
        return fail(problem, diagnosis=_diagnose(ex, case, got.detach(), None, by_value_only=True))

    got_val = got.detach()
    exp_finite = torch.isfinite(expected)
    if not bool(torch.isfinite(got_val)[exp_finite].all()):
        return fail("your result contains NaN or infinite values where the reference is finite.",
                    expected=comparison.fmt_value(expected), got=comparison.fmt_value(got_val),
                    diagnosis=_diagnose(ex, case, got_val, None, by_value_only=True))

    if not _same(ex, case, got_val, None, expected, None):
        details = "" if expected.numel() <= 8 else "In detail: " + comparison.first_difference(got_val, expected) + "."
        return fail("the values are wrong.", expected=comparison.fmt_value(expected), got=comparison.fmt_value(got_val),
                    details=details, diagnosis=_diagnose(ex, case, got_val, None, by_value_only=True))

    if ex.grad_wrt and expected_grads is not None:
        got_grads, why = _grads(ex, got, call_kwargs)
        if got_grads is None:
            if why == "detached":
                return fail("the value is right, but it is cut off from the autograd graph, so no gradient "
                            "reaches the inputs: was it computed under torch.no_grad(), or through .item(), "
                            ".numpy(), .detach() or torch.tensor(...) of the inputs? A loss (or anything a loss "
                            "is built from) must be computed with gradients on.", expected="a tensor with a grad_fn",
                            got="a tensor with requires_grad=False")
            return fail("the value is right, but back-propagating through it failed.", details=why)
        for name in expected_grads:
            if not comparison.close(got_grads[name], expected_grads[name], ex.atol, ex.rtol):
                zero = bool((expected_grads[name] == 0).all())
                headline = (f"the value is right, but a gradient flows into `{name}`, which must be treated "
                            "as a constant." if zero else
                            f"the value is right, but its gradient with respect to `{name}` is wrong.")
                return fail(headline, expected=f"d/d{name} = {comparison.fmt_value(expected_grads[name])}",
                            got=f"d/d{name} = {comparison.fmt_value(got_grads[name])}",
                            diagnosis=_diagnose(ex, case, got_val, got_grads))
    return None


def unknown_exercise(exercise_id: str, known_ids: Sequence[str]) -> Result:
    """The result for an id that names no exercise, suggesting the closest ones."""
    close_ids = difflib.get_close_matches(str(exercise_id), list(known_ids), n=3)
    suggestion = f" Did you mean {', '.join(repr(c) for c in close_ids)}?" if close_ids else ""
    return compose(Result(exercise_id=str(exercise_id), passed=False, status="unknown_exercise",
                          headline=f"there is no exercise called {exercise_id!r}.{suggestion} "
                          "Name your function like the exercise, or pass exercise_id=... to check()."))


def grade_exercise(ex: Exercise, fn: Callable[..., Any]) -> Result:
    """Grade ``fn`` as a solution of ``ex``; never raises because of what ``fn`` does.

    No display and no side effect on progress. :func:`course_utils.catalogue.grade` looks the
    exercise up by id and calls this.
    """
    if not callable(fn):
        return compose(Result(exercise_id=ex.id, passed=False, status="failed", title=ex.title,
                               headline=f"check() needs the function itself, e.g. check({ex.id}), not its "
                               f"result (got a {type(fn).__name__})."))
    notes: list[str] = []
    start = time.monotonic()
    with preserved_rng():
        try:
            cases = list(ex.cases())
        except Exception as exc:  # noqa: BLE001  (a grader bug must not look like the learner's)
            return compose(Result(exercise_id=ex.id, passed=False, status="failed", title=ex.title,
                                   headline=f"internal grader error while building cases: {exc!r}. "
                                   "Please report this to the course maintainers."))
        for i, case in enumerate(cases, start=1):
            budget = TOTAL_BUDGET_S - (time.monotonic() - start)
            try:
                res = _grade_case(ex, fn, case, i, len(cases), notes, max(budget, 0.5))
            except Exception as exc:  # noqa: BLE001  (never let the check itself crash the notebook)
                res = _fail(ex, case, {}, "the grader could not compare your result with the reference.",
                            i, len(cases), details=f"{type(exc).__name__}: {exc}")
            if res is not None:
                res.notes = notes
                return compose(res)
        for extra in ex.extra_checks:
            try:
                problem = extra(fn)
            except Exception as exc:  # noqa: BLE001
                problem = f"your function raised {type(exc).__name__}: {exc}"
            if problem:
                return compose(Result(exercise_id=ex.id, passed=False, status="failed", title=ex.title,
                                       headline=problem, notes=notes, cases_run=len(cases), cases_total=len(cases)))
    return compose(Result(exercise_id=ex.id, passed=True, status="passed", title=ex.title, headline=ex.success,
                           notes=notes, cases_run=len(cases), cases_total=len(cases)))
