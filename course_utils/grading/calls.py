"""How an exercise's function is called, the same on both sides of grading.

The half that runs learner code (:mod:`~course_utils.grading.observe`) and the half that knows
the answer (:mod:`~course_utils.grading.judge`) must call functions identically, or the two
would compare different things: the same argument preparation (fresh leaves for the inputs an
exercise differentiates), the same gradients (of <output, fixed cotangent>), the same digest of
the inputs (the judge's proof that the sandbox ran on its inputs), and RNG states left as they
were. This module is that shared mechanics; the time limit is :func:`course_utils.grading.guard.deadline`.
"""
from __future__ import annotations

import contextlib
import hashlib
import random
from typing import Any, Optional

import numpy as np
import torch

from course_utils.grading.spec import Exercise, OutcomeError

__all__ = ["preserved_rng", "prepare_args", "cotangent", "gradients", "inputs_digest", "read_record"]


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
        elif isinstance(v, torch.nn.Module):  # a loop item's policy: its parameters and buffers
            h.update(type(v).__name__.encode())
            for key, t in v.state_dict().items():
                h.update(key.encode() + inputs_digest({"": t}).encode())
        else:
            h.update(type(v).__name__.encode())
    return h.hexdigest()


def read_record(ex: Exercise, call_kwargs: dict[str, Any], returned: Any) -> dict[str, torch.Tensor]:
    """What a loop item's call left behind: ``ex.outcome(call_kwargs, returned)`` as an ordered dict of
    detached CPU tensors (numbers and arrays converted). Raises :class:`OutcomeError` with a message
    for the learner when the returned value cannot be read."""
    try:
        with torch.no_grad():
            record = ex.outcome(call_kwargs, returned)
    except OutcomeError:
        raise
    except Exception as exc:  # noqa: BLE001  (the learner's return value is read by the course's code)
        raise OutcomeError(f"what your loop returned or left behind could not be read ({type(exc).__name__}: "
                           f"{exc}). The grader calls it as {ex.signature}.") from None
    if not isinstance(record, dict):
        raise TypeError(f"{ex.id}: outcome must return a dict, not {type(record).__name__}")
    out: dict[str, torch.Tensor] = {}
    for name, value in record.items():
        try:
            t = value.detach() if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))
        except Exception:  # noqa: BLE001
            raise OutcomeError(f"`{name}` should be numbers (a tensor, an array or a float), not a "
                               f"{type(value).__name__}.") from None
        out[str(name)] = t.to("cpu").clone()
    return out
