"""Every course command the README shows works as written, from a new shell.

The README's command-line block is parsed, not copied: each line that calls ``.venv/bin/course``
(or ``.venv/bin/python -m course_utils``) and only reads is run with ``bash -c`` in a bare
environment (no activated virtual environment, a minimal PATH). Commands that write
(``release`` without ``--check``) or take hours (``experiments``) are only checked to exist.
"""
from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
VENV = ROOT / ".venv"


def _commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.DOTALL)
    joined = [block.replace("\\\n", " ") for block in blocks]  # continuation lines
    lines = [line.split("#", 1)[0].strip() for block in joined for line in block.splitlines()]
    return [line for line in lines if line.startswith((".venv/bin/course ", ".venv/bin/python -m course_utils "))]


COMMANDS = _commands()
READ_ONLY = ("list", "progress", "release --check", "check ")


def test_the_readme_shows_the_course_command():
    assert any(c.startswith(".venv/bin/course list") for c in COMMANDS), COMMANDS
    assert any(" check exercises/" in c for c in COMMANDS)


@pytest.mark.skipif(not (VENV / "bin" / "course").exists(),
                    reason=".venv/bin/course is missing: run `make install` (pip install -e .) first")
@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_works_in_a_new_shell(command, tmp_path):
    sub = command.split(None, 1)[1] if command.startswith(".venv/bin/course ") else command.split("course_utils ", 1)[1]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "COURSE_PROGRESS_FILE": str(tmp_path / "progress.json")}
    if not sub.startswith(READ_ONLY):
        name = sub.split()[0]
        out = subprocess.run(["bash", "-c", f".venv/bin/course {name} --help"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and "usage" in out.stdout, out.stdout + out.stderr
        return
    out = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert "Traceback" not in out.stderr, out.stderr
    if sub.startswith("check "):  # the handed-out workbook: graded, nothing passes, and it says to save
        assert "exercises passed" in out.stdout and "save the notebook" in out.stdout, out.stdout
        assert (tmp_path / "progress.json").exists(), "check NOTEBOOK records progress"
    else:
        assert out.returncode == 0, out.stdout + out.stderr
