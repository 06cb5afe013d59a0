"""Predict, then look: commit a prediction before a demo runs, and read why after it.

In a workbook::

    predict("kl_step_doubles")          # buttons in JupyterLab; or predict("kl_step_doubles", "b")
    ...the demo cell...
    reveal("kl_step_doubles")           # your prediction, what happened, and why

A prediction is recorded once (the first commitment counts; a later call says what you chose)
in the same progress file as ``check(...)``, so ``progress()`` and the instructor's gradebook
show it. Committing any choice completes the item; whether it was right is recorded beside it
and never costs a grade: predicting wrong and finding out why is the point.

**A commitment lives in the notebook too**, because a graded workbook is only its saved file
(``course check`` and the class's batch grader run it again in a fresh kernel, with no progress
file). Every output that shows a commitment carries a small record besides its text and HTML:
the MIME type :data:`~course_utils.grading.protocol.PREDICTION_MIME`, ``{"id", "choice",
"committed_at"}``. A written ``predict("id", "b")`` shows it when the grader runs the cell again;
the buttons write it into the file three ways, so that a learner who clicked, then saved, counts:

1. under the buttons, a display with an id ("Not committed yet") that the click replaces by the
   record (``DisplayHandle.update``). JupyterLab applies that update to the cell's outputs while
   the page that ran the cell is open, and saves it with the notebook (checked in a real
   JupyterLab by ``tests/test_browser_predict.py``);
2. the Output widget under the button shows the record too: JupyterLab saves it in the
   notebook's widget state, which the course's JupyterLab keeps (``course_utils.saved_widgets``),
   also after the page was reloaded, when (1) no longer reaches the cell;
3. running the cell again after a commitment shows the record as an ordinary output instead of
   the buttons, and ``reveal(...)`` shows it as well.

The button's message says what to do where none of this is kept (a hosted notebook): run the
cell again, or write the letter in it. The grader reads the records from the file as plain data
and decides for itself (:func:`course_utils.notebook_verdicts.judge_observations`).
"""
from __future__ import annotations

from typing import Any, Optional

from course_utils.catalogue import predictions
from course_utils.grading import mathtext
from course_utils import progress_store as _progress
from course_utils.grading.protocol import PREDICTION_MIME
from course_utils.grading.spec import Prediction
from course_utils.workbook import _in_kernel

# Predictions committed in this kernel, {id: choice}; reveal() looks here first. (The notebook grader reads
# the saved notebook and the progress file of its run, where every commitment is recorded too.)
_COMMITTED: dict[str, str] = {}

BLUE, GREY, ORANGE, GREEN = "#1565c0", "#455a64", "#e65100", "#2e7d32"
NOT_YET = "Not committed yet"


class _Box:
    """A small coloured box (HTML in JupyterLab, plain text elsewhere). Title and body are in the
    course's plain math notation (:mod:`course_utils.grading.mathtext`), code between backticks.
    ``record``: the commitment it shows, carried as :data:`PREDICTION_MIME` for the grader."""

    def __init__(self, title: str, body: str, colour: str, record: Optional[dict[str, str]] = None) -> None:
        self.title, self.body, self.colour, self.record = title, body, colour, record

    def __repr__(self) -> str:
        return f"{mathtext.plain(self.title)}\n{mathtext.plain(self.body)}"

    def _repr_html_(self) -> str:
        body = "<br>".join(mathtext.html(line) for line in self.body.split("\n"))
        return (f"<div style='border-left:4px solid {self.colour};padding:6px 12px;margin:4px 0'>"
                f"<b>{mathtext.html(self.title)}</b><br>{body}</div>")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
        # the record's what (id, choice) is output data; its when is the output's metadata, so a notebook
        # re-run later shows the same data (nbval compares data, never metadata)
        data: dict[str, Any] = {"text/plain": repr(self), "text/html": self._repr_html_()}
        metadata: dict[str, Any] = {}
        if self.record:
            data[PREDICTION_MIME] = {k: v for k, v in self.record.items() if k != "committed_at"}
            metadata[PREDICTION_MIME] = {"committed_at": self.record.get("committed_at", "")}
        return data, metadata


def _show(box: _Box) -> None:
    if _in_kernel():
        from IPython.display import display

        display(box)
    else:
        print(repr(box))


def _question_text(p: Prediction) -> str:
    return p.question + "\n" + "\n".join(f"  ({key}) {text}" for key, text in p.choices.items())


def _record(p: Prediction, choice: str, committed_at: str) -> dict[str, str]:
    return {"id": p.id, "choice": choice, "committed_at": committed_at}


def _stored(prediction_id: str) -> Optional[dict[str, Any]]:
    data, _ = _progress.load()
    entry = data["exercises"].get(prediction_id)
    return entry if entry and "prediction" in entry else None


def _committed(p: Prediction) -> Optional[tuple[str, str]]:
    """(choice, when) of this learner's commitment: this kernel's, else the progress file's."""
    entry = _stored(p.id)
    choice = _COMMITTED.get(p.id) or (str(entry["prediction"]) if entry else None)
    if choice is None:
        return None
    return choice, str(entry.get("first_passed", "")) if entry and str(entry["prediction"]) == choice else ""


