"""The one store of the cached experiments: where their JSON files live and what metadata they carry.

Every file is under ``course_utils/data/`` (shipped with the package) and records, in ``meta``,
the command that made it, the seeds, one torch thread, the library versions, the machine and
the date, so that every number quoted in a lesson can be traced back to a run.
"""
from __future__ import annotations

import json
import platform
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["data_dir", "path", "read", "write", "meta", "nan_array"]


def data_dir() -> Path:
    """``course_utils/data``, the folder every cached experiment is read from and written to."""
    return Path(str(resources.files("course_utils"))) / "data"


def path(relative: str) -> Path:
    """The file of a cached experiment, e.g. ``path("ppo_ablation.json")``."""
    return data_dir() / relative


def read(relative: str | Path) -> dict[str, Any]:
    """Load a cached experiment (a path relative to :func:`data_dir`, or an absolute one)."""
    return json.loads((data_dir() / relative).read_text())


def write(relative: str | Path, data: dict[str, Any], indent: int | None = 1) -> Path:
    """Write a cached experiment and return its path."""
    target = data_dir() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=indent) + "\n")
    return target


def meta(command: str, **extra: Any) -> dict[str, Any]:
    """The metadata block of a new cache: its command, versions, machine and date."""
    import gymnasium
    import torch

    return {"command": command, "torch_threads": 1,
            "versions": {"python": platform.python_version(), "torch": torch.__version__,
                         "gymnasium": gymnasium.__version__, "numpy": np.__version__},
            "machine": platform.machine(), "created": time.strftime("%Y-%m-%d"), **extra}


def nan_array(values: list[float | None]) -> np.ndarray:
    """A JSON list with nulls (no value yet) as a float array with NaNs."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)
