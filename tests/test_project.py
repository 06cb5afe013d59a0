"""Project-level promises: dependency lists in sync, the two commands work, the CLI answers."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import urllib.request

import pytest

from tests.chromium import COURSE_LAB, ROOT, wait


def _pyproject_deps() -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = data["project"]["dependencies"] + data["project"]["optional-dependencies"]["test"]
    return {d.replace(" ", "") for d in deps}


def _environment_yml_deps() -> set[str]:
    text = (ROOT / "environment.yml").read_text()
    pip_block = text.split("- pip:", 1)[1]
    return {m.group(1).replace(" ", "") for m in re.finditer(r"^\s+-\s+(\S.*)$", pip_block, flags=re.MULTILINE)}


def test_environment_yml_matches_pyproject():
    assert _environment_yml_deps() == _pyproject_deps()


def test_torch_is_pinned_to_the_cpu_wheel_version():
    assert "torch==2.13.0" in _pyproject_deps()


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    assert "make course" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_cli_lists_exercises_and_checks_release():
    out = subprocess.run([sys.executable, "-m", "course_utils", "list"], capture_output=True, text=True, check=True)
    assert "categorical_log_prob" in out.stdout
    out = subprocess.run([sys.executable, "-m", "course_utils", "release", "--check"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_cli_grades_a_workbook_file():
    out = subprocess.run([sys.executable, "-m", "course_utils", "check", "solutions/00_setup.ipynb",
                          "exercises/00_setup.ipynb"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert "solutions/00_setup.ipynb: 2/2 exercises passed" in out.stdout, out.stdout + out.stderr
    assert "exercises/00_setup.ipynb: 0/2 exercises passed" in out.stdout
    assert "not_implemented  run_episode" in out.stdout
    assert "save the notebook (Ctrl+S)" in out.stdout  # the file on disk may predate the browser's work
    assert out.returncode == 1  # not everything passed


def test_cli_check_prints_the_headline_of_a_failure(tmp_path):
    import nbformat

    nb = nbformat.read(str(ROOT / "solutions/00_setup.ipynb"), as_version=4)
    for cell in nb.cells:  # a plausible mistake: the return counts the steps, not the rewards
        if cell.cell_type == "code" and cell.source.startswith("def undiscounted_return"):
            cell.source = ("import torch\n\ndef undiscounted_return(rewards: torch.Tensor) -> torch.Tensor:\n"
                           "    return torch.tensor(float(len(rewards)))\n")
    broken = tmp_path / "00_setup.ipynb"
    nbformat.write(nb, str(broken))
    out = subprocess.run([sys.executable, "-m", "course_utils", "check", str(broken)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert "1/2 exercises passed" in out.stdout, out.stdout + out.stderr
    failed = out.stdout.split("undiscounted_return", 1)[1]
    assert failed.strip().splitlines()[0].strip(), "a failure prints its headline without -v"
    assert out.returncode == 1


@COURSE_LAB
@pytest.mark.system
def test_open_the_course_command_starts_jupyterlab(course_lab):
    """Smoke test of `make course`: scripts/course.sh (the session's course_lab, which the browser
    tests use too) starts a server that answers, serves the checkout and prints the link to lesson
    00; the fixture stops it afterwards."""
    with urllib.request.urlopen(course_lab.url("lab"), timeout=30) as r:
        assert "JupyterLab" in r.read().decode()
    with urllib.request.urlopen(course_lab.url("api/contents/notebooks"), timeout=30) as r:
        assert b"00_setup.ipynb" in r.read()
    link = f"{course_lab.base.removeprefix('http://')}/lab/tree/notebooks/00_setup.ipynb?token="

    def output() -> str:
        text = course_lab.log.read_text()
        return text if link in text else ""

    printed = wait("the link to lesson 00 in the server's output", output, timeout=60)  # it lands on lesson 00
    if os.geteuid() == 0:  # a container or cloud VM: the command works without an extra flag, and says why
        assert "adding --allow-root" in printed
