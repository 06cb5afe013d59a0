"""Array conversions shared by the answers whose recursions run in NumPy."""
from __future__ import annotations

import numpy as np
from torch import Tensor


def numpy32(x: Tensor | float) -> np.ndarray:
    """A float32 NumPy copy of a tensor, array or number, detached from any graph."""
    if isinstance(x, Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float32)
