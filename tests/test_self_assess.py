"""Written derivations: commit, read the model answer, score your own against its rubric (self-assessed)."""
from __future__ import annotations

import json
import re

from course_utils import progress_store
from course_utils.answers.written import WRITTEN
from course_utils.release import MD_STUB, release_notebook
from tests.conftest import ROOT

WORKBOOK = "06_trust_regions.ipynb"


def _solved():
    return json.loads((ROOT / "solutions" / WORKBOOK).read_text(encoding="utf-8"))


def test_every_written_answer_of_the_solved_workbook_has_its_model_word_for_word_and_a_self_assess_cell():
    cells = _solved()["cells"]
    models = [re.search(r"<!-- BEGIN SOLUTION -->\n(.*?)\n<!-- END SOLUTION -->", "".join(c["source"]), re.S)
              for c in cells if c["cell_type"] == "markdown"]
    models = [m.group(1) for m in models if m]
    assert len(models) == 2
    assert sorted(models) == sorted(w.model for w in WRITTEN.values())
    calls = ["".join(c["source"]) for c in cells if "self-assess" in c["metadata"].get("tags", [])]
    assert sorted(re.search(r'self_assess\("(\w+)"', src).group(1) for src in calls) == sorted(WRITTEN)
    for item in WRITTEN.values():
        assert 3 <= len(item.rubric) <= 5 and item.chapter.startswith("06")


def test_the_handed_out_workbook_asks_for_the_answer_and_commits_before_it_scores():
    out = release_notebook(_solved(), WORKBOOK)
    text = json.dumps(out)
    for item in WRITTEN.values():
        assert item.model.split("\n")[0] not in text, "the model answer is not in the handed-out workbook"
        assert f'self_assess(\\"{item.id}\\")' in text
    assert "met=" not in text and text.count(MD_STUB) >= 2


def test_commit_then_score_is_recorded_as_self_assessed_and_listed(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(path))
    from course_utils.workbook import self_assess

    self_assess("expansion_steps")  # no kernel: the model answer shows at once, and the commitment is kept
    entry = progress_store.load(path)[0]["exercises"]["expansion_steps"]
    assert entry["status"] == "committed" and entry["committed_at"]
    self_assess("expansion_steps", met=[1, 3, 3, 9])  # 9 is no point of the rubric
    entry = progress_store.load(path)[0]["exercises"]["expansion_steps"]
    assert entry["status"] == "self_assessed" and entry["self_assessed"]["met"] == [1, 3]
    assert entry["self_assessed"]["out_of"] == 4 and progress_store.self_score(entry) == (2, 4)
    self_assess("expansion_steps", met=[1, 2, 3, 4])  # a later score replaces it; the commitment's time stays
    again = progress_store.load(path)[0]["exercises"]["expansion_steps"]
    assert again["self_assessed"]["met"] == [1, 2, 3, 4] and again["committed_at"] == entry["committed_at"]

    report = progress_store.report({}, path, written=WRITTEN)
    text = repr(report)
    assert "self 4/4" in text and "expansion_steps" in text and "surrogate_first_order" in text
    assert report.done == 1 and "unscored" not in text
    assert "self 4/4" in report._repr_html_()


def test_the_model_answer_shows_its_rubric_and_how_to_score(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(tmp_path / "p.json"))
    from course_utils.workbook import self_assess

    self_assess("surrogate_first_order")
    shown = capsys.readouterr().out
    assert "Rubric:" in shown and "1. shows L(pi) = J(pi)" in shown
    assert 'self_assess("surrogate_first_order", met=[1, 3])' in shown
    self_assess("no_such_derivation")
    assert "There is no written derivation" in capsys.readouterr().out


def test_an_empty_progress_file_is_empty_progress_without_a_warning(tmp_path):
    """`COURSE_PROGRESS_FILE=$(mktemp)` (how notebooks are executed for their stored outputs) makes an empty
    file: no warning about a corrupt file, with its temporary path, may reach a stored output."""
    empty = tmp_path / "progress.json"
    empty.write_text("")
    data, warning = progress_store.load(empty)
    assert warning is None and data["exercises"] == {}
    (tmp_path / "bad.json").write_text("{not json")
    assert "could not be read" in progress_store.load(tmp_path / "bad.json")[1]
