"""Classroom tooling: batch grading of hostile submissions in a sandbox, and offline slides.

One folder of synthetic submissions, built here from ``exercises/00_setup.ipynb`` and
``solutions/00_setup.ipynb``, is graded by the real command, interrupted with Ctrl+C after a
few rows, and resumed: together that covers containment, the gradebook and resuming.
"""
from __future__ import annotations

import csv
import json
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from course_utils.classroom import sandbox
from course_utils.classroom.batch import Row, safe_name
from course_utils.grading import protocol
from tests.conftest import ROOT

SLEEP_MARK = "613.25"  # `sleep 613.25`: a process the spawner leaves behind, found by this argument


def _with_cell(source: str, code: str, after: str = "def run_episode") -> nbformat.NotebookNode:
    """The notebook at ``source`` with a code cell ``code`` inserted after the cell containing ``after``."""
    nb = nbformat.read(str(ROOT / source), as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if after in c.source)
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(code))
    return nb


def _write(folder: Path, rel: str, nb: nbformat.NotebookNode) -> None:
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def _submissions(folder: Path, precious: Path, port: int, sandboxed: bool) -> None:
    """Eleven submissions, most of them hostile. Without the sandbox the deleter really deletes, so it
    is then aimed at the decoy folder only, not at another learner's submission."""
    _write(folder, "alice/00_setup.ipynb", nbformat.read(str(ROOT / "solutions/00_setup.ipynb"), as_version=4))
    _write(folder, "Smith, Jr./00_setup.ipynb", nbformat.read(str(ROOT / "exercises/00_setup.ipynb"), as_version=4))
    wrong = nbformat.read(str(ROOT / "solutions/00_setup.ipynb"), as_version=4)
    cell = next(c for c in wrong.cells if c.source.startswith("def undiscounted_return"))
    cell.source = "def undiscounted_return(rewards):\n    return rewards.mean()\n"
    _write(folder, "bob/00_setup.ipynb", wrong)
    _write(folder, "looper/00_setup.ipynb", _with_cell("solutions/00_setup.ipynb", "while True:\n    pass"))
    _write(folder, "hog/00_setup.ipynb", _with_cell(
        "solutions/00_setup.ipynb", "def grow():\n    xs = []\n    while True:\n        xs.append(bytearray(50_000_000))\n\ngrow()"))
    _write(folder, "deleter/00_setup.ipynb", _with_cell("solutions/00_setup.ipynb", (
        "import os, shutil\n"
        "open('scratch_is_writable.txt', 'w').write('ok')\n"
        f"shutil.rmtree({str(precious)!r})\n"
        + (f"os.remove({str(folder / 'alice' / '00_setup.ipynb')!r})" if sandboxed else ""))))
    _write(folder, "exiter/00_setup.ipynb", _with_cell("solutions/00_setup.ipynb", "import os\nos._exit(3)"))
    _write(folder, "spawner/00_setup.ipynb", _with_cell("solutions/00_setup.ipynb", (
        "import socket, subprocess\n"
        f"subprocess.Popen(['sleep', '{SLEEP_MARK}'], start_new_session=True)\n"
        f"socket.create_connection(('127.0.0.1', {port}), timeout=3).sendall(b'escaped')")))
    (folder / "broken.ipynb").write_text('{"cells": [ this is not json')
    # Deleting an exercise does not shrink the denominator; calling the answer key is flagged.
    shrunk = nbformat.read(str(ROOT / "solutions/00_setup.ipynb"), as_version=4)
    shrunk.cells = [c for c in shrunk.cells if not c.source.startswith("def run_episode")]
    _write(folder, "shrinker/00_setup.ipynb", shrunk)
    copier = nbformat.read(str(ROOT / "exercises/00_setup.ipynb"), as_version=4)
    cell = next(c for c in copier.cells if c.source.startswith("def undiscounted_return"))
    cell.source = ("from course_utils.catalogue import registry\n\n"
                   "def undiscounted_return(rewards):\n    return registry()['undiscounted_return'].answer(rewards)\n")
    _write(folder, "copier/00_setup.ipynb", copier)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _rows(csv_path: Path) -> dict[str, dict[str, str]]:
    with csv_path.open(newline="") as fh:
        return {r["identifier"]: r for r in csv.DictReader(fh)}


