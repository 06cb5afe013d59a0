"""Lock-step replay: the trusted half's judgement of a ``loop`` item (a rollout, an update).

A loop is graded like a function. The judge builds the case's inputs afresh (a policy initialised
under a fixed seed, its optimizer, a batch, a scripted environment), runs the answer's loop on
them, reads what it left behind with the exercise's ``outcome`` (an ordered record of named
tensors: the stored arrays, the parameters after the update, the statistics returned) and compares
that record with the one the learner's loop left on the same inputs, entry by entry, in order.
The first entry that differs is reported with where (the axes named by ``record_axes``: "step 3,
env 1") and by how much; the entries that agree are listed, because they say which part of the
loop is already right. Each catalogued mistake is a whole wrong loop, replayed the same way; the
first whose record agrees with the learner's everywhere names the likely cause.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Optional

import numpy as np
import torch

from course_utils.grading import comparison
from course_utils.grading.calls import prepare_args, preserved_rng, read_record
from course_utils.grading.guard import GradingTimeout, deadline
from course_utils.grading.spec import Case, Exercise

MISTAKE_TIMEOUT_S = 10.0  # a catalogued wrong loop is abandoned after this long

__all__ = ["evaluate_record", "record_difference", "diagnose_record", "judge_record"]


def evaluate_record(ex: Exercise, fn: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Run a trusted loop (the answer or a catalogued mistake) on ``kwargs`` and read its record."""
    call_kwargs = prepare_args(ex, kwargs)
    with torch.enable_grad():
        returned = fn(*call_kwargs.values())
    return read_record(ex, call_kwargs, returned)


def _tolerances(ex: Exercise, case: Case) -> tuple[float, float]:
    return (case.atol if case.atol is not None else ex.atol, case.rtol if case.rtol is not None else ex.rtol)


def _where(index: tuple[int, ...], axes) -> str:
    if not index:
        return ""
    if axes and len(axes) == len(index):
        return ", ".join(f"{name} {i}" for name, i in zip(axes, index))
    return "index " + str(index if len(index) > 1 else index[0])


def _entry_difference(name: str, got: torch.Tensor, expected: torch.Tensor, atol: float, rtol: float,
                      axes) -> Optional[dict[str, str]]:
    """None when the entries agree, else the headline, expected, got and details of the difference."""
    if tuple(got.shape) != tuple(expected.shape):
        return {"headline": f"after your loop, `{name}` has shape {comparison.fmt_shape(got.shape)}, but the "
                            f"answer's has shape {comparison.fmt_shape(expected.shape)}.",
                "expected": f"shape {comparison.fmt_shape(expected.shape)}",
                "got": f"shape {comparison.fmt_shape(got.shape)}"}
    g = got.detach().to(torch.float64)
    e = expected.detach().to(torch.float64)
    bad = ~torch.isclose(g, e, atol=atol, rtol=rtol, equal_nan=True)
    if not bool(bad.any()):
        return None
    flat = int(torch.nonzero(bad.reshape(-1))[0]) if bad.dim() else 0
    index = tuple(int(i) for i in np.unravel_index(flat, tuple(g.shape))) if g.dim() else ()
    where = _where(index, axes)
    diff = (g - e).abs().nan_to_num(nan=float("inf"))
    largest = float(diff.max())
    count = int(bad.sum())
    exp_at, got_at = e.reshape(-1)[flat].item(), g.reshape(-1)[flat].item()
    details = (f"{count} of {g.numel()} entries differ; the largest difference is {comparison.fmt_number(largest)}."
               if g.numel() > 1 else "")
    return {"headline": f"after your loop, `{name}` differs from the answer's"
                        + (f", first at {where}." if where else "."),
            "expected": comparison.fmt_value(expected) if expected.numel() <= 8 else
            f"{comparison.fmt_number(exp_at)} at {where}",
            "got": comparison.fmt_value(got) if got.numel() <= 8 else f"{comparison.fmt_number(got_at)} at {where}",
            "details": details}


def record_difference(ex: Exercise, case: Case, got: dict[str, torch.Tensor],
                      expected: dict[str, torch.Tensor]) -> Optional[dict[str, str]]:
    """The first entry of ``expected`` (in order) that ``got`` does not reproduce, described; None if all agree."""
    atol, rtol = _tolerances(ex, case)
    agreed: list[str] = []
    for name, want in expected.items():
        have = got.get(name)
        if have is None:
            problem = {"headline": f"after your loop, `{name}` is missing from what it left behind."}
        else:
            problem = _entry_difference(name, have, want, atol, rtol, ex.record_axes.get(name))
        if problem is not None:
            if agreed:
                agreeing = ", ".join(f"`{n}`" for n in agreed)
                problem["details"] = (problem.get("details", "") + f" These agree with the answer: {agreeing}.").strip()
            return problem
        agreed.append(name)
    return None


def diagnose_record(ex: Exercise, case: Case, got: dict[str, torch.Tensor], debug_nudge: str) -> dict[str, str]:
    """``{diagnosis, mistake}`` of the first catalogued wrong loop whose record agrees with ``got`` everywhere."""
    for mistake in ex.mistakes:
        try:
            with contextlib.redirect_stdout(None), preserved_rng(), deadline(MISTAKE_TIMEOUT_S):
                m_record = evaluate_record(ex, mistake.fn, case.make_args())
        except (Exception, GradingTimeout):  # noqa: BLE001  (a wrong loop may crash or loop on some inputs)
            continue
        if set(m_record) == set(got) and record_difference(ex, case, got, m_record) is None:
            if mistake.name == ex.bug:
                return {"diagnosis": debug_nudge, "mistake": mistake.name}
            return {"diagnosis": mistake.message, "mistake": mistake.name}
    return {"diagnosis": "", "mistake": ""}


def judge_record(ex: Exercise, case: Case, got: Any, failed: Callable[..., Any], debug_nudge: str):
    """None when the learner's record ``got`` (read after their loop ran on ``case``) agrees with the
    answer's on fresh inputs, else ``failed(headline, **fields)``."""
    if not isinstance(got, dict):
        return failed("the grader received no record of what your loop did (an internal problem, or a "
                      "sandbox that did not send it).")
    expected = evaluate_record(ex, ex.answer, case.make_args())
    problem = record_difference(ex, case, got, expected)
    if problem is None:
        return None
    headline = problem.pop("headline")
    return failed(headline, **problem, **diagnose_record(ex, case, got, debug_nudge))
