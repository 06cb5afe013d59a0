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
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import torch

from course_utils.grading import values as V
from course_utils.grading.guard import GradingTimeout, Outcome, _deadline, call_guarded, describe_printed
from course_utils.grading.spec import Case, Exercise, registry

TOTAL_BUDGET_S = 20.0  # a whole check stops after this much learner time
MISTAKE_TIMEOUT_S = 3.0  # a catalogued mistake that loops (e.g. ignores truncation) is abandoned


@dataclass(repr=False)
class Result:
    """The outcome of grading one function.

    ``passed`` is what programs read; ``message`` is the plain-text feedback; the other fields
    feed the HTML rendering. ``status`` is one of ``passed``, ``failed``, ``not_implemented``,
    ``unknown_exercise``.
    """

    exercise_id: str
    passed: bool
    status: str
    message: str = ""
    title: str = ""
    headline: str = ""
    case: str = ""
    case_why: str = ""
    inputs: str = ""
    expected: str = ""
    got: str = ""
    diagnosis: str = ""
    details: str = ""
    notes: list[str] = field(default_factory=list)
    cases_run: int = 0
    cases_total: int = 0

    def __str__(self) -> str:
        return self.message

    __repr__ = __str__

    def _repr_html_(self) -> str:  # pragma: no cover - exercised in notebooks
        from course_utils.grading.feedback import result_html

        return result_html(self)


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


def _compose(r: Result) -> Result:
    """Fill ``r.message`` from the structured fields (plain text, deterministic)."""
    lines = []
    if r.status == "passed":
        lines.append(f"PASSED {r.exercise_id}: all {r.cases_total} cases agree with the reference.")
        if r.headline:
            lines.append(r.headline)
    elif r.status == "not_implemented":
        lines.append(f"NOT IMPLEMENTED YET {r.exercise_id}: {r.headline}")
    else:
        lines.append(f"FAILED {r.exercise_id}: {r.headline}")
        if r.case:
            lines.append(f"Failing case ({r.cases_run} of {r.cases_total}): {r.case}"
                         + (f" - {r.case_why}" if r.case_why else ""))
        if r.inputs:
            lines.append(f"Inputs: {r.inputs}")
        if r.expected:
            lines.append(f"Expected: {r.expected}")
        if r.got:
            lines.append(f"Got:      {r.got}")
        if r.diagnosis:
            lines.append(f"Likely cause: {r.diagnosis}")
        if r.details:
            lines.append(r.details)
    lines.extend(f"Note: {n}" for n in r.notes)
    r.message = "\n".join(lines)
    return r


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
    if not isinstance(a_val, torch.Tensor) or not V.close(a_val, b_val, atol, rtol):
        return False
    if a_grads is not None and b_grads is not None:
        return all(V.close(a_grads[k], b_grads[k], atol, rtol) for k in b_grads)
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
            return mistake.message
    return ""


def _fail(ex: Exercise, the_case: Case, kwargs: dict[str, Any], headline: str, index: int, total: int,
          **fields) -> Result:
    shown = the_case.shown if the_case.shown is not None else V.fmt_inputs(kwargs)
    data: dict[str, Any] = dict(exercise_id=ex.id, passed=False, status="failed", title=ex.title, headline=headline,
                                case=the_case.name, case_why=the_case.why or "", inputs=shown, cases_run=index,
                                cases_total=total)
    data.update(fields)
    return Result(**data)


