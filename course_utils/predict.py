"""Predict, then look: commit a prediction before a demo runs, and read why after it.

In a workbook::

    predict("kl_step_doubles")          # buttons in JupyterLab; or predict("kl_step_doubles", "b")
    ...the demo cell...
    reveal("kl_step_doubles")           # your prediction, what happened, and why

A prediction is recorded once (the first commitment counts; a later call says what you chose)
in the same progress file as ``check(...)``, so ``progress()`` and the instructor's gradebook
show it. Committing any choice completes the item; whether it was right is recorded beside it
and never costs a grade: predicting wrong and finding out why is the point.
"""
from __future__ import annotations

import datetime as _dt
import html
from typing import Any, Optional

from course_utils.catalogue import predictions
from course_utils.grading import progress_file as _progress
from course_utils.grading.spec import Prediction
from course_utils.workbook import _in_kernel


# Predictions committed in this kernel, {id: choice}; reveal() looks here first. (The notebook grader reads
# the progress file of its run, where every commitment is recorded too.)
_COMMITTED: dict[str, str] = {}


class _Box:
    """A small coloured box (HTML in JupyterLab, plain text elsewhere)."""

    def __init__(self, title: str, body: str, colour: str) -> None:
        self.title, self.body, self.colour = title, body, colour

    def __repr__(self) -> str:
        return f"{self.title}\n{self.body}"

    def _repr_html_(self) -> str:
        body = html.escape(self.body).replace("\n", "<br>")
        return (f"<div style='border-left:4px solid {self.colour};padding:6px 12px;margin:4px 0'>"
                f"<b>{html.escape(self.title)}</b><br>{body}</div>")


def _show(box: _Box) -> None:
    if _in_kernel():
        from IPython.display import display

        display(box)
    else:
        print(repr(box))


def _question_text(p: Prediction) -> str:
    return p.question + "\n" + "\n".join(f"  ({key}) {text}" for key, text in p.choices.items())


def _stored(prediction_id: str) -> Optional[dict[str, Any]]:
    data, _ = _progress.load()
    entry = data["exercises"].get(prediction_id)
    return entry if entry and "prediction" in entry else None


def _record(p: Prediction, choice: str) -> Optional[str]:
    """Store the first commitment; returns the choice already on record if there was one."""
    data, _ = _progress.load()
    entry = data["exercises"].setdefault(p.id, {"attempts": 0, "status": "not_started"})
    if "prediction" in entry:
        return str(entry["prediction"])
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    entry.update(prediction=choice, correct=choice == p.answer, status="passed", attempts=1,
                 first_passed=now, last_attempt=now)
    try:
        _progress.save(data)
    except OSError:
        pass
    return None


def predict(prediction_id: str, choice: Optional[str] = None) -> None:
    """Commit your prediction for the demo below (``choice`` is a key such as ``"b"``).

    Without ``choice``: buttons in JupyterLab, or the question and how to answer elsewhere.
    """
    p = predictions().get(prediction_id)
    if p is None:
        print(f"There is no prediction called {prediction_id!r}.")
        return
    if choice is None:
        if _in_kernel() and _buttons(p):
            return
        _show(_Box(f"Predict before you run the demo: {p.title}",
                   _question_text(p) + f"\nCommit with predict(\"{p.id}\", \"{next(iter(p.choices))}\") "
                   "(your letter), then run the demo.", "#1565c0"))
        return
    _commit(p, str(choice).strip().lower().strip("()"))


def _commit(p: Prediction, key: str) -> None:
    if key not in p.choices:
        _show(_Box("Not a choice of this question",
                   f"{key!r} is not one of {', '.join(repr(k) for k in p.choices)}.\n" + _question_text(p), "#e65100"))
        return
    earlier = _record(p, key)
    _COMMITTED.setdefault(p.id, earlier or key)
    if earlier is not None and earlier != key:
        _show(_Box("Your first prediction stands",
                   f"You committed ({earlier}) {p.choices.get(earlier, '')} earlier; a prediction counts once. "
                   "Run the demo and reveal() to see how it went.", "#455a64"))
        return
    _show(_Box("Prediction recorded",
               f"({key}) {p.choices[key]}\nNow run the demo, then reveal({p.id!r}).", "#1565c0"))


def _buttons(p: Prediction) -> bool:
    try:
        import ipywidgets as widgets
        from IPython.display import display
    except ImportError:
        return False
    options = [(f"({key}) {text}", key) for key, text in p.choices.items()]
    radio = widgets.RadioButtons(options=options, value=None, layout=widgets.Layout(width="auto"))
    button = widgets.Button(description="Commit my prediction", button_style="primary")
    out = widgets.Output()

    def on_click(_):
        if radio.value is None:
            with out:
                print("Choose one answer first.")
            return
        radio.disabled = button.disabled = True
        with out:
            _commit(p, radio.value)
            print(f'Recorded in your progress. For a workbook you hand in, write it in the cell: '
                  f'predict("{p.id}", "{radio.value}")')

    button.on_click(on_click)
    display(widgets.HTML(f"<b>Predict before you run the demo: {html.escape(p.title)}</b><br>"
                         f"{html.escape(p.question)}"), radio, button, out)
    return True


def reveal(prediction_id: str) -> None:
    """Show your prediction, the right answer and why (after the demo has run)."""
    p = predictions().get(prediction_id)
    if p is None:
        print(f"There is no prediction called {prediction_id!r}.")
        return
    choice = _COMMITTED.get(p.id)
    if choice is None:
        entry = _stored(p.id)
        choice = str(entry["prediction"]) if entry else None
    if choice is None:
        _show(_Box("Commit a prediction first",
                   f"The explanation waits until you have committed one: predict({p.id!r}) above.", "#455a64"))
        return
    right = choice == p.answer
    verdict = ("You predicted it." if right else
               f"You predicted ({choice}) {p.choices.get(choice, '')}; what happens is ({p.answer}).")
    _show(_Box(f"({p.answer}) {p.choices[p.answer]}", verdict + "\n" + p.explanation,
               "#2e7d32" if right else "#e65100"))
