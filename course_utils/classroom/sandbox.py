"""Run one submitted workbook in a locked-down process and observe its exercise functions (not judge them).

The batch grader (:mod:`course_utils.classroom.batch`) calls :func:`run_sandboxed` once per
submission. The submission is copied into a fresh scratch folder and executed there by
``python course_utils/classroom/sandbox.py NOTEBOOK RESULT_JSON CELL_TIMEOUT`` (the *child*),
which runs it top to bottom in a new kernel with nbclient and calls every exercise function it
defines on the cases of the checks the learner saw, by the protocol of :mod:`course_utils.grading.protocol`
(the one ``check NOTEBOOK`` uses).

Layers of containment, outermost first:

* **bubblewrap** (``bwrap``) when it works: the whole file system read-only except the scratch
  folder, a private ``/tmp``, no network (``--unshare-net``), its own PID namespace (every
  process the notebook spawns dies with it), ``--die-with-parent``;
* a pids cgroup per worker slot, where the cgroup file system is writable (as root), bounds
  the number of processes and threads (a fork bomb);
* when run as root and the interpreter is readable by others, the child runs as an
  unprivileged user id of its own (one per worker slot): ``RLIMIT_NPROC`` applies and file
  permissions protect what bwrap could not (in the fallback);
* resource limits (``setrlimit``): address space (``RLIMIT_AS``, memory), CPU seconds,
  size of files written; a new session so the whole group can be killed;
* nbclient's per-cell timeout (the kernel is interrupted and the next cell runs) and a
  wall-clock limit on the whole child (killed with its process group).

Inside bwrap the answer key is not readable: ``course_utils/answers`` is replaced, module by
module, by :mod:`course_utils.classroom.sealed_answers` (every answer raises), and the solved
workbooks, the tests, the git history and ``build/`` are hidden. The kernel only *observes*
(:func:`course_utils.kernel_observer.observe_source`): it calls the learner's functions on the cases and
sends back plain data; the batch grader judges that data in its own process, which never runs
learner code. Patching the grader inside the kernel can therefore change only the learner's own
outputs. Without a usable bwrap only the resource limits remain (and the answer key is readable):
:func:`sandbox_mode` says so and the batch grader prints a warning.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Optional

from course_utils.grading import protocol  # torch-free: the package imports lazily

# what the grading cell runs in the sandboxed kernel: the kernel's side of grading (a name, not an
# import: the sandbox's parent and child start without torch)
OBSERVER = "course_utils.kernel_observer:observe_source"

UID_BASE = 61000  # as root, worker slot k runs as uid/gid UID_BASE + k
CHECKOUT = Path(__file__).resolve().parents[2]  # the course checkout this module belongs to
MAX_RESULT_BYTES = 64 * 1024 * 1024  # a larger result file is not read (the row says: crashed)


@dataclass(frozen=True)
class Limits:
    """What one submission may use. ``cpu_s`` defaults to the total time limit."""

    cell_timeout_s: int = 60
    total_timeout_s: int = 600
    memory_mb: int = 4096
    cpu_s: Optional[int] = None
    max_processes: int = 512  # threads count too (torch, zmq); enforced when run as root
    max_file_mb: int = 512


@dataclass
class ChildOutcome:
    """What came back from one sandboxed run: the child's JSON, or why there is none."""

    data: Optional[dict[str, Any]]
    returncode: Optional[int]
    timed_out: bool
    stderr_tail: str
    runtime_s: float


@lru_cache(maxsize=None)
def sandbox_mode() -> tuple[str, str]:
    """``("bwrap", "")`` when bubblewrap works here, else ``("rlimits", why not)``."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "rlimits", "bubblewrap (bwrap) is not installed (Debian: apt-get install bubblewrap)"
    probe = [bwrap, *_bwrap_args(Path("/tmp")), "true"]
    try:
        proc = subprocess.run(probe, capture_output=True, text=True, timeout=30,
                              preexec_fn=_drop_privileges_fn(0) if can_drop_privileges() else None)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "rlimits", f"bwrap could not start ({exc})"
    if proc.returncode != 0:
        return "rlimits", f"bwrap is installed but unusable here: {proc.stderr.strip()[:300]}"
    return "bwrap", ""


def _needed_under_private_dirs() -> list[str]:
    """Read-only paths the child needs that the private /tmp and /dev/shm would hide: the
    interpreter's environment and the course checkout itself (a clone under /tmp, as in CI)."""
    needed = {sys.prefix, sys.base_prefix, str(Path(sys.executable).resolve().parent),
              str(CHECKOUT)}
    return sorted(p for p in needed if p.startswith(("/tmp/", "/dev/shm/")) and Path(p).exists())


