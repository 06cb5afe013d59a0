"""How a workbook file is graded: the one protocol of ``check NOTEBOOK`` and of the batch grader.

1. **Skip**: code cells tagged ``skip-when-grading`` (long training demos) are removed.
2. **Observe in the kernel**: one code cell is appended. It runs after the learner's cells, in
   the same kernel, and calls :func:`course_utils.kernel_observer.observe_source` on the notebook's
   globals and code: every exercise function the code defines is called on the cases of the
   checks the learner saw, and what it returned (values, gradients, errors) is recorded as
   plain data. Nothing is compared in the kernel.
3. **Observations come back** as one line printed by that cell: :data:`MARK` followed by JSON,
   read by :func:`read_results`; the caller judges them in its own process
   (:func:`course_utils.notebook_verdicts.judge_observations`: ``{exercise id: {"passed": bool,
   "status": str, "message": str}}``), so code in the kernel cannot change a verdict, only the
   outputs it is judged on.

The notebook runs in a fresh kernel (:func:`execute`); a cell that raises does not stop the
next ones. This module imports neither torch nor the rest of ``course_utils`` (the grading
cell does, inside the kernel), so that the sandbox's parent and child processes start fast.

**Predictions committed with the buttons** live in the saved file, not in its code: the button
writes a small record (:data:`PREDICTION_MIME`, ``{"id", "choice", "committed_at"}``) into the
predict cell's outputs (and into the Output widget's saved state), see :mod:`course_utils.predict`.
Running the notebook again replaces those outputs, so the grader reads them from the file as it
was handed in, before running it (:func:`committed_predictions`), as plain data; the caller
decides what counts (:func:`course_utils.notebook_verdicts.judge_observations`).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Optional

MARK = "@@COURSE_RESULTS@@"
SKIP_TAG = "skip-when-grading"
# The MIME type of a committed prediction's record in a notebook's outputs: {"id", "choice"}, with
# {"committed_at"} under the same key in the output's metadata
PREDICTION_MIME = "application/vnd.course.prediction+json"
# The MIME type of a help record beside a shown hint or answer: {"id", "hint": level} or {"id", "answer": true}
HELP_MIME = "application/vnd.course.help+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024  # a larger file is not searched for commitments

__all__ = ["MARK", "SKIP_TAG", "PREDICTION_MIME", "HELP_MIME", "WIDGET_STATE_MIME", "code_of", "help_used_in", "grading_cell", "prepare", "execute", "read_results",
           "committed_predictions", "committed_predictions_in", "notebook_chapter"]


def code_of(nb: Any) -> str:
    """All the code of a notebook (an ``nbformat`` node), cells joined by newlines."""
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def grading_cell(code: str, observer: str) -> str:
    """The source of the cell that observes, inside the kernel, every exercise ``code`` defines.

    ``observer`` ("package.module:function") is handed in by the caller, which knows the course
    above this module: the function takes the kernel's globals and the notebook's code and returns
    plain JSON data. This module names no module of the course."""
    module, _, function = observer.partition(":")
    if not (re.fullmatch(r"[A-Za-z_][\w.]*", module) and re.fullmatch(r"[A-Za-z_]\w*", function)):
        raise ValueError(f"observer must be 'module:function', got {observer!r}")
    return (f"import json as _json\nfrom {module} import {function} as _observe\n"
            f"print({MARK!r} + _json.dumps(_observe(globals(), {code!r})))")


def prepare(nb: Any, observer: str) -> str:
    """Drop the skipped cells and append the grading cell (:func:`grading_cell`), in place; returns
    the notebook's code."""
    import nbformat

    code = code_of(nb)
    nb.cells = [c for c in nb.cells
                if not (c.cell_type == "code" and SKIP_TAG in c.get("metadata", {}).get("tags", []))]
    nb.cells.append(nbformat.v4.new_code_cell(grading_cell(code, observer)))
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


_ID = re.compile(r"[A-Za-z_]\w{0,99}")


def _records(outputs: Any, where: str) -> list[tuple[str, str, str, str]]:
    """(id, choice, committed_at, where) of each prediction record in a list of nbformat outputs."""
    found = []
    for out in outputs if isinstance(outputs, list) else []:
        data = out.get("data") if isinstance(out, dict) else None
        record = data.get(PREDICTION_MIME) if isinstance(data, dict) else None
        if not isinstance(record, dict):
            continue
        meta = out.get("metadata") if isinstance(out.get("metadata"), dict) else {}
        when = meta.get(PREDICTION_MIME) if isinstance(meta.get(PREDICTION_MIME), dict) else {}
        # when: in the output's metadata (as predict.py writes it), or in the record itself
        p_id, choice, at = record.get("id"), record.get("choice"), when.get("committed_at", record.get("committed_at", ""))
        if isinstance(p_id, str) and _ID.fullmatch(p_id) and isinstance(choice, str) and 0 < len(choice.strip()) <= 8:
            found.append((p_id, choice.strip().lower(), at if isinstance(at, str) else "", where))
    return found


