"""Credit for predictions: what a committed choice earns, decided by the grader from plain data.

A prediction is an item of the course (:mod:`course_utils.predict`): committing any choice of its
question completes it, and whether it was right is said, never graded. The choice can come from
two places, both the learner's own: a written ``predict("id", "b")`` line (its run sends the choice,
:mod:`course_utils.kernel_observer`) and the record the buttons saved in the notebook
(:func:`course_utils.grading.protocol.committed_predictions`, read from the file). Neither is
trusted with more than a choice.
"""
from __future__ import annotations

from typing import Any

from course_utils.catalogue import predictions

__all__ = ["judge_predictions"]


def judge_predictions(sent: Any, saved: Any = None) -> dict[str, dict[str, Any]]:
    """The verdicts on predictions, {id: {passed, status, message, choice}}, reached here from plain data.

    ``sent``: {id: {"choice": key}} from the notebook's run (what its written ``predict("id", "b")``
    lines committed; the ids are those it asks); ``saved``: the commitments the saved notebook
    holds (:func:`course_utils.grading.protocol.committed_predictions`: the buttons' records).
    A prediction passes when a choice of its question was committed; whether it was right is
    said, never graded. Both sources are the learner's own (a record can be written by hand,
    as a ``predict`` line can), so neither is trusted with more than a choice: a ``passed`` in
    them is ignored and a key that is not one of the question's does not count. When both hold
    a valid choice and they differ, the saved one counts: it was committed first, in the
    learner's session, before the file was handed in (there, the cell's later ``predict`` line
    said "your first prediction stands"); the message says so."""
    sent = sent if isinstance(sent, dict) else {}
    saved = saved if isinstance(saved, dict) else {}
    out: dict[str, dict[str, Any]] = {}
    for p_id, p in predictions().items():
        if p_id not in sent and p_id not in saved:
            continue
        written = sent.get(p_id, {}).get("choice") if isinstance(sent.get(p_id), dict) else None
        recorded = saved.get(p_id, {}).get("choice") if isinstance(saved.get(p_id), dict) else None
        written = written if isinstance(written, str) and written in p.choices else None
        recorded = recorded if isinstance(recorded, str) and recorded in p.choices else None
        choice = recorded or written
        if choice is None:
            out[p_id] = {"passed": False, "status": "missing", "choice": "",
                         "message": f"NO PREDICTION {p_id}: no choice was committed. Choose one with the buttons and "
                                    f"save the notebook (Ctrl+S), or write your letter in the cell, "
                                    f"predict({p_id!r}, \"b\"), so that it counts in a graded workbook."}
            continue
        verdict = "right" if choice == p.answer else "not what happened (that is fine)"
        where = ""
        if recorded and written and recorded != written:
            where = (f" Your first commitment counts: ({recorded}), saved in the notebook, although the cell now "
                     f"says ({written}).")
        elif recorded and not written:
            where = " Committed with the buttons, saved in the notebook."
        out[p_id] = {"passed": True, "status": "passed", "choice": choice,
                     "message": f"PREDICTED {p_id}: ({choice}), {verdict}.{where}"}
    return out
