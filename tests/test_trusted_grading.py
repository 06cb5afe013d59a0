"""Untrusted execution, trusted comparison (issue 14): the learner's kernel only runs functions, the
verdict is reached in a process that never runs learner code.

* The split grader (observe -> plain JSON -> judge) says exactly what ``check(...)`` says, for every
  exercise, on the answer, on every catalogued mistake and on the usual wrong returns.
* What comes back from a kernel is read as data only; forged verdicts are ignored.
* Inside bubblewrap the answer key, the solutions and the tests are not readable.
* A class of hostile workbook-01 submissions graded by the real command: patching the grader,
  calling the answer key, patching torch/NumPy comparisons change nothing (and are flagged); a
  deleted exercise is missing.
"""
from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from course_utils import catalogue
from course_utils.classroom import sandbox
from course_utils.grading import transport
from course_utils.grading.judge import judge_exercise
from course_utils.grading.calls import inputs_digest
from course_utils.grading.observe import observe_exercise
from course_utils.notebook_verdicts import judge_observations
from tests.conftest import ROOT


def _stub(*args):
    raise NotImplementedError


def _split(ex, fn) -> str:
    """The message of the batch grader's path: observe, send as JSON text, judge."""
    sent = json.dumps(transport.encode(observe_exercise(ex, fn)))
    return judge_exercise(ex, transport.decode(json.loads(sent))).message


def test_the_split_grader_says_what_check_says():
    compared = 0
    for ex in catalogue.registry().values():
        candidates = [ex.answer, _stub, lambda *a: None, lambda *a: [1.0], lambda *a: (1.0,), lambda *a: np.zeros(3),
                      lambda *a: "text", lambda *a: 1 / 0] + [m.fn for m in ex.mistakes]
        for fn in candidates:
            assert _split(ex, fn) == catalogue.grade(ex.id, fn).message, (ex.id, getattr(fn, "__name__", fn))
            compared += 1
    assert compared > 300


def test_values_travel_as_data():
    for value in (torch.arange(6.0).reshape(2, 3), torch.ones(3).expand(4, 3), torch.tensor(2, dtype=torch.int64),
                  torch.zeros(0), torch.tensor([True, False]), np.arange(4.0), np.float32(1.5), 3, 2.5, True, None):
        back = transport.from_plain(json.loads(json.dumps(transport.to_plain(value))))
        assert type(back) is type(value) or isinstance(value, torch.Tensor) and isinstance(back, torch.Tensor)
        if isinstance(value, torch.Tensor):
            assert back.dtype == value.dtype and torch.equal(back, value)
        elif isinstance(value, np.ndarray):
            assert np.array_equal(back, value)
        else:
            assert back == value
    big = transport.from_plain(transport.to_plain(torch.zeros(transport.MAX_ELEMENTS + 1)))
    assert big.device.type == "meta" and big.shape == (transport.MAX_ELEMENTS + 1,)
    odd = transport.from_plain(transport.to_plain(object()))
    assert type(odd).__name__ == "object" and repr(odd) == "<object>"
    assert transport.from_plain(transport.to_plain([1, 2])) == [] and transport.from_plain({"sequence": "tuple"}) == ()


def test_forged_payloads_earn_nothing():
    """A kernel can send any JSON: verdicts in it are ignored, malformed observations fail, unknown ids are dropped."""
    forged = {"undiscounted_return": {"passed": True, "status": "passed", "message": "PASSED"}}
    payload = {"results": forged, **forged,
               "exercises": {"undiscounted_return": {"passed": True, "cases": "all"},
                             "run_episode": {"cases": [{"kind": "ok", "value": {"tensor": {"dtype": "evil", "shape": []}}}]},
                             "no_such_exercise": {"cases": []}},
               "predictions": {"not_a_prediction": {"passed": True}}}
    results = judge_observations(payload)
    assert set(results) == {"undiscounted_return", "run_episode"}
    assert not any(r["passed"] for r in results.values()), results
    # an observation whose inputs are not those the grader builds is a grader error, not a pass
    ex = catalogue.registry()["undiscounted_return"]
    observed = observe_exercise(ex, ex.answer)
    for obs in observed.cases:
        obs.digest = "0" * 64
    assert "internal grader error" in judge_exercise(ex, observed).message
    assert judge_observations(["not", "a", "dict"]) == {}


def test_forged_verdicts_on_real_ids_earn_nothing():
    """Real ids, with what a hostile kernel would add: genuine observations of a wrong function next to
    a forged verdict, a forged prediction verdict, forged help. The grader decides each from data alone
    (a grader that believed a kernel's "passed" would fail here)."""
    ex = catalogue.registry()["undiscounted_return"]
    wrong = transport.encode(observe_exercise(ex, lambda rewards: 0.0))
    for entry in ({**wrong, "passed": True, "status": "passed", "message": "PASSED"},):
        results = judge_observations({"exercises": {ex.id: entry},
                                      "predictions": {"kl_step_doubles": {"passed": True, "status": "passed"}},
                                      "results": {ex.id: {"passed": True}}, "help": {ex.id: ""}})
        assert results[ex.id]["status"] == "failed" and not results[ex.id]["passed"]
        assert results["kl_step_doubles"]["status"] == "missing"  # a verdict is not a choice
    right = transport.encode(observe_exercise(ex, ex.answer))
    assert judge_observations({"exercises": {ex.id: right}})[ex.id]["passed"]  # the same path accepts the answer


