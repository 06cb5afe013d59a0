"""The learner's progress: one small JSON file, written atomically, rebuilt if corrupt.

Location: ``$COURSE_PROGRESS_FILE`` if set, else ``~/.policy-optimisation-course/progress.json``.

**Attempts count tries, not gradings.** Each grading of an exercise (``check(fn)`` in a
workbook, ``course check NOTEBOOK``) records its status; it adds an attempt only when the code
graded differs from the code of the last recorded grading. The code is compared by its
:func:`fingerprint` (the function's syntax tree, without its docstring: comments, blank lines
and re-wrapping do not count), stored as ``graded_code``. Running ``check(...)`` again, or
``course check`` on the saved workbook, therefore updates the status without adding an attempt,
and so does a copy of the same function in a later workbook (``kl_categorical`` in workbook 07).
A grading whose code cannot be read (a lambda, a function built by ``exec``) counts as an attempt.

**Written derivations are self-assessed.** A derivation written on paper is not graded by the course:
the learner commits (the model answer is shown from then on), then scores their answer against a
short rubric. :func:`record_self_assessment` keeps both in the entry: ``status`` is ``"committed"``,
then ``"self_assessed"`` with ``self_assessed = {"met": [rubric points, from 1], "out_of": n, "at": time}``
(a later score replaces an earlier one; the commitment's time stays). The report lists them with
``self k/n``, never as passed.
"""
from __future__ import annotations

import datetime as _dt
import html
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping, Optional

from course_utils.grading.fingerprint import fingerprint, notebook_fingerprints  # noqa: F401  (the code a grading saw)

SCHEMA_VERSION = 1


def progress_path() -> Path:
    env = os.environ.get("COURSE_PROGRESS_FILE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".policy-optimisation-course" / "progress.json"


def _empty() -> dict[str, Any]:
    return {"version": SCHEMA_VERSION, "exercises": {}}


def load(path: Optional[Path] = None) -> tuple[dict[str, Any], Optional[str]]:
    """Return (progress, warning). A missing or empty file is empty progress (``mktemp`` makes an
    empty one); a corrupt one is moved aside to ``<name>.corrupt`` and replaced, and the warning says
    so (never raises)."""
    path = path or progress_path()
    if not path.exists() or path.stat().st_size == 0:
        return _empty(), None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("exercises"), dict):
            raise ValueError("unexpected structure")
        return data, None
    except (OSError, ValueError) as exc:
        backup = path.with_name(path.name + ".corrupt")
        try:
            os.replace(path, backup)
            where = f"it was moved to {backup}"
        except OSError:
            where = "it could not be moved aside"
        return _empty(), (f"Your progress file {path} could not be read ({type(exc).__name__}); {where} "
                          "and a fresh one was started. Re-run your checks to record them again.")


def save(data: dict[str, Any], path: Optional[Path] = None) -> None:
    """Write atomically: a temporary file in the same folder, then ``os.replace``."""
    path = path or progress_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".progress-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def record(exercise_id: str, status: str, path: Optional[Path] = None,
           code: Optional[str] = None) -> Optional[str]:
    """Record one grading of ``exercise_id`` (``code``: the :func:`fingerprint` of the function
    graded). It counts as an attempt unless ``code`` is the code of the last recorded grading
    (see the module's docstring). Returns a warning if the file had to be rebuilt or could not
    be written."""
    data, warning = load(path)
    entry = data["exercises"].setdefault(exercise_id, {"attempts": 0, "status": "not_started"})
    if code is None or entry.get("graded_code") != code:
        entry["attempts"] = int(entry.get("attempts", 0)) + 1
    if code is None:
        entry.pop("graded_code", None)
    else:
        entry["graded_code"] = code
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    entry["last_attempt"] = now
    if status == "passed":
        entry.setdefault("first_passed", now)
    # once passed, an exercise stays passed unless a later attempt fails (then it shows "failed")
    entry["status"] = status
    try:
        save(data, path)
    except OSError as exc:
        return f"Your progress could not be saved ({exc}); the check itself is unaffected."
    return warning


