"""Small helpers shared by the chapter check modules."""
from __future__ import annotations

from typing import Any, Callable

import torch


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def fixed(**kwargs: Any) -> Callable[[], dict[str, Any]]:
    """``make_args`` for constant inputs: every call gets its own copies."""

    def make() -> dict[str, Any]:
        return {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in kwargs.items()}

    return make