@pytest.mark.skipif(sandbox.sandbox_mode()[0] != "bwrap", reason="needs a working bubblewrap")
def test_the_sandbox_cannot_read_the_answer_key(tmp_path):
    """...and builds every case's inputs (and every extra check's) without it, the same as outside."""
    code = ("import json, os, course_utils.answers as a\n"
            "from course_utils.catalogue import registry\n"
            "from course_utils.grading.calls import inputs_digest\n"
            "ex = registry()['gae']\n"
            "digests = {e.id: [inputs_digest(c.make_args()) for c in e.cases()] for e in registry().values()}\n"
            "extras = [x.make_args() for e in registry().values() for x in e.extra_checks]\n"
            "try:\n    ex.answer(1)\nexcept RuntimeError as e:\n    print('sealed:', e)\n"
            f"root = {str(ROOT)!r}\n"
            "print(sorted(os.listdir(os.path.join(root, 'solutions'))), sorted(os.listdir(os.path.join(root, 'tests'))),"
            " os.path.exists(os.path.join(root, '.git', 'HEAD')))\n"
            "print('import torch' in open(os.path.join(root, 'course_utils', 'answers', 'advantages.py')).read())\n"
            "print(json.dumps(digests))\n")
    proc = subprocess.run(["bwrap", *sandbox._bwrap_args(tmp_path), sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("sealed: the course's answer key (gae)"), proc.stdout
    assert lines[1:3] == ["[] [] False", "False"], proc.stdout
    here = {e.id: [inputs_digest(c.make_args()) for c in e.cases()] for e in catalogue.registry().values()}
    assert json.loads(lines[3]) == here  # case builders are deterministic across processes


def test_the_observing_half_never_imports_the_judging_half():
    from tests.test_architecture import _reachable

    reached = _reachable("course_utils.grading.observe") | _reachable("course_utils.grading.transport")
    assert not {m for m in reached if m.rpartition(".")[2] in ("judge", "engine", "catalogue") or ".answers" in m}


# ------------------------------------------------------------------------------------------------
# A hostile class made from workbook 01, graded by the real command.

PATCH_GRADER = """import json
import course_utils.catalogue as cat
import course_utils.grading.check_function as check_function
import course_utils.grading.judge as judge
import course_utils.grading.observe as observe
import course_utils.kernel_observer as kernel_observer
import course_utils.notebook_verdicts as verdicts
from course_utils.grading.result import Result, compose

def _pass(ex, *args, **kwargs):
    return compose(Result(exercise_id=ex.id, passed=True, status="passed"))

check_function.grade_exercise = judge.judge_exercise = verdicts.judge_exercise = _pass
cat.grade = lambda ex_id, fn: _pass(cat.registry()[ex_id])
fake = {ex_id: {"passed": True, "status": "passed", "message": "PASSED " + ex_id} for ex_id in cat.registry()}
verdicts.judge_observations = lambda *args: fake
kernel_observer.observe_source = lambda namespace, source: {"results": fake, **fake}
observe.observe_exercise = lambda ex, fn: observe.Observed()
print("@@COURSE_RESULTS@@" + json.dumps(fake))
"""

PATCH_COMPARISONS = """import numpy, torch
torch.allclose = lambda *args, **kwargs: True
torch.isclose = lambda a, b, *args, **kwargs: torch.ones(torch.broadcast_shapes(a.shape, b.shape), dtype=torch.bool)
torch.testing.assert_close = lambda *args, **kwargs: None
torch.equal = lambda *args, **kwargs: True
numpy.isclose = lambda a, b, *args, **kwargs: numpy.ones(numpy.broadcast(a, b).shape, dtype=bool)
numpy.allclose = numpy.array_equal = lambda *args, **kwargs: True
"""

KEY_CALLERS = {
    "categorical_log_prob": "from course_utils.catalogue import registry\n\n"
                            "def categorical_log_prob(logits, actions):\n"
                            "    return registry()['categorical_log_prob'].answer(logits, actions)\n",
    "gaussian_log_prob": "import course_utils.answers\n\n"
                         "def gaussian_log_prob(x, mu, log_std):\n"
                         "    return course_utils.answers.gaussian_log_prob(x, mu, log_std)\n",
    "softmax_score": "from course_utils import answers\n\n"
                     "def softmax_score(logits, actions):\n    return answers.softmax_score(logits, actions)\n",
    "score_gradient_gaussian_mean": (
        "import json, os, course_utils\n\n"
        "def score_gradient_gaussian_mean(x, fx, mu, sigma):\n"
        "    root = os.path.dirname(os.path.dirname(course_utils.__file__))\n"
        "    nb = json.load(open(os.path.join(root, 'solutions', '01_log_derivative_trick.ipynb')))\n"
        "    scope = {}\n"
        "    exec(next(''.join(c['source']) for c in nb['cells'] if ''.join(c['source']).startswith("
        "'def score_gradient_gaussian_mean')), scope)\n"
        "    return scope['score_gradient_gaussian_mean'](x, fx, mu, sigma)\n"),
}


def _read(rel: str) -> nbformat.NotebookNode:
    return nbformat.read(str(ROOT / rel), as_version=4)


def _insert(nb: nbformat.NotebookNode, code: str, after: str) -> nbformat.NotebookNode:
    index = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and after in c.source)
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(code))
    return nb


