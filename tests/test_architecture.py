"""The layers of course_utils, computed from the code: no import circles, and each layer imports
only what lies below it (ARCHITECTURE.md draws the picture)."""
from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "course_utils"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str) -> set[str]:
    """The course_utils modules ``name`` imports, anywhere in the file (functions included)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            # `from pkg import sub` imports the submodule pkg.sub when there is one
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:  # `import a.b.c` of a name inside a module
                target = target.rpartition(".")[0]
            if target.startswith("course_utils") and target != name:
                found.add(target)
    return found


GRAPH = {name: _imports(name) for name in MODULES}


def _reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in GRAPH[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _cycle() -> list[str] | None:
    """One import circle, as a list of modules, or None (depth-first search with colours)."""
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH[node]):
            if colour.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if colour.get(nxt) is None and (found := visit(nxt)):
                return found
        stack.pop()
        colour[node] = 2
        return None

    for name in sorted(GRAPH):
        if colour.get(name) is None and (found := visit(name)):
            return found
    return None


def test_the_graph_is_computed():
    assert "course_utils.answers.returns" in GRAPH["course_utils.answers"]
    assert "course_utils.catalogue" in GRAPH["course_utils.workbook"]
    assert len(MODULES) > 40


def test_no_import_circle():
    assert _cycle() is None, " -> ".join(_cycle() or [])


def test_the_cycle_finder_finds_a_planted_cycle(monkeypatch):
    monkeypatch.setitem(GRAPH, "course_utils.answers.returns", GRAPH["course_utils.answers.returns"] | {"course_utils.catalogue"})
    assert _cycle() is not None


@pytest.mark.parametrize("layer", ["course_utils.checks", "course_utils.grading", "course_utils.answers"])
def test_checks_grading_and_answers_never_reach_a_trainer(layer):
    for name in MODULES:
        if name == layer or name.startswith(layer + "."):
            trainers = sorted(m for m in _reachable(name) if m.startswith("course_utils.trainers"))
            assert not trainers, f"{name} imports {trainers}"


def test_grading_imports_nothing_above_it():
    for name in MODULES:
        if name.startswith("course_utils.grading"):
            above = sorted(m for m in GRAPH[name] if not m.startswith("course_utils.grading"))
            assert not above, f"{name} imports {above}"


def test_answers_import_only_answers():
    for name in MODULES:
        if name.startswith("course_utils.answers"):
            assert all(m.startswith("course_utils.answers") for m in GRAPH[name]), (name, GRAPH[name])


def test_every_answer_lives_in_the_answer_key():
    from course_utils.catalogue import registry

    for ex_id, ex in registry().items():
        assert ex.answer.__module__.startswith("course_utils.answers."), (ex_id, ex.answer.__module__)
        import course_utils.answers as answers

        assert getattr(answers, ex_id) is ex.answer, ex_id


@pytest.mark.parametrize("module", ["course_utils.grading.protocol", "course_utils.grading.check_notebook",
                                    "course_utils.classroom.sandbox", "course_utils.cli"])
def test_notebook_grading_path_imports_without_torch(module):
    code = f"import sys, {module}; assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)[:5]"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert proc.returncode == 0, proc.stderr


def test_trainers_never_import_experiments():
    """Experiments run trainers (experiments/command.py hands them in); a trainer that imported an
    experiment would be a stair back up (it once re-exported caches for the lessons)."""
    for name in MODULES:
        if name.startswith("course_utils.trainers"):
            up = sorted(m for m in GRAPH[name] if m.startswith("course_utils.experiments"))
            assert not up, f"{name} imports {up}"


def _notebook_imports(path: Path) -> list[tuple[str, set[str]]]:
    """Every ``course_utils...`` import in a notebook's code cells: (module, names taken from it)."""
    found = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "\n".join(line for line in "".join(cell["source"]).split("\n") if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_utils"):
                found.append((node.module, {alias.name for alias in node.names}))
            elif isinstance(node, ast.Import):
                found += [(alias.name, set()) for alias in node.names if alias.name.startswith("course_utils")]
    return found


NOTEBOOKS = sorted((PACKAGE.parent / "notebooks").glob("*.ipynb")) + sorted((PACKAGE.parent / "solutions").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebooks_import_answers_from_the_answer_key_and_never_from_the_checks(path):
    """Lessons take an exercise's answer from course_utils.answers, a cache from experiments, a trainer's
    train_* from trainers; no notebook imports from the checks (cases and mistakes) or a module that is gone."""
    from course_utils.catalogue import registry

    answer_ids = set(registry())
    imports = _notebook_imports(path)
    assert imports, path.name
    for module, names in imports:
        assert not module.startswith("course_utils.checks"), (path.name, module)
        assert importlib.util.find_spec(module) is not None, (path.name, module)
        # a workbook never names the answer key (the class grader flags code that does), so only
        # lessons are held to taking answers from it
        if path.parent.name == "notebooks" and not module.startswith("course_utils.answers"):
            assert not names & answer_ids, f"{path.name}: {sorted(names & answer_ids)} from {module}, not course_utils.answers"
