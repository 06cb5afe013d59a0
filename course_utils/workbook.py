"""The learner's API, what workbook cells call: ``check``, ``hint``, ``solution``, ``progress``, ``ready``, and
``self_assess`` under a written derivation.

``check`` grades through :mod:`course_utils.catalogue`, shows the feedback of
:mod:`course_utils.grading.result` and records progress (:mod:`course_utils.progress_store`).
"""
from __future__ import annotations

import os
import sys
from typing import Any, Callable, Optional

from course_utils.catalogue import grade, items, registry
from course_utils.grading import mathtext
from course_utils.grading.protocol import HELP_MIME
from course_utils import progress_store as _progress
from course_utils.grading.result import Result, compose, hint_html


class CheckFailed(AssertionError):
    """Raised by :func:`check` in strict mode (``COURSE_STRICT=1``, used by CI on solutions)."""


def strict_mode() -> bool:
    return os.environ.get("COURSE_STRICT", "").lower() in ("1", "true", "yes")


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _display(obj: Any, text: str) -> None:
    if _in_kernel():
        from IPython.display import display

        display(obj)
    else:
        print(text)


def _hint_button(exercise_id: str) -> None:
    """A button under a failed check that reveals the next hint (only inside a live kernel)."""
    if not _in_kernel() or strict_mode():
        return
    try:
        import ipywidgets as widgets
        from IPython.display import HTML, display
    except ImportError:
        return
    button = widgets.Button(description="Show a hint", icon="lightbulb-o", tooltip=f"hint('{exercise_id}')",
                            layout=widgets.Layout(width="auto"))
    out = widgets.Output()

    def on_click(_):
        with out:
            hint(exercise_id)
        ex = registry().get(exercise_id)
        seen = int(_progress.load()[0]["exercises"].get(exercise_id, {}).get("hints_seen", 0))
        if ex is None or seen >= len(ex.hints):  # the last one is shown: no button that shows it again
            button.disabled = True
            button.description = "That was the last hint"
        else:
            button.description = "Show the next hint"

    button.on_click(on_click)
    display(widgets.VBox([button, out]))
    del HTML


def check(fn: Callable[..., Any], exercise_id: Optional[str] = None) -> None:
    """Grade ``fn``, show the feedback below the cell and record your progress.

    The exercise is found from the function's name (``check(gae)`` grades exercise ``"gae"``);
    pass ``exercise_id=...`` if you named your function differently. Never raises, except in
    strict mode (``COURSE_STRICT=1``), which CI uses so that a broken reference cannot pass.
    """
    try:
        ex_id = exercise_id or getattr(fn, "__name__", None) or ""
        if ex_id == "<lambda>":
            ex_id = ""
        if not ex_id:
            result = compose(Result(exercise_id="?", passed=False, status="unknown_exercise",
                                     headline="this function has no name to look the exercise up by; "
                                     "call check(fn, exercise_id='...')."))
        else:
            result = grade(ex_id, fn)
        if result.status != "unknown_exercise":
            warning = _progress.record(result.exercise_id, result.status, code=_code_fingerprint(fn))
            if warning:
                result.notes.append(warning)
                compose(result)
        _display(result, result.message)
        if not result.passed and result.status != "unknown_exercise":
            _hint_button(result.exercise_id)
    except KeyboardInterrupt:
        print("The check was interrupted.")
        return None
    except Exception as exc:  # noqa: BLE001  (the check must never break the notebook)
        print(f"The check itself ran into a problem ({type(exc).__name__}: {exc}). Your notebook is fine; "
              "please report this to the course maintainers.", file=sys.stderr)
        if strict_mode():
            raise
        return None
    if strict_mode() and not result.passed:
        raise CheckFailed(result.message)
    return None


def _code_fingerprint(fn: Any) -> Optional[str]:
    """The fingerprint of ``fn``'s source (:func:`course_utils.progress_store.fingerprint`), so
    that checking the same code again adds no attempt; None when the source cannot be read."""
    import inspect

    try:
        return _progress.fingerprint(inspect.getsource(fn))
    except Exception:  # noqa: BLE001  (OSError, TypeError, a tokenizer error: the source is not at hand)
        return None


def ready(*fns: Callable[..., Any]) -> bool:
    """True when every given function passes its check; otherwise say which to finish first.

    Guards the cells that train or evaluate something with your functions, so that a workbook
    runs top to bottom (and tells you what is missing) before every exercise is done.
    """
    missing = []
    for fn in fns:
        name = getattr(fn, "__name__", "?")
        try:
            res = grade(name, fn)
        except Exception:  # noqa: BLE001
            missing.append(name)
            continue
        if not res.passed:
            missing.append(name)
    if missing:
        text = ("This cell uses your " + ", ".join(f"`{m}`" for m in missing) + ", which "
                + ("does" if len(missing) == 1 else "do") + " not pass its check yet. "
                "Finish the exercise above (check(...) will say what is wrong), then run this cell again.")
        if _in_kernel():
            from IPython.display import Markdown, display

            display(Markdown(text))  # wraps between words, unlike a long line of printed text
        else:
            print(text)
        return False
    return True