def _listener() -> tuple[socket.socket, list[bytes]]:
    """A TCP server on the host's loopback: a sandboxed notebook must not reach it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    received: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
                received.append(conn.recv(100) or b"connected")
                conn.close()
            except socket.timeout:
                continue
            except OSError:
                return

    threading.Thread(target=serve, daemon=True).start()
    return server, received


def test_one_grading_protocol_for_check_and_the_sandbox(tmp_path, monkeypatch):
    """``check NOTEBOOK`` and the sandboxed child run a notebook the same way: the same cells (the
    skipped one dropped), the same grading cell naming the same observer, the same reading of what
    it printed. A kernel that records what it was asked to run stands in for the real one: a copy
    of the protocol in either path would not reach it, and this test fails."""
    import nbformat

    from course_utils import cli, kernel_observer
    from course_utils.grading import check_notebook

    assert sandbox.OBSERVER == cli.OBSERVER == kernel_observer.OBSERVER
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("def gae(): pass"),
        nbformat.v4.new_code_cell("slow()", metadata={"tags": [protocol.SKIP_TAG]}),
    ])
    path = tmp_path / "05_gae.ipynb"
    nbformat.write(nb, str(path))
    ran = []

    def fake_execute(nb, workdir, cell_timeout, interrupt_on_timeout=False, kernel_name="python3"):
        ran.append([c.source for c in nb.cells])
        nb.cells[-1].outputs = [nbformat.v4.new_output("stream", name="stdout",
                                                       text="noise\n" + protocol.MARK + '{"exercises": {"gae": '),
                                nbformat.v4.new_output("stream", name="stdout", text='{"missing": true}}}\n')]
        return "", ""

    monkeypatch.setattr(protocol, "execute", fake_execute)
    sandbox.child_main(path, tmp_path / "child.json", cell_timeout=10)
    seen = []
    report = check_notebook.grade_notebook(path, lambda observed, *rest: seen.append(observed) or {"gae": {
        "passed": False, "status": "missing", "message": ""}}, cli.OBSERVER)
    assert len(ran) == 2 and ran[0] == ran[1]  # both ran exactly the same cells
    assert ran[0][:-1] == ["def gae(): pass"]  # the skipped cell dropped
    assert ran[0][-1] == protocol.grading_cell("def gae(): pass\nslow()", cli.OBSERVER)
    assert "observe_source" in ran[0][-1] and "judge" not in ran[0][-1]  # the kernel only observes
    child = json.loads((tmp_path / "child.json").read_text())["observed"]
    assert child == seen[0] == {"exercises": {"gae": {"missing": True}}} and report.results["gae"]["status"] == "missing"


def test_the_grading_cell_names_only_what_its_caller_hands_it():
    """The protocol (floor: grading) names no module above it: the observer is an argument."""
    text = Path(protocol.__file__).read_text()
    assert "course_utils." not in text.replace("course_utils.grading", "").replace(":mod:`course_utils", "") \
        .replace(":func:`course_utils", ""), "protocol.py names a course module outside grading"
    assert protocol.grading_cell("x = 1", "some.module:observe").startswith(
        "import json as _json\nfrom some.module import observe as _observe\n")
    with pytest.raises(ValueError):
        protocol.grading_cell("x = 1", "os; import shutil:rmtree")


def test_protocol_constants_are_defined_once():
    root = Path(protocol.__file__).resolve().parents[1]
    holders = [p for p in root.rglob("*.py") if '"@@COURSE_RESULTS@@"' in p.read_text()]
    assert holders == [Path(protocol.__file__).resolve()]


def test_gradebook_row_and_feedback_names():
    row = Row("Smith, Jr./00_setup", results={"a": "passed", "b": "failed"})
    assert row.csv_row(["a", "b"])["total"] == "1" and row.csv_row(["a", "b"])["max"] == "2"
    assert safe_name("Smith, Jr./00_setup") == "Smith, Jr.__00_setup"
    assert "/" not in safe_name("../../etc/passwd") and safe_name("...") == "submission"


def test_grade_submissions_contains_hostile_notebooks_and_resumes(tmp_path):
    subs, precious = tmp_path / "submissions", tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("do not delete")
    server, received = _listener()
    sandboxed = sandbox.sandbox_mode()[0] == "bwrap"
    _submissions(subs, precious, server.getsockname()[1], sandboxed)
    before = _digest(subs)
    out = tmp_path / "grades" / "gradebook.csv"
    out.parent.mkdir()
    cmd = [sys.executable, "-m", "course_utils", "grade-submissions", str(subs), "--out", str(out),
           "--workers", "2", "--timeout-cell", "15", "--timeout-total", "150", "--memory-mb", "3072"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")

    # 1) Start, let two rows land, then Ctrl+C.
    # SIGINT restored to its default in the child: a shell without job control starts background jobs with
    # SIGINT ignored, and Python then installs no KeyboardInterrupt handler (so Ctrl+C would not reach it)
    first = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 240
    while time.time() < deadline and first.poll() is None:
        if out.exists() and len(out.read_text().strip().splitlines()) >= 3:  # header + 2 rows
            break
        time.sleep(0.5)
    assert first.poll() is None, "the run finished before it could be interrupted:\n" + first.communicate()[0]
    first.send_signal(signal.SIGINT)
    log1 = first.communicate(timeout=60)[0]
    assert first.returncode == 130, log1
    assert "Run the same command again" in log1
    done_first = set(_rows(out))
    assert len(done_first) >= 2

    # 2) Resume: the rows already there are skipped, the rest are graded.
    second = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    log2 = second.stdout + second.stderr
    assert second.returncode == 0, log2
    assert re.search(rf"Resuming: {len(done_first)} of 11 submissions", log2), log2
    lines = out.read_text().splitlines()
    rows = _rows(out)
    assert len(lines) == 1 + 11 and len(rows) == 11, out.read_text()  # each submission exactly once

    # The CSV is properly quoted: "Smith, Jr." stays in one cell.
    assert any(line.startswith('"Smith, Jr./00_setup",') for line in lines)
    smith = rows["Smith, Jr./00_setup"]
    assert (smith["undiscounted_return"], smith["run_episode"], smith["total"]) == ("not_implemented", "not_implemented", "0")

    assert (rows["alice/00_setup"]["total"], rows["alice/00_setup"]["status"]) == ("2", "graded")
    # The assignment sets the denominator: a deleted exercise is missing, not forgotten.
    shrinker = rows["shrinker/00_setup"]
    assert (shrinker["total"], shrinker["max"], shrinker["run_episode"]) == ("1", "2", "missing"), shrinker
    assert all(r["max"] == "2" for r in rows.values() if r["status"] == "graded"), rows
    # Code that calls the answer key is flagged for the instructor (and never silently credited).
    assert "FLAG" in rows["copier/00_setup"]["detail"] and "registry(" in rows["copier/00_setup"]["detail"]
    if sandboxed:  # the answer key is not readable inside bubblewrap: calling it fails
        assert (rows["copier/00_setup"]["undiscounted_return"], rows["copier/00_setup"]["total"]) == ("failed", "0")
    assert "FLAG" not in rows["alice/00_setup"]["detail"]
    bob = rows["bob/00_setup"]
    assert (bob["undiscounted_return"], bob["run_episode"], bob["total"]) == ("failed", "passed", "1")
    # An endless loop is interrupted after the per-cell limit; the functions are still graded.
    assert rows["looper/00_setup"]["total"] == "2" and "KeyboardInterrupt" in rows["looper/00_setup"]["detail"]
    assert rows["hog/00_setup"]["total"] == "2" and "MemoryError" in rows["hog/00_setup"]["detail"]
    exiter = rows["exiter/00_setup"]
    assert exiter["status"] == "kernel_died" and exiter["run_episode"] == "not_run", exiter
    assert rows["broken"]["status"] == "malformed" and "not a readable notebook" in rows["broken"]["detail"]
    for r in rows.values():
        assert float(r["runtime_s"]) > 0

    # Submissions never modified; with the sandbox, the precious folder outside scratch survives.
    assert _digest(subs) == before
    # With the sandbox (own pid namespace), no process the notebooks spawned outlives grading.
    leftovers = subprocess.run(["pgrep", "-f", f"sleep {SLEEP_MARK}"], capture_output=True, text=True)
    if sandboxed:
        assert leftovers.stdout.strip() == "", leftovers.stdout
        assert (precious / "keep.txt").read_text() == "do not delete"
        assert rows["deleter/00_setup"]["total"] == "2", rows["deleter/00_setup"]
        assert re.search(r"(FileNotFoundError|PermissionError|OSError|Read-only)", rows["deleter/00_setup"]["detail"])
        assert received == [], "a sandboxed notebook reached the host's network"
        assert "WARNING" not in log2
        assert rows["spawner/00_setup"]["total"] == "2"
    else:  # resource limits only: the learner's code runs with the grader's rights, as the warning says
        assert "WARNING" in log2 and "NOT isolated" in log2
        assert not precious.exists()
        subprocess.run(["pkill", "-f", f"sleep {SLEEP_MARK}"])  # escaped the process group: tidy up
    server.close()

    # Chart and per-student feedback with the learner's messages.
    chart = out.with_name("gradebook_pass_rates.png")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    feedback = (out.with_name("gradebook_feedback") / "bob__00_setup.md").read_text()
    assert "FAILED undiscounted_return" in feedback and "PASSED run_episode" in feedback
    assert (out.with_name("gradebook_feedback") / "Smith, Jr.__00_setup.md").exists()


@pytest.mark.skipif(shutil.which("npm") is None and not os.environ.get("COURSE_SLIDES_CACHE"),
                    reason="npm is needed once to fetch reveal.js for the offline slides")
def test_slides_export_is_offline(tmp_path):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    shutil.copy(ROOT / "notebooks" / "00_setup.ipynb", lessons)  # its animation links a CDN stylesheet
    out = tmp_path / "slides"
    proc = subprocess.run([sys.executable, "-m", "course_utils", "slides", "--lessons", str(lessons),
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = (out / "00_setup.slides.html").read_text()
    assert 'class="reveal"' in html
    tags = re.findall(r"<(?:script|link)\b[^>]*>", html)
    assert tags and not [t for t in tags if re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", t)]
    for ref in re.findall(r"(?:src|href)=\"(_static/[^\"]+)\"", html) + re.findall(r"'(_static/[^']+\.js)'", html):
        assert (out / ref).is_file(), ref
    assert (out / "_static/reveal.js/dist/reveal.js").is_file()
    assert (out / "_static/mathjax/es5/tex-svg-full.js").is_file()


def test_environment_files_list_jupyterlab_rise():
    text = (ROOT / "environment.yml").read_text() + (ROOT / "pyproject.toml").read_text()
    assert text.count("jupyterlab-rise") == 2
    assert (ROOT / "postBuild").read_text().count("pip install --no-deps -e .") == 1


def test_sealed_answer_key_raises_and_its_tables_are_empty():
    """Inside the sandbox an answer is a function that raises, and a table of the key (written.WRITTEN,
    which a workbook's progress() cell reads) is empty: the cell runs, and shows nothing of the key."""
    from course_utils.classroom import sealed_answers

    with pytest.raises(RuntimeError, match="answer key"):
        sealed_answers.gae([1.0], [0.0], [0], 0.0, 0.99, 0.95)
    assert sealed_answers.WRITTEN == {} and list(sealed_answers.WRITTEN.items()) == []
    with pytest.raises(AttributeError):
        sealed_answers.__wrapped__
