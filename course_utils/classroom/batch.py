"""Grade a folder of collected workbooks: one sandboxed process per submission.

``python -m course_utils grade-submissions SUBMISSIONS_DIR --out gradebook.csv`` finds every
``*.ipynb`` below ``SUBMISSIONS_DIR`` (per-student subfolders are fine; the identifier is the
path relative to it, without ``.ipynb``), copies each into a scratch folder (the submissions
themselves are never modified), runs it in :mod:`course_utils.classroom.sandbox` (where the
learner's kernel only calls its functions on the checks' cases), judges what came back in this
process (which never runs learner code: :func:`course_utils.notebook_verdicts.judge_observations`) and writes:

* ``gradebook.csv``: one row per submission (identifier, one column per exercise, total,
  max, status, runtime in seconds, detail), written with the ``csv`` module so names such as
  ``Smith, Jr.`` stay in one cell. Rows are appended and flushed as they finish: after an
  interruption (Ctrl+C) the same command resumes and skips every identifier already there.
* ``gradebook_pass_rates.png``: the share of submissions passing each exercise.
* ``gradebook_feedback/<identifier>.md``: for each student, the feedback the checks in the
  workbook would have shown them.
* ``gradebook_items.csv``: one row per submission and item (status, the catalogued mistake its
  diagnosis names, the help used, whether the submission is flagged), from which
  :mod:`course_utils.classroom.report` writes ``gradebook_mistakes.csv``, ``gradebook_learners.csv``
  and ``gradebook_report.html`` (the class's mistakes at a glance).

``--shard K/N`` grades only the learners (first folder of the identifier) whose hash falls in
shard K of N; ``merge-gradebooks`` joins the shards' gradebooks into one.
"""
from __future__ import annotations

import csv
import hashlib
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

from course_utils.classroom.sandbox import ChildOutcome, Limits, kill_group, run_sandboxed, sandbox_mode
from course_utils.grading import protocol
from course_utils.grading.check_notebook import NotebookReport
from course_utils.grading.result import missing, not_run

FIXED_COLUMNS_BEFORE = ["identifier"]
FIXED_COLUMNS_AFTER = ["total", "max", "status", "runtime_s", "detail"]


@dataclass
class Submission:
    identifier: str
    path: Path


# A graded submission, what goes into the CSV and into the student's feedback file: the notebook
# result type of ``check NOTEBOOK`` too (one type, its verdicts as notebook_verdicts gives them).
Row = NotebookReport


def discover(root: Path) -> list[Submission]:
    """Every ``*.ipynb`` below ``root`` (checkpoints ignored), sorted by identifier."""
    found = []
    for path in sorted(root.rglob("*.ipynb")):
        rel = path.relative_to(root)
        if ".ipynb_checkpoints" in rel.parts or not path.is_file():
            continue
        found.append(Submission(rel.with_suffix("").as_posix(), path))
    return found


def exercises_in(paths: Iterable[Path]) -> list[str]:
    """The exercise ids any of the notebooks defines, in course order (unreadable files skipped)."""
    import nbformat

    from course_utils.catalogue import asked_predictions, defined_exercises

    sources = []
    for path in paths:
        try:
            sources.append(protocol.code_of(nbformat.read(str(path), as_version=4)))
        except Exception:  # noqa: BLE001  (the child reports it in the row)
            continue
    code = "\n".join(sources)
    return defined_exercises(code) + asked_predictions(code)


EXERCISES_DIR = Path(__file__).resolve().parents[2] / "exercises"  # the released workbooks of this course
# Code that reaches for the grader or the answer key instead of doing the work: flagged, never credited.
SUSPICIOUS = re.compile(r"course_utils\s*\.\s*(grading|answers|catalogue|checks|workbook)\b"
                        r"|from\s+course_utils(\.\w+)?\s+import\s+[^\n]*\b(answers|registry|grade\w*|catalogue)\b"
                        r"|\bregistry\s*\(|\bsolution\s*\(")


def assignment_for(path: Path, assignment: Optional[Path] = None) -> Optional[Path]:
    """The released workbook a submission answers: ``assignment`` if the instructor named one,
    else the workbook the submission was generated from (its metadata), else the one whose
    chapter number starts the file name. None when none matches."""
    if assignment is not None:
        return assignment
    try:
        import json

        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("course", {})
        source = Path(str(meta.get("generated_from", ""))).name
        if source and (EXERCISES_DIR / source).exists():
            return EXERCISES_DIR / source
    except Exception:  # noqa: BLE001  (not a notebook: the child reports it)
        pass
    match = re.match(r"(\d\d)_", path.name)
    if match:
        found = sorted(EXERCISES_DIR.glob(f"{match.group(1)}_*.ipynb"))
        if found:
            return found[0]
    return None


