"""Grade a whole workbook file: run it in a fresh kernel, then grade every exercise it defines.

Used by ``python -m course_utils check NOTEBOOK`` (and by the classroom batch grader). Cells
tagged ``skip-when-grading`` (long training demos) are not run. ``check()`` calls inside the
notebook record progress into a throw-away file, never into the learner's own.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MARK = "@@COURSE_RESULTS@@"
SKIP_TAG = "skip-when-grading"


def defined_exercises(source: str) -> list[str]:
    """Exercise ids that a notebook's code defines as functions, in course order."""
    from course_utils.grading.spec import registry

    names = set(re.findall(r"^\s*def\s+([A-Za-z_]\w*)\s*\(", source, flags=re.MULTILINE))
    return [ex_id for ex_id in registry() if ex_id in names]


def grade_namespace(namespace: dict[str, Any], expected: list[str]) -> dict[str, dict[str, Any]]:
    """Grade the functions of ``expected`` found in ``namespace`` (runs inside the kernel)."""
    from course_utils.grading.engine import grade

    out = {}
    for ex_id in expected:
        fn = namespace.get(ex_id)
        if not callable(fn):
            out[ex_id] = {"passed": False, "status": "missing",
                          "message": f"MISSING {ex_id}: the notebook does not define this function when run top to bottom."}
            continue
        res = grade(ex_id, fn)
        out[ex_id] = {"passed": res.passed, "status": res.status, "message": res.message}
    return out


@dataclass
class NotebookReport:
    path: Path
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str = ""

    @property
    def all_passed(self) -> bool:
        return not self.error and bool(self.results) and all(r["passed"] for r in self.results.values())

    def summary(self) -> str:
        n = sum(r["passed"] for r in self.results.values())
        lines = [f"{self.path}: {n}/{len(self.results)} exercises passed"]
        lines += [f"  {r['status']:16s} {ex_id}" for ex_id, r in self.results.items()]
        if self.error:
            lines.append(f"  problem: {self.error}")
        return "\n".join(lines)


@contextlib.contextmanager
def _kernel_environment(progress_file: Path):
    saved = {k: os.environ.get(k) for k in ("COURSE_PROGRESS_FILE", "COURSE_STRICT", "MPLBACKEND")}
    os.environ["COURSE_PROGRESS_FILE"] = str(progress_file)
    os.environ.pop("COURSE_STRICT", None)
    os.environ["MPLBACKEND"] = "Agg"
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def grade_notebook(path: Path, cell_timeout: int = 120, kernel_name: str = "python3") -> NotebookReport:
    """Execute ``path`` top to bottom in a new kernel and grade its exercise functions."""
    import nbformat
    from nbclient import NotebookClient

    report = NotebookReport(Path(path))
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # noqa: BLE001
        report.error = f"not a readable notebook ({type(exc).__name__}: {exc})"
        return report
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    expected = defined_exercises(code)
    nb.cells = [c for c in nb.cells
                if not (c.cell_type == "code" and SKIP_TAG in c.get("metadata", {}).get("tags", []))]
    nb.cells.append(nbformat.v4.new_code_cell(
        "import json as _json\nfrom course_utils.grading.runner import MARK as _MARK, grade_namespace as _grade\n"
        f"print(_MARK + _json.dumps(_grade(globals(), {expected!r})))"))
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp, _kernel_environment(Path(tmp) / "progress.json"):
        client = NotebookClient(nb, timeout=cell_timeout, allow_errors=True, kernel_name=kernel_name,
                                resources={"metadata": {"path": str(Path(path).resolve().parent)}})
        try:
            client.execute()
        except Exception as exc:  # noqa: BLE001  (a dead kernel, a cell timeout...)
            report.error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    for out in nb.cells[-1].get("outputs", []):
        text = out.get("text", "")
        if out.get("output_type") == "stream" and MARK in text:
            report.results = json.loads(text.split(MARK, 1)[1].strip().splitlines()[0])
    if not report.results and not report.error:
        report.error = "the grading cell produced no results"
    if not report.results:
        report.results = {ex_id: {"passed": False, "status": "not_run", "message": f"NOT RUN {ex_id}: {report.error}"}
                          for ex_id in expected}
    return report
