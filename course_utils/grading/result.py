"""What grading one function produces, and how it is shown: plain text everywhere, HTML in JupyterLab.

Everything shown is deterministic (no timings, no randomness) so that stored notebook outputs
stay stable, and every learner-provided string is HTML-escaped.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

from course_utils.grading import mathtext

__all__ = ["Result", "compose", "result_html", "hint_html", "missing", "not_run"]


@dataclass(repr=False)
class Result:
    """The outcome of grading one function.

    ``passed`` is what programs read; ``message`` is the plain-text feedback; the other fields
    feed the HTML rendering. ``status`` is one of ``passed``, ``failed``, ``not_implemented``,
    ``unknown_exercise``.
    """

    exercise_id: str
    passed: bool
    status: str
    message: str = ""
    title: str = ""
    headline: str = ""
    case: str = ""
    case_why: str = ""
    inputs: str = ""
    expected: str = ""
    got: str = ""
    diagnosis: str = ""
    mistake: str = ""  # the name of the catalogued mistake the diagnosis comes from (data for class reports)
    details: str = ""
    notes: list[str] = field(default_factory=list)
    cases_run: int = 0
    cases_total: int = 0

    def __str__(self) -> str:
        return self.message

    __repr__ = __str__

    def _repr_html_(self) -> str:  # pragma: no cover - exercised in notebooks
        return result_html(self)


def compose(r: Result) -> Result:
    """Fill ``r.message`` from the structured fields (plain text, deterministic)."""
    lines = []
    if r.status == "passed":
        lines.append(f"PASSED {r.exercise_id}: all {r.cases_total} cases agree with the reference.")
        if r.headline:
            lines.append(r.headline)
    elif r.status == "not_implemented":
        lines.append(f"NOT IMPLEMENTED YET {r.exercise_id}: {r.headline}")
    else:
        lines.append(f"FAILED {r.exercise_id}: {r.headline}")
        if r.case:
            lines.append(f"Failing case ({r.cases_run} of {r.cases_total}): {r.case}"
                         + (f" - {r.case_why}" if r.case_why else ""))
        if r.inputs:
            lines.append(f"Inputs: {r.inputs}")
        if r.expected:
            lines.append(f"Expected: {r.expected}")
        if r.got:
            lines.append(f"Got:      {r.got}")
        if r.diagnosis:
            lines.append(f"Likely cause: {r.diagnosis}")
        if r.details:
            lines.append(r.details)
    lines.extend(f"Note: {n}" for n in r.notes)
    r.message = "\n".join(lines)
    return r


_COLOURS = {
    "passed": ("#e8f5e9", "#2e7d32", "&#10004; Passed"),
    "failed": ("#fff3e0", "#e65100", "&#10008; Not yet"),
    "not_implemented": ("#eceff1", "#455a64", "&#9998; Not implemented yet"),
    "unknown_exercise": ("#fff3e0", "#e65100", "? Unknown exercise"),
}


def _pre(text: str) -> str:
    return ("<pre style='white-space:pre-wrap;margin:4px 0;padding:6px;background:rgba(0,0,0,0.04);"
            f"border-radius:4px'>{html.escape(text)}</pre>")


def result_html(r: Result) -> str:
    bg, fg, label = _COLOURS.get(r.status, _COLOURS["failed"])
    title = f" &mdash; {html.escape(r.title)}" if r.title else ""
    parts = [f"<div style='border-left:5px solid {fg};background:{bg};padding:8px 12px;margin:4px 0;"
             f"border-radius:4px;color:#212121;font-family:var(--jp-ui-font-family,sans-serif)'>",
             f"<div style='font-weight:bold;color:{fg}'>{label}: <code>{html.escape(r.exercise_id)}</code>{title}</div>"]
    if r.status == "passed":
        parts.append(f"<div>All {r.cases_total} cases agree with the reference.</div>")
        if r.headline:
            parts.append(f"<div style='margin-top:4px'>{html.escape(r.headline)}</div>")
    else:
        parts.append(f"<div style='margin-top:4px'>{html.escape(r.headline[:1].upper() + r.headline[1:])}</div>")
        rows = []
        if r.case:
            why = f" <i>({html.escape(r.case_why)})</i>" if r.case_why else ""
            rows.append(("Failing case", f"{html.escape(r.case)} &mdash; case {r.cases_run} of {r.cases_total}{why}"))
        if r.inputs:
            rows.append(("Inputs", f"<code>{html.escape(r.inputs)}</code>"))
        if r.expected:
            rows.append(("Expected", f"<code>{html.escape(r.expected)}</code>"))
        if r.got:
            rows.append(("Got", f"<code>{html.escape(r.got)}</code>"))
        if rows:
            parts.append("<table style='margin-top:6px;border-collapse:collapse'>"
                         + "".join(f"<tr><td style='padding:2px 10px 2px 0;vertical-align:top;font-weight:bold'>{k}</td>"
                                   f"<td style='padding:2px 0;text-align:left'>{v}</td></tr>" for k, v in rows)
                         + "</table>")
        if r.diagnosis:
            parts.append(f"<div style='margin-top:6px'><b>Likely cause:</b> {html.escape(r.diagnosis)}</div>")
        if r.details:
            parts.append(_pre(r.details))
    for note in r.notes:
        parts.append(f"<div style='margin-top:4px;font-size:90%'><b>Note:</b> {_pre(note) if chr(10) in note else html.escape(note)}</div>")
    if r.status in ("failed", "not_implemented") and r.exercise_id:
        parts.append(f"<div style='margin-top:6px;font-size:90%'>Stuck? Run <code>hint(\"{html.escape(r.exercise_id)}\")</code> "
                     "for a nudge; call it again for a stronger one.</div>")
    parts.append("</div>")
    return "".join(parts)


def hint_html(exercise_id: str, level: int, total: int, text: str) -> str:
    """A hint as HTML, its formulas shown as math (:mod:`course_utils.grading.mathtext`)."""
    return ("<div style='border-left:5px solid #1565c0;background:#e3f2fd;padding:8px 12px;margin:4px 0;"
            "border-radius:4px;color:#212121'>"
            f"<b>Hint {level} of {total}</b> for <code>{html.escape(exercise_id)}</code>: {mathtext.html(text)}</div>")


def missing(item_id: str, why: str = "the notebook does not define this function when run top to bottom") -> dict[str, object]:
    """The verdict on an item a graded notebook should answer and does not: {passed, status, message}."""
    return {"passed": False, "status": "missing", "message": f"MISSING {item_id}: {why}."}


def not_run(item_id: str, why: str) -> dict[str, object]:
    """The verdict on an item whose notebook could not be run to its grading cell."""
    return {"passed": False, "status": "not_run", "message": f"NOT RUN {item_id}: {why}"}
