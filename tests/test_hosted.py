"""Hosted kernels (Colab, Kaggle): every notebook's first code cell installs the course when the
kernel lacks it, without touching the kernel's torch, and is silent where the course is installed.

The slow test builds what a hosted kernel is, a fresh virtual environment holding only torch and
ipykernel (torch==2.13.0, the CPU wheel), and runs chapter 01's solved workbook, then its learner
workbook, top to bottom in it, the course coming from a locally built wheel
(``COURSE_INSTALL_SOURCE``) in place of the repository URL. The environment with torch and
ipykernel is built once and cached in ``~/.cache/course-utils/bare-kernel/`` (about 90 s the first
time); each run adds a fresh, empty environment on top of it, the way a hosted kernel's own
packages sit below what a notebook installs.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import nbformat
import pytest

from course_utils import hosted
from course_utils.release import release_notebook
from tests.conftest import ROOT

BLOCK = hosted.current_block(ROOT)
PUBLISHED = hosted.current_block(ROOT, repository="https://github.com/me/policy-optimisation")
NOTEBOOKS = [p for folder in ("notebooks", "solutions", "exercises") for p in sorted((ROOT / folder).glob("*.ipynb"))]
TORCH = "torch==2.13.0"  # the CPU wheel on local disk; an unpinned torch would pull a CUDA build
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "course-utils" / "bare-kernel"


def _first_code_source(nb) -> str:
    return next(c for c in nb.cells if c.cell_type == "code").source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_notebook_starts_with_the_current_block(path):
    assert hosted.has_block(path, BLOCK), (
        f"{path.relative_to(ROOT)}: run `python -m course_utils hosted --stamp {path.relative_to(ROOT)}`"
        + (" (then `python -m course_utils release`)" if path.parent.name != "notebooks" else ""))


def test_the_block_installs_every_dependency_but_torch_and_the_course_without_its_dependencies():
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    kept = [d.replace(" ", "") for d in deps if hosted._name(d) not in hosted.KERNEL_PROVIDES]
    assert hosted.dependencies(ROOT) == kept and "torch" not in " ".join(kept)
    assert "gymnasium[classic-control]==1.4.0" in kept
    assert ('os.environ.get("COURSE_INSTALL_SOURCE", "git+https://github.com/me/policy-optimisation.git@v'
            in PUBLISHED and '"--no-deps"' in PUBLISHED)
    for text in (BLOCK, PUBLISHED):
        assert text.splitlines()[-1] == hosted.END and len(text.splitlines()) <= 10  # short: learners read it


def test_with_no_repository_set_the_block_names_none():
    """docs/site.toml as shipped names no repository: the block points at no placeholder, and
    installs only from COURSE_INSTALL_SOURCE."""
    assert hosted.default_source(ROOT) == "" and "git+" not in BLOCK and "OWNER" not in BLOCK
    assert f'os.environ["{hosted.SOURCE_VARIABLE}"]' in BLOCK and '"--no-deps"' in BLOCK
    for placeholder in ("", "https://github.com/OWNER/REPO"):
        assert hosted.default_source(ROOT, repository=placeholder) == ""


def _run_block(monkeypatch, course_missing: bool, text: str = BLOCK) -> list[list[str]]:
    """Execute the block ``text`` here, with pip replaced by a recorder; returns the commands it ran."""
    import importlib.util
    import subprocess as real_subprocess

    calls: list[list[str]] = []
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if (name == "course_utils" and course_missing) else real_find_spec(name, *a))
    monkeypatch.setattr(real_subprocess, "run", lambda cmd, **kw: calls.append(list(cmd)))
    exec(compile(text, "<hosted block>", "exec"), {})
    return calls


@pytest.mark.parametrize("text", [BLOCK, PUBLISHED], ids=["no repository", "published"])
def test_the_block_is_silent_and_instant_where_the_course_is_installed(monkeypatch, capsys, text):
    monkeypatch.setenv(hosted.SOURCE_VARIABLE, "/wheels/course_utils-0.1.0-py3-none-any.whl")
    start = time.perf_counter()
    assert _run_block(monkeypatch, course_missing=False, text=text) == []
    assert time.perf_counter() - start < 0.5
    assert capsys.readouterr().out == ""


def test_in_a_bare_kernel_the_block_installs_the_dependencies_then_the_course_from_the_override(monkeypatch, capsys):
    monkeypatch.setenv(hosted.SOURCE_VARIABLE, "/wheels/course_utils-0.1.0-py3-none-any.whl")
    deps_call, course_call = _run_block(monkeypatch, course_missing=True)
    assert deps_call[:5] == [sys.executable, "-m", "pip", "install", "-q"]
    assert deps_call[5:] == hosted.dependencies(ROOT)
    assert course_call[5:] == ["--no-deps", "/wheels/course_utils-0.1.0-py3-none-any.whl"]
    assert not any(arg.startswith("torch") for call in (deps_call, course_call) for arg in call[5:])
    assert "Installing the course" in capsys.readouterr().out
    monkeypatch.delenv(hosted.SOURCE_VARIABLE)
    _, course_call = _run_block(monkeypatch, course_missing=True, text=PUBLISHED)
    assert course_call[-1] == "git+https://github.com/me/policy-optimisation.git@v0.1.0"
    capsys.readouterr()  # what that install said
    # no repository set, no override: nothing is installed and nothing is said (the next import tells)
    assert _run_block(monkeypatch, course_missing=True) == [] and capsys.readouterr().out == ""


def test_stamping_changes_only_the_first_code_cell_and_is_idempotent(tmp_path):
    original = ROOT / "solutions" / "01_log_derivative_trick.ipynb"
    nb = nbformat.read(str(original), as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    first.source = hosted._without_block(first.source)  # as before the first stamp
    copy = tmp_path / original.name
    nbformat.write(nb, str(copy))
    assert hosted.stamp(copy, BLOCK) and not hosted.stamp(copy, BLOCK)
    stamped = json.loads(copy.read_text())
    before = json.loads(original.read_text())
    assert stamped == before  # outputs, execution counts, ids and metadata untouched
    # an older block (another repository and ref) is replaced, not stacked
    assert hosted.stamp(copy, hosted.current_block(ROOT, ref="v9.9.9", repository="https://github.com/me/x"))
    assert hosted.stamp(copy, BLOCK) and json.loads(copy.read_text()) == before


def test_release_keeps_the_block():
    solved = json.loads((ROOT / "solutions" / "01_log_derivative_trick.ipynb").read_text())
    learner = release_notebook(solved, "01_log_derivative_trick.ipynb")
    first = next(c for c in learner["cells"] if c["cell_type"] == "code")
    assert "".join(first["source"]).startswith(BLOCK + "\n")


# ----------------------------------------------------------------------------- a bare kernel

def _run(cmd: list, **kw) -> str:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _site_packages(venv: Path) -> Path:
    return venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def _torch_and_ipykernel() -> Path:
    """A cached environment with only torch (the CPU wheel) and ipykernel; returns its site-packages."""
    base = CACHE / f"py{sys.version_info.major}.{sys.version_info.minor}-{TORCH.replace('==', '')}"
    if not (base / "complete").exists():
        building = CACHE / f"building-{os.getpid()}"
        shutil.rmtree(building, ignore_errors=True)
        _run([sys.executable, "-m", "venv", building])
        _run([building / "bin" / "python", "-m", "pip", "install", "-q", TORCH, "ipykernel"], timeout=900)
        (building / "complete").touch()
        shutil.rmtree(base, ignore_errors=True)
        building.rename(base)
    return _site_packages(base)


def _wheel(tmp_path: Path) -> Path:
    """The course package as a wheel, built from this checkout (no network: no build isolation)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "course_utils", src / "course_utils", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist", src])
    return next((tmp_path / "dist").glob("course_utils-*.whl"))


