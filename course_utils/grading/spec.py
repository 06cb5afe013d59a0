"""How an exercise is described: its answer, test cases, classic mistakes and hints.

One file per chapter in ``course_utils/checks/`` builds :class:`Exercise` objects (their answers
come from :mod:`course_utils.answers`); :mod:`course_utils.catalogue` collects them in course
order; the engine in :mod:`course_utils.grading.check_function` only ever reads these descriptions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence


@dataclass
class Case:
    """One input on which the learner's function is compared with the answer.

    ``make_args`` builds fresh arguments for every call (so a function that mutates its inputs,
    or steps an environment, cannot affect the next call). ``shown`` is what the feedback prints
    as "the input" when the automatic summary of the arguments would not be helpful.
    ``expected`` overrides the answer's value (a closed form or a statistical target), and
    ``atol``/``rtol`` override the exercise's tolerances for this case only.
    """

    name: str
    make_args: Callable[[], dict[str, Any]]
    shown: Optional[str] = None
    expected: Optional[Callable[[dict[str, Any]], Any]] = None
    atol: Optional[float] = None
    rtol: Optional[float] = None
    why: Optional[str] = None  # one sentence on what this case is about, shown when it fails


@dataclass
class ExtraCheck:
    """A property checked once every case agrees with the answer, split like a case into running and judging.

    ``make_args`` builds the inputs (as a :class:`Case` does; it must not use the answer key,
    which the batch grader's sandbox cannot read); the learner's function is called on them
    under the guard, with ``timeout_s``; ``judge(args, outcome)`` runs in the trusted process
    with fresh ``args`` and the :class:`~course_utils.grading.guard.Outcome` of that call
    (its ``value`` is plain data: tensors, arrays, numbers) and returns a problem to report,
    or None when the property holds.
    """

    make_args: Callable[[], dict[str, Any]]
    judge: Callable[[dict[str, Any], Any], Optional[str]]
    timeout_s: float = 3.0


class OutcomeError(Exception):
    """Raised by a loop item's ``outcome`` when what the learner's loop returned cannot be read; its
    message is shown to the learner as it is (say what was expected, e.g. "return a dict with the key 'obs'")."""


@dataclass
class Mistake:
    """A classic wrong answer, written as code, with the diagnosis a learner should read."""

    name: str
    fn: Callable[..., Any]
    message: str


@dataclass
class Exercise:
    """Everything the grader needs to know about one exercise.

    ``grad_wrt`` names the arguments whose gradients are compared with the answer's (for
    losses and log-probabilities: a loss is graded by its gradient, not only by its value);
    an argument whose answer's gradient is zero must also get a zero gradient from the learner
    (that is how a forgotten ``detach()`` is caught).

    ``kind`` is what the learner does: ``implement`` a function from its contract, ``derive`` a
    quantity on paper and enter it as a function, or ``debug`` a handed-out function whose bug
    is the catalogued mistake named by ``bug`` (the check then shows the failing case but not
    that mistake's diagnosis, which would name the bug; the hints lead there), or write a
    ``loop`` (an algorithm: a rollout, an update), graded by lock-step replay.

    A ``loop`` item changes its arguments: ``updates`` names those it may change in place (a policy,
    its optimizer, an environment; any other tensor argument changed in place is reported as for a
    function), and ``outcome(args, returned)`` reads what the loop left behind, after the call, as an
    ordered ``dict`` of named tensors (stored arrays, parameters after the update, statistics it
    returned). That record is compared with the answer's, entry by entry and in order, on the same
    freshly built inputs; ``record_axes`` names the axes of an entry for messages ("step 3, env 1").
    ``outcome`` is trusted code of the checks, run on both sides of the batch grader's sandbox; it
    raises :class:`OutcomeError` when the returned value cannot be read. A catalogued mistake of a
    loop is a whole wrong loop; it is named when its record agrees with the learner's everywhere.
    """

    id: str
    chapter: str
    title: str
    signature: str
    answer: Callable[..., Any]
    cases: Callable[[], Sequence[Case]]
    mistakes: Sequence[Mistake] = ()
    hints: Sequence[str] = ()
    success: str = ""
    grad_wrt: Sequence[str] = ()
    atol: float = 1e-5
    rtol: float = 1e-4
    timeout_s: float = 3.0
    timeout_hint: str = ""
    returns: str = "tensor"  # "tensor" or "float"
    extra_checks: Sequence[ExtraCheck] = field(default_factory=tuple)
    kind: str = "implement"  # "implement", "derive", "debug" or "loop"
    bug: str = ""  # debug exercises: the name of the catalogued mistake the handed-out code makes
    outcome: Optional[Callable[[dict[str, Any], Any], dict[str, Any]]] = None  # loop items: the record read after the call
    updates: Sequence[str] = ()  # loop items: the arguments the loop may change in place
    record_axes: dict[str, Sequence[str]] = field(default_factory=dict)  # loop items: axis names of record entries


KINDS = ("implement", "derive", "debug", "loop", "predict")


@dataclass
class Prediction:
    """A ``predict`` item: a multiple-choice question asked in the workbook before a demo.

    ``answer`` is the key of the right choice; ``explanation`` is shown by ``reveal`` after the
    demo. Committing any choice completes the item (whether it was right is recorded beside it).
    """

    id: str
    chapter: str
    title: str
    question: str
    choices: dict[str, str]
    answer: str
    explanation: str
    kind: str = "predict"
