"""How a workbook file is graded: the one protocol of ``check NOTEBOOK`` and of the batch grader.

1. **Skip**: code cells tagged ``skip-when-grading`` (long training demos) are removed.
2. **Observe in the kernel**: one code cell is appended. It runs after the learner's cells, in
   the same kernel, and calls :func:`course_utils.catalogue.observe_source` on the notebook's
   globals and code: every exercise function the code defines is called on the cases of the
   checks the learner saw, and what it returned (values, gradients, errors) is recorded as
   plain data. Nothing is compared in the kernel.
3. **Observations come back** as one line printed by that cell: :data:`MARK` followed by JSON,
   read by :func:`read_results`; the caller judges them in its own process
   (:func:`course_utils.catalogue.judge_observations`: ``{exercise id: {"passed": bool,
   "status": str, "message": str}}``), so code in the kernel cannot change a verdict, only the
   outputs it is judged on.

The notebook runs in a fresh kernel (:func:`execute`); a cell that raises does not stop the
next ones. This module imports neither torch nor the rest of ``course_utils`` (the grading
cell does, inside the kernel), so that the sandbox's parent and child processes start fast.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

MARK = "@@COURSE_RESULTS@@"
SKIP_TAG = "skip-when-grading"

__all__ = ["MARK", "SKIP_TAG", "code_of", "grading_cell", "prepare", "execute", "read_results"]


def code_of(nb: Any) -> str:
    """All the code of a notebook (an ``nbformat`` node), cells joined by newlines."""
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def grading_cell(code: str) -> str:
    """The source of the cell that observes, inside the kernel, every exercise ``code`` defines."""
    return ("import json as _json\nfrom course_utils.catalogue import observe_source as _observe\n"
            f"print({MARK!r} + _json.dumps(_observe(globals(), {code!r})))")


def prepare(nb: Any) -> str:
    """Drop the skipped cells and append the grading cell, in place; returns the notebook's code."""
    import nbformat

    code = code_of(nb)
    nb.cells = [c for c in nb.cells
                if not (c.cell_type == "code" and SKIP_TAG in c.get("metadata", {}).get("tags", []))]
    nb.cells.append(nbformat.v4.new_code_cell(grading_cell(code)))
    return code


def kernel_manager_config() -> Any:
    """The kernel manager's settings: its TCP sockets encrypted (CurveZMQ) wherever that can be had.

    ipykernel 7.4 warns on its stderr, "Kernel is running over TCP without encryption", whenever
    its manager gives it no CurveZMQ keys; every ``course check`` began with that line. Since
    jupyter_client 8.10 the manager provisions keys for a kernel whose kernelspec declares
    ``supported_encryption: curve`` (``transport_encryption = "auto"``), which ipykernel's own
    kernelspec does: the cause goes, nothing is filtered, and whatever else the kernel writes to
    its stderr still shows. With an older jupyter_client, or a pyzmq built without CurveZMQ, the
    settings stay empty and nothing changes (the warning is then true, and stays).
    """
    from traitlets.config import Config

    try:
        import zmq
        from jupyter_client.manager import KernelManager
    except ImportError:
        return Config()
    if "transport_encryption" in KernelManager.class_trait_names() and zmq.has("curve"):
        return Config({"KernelManager": {"transport_encryption": "auto"}})
    return Config()


def execute(nb: Any, workdir: Path, cell_timeout: int, interrupt_on_timeout: bool = False,
            kernel_name: str = "python3") -> tuple[str, str]:
    """Run ``nb`` top to bottom in a new kernel started in ``workdir``; errors in cells are kept.

    Returns ``(kind, error)``: ``("", "")`` when the kernel ran to the end, else
    ``("kernel_died", why)`` or ``("execution_error", why)``. With ``interrupt_on_timeout`` a
    cell that runs too long is interrupted and the next cells still run.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    client = NotebookClient(nb, timeout=cell_timeout, allow_errors=True, interrupt_on_timeout=interrupt_on_timeout,
                            kernel_name=kernel_name, resources={"metadata": {"path": str(workdir)}},
                            config=kernel_manager_config())
    try:
        client.execute()
    except DeadKernelError:
        return "kernel_died", ("the kernel died (the notebook called exit()/os._exit(), "
                               "or was killed for using too much memory or CPU)")
    except Exception as exc:  # noqa: BLE001  (a cell timeout, a kernel that would not start...)
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return "execution_error", f"{type(exc).__name__}: {msg[:300]}"
    return "", ""


def read_results(nb: Any) -> Optional[dict[str, Any]]:
    """What the grading cell printed (observations, still to be judged), or None when it printed none."""
    text = "".join(out.get("text", "") for out in nb.cells[-1].get("outputs", [])
                   if out.get("output_type") == "stream" and out.get("name", "stdout") == "stdout")
    if MARK not in text:
        return None
    return json.loads(text.split(MARK, 1)[1].strip().splitlines()[0])