def _execute(path: Path, work: Path) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="bare-hosted", allow_errors=False,
                   resources={"metadata": {"path": str(work)}}).execute()
    return nb


def _text(cell) -> str:
    return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.outputs)


@pytest.mark.system
def test_workbook_01_runs_in_a_bare_kernel_that_installs_the_course(tmp_path, monkeypatch):
    started = time.perf_counter()
    base = _torch_and_ipykernel()
    kernel = tmp_path / "kernel"  # a fresh environment; torch and ipykernel lie below it, as in Colab
    _run([sys.executable, "-m", "venv", "--without-pip", kernel])
    _site_packages(kernel).joinpath("hosted_kernel_packages.pth").write_text(f"{base}\n")
    python = kernel / "bin" / "python"
    probe = ("import importlib.util, json, torch; print(json.dumps([torch.__version__, torch.__file__, "
             "importlib.util.find_spec('course_utils') is not None]))")
    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MPLBACKEND")}
    torch_before = json.loads(_run([python, "-c", probe], cwd=tmp_path, env=clean_env))
    assert torch_before[0].startswith("2.13.0") and torch_before[2] is False, "the kernel must start without the course"
    wheel = _wheel(tmp_path)
    spec = tmp_path / "jupyter" / "kernels" / "bare-hosted"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": [str(python), "-m", "ipykernel_launcher", "-f",
                                                           "{connection_file}"],
                                                  "display_name": "bare hosted kernel", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv(hosted.SOURCE_VARIABLE, str(wheel))
    monkeypatch.setenv("COURSE_STRICT", "1")  # a failing check() in the solved workbook raises
    for name in ("PYTHONPATH", "MPLBACKEND"):
        monkeypatch.delenv(name, raising=False)
    work = tmp_path / "work"  # the kernel's folder holds no course_utils to import by accident
    work.mkdir()
    ready = time.perf_counter()

    solved = _execute(ROOT / "solutions" / "01_log_derivative_trick.ipynb", work)
    first = next(c for c in solved.cells if c.cell_type == "code")
    assert "Installing the course into this kernel" in _text(first)
    checks = [c for c in solved.cells if c.cell_type == "code" and c.source.strip().startswith("check(")]
    assert checks and all(_text(c).startswith("PASSED") for c in checks), [_text(c)[:80] for c in checks]
    installed = time.perf_counter()

    torch_after = json.loads(_run([python, "-c", probe], cwd=tmp_path, env=clean_env))
    assert torch_after[:2] == torch_before[:2], "the kernel's torch changed"
    assert torch_after[2] is True
    assert not list(_site_packages(kernel).glob("torch*")), "pip installed a second torch"
    assert (_site_packages(kernel) / "course_utils").is_dir()

    # the learner's workbook, in the same kernel environment: the block is now silent
    monkeypatch.delenv("COURSE_STRICT")  # its checks report "not implemented" instead of raising
    learner = _execute(ROOT / "exercises" / "01_log_derivative_trick.ipynb", work)
    first = next(c for c in learner.cells if c.cell_type == "code")
    assert first.outputs == []
    checks = [c for c in learner.cells if c.cell_type == "code" and c.source.strip().startswith("check(")]
    verdicts = [_text(c).split(" ", 3)[:3] for c in checks]  # e.g. NOT IMPLEMENTED YET; FAILED (a debug exercise)
    assert verdicts and all(v[:3] == ["NOT", "IMPLEMENTED", "YET"] or v[0] == "FAILED" for v in verdicts), verdicts
    assert sum(v[0] == "NOT" for v in verdicts) >= 3
    print(f"\nbare kernel: set-up {ready - started:.0f} s, solved workbook with the install "
          f"{installed - ready:.0f} s, learner workbook {time.perf_counter() - installed:.0f} s")