def record_prediction(prediction_id: str, choice: str, correct: bool,
                      path: Optional[Path] = None) -> tuple[Optional[str], str]:
    """Record the first commitment of a prediction: ``(the choice already on record or None,
    when it was committed)``. A later commitment never replaces the first one."""
    data, _ = load(path)
    entry = data["exercises"].setdefault(prediction_id, {"attempts": 0, "status": "not_started"})
    if "prediction" in entry:
        return str(entry["prediction"]), str(entry.get("first_passed", ""))
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    entry.update(prediction=choice, correct=bool(correct), status="passed", attempts=1,
                 first_passed=now, last_attempt=now)
    try:
        save(data, path)
    except OSError:
        pass
    return None, now


def record_self_assessment(written_id: str, met: Optional[list[int]] = None, out_of: int = 0,
                           path: Optional[Path] = None) -> dict[str, Any]:
    """Record a written derivation: the commitment (``met`` None: the learner has written an answer and
    now reads the model one), or the rubric points their answer meets (numbers from 1, out of
    ``out_of``). Returns the entry as recorded."""
    data, _ = load(path)
    entry = data["exercises"].setdefault(written_id, {"attempts": 0, "status": "not_started"})
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    entry.setdefault("committed_at", now)
    if met is None:
        if entry.get("status") != "self_assessed":
            entry["status"] = "committed"
    else:
        entry["self_assessed"] = {"met": sorted({int(k) for k in met}), "out_of": int(out_of), "at": now}
        entry["status"] = "self_assessed"
    try:
        save(data, path)
    except OSError:
        pass
    return dict(entry)


def self_score(entry: Mapping[str, Any]) -> Optional[tuple[int, int]]:
    """(points met, out of) of a self-assessed entry, else None."""
    scored = entry.get("self_assessed")
    if not isinstance(scored, Mapping):
        return None
    return len(scored.get("met", [])), int(scored.get("out_of", 0))


def next_hint_level(exercise_id: str, n_levels: int, path: Optional[Path] = None, at_least: int = 0) -> int:
    """The next hint level to show (and record it as seen); ``at_least`` records a level asked directly."""
    data, _ = load(path)
    entry = data["exercises"].setdefault(exercise_id, {"attempts": 0, "status": "not_started"})
    level = min(int(entry.get("hints_seen", 0)) + 1, n_levels)
    if at_least:
        level = min(max(int(entry.get("hints_seen", 0)), at_least), n_levels)
    entry["hints_seen"] = level
    try:
        save(data, path)
    except OSError:
        pass
    return level


