"""Hints that teach; workbooks that do not hand out the answer (issue 12, item 2).

What a learner is handed must never contain a line of a solution: not the workbooks in
``exercises/`` (code and markdown cells), not a hint, not the feedback of a check (its
success message, its catalogued mistakes, its timeout hint). The solution lines are read where
the answers are written, between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` in
``solutions/*.ipynb``. Lines are compared with all whitespace removed, so re-spacing or
re-wrapping a line does not hide it. A line counts when it is longer than a trivial one
(``return x``, ``pass``, ``)``, ``S = P.shape[0]``); the right-hand side of an assignment or of a
``return`` counts on its own when it is long enough to be the answer by itself and more than an
idiom (``torch.zeros_like(rewards)``, ``b.clone()``).

A debug exercise hands out a buggy version on purpose (``### BEGIN BUGGY`` in the solved
workbook, see ``course_utils/release.py``): the lines it shares with the fix are public by design
and are not treated as secret; the lines that fix the bug are.

Every exercise has at least three hints: a question, the idea in words, then the key line in
math-like notation. The last hint is the one most tempted to become the answer, so it is held to
a stricter rule: no line or expression of its own exercise's solution, even a short one, and no
``torch.`` call (pseudo-code, not code to paste).
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import pytest

from course_utils.catalogue import registry

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))

BEGIN = re.compile(r"^[ \t]*### BEGIN SOLUTION[ \t]*$")
END = re.compile(r"^[ \t]*### END SOLUTION[ \t]*$")
BUGGY_BEGIN = re.compile(r"^[ \t]*### BEGIN BUGGY[ \t]*$")
BUGGY_END = re.compile(r"^[ \t]*### END BUGGY[ \t]*$")
DEF = re.compile(r"^def\s+([A-Za-z_]\w*)\s*\(")

MIN_LINE = 12        # characters, whitespace removed: a whole line of the solution
MIN_EXPRESSION = 16  # the right-hand side of an assignment or a return, on its own
MIN_LAST_HINT = 8    # the last hint against its own exercise: shorter pieces count too

TRIVIAL = re.compile(
    r"^(return\s+[\w.]+(\[[^\]]*\])?"          # return x, return x.y, return x[0]
    r"|pass|break|continue|else:|try:|finally:"
    r"|[\)\]\}]+[,:]?"                          # closing brackets
    r"|[\w.]+\s*=\s*[\w.]+(\[-?\d+\])?"         # an alias: T = rewards.shape[0]
    r")$"
)
SIMPLE_CALL = re.compile(r"^[\w.]+\([\w.]*\)$")  # torch.zeros_like(rewards), b.clone(): idioms, not answers
ASSIGNMENT = re.compile(r"^[\w\s,.\[\]()]+?(?<![=!<>+\-*/@%&|^])=(?!=)(?P<rhs>.+)$")
AUGMENTED = re.compile(r"^[\w.\[\]]+\s*(\+|-|\*|/|@)=(?P<rhs>.+)$")


def squeeze(text: str) -> str:
    """The text with every whitespace character removed."""
    return re.sub(r"\s+", "", text)


def pieces(line: str, min_line: int = MIN_LINE, min_expression: int = MIN_EXPRESSION) -> set[str]:
    """The whitespace-free strings of one solution line that must not be handed out."""
    code = line.strip()
    if not code or code.startswith("#") or TRIVIAL.match(code):
        return set()
    out = set()
    if len(squeeze(code)) >= min_line:
        out.add(squeeze(code))
    m = re.match(r"^return\s+(?P<rhs>.+)$", code) or AUGMENTED.match(code) or ASSIGNMENT.match(code)
    if m:
        rhs = squeeze(m.group("rhs"))
        if len(rhs) >= min_expression and not SIMPLE_CALL.match(rhs):
            out.add(rhs)
    return out


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _split_regions(source: str) -> tuple[str | None, list[str], list[str]]:
    """(the function the cell defines, its solution lines, its buggy lines uncommented)."""
    name, solution, buggy = None, [], []
    state = None
    for line in source.split("\n"):
        if BEGIN.match(line):
            state = "solution"
            continue
        if BUGGY_BEGIN.match(line):
            state = "buggy"
            continue
        if END.match(line) or BUGGY_END.match(line):
            state = None
            continue
        if state == "solution":
            solution.append(line)
        elif state == "buggy":
            stripped = line.strip()
            buggy.append(stripped[2:] if stripped.startswith("# ") else stripped.lstrip("#"))
        else:
            m = DEF.match(line)
            if m:
                name = m.group(1)
    return name, solution, buggy


@lru_cache(maxsize=None)
def solution_lines() -> dict[str, list[str]]:
    """{function name: the lines of its solution region(s)}, from every solved workbook."""
    out: dict[str, list[str]] = {}
    for path in SOLUTIONS:
        for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            if cell.get("cell_type") != "code":
                continue
            name, solution, _ = _split_regions(_source(cell))
            if solution:
                out.setdefault(name or f"{path.stem}:cell{i}", []).extend(solution)
    return out


@lru_cache(maxsize=None)
def public_lines() -> frozenset[str]:
    """What a debug exercise hands out on purpose (its buggy version): lines and their pieces."""
    public = set()
    for path in SOLUTIONS:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell.get("cell_type") == "code":
                _, _, buggy = _split_regions(_source(cell))
                for line in buggy:
                    public.add(squeeze(line))
                    public.update(pieces(line, MIN_LAST_HINT, MIN_LAST_HINT))
    return frozenset(public)


def secrets(name: str | None = None, min_line: int = MIN_LINE,
            min_expression: int = MIN_EXPRESSION) -> dict[str, set[str]]:
    """{piece: the functions whose solution contains it}, for one function or for all of them."""
    out: dict[str, set[str]] = {}
    for fn, lines in solution_lines().items():
        if name is not None and fn != name:
            continue
        for line in lines:
            for piece in pieces(line, min_line, min_expression) - public_lines():
                out.setdefault(piece, set()).add(fn)
    return out


def leaks(text: str, table: dict[str, set[str]] | None = None) -> list[str]:
    """The solution pieces that `text` contains, each with the functions it gives away."""
    table = secrets() if table is None else table
    flat = squeeze(text)
    return [f"{piece!r} (from {', '.join(sorted(fns))})" for piece, fns in table.items() if piece in flat]


def learner_texts(ex) -> list[tuple[str, str]]:
    """Everything of an exercise's check that a learner can read."""
    texts = [(f"hint {i + 1}", h) for i, h in enumerate(ex.hints)]
    texts.append(("success message", ex.success or ""))
    texts.append(("timeout hint", getattr(ex, "timeout_hint", "") or ""))
    texts += [(f"mistake {m.name!r}", m.message) for m in ex.mistakes]
    return texts


