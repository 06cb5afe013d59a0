"""Turning what a learner returned into something comparable, and describing values briefly."""
from __future__ import annotations

import copy
import math
from typing import Any, Optional

import numpy as np
import torch


def fmt_number(x: float) -> str:
    if isinstance(x, bool):
        return str(x)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == int(x) and abs(x) < 1e6:
        return f"{x:.1f}"
    return f"{x:.4g}"


def fmt_value(x: Any, max_items: int = 8) -> str:
    """A short, deterministic description of a value for feedback messages."""
    if isinstance(x, torch.Tensor):
        t = x.detach()
        if t.dim() == 0:
            return fmt_number(t.item()) if t.is_floating_point() else str(t.item())
        if not t.is_floating_point():
            if t.numel() <= max_items:
                return str(t.tolist())
            return f"a tensor of shape {fmt_shape(t.shape)} ({str(t.dtype).replace('torch.', '')})"
        if t.numel() <= max_items:
            if t.dim() == 1:
                return "[" + ", ".join(fmt_number(v) for v in t.tolist()) + "]"
            rows = ["[" + ", ".join(fmt_number(v) for v in row) + "]" for row in t.reshape(t.shape[0], -1).tolist()]
            return "[" + ", ".join(rows) + "]"
        return f"a tensor of shape {fmt_shape(t.shape)} ({str(t.dtype).replace('torch.', '')})"
    if isinstance(x, np.ndarray):
        return fmt_value(torch.from_numpy(np.array(x)))
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))  # an int argument (k = 3) is shown as the int it is, never as 3.0
    if isinstance(x, (float, int, np.floating, np.integer)):
        return fmt_number(float(x))
    if callable(x):
        return getattr(x, "__name__", type(x).__name__)
    text = repr(x)
    return text if len(text) <= 80 else text[:77] + "..."


def fmt_shape(shape) -> str:
    dims = tuple(int(d) for d in shape)
    if len(dims) == 1:
        return f"({dims[0]},)"
    return "(" + ", ".join(str(d) for d in dims) + ")"