def mark_solution_seen(exercise_id: str, path: Optional[Path] = None) -> None:
    """Record that the course's answer to ``exercise_id`` was shown (``solution(...)``)."""
    data, _ = load(path)
    entry = data["exercises"].setdefault(exercise_id, {"attempts": 0, "status": "not_started"})
    entry.setdefault("solution_seen", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    try:
        save(data, path)
    except OSError:
        pass


class ProgressReport:
    """The whole course at a glance: a table per chapter with one mark per exercise."""

    MARKS = {"passed": "done", "failed": "trying", "not_implemented": "started", "not_started": "-",
             "committed": "unscored", "self_assessed": "self"}
    DONE = ("passed", "self_assessed")  # a self-assessed derivation counts as done, shown with its own score

    def __init__(self, rows: list[tuple[str, str, str, int]], warning: Optional[str],
                 help_used: Optional[dict[str, str]] = None,
                 self_scores: Optional[dict[str, tuple[int, int]]] = None) -> None:
        self.rows = rows  # (chapter, exercise id, status, attempts)
        self.warning = warning
        self.help_used = help_used or {}  # {exercise id: "2 hints, answer shown"}
        self.self_scores = self_scores or {}  # {written derivation id: (points met, out of)}

    def _mark(self, ex_id: str, status: str) -> str:
        if ex_id in self.self_scores:
            met, out_of = self.self_scores[ex_id]
            return f"self {met}/{out_of}"
        return self.MARKS.get(status, status)

    def chapters(self) -> dict[str, list[tuple[str, str, int]]]:
        out: dict[str, list[tuple[str, str, int]]] = {}
        for chapter, ex_id, status, attempts in self.rows:
            out.setdefault(chapter, []).append((ex_id, status, attempts))
        return out

    @property
    def done(self) -> int:
        return sum(1 for r in self.rows if r[2] in self.DONE)

    def __repr__(self) -> str:
        lines = [f"Course progress: {self.done} of {len(self.rows)} exercises, predictions and derivations done"]
        for chapter, items in self.chapters().items():
            n = sum(1 for _, s, _ in items if s in self.DONE)
            bar = "#" * n + "." * (len(items) - n)
            lines.append(f"\n{chapter}  [{bar}] {n}/{len(items)}")
            for ex_id, status, attempts in items:
                tries = f"{attempts} attempt{'s' if attempts != 1 else ''}" if attempts else ""
                used = f" ({self.help_used[ex_id]})" if ex_id in self.help_used else ""
                lines.append(f"  {self._mark(ex_id, status):8s} {ex_id:32s} {tries}{used}".rstrip())
        if self.warning:
            lines.append("\n" + self.warning)
        return "\n".join(lines)

    def _repr_html_(self) -> str:  # pragma: no cover - notebook display
        colours = {"passed": "#2e7d32", "failed": "#e65100", "not_implemented": "#455a64", "not_started": "#9e9e9e",
                   "committed": "#455a64", "self_assessed": "#1565c0"}
        parts = [f"<div><b>Course progress:</b> {self.done} of {len(self.rows)} exercises, predictions and derivations done</div>",
                 "<table style='border-collapse:collapse'>"]
        for chapter, items in self.chapters().items():
            n = sum(1 for _, s, _ in items if s in self.DONE)
            cells = "".join(
                f"<span title='{html.escape(ex_id)}: {html.escape(self._mark(ex_id, status))}' style='display:inline-block;width:14px;"
                f"height:14px;margin:1px;border-radius:3px;background:{colours.get(status, '#9e9e9e')}'></span>"
                for ex_id, status, _ in items)
            names = ", ".join(f"<code style='color:{colours.get(s, '#9e9e9e')}'>{html.escape(i)}</code>"
                              + (f" <small>({html.escape(self.help_used[i])})</small>" if i in self.help_used else "")
                              for i, s, _ in items)
            parts.append(f"<tr><td style='padding:3px 10px 3px 0;text-align:left'><b>{html.escape(chapter)}</b></td>"
                         f"<td style='padding:3px 10px;text-align:left'>{cells}</td><td style='text-align:left'>{n}/{len(items)}</td>"
                         f"<td style='padding-left:10px;text-align:left;font-size:85%'>{names}</td></tr>")
        parts.append("</table>")
        parts.append("<div style='font-size:85%'>green: passed &middot; orange: attempted, not passed yet &middot; "
                     "blue: a written derivation you scored yourself &middot; grey: not started</div>")
        if self.warning:
            parts.append(f"<div style='color:#e65100'>{html.escape(self.warning)}</div>")
        return "".join(parts)


def report(exercises: Mapping[str, Any], path: Optional[Path] = None,
           written: Optional[Mapping[str, Any]] = None) -> ProgressReport:
    """The progress through ``exercises`` ({id: Exercise} in course order, the catalogue's registry) and
    the ``written`` derivations ({id: item with a ``chapter``}), listed in their chapters."""
    data, warning = load(path)
    rows = []
    for ex_id, ex in exercises.items():
        entry = data["exercises"].get(ex_id, {})
        rows.append((ex.chapter, ex_id, entry.get("status", "not_started"), int(entry.get("attempts", 0))))
    scores = {}
    for w_id, item in (written or {}).items():
        entry = data["exercises"].get(w_id, {})
        rows.append((item.chapter, w_id, entry.get("status", "not_started"), 0))
        if (score := self_score(entry)) is not None:
            scores[w_id] = score
    return ProgressReport(rows, warning, {ex_id: text for ex_id in exercises
                                          if (text := help_used(data["exercises"].get(ex_id, {})))}, scores)


def help_used(entry: Mapping[str, Any]) -> str:
    """How much help an exercise's progress entry records: "2 hints", "answer shown", or ""."""
    parts = []
    if int(entry.get("hints_seen", 0)):
        n = int(entry["hints_seen"])
        parts.append(f"{n} hint{'s' if n != 1 else ''}")
    if entry.get("solution_seen"):
        parts.append("answer shown")
    return ", ".join(parts)
