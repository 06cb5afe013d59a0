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
