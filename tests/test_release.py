"""solutions/ -> exercises/: stubs replace answers, outputs go, nothing else changes."""
from __future__ import annotations

import json
import shutil

import pytest

from course_utils.release import ReleaseError, dumps, release, release_notebook, strip_code
from tests.conftest import ROOT


def test_strip_code_keeps_signature_docstring_and_indentation():
    src = 'def f(x):\n    """doc"""\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\n'
    out = strip_code(src)
    assert out == ('def f(x):\n    """doc"""\n    # YOUR CODE HERE\n'
                   '    raise NotImplementedError("Write your code here, then run the check below.")\n')


def test_unpaired_markers_are_errors():
    for bad in ["### BEGIN SOLUTION\nx", "x\n### END SOLUTION", "### BEGIN SOLUTION\n### BEGIN SOLUTION\n"]:
        with pytest.raises(ReleaseError):
            strip_code(bad)


def test_release_notebook_clears_outputs_and_markdown_answers():
    nb = {"cells": [
        {"cell_type": "code", "id": "a", "metadata": {}, "execution_count": 3,
         "outputs": [{"output_type": "stream", "name": "stdout", "text": "secret"}],
         "source": "x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION"},
        {"cell_type": "markdown", "id": "b", "metadata": {},
         "source": "Answer: <!-- BEGIN SOLUTION -->because<!-- END SOLUTION -->"},
        {"cell_type": "code", "id": "c", "metadata": {"tags": ["solution-only"]}, "outputs": [],
         "execution_count": None, "source": "reveal()"},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    out = release_notebook(nb, "x.ipynb")
    assert [c["id"] for c in out["cells"]] == ["a", "b"]
    assert out["cells"][0]["outputs"] == [] and out["cells"][0]["execution_count"] is None
    text = dumps(out)
    assert "secret" not in text and "because" not in text and "y = 2" not in text
    assert nb["cells"][0]["outputs"], "the input notebook is not modified"


def test_release_is_deterministic_and_check_detects_drift(tmp_path):
    for d in ("solutions", "exercises"):
        shutil.copytree(ROOT / d, tmp_path / d)
    assert release(tmp_path, check=True).ok, "committed exercises/ must be up to date"
    first = {p.name: p.read_text() for p in (tmp_path / "exercises").glob("*.ipynb")}
    assert release(tmp_path).written == []
    sol = next((tmp_path / "solutions").glob("*.ipynb"))
    nb = json.loads(sol.read_text())
    nb["cells"].append({"cell_type": "markdown", "id": "new", "metadata": {}, "source": "more"})
    sol.write_text(json.dumps(nb))
    report = release(tmp_path, check=True)
    assert not report.ok and report.stale == [f"exercises/{sol.name}"]
    (tmp_path / "exercises" / "99_orphan.ipynb").write_text("{}")
    assert "exercises/99_orphan.ipynb" in release(tmp_path, check=True).orphans
    release(tmp_path)
    assert {p.name: p.read_text() for p in (tmp_path / "exercises").glob("*.ipynb")
            if p.name != sol.name and p.name != "99_orphan.ipynb"} == {k: v for k, v in first.items() if k != sol.name}


def test_committed_workbooks_hold_no_answers():
    for path in (ROOT / "exercises").glob("*.ipynb"):
        text = path.read_text()
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
        nb = json.loads(text)
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None


def test_debug_exercise_hands_out_the_buggy_version_and_no_solution():
    solved = ('def f(x):\n    """doc"""\n    ### BEGIN SOLUTION\n    return x.sum()\n    ### END SOLUTION\n'
              '    ### BEGIN BUGGY\n    # y = x\n    #\n    # return y.mean()\n    ### END BUGGY\n')
    handed_out = strip_code(solved)
    assert handed_out == 'def f(x):\n    """doc"""\n    y = x\n\n    return y.mean()\n'
    assert "sum" not in handed_out and "NotImplementedError" not in handed_out
    with pytest.raises(ReleaseError):
        strip_code("    ### BEGIN BUGGY\n    y = x\n    ### END BUGGY")  # buggy lines must be commented out
    with pytest.raises(ReleaseError):
        strip_code("    ### BEGIN BUGGY\n    # y = x\n")


def test_predict_cells_ask_instead_of_answering():
    nb = {"cells": [{"cell_type": "code", "metadata": {"tags": ["predict"]}, "outputs": [], "execution_count": 3,
                     "source": 'predict("kl_step_doubles", "b")\n'},
                    {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 4,
                     "source": 'reveal("kl_step_doubles")\n'}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    out = release_notebook(nb, "x.ipynb")
    assert "".join(out["cells"][0]["source"]) == 'predict("kl_step_doubles")\n'
    assert "".join(out["cells"][1]["source"]) == 'reveal("kl_step_doubles")\n'


def _released_copy(tmp_path):
    """solutions/ and exercises/ copied, exercises/ as released from those solutions."""
    for d in ("solutions", "exercises"):
        shutil.copytree(ROOT / d, tmp_path / d)
    release(tmp_path, force=True)
    shutil.rmtree(tmp_path / "exercises" / ".backup", ignore_errors=True)
    assert release(tmp_path, check=True).ok
    return tmp_path


def _edit_solution(root, name):
    """An author's change to a solved workbook: one more markdown cell."""
    path = root / "solutions" / name
    nb = json.loads(path.read_text())
    nb["cells"].append({"cell_type": "markdown", "id": "added-by-author", "metadata": {}, "source": "more"})
    path.write_text(json.dumps(nb))


def test_a_worked_in_workbook_is_kept_an_untouched_stale_one_is_regenerated(tmp_path):
    root = _released_copy(tmp_path)
    worked, untouched = "01_log_derivative_trick.ipynb", "02_reinforce.ipynb"
    path = root / "exercises" / worked
    nb = json.loads(path.read_text())
    code = next(c for c in nb["cells"] if c["cell_type"] == "code" and "YOUR CODE HERE" in "".join(c["source"]))
    code["source"] = "".join(code["source"]).replace("raise NotImplementedError", "return 0  #")
    path.write_text(json.dumps(nb, indent=2))
    filled = path.read_bytes()
    for name in (worked, untouched):
        _edit_solution(root, name)
    checked = release(root, check=True)
    assert checked.stale == [f"exercises/{untouched}"], "untouched and out of date: the solutions changed"
    assert checked.worked_in == {f"exercises/{worked}": "1 cell changed"}
    assert path.read_bytes() == filled, "--check writes nothing"
    report = release(root)
    assert report.written == [f"exercises/{untouched}"] and report.kept == [f"exercises/{worked}"]
    assert path.read_bytes() == filled, "release leaves a worked-in workbook as it is"
    assert "added-by-author" in (root / "exercises" / untouched).read_text()
    assert not (root / "exercises" / ".backup").exists()


def test_outputs_execution_counts_markdown_and_added_cells_are_work(tmp_path):
    root = _released_copy(tmp_path)
    path = root / "exercises" / "00_setup.ipynb"
    pristine = json.loads(path.read_text())
    edits = {
        "outputs": lambda c: c.update(outputs=[{"output_type": "stream", "name": "stdout", "text": "x"}]),
        "execution count": lambda c: c.update(execution_count=1),
        "markdown": None,
        "added cell": None,
    }
    for what, edit in edits.items():
        nb = json.loads(json.dumps(pristine))
        if what == "markdown":
            md = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
            md["source"] = "".join(md["source"]) + " my answer"
        elif what == "added cell":
            nb["cells"].insert(3, {"cell_type": "code", "id": "mine", "metadata": {}, "outputs": [],
                                   "execution_count": None, "source": "x = 1"})
        else:
            edit(next(c for c in nb["cells"] if c["cell_type"] == "code"))
        path.write_text(json.dumps(nb))
        assert release(root, check=True).worked_in, f"{what}: not seen as work"
        assert release(root).kept == ["exercises/00_setup.ipynb"] and json.loads(path.read_text()) == nb, what
    path.write_text("{ not json")
    assert release(root, check=True).worked_in == {"exercises/00_setup.ipynb": "it is not a readable notebook"}


def test_an_editors_save_is_not_work_and_is_regenerated(tmp_path):
    root = _released_copy(tmp_path)
    path = root / "exercises" / "00_setup.ipynb"
    nb = json.loads(path.read_text())
    nb["metadata"]["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    for cell in nb["cells"]:
        cell["metadata"]["collapsed"] = False
        cell["source"] = "".join(cell["source"])  # a string where release writes a list of lines
    path.write_text(json.dumps(nb, indent=4))
    assert release(root, check=True).stale == ["exercises/00_setup.ipynb"]
    assert release(root).written == ["exercises/00_setup.ipynb"] and release(root, check=True).ok


def test_a_workbook_released_before_fingerprints_is_as_released_when_it_is_the_release(tmp_path):
    root = _released_copy(tmp_path)
    path = root / "exercises" / "00_setup.ipynb"
    nb = json.loads(path.read_text())
    del nb["metadata"]["course"]["cells_sha256"]
    path.write_text(dumps(nb))
    assert release(root, check=True).stale == ["exercises/00_setup.ipynb"]
    assert release(root).written == ["exercises/00_setup.ipynb"]


def test_force_keeps_a_byte_identical_backup_that_git_and_the_globs_ignore(tmp_path):
    import subprocess

    root = _released_copy(tmp_path)
    path = root / "exercises" / "00_setup.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"][1]["execution_count"] = 7
    path.write_text(json.dumps(nb))
    filled = path.read_bytes()
    report = release(root, force=True)
    assert report.written == ["exercises/00_setup.ipynb"] and report.kept == []
    (backup,) = report.backups
    assert backup.startswith("exercises/.backup/00_setup.") and backup.endswith(".ipynb")
    assert (root / backup).read_bytes() == filled and path.read_bytes() != filled
    # again in the same second: a second backup, the first one kept
    path.write_bytes(filled)
    second = release(root, force=True).backups
    assert second != [backup] and (root / backup).read_bytes() == filled
    after = release(root, check=True)
    assert after.ok and after.orphans == []
    assert not [p for p in (root / "exercises").glob("*.ipynb") if ".backup" in str(p)]
    ignored = subprocess.run(["git", "check-ignore", "-q", backup], cwd=ROOT)
    assert ignored.returncode == 0, "exercises/.backup/ must be git-ignored"
    assert subprocess.run(["git", "check-ignore", "-q", "exercises/00_setup.ipynb"], cwd=ROOT).returncode == 1


def test_the_release_records_the_fingerprint_of_its_cells():
    from course_utils.release import recorded_fingerprint, work_fingerprint

    for path in (ROOT / "exercises").glob("*.ipynb"):
        nb = json.loads(path.read_text())
        assert recorded_fingerprint(nb) == work_fingerprint(nb), path.name