# What would reveal answers, hidden (an empty read-only folder) inside the sandbox: the solved
# workbooks, the tests (correct alternatives), the git history, built sites. The answer key
# itself is replaced module by module by sealed_answers.py.
HIDDEN = ("solutions", "tests", ".git", "build")
ANSWERS = CHECKOUT / "course_utils" / "answers"
SEALED = Path(__file__).resolve().with_name("sealed_answers.py")


def _masks() -> list[str]:
    """bwrap arguments that hide the answer key and the solutions of this checkout."""
    args: list[str] = []
    for name in HIDDEN:
        if (CHECKOUT / name).is_dir():
            args += ["--tmpfs", str(CHECKOUT / name), "--remount-ro", str(CHECKOUT / name)]
    if ANSWERS.is_dir():
        args += ["--tmpfs", str(ANSWERS)]
        for module in sorted({"__init__", *(p.stem for p in ANSWERS.glob("*.py"))}):
            args += ["--ro-bind", str(SEALED), str(ANSWERS / f"{module}.py")]
        args += ["--remount-ro", str(ANSWERS)]
    return args


def _bwrap_args(scratch: Path) -> list[str]:
    args = ["--unshare-all", "--die-with-parent", "--new-session",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--tmpfs", "/dev/shm"]
    for path in _needed_under_private_dirs():
        args += ["--ro-bind", path, path]
    return args + _masks() + ["--bind", str(scratch), str(scratch), "--chdir", str(scratch)]


def _drop_privileges_fn(slot: int) -> Callable[[], None]:
    def drop() -> None:
        uid = UID_BASE + slot
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    return drop


@lru_cache(maxsize=None)
def can_drop_privileges() -> bool:
    """As root: can an unprivileged user id run this Python and import the course? (Not when
    the interpreter lives in a private home such as /root, mode 0700.)"""
    if os.geteuid() != 0:
        return False
    try:
        proc = subprocess.run([sys.executable, "-c", "import course_utils.grading.protocol"], cwd="/",
                              preexec_fn=_drop_privileges_fn(0), capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def _pids_cgroup(slot: int) -> Optional[Path]:
    """A pids cgroup for this worker slot when the cgroup file system lets us make one (v1 or v2)."""
    for base in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
        if (base / "pids.max").exists() or (base / "cgroup.procs").exists() and base.name == "pids" \
                or (base / "cgroup.controllers").exists() and "pids" in (base / "cgroup.controllers").read_text():
            group = base / f"course-grade-{slot}"
            try:
                group.mkdir(exist_ok=True)
                if (group / "pids.max").exists():
                    return group
            except OSError:
                continue
    return None


def _limits_fn(limits: Limits, slot: int, drop: bool, cgroup: Optional[Path]) -> Callable[[], None]:
    """Runs in the forked child before exec: new session, limits, then a new user id."""
    def apply() -> None:
        os.setsid()
        if cgroup is not None:  # bounds the number of processes and threads (a fork bomb)
            try:
                (cgroup / "pids.max").write_text(str(limits.max_processes))
                (cgroup / "cgroup.procs").write_text(str(os.getpid()))
            except OSError:
                pass
        mem = limits.memory_mb * 1024 * 1024
        cpu = limits.cpu_s or limits.total_timeout_s
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        fsize = limits.max_file_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if drop:
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))
            _drop_privileges_fn(slot)()
    return apply


