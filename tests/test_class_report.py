"""Teaching a class of hundreds (issue 26, grading): the class's mistakes at a glance, shards that
merge into the single run's gradebook, a folder of mixed workbooks, flags for patches of the
checking machinery, and diagnoses on the shapes learners return.

The classes are made from workbook 00 (two exercises, seconds per notebook) and graded by the
real command, ``python -m course_utils grade-submissions``.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import torch

from course_utils import catalogue
from course_utils.classroom import batch
from course_utils.classroom.report import NO_DIAGNOSIS, mistake_counts, write_report
from course_utils.grading import transport
from course_utils.grading.judge import ZERO_MISTAKE
from course_utils.grading.observe import observe_exercise
from course_utils.notebook_verdicts import judge_observations
from tests.conftest import ROOT

SOLVED, STUBS = "solutions/00_setup.ipynb", "exercises/00_setup.ipynb"
HOSTED = "# --- hosted"  # the first code cell (it imports the course)

# what issue 26 saw: comparisons and check() replaced, a grade printed; the grade must stay right
PATCH = ("import numpy as np, torch, course_utils\n"
         "torch.allclose = lambda *args, **kwargs: True\n"
         "np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(a, b).shape, dtype=bool)\n"
         "course_utils.check = lambda *args, **kwargs: print('GRADE: 100%')\n"
         "print('GRADE: 100%')\n")


def _nb(rel: str) -> nbformat.NotebookNode:
    return nbformat.read(str(ROOT / rel), as_version=4)


def _with_return(body: str) -> nbformat.NotebookNode:
    nb = _nb(SOLVED)
    cell = next(c for c in nb.cells if c.source.startswith("def undiscounted_return"))
    cell.source = f"import torch\n\ndef undiscounted_return(rewards):\n    return {body}\n"
    return nb


def _after(nb: nbformat.NotebookNode, code: str, after: str = "def undiscounted_return") -> nbformat.NotebookNode:
    index = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.startswith(after))
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(code))
    return nb


def _without_run_episode() -> nbformat.NotebookNode:
    nb = _nb(SOLVED)
    nb.cells = [c for c in nb.cells if not c.source.startswith("def run_episode")]
    return nb


# learner -> (how many, the notebook): 31 submissions
CLASS = {
    "honest": (8, lambda: _nb(SOLVED)),
    "untouched": (5, lambda: _nb(STUBS)),
    "mean": (5, lambda: _with_return("rewards.mean()")),  # catalogued: "mean"
    "skips_first": (4, lambda: _with_return("rewards[1:].sum()")),  # catalogued: "skips first"
    "zero": (2, lambda: _with_return("torch.tensor(0.0)")),  # no catalogued mistake gives 0 here
    "shrinker": (2, _without_run_episode),
    "helped": (2, lambda: _after(_nb(SOLVED), 'hint("undiscounted_return")')),
    "patcher": (2, lambda: _after(_nb(SOLVED), PATCH, HOSTED)),
    "patcher_stubs": (1, lambda: _after(_nb(STUBS), PATCH, HOSTED)),
}


def _make_class(folder: Path, spec: dict) -> int:
    n = 0
    for kind, (count, make) in spec.items():
        for k in range(count):
            path = folder / f"{kind}{k}" / "00_setup.ipynb"
            path.parent.mkdir(parents=True)
            nbformat.write(make(), str(path))
            n += 1
    return n


def _grade(subs: Path, out: Path, *extra: str, workers: int = 2) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "course_utils", "grade-submissions", str(subs), "--out", str(out),
                           "--workers", str(workers), "--timeout-cell", "60", "--timeout-total", "300",
                           "--no-progress", *extra],
                          cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED="1"), capture_output=True, text=True,
                          timeout=1500)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as fh:
        return {r["identifier"]: r for r in csv.DictReader(fh)}


def _counts(path: Path) -> dict[tuple[str, str, str], int]:
    with path.open(newline="") as fh:
        return {(r["item"], r["category"], r["name"]): int(r["count"]) for r in csv.DictReader(fh)}


# ------------------------------------------------------------------------------------------------
# Fast: no grading run

def test_flags_name_every_patch_of_the_checking_machinery_and_its_cell(tmp_path):
    path = tmp_path / "patcher.ipynb"
    nb = _after(_nb(SOLVED), PATCH, HOSTED)
    nbformat.write(nb, str(path))
    cell = 1 + next(i for i, c in enumerate(nb.cells) if c.source == PATCH)
    flag = batch.flags_for(path)
    for patched in ("torch.allclose", "np.isclose", "course_utils.check"):
        assert f"{patched} (cell {cell})" in flag, flag
    assert "patches the checking machinery" in flag
    more = ("numpy.allclose = numpy.array_equal = lambda *a, **k: True\n"
            "torch.testing.assert_close = lambda *a, **k: None\n"
            "import course_utils.catalogue as cat\ncat.grade = lambda ex_id, fn: None\n"
            "setattr(torch, 'equal', lambda *a: True)\n"
            "def check(fn):\n    print('PASSED')\n")
    nbformat.write(_after(_nb(SOLVED), more, HOSTED), str(path))
    flag = batch.flags_for(path)
    for patched in ("numpy.allclose = numpy.array_equal", "torch.testing.assert_close", "cat.grade",
                    "setattr(torch", "def check("):
        assert patched in flag, (patched, flag)
    # ordinary code is not flagged: configuring torch, comparing, calling check
    honest = ("torch.backends.cudnn.deterministic = True\nnp.random.seed(0)\nsame = torch.allclose(a, b)\n"
              "ok = x == torch.equal\nresult = check(undiscounted_return)\nequal_parts = 3\n"
              # a learner's own variables named like the machinery patch nothing
              "observed = [1]\ngrades = []\nequal = observed == grades\nregistry = {}\njudgement = 0\n")
    nbformat.write(_after(_nb(SOLVED), honest, HOSTED), str(path))
    assert batch.flags_for(path) == ""
    nbformat.write(_nb(SOLVED), str(path))
    assert batch.flags_for(path) == ""


def test_a_constant_zero_for_score_gradient_is_said_to_be_zero():
    """Issue 26, item 4: a constant 0 for score_gradient_gaussian_mean. The first case (worked by hand)
    has scores [-4, 0, 4], which average to 0, so the catalogued mistake "no f" (the mean score) also
    returns exactly 0 there and the grader, which stops at the first failing case, cannot tell them
    apart: the message says the zero first and names "f(x) is missing" only as the alternative; a
    function that returns something else that is wrong is never told it returns 0."""
    zero_fns = [lambda x, fx, mu, sigma: torch.tensor(0.0), lambda x, fx, mu, sigma: 0.0 * (fx * x).mean(),
                lambda x, fx, mu, sigma: torch.zeros(())]
    for fn in zero_fns:
        res = catalogue.grade("score_gradient_gaussian_mean", fn)
        cause = res.message.split("Likely cause: ")[1]
        assert res.status == "failed" and "Got:      0.0" in res.message
        assert cause.startswith("your function returns 0 for every entry here"), res.message
        assert cause.index("returns 0") < cause.index("f(x) is missing"), res.message
    ex = catalogue.registry()["score_gradient_gaussian_mean"]
    for mistake in ex.mistakes:
        res = catalogue.grade(ex.id, mistake.fn)
        assert mistake.message in res.message, (mistake.name, res.message)
        if mistake.name != "no f":
            assert "returns 0" not in res.message and res.mistake == mistake.name, res.message


@pytest.mark.xfail(strict=True, reason="the worked-by-hand case of score_gradient_gaussian_mean cannot tell a "
                   "constant 0 from 'no f' (its scores average to 0): the class report counts a constant 0 under "
                   "'no f'. Fix in checks/ch01 (lead): e.g. x = [0.5, 1.5, 2.5, 3.5], fx = [1, 2, 4, 2], "
                   "estimate 7, 'no f' 2; then this test passes and the marker goes")
def test_a_constant_zero_is_counted_apart_from_no_f():
    zero = catalogue.grade("score_gradient_gaussian_mean", lambda x, fx, mu, sigma: torch.tensor(0.0))
    no_f = catalogue.grade("score_gradient_gaussian_mean", lambda x, fx, mu, sigma: ((x - mu) / sigma**2).mean())
    assert zero.mistake == ZERO_MISTAKE and no_f.mistake == "no f"
    assert not no_f.message.split("Likely cause: ")[1].startswith("your function returns 0")


def test_diagnoses_hit_on_the_shapes_learners_return():
    """returns.mean() (a scalar) where shape (1,) is expected is still the average-return mistake;
    a constant 0 is said to be 0, never only 'f(x) is missing'; the mistake's name travels as data."""
    res = catalogue.grade("optimal_baseline", lambda grad_logp, returns: returns.mean())
    assert "shape ()" in res.message and "average return" in res.message.split("Likely cause:")[1], res.message
    assert res.mistake == "average return"
    zero = catalogue.grade("score_gradient_gaussian_mean", lambda x, fx, mu, sigma: torch.tensor(0.0))
    cause = zero.message.split("Likely cause: ")[1]
    assert cause.startswith("your function returns 0"), zero.message
    # where no catalogued mistake gives 0 either, the zero is all that is said, under its own name
    res = catalogue.grade("undiscounted_return", lambda rewards: torch.tensor(0.0))
    assert res.mistake == ZERO_MISTAKE and "returns 0" in res.message and "Or:" not in res.message
    # a catalogued mistake of the same shape keeps its own diagnosis (the broadcast is tried after)
    ex = catalogue.registry()["undiscounted_return"]
    for mistake in ex.mistakes[:4]:
        sent = json.loads(json.dumps(transport.encode(observe_exercise(ex, mistake.fn))))
        verdict = judge_observations({"exercises": {ex.id: sent}})[ex.id]
        assert verdict["mistake"] == mistake.name and mistake.message in verdict["message"], verdict
    right = json.loads(json.dumps(transport.encode(observe_exercise(ex, ex.answer))))
    assert "mistake" not in judge_observations({"exercises": {ex.id: right}})[ex.id]


