"""One call that makes a notebook reproducible."""
from __future__ import annotations

import contextlib
import os
import random
from typing import Iterator

import numpy as np
import torch


def seed_everything(seed: int = 0, threads: int = 1) -> None:
    """Seed Python, NumPy and PyTorch and fix the number of torch threads.

    The thread count is part of the seed: on a CPU, the same seed with 1 and 2 threads gives
    different floating-point sums and therefore different learning curves. One thread is also
    the fastest choice for the small networks of this course.
    Returns nothing, so that a set-up cell ending with this call shows no stray output.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run a block with one torch thread, then restore the previous count.

    Trainers use it: the thread count changes floating-point sums and hence learning curves, so
    stored, compared and tested results are all produced with one thread (also the fastest for
    the small networks of this course).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