IDS = list(registry())


def test_the_solutions_are_read():
    """The detector has something to detect: most exercises have solution lines that count."""
    table = secrets()
    named = {fn for fns in table.values() for fn in fns}
    assert len(named & set(IDS)) >= 20, sorted(named)


# Hints as they stood before issue 12: each pastes a line of its exercise's solution.
OLD_LAST_HINTS = {
    "ppo_clip_loss": "ratio = torch.exp(logp - logp_old.detach()); A = advantages.detach(); "
                     "return -torch.min(ratio * A, torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * A).mean()",
    "reward_to_go": "Loop t from T-1 down to 0, keep a running sum `running = rewards[t] + gamma * running`, "
                    "store it at index t.",
    "fisher_vector_product": "theta = theta.detach().requires_grad_(True); (g,) = torch.autograd.grad(kl_fn(theta), "
                             "theta, create_graph=True); (Hv,) = torch.autograd.grad(g @ v, theta); "
                             "return Hv + damping * v",
    "kl_categorical": "logp, logq = log_softmax of each; return (logp.exp() * (logp - logq)).sum(-1).",
}


def test_the_detector_catches_pasted_lines():
    """On a fixed solution, independent of the tree: whole lines, re-spaced lines, long right-hand sides."""
    table: dict[str, set[str]] = {}
    for line in ["    running = rewards[t] + gamma * running",
                 "    return -(logp * weights.detach()).mean()",
                 "    T = rewards.shape[0]",
                 "    return returns"]:
        for piece in pieces(line):
            table.setdefault(piece, set()).add("example")
    assert leaks(OLD_LAST_HINTS["reward_to_go"], table)
    assert leaks("running=rewards[t]  +  gamma*running", table)        # re-spacing does not hide a line
    assert leaks("the loss is -(logp * weights.detach()).mean() here", table)  # nor does prose around it
    assert not leaks("hat R_t = r_t + gamma hat R_{t+1}, from the last step backwards", table)
    assert not leaks("T = rewards.shape[0], then return returns", table)  # trivial lines do not count


def test_the_detector_flags_the_old_hints_on_the_real_solutions():
    flagged = [ex_id for ex_id, text in OLD_LAST_HINTS.items() if leaks(text)]
    assert len(flagged) >= 2, f"only {flagged} of the old, answer-giving hints are caught"


@pytest.mark.parametrize("ex_id", IDS)
def test_three_tiers_of_hints(ex_id):
    hints = registry()[ex_id].hints
    assert len(hints) >= 3, f"{ex_id}: three tiers of hints (a question, the idea, the key line in math)"
    assert all(h.strip() for h in hints), f"{ex_id}: an empty hint"


@pytest.mark.parametrize("ex_id", IDS)
def test_no_hint_or_feedback_contains_a_solution_line(ex_id):
    found = [f"{where}: {leak}" for where, text in learner_texts(registry()[ex_id]) for leak in leaks(text)]
    assert not found, f"{ex_id} hands out solution code:\n  " + "\n  ".join(found)


@pytest.mark.parametrize("ex_id", IDS)
def test_the_last_hint_is_pseudo_code_not_the_answer(ex_id):
    last = registry()[ex_id].hints[-1]
    own = secrets(ex_id, min_line=MIN_LAST_HINT, min_expression=MIN_LAST_HINT)
    found = leaks(last, own)
    assert not found, f"{ex_id}: the last hint contains the answer's code: {found}"
    assert "torch." not in last, f"{ex_id}: the last hint is Python to paste; write the key line in math instead"


# Pieces a loop answer shares with code the workbook hands out on purpose: the given agent's
# categorical entropy (workbook 08's CleanRL-sized agent) and the given policy's API (workbook 09).
# A loop answer calls what the course gives; that call is not its solution.
GIVEN_ON_PURPOSE = {("08_ppo.ipynb", "-(logp_all.exp()*logp_all).sum(-1)"),
                    ("09_grpo.ipynb", "policy.log_prob(prompts,answers)")}


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_handed_out_workbooks_contain_no_solution_line(path):
    table = secrets()
    found = []
    for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
        for leak in leaks(_source(cell), table):
            if any(path.name == name and leak.startswith(f"'{piece}'") for name, piece in GIVEN_ON_PURPOSE):
                continue
            found.append(f"cell {i} ({cell.get('cell_type')}, id {cell.get('id')}): {leak}")
    assert not found, f"{path.name} hands out solution code:\n  " + "\n  ".join(found)