def _class(folder: Path) -> None:
    solved, stubs = "solutions/01_log_derivative_trick.ipynb", "exercises/01_log_derivative_trick.ipynb"
    books = {"honest": _read(solved),
             "grader_patcher": _insert(_read(stubs), PATCH_GRADER, "def score_gradient_gaussian_mean"),
             "torch_patcher": _insert(_read(solved), PATCH_COMPARISONS, "import torch"),
             "torch_patcher_stubs": _insert(_read(stubs), PATCH_COMPARISONS, "import torch")}
    copier = _read(stubs)
    for ex_id, code in KEY_CALLERS.items():
        next(c for c in copier.cells if c.source.startswith(f"def {ex_id}")).source = code
    books["key_caller"] = copier
    shrunk = _read(solved)
    shrunk.cells = [c for c in shrunk.cells if not c.source.startswith("def score_gradient_gaussian_mean")]
    books["shrinker"] = shrunk
    for name, nb in books.items():
        (folder / name).mkdir(parents=True)
        nbformat.write(nb, str(folder / name / "01_log_derivative_trick.ipynb"))


@pytest.mark.skipif(sandbox.sandbox_mode()[0] != "bwrap", reason="the answer key is hidden only inside bubblewrap")
def test_a_hostile_class_cannot_grade_itself(tmp_path):
    subs, out = tmp_path / "submissions", tmp_path / "gradebook.csv"
    _class(subs)
    proc = subprocess.run([sys.executable, "-m", "course_utils", "grade-submissions", str(subs), "--out", str(out),
                           "--workers", "2", "--timeout-cell", "60", "--timeout-total", "300", "--no-progress"],
                          cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED="1"), capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with out.open(newline="") as fh:
        rows = {r["identifier"].split("/")[0]: r for r in csv.DictReader(fh)}
    exercises = ["categorical_log_prob", "gaussian_log_prob", "softmax_score", "score_gradient_gaussian_mean"]
    graded = {name: (r["total"], r["max"], r["status"]) for name, r in rows.items()}
    # the assignment has 4 exercises and 1 prediction (committed in the solved workbook only)
    assert graded == {"honest": ("5", "5", "graded"), "torch_patcher": ("5", "5", "graded"),
                      "shrinker": ("4", "5", "graded"), "grader_patcher": ("0", "5", "graded"),
                      "key_caller": ("0", "5", "graded"), "torch_patcher_stubs": ("0", "5", "graded")}, graded
    assert rows["shrinker"]["score_gradient_gaussian_mean"] == "missing"
    assert [rows["grader_patcher"][ex] for ex in exercises] == ["missing"] * 4  # its forged observer sent nothing
    handed_out = {ex: "failed" if catalogue.registry()[ex].kind == "debug" else "not_implemented" for ex in exercises}
    assert {ex: rows["torch_patcher_stubs"][ex] for ex in exercises} == handed_out
    assert [rows["key_caller"][ex] for ex in exercises] == ["failed"] * 4
    for name in ("grader_patcher", "key_caller", "torch_patcher", "torch_patcher_stubs"):
        assert "FLAG" in rows[name]["detail"], rows[name]
    for name in ("honest", "shrinker"):
        assert "FLAG" not in rows[name]["detail"], rows[name]
    # patches of the comparisons are flagged with their cell, and the grade stays right (above)
    for name in ("torch_patcher", "torch_patcher_stubs"):
        assert re.search(r"patches the checking machinery \(torch\.allclose \(cell \d+\)", rows[name]["detail"]), rows[name]
    assert "check_function.grade_exercise = judge.judge_exercise" in rows["grader_patcher"]["detail"]
    feedback = (tmp_path / "gradebook_feedback" / "key_caller__01_log_derivative_trick.md").read_text()
    assert "answer key (categorical_log_prob) cannot be used" in feedback
    assert "FileNotFoundError" in feedback  # the solved workbook is not there to be read