def declared_workbook(path: Path) -> Optional[str]:
    """The released workbook a submission's metadata says it was generated from (its file name), if any."""
    try:
        import json

        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("course", {})
        source = Path(str(meta.get("generated_from", ""))).name
    except Exception:  # noqa: BLE001
        return None
    return source or None


def other_assignment(sub: Submission, assignment: Optional[Path]) -> Optional[Row]:
    """The row of a submission whose metadata names another workbook than ``--assignment``: not
    graded (its exercises are not this assignment's), said so; None when it names the same or none."""
    declared = declared_workbook(sub.path)
    if assignment is None or declared is None or declared == assignment.name:
        return None
    return Row(sub.identifier, status="other_assignment",
               detail=f"not graded: its metadata says it is {declared}, not {assignment.name}; grade it with "
                      f"--assignment exercises/{declared} (one folder per assignment)")


def learner_of(identifier: str) -> str:
    """The learner an identifier belongs to: its first folder (per-student subfolders), else itself."""
    return identifier.split("/", 1)[0]


def in_shard(identifier: str, shard: Optional[tuple[int, int]]) -> bool:
    """Whether a submission belongs to shard ``(k, n)`` (k from 0): by a hash of its learner, so that
    every shard gets the same split on every machine and a learner's notebooks stay together."""
    if shard is None:
        return True
    k, n = shard
    return int(hashlib.sha256(learner_of(identifier).encode("utf-8")).hexdigest(), 16) % n == k


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N), K counted from 0 (Slurm's SLURM_ARRAY_TASK_ID, Kubernetes' JOB_COMPLETION_INDEX)."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not match or not 0 <= int(match.group(1)) < int(match.group(2)):
        raise ValueError(f"--shard wants K/N with 0 <= K < N (K counted from 0), not {text!r}")
    return int(match.group(1)), int(match.group(2))


def expected_items(path: Path, assignment: Optional[Path] = None) -> tuple[list[str], str]:
    """What a submission is graded on: the items of its assignment (so that deleting an exercise
    cannot shrink the denominator), and a note when the assignment had to be guessed."""
    target = assignment_for(path, assignment)
    if target is not None:
        return exercises_in([target]), ""
    return exercises_in([path]), "assignment unknown: graded the exercises the submission defines"


# Code that replaces a piece of the checking machinery (torch/NumPy comparison functions, check, the
# grader, the catalogue): it cannot change a verdict (the comparison runs outside the kernel) but
# the instructor should know, with the cell that did it.
PATCHES = re.compile(
    r"^[ \t]*(?:[\w.]+\s*=\s*)*[A-Za-z_][\w.]*\."  # an attribute of a module: a bare name patches nothing
    r"(?:allclose|isclose|equal|array_equal|assert_close|assert_allclose|assert_array_equal|check|grade\w*"
    r"|judge\w*|observe\w*|registry|compose)\s*=(?!=)"
    r"|^[ \t]*(?:[\w.]+\s*=\s*)*check\s*=(?!=)"  # the workbook's own check(...) replaced
    r"|^[ \t]*(?:[\w.]+\s*=\s*)*course_utils\.[\w.]+\s*=(?!=)"
    r"|\bsetattr\s*\(\s*(?:course_utils|torch|np|numpy)\b"
    r"|^[ \t]*def\s+check\s*\(", re.M)


def flags_for(path: Path) -> str:
    """A note for the instructor when the submission's code uses the grader or the answer key, or
    patches the checking machinery; each with the cell (numbered from 1, all cells) that did it."""
    import nbformat

    try:
        cells = nbformat.read(str(path), as_version=4).cells
    except Exception:  # noqa: BLE001
        return ""
    calls, patches = [], []
    for index, cell in enumerate(cells, start=1):
        if cell.cell_type != "code":
            continue
        calls += [f"{m.group(0).strip()} (cell {index})" for m in SUSPICIOUS.finditer(cell.source)]
        patches += [f"{m.group(0).strip().rstrip('=').strip()} (cell {index})" for m in PATCHES.finditer(cell.source)]
    notes = []
    if calls:
        notes.append("FLAG: the code calls the course's grader or answer key ("
                     + ", ".join(dict.fromkeys(calls))[:300] + "); check it by hand")
    if patches:
        notes.append("FLAG: the code patches the checking machinery ("
                     + ", ".join(dict.fromkeys(patches))[:300] + "); its grade does not depend on it, check it by hand")
    return "; ".join(notes)


