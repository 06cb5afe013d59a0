"""Generate the learner's workbooks (``exercises/``) from the solved ones (``solutions/``).

In a solved workbook, the answer sits between two marker lines inside a code cell::

    def reward_to_go(rewards, gamma=1.0):
        \"\"\"docstring stays\"\"\"
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

The release replaces each marked region by a ``# YOUR CODE HERE`` line and a
``raise NotImplementedError`` at the same indentation.

A *debug* exercise hands out a realistic buggy version instead of a stub: after the solution,
a ``### BEGIN BUGGY`` / ``### END BUGGY`` region holds the buggy lines commented out with
``# `` (so the solved workbook runs the fixed code). The release drops the solution and
uncomments the buggy lines. A *predict* cell (tagged ``predict``) commits the solved workbook's
choice, ``predict("id", "b")``; the learner's copy asks instead, ``predict("id")``. A cell tagged
``after-commit`` (the demo under a prediction, a result stated after it, a model proof) is handed
out collapsed: ``metadata.jupyter.source_hidden`` is true (JupyterLab shows a bar the learner
clicks to open it) and, like every code cell, it has no outputs, so nothing it says or prints is
on screen before the learner commits. A cell tagged ``self-assess`` scores a written derivation in the
solved workbook, ``self_assess("id", met=[1, 2, 3])``; the learner's copy commits first, ``self_assess("id")``.
Markdown answers use
``<!-- BEGIN SOLUTION -->`` / ``<!-- END SOLUTION -->``. Cells tagged ``solution-only`` are
dropped. Every code cell's outputs and execution count are cleared (the learner runs them), cell
ids are kept, and the JSON is written deterministically, so ``release --check`` can tell whether
``exercises/`` is up to date byte for byte.

``release`` is a course author's command: a learner's clone holds the same ``exercises/`` folder,
filled in. So it never replaces a workbook someone has worked in. The rule:

* A workbook's *work* is what a person can type or run in it: every cell's type, source,
  attachments, outputs and execution count, and which cells there are, in which order. Notebook
  and cell metadata (what an editor changes on its own when it saves) are not work.
* Each released workbook records the sha256 of its work as released, in its metadata
  (``metadata.course.cells_sha256``). A workbook on disk is *as released* when the sha256 of its
  work is that recorded value, or the one of the workbook release would write now (so a workbook
  written before the fingerprint existed, or one holding exactly the current release, counts too).
  Any other workbook has been *worked in*: edited code, a markdown answer, outputs, execution
  counts, cells added or removed, or a file that no longer parses.
* ``release`` writes the workbooks that are missing or as released, and keeps every workbook
  that has been worked in, saying what it found there. ``release --force`` replaces those too,
  after copying each to ``exercises/.backup/NAME.<UTC time>.ipynb`` (git-ignored, and out of the
  reach of every ``exercises/*.ipynb`` pattern).
* ``release --check`` writes nothing. It tells a workbook that is out of date because its
  solutions changed (as released: ``release`` regenerates it safely) from one that has been
  worked in (normal in a learner's copy; an author edits ``solutions/`` instead).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION[ \t]*$")
END = re.compile(r"^[ \t]*### END SOLUTION[ \t]*$")
BUGGY_BEGIN = re.compile(r"^[ \t]*### BEGIN BUGGY[ \t]*$")
BUGGY_END = re.compile(r"^[ \t]*### END BUGGY[ \t]*$")
PREDICT_CALL = re.compile(r"""predict\((?P<id>\s*["'][A-Za-z_0-9]+["'])\s*,\s*["'][^"']*["']\s*\)""")
SELF_ASSESS_CALL = re.compile(r"""self_assess\((?P<id>\s*["'][A-Za-z_0-9]+["'])\s*,\s*met\s*=\s*\[[^\]]*\]\s*\)""")
MD_REGION = re.compile(r"<!-- BEGIN SOLUTION -->.*?<!-- END SOLUTION -->", re.DOTALL)
STUB_MESSAGE = "Write your code here, then run the check below."
MD_STUB = "*Write your answer here.*"
FINGERPRINT_KEY = "cells_sha256"  # in metadata["course"]: the sha256 of the workbook's work as released
AFTER_COMMIT = "after-commit"  # the tag of a cell handed out collapsed, to be opened after a commitment
BACKUP_FOLDER = ".backup"  # under exercises/: where --force keeps a worked-in workbook before replacing it


class ReleaseError(ValueError):
    """A solutions notebook whose markers do not pair up."""


def _uncomment(line: str, where: str) -> str:
    """``    # x = 1`` -> ``    x = 1`` (a buggy line of a debug exercise)."""
    stripped = line.lstrip()
    indent = line[: len(line) - len(stripped)]
    if stripped == "#":
        return ""
    if not stripped.startswith("# "):
        raise ReleaseError(f"{where}: every line between BEGIN BUGGY and END BUGGY must be commented with '# '")
    return indent + stripped[2:]


def _buggy_regions(lines: list[str], where: str) -> list[str]:
    """Uncomment BEGIN/END BUGGY regions; returns the lines (markers dropped)."""
    out: list[str] = []
    inside = False
    for line in lines:
        if BUGGY_BEGIN.match(line):
            if inside:
                raise ReleaseError(f"{where}: nested BEGIN BUGGY")
            inside = True
            continue
        if BUGGY_END.match(line):
            if not inside:
                raise ReleaseError(f"{where}: END BUGGY without BEGIN BUGGY")
            inside = False
            continue
        out.append(_uncomment(line, where) if inside else line)
    if inside:
        raise ReleaseError(f"{where}: BEGIN BUGGY without END BUGGY")
    return out


def strip_code(source: str, where: str = "") -> str:
    """Replace every BEGIN/END SOLUTION region of a code cell by a stub (or, when the cell hands
    out a buggy version between BEGIN/END BUGGY, by nothing: the buggy lines are the start)."""
    if any(BUGGY_BEGIN.match(line) for line in source.split("\n")):
        kept = []
        inside = False
        for line in source.split("\n"):
            if BEGIN.match(line):
                inside = True
            elif END.match(line):
                inside = False
            elif not inside:
                kept.append(line)
        return "\n".join(_buggy_regions(kept, where))
    out: list[str] = []
    inside = False
    for line in source.split("\n"):
        m = BEGIN.match(line)
        if m:
            if inside:
                raise ReleaseError(f"{where}: nested BEGIN SOLUTION")
            inside = True
            indent = m.group("indent")
            out.append(f"{indent}# YOUR CODE HERE")
            out.append(f'{indent}raise NotImplementedError("{STUB_MESSAGE}")')
            continue
        if END.match(line):
            if not inside:
                raise ReleaseError(f"{where}: END SOLUTION without BEGIN SOLUTION")
            inside = False
            continue
        if not inside:
            out.append(line)
    if inside:
        raise ReleaseError(f"{where}: BEGIN SOLUTION without END SOLUTION")
    return "\n".join(out)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _lines(text: str) -> list[str]:
    """nbformat's on-disk form: a list of lines, each but the last ending in a newline."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def release_notebook(solution: dict, name: str = "") -> dict:
    """The learner's version of one solved notebook (a new dict; the input is not changed)."""
    nb = json.loads(json.dumps(solution))
    cells = []
    for i, cell in enumerate(nb.get("cells", [])):
        tags = cell.get("metadata", {}).get("tags", [])
        if "solution-only" in tags:
            continue
        src = _source(cell)
        if cell.get("cell_type") == "code":
            src = strip_code(src, f"{name} cell {i}")
            if "predict" in tags:
                src = PREDICT_CALL.sub(r"predict(\g<id>)", src)
            if "self-assess" in tags:
                src = SELF_ASSESS_CALL.sub(r"self_assess(\g<id>)", src)
            cell["outputs"] = []
            cell["execution_count"] = None
            cell.get("metadata", {}).pop("execution", None)  # when the solved one last ran: not the learner's
        elif cell.get("cell_type") == "markdown":
            if src.count("<!-- BEGIN SOLUTION -->") != src.count("<!-- END SOLUTION -->"):
                raise ReleaseError(f"{name} cell {i}: unpaired markdown solution markers")
            src = MD_REGION.sub(MD_STUB, src)
        if AFTER_COMMIT in tags:
            cell.setdefault("metadata", {}).setdefault("jupyter", {})["source_hidden"] = True
        cell["source"] = _lines(src)
        cells.append(cell)
    nb["cells"] = cells
    meta = nb.setdefault("metadata", {})
    meta["course"] = {"generated_from": f"solutions/{name}" if name else "solutions/",
                      "note": "Generated by `python -m course_utils release`; edit the solutions notebook instead.",
                      FINGERPRINT_KEY: work_fingerprint(nb)}
    meta.pop("widgets", None)  # saved widget state belongs to an executed notebook
    return nb


def shown_before_commit(nb: dict) -> list[int]:
    """Indices of the cells between a ``predict`` cell and the ``reveal(...)`` of its question that are
    not tagged ``after-commit``: what a learner would read (a demo's code, its claim texts) before
    committing. A workbook whose demos are hidden until the commitment returns []."""
    shown: list[int] = []
    asking: str | None = None
    for i, cell in enumerate(nb.get("cells", [])):
        tags = cell.get("metadata", {}).get("tags", [])
        src = _source(cell)
        if "predict" in tags:
            m = re.search(r"""predict\(\s*["']([A-Za-z_0-9]+)["']""", src)
            asking = m.group(1) if m else None
            continue
        if asking is None:
            continue
        if re.search(r"""reveal\(\s*["']%s["']""" % asking, src):
            asking = None
            continue
        if AFTER_COMMIT not in tags:
            shown.append(i)
    return shown


def _work(cell: dict) -> dict:
    """What a person can type or run in one cell (its metadata left out)."""
    return {"cell_type": cell.get("cell_type"), "source": _source(cell),
            "attachments": cell.get("attachments") or {}, "outputs": cell.get("outputs") or [],
            "execution_count": cell.get("execution_count")}


def work_fingerprint(nb: dict) -> str:
    """sha256 of a notebook's work: its cells' types, sources, attachments, outputs and execution
    counts, in order. An editor's save (sources as lists of lines, other metadata) keeps it."""
    cells = [_work(cell) for cell in nb.get("cells", [])]
    return hashlib.sha256(json.dumps(cells, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def recorded_fingerprint(nb: dict) -> str | None:
    """The fingerprint the release wrote into a workbook (None for one released before it existed)."""
    course = nb.get("metadata", {}).get("course")
    return course.get(FINGERPRINT_KEY) if isinstance(course, dict) else None


def work_done(on_disk: dict, released: dict) -> str:
    """What a workbook holds beyond the release, in words: "2 cells changed, 5 cells run or with
    outputs". Cells are matched by id; "changed" means its source differs from the release's (by
    the learner, or in the solutions since)."""
    fresh = {cell.get("id"): _work(cell) for cell in released.get("cells", [])}
    changed = run = added = 0
    for cell in on_disk.get("cells", []):
        work, original = _work(cell), fresh.get(cell.get("id"))
        if original is None:
            added += 1
        elif work["source"] != original["source"] or work["attachments"] != original["attachments"]:
            changed += 1
        run += bool(work["outputs"]) or work["execution_count"] is not None
    parts = [f"{n} {'cell' if n == 1 else 'cells'} {what}"
             for n, what in ((changed, "changed"), (run, "run or with outputs"), (added, "added")) if n]
    return ", ".join(parts) or "its cells differ from the release"


def dumps(nb: dict) -> str:
    """Deterministic JSON in nbformat's own layout (indent 1, sorted keys, trailing newline)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


@dataclass
class ReleaseReport:
    """What ``release`` found or did (paths relative to the repository root).

    written:    workbooks written: missing, or as released and out of date (with ``force``, also
                worked-in ones, after their backup)
    stale:      (``check``) out of date and as released: the solutions changed, nobody worked in it
    worked_in:  {workbook: what it holds}, for every workbook someone has worked in that differs
                from the release: kept as it is, unless ``force``
    backups:    where ``force`` copied each worked-in workbook before replacing it
    orphans:    workbooks with no solutions notebook
    """

    written: list[str]
    stale: list[str]
    orphans: list[str]
    worked_in: dict[str, str] = field(default_factory=dict)
    backups: list[str] = field(default_factory=list)
    forced: bool = False

    @property
    def kept(self) -> list[str]:
        """The worked-in workbooks left as they were (all of them, unless ``force``)."""
        return [] if self.forced else list(self.worked_in)

    @property
    def ok(self) -> bool:
        return not self.stale and not self.orphans and not self.worked_in


def _backup(target: Path) -> Path:
    """Copy a workbook to ``exercises/.backup/NAME.<UTC time>.ipynb`` (a new name every time)."""
    folder = target.parent / BACKUP_FOLDER
    folder.mkdir(exist_ok=True)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    backup, n = folder / f"{target.stem}.{stamp}.ipynb", 1
    while backup.exists():
        n += 1
        backup = folder / f"{target.stem}.{stamp}-{n}.ipynb"
    shutil.copy2(target, backup)
    return backup


def worked_in(current: str, released: dict) -> str:
    """What the workbook text ``current`` holds that ``released`` does not ("" when it is as released)."""
    try:
        on_disk = json.loads(current)
        fingerprint = work_fingerprint(on_disk)
    except (ValueError, AttributeError, TypeError):
        return "it is not a readable notebook"
    if fingerprint in (recorded_fingerprint(on_disk), recorded_fingerprint(released)):
        return ""
    return work_done(on_disk, released)


def release_one(root: Path | str, solution: Path, check: bool = False, force: bool = False,
                report: ReleaseReport | None = None) -> ReleaseReport:
    """Release one solved workbook into ``exercises/`` by the rule of this module's docstring
    (``check``: compare only; ``force``: replace a worked-in workbook, after a backup)."""
    root = Path(root)
    report = report if report is not None else ReleaseReport([], [], [], forced=force)
    released = release_notebook(json.loads(solution.read_text(encoding="utf-8")), solution.name)
    text = dumps(released)
    target = root / "exercises" / solution.name
    rel = str(target.relative_to(root))
    current = target.read_text(encoding="utf-8") if target.exists() else None
    if current == text:
        return report
    holds = "" if current is None else worked_in(current, released)
    if holds:
        report.worked_in[rel] = holds
    if check:
        if not holds:
            report.stale.append(rel)
        return report
    if holds:
        if not force:
            return report
        report.backups.append(str(_backup(target).relative_to(root)))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    report.written.append(rel)
    return report


def release(root: Path | str = ".", check: bool = False, force: bool = False) -> ReleaseReport:
    """Regenerate ``exercises/`` from ``solutions/`` (``check``: only compare), never replacing a
    workbook someone has worked in unless ``force`` (which backs it up first)."""
    root = Path(root)
    report = ReleaseReport([], [], [], forced=force)
    expected_names = set()
    for path in sorted((root / "solutions").glob("*.ipynb")):
        expected_names.add(path.name)
        release_one(root, path, check=check, force=force, report=report)
    report.orphans = [str(p.relative_to(root)) for p in sorted((root / "exercises").glob("*.ipynb"))
                      if p.name not in expected_names]
    return report
