"""Shared test set-up: a throw-away progress file, one torch thread, no strict mode leaking."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(tmp_path / "progress.json"))
    monkeypatch.delenv("COURSE_STRICT", raising=False)
    torch.set_num_threads(1)
    yield


def pytest_configure(config):
    os.environ.setdefault("MPLBACKEND", "Agg")
    # scripts/test.sh runs these again under another floating-point path (another machine)
    config.addinivalue_line("markers", "learning: trains an agent; must hold on any CPU's float path")
    config.addinivalue_line("markers", "numerics: compares floating-point math; must hold on any CPU")