def judge_outcome(outcome: ChildOutcome, committed: Optional[dict[str, Any]] = None,
                  help_used: Optional[dict[str, str]] = None) -> dict[str, dict[str, Any]]:
    """Judge, in this process (which never runs learner code), what the sandboxed kernel observed
    and the predictions the submitted file holds (``committed``, from
    :func:`course_utils.grading.protocol.committed_predictions_in`: what the buttons saved):
    {exercise id: {passed, status, message[, help]}}; ``help_used``: what the submitted file shows
    (:func:`course_utils.grading.protocol.help_used_in_file`). Call it from the main thread (the time
    limit on replaying a catalogued mistake uses SIGALRM)."""
    from course_utils.notebook_verdicts import judge_observations

    data = outcome.data if isinstance(outcome.data, dict) else {}
    return judge_observations(data.get("observed") or {}, committed, help_used)


def row_from_outcome(identifier: str, outcome: ChildOutcome, limits: Limits, expected: list[str],
                     results: Optional[dict[str, dict[str, Any]]] = None) -> Row:
    """Turn what the sandboxed child left behind, and the verdicts on it (``results``, from
    :func:`judge_outcome` when None), into a gradebook row with a clear status."""
    row = Row(identifier, results=dict(judge_outcome(outcome) if results is None else results),
              runtime_s=outcome.runtime_s)
    data = outcome.data if isinstance(outcome.data, dict) else {}
    helped = [f"{ex_id} ({row.help_of(ex_id)})" for ex_id in row.results if row.help_of(ex_id)]
    kind = str(data.get("kind", ""))
    if outcome.timed_out:
        row.status = "timeout"
        row.detail = f"stopped after the total limit of {limits.total_timeout_s} s"
    elif not data:
        row.status = "crashed"
        code = outcome.returncode
        why = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        row.detail = f"the grading process ended without a result ({why}); {_last_line(outcome.stderr_tail)}"
    elif kind:
        row.status = kind
        row.detail = str(data.get("error", ""))[:500]
    if data.get("cell_error"):
        row.detail = "; ".join(filter(None, [row.detail, "first error in " + str(data["cell_error"])[:300]]))
    if helped:
        row.detail = "; ".join(filter(None, [row.detail, "help used: " + ", ".join(helped)]))
    ran = bool(data) and not kind and not outcome.timed_out
    for ex_id in expected:  # the assignment's items that the submission does not answer, or that did not run
        if ex_id not in row.results:
            verdict = (missing(ex_id, "the submission does not define it (it is part of the assignment)") if ran
                       else not_run(ex_id, row.detail or row.status))
            row.results[ex_id] = verdict
    row.expected = list(expected)
    return row


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:200] if lines else "no error output"


@dataclass
class Ran:
    """A submission run in the sandbox, not judged yet (:func:`finish` judges it)."""

    sub: Submission
    outcome: ChildOutcome
    expected: list[str]
    note: str


def finish(ran: Ran, limits: Limits) -> Row:
    """Judge a sandboxed run in this process and make its gradebook row (flags and notes first)."""
    try:
        # the predictions committed with the buttons live in the submitted file's outputs: read as
        # data here, from the original (the sandbox ran a copy, and running replaced its outputs)
        results = judge_outcome(ran.outcome, protocol.committed_predictions_in(ran.sub.path),
                                protocol.help_used_in_file(ran.sub.path))
        row = row_from_outcome(ran.sub.identifier, ran.outcome, limits, ran.expected, results)
    except Exception as exc:  # noqa: BLE001  (one broken submission never stops the class)
        return Row(ran.sub.identifier, status="grader_error", detail=f"{type(exc).__name__}: {exc}")
    row.detail = "; ".join(filter(None, [flags_for(ran.sub.path), ran.note, row.detail]))
    return row


