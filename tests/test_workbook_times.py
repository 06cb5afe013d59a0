"""The times the workbooks quote for their training cells match the measured table
(benchmarks/WORKBOOK_TIMES.md, made by benchmarks/time_workbooks.py): within 30%, never a guess."""
from __future__ import annotations

import re

import nbformat

from tests.conftest import ROOT

TABLE = (ROOT / "benchmarks" / "WORKBOOK_TIMES.md").read_text(encoding="utf-8")
QUOTE = re.compile(r"[Aa]bout (\d+) seconds(?:\s+for\s+the\s+two\s+runs)?\s+on\s+one\s+CPU\s+core")


def _measured() -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for name, seconds in re.findall(r"^\| (\d\d_\w+) \| [^|]+ \| (\d+(?:\.\d+)?) \|$", TABLE, flags=re.MULTILINE):
        out.setdefault(name, []).append(float(seconds))
    return out


def test_every_quoted_training_time_is_measured():
    measured = _measured()
    assert len(measured) >= 8
    for name, seconds in measured.items():
        nb = nbformat.read(str(ROOT / "solutions" / f"{name}.ipynb"), as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        quoted = [float(q) for q in QUOTE.findall(text)]
        assert quoted, f"{name}: no 'about N seconds on one CPU core' in the workbook"
        assert len(quoted) == len(seconds), (name, quoted, seconds)
        for q, s in zip(quoted, seconds):
            assert abs(q - s) <= 0.3 * s, f"{name}: quotes {q:g} s, measured {s:g} s"
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        assert "seconds on a laptop core" not in path.read_text(encoding="utf-8"), f"{path.name}: an unmeasured time"
