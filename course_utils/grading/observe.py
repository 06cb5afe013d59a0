"""The untrusted half of grading: call a learner's function on an exercise's inputs and record what it did.

Nothing here compares with an answer or reads the answer key: an :class:`Observation` holds the
outcome of one guarded call (the value returned, the gradients the exercise asks for, the error,
what was printed, which inputs were changed in place). In a workbook, ``check(...)`` observes a
case and :mod:`course_utils.grading.judge` judges it at once, in the same process; the batch
grader observes every case inside its sandbox (:func:`observe_exercise`), sends the observations
out as plain data (:mod:`course_utils.grading.transport`) and judges them in a process that never
runs learner code, on inputs it rebuilds itself from the same case builders.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

import torch

from course_utils.grading import comparison
from course_utils.grading.calls import gradients, inputs_digest, prepare_args, preserved_rng, read_record
from course_utils.grading.guard import call_guarded
from course_utils.grading.spec import Case, Exercise, ExtraCheck, OutcomeError

TOTAL_BUDGET_S = 20.0  # a whole check stops after this much learner time

__all__ = ["TOTAL_BUDGET_S", "Observation", "Observed", "observe_case", "observe_extra", "observations",
           "observe_exercise"]


@dataclass
class Observation:
    """What one guarded call of the learner's function did: plain data, no verdict.

    ``kind`` is ``ok``, ``exception``, ``not_implemented``, ``timeout`` or, for a loop item whose
    return value could not be read, ``unreadable`` (``error`` says more);
    ``limit_s`` the time limit in seconds it ran under; ``printed`` the first characters it
    printed, ``printed_chars`` how many in all; ``mutated`` the inputs it changed in place;
    ``value`` what it returned (kept only when the call ended normally and changed nothing);
    ``grads`` the gradients of <value, cotangent> w.r.t. the exercise's ``grad_wrt`` inputs
    (each shaped like its input), or None with ``grads_why``; ``digest`` the :func:`inputs_digest`
    of the inputs; ``problem`` what an old-style extra check (a plain callable) reported.
    """

    kind: str = "ok"
    error: str = ""
    printed: str = ""
    printed_chars: int = 0
    timeout_enforced: bool = True
    limit_s: float = 0.0
    mutated: list[str] = field(default_factory=list)
    value: Any = None
    grads: Optional[dict[str, torch.Tensor]] = None
    grads_why: str = ""
    digest: str = ""
    problem: str = ""


def observe_case(ex: Exercise, fn: Callable[..., Any], case: Case,
                 budget_s: float) -> tuple[Observation, dict[str, Any]]:
    """Call ``fn`` on fresh inputs of ``case`` under the guard, with ``min(ex.timeout_s, budget_s)``
    seconds; returns the observation and pristine copies of the inputs it was called with."""
    kwargs = case.make_args()
    digest = inputs_digest(kwargs)  # before the call: a loop item changes its policy in place
    pristine = comparison.clone_inputs(kwargs)
    call_kwargs = prepare_args(ex, kwargs)
    limit = min(ex.timeout_s, budget_s)
    flags = {k: v.requires_grad for k, v in call_kwargs.items() if isinstance(v, torch.Tensor)}
    outcome = call_guarded(fn, call_kwargs, limit)
    obs = Observation(kind=outcome.kind, error=outcome.error, printed=outcome.printed,
                      printed_chars=outcome.printed_chars, timeout_enforced=outcome.timeout_enforced, limit_s=limit,
                      digest=digest)
    if outcome.kind != "ok":
        return obs, pristine
    obs.mutated = [k for k in comparison.mutated_inputs(pristine, call_kwargs) if k not in ex.updates]
    # a changed requires_grad flag is a change to the caller's tensor too (theta.requires_grad_(True))
    obs.mutated += [f"{k}.requires_grad" for k, flag in flags.items()
                    if call_kwargs[k].requires_grad != flag and k not in ex.updates]
    if obs.mutated:
        return obs, pristine
    if ex.outcome is not None:  # a loop item: what it left behind, read now (plain data)
        try:
            obs.value = read_record(ex, call_kwargs, outcome.value)
        except OutcomeError as exc:
            obs.kind, obs.error = "unreadable", str(exc)
        return obs, pristine
    obs.value = outcome.value
    if ex.grad_wrt and ex.returns != "float" and isinstance(outcome.value, torch.Tensor):
        obs.grads, obs.grads_why = gradients(ex, outcome.value, call_kwargs)
    return obs, pristine


def observe_extra(extra: ExtraCheck, fn: Callable[..., Any]) -> Observation:
    """Call ``fn`` on the inputs of an extra check, under the guard. An old-style extra check (a
    plain callable ``extra(fn) -> problem or None``) is run as it is and its answer kept in ``problem``."""
    if not isinstance(extra, ExtraCheck):
        try:
            problem = extra(fn)
        except Exception as exc:  # noqa: BLE001
            problem = f"your function raised {type(exc).__name__}: {exc}"
        return Observation(problem=problem or "")
    outcome = call_guarded(fn, extra.make_args(), extra.timeout_s)
    return Observation(kind=outcome.kind, error=outcome.error, printed=outcome.printed,
                       printed_chars=outcome.printed_chars, limit_s=extra.timeout_s,
                       value=outcome.value if outcome.kind == "ok" else None)


@dataclass
class Observed:
    """What a learner's function did on an exercise: its case observations in order, then its extra
    checks', and an error when the cases could not even be built. ``cases`` and ``extras`` may be lazy
    (:func:`observations` in a workbook: a case is called only when the judge asks for it, so a
    check stops at the first wrong case) or lists (decoded from a sandbox: :mod:`~course_utils.grading.transport`)."""

    cases: Any = field(default_factory=list)   # Iterable[Observation]
    extras: Any = field(default_factory=list)  # Iterable[Observation]
    error: str = ""
    problems: list[str] = field(default_factory=list)  # why a case could not be run (filled as the cases run)

    def why_missing(self) -> str:
        """Why an expected observation is missing, in words."""
        return self.error or "; ".join(self.problems) or "no observation came back"


def _case_observations(ex: Exercise, fn: Callable[..., Any], problems: list[str]) -> Iterator[Observation]:
    try:
        cases = list(ex.cases())
    except Exception as exc:  # noqa: BLE001
        problems.append(f"cases: {exc!r}")
        return
    start = time.monotonic()
    for case in cases:
        budget = TOTAL_BUDGET_S - (time.monotonic() - start)
        try:
            obs, _ = observe_case(ex, fn, case, max(budget, 0.5))
        except Exception as exc:  # noqa: BLE001  (the judge reports a grader error for a missing case)
            problems.append(f"{type(exc).__name__}: {exc}")
            return
        yield obs
        if obs.kind != "ok" or obs.mutated:
            return


def _extra_observations(ex: Exercise, fn: Callable[..., Any]) -> Iterator[Observation]:
    for extra in ex.extra_checks:
        try:
            yield observe_extra(extra, fn)
        except Exception as exc:  # noqa: BLE001
            yield Observation(problem=f"your function raised {type(exc).__name__}: {exc}")


def observations(ex: Exercise, fn: Callable[..., Any]) -> Observed:
    """Observe ``fn`` on ``ex`` lazily: every case in order (stopping after the first call that raised,
    timed out or changed its inputs: the judge stops there too), then the extra checks, each call
    made only when the consumer asks for the next observation. Never raises because of what ``fn``
    does; the judge consumes it inside :func:`~course_utils.grading.calls.preserved_rng`."""
    if not callable(fn):
        return Observed(error=f"not callable: {type(fn).__name__}")
    observed = Observed(extras=_extra_observations(ex, fn))
    observed.cases = _case_observations(ex, fn, observed.problems)  # cases are built when first asked for
    return observed


def observe_exercise(ex: Exercise, fn: Callable[..., Any]) -> Observed:
    """Observe ``fn`` on every case of ``ex`` and, when every case ran normally, on its extra checks,
    all at once (the batch grader's sandbox side: the observations leave as plain data). The RNG
    states are restored afterwards."""
    with preserved_rng():
        lazy = observations(ex, fn)
        if lazy.error:
            return lazy
        cases = list(lazy.cases)
        ran_normally = all(obs.kind == "ok" and not obs.mutated for obs in cases)
        extras = list(lazy.extras) if ran_normally else []
        return Observed(cases=cases, extras=extras, error="; ".join(lazy.problems))
