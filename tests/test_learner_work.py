"""Nothing a learner does is lost: every command a learner can see leaves a filled workbook alone.

A learner's clone of the course is built in a temporary folder (solutions/, exercises/,
notebooks/, docs/, the README, the Makefile; the course itself is the installed one). Workbook 01
is filled in as a learner would: one exercise solved, another attempted, a markdown note, a
committed prediction (in the cell and in the progress file), cells run with outputs and
execution counts. Then every command ``python -m course_utils --help`` lists runs there, with
arguments that keep it short, and so do ``make release`` and ``make release-check``; after
each one the filled workbook is byte for byte what the learner saved, and every entry of the
progress file is still there. Last, ``release --force`` (an author's command) replaces the
workbook, and the backup it keeps is byte for byte the learner's file.

The table of commands is checked against ``--help``: a new command fails this test until it is
added here.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

WORKBOOK = "exercises/01_log_derivative_trick.ipynb"
PREDICTION = ("score_constant_shift", "b")

# Every command of `python -m course_utils --help`, each with arguments that keep it short and
# inside the clone. "check" runs the filled workbook itself; grade-submissions grades a copy of it.
COMMANDS: dict[str, list[list[str]]] = {
    "progress": [["progress"]],
    "list": [["list"], ["list", "--json"]],
    "check": [["check", WORKBOOK, "--cell-timeout", "60"]],
    "release": [["release"], ["release", "--check"]],  # (--force: last, on its own)
    "slides": [["slides", "--lessons", "one_lesson", "--out", "build/slides"]],
    "experiments": [["experiments", "list"]],
    "grade-submissions": [["grade-submissions", "collected", "--out", "build/gradebook.csv", "--workers", "1",
                           "--no-progress"]],
    "class-report": [["class-report", "build/gradebook.csv", "--out", "build/class"]],
    "merge-gradebooks": [["merge-gradebooks", "build/gradebook.csv", "--out", "build/merged.csv"]],
    "site": [["site", "--root", ".", "--out", "build/site"]],
    "hosted": [["hosted", "--print"], ["hosted", "--check"], ["hosted", "--stamp"]],
}


def _help_commands() -> list[str]:
    out = subprocess.run([sys.executable, "-m", "course_utils", "--help"], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    return re.search(r"\{([a-z,-]+)\}", out).group(1).split(",")


def _fill(path: Path) -> None:
    """Work in a workbook as a learner does: solve, attempt, note, predict, run; then save it."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = nb["cells"]

    def code_cell(starts: str) -> dict:
        return next(c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).startswith(starts))

    solved = code_cell("def categorical_log_prob")
    signature = "".join(solved["source"]).split("# YOUR CODE HERE")[0]
    solved["source"] = signature + ("log_probs = torch.log_softmax(logits, dim=-1)\n"
                                    "    return log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)\n")
    attempted = code_cell("def softmax_score")
    attempted["source"] = "".join(attempted["source"]).replace("# YOUR CODE HERE", "# my first try: (one_hot - pi)?")
    predicted = next(c for c in cells if "predict" in c["metadata"].get("tags", []))
    predicted["source"] = "".join(predicted["source"]).replace(f'predict("{PREDICTION[0]}")',
                                                               f'predict("{PREDICTION[0]}", "{PREDICTION[1]}")')
    note = next(c for c in cells if c["cell_type"] == "markdown")
    note["source"] = "".join(note["source"]) + "\n\nMy note: the score has mean zero under pi."
    for count, cell in enumerate([c for c in cells if c["cell_type"] == "code"][:4], start=1):
        cell["execution_count"] = count
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": f"output of my run {count}\n"}]
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")  # as JupyterLab saves


@pytest.fixture
def clone(tmp_path, monkeypatch):
    """A learner's clone: the course's folders copied, workbook 01 filled, a prediction committed."""
    root = tmp_path / "course"
    for folder in ("solutions", "exercises", "notebooks", "docs"):
        shutil.copytree(ROOT / folder, root / folder)
    for name in ("README.md", "Makefile", "pyproject.toml"):
        shutil.copy2(ROOT / name, root / name)
    (root / ".venv").symlink_to(ROOT / ".venv")
    from course_utils.release import release

    release(root, force=True)  # exercises/ as released from these solutions, whatever this checkout holds
    shutil.rmtree(root / "exercises" / ".backup", ignore_errors=True)
    (root / "one_lesson").mkdir()
    shutil.copy2(ROOT / "notebooks" / "00_setup.ipynb", root / "one_lesson")
    _fill(root / WORKBOOK)
    (root / "collected" / "alice").mkdir(parents=True)
    shutil.copy2(root / WORKBOOK, root / "collected" / "alice")
    progress = tmp_path / "progress.json"
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(progress))
    from course_utils import progress_store
    from course_utils.predict import predict

    predict(*PREDICTION)
    progress_store.record("categorical_log_prob", "passed")
    return root, progress


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "exercises").glob("*.ipynb"))}