def run_submission(sub: Submission, limits: Limits, slot: int,
                   running: Optional[dict[int, subprocess.Popen]] = None,
                   assignment: Optional[Path] = None) -> Ran | Row:
    """Copy one submission to a scratch folder, run it in the sandbox, clean up; a Row only when
    the grader itself failed."""
    scratch = Path(tempfile.mkdtemp(prefix="course-grade-"))
    try:
        target = scratch / "submission.ipynb"
        shutil.copyfile(sub.path, target)  # the original is never opened for writing

        def remember(proc: subprocess.Popen) -> None:
            if running is not None:
                running[slot] = proc

        expected, note = expected_items(sub.path, assignment)
        return Ran(sub, run_sandboxed(target, scratch, limits, slot=slot, on_start=remember), expected, note)
    except Exception as exc:  # noqa: BLE001  (one broken submission never stops the class)
        return Row(sub.identifier, status="grader_error", detail=f"{type(exc).__name__}: {exc}")
    finally:
        if running is not None:
            running.pop(slot, None)
        shutil.rmtree(scratch, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Gradebook files

def read_gradebook(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of an existing gradebook (empty when there is none)."""
    if not path.exists():
        return [], []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = [r for r in reader if r.get("identifier")]
        return list(reader.fieldnames or []), rows


def _write_all(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, quoting=csv.QUOTE_MINIMAL)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r.get(k, "") for k in header})
    os.replace(tmp, path)


ITEM_COLUMNS = ["identifier", "learner", "item", "status", "mistake", "help", "flagged"]


def items_path(gradebook: Path) -> Path:
    """The per-item sidecar of a gradebook: ``gradebook_items.csv``."""
    return gradebook.with_name(gradebook.stem + "_items.csv")


def item_rows(row: Row) -> list[dict[str, str]]:
    flagged = "1" if "FLAG:" in row.detail else ""
    return [{"identifier": row.identifier, "learner": learner_of(row.identifier), "item": ex_id, "status": status,
             "mistake": row.mistake_of(ex_id), "help": row.help_of(ex_id), "flagged": flagged}
            for ex_id, status in ((ex_id, row.status_of(ex_id)) for ex_id in row.results)]


class Gradebook:
    """The CSV, appended one row at a time (flushed and fsynced, so an interruption keeps it), and
    its per-item sidecar (written first: a row in the gradebook always has its items)."""

    def __init__(self, path: Path, exercises: list[str]) -> None:
        self.path = path
        self.items = items_path(path)
        old_header, old_rows = read_gradebook(path)
        known = [c for c in old_header if c not in FIXED_COLUMNS_BEFORE + FIXED_COLUMNS_AFTER]
        self.exercises = known + [e for e in exercises if e not in known]
        self.header = FIXED_COLUMNS_BEFORE + self.exercises + FIXED_COLUMNS_AFTER
        self.done = {r["identifier"] for r in old_rows}
        if old_header != self.header:
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_all(path, self.header, old_rows)
        self._lock = threading.Lock()

    def append(self, row: Row) -> None:
        with self._lock:
            new = not self.items.exists()
            with self.items.open("a", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=ITEM_COLUMNS)
                if new:
                    writer.writeheader()
                writer.writerows(item_rows(row))
            self._append_row(row)

    def _append_row(self, row: Row) -> None:
        with self.path.open("a", newline="", encoding="utf-8") as fh:
            csv.DictWriter(fh, fieldnames=self.header).writerow(row.csv_row(self.exercises))
            fh.flush()
            os.fsync(fh.fileno())
            self.done.add(row.identifier)


def safe_name(identifier: str) -> str:
    """A file name for an identifier: path separators and odd characters become ``_``."""
    return re.sub(r"[^\w.,' -]+", "_", identifier.replace("/", "__")).strip(" .") or "submission"


def write_feedback(folder: Path, row: Row) -> Path:
    """The student's feedback as Markdown: the same messages their check() cells show."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"# Feedback for {row.identifier}", "",
             f"**{row.total} of {len(row.expected) or len(row.results)} exercises passed.**", ""]
    if row.status != "graded":
        lines += [f"Note from the grader: {row.status} - {row.detail}", ""]
    elif row.detail:
        lines += [f"Note from the grader: {row.detail}", ""]
    for ex_id in row.results:
        lines += [f"## `{ex_id}`: {row.status_of(ex_id)}", "", "```text", row.message_of(ex_id).replace("```", "'''"),
                  "```", ""]
    target = folder / f"{safe_name(row.identifier)}.md"
    target.write_text("\n".join(lines), encoding="utf-8")
    return target


def pass_rate_chart(gradebook: Path, target: Path) -> Optional[Path]:
    """A bar chart of the share of submissions passing each exercise (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    header, rows = read_gradebook(gradebook)
    exercises = [c for c in header if c not in FIXED_COLUMNS_BEFORE + FIXED_COLUMNS_AFTER]
    if not rows or not exercises:
        return None
    rates = [100.0 * sum(r.get(ex) == "passed" for r in rows) / len(rows) for ex in exercises]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(exercises) + 2), 4))
    bars = ax.bar(range(len(exercises)), rates, color="#2e7d32")
    ax.bar_label(bars, labels=[f"{r:.0f}%" for r in rates])
    ax.set_xticks(range(len(exercises)), exercises, rotation=30, ha="right")
    ax.set_ylim(0, 110)
    ax.set_ylabel("submissions passing (%)")
    ax.set_title(f"Pass rate per exercise ({len(rows)} submissions)")
    fig.tight_layout()
    fig.savefig(target, dpi=100)
    plt.close(fig)
    return target


# --------------------------------------------------------------------------------------------
# The run

def outputs_for(out: Path) -> tuple[Path, Path]:
    """Where the chart and the feedback folder go, next to the CSV."""
    return out.with_name(out.stem + "_pass_rates.png"), out.with_name(out.stem + "_feedback")


def grade_submissions(root: Path, out: Path, limits: Limits, workers: int = 1,
                      progress: bool = True, log=print, assignment: Optional[Path] = None,
                      shard: Optional[tuple[int, int]] = None) -> int:
    """Grade every submission below ``root`` not yet in ``out``; return how many were graded now."""
    from tqdm.auto import tqdm

    mode, why = sandbox_mode()
    if mode != "bwrap":
        log(f"WARNING: {why}.\nGrading continues with resource limits only (memory, CPU, time, file size): "
            "submissions are NOT isolated from the network or from your files, and their code can read "
            "the answer key (the comparison still runs outside their kernel). Install bubblewrap "
            "for real isolation.", file=sys.stderr)
    import torch  # the judging happens in this process, one thread beside the sandboxes

    torch.set_num_threads(1)
    subs = [s for s in discover(root) if in_shard(s.identifier, shard)]
    if not subs:
        log(f"No notebooks (*.ipynb) found below {root}" + (f" in shard {shard[0]}/{shard[1]}." if shard else "."),
            file=sys.stderr)
        if shard is not None:  # an empty shard still leaves a gradebook for merge-gradebooks
            Gradebook(out, [])
        return 0
    others = {s.identifier: row for s in subs if (row := other_assignment(s, assignment)) is not None}
    if others:
        log(f"WARNING: {len(others)} notebook(s) name another workbook than {assignment.name} in their metadata "
            f"and are NOT graded (status other_assignment): {', '.join(sorted(others))[:500]}. Grade each "
            "assignment from its own folder.", file=sys.stderr)
    columns: list[str] = []
    for sub in subs:
        if sub.identifier not in others:
            columns += [ex for ex in expected_items(sub.path, assignment)[0] if ex not in columns]
    book = Gradebook(out, columns)
    chart, feedback = outputs_for(out)
    todo = [s for s in subs if s.identifier not in book.done]
    if len(todo) < len(subs):
        log(f"Resuming: {len(subs) - len(todo)} of {len(subs)} submissions are already in {out}; skipping them.")
    workers = max(1, min(workers, os.cpu_count() or 1, len(todo) or 1))
    slots: queue.Queue[int] = queue.Queue()
    for k in range(workers):
        slots.put(k)
    running: dict[int, subprocess.Popen] = {}

    def job(sub: Submission) -> Ran | Row:
        if sub.identifier in others:
            return others[sub.identifier]
        slot = slots.get()
        try:
            return run_submission(sub, limits, slot, running, assignment)
        finally:
            slots.put(slot)

    graded = 0
    bar = tqdm(total=len(todo), desc="grading", unit="nb", disable=not progress)
    pool = ThreadPoolExecutor(max_workers=workers)
    pending: set[Future] = {pool.submit(job, s) for s in todo}
    try:
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in done:
                ran = fut.result()
                row = finish(ran, limits) if isinstance(ran, Ran) else ran  # judged here, in the main thread
                book.append(row)
                write_feedback(feedback, row)
                graded += 1
                bar.set_postfix_str(f"{row.identifier[:30]}: {row.status}")
                bar.update(1)
    except KeyboardInterrupt:
        for fut in pending:
            fut.cancel()
        for proc in list(running.values()):
            kill_group(proc)
        log(f"\nInterrupted: {graded} submission(s) graded in this run are saved in {out}. "
            "Run the same command again to grade the rest.", file=sys.stderr)
        raise
    finally:
        bar.close()
        pool.shutdown(wait=True, cancel_futures=True)
    pass_rate_chart(out, chart)
    log(f"Graded {graded} submission(s) -> {out}\nPass rates: {chart}\nFeedback: {feedback}/")
    return graded


def summarise(out: Path) -> dict[str, Any]:
    """Counts by status, for the command's last line and the tests."""
    _, rows = read_gradebook(out)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return counts