def _child_env(scratch: Path) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHASHSEED")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(HOME=str(scratch), TMPDIR=str(scratch / "tmp"), MPLBACKEND="Agg", MPLCONFIGDIR=str(scratch / "mpl"),
               JUPYTER_RUNTIME_DIR=str(scratch / "runtime"), JUPYTER_DATA_DIR=str(scratch / "jupyter"),
               IPYTHONDIR=str(scratch / "ipython"), COURSE_PROGRESS_FILE=str(scratch / "progress.json"),
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    return env


def run_sandboxed(notebook: Path, scratch: Path, limits: Limits, slot: int = 0,
                  on_start: Callable[[subprocess.Popen], None] = lambda p: None) -> ChildOutcome:
    """Grade ``notebook`` (already copied into ``scratch``) in a sandboxed child process."""
    for sub in ("tmp", "mpl", "runtime", "jupyter", "ipython"):
        (scratch / sub).mkdir(exist_ok=True)
    result = scratch / "result.json"
    drop = can_drop_privileges()
    if drop:
        for path in [scratch, *scratch.rglob("*")]:
            os.chown(path, UID_BASE + slot, UID_BASE + slot)
    cmd = [sys.executable, str(Path(__file__).resolve()), str(notebook), str(result), str(limits.cell_timeout_s)]
    mode, _ = sandbox_mode()
    if mode == "bwrap":
        cmd = [shutil.which("bwrap") or "bwrap", *_bwrap_args(scratch), *cmd]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=scratch, env=_child_env(scratch), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=open(scratch / "stderr.txt", "wb"),
                            preexec_fn=_limits_fn(limits, slot, drop, _pids_cgroup(slot)))
    on_start(proc)
    timed_out = False
    try:
        proc.wait(timeout=limits.total_timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        kill_group(proc, slot if drop else None)
    runtime = time.monotonic() - start
    data = None
    try:
        if result.stat().st_size <= MAX_RESULT_BYTES:
            data = json.loads(result.read_text())
    except (OSError, ValueError):
        pass
    try:
        tail = (scratch / "stderr.txt").read_text(errors="replace")[-2000:]
    except OSError:
        tail = ""
    return ChildOutcome(data, proc.returncode, timed_out, tail, runtime)


def kill_group(proc: subprocess.Popen, slot: Optional[int] = None) -> None:
    """Kill the child's whole process group and reap it.

    With a slot (we run as root and the child had its own user id), also kill every process
    of that user id, so that a process which left the group with ``setsid`` dies too.
    """
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if slot is not None:
        subprocess.run([sys.executable, "-c", "import os, signal; os.kill(-1, signal.SIGKILL)"],
                       preexec_fn=_drop_privileges_fn(slot), capture_output=True, timeout=30)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


# --------------------------------------------------------------------------------------------
# The child: runs inside the sandbox.

def _first_error(nb: Any) -> str:
    for index, cell in enumerate(nb.cells, start=1):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return f"cell {index}: {out.get('ename', 'Error')}: {str(out.get('evalue', ''))[:200]}"
    return ""


def child_main(notebook: Path, result_path: Path, cell_timeout: int) -> int:
    """Execute one workbook and observe its exercise functions; write ``{"observed", "error",
    "cell_error", "kind"}`` as JSON (``observed``: what the grading cell printed, unjudged)."""
    import nbformat

    out: dict[str, Any] = {"observed": {}, "error": "", "cell_error": "", "kind": ""}
    try:
        nb = nbformat.read(str(notebook), as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # noqa: BLE001  (anything unreadable is reported, never raised)
        out.update(kind="malformed", error=f"not a readable notebook ({type(exc).__name__}: {str(exc)[:300]})")
        result_path.write_text(json.dumps(out))
        return 0
    protocol.prepare(nb, OBSERVER)
    # interrupt_on_timeout: a cell that loops is interrupted and the next cells still run, so the
    # functions defined elsewhere in the notebook are still graded.
    out["kind"], out["error"] = protocol.execute(nb, notebook.parent, cell_timeout, interrupt_on_timeout=True)
    out["cell_error"] = _first_error(nb)
    out["observed"] = protocol.read_results(nb) or {}
    if not out["observed"] and not out["error"]:
        out.update(kind="no_results", error="the grading cell produced no results")
    result_path.write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(child_main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])))