def _assert_progress_kept(before: dict, after: dict, after_what: str) -> None:
    for item, entry in before["exercises"].items():
        kept = after["exercises"].get(item)
        assert kept is not None, f"{after_what}: the progress of {item} is gone"
        for key in ("prediction", "first_passed"):
            if key in entry:
                assert kept.get(key) == entry[key], f"{after_what}: {item}'s {key} changed"


def test_the_table_covers_every_command_of_the_help():
    assert sorted(_help_commands()) == sorted(COMMANDS), "add the new command (harmless arguments) to COMMANDS"


def test_no_command_a_learner_can_see_loses_their_work(clone):
    root, progress = clone
    filled = (root / WORKBOOK).read_bytes()
    workbooks = _snapshot(root)
    recorded = json.loads(progress.read_text())
    assert recorded["exercises"][PREDICTION[0]]["prediction"] == PREDICTION[1]
    env = {**os.environ, "COURSE_PROGRESS_FILE": str(progress)}
    runs = [[sys.executable, "-m", "course_utils", *args] for args_list in COMMANDS.values() for args in args_list]
    runs += [["make", "-o", "install", "release"], ["make", "-o", "install", "release-check"]]
    outputs = {}
    for cmd in runs:
        label = " ".join(cmd[3:] if cmd[0] == sys.executable else cmd)
        out = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=600)
        outputs[label] = out
        assert "Traceback" not in out.stderr, f"{label}:\n{out.stderr[-3000:]}"
        assert (root / WORKBOOK).read_bytes() == filled, f"`{label}` changed the learner's workbook"
        assert _snapshot(root) == workbooks, f"`{label}` changed a workbook of exercises/"
        _assert_progress_kept(recorded, json.loads(progress.read_text()), label)
    # the commands did run: each one says what it did
    assert "exercises passed" in outputs[f"check {WORKBOOK} --cell-timeout 60"].stdout
    assert "Graded 1 submission" in outputs["grade-submissions collected --out build/gradebook.csv --workers 1 "
                                            "--no-progress"].stdout
    assert (root / "build" / "slides" / "00_setup.slides.html").is_file()
    assert (root / "build" / "site" / "exercises" / "01_log_derivative_trick.html").is_file()
    refused = outputs["release"]
    assert refused.returncode == 1 and f"left as it is: {WORKBOOK}: someone has worked in it" in refused.stderr
    assert "left as it is" in outputs["make -o install release"].stderr
    assert f"left as it is: {WORKBOOK}" in outputs["hosted --stamp"].stdout
    checked = outputs["release --check"]
    assert checked.returncode == 1 and f"worked in: {WORKBOOK} holds work" in checked.stderr
    assert "cells changed" in checked.stderr and "cells run or with outputs" in checked.stderr
    assert "nothing to run" in checked.stderr
    # an author's --force replaces the workbook, and keeps the learner's file, byte for byte
    forced = subprocess.run([sys.executable, "-m", "course_utils", "release", "--force"], cwd=root, env=env,
                            capture_output=True, text=True, timeout=300)
    assert forced.returncode == 0, forced.stderr
    backups = sorted((root / "exercises" / ".backup").glob("01_log_derivative_trick.*.ipynb"))
    assert len(backups) == 1 and backups[0].read_bytes() == filled
    assert f"kept a copy of the workbook it replaced: {backups[0].relative_to(root)}" in forced.stdout
    assert (root / WORKBOOK).read_bytes() != filled
    # the backup is no workbook: not an orphan, not a notebook of exercises/*.ipynb
    after = subprocess.run([sys.executable, "-m", "course_utils", "release", "--check"], cwd=root, env=env,
                           capture_output=True, text=True, timeout=300)
    assert "backup" not in after.stderr and "orphan" not in after.stderr.lower(), after.stderr