def committed_predictions(nb: Any) -> dict[str, dict[str, str]]:
    """The prediction commitments a saved notebook holds: ``{id: {"choice", "committed_at", "where"}}``.

    Read from the cells' outputs (where the button writes its record, and where ``predict(...)``
    and ``reveal(...)`` show it when a cell runs) and from the saved widget state (the Output
    widget under the buttons, kept when JupyterLab saves widget state). Plain data only, read
    defensively (the file is the learner's): an id must look like an id and a choice be short;
    whether the choice is one of the question's is for the caller to decide. When an id has
    several records the earliest ``committed_at`` wins (the first commitment counts; a record
    without a time comes last).
    """
    found: list[tuple[str, str, str, str]] = []
    cells = nb.get("cells") if isinstance(nb, dict) else None
    for index, cell in enumerate(cells if isinstance(cells, list) else [], start=1):
        if isinstance(cell, dict):
            found += _records(cell.get("outputs"), f"the outputs of cell {index}")
    meta = nb.get("metadata") if isinstance(nb, dict) else None
    widgets = meta.get("widgets") if isinstance(meta, dict) else None
    state = widgets.get(WIDGET_STATE_MIME) if isinstance(widgets, dict) else None
    models = state.get("state") if isinstance(state, dict) else None
    for model in (models.values() if isinstance(models, dict) else []):
        inner = model.get("state") if isinstance(model, dict) else None
        if isinstance(inner, dict):
            found += _records(inner.get("outputs"), "the saved widget state")
    out: dict[str, dict[str, str]] = {}
    for p_id, choice, at, where in found:  # stable: the first of equal times (cells before widget state) stays
        if p_id not in out or (at or "~") < (out[p_id]["committed_at"] or "~"):
            out[p_id] = {"choice": choice, "committed_at": at, "where": where}
    return out


def committed_predictions_in(path: Path) -> dict[str, dict[str, str]]:
    """:func:`committed_predictions` of the notebook file ``path`` (read as JSON, never run);
    empty when it cannot be read."""
    try:
        if Path(path).stat().st_size > MAX_NOTEBOOK_BYTES:
            return {}
        return committed_predictions(json.loads(Path(path).read_text(encoding="utf-8")))
    except Exception:  # noqa: BLE001  (not JSON, nested too deep, unreadable: the run reports the file)
        return {}


def notebook_chapter(nb: Any, path: Optional[Path] = None) -> str:
    """The two-digit chapter a workbook belongs to ("07"), from the workbook it was generated from
    (``metadata.course.generated_from``, which JupyterLab keeps), else from its file name
    (``07_trpo.ipynb``); "" when neither says."""
    meta = nb.get("metadata") if isinstance(nb, dict) else None
    course = meta.get("course") if isinstance(meta, dict) else None
    source = course.get("generated_from") if isinstance(course, dict) else None
    for name in (Path(source).name if isinstance(source, str) else "", Path(path).name if path else ""):
        match = re.match(r"(\d\d)_", name)
        if match:
            return match.group(1)
    return ""


_HELP_CALL = re.compile(r"""\b(hint|solution)\(\s*["']?([A-Za-z_]\w*)["']?\s*(,[^)\n]*)?\)""")


def help_used_in(nb: Any) -> dict[str, str]:
    """The help a notebook shows it used, {exercise id: "2 hints, answer shown"}, read by the grader
    from the file itself, never from what its kernel reports: the hint and answer records saved in
    its outputs (:data:`HELP_MIME`, beside every hint or answer shown, also in the Output widgets'
    saved state), and the ``hint(...)`` and ``solution(..., confirm=True)`` calls its code makes
    (those run again when it is graded). Plain data, read defensively; ids are not checked here."""
    hints: dict[str, int] = {}
    answers: set[str] = set()

    def note(record: Any) -> None:
        if not isinstance(record, dict) or not isinstance(record.get("id"), str) or not _ID.fullmatch(record["id"]):
            return
        level = record.get("hint")
        if isinstance(level, int) and not isinstance(level, bool) and 0 < level < 100:
            hints[record["id"]] = max(hints.get(record["id"], 0), level)
        if record.get("answer") is True:
            answers.add(record["id"])

    def outputs_of(outputs: Any) -> None:
        for out in outputs if isinstance(outputs, list) else []:
            data = out.get("data") if isinstance(out, dict) else None
            if isinstance(data, dict):
                note(data.get(HELP_MIME))

    cells = nb.get("cells") if isinstance(nb, dict) else None
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict):
            continue
        outputs_of(cell.get("outputs"))
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            calls: dict[str, int] = {}
            for kind, item_id, rest in _HELP_CALL.findall(source):
                if kind == "hint":  # each call shows the next hint
                    calls[item_id] = calls.get(item_id, 0) + 1
                elif "confirm=True" in (rest or "").replace(" ", ""):
                    answers.add(item_id)
            for item_id, n in calls.items():
                hints[item_id] = max(hints.get(item_id, 0), n)
    meta = nb.get("metadata") if isinstance(nb, dict) else None
    widgets = meta.get("widgets") if isinstance(meta, dict) else None
    state = widgets.get(WIDGET_STATE_MIME) if isinstance(widgets, dict) else None
    models = state.get("state") if isinstance(state, dict) else None
    for model in models.values() if isinstance(models, dict) else []:
        inner = model.get("state") if isinstance(model, dict) else None
        if isinstance(inner, dict):
            outputs_of(inner.get("outputs"))
    used = {}
    for item_id in sorted(set(hints) | answers):
        parts = [f"{hints[item_id]} hint{'s' if hints[item_id] != 1 else ''}"] if item_id in hints else []
        parts += ["answer shown"] if item_id in answers else []
        used[item_id] = ", ".join(parts)
    return used


def help_used_in_file(path: Path) -> dict[str, str]:
    """:func:`help_used_in` of the notebook file ``path`` (read as JSON, never run); empty when unreadable."""
    try:
        if Path(path).stat().st_size > MAX_NOTEBOOK_BYTES:
            return {}
        return help_used_in(json.loads(Path(path).read_text(encoding="utf-8")))
    except Exception:  # noqa: BLE001
        return {}