class _Hint:
    def __init__(self, exercise_id: str, level: int, total: int, text: str) -> None:
        self.exercise_id, self.level, self.total, self.text = exercise_id, level, total, text

    def __repr__(self) -> str:
        return f"Hint {self.level} of {self.total} for {self.exercise_id}: {mathtext.plain(self.text)}"

    def _repr_html_(self) -> str:
        return hint_html(self.exercise_id, self.level, self.total, self.text)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, Any]:
        # a record beside the text, saved with the notebook: the grader reads the help used from it
        return {HELP_MIME: {"id": self.exercise_id, "hint": self.level}}


def hint(exercise_id: str | Callable[..., Any], level: Optional[int] = None) -> None:
    """Show a hint: the first call asks a question, later calls give the idea, then the key step
    in math (never a line of the solution). ``hint(gae)`` works as well as ``hint("gae")``.

    ``level=1, 2, 3`` shows a given tier directly. Hints seen are recorded in your progress.
    """
    exercise_id = exercise_id if isinstance(exercise_id, str) else getattr(exercise_id, "__name__", "?")
    ex = registry().get(exercise_id)
    if ex is None:
        print(f"There is no exercise called {exercise_id!r}.")
        return
    n = len(ex.hints)
    if level is None:
        level = _progress.next_hint_level(exercise_id, n)
    else:
        _progress.next_hint_level(exercise_id, n, at_least=int(level))
    level = max(1, min(int(level), n))
    h = _Hint(exercise_id, level, n, ex.hints[level - 1])
    if level == n:
        h.text += " (This is the last hint.)"
    _display(h, repr(h))


def progress() -> None:
    """Show which exercises, predictions and written derivations of the whole course you have done."""
    from course_utils.answers.written import WRITTEN

    rep = _progress.report(items(), written=WRITTEN)
    _display(rep, repr(rep))


def solution(exercise_id: str | Callable[..., Any], confirm: bool = False) -> None:
    """Show the course's answer to an exercise: only when you ask twice (``confirm=True``, or the
    button), and recorded in your progress (and so in a gradebook) as seen.

    Try the hints first: each of them leaves the last step to you, and that step is the learning.
    The answer is shown as code that runs where you paste it: with the imports, constants and
    course helpers it uses (:func:`course_utils.answer_source.self_contained_source`).
    """
    exercise_id = exercise_id if isinstance(exercise_id, str) else getattr(exercise_id, "__name__", "?")
    ex = registry().get(exercise_id)
    if ex is None:
        print(f"There is no exercise called {exercise_id!r}.")
        return
    if not confirm:
        if _in_kernel() and not strict_mode() and _solution_button(exercise_id):
            return
        print(f"This shows the course's answer to {exercise_id} and records that you saw it. Hints first? "
              f"hint({exercise_id!r}). To see the answer: solution({exercise_id!r}, confirm=True)")
        return
    from course_utils.answer_source import self_contained_source

    _progress.mark_solution_seen(exercise_id)  # asked for, even where the answer cannot be shown
    try:
        source = self_contained_source(ex.answer, exercise_id)
    except (OSError, TypeError):
        print(f"The answer to {exercise_id} is not available here (for instance while a workbook is being graded).")
        return
    except ValueError as exc:  # a name of the key that cannot be written out: a bug of the course
        print(f"The answer to {exercise_id} cannot be shown as code that runs on its own ({exc}); please report "
              "this to the course maintainers.", file=sys.stderr)
        return
    _display(_Answer(exercise_id, source), f"The course's answer to {exercise_id} (recorded as seen):\n\n{source}")


class _Answer:
    def __init__(self, exercise_id: str, source: str) -> None:
        self.exercise_id, self.source = exercise_id, source

    def __repr__(self) -> str:
        return f"The course's answer to {self.exercise_id} (recorded as seen):\n\n{self.source}"

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, Any]:
        return {HELP_MIME: {"id": self.exercise_id, "answer": True}}  # read by the grader (help used)

    def _repr_html_(self) -> str:
        import html

        return (f"<div style='border-left:4px solid #6a1b9a;padding:6px 12px'><b>The course's answer to "
                f"<code>{html.escape(self.exercise_id)}</code></b> (recorded as seen). Write it again in your own "
                f"words, and run the check on your version.<pre>{html.escape(self.source)}</pre></div>")