def test_shards_split_by_learner_deterministically():
    idents = [f"learner{k}/{book}" for k in range(40) for book in ("00_setup", "01_log_derivative_trick")]
    shards = [{i for i in idents if batch.in_shard(i, (k, 3))} for k in range(3)]
    assert sum(len(s) for s in shards) == len(idents) and set().union(*shards) == set(idents)
    assert all(shards)
    for shard in shards:  # a learner's notebooks stay together
        assert all(i.replace("00_setup", "01_log_derivative_trick") in shard for i in shard if "00_setup" in i)
    assert batch.parse_shard("2/5") == (2, 5)
    for bad in ("5/5", "-1/3", "1", "a/b"):
        with pytest.raises(ValueError):
            batch.parse_shard(bad)


def test_the_report_counts_from_gradebooks(tmp_path):
    """Counting alone, from two hand-written gradebooks (one per assignment) and their sidecars."""
    for name, rows in {"a00": [("ann/00_setup", "passed", "", ""), ("bo/00_setup", "failed", "mean", "1 hint"),
                               ("cy/00_setup", "failed", "", "")],
                       "a01": [("ann/01_x", "missing", "", ""), ("bo/01_x", "passed", "", "")]}.items():
        out = tmp_path / f"{name}.csv"
        book = batch.Gradebook(out, ["f"])
        for ident, status, mistake, used in rows:
            verdict = {"passed": status == "passed", "status": status, "message": "", "mistake": mistake, "help": used}
            row = batch.Row(ident, results={"f": verdict}, expected=["f"] if name == "a00" else ["f", "g"],
                            detail="FLAG: x" if ident.startswith(("cy", "ann")) else "")
            book.append(row)
    paths = write_report([tmp_path / "a00.csv", tmp_path / "a01.csv"], tmp_path / "class.csv")
    counts = _counts(paths["mistakes"])
    assert counts[("f", "status", "passed")] == 2 and counts[("f", "status", "failed")] == 2
    assert counts[("f", "status", "missing")] == 1 and counts[("f", "flagged", "flagged")] == 3
    assert counts[("f", "mistake", "mean")] == 1 and counts[("f", "mistake", NO_DIAGNOSIS)] == 1
    assert counts[("f", "help", "help used")] == 1
    learners = _rows_by(paths["learners"], "learner")
    assert learners["ann"] == {"learner": "ann", "00_setup": "1/1", "01_x": "0/2", "total": "1", "max": "3"}
    assert learners["cy"]["total"] == "0" and learners["cy"]["01_x"] == ""
    page = paths["html"].read_text()
    assert "<script" not in page and "http" not in page and "<td>mean</td>" in page


