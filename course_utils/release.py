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
choice, ``predict("id", "b")``; the learner's copy asks instead, ``predict("id")``. Markdown answers use
``<!-- BEGIN SOLUTION -->`` / ``<!-- END SOLUTION -->``. Cells tagged ``solution-only`` are
dropped. Every code cell's outputs and execution count are cleared (the learner runs them), cell
ids are kept, and the JSON is written deterministically, so ``release --check`` can tell whether
``exercises/`` is up to date byte for byte.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION[ \t]*$")
END = re.compile(r"^[ \t]*### END SOLUTION[ \t]*$")
BUGGY_BEGIN = re.compile(r"^[ \t]*### BEGIN BUGGY[ \t]*$")
BUGGY_END = re.compile(r"^[ \t]*### END BUGGY[ \t]*$")
PREDICT_CALL = re.compile(r"""predict\((?P<id>\s*["'][A-Za-z_0-9]+["'])\s*,\s*["'][^"']*["']\s*\)""")
MD_REGION = re.compile(r"<!-- BEGIN SOLUTION -->.*?<!-- END SOLUTION -->", re.DOTALL)
STUB_MESSAGE = "Write your code here, then run the check below."
MD_STUB = "*Write your answer here.*"


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
            cell["outputs"] = []
            cell["execution_count"] = None
        elif cell.get("cell_type") == "markdown":
            if src.count("<!-- BEGIN SOLUTION -->") != src.count("<!-- END SOLUTION -->"):
                raise ReleaseError(f"{name} cell {i}: unpaired markdown solution markers")
            src = MD_REGION.sub(MD_STUB, src)
        cell["source"] = _lines(src)
        cells.append(cell)
    nb["cells"] = cells
    meta = nb.setdefault("metadata", {})
    meta["course"] = {"generated_from": f"solutions/{name}" if name else "solutions/",
                      "note": "Generated by `python -m course_utils release`; edit the solutions notebook instead."}
    meta.pop("widgets", None)  # saved widget state belongs to an executed notebook
    return nb


def dumps(nb: dict) -> str:
    """Deterministic JSON in nbformat's own layout (indent 1, sorted keys, trailing newline)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


@dataclass
class ReleaseReport:
    written: list[str]
    stale: list[str]
    orphans: list[str]

    @property
    def ok(self) -> bool:
        return not self.stale and not self.orphans


def release(root: Path | str = ".", check: bool = False) -> ReleaseReport:
    """Regenerate ``exercises/`` from ``solutions/`` (or, with ``check``, only compare)."""
    root = Path(root)
    src_dir, dst_dir = root / "solutions", root / "exercises"
    written, stale = [], []
    expected_names = set()
    for path in sorted(src_dir.glob("*.ipynb")):
        expected_names.add(path.name)
        text = dumps(release_notebook(json.loads(path.read_text(encoding="utf-8")), path.name))
        target = dst_dir / path.name
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current != text:
            if check:
                stale.append(str(target.relative_to(root)))
            else:
                dst_dir.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
                written.append(str(target.relative_to(root)))
    orphans = [str(p.relative_to(root)) for p in sorted(dst_dir.glob("*.ipynb")) if p.name not in expected_names]
    return ReleaseReport(written, stale, orphans)