def _solution_button(exercise_id: str) -> bool:
    try:
        import ipywidgets as widgets
        from IPython.display import display
    except ImportError:
        return False
    button = widgets.Button(description="Yes, show me the answer", button_style="warning",
                            tooltip=f"solution('{exercise_id}', confirm=True)",
                            layout=widgets.Layout(width="auto"))  # (the default width cuts the label off)
    out = widgets.Output()

    def on_click(_):
        button.disabled = True
        with out:
            solution(exercise_id, confirm=True)

    button.on_click(on_click)
    display(widgets.HTML(f"This shows the course's answer to <code>{exercise_id}</code> and records in your progress "
                         f"that you saw it. Have you tried <code>hint('{exercise_id}')</code>?"), button, out)
    return True


# ---- written derivations: commit, read the model answer, score your own -------------------------------------

def _written(written_id: str) -> Any:
    from course_utils.answers.written import WRITTEN  # (the model answers live in the answer key)

    return WRITTEN.get(written_id)


class _ModelAnswer:
    """The model answer of a written derivation and its rubric (markdown with math in JupyterLab);
    ``met``: the rubric points the learner ticked, when scored."""

    def __init__(self, item: Any, met: Optional[list[int]] = None) -> None:
        self.item, self.met = item, met

    def _rubric_lines(self) -> list[str]:
        ticks = set(self.met or [])
        return [f"{'[x]' if k in ticks else '[ ]' if self.met is not None else f'{k}.'} {point}"
                for k, point in enumerate(self.item.rubric, 1)]

    def _score(self) -> str:
        if self.met is None:
            return (f"Score your answer: tick the points it makes, then record them, or write "
                    f"`self_assess(\"{self.item.id}\", met=[1, 3])` with the numbers of the points it makes.")
        return (f"Recorded as self-assessed: {len(self.met)} of {len(self.item.rubric)} points. A point you missed "
                "is worth writing out again from the model answer, in your own words.")

    def __repr__(self) -> str:
        return "\n".join([f"Model answer: {self.item.title}", self.item.model, "", "Rubric:", *self._rubric_lines(),
                          "", self._score()])

    def _repr_markdown_(self) -> str:
        rubric = "\n".join(f"* {line}" if self.met is not None else f"{line}" for line in self._rubric_lines())
        return (f"**Model answer: {self.item.title}**\n\n{self.item.model}\n\n**Rubric** (what a complete answer "
                f"does)\n\n{rubric}\n\n{self._score()}")


def self_assess(written_id: str, met: Optional[list[int]] = None) -> None:
    """A written derivation: commit, read the model answer, score your own answer against its rubric.

    ``self_assess("id")`` under your written answer: in JupyterLab a button, "I have written my answer",
    then the model answer with a checkbox per rubric point and a button that records your score (without
    widgets the model answer shows at once, and you score with ``met``). ``self_assess("id", met=[1, 3])``
    records that your answer makes points 1 and 3 (a later score replaces it). The progress file keeps
    the commitment and the score as *self-assessed*; ``progress()`` lists it as "self 2/4". Nobody
    grades it but you.
    """
    item = _written(written_id)
    if item is None:
        print(f"There is no written derivation called {written_id!r}.")
        return
    if met is not None:
        points = sorted({int(k) for k in met if 1 <= int(k) <= len(item.rubric)})
        _progress.record_self_assessment(written_id, points, len(item.rubric))
        _display(_ModelAnswer(item, points), repr(_ModelAnswer(item, points)))
        return
    entry = _progress.load()[0]["exercises"].get(written_id, {})
    if _in_kernel() and not strict_mode() and _self_assess_buttons(item, committed="committed_at" in entry):
        return
    _progress.record_self_assessment(written_id)
    _display(_ModelAnswer(item), repr(_ModelAnswer(item)))


def _self_assess_buttons(item: Any, committed: bool) -> bool:
    """Commit button, then the model answer with a checkbox per rubric point and a record button."""
    try:
        import ipywidgets as widgets
        from IPython.display import display
    except ImportError:
        return False
    out = widgets.Output()
    commit = widgets.Button(description="I have written my answer: show the model answer", button_style="primary",
                            layout=widgets.Layout(width="auto"))
    boxes = [widgets.Checkbox(value=False, description=f"{k}. {point}", indent=False,
                              layout=widgets.Layout(width="auto")) for k, point in enumerate(item.rubric, 1)]
    record = widgets.Button(description="Record my score", layout=widgets.Layout(width="auto"))

    def show_model(_: Any = None) -> None:
        commit.disabled = True
        _progress.record_self_assessment(item.id)
        with out:
            display(_ModelAnswer(item))
            display(widgets.VBox(boxes), record)

    def on_record(_: Any) -> None:
        met = [k for k, box in enumerate(boxes, 1) if box.value]
        _progress.record_self_assessment(item.id, met, len(item.rubric))
        record.description = f"Recorded: {len(met)} of {len(item.rubric)} (press again after a change)"

    commit.on_click(show_model)
    record.on_click(on_record)
    if committed:
        display(out)
        show_model()
    else:
        display(widgets.HTML(f"<b>{item.title}</b>: write your answer in the cell above first. The model answer "
                             "and its rubric show when you commit."), commit, out)
    return True
