"""The notebooks as files: executed and saved, slides, matching names, and learner workbooks
that run top to bottom reporting "not implemented yet" for every check."""
from __future__ import annotations

import json

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT

LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))


def _code_cells(path):
    nb = json.loads(path.read_text())
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def test_three_folders_hold_the_same_chapters():
    names = [p.name for p in SOLUTIONS]
    assert names and names == [p.name for p in EXERCISES] == [p.name for p in LESSONS]
    assert all(n[:2].isdigit() and n[2] == "_" for n in names)


@pytest.mark.parametrize("path", LESSONS + SOLUTIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_code_cell_was_executed_and_saved(path):
    """nbval passes vacuously on notebooks without stored outputs: refuse those."""
    cells = _code_cells(path)
    assert cells
    for c in cells:
        tags = c.get("metadata", {}).get("tags", [])
        if "nbval-skip" in tags:
            continue
        assert c["execution_count"] is not None, "".join(c["source"])[:80]
        assert not any(o["output_type"] == "error" for o in c["outputs"]) or "raises-exception" in tags
    counts = [c["execution_count"] for c in cells if c["execution_count"] is not None]
    assert counts == sorted(counts), "outputs must come from one top-to-bottom run"
    assert any(o for c in cells for o in c["outputs"])


@pytest.mark.parametrize("path", LESSONS + SOLUTIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_first_code_cell_seeds_everything(path):
    assert "seed_everything(" in "".join(_code_cells(path)[0]["source"])


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lessons_are_slide_decks(path):
    nb = json.loads(path.read_text())
    types = [c.get("metadata", {}).get("slideshow", {}).get("slide_type") for c in nb["cells"]]
    assert all(t is not None for t in types), "every cell needs slide metadata"
    assert types.count("slide") >= 5
    assert nb["cells"][0]["cell_type"] == "markdown" and types[0] == "slide"


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_learner_workbook_runs_and_every_check_says_not_implemented(path, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(tmp_path / "p.json"))
    nb = nbformat.read(str(path), as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    checks = [c for c in nb.cells if c.cell_type == "code" and c.source.strip().startswith("check(")]
    assert checks
    from course_utils.catalogue import registry
    from course_utils.grading.check_function import DEBUG_NUDGE

    for cell in checks:
        text = "".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)
        ex_id = cell.source.strip()[len("check("):].split(")")[0].split(",")[0].strip()
        handed_out = next(c.source for c in nb.cells if c.cell_type == "code" and c.source.startswith(f"def {ex_id}("))
        if registry()[ex_id].kind == "debug" and "NotImplementedError" not in handed_out:  # its bug: found, not named
            assert "FAILED" in text and DEBUG_NUDGE[:40] in text, (cell.source, text)
        else:
            assert "NOT IMPLEMENTED YET" in text, (cell.source, text)
    for cell in nb.cells:  # predictions are asked, not answered, and reveal waits for a commitment
        if cell.cell_type == "code" and cell.source.strip().startswith("reveal("):
            text = "".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)
            assert "Commit a prediction first" in text, text
    solutions = nbformat.read(str(ROOT / "solutions" / path.name), as_version=4)
    debug_cells = sum("### BEGIN BUGGY" in c.source for c in solutions.cells if c.cell_type == "code")
    n_markers = sum(c.source.count("### BEGIN SOLUTION") for c in solutions.cells if c.cell_type == "code")
    n_stubs = sum(c.source.count("# YOUR CODE HERE") for c in nb.cells if c.cell_type == "code")
    assert n_markers - debug_cells == n_stubs and n_markers > 0
