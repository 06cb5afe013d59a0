"""Time each solved workbook's training cells on this machine, for the times the workbooks state.

    .venv/bin/python -m benchmarks.time_workbooks solutions/0[2-9]*.ipynb

Runs each workbook's code cells in one process (setup and exercises untimed; predictions, videos
and the optional MuJoCo cell skipped) and times every cell tagged ``skip-when-grading`` that calls a
trainer. Run it on an idle machine: the numbers are wall-clock seconds on one torch thread.
Results go to benchmarks/WORKBOOK_TIMES.md by hand (with the machine and the date).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time

import nbformat

os.environ.setdefault("MPLBACKEND", "Agg")


def time_workbook(path: str) -> list[tuple[int, float, str]]:
    nb = nbformat.read(path, as_version=4)
    ns: dict = {}
    out = []
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code":
            continue
        tags = c.metadata.get("tags", [])
        src = c.source
        if "predict" in tags or src.startswith(("predict(", "reveal(")):
            continue
        trains = "skip-when-grading" in tags and "train_" in src
        if "skip-when-grading" in tags and not trains:
            continue
        if any(x in src for x in ("display(show_episode", "load_reference(\"ppo_halfcheetah\")")):
            continue
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                exec(compile(src, f"cell{i}", "exec"), ns)
            except Exception as exc:
                print("cell", i, "failed", type(exc).__name__, exc, file=sys.__stderr__)
        dt = time.perf_counter() - t0
        if trains:
            out.append((i, round(dt, 1), src.splitlines()[1][:90] if len(src.splitlines()) > 1 else src[:90]))
    return out


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(json.dumps({"notebook": path, "training_cells": time_workbook(path)}))
