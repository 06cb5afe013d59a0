"""Grade a whole workbook file: run it in a fresh kernel, then judge every exercise it defines.

Used by ``python -m course_utils check NOTEBOOK``; the protocol (which cells are skipped, the
grading cell, how results come back) is :mod:`course_utils.grading.protocol`, shared with the
classroom's batch grader: the kernel only observes, the judging happens in this process.
``check()`` calls inside the notebook record progress into a
throw-away file, never into the learner's own.

Before the notebook runs, the report keeps what the file itself says: the predictions committed
with the buttons (:func:`~course_utils.grading.protocol.committed_predictions`, judged with the
run's observations), the chapter the workbook belongs to and a fingerprint of each function it
defines. The command records progress with them (``course_utils.cli``): an exercise of another
chapter (``kl_categorical``, copied into workbook 07 from workbook 06) is graded and shown but
recorded only by its own workbook, and re-grading unchanged code adds no attempt
(:mod:`course_utils.progress_store`).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from course_utils.grading import fingerprint
from course_utils.grading import protocol
from course_utils.grading.result import not_run


Verdict = dict[str, Any]  # {passed, status, message[, mistake][, help][, choice]}: notebook_verdicts' verdict


@dataclass
class NotebookReport:
    """One graded notebook: the verdict on each item, and what the grading learnt about the file.

    The one result type of both graders: ``check NOTEBOOK`` (:func:`grade_notebook`) and the
    classroom's batch grader, for which it is a gradebook row (``classroom.batch.Row`` is this
    class; :meth:`csv_row` gives the gradebook's columns). A verdict may be given as its status
    alone (``{"f": "passed"}``), as a gradebook read back from CSV holds it.
    """

    identifier: str  # the notebook's path (check) or the submission's identifier (batch: its path, no .ipynb)
    results: dict[str, Verdict] = field(default_factory=dict)  # item id -> verdict, in course order
    error: str = ""  # why the notebook could not be run or read
    path: Optional[Path] = None
    chapter: str = ""  # "07": the chapter the workbook belongs to ("" when the file does not say)
    fingerprints: dict[str, str] = field(default_factory=dict)  # function name -> fingerprint.fingerprint
    committed: dict[str, dict[str, str]] = field(default_factory=dict)  # the saved file's prediction records
    help_used: dict[str, str] = field(default_factory=dict)  # exercise id -> the help the file shows it used
    # the batch grader's: how the sandboxed run went, its notes, and the assignment's items (the denominator)
    status: str = "graded"  # graded, timeout, crashed, other_assignment, grader_error, ...
    runtime_s: float = 0.0
    detail: str = ""
    expected: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.results = {item: ({"passed": verdict == "passed", "status": verdict, "message": ""}
                               if isinstance(verdict, str) else verdict) for item, verdict in self.results.items()}

    def status_of(self, item: str) -> str:
        return str(self.results[item]["status"]) if item in self.results else ""

    def mistake_of(self, item: str) -> str:
        """The catalogued mistake the item's diagnosis names ("" when none)."""
        return str(self.results.get(item, {}).get("mistake") or "")

    def help_of(self, item: str) -> str:
        return str(self.results.get(item, {}).get("help") or "")

    def message_of(self, item: str) -> str:
        """The feedback the item's check would show, with the help used."""
        verdict = self.results.get(item, {})
        used = self.help_of(item)
        return str(verdict.get("message", "")) + (f"\n(help used: {used})" if used else "")

    @property
    def total(self) -> int:
        return sum(1 for r in self.results.values() if r["status"] == "passed")

    @property
    def all_passed(self) -> bool:
        return not self.error and bool(self.results) and all(r["passed"] for r in self.results.values())

    def csv_row(self, exercises: list[str]) -> dict[str, str]:
        """The gradebook's columns: identifier, one status per exercise, total, max (the assignment's
        size when known), status, runtime_s, detail."""
        graded = [ex for ex in self.results if not self.expected or ex in self.expected]
        size = len(self.expected) if self.expected else len(self.results)
        total = sum(1 for ex in graded if self.status_of(ex) == "passed")
        row = {"identifier": self.identifier, "total": str(total), "max": str(size),
               "status": self.status, "runtime_s": f"{self.runtime_s:.1f}", "detail": self.detail}
        row.update({ex: self.status_of(ex) for ex in exercises})
        return row

    def summary(self) -> str:
        lines = [f"{self.identifier}: {self.total}/{len(self.results)} exercises passed"]
        lines += [f"  {r['status']:16s} {ex_id}" for ex_id, r in self.results.items()]
        if self.error:
            lines.append(f"  problem: {self.error}")
        return "\n".join(lines)


@contextlib.contextmanager
def _kernel_environment(progress_path: Path):
    saved = {k: os.environ.get(k) for k in ("COURSE_PROGRESS_FILE", "COURSE_STRICT", "MPLBACKEND")}
    os.environ["COURSE_PROGRESS_FILE"] = str(progress_path)
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


def grade_notebook(path: Path, judge: Callable[[Any, Any, Any], dict[str, dict[str, Any]]], observer: str,
                   cell_timeout: int = 120,
                   kernel_name: str = "python3",
                   defined_exercises: Optional[Callable[[str], list[str]]] = None) -> NotebookReport:
    """Execute ``path`` top to bottom in a new kernel and grade its exercise functions.

    ``defined_exercises`` (code -> exercise ids; :func:`course_utils.catalogue.defined_exercises`)
    names the exercises reported as "not_run" when the notebook produced no results; ``judge``
    (the kernel's observations, the saved file's prediction records and the help the file shows ->
    results; :func:`course_utils.notebook_verdicts.judge_observations`) turns what the kernel sent
    back into results, here, outside the kernel; ``observer`` ("module:function") is what the
    grading cell runs in the kernel (:func:`~course_utils.grading.protocol.grading_cell`).
    """
    import nbformat

    report = NotebookReport(str(path), path=Path(path))
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # noqa: BLE001
        report.error = f"not a readable notebook ({type(exc).__name__}: {exc})"
        return report
    # what the file says before it runs (running it replaces the outputs that hold the buttons' records)
    report.committed = protocol.committed_predictions(nb)
    report.chapter = protocol.notebook_chapter(nb, Path(path))
    report.fingerprints = fingerprint.notebook_fingerprints([c.source for c in nb.cells if c.cell_type == "code"])
    report.help_used = protocol.help_used_in(nb)
    code = protocol.prepare(nb, observer)
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp, _kernel_environment(Path(tmp) / "progress.json"):
        _, report.error = protocol.execute(nb, Path(path).resolve().parent, cell_timeout, kernel_name=kernel_name)
    observed = protocol.read_results(nb)
    if observed is not None:
        report.results = judge(observed, report.committed, report.help_used)
    if not report.results and not report.error:
        report.error = "the grading cell produced no results"
    if not report.results and defined_exercises is not None:
        report.results = {ex_id: not_run(ex_id, report.error) for ex_id in defined_exercises(code)}
    if observed is None and report.committed:  # a commitment saved in the file counts even when the run failed
        report.results.update(judge({}, report.committed, {}))
    return report
