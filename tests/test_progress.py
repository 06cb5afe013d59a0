"""The progress file: atomic, rebuilt when corrupt, summarised for the whole course."""
from __future__ import annotations

import json

import course_utils
from course_utils.catalogue import registry
from course_utils import progress_store as P


def test_record_and_report(tmp_path):
    path = tmp_path / "p.json"
    assert P.record("categorical_log_prob", "failed", path) is None
    assert P.record("categorical_log_prob", "passed", path) is None
    data = json.loads(path.read_text())
    entry = data["exercises"]["categorical_log_prob"]
    assert entry["attempts"] == 2 and entry["status"] == "passed" and "first_passed" in entry
    rep = P.report(registry(), path)
    assert rep.done == 1 and len(rep.rows) == len(course_utils.exercise_ids())
    text = repr(rep)
    assert "Course progress: 1 of" in text and "done     categorical_log_prob" in text
    assert "<table" in rep._repr_html_()


def test_corrupt_file_is_reported_and_rebuilt(tmp_path):
    path = tmp_path / "p.json"
    path.write_text("{ this is not json")
    warning = P.record("gaussian_log_prob", "passed", path)
    assert warning and "could not be read" in warning
    assert (tmp_path / "p.json.corrupt").exists()
    assert json.loads(path.read_text())["exercises"]["gaussian_log_prob"]["status"] == "passed"
    path.write_text('["a list, not a dict"]')
    data, warning = P.load(path)
    assert data["exercises"] == {} and warning


def test_writes_are_atomic_and_leave_no_temporaries(tmp_path):
    path = tmp_path / "deep" / "p.json"
    for i in range(20):
        P.record(f"ex{i}", "passed", path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["p.json"]
    assert len(json.loads(path.read_text())["exercises"]) == 20


def test_unwritable_location_does_not_break_a_check(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(blocker / "sub" / "p.json"))
    course_utils.check(lambda rewards: rewards.sum(), exercise_id="undiscounted_return")
    out = capsys.readouterr().out
    assert "PASSED" in out and "could not be saved" in out


def test_progress_display(capsys):
    course_utils.progress()
    assert "Course progress: 0 of" in capsys.readouterr().out