def fmt_inputs(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {fmt_value(v)}" for k, v in kwargs.items())


def clone_inputs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Deep copies of the array-like arguments (others are shared)."""
    out = {}
    for k, v in kwargs.items():
        if isinstance(v, torch.Tensor):
            out[k] = v.detach().clone()
        elif isinstance(v, np.ndarray):
            out[k] = v.copy()
        elif isinstance(v, (list, dict, tuple)):
            out[k] = copy.deepcopy(v)
        else:
            out[k] = v
    return out


def mutated_inputs(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Names of the tensor/array arguments whose contents changed during the call."""
    changed = []
    for k, v0 in before.items():
        v1 = after.get(k)
        if isinstance(v0, torch.Tensor) and isinstance(v1, torch.Tensor):
            a, b = v0, v1.detach()
            if a.shape != b.shape or not torch.equal(torch.nan_to_num(a, nan=0.123), torch.nan_to_num(b, nan=0.123)):
                changed.append(k)
        elif isinstance(v0, np.ndarray) and isinstance(v1, np.ndarray):
            if v0.shape != v1.shape or not np.array_equal(v0, v1, equal_nan=True):
                changed.append(k)
    return changed


def as_tensor(got: Any, expected: torch.Tensor) -> tuple[Optional[torch.Tensor], Optional[str], Optional[str]]:
    """Convert a learner's result to a tensor like ``expected``.

    Returns ``(tensor or None, problem or None, gentle note or None)``.
    """
    want = f"a torch.Tensor of shape {fmt_shape(expected.shape)}"
    if got is None:
        return None, (f"Your function returned None, but it should return {want}. "
                      "Did you forget the `return` statement?"), None
    if isinstance(got, torch.Tensor):
        return got, None, None
    if isinstance(got, (np.ndarray, np.floating, np.integer)):
        arr = np.asarray(got)
        if arr.dtype == object:
            return None, f"Your function returned a NumPy array of Python objects; expected {want}.", None
        return (torch.from_numpy(np.array(arr)), None,
                "You returned a NumPy value; it was converted to a tensor. In this course return torch "
                "tensors: they keep gradients and stay on the same device.")
    if isinstance(got, (float, int)) and not isinstance(got, bool):
        if expected.dim() == 0:
            return (torch.tensor(float(got), dtype=expected.dtype), None,
                    "You returned a Python number; it was converted to a tensor. Returning a 0-d tensor "
                    "(without .item()) keeps the result differentiable.")
        return None, f"Your function returned a single number ({fmt_number(float(got))}), but it should return {want}.", None
    if isinstance(got, (list, tuple)):
        return None, (f"Your function returned a {type(got).__name__}, but it should return {want}. "
                      "Build the result with torch operations (e.g. torch.stack of a list of tensors)."), None
    return None, f"Your function returned a {type(got).__name__}, but it should return {want}.", None


def dtype_problem(got: torch.Tensor, expected: torch.Tensor) -> tuple[Optional[str], Optional[str]]:
    """(problem, note) about the dtype: integers/bools where floats are expected fail; float64 is noted."""
    if expected.is_floating_point() and not got.is_floating_point():
        return (f"Your result has dtype {str(got.dtype).replace('torch.', '')}, but a floating-point tensor "
                f"({str(expected.dtype).replace('torch.', '')}) is expected. Integer tensors round your numbers: "
                "create tensors with dtype=torch.float32 or start from the float inputs."), None
    if not expected.is_floating_point() and got.is_floating_point():
        return (f"Your result has dtype {str(got.dtype).replace('torch.', '')}, but integer indices "
                f"({str(expected.dtype).replace('torch.', '')}) are expected: use .long() on the result."), None
    if expected.is_floating_point() and got.dtype != expected.dtype:
        return None, (f"Your result has dtype {str(got.dtype).replace('torch.', '')}, but the inputs (and the "
                      f"answer) are {str(expected.dtype).replace('torch.', '')}: something in your function changed "
                      "the dtype (a constant tensor of another dtype, torch.tensor of a Python list, NumPy). It was "
                      "accepted; keeping the inputs' dtype avoids errors inside a network.")
    return None, None


def shape_problem(got: torch.Tensor, expected: torch.Tensor) -> Optional[str]:
    if tuple(got.shape) == tuple(expected.shape):
        return None
    g, e = fmt_shape(got.shape), fmt_shape(expected.shape)
    if expected.dim() == 0:
        return (f"Your result has shape {g}, but a scalar (shape ()) is expected. "
                "Reduce it to one number (e.g. .sum() or .mean()) without keepdim.")
    if got.numel() == expected.numel() == 1:
        return f"Your result has shape {g}, but shape {e} is expected (one entry, kept as a tensor of that shape)."
    if got.numel() == expected.numel():
        return f"Your result has shape {g}, but shape {e} is expected (same number of entries: a stray reshape or transpose?)."
    return f"Your result has shape {g}, but shape {e} is expected."


def close(got: torch.Tensor, expected: torch.Tensor, atol: float, rtol: float) -> bool:
    g = got.detach().to(torch.float64)
    e = expected.detach().to(torch.float64)
    if g.shape != e.shape:
        return False
    return bool(torch.allclose(g, e, atol=atol, rtol=rtol, equal_nan=True))


def first_difference(got: torch.Tensor, expected: torch.Tensor) -> str:
    """Where the largest disagreement is, for big outputs."""
    g = got.detach().to(torch.float64)
    e = expected.detach().to(torch.float64)
    diff = (g - e).abs().nan_to_num(nan=float("inf"))
    idx = int(torch.argmax(diff.reshape(-1)))
    where = tuple(int(i) for i in np.unravel_index(idx, tuple(g.shape))) if g.dim() else ()
    def show(t: torch.Tensor) -> str:  # an integer tensor's entry as the int it is (action 999, not 999.0)
        value = t.detach().reshape(-1)[idx].item()
        return str(value) if not t.is_floating_point() and not t.is_complex() else fmt_number(value)

    return f"the largest difference is at index {where}: expected {show(expected)}, got {show(got)}"
