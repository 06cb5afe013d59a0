"""A graded notebook's kernel says nothing it should not, and hides nothing it should say.

Every ``course check`` used to begin with ipykernel's ``[IPKernelApp] WARNING | Kernel is running
over TCP without encryption``: the kernels the course starts (``grading/protocol.execute``, used
by ``check NOTEBOOK`` and by the batch grader's sandbox) now get CurveZMQ keys, so the warning's
cause is gone. Nothing is filtered: what the kernel process writes to its stderr still reaches
the terminal, and an error in a cell is still recorded in its outputs.
"""
from __future__ import annotations

import os
import subprocess
import sys

import nbformat

from course_utils.grading import protocol
from tests.conftest import ROOT

WARNING = "without encryption"


def _notebook() -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import sys\nprint('a real problem, said by the kernel', file=sys.__stderr__)"),
        nbformat.v4.new_code_cell("1 / 0"),
    ])


def test_the_kernel_is_quiet_about_its_transport_and_says_everything_else(capfd, tmp_path):
    nb = _notebook()
    assert protocol.execute(nb, tmp_path, cell_timeout=60) == ("", "")
    err = capfd.readouterr().err
    assert WARNING not in err, err
    assert "a real problem, said by the kernel" in err, "the kernel's own stderr must still show"
    assert nb.cells[1].outputs[0]["ename"] == "ZeroDivisionError"


def test_course_check_starts_with_no_warning(tmp_path):
    path = tmp_path / "mine.ipynb"
    nbformat.write(_notebook(), str(path))
    out = subprocess.run([sys.executable, "-m", "course_utils", "check", str(path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "COURSE_PROGRESS_FILE": str(tmp_path / "p.json")})
    assert WARNING not in out.stderr and "[IPKernelApp] WARNING" not in out.stderr, out.stderr
    assert "a real problem, said by the kernel" in out.stderr
    assert "mine.ipynb" in out.stdout
