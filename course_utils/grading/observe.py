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

import contextlib
import hashlib
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import torch

from course_utils.grading import comparison
from course_utils.grading.guard import call_guarded
from course_utils.grading.spec import Case, Exercise, ExtraCheck

TOTAL_BUDGET_S = 20.0  # a whole check stops after this much learner time

__all__ = ["TOTAL_BUDGET_S", "Observation", "preserved_rng", "prepare_args", "cotangent", "gradients",
           "inputs_digest", "observe_case", "observe_extra", "observe_exercise"]


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


def prepare_args(ex: Exercise, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Arguments for one call: inputs named in grad_wrt become fresh leaves that require grad."""
    out = dict(kwargs)
    for name in ex.grad_wrt:
        t = out.get(name)
        if isinstance(t, torch.Tensor):
            out[name] = t.detach().clone().requires_grad_(True)
    return out


def cotangent(shape: torch.Size) -> torch.Tensor:
    """A fixed random direction of ``shape`` (entries in [0.5, 1.5)) for vector-Jacobian products,
    the same in every process; 1.0 for a scalar."""
    if len(shape) == 0:
        return torch.tensor(1.0)
    gen = torch.Generator().manual_seed(1234)
    return torch.rand(shape, generator=gen, dtype=torch.float32) + 0.5


def gradients(ex: Exercise, out: torch.Tensor,
              call_kwargs: dict[str, Any]) -> tuple[Optional[dict[str, torch.Tensor]], str]:
    """Gradients of <out, cotangent> w.r.t. the grad_wrt inputs (each shaped like its input), or
    (None, why not): ``"detached"`` or ``"error: ..."``."""
    leaves = [call_kwargs[n] for n in ex.grad_wrt if isinstance(call_kwargs.get(n), torch.Tensor)]
    names = [n for n in ex.grad_wrt if isinstance(call_kwargs.get(n), torch.Tensor)]
    if not out.requires_grad:
        return None, "detached"
    try:
        with torch.enable_grad():
            gs = torch.autograd.grad(out, leaves, grad_outputs=cotangent(out.shape).to(out.dtype), allow_unused=True)
    except Exception as exc:  # noqa: BLE001
        return None, f"error: {type(exc).__name__}: {exc}"
    return {n: (torch.zeros_like(l) if g is None else g.detach()) for n, g, l in zip(names, gs, leaves)}, ""


def inputs_digest(kwargs: dict[str, Any]) -> str:
    """A SHA-256 of a case's data inputs (tensors, arrays, numbers, strings; other objects by
    type only): the trusted side checks that the sandbox called the function on its inputs."""
    h = hashlib.sha256()
    for name, v in kwargs.items():
        h.update(name.encode())
        if isinstance(v, torch.Tensor):
            t = torch.empty(v.numel(), dtype=v.dtype)
            t.copy_(v.detach().reshape(-1))
            h.update(f"{t.dtype}{tuple(v.shape)}".encode() + t.view(torch.uint8).numpy().tobytes())
        elif isinstance(v, np.ndarray) and v.dtype != object:
            h.update(f"{v.dtype}{v.shape}".encode() + np.ascontiguousarray(v).tobytes())
        elif isinstance(v, (bool, int, float, str, np.floating, np.integer)):
            h.update(repr(v).encode())
        else:
            h.update(type(v).__name__.encode())
    return h.hexdigest()


@dataclass
class Observation:
    """What one guarded call of the learner's function did: plain data, no verdict.

    ``kind`` is ``ok``, ``exception``, ``not_implemented`` or ``timeout`` (``error`` says more);
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
    pristine = comparison.clone_inputs(kwargs)
    call_kwargs = prepare_args(ex, kwargs)
    limit = min(ex.timeout_s, budget_s)
    flags = {k: v.requires_grad for k, v in call_kwargs.items() if isinstance(v, torch.Tensor)}
    outcome = call_guarded(fn, call_kwargs, limit)
    obs = Observation(kind=outcome.kind, error=outcome.error, printed=outcome.printed,
                      printed_chars=outcome.printed_chars, timeout_enforced=outcome.timeout_enforced, limit_s=limit,
                      digest=inputs_digest(pristine))
    if outcome.kind != "ok":
        return obs, pristine
    obs.mutated = comparison.mutated_inputs(pristine, call_kwargs)
    # a changed requires_grad flag is a change to the caller's tensor too (theta.requires_grad_(True))
    obs.mutated += [f"{k}.requires_grad" for k, flag in flags.items() if call_kwargs[k].requires_grad != flag]
    if obs.mutated:
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


def observe_exercise(ex: Exercise, fn: Callable[..., Any]) -> dict[str, Any]:
    """Observe ``fn`` on every case of ``ex`` in order, then on its extra checks (the batch
    grader's sandbox side): ``{"cases": [Observation], "extras": [Observation], "error": str}``.

    Stops after the first call that raised, timed out or changed its inputs (the judge stops
    there too); the extra checks run only when every case ran normally. Never raises because of
    what ``fn`` does. The RNG states are restored afterwards.
    """
    out: dict[str, Any] = {"cases": [], "extras": [], "error": ""}
    if not callable(fn):
        out["error"] = f"not callable: {type(fn).__name__}"
        return out
    start = time.monotonic()
    with preserved_rng():
        try:
            cases = list(ex.cases())
        except Exception as exc:  # noqa: BLE001
            out["error"] = f"cases: {exc!r}"
            return out
        for case in cases:
            budget = TOTAL_BUDGET_S - (time.monotonic() - start)
            try:
                obs, _ = observe_case(ex, fn, case, max(budget, 0.5))
            except Exception as exc:  # noqa: BLE001  (the judge reports a grader error for a missing case)
                out["error"] = f"{type(exc).__name__}: {exc}"
                return out
            out["cases"].append(obs)
            if obs.kind != "ok" or obs.mutated:
                return out
        for extra in ex.extra_checks:
            try:
                out["extras"].append(observe_extra(extra, fn))
            except Exception as exc:  # noqa: BLE001
                out["extras"].append(Observation(problem=f"your function raised {type(exc).__name__}: {exc}"))
    return out