def _call(p: Prediction, key: str) -> str:
    return f'`predict("{p.id}", "{key}")`'


def predict(prediction_id: str, choice: Optional[str] = None) -> None:
    """Commit your prediction for the demo below (``choice`` is a key such as ``"b"``).

    Without ``choice``: buttons in JupyterLab, or the question and how to answer elsewhere; once
    you have committed, your commitment (a cell run again does not ask twice).
    """
    p = predictions().get(prediction_id)
    if p is None:
        print(f"There is no prediction called {prediction_id!r}.")
        return
    if choice is None:
        committed = _committed(p)
        if committed is not None:
            key, when = committed
            _show(_Box("Your prediction is committed",
                       f"({key}) {p.choices.get(key, '')}\nA prediction counts once. Run the demo, then "
                       f"`reveal(\"{p.id}\")`.", BLUE, _record(p, key, when)))
            return
        if _in_kernel() and _buttons(p):
            return
        _show(_Box(f"Predict before you run the demo: {p.title}",
                   _question_text(p) + f"\nCommit with {_call(p, next(iter(p.choices)))} (your letter), "
                   "then run the demo.", BLUE))
        return
    box = _commit(p, str(choice).strip().lower().strip("()"))
    _show(box)


def _commit(p: Prediction, key: str) -> _Box:
    """Record ``key`` as this learner's prediction (the first commitment stands) and return the box
    that says so, carrying the record of the commitment that stands."""
    if key not in p.choices:
        return _Box("Not a choice of this question",
                    f"{key!r} is not one of {', '.join(repr(k) for k in p.choices)}.\n" + _question_text(p), ORANGE)
    earlier, when = _progress.record_prediction(p.id, key, key == p.answer)
    stands = _COMMITTED.setdefault(p.id, earlier or key)
    record = _record(p, stands, when)
    if stands != key:
        return _Box("Your first prediction stands",
                    f"You committed ({stands}) {p.choices.get(stands, '')} earlier; a prediction counts once. "
                    f"Run the demo and `reveal(\"{p.id}\")` to see how it went.", GREY, record)
    return _Box("Prediction recorded",
                f"({key}) {p.choices[key]}\nNow run the demo, then `reveal(\"{p.id}\")`.", BLUE, record)


def _buttons(p: Prediction) -> bool:
    """The question with a choice per radio button and a commit button; False without ipywidgets."""
    try:
        import ipywidgets as widgets
        from IPython.display import display
    except ImportError:
        return False
    # a radio button's label is plain text; the question above it is HTML
    options = [(f"({key}) {mathtext.plain(text)}", key) for key, text in p.choices.items()]
    radio = widgets.RadioButtons(options=options, value=None, layout=widgets.Layout(width="auto"))
    button = widgets.Button(description="Commit my prediction", button_style="primary",
                            layout=widgets.Layout(width="auto"))  # (the default width cuts the label off)
    out = widgets.Output()
    display(widgets.HTML(f"<b>Predict before you run the demo: {mathtext.html(p.title)}</b><br>"
                         f"{mathtext.html(p.question)}"), radio, button, out)
    # the cell's own output, replaced by the commitment when the button is pressed: saved with the notebook
    handle = display(_Box(NOT_YET, "Choose an answer above, then press “Commit my prediction”.", "#9e9e9e"),
                     display_id=True)

    def on_click(_: Any) -> None:
        out.clear_output()  # (a message of an earlier click, "Choose one answer first.", goes)
        if radio.value is None:
            with out:
                print("Choose one answer first.")
            return
        radio.disabled = button.disabled = True
        try:
            box = _commit(p, radio.value)
            if handle is not None:
                handle.update(box)
            stands = box.record["choice"] if box.record else radio.value
            with out:
                display(_Box(f"Committed: ({stands})",
                             f"Save the notebook (Ctrl+S) to hand it in: the box below holds your prediction. If it "
                             f"still says “{NOT_YET}” (the page was reloaded since this cell ran, or a hosted notebook "
                             "such as Colab), run this cell again, which shows your commitment as an ordinary output, "
                             f"or write {_call(p, stands)} in the cell.", GREY, box.record))
        except Exception as exc:  # noqa: BLE001  (a callback's error would otherwise vanish)
            with out:
                print(f"The commitment ran into a problem ({type(exc).__name__}: {exc}). Write it in the cell "
                      f'instead: predict("{p.id}", "{radio.value}")')

    button.on_click(on_click)
    return True


def reveal(prediction_id: str) -> None:
    """Show your prediction, the right answer and why (after the demo has run)."""
    p = predictions().get(prediction_id)
    if p is None:
        print(f"There is no prediction called {prediction_id!r}.")
        return
    committed = _committed(p)
    if committed is None:
        _show(_Box("Commit a prediction first",
                   f"The explanation waits until you have committed one: `predict(\"{p.id}\")` above.", GREY))
        return
    choice, when = committed
    right = choice == p.answer
    verdict = ("You predicted it." if right else
               f"You predicted ({choice}) {p.choices.get(choice, '')}; what happens is ({p.answer}).")
    _show(_Box(f"({p.answer}) {p.choices[p.answer]}", verdict + "\n" + p.explanation,
               GREEN if right else ORANGE, _record(p, choice, when)))

