"""Running learner code safely inside a live notebook kernel.

* **Time limit.** ``signal.setitimer(ITIMER_REAL)`` plus a SIGALRM handler interrupts a
  pure-Python endless loop at the deadline. It only works on the main thread of a POSIX
  process (where ipykernel runs cells); on Windows or from another thread the call runs without
  a limit and the feedback says so (the learner can still press *Interrupt*). A long call inside
  C code (one huge tensor operation) is interrupted only when it returns to Python.
* **Output.** ``sys.stdout``/``sys.stderr`` are redirected into a capped buffer, so a function
  that prints megabytes cannot flood the notebook; the feedback shows the beginning.
* **Exceptions** are caught and turned into a short traceback that shows the learner's frames,
  not the grader's.
"""
from __future__ import annotations

import contextlib
import io
import re
import signal
import threading
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Optional

OUTPUT_CAP = 2_000  # characters of printed output kept for the feedback


class GradingTimeout(BaseException):
    """Raised inside learner code at the deadline (a BaseException, so `except Exception` in
    the learner's code cannot swallow it)."""


class _CappedWriter(io.TextIOBase):
    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.parts: list[str] = []
        self.kept = 0
        self.total = 0

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        s = str(s)
        self.total += len(s)
        if self.kept < self.cap:
            piece = s[: self.cap - self.kept]
            self.parts.append(piece)
            self.kept += len(piece)
        return len(s)

    def text(self) -> str:
        return "".join(self.parts)


@dataclass
class Outcome:
    """What happened when the learner's function was called once."""

    value: Any = None
    kind: str = "ok"  # ok | exception | not_implemented | timeout
    error: str = ""  # trimmed traceback or reason
    printed: str = ""  # the first OUTPUT_CAP characters printed
    printed_chars: int = 0
    timeout_enforced: bool = True


def timeouts_available() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def deadline(seconds: float):
    if not timeouts_available() or seconds <= 0:
        yield False
        return

    def _on_alarm(signum, frame):  # noqa: ARG001
        raise GradingTimeout()

    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_GRADER_DIR = re.compile(r"[\\/]course_utils[\\/]grading[\\/]")
_CELL_FILE = re.compile(r"(ipykernel_\d+[\\/]\d+\.py|<ipython-input-[^>]*>)")


def trimmed_traceback(exc: BaseException, max_frames: int = 5) -> str:
    """The learner-facing part of a traceback: grader frames removed, cell files named plainly."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _GRADER_DIR.search(f.filename)]
    lines = []
    if len(frames) > max_frames:
        lines.append(f"  ... ({len(frames) - max_frames} earlier frames hidden)")
        frames = frames[-max_frames:]
    for f in frames:
        where = "your notebook cell" if _CELL_FILE.search(f.filename) else f.filename.rsplit("site-packages/", 1)[-1]
        lines.append(f"  {where}, line {f.lineno}, in {f.name}")
        if f.line:
            lines.append(f"    {f.line.strip()}")
    message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    if len(message) > 600:
        message = message[:600] + " ..."
    lines.append(message)
    return "\n".join(lines)


def call_guarded(fn: Callable[..., Any], kwargs: dict[str, Any], timeout_s: float) -> Outcome:
    """Call ``fn(*kwargs.values())`` (positionally, so the learner may name parameters freely)
    with a deadline, captured output and caught exceptions."""
    out = _CappedWriter(OUTPUT_CAP)
    outcome = Outcome()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), deadline(timeout_s) as enforced:
            outcome.timeout_enforced = enforced
            outcome.value = fn(*kwargs.values())
    except GradingTimeout:
        outcome.kind = "timeout"
        outcome.error = f"stopped after {timeout_s:g} s"
    except NotImplementedError as exc:
        outcome.kind = "not_implemented"
        outcome.error = trimmed_traceback(exc)
    except RecursionError as exc:
        outcome.kind = "exception"
        outcome.error = trimmed_traceback(exc, max_frames=3)
    except Exception as exc:  # noqa: BLE001  (learner code may raise anything)
        outcome.kind = "exception"
        outcome.error = trimmed_traceback(exc)
    except SystemExit as exc:
        outcome.kind = "exception"
        outcome.error = f"your function called exit()/sys.exit({exc.code!r}); a function should return its result instead"
    outcome.printed = out.text()
    outcome.printed_chars = out.total
    return outcome


def describe_printed(outcome: Outcome) -> Optional[str]:
    """A note about what the function printed, or None if it printed nothing."""
    if not outcome.printed_chars:
        return None
    shown = outcome.printed[:300]
    more = outcome.printed_chars - len(shown)
    tail = f"\n... ({more:,} more characters not shown)" if more > 0 else ""
    return f"Your function printed {outcome.printed_chars:,} characters while being checked:\n{shown}{tail}"


__all__ = ["Outcome", "call_guarded", "describe_printed", "trimmed_traceback", "timeouts_available", "GradingTimeout"]
