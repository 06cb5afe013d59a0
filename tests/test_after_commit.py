"""Predictions that can be wrong: what a learner sees before committing does not hold the answer.

A cell tagged ``after-commit`` is handed out collapsed (``metadata.jupyter.source_hidden``) and without
outputs; every cell between a ``predict`` cell and its ``reveal(...)`` carries the tag, and so does every
``claim(...)`` after a prediction (claims state results: they come after the reveal)."""
from __future__ import annotations

import json

import pytest

from course_utils.release import AFTER_COMMIT, release_notebook, shown_before_commit
from tests.conftest import ROOT

# the chapters whose predictions follow the rule (the others add theirs as they apply the tag)
CHAPTERS = ["01_log_derivative_trick", "03_baselines", "05_gae", "06_trust_regions"]


def _cell(cell_type, source, tags=(), cid="x"):
    cell = {"cell_type": cell_type, "id": cid, "metadata": {"tags": list(tags)} if tags else {}, "source": source}
    if cell_type == "code":
        cell.update(execution_count=7, outputs=[{"output_type": "stream", "name": "stdout", "text": "0.40\n"}])
    return cell


def _notebook(*cells):
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_an_after_commit_cell_is_handed_out_collapsed_and_without_outputs():
    nb = _notebook(_cell("code", 'predict("q", "b")', ["predict"], "p"),
                   _cell("code", 'print(0.40)\nclaim(True, "it is 0.40")', [AFTER_COMMIT], "demo"),
                   _cell("code", 'reveal("q")', cid="r"),
                   _cell("markdown", "The result: 0.40.", [AFTER_COMMIT], "said"),
                   _cell("code", "x = 1", cid="plain"))
    out = {c["id"]: c for c in release_notebook(nb, "x.ipynb")["cells"]}
    for cid in ("demo", "said"):
        assert out[cid]["metadata"]["jupyter"]["source_hidden"] is True
    assert out["demo"]["outputs"] == [] and out["demo"]["execution_count"] is None
    assert "jupyter" not in out["plain"]["metadata"] and "jupyter" not in out["p"]["metadata"]
    assert "jupyter" not in nb["cells"][1]["metadata"], "the solved notebook is not changed"
    # the tag stays on the handed-out cell (a release of the release collapses it again)
    assert AFTER_COMMIT in out["demo"]["metadata"]["tags"]


def test_shown_before_commit_names_the_cells_between_a_prediction_and_its_reveal():
    nb = _notebook(_cell("code", "setup()", cid="s"),
                   _cell("code", 'predict("q", "b")', ["predict"], "p"),
                   _cell("code", "demo()"),
                   _cell("markdown", "It comes out 0.40."),
                   _cell("code", 'reveal("q")'),
                   _cell("code", "after()"))
    assert shown_before_commit(nb) == [2, 3]
    for i in (2, 3):
        nb["cells"][i]["metadata"]["tags"] = [AFTER_COMMIT]
    assert shown_before_commit(nb) == []


def _solved(chapter):
    return json.loads((ROOT / "solutions" / f"{chapter}.ipynb").read_text(encoding="utf-8"))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_nothing_between_a_prediction_and_its_reveal_is_on_screen(chapter):
    nb = _solved(chapter)
    assert any("predict" in c["metadata"].get("tags", []) for c in nb["cells"]), "the chapter asks a prediction"
    assert shown_before_commit(nb) == []


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_claims_of_a_prediction_come_after_its_reveal_and_are_folded(chapter):
    """From a predict cell to the next markdown heading: every claim(...) sits after the reveal, folded."""
    asking = revealed = False
    for i, cell in enumerate(_solved(chapter)["cells"]):
        src, tags = "".join(cell["source"]), cell["metadata"].get("tags", [])
        if "predict" in tags:
            asking, revealed = True, False
        elif cell["cell_type"] == "markdown" and src.lstrip().startswith("#"):
            asking = False
        elif asking and "reveal(" in src:
            revealed = True
        elif asking and "claim(" in src:
            assert revealed, f"{chapter} cell {i}: a claim before the reveal"
            assert AFTER_COMMIT in tags, f"{chapter} cell {i}: a claim after the reveal, not folded"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_handed_out_workbook_folds_the_demo(chapter):
    solved = _solved(chapter)
    handed_out = json.loads((ROOT / "exercises" / f"{chapter}.ipynb").read_text(encoding="utf-8"))
    tagged = [c["id"] for c in solved["cells"] if AFTER_COMMIT in c["metadata"].get("tags", [])]
    assert tagged
    cells = {c["id"]: c for c in handed_out["cells"]}
    for cid in tagged:
        assert cells[cid]["metadata"].get("jupyter", {}).get("source_hidden") is True
        assert not cells[cid].get("outputs")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_markdown_before_a_prediction_sends_the_learner_to_the_folded_demo(chapter):
    nb = _solved(chapter)
    i = next(i for i, c in enumerate(nb["cells"]) if "predict" in c["metadata"].get("tags", []))
    text = " ".join("".join(nb["cells"][i - 1]["source"]).split())
    assert "folded until you have committed" in text and "run the demo" not in text