def _grade_case(ex: Exercise, fn: Callable[..., Any], case: Case, index: int, total: int,
                notes: list[str], budget_s: float) -> Optional[Result]:
    kwargs = case.make_args()
    pristine = V.clone_inputs(kwargs)
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

    changed = V.mutated_inputs(pristine, call_kwargs)
    if changed:
        names = ", ".join(f"`{c}`" for c in changed)
        return fail(f"your function modified its input {names} in place. The caller still needs those "
                    "values: work on a copy (e.g. `x = x.clone()`) or use out-of-place operations "
                    "(`x = x - 1` instead of `x -= 1`).")

    # fresh arguments: the learner's call may have consumed them (stepped or closed an environment)
    expected, expected_grads = _evaluate(ex, ex.reference, case, case.make_args())
    if case.expected is not None:
        expected = case.expected(V.clone_inputs(kwargs))
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
            return fail("the returned number is wrong.", expected=V.fmt_number(expected), got=V.fmt_number(float(got)),
                        diagnosis=_diagnose(ex, case, float(got), None))
        return None

    got, problem, note = V.as_tensor(outcome.value, expected)
    if problem:
        return fail(problem)
    if note:
        if ex.grad_wrt:
            return fail("your function returned a non-tensor value, so no gradient can flow through it. "
                        "This result feeds a loss that is minimised by gradient descent: compute it with "
                        "torch operations on the input tensors.", got=V.fmt_value(got))
        if note not in notes:
            notes.append(note)
    problem, note = V.dtype_problem(got, expected)
    if problem:
        return fail(problem, expected=V.fmt_value(expected), got=V.fmt_value(got))
    if note and note not in notes:
        notes.append(note)
    problem = V.shape_problem(got, expected)
    if problem:
        return fail(problem, diagnosis=_diagnose(ex, case, got.detach(), None, by_value_only=True))

    got_val = got.detach()
    exp_finite = torch.isfinite(expected)
    if not bool(torch.isfinite(got_val)[exp_finite].all()):
        return fail("your result contains NaN or infinite values where the reference is finite.",
                    expected=V.fmt_value(expected), got=V.fmt_value(got_val),
                    diagnosis=_diagnose(ex, case, got_val, None, by_value_only=True))

    if not _same(ex, case, got_val, None, expected, None):
        details = "" if expected.numel() <= 8 else "In detail: " + V.first_difference(got_val, expected) + "."
        return fail("the values are wrong.", expected=V.fmt_value(expected), got=V.fmt_value(got_val),
                    details=details, diagnosis=_diagnose(ex, case, got_val, None, by_value_only=True))

    if ex.grad_wrt and expected_grads is not None:
        got_grads, why = _grads(ex, got, call_kwargs)
        if got_grads is None:
            if why == "detached":
                return fail("the value is right, but it is cut off from the autograd graph, so no gradient "
                            "reaches the inputs. Avoid .item(), .numpy(), .detach() or torch.tensor(...) on "
                            "the inputs inside the function.", expected="a tensor with a grad_fn",
                            got="a tensor with requires_grad=False")
            return fail("the value is right, but back-propagating through it failed.", details=why)
        for name in expected_grads:
            if not V.close(got_grads[name], expected_grads[name], ex.atol, ex.rtol):
                zero = bool((expected_grads[name] == 0).all())
                headline = (f"the value is right, but a gradient flows into `{name}`, which must be treated "
                            "as a constant." if zero else
                            f"the value is right, but its gradient with respect to `{name}` is wrong.")
                return fail(headline, expected=f"d/d{name} = {V.fmt_value(expected_grads[name])}",
                            got=f"d/d{name} = {V.fmt_value(got_grads[name])}",
                            diagnosis=_diagnose(ex, case, got_val, got_grads))
    return None


def grade(exercise_id: str, fn: Callable[..., Any]) -> Result:
    """Grade ``fn`` as a solution of ``exercise_id``; never raises because of what ``fn`` does.

    No display and no side effect on progress: that is :func:`course_utils.check`'s job.
    """
    catalogue = registry()
    ex = catalogue.get(exercise_id)
    if ex is None:
        close_ids = difflib.get_close_matches(str(exercise_id), list(catalogue), n=3)
        suggestion = f" Did you mean {', '.join(repr(c) for c in close_ids)}?" if close_ids else ""
        return _compose(Result(exercise_id=str(exercise_id), passed=False, status="unknown_exercise",
                               headline=f"there is no exercise called {exercise_id!r}.{suggestion} "
                               "Name your function like the exercise, or pass exercise_id=... to check()."))
    if not callable(fn):
        return _compose(Result(exercise_id=ex.id, passed=False, status="failed", title=ex.title,
                               headline=f"check() needs the function itself, e.g. check({ex.id}), not its "
                               f"result (got a {type(fn).__name__})."))
    notes: list[str] = []
    start = time.monotonic()
    with preserved_rng():
        try:
            cases = list(ex.cases())
        except Exception as exc:  # noqa: BLE001  (a grader bug must not look like the learner's)
            return _compose(Result(exercise_id=ex.id, passed=False, status="failed", title=ex.title,
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
                return _compose(res)
        for extra in ex.extra_checks:
            try:
                problem = extra(fn)
            except Exception as exc:  # noqa: BLE001
                problem = f"your function raised {type(exc).__name__}: {exc}"
            if problem:
                return _compose(Result(exercise_id=ex.id, passed=False, status="failed", title=ex.title,
                                       headline=problem, notes=notes, cases_run=len(cases), cases_total=len(cases)))
    return _compose(Result(exercise_id=ex.id, passed=True, status="passed", title=ex.title, headline=ex.success,
                           notes=notes, cases_run=len(cases), cases_total=len(cases)))


def exercise_ids() -> list[str]:
    """Every exercise id, in course order."""
    return list(registry())