def _rows_by(path: Path, key: str) -> dict[str, dict[str, str]]:
    with path.open(newline="") as fh:
        return {r[key]: r for r in csv.DictReader(fh)}


# ------------------------------------------------------------------------------------------------
# Graded by the real command

def test_a_class_of_31_gives_the_mistakes_report(tmp_path):
    subs, out = tmp_path / "submissions", tmp_path / "grades" / "gradebook.csv"
    n = _make_class(subs, CLASS)
    assert n == 31
    start = time.monotonic()
    proc = _grade(subs, out)
    wall = time.monotonic() - start
    print(f"\n{n} notebooks in {wall:.0f} s with 2 workers: {n / (2 * wall / 60):.1f} notebooks per core-minute")
    rows = _rows(out)
    assert len(rows) == n and all(r["status"] == "graded" and r["max"] == "2" for r in rows.values()), rows
    for ident, r in rows.items():
        kind = ident.split("/")[0].rstrip("0123456789")
        want = {"honest": "2", "helped": "2", "patcher": "2", "mean": "1", "skips_first": "1", "zero": "1",
                "shrinker": "1", "untouched": "0", "patcher_stubs": "0"}[kind]
        assert r["total"] == want, (ident, r)  # the patches earn nothing and cost nothing
        assert ("patches the checking machinery" in r["detail"]) == kind.startswith("patcher"), (ident, r["detail"])
    assert "course_utils.check (cell" in rows["patcher0/00_setup"]["detail"]
    counts = _counts(out.with_name("gradebook_mistakes.csv"))
    ur, re_ = "undiscounted_return", "run_episode"
    assert {k[2]: v for k, v in counts.items() if k[:2] == (ur, "status")} == {
        "passed": 8 + 2 + 2 + 2, "failed": 5 + 4 + 2, "not_implemented": 5 + 1, "missing": 0, "not_run": 0}
    assert {k[2]: v for k, v in counts.items() if k[:2] == (ur, "mistake")} == {
        "mean": 5, "skips first": 4, ZERO_MISTAKE: 2}
    assert counts[(ur, "flagged", "flagged")] == 3 and counts[(ur, "help", "help used")] == 2
    assert counts[(re_, "status", "missing")] == 2 and counts[(re_, "status", "passed")] == 31 - 6 - 2
    learners = _rows_by(out.with_name("gradebook_learners.csv"), "learner")
    assert len(learners) == 31 and learners["mean0"]["total"] == "1" and learners["honest3"]["max"] == "2"
    page = out.with_name("gradebook_report.html").read_text()
    assert "<script" not in page and "<td>skips first</td><td>4</td>" in page
    assert "gradebook_report.html" in proc.stdout
    # the same report, rebuilt from the gradebook by the command
    again = subprocess.run([sys.executable, "-m", "course_utils", "class-report", str(out), "--out",
                            str(tmp_path / "again.csv")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again_mistakes.csv").read_text() == out.with_name("gradebook_mistakes.csv").read_text()


def test_shards_graded_apart_merge_into_the_single_run(tmp_path):
    subs = tmp_path / "submissions"
    spec = {"honest": (2, CLASS["honest"][1]), "mean": (2, CLASS["mean"][1]), "untouched": (1, CLASS["untouched"][1]),
            "shrinker": (1, _without_run_episode), "patcher": (1, CLASS["patcher"][1])}
    _make_class(subs, spec)
    idents = [s.identifier for s in batch.discover(subs)]
    assert all(any(batch.in_shard(i, (k, 3)) for i in idents) for k in range(3))  # no shard is empty here
    single = tmp_path / "single" / "gradebook.csv"
    single.parent.mkdir()
    _grade(subs, single, workers=1)
    shards = [tmp_path / f"shard{k}" / "gradebook.csv" for k in range(3)]
    procs = []
    for k, out in enumerate(shards):  # three processes at once, as the tasks of a job array
        out.parent.mkdir()
        procs.append(subprocess.Popen([sys.executable, "-m", "course_utils", "grade-submissions", str(subs),
                                       "--out", str(out), "--workers", "1", "--no-progress", "--shard", f"{k}/3"],
                                      cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for proc in procs:
        log = proc.communicate(timeout=900)[0]
        assert proc.returncode == 0, log
    parts = [set(_rows(s)) for s in shards]
    assert sum(len(p) for p in parts) == len(idents) and all(parts)
    merged = tmp_path / "merged" / "gradebook.csv"
    proc = subprocess.run([sys.executable, "-m", "course_utils", "merge-gradebooks", "--out", str(merged),
                           *map(str, shards)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr

    def comparable(path: Path) -> tuple[list[str], dict]:
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            rows = {r["identifier"]: {k: v for k, v in r.items() if k != "runtime_s"} for r in reader}
            return list(reader.fieldnames), rows

    assert comparable(merged) == comparable(single)
    assert len(comparable(merged)[1]) == 7
    assert (merged.with_name("gradebook_mistakes.csv").read_text()
            == single.with_name("gradebook_mistakes.csv").read_text())
    assert sorted(p.name for p in merged.with_name("gradebook_feedback").iterdir()) == \
        sorted(p.name for p in single.with_name("gradebook_feedback").iterdir())


def test_a_mixed_folder_grades_only_the_named_assignment_and_says_so(tmp_path):
    """Workbooks 00 and 01 in one folder, --assignment 00: the 01 notebook (its metadata says so) is
    not graded as a 00 with everything missing; its row and a warning say why."""
    subs = tmp_path / "submissions"
    for learner in ("ann", "bo"):
        (subs / learner).mkdir(parents=True)
    nbformat.write(_nb(STUBS), str(subs / "ann" / "00_setup.ipynb"))
    nbformat.write(_nb("exercises/01_log_derivative_trick.ipynb"), str(subs / "bo" / "01_log_derivative_trick.ipynb"))
    out = tmp_path / "gradebook.csv"
    proc = _grade(subs, out, "--assignment", str(ROOT / STUBS), workers=1)
    rows = _rows(out)
    other = rows["bo/01_log_derivative_trick"]
    assert other["status"] == "other_assignment" and "01_log_derivative_trick.ipynb" in other["detail"], other
    assert other["undiscounted_return"] == "" and other["run_episode"] == ""  # not 'missing' against 00
    assert rows["ann/00_setup"]["status"] == "graded" and rows["ann/00_setup"]["max"] == "2"
    assert "WARNING" in proc.stderr and "bo/01_log_derivative_trick" in proc.stderr
