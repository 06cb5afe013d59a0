"""Observations as plain JSON, so that what a sandboxed learner kernel hands back is only data.

The batch grader's sandbox sends :func:`encode` of each exercise's observations (see
:mod:`course_utils.grading.observe`) to the trusted process, which reads them with
:func:`decode`. Only JSON is parsed (no pickle, no ``torch.load``): a hostile kernel can send
wrong outputs, never code. Tensors and arrays travel as dtype, shape and base64 bytes; a tensor
of more than :data:`MAX_ELEMENTS` entries travels as its shape and dtype only (it comes back as a
tensor on the ``meta`` device, enough to report a wrong shape); a list or tuple as its type (it
comes back empty); any other object travels as its
type's name (it comes back as an instance of an empty class of that name, so that "your function
returned a list" reads the same on both sides).
"""
from __future__ import annotations

import base64
from typing import Any

import numpy as np
import torch

from course_utils.grading.observe import Observation, Observed

MAX_ELEMENTS = 1_000_000  # entries of one tensor sent in full (a correct output is far smaller)
MAX_TEXT = 10_000  # characters of an error or of printed text

_TORCH_DTYPES = {str(d): d for d in (torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.uint8,
                                     torch.int8, torch.int16, torch.int32, torch.int64, torch.bool,
                                     torch.complex64, torch.complex128)}
_NUMPY_KINDS = "biufc"  # bool, signed and unsigned integers, floats, complex

__all__ = ["MAX_ELEMENTS", "Opaque", "to_plain", "from_plain", "encode", "decode"]


class Opaque:
    """Stands for an object that cannot travel: an instance of a subclass named after its type."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def _bytes(t: torch.Tensor) -> bytes:
    """The raw entries of a CPU tensor, in row-major order (any strides, expanded ones included)."""
    flat = torch.empty(t.numel(), dtype=t.dtype)
    flat.copy_(t.reshape(-1))
    return flat.view(torch.uint8).numpy().tobytes() if t.numel() else b""


def to_plain(x: Any) -> Any:
    """A JSON-safe form of a value a learner's function returned."""
    if x is None or isinstance(x, (bool, int, float)) and type(x) in (bool, int, float):
        return x
    if isinstance(x, torch.Tensor):
        t = x.detach()
        if str(t.dtype) not in _TORCH_DTYPES or t.device.type not in ("cpu", "meta"):
            return {"opaque": type(x).__name__}
        head = {"dtype": str(t.dtype), "shape": list(t.shape)}
        if t.numel() > MAX_ELEMENTS or t.device.type == "meta":
            return {"tensor": head, "meta": True}
        raw = _bytes(t)
        return {"tensor": head, "data": base64.b64encode(raw).decode("ascii")}
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in _NUMPY_KINDS:
            return {"ndarray_of": x.dtype.kind}
        if x.size > MAX_ELEMENTS:
            return {"opaque": "ndarray"}
        return {"ndarray": {"dtype": x.dtype.str, "shape": list(x.shape)},
                "data": base64.b64encode(np.ascontiguousarray(x).tobytes()).decode("ascii")}
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return {"npscalar": np.dtype(type(x)).str, "value": x.item()}
    if isinstance(x, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in x.items()):
        return {"record": [[k[:MAX_TEXT], to_plain(v)] for k, v in x.items()]}  # a loop item's record, in order
    if isinstance(x, (list, tuple)):  # judged by its type only: a result must be a tensor
        return {"sequence": "tuple" if isinstance(x, tuple) else "list"}
    return {"opaque": type(x).__name__[:100]}


def from_plain(d: Any) -> Any:
    """The value :func:`to_plain` describes (anything unexpected becomes an :class:`Opaque`)."""
    if d is None or type(d) in (bool, int, float):
        return d
    if not isinstance(d, dict):
        return type("invalid", (Opaque,), {})()
    if "tensor" in d:
        dtype = _TORCH_DTYPES[str(d["tensor"]["dtype"])]
        shape = [int(n) for n in d["tensor"]["shape"]]
        if d.get("meta"):
            return torch.empty(shape, dtype=dtype, device="meta")
        raw = bytearray(base64.b64decode(d["data"]))
        flat = torch.frombuffer(raw, dtype=torch.uint8) if raw else torch.empty(0, dtype=torch.uint8)
        return flat.view(dtype).reshape(shape).clone()
    if "ndarray" in d:
        dtype = np.dtype(str(d["ndarray"]["dtype"]))
        if dtype.kind not in _NUMPY_KINDS:
            raise ValueError(f"unexpected array dtype {dtype}")
        return np.frombuffer(base64.b64decode(d["data"]), dtype=dtype).reshape([int(n) for n in d["ndarray"]["shape"]]).copy()
    if "record" in d:
        record = {}
        for entry in d["record"]:
            name, value = entry
            value = from_plain(value)
            if not isinstance(value, torch.Tensor):
                raise ValueError("a record entry must be a tensor")
            record[str(name)] = value
        return record
    if "sequence" in d:
        return () if d["sequence"] == "tuple" else []
    if "ndarray_of" in d:
        return np.array([None], dtype=object)
    if "npscalar" in d:
        dtype = np.dtype(str(d["npscalar"]))
        if dtype.kind not in _NUMPY_KINDS:
            raise ValueError(f"unexpected scalar dtype {dtype}")
        return dtype.type(d["value"])
    return type(str(d.get("opaque", "object"))[:100], (Opaque,), {})()


def _encode_one(obs: Observation) -> dict[str, Any]:
    return {"kind": obs.kind, "error": obs.error[:MAX_TEXT], "printed": obs.printed[:MAX_TEXT],
            "printed_chars": obs.printed_chars, "timeout_enforced": obs.timeout_enforced, "limit_s": obs.limit_s,
            "mutated": list(obs.mutated), "value": to_plain(obs.value),
            "grads": None if obs.grads is None else {k: to_plain(v) for k, v in obs.grads.items()},
            "grads_why": obs.grads_why[:MAX_TEXT], "digest": obs.digest, "problem": obs.problem[:MAX_TEXT]}


def _decode_one(d: dict[str, Any]) -> Observation:
    grads = d.get("grads")
    return Observation(kind=str(d.get("kind", "")), error=str(d.get("error", "")), printed=str(d.get("printed", "")),
                       printed_chars=int(d.get("printed_chars", 0)), timeout_enforced=bool(d.get("timeout_enforced", True)),
                       limit_s=float(d.get("limit_s", 0.0)), mutated=[str(m) for m in d.get("mutated", [])],
                       value=from_plain(d.get("value")),
                       grads=None if grads is None else {str(k): from_plain(v) for k, v in grads.items()},
                       grads_why=str(d.get("grads_why", "")), digest=str(d.get("digest", "")),
                       problem=str(d.get("problem", "")))


def encode(observed: Observed) -> dict[str, Any]:
    """JSON-safe form of :func:`~course_utils.grading.observe.observe_exercise`'s result."""
    return {"cases": [_encode_one(o) for o in observed.cases],
            "extras": [_encode_one(o) for o in observed.extras], "error": str(observed.error)}


def decode(data: dict[str, Any]) -> Observed:
    """Observations back from :func:`encode`'s form; raises ValueError (or KeyError, TypeError)
    on malformed data."""
    if not isinstance(data, dict):
        raise TypeError(f"observations must be an object, not {type(data).__name__}")
    return Observed(cases=[_decode_one(d) for d in data.get("cases", [])],
                    extras=[_decode_one(d) for d in data.get("extras", [])], error=str(data.get("error", "")))
