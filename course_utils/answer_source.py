"""What ``solution(...)`` shows: an answer of the key as code that runs where a learner pastes it.

An answer in :mod:`course_utils.answers` is written for its package: it may call a helper of its
module (``_numpy32``, ``next_state_values``, another answer), read a module constant
(``LOG_2PI``), and use names its module imported (``np``, ``Tensor``, ``Callable``) that a
workbook does not import (workbooks 04 and 05 have no NumPy). Its source alone, pasted into a
workbook, stops with a ``NameError``. :func:`self_contained_source` adds what the answer needs,
found from the code itself: :mod:`symtable` names every global a piece of code reads (function
bodies, default values and annotations included), and each is looked up where the code lives:

1. a module, or an object imported from outside the course, becomes an import line
   (``import numpy as np``, ``from torch import Tensor``);
2. a constant of the course becomes its assignment, as its module writes it
   (``LOG_2PI = math.log(2 * math.pi)``, which needs ``import math``: found the same way);
3. a function (or class) of the course becomes its source, under the name the answer calls it
   by, shown below the answer; what it needs is added in turn, each once.

The answer is shown under its exercise's id (``advantage_table``, whose function in the key is
``advantages``), so that ``check(advantage_table)`` finds it. Nothing names the answer key in
what is shown: the course's code is copied, never imported.
"""
from __future__ import annotations

import ast
import builtins
import inspect
import re
import symtable
import sys
import textwrap
import types
from typing import Any, Callable

__all__ = ["self_contained_source", "global_names"]

COURSE_PACKAGE = "course_utils"


def global_names(source: str) -> list[str]:
    """The names ``source`` (a module's worth of code) reads from its module's namespace that it
    does not define itself, builtins left out; sorted.

    >>> global_names("def f(x: Tensor, eps=EPS):\\n    return np.sqrt(x) + helper(x) + len(x)")
    ['EPS', 'Tensor', 'helper', 'np']
    """
    top = symtable.symtable(source, "<answer>", "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    found: set[str] = set()

    def visit(table: symtable.SymbolTable) -> None:
        for symbol in table.get_symbols():
            # at the top: annotations, defaults, decorators (read when the def runs); inside a
            # function: the names it reads from the module (is_global), not its locals or closures
            if symbol.is_referenced() and (table is top or symbol.is_global()):
                found.add(symbol.get_name())
        for child in table.get_children():
            visit(child)

    visit(top)
    return sorted(name for name in found - defined if not hasattr(builtins, name))


def _is_course(obj: Any) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module == COURSE_PACKAGE or module.startswith(COURSE_PACKAGE + ".")


def _import_line(name: str, obj: Any) -> str | None:
    """The import that binds ``name`` to ``obj`` in a fresh namespace, or None when there is none."""
    if isinstance(obj, types.ModuleType):
        parent, _, last = obj.__name__.rpartition(".")
        if obj.__name__ == name:
            return f"import {name}"
        if parent and last == name:
            return f"from {parent} import {name}"
        return f"import {obj.__name__} as {name}"
    module = getattr(obj, "__module__", None)
    if not module or module.startswith(COURSE_PACKAGE):
        return None
    for original in (name, getattr(obj, "__name__", None)):
        if original and getattr(sys.modules.get(module), original, None) is obj:
            return f"from {module} import {original}" + ("" if original == name else f" as {name}")
    return None


def _constant_statement(name: str, namespace: dict[str, Any]) -> str | None:
    """``NAME = ...`` as the module that defines ``name`` writes it (None when it is not there)."""
    module = sys.modules.get(namespace.get("__name__", ""))
    try:
        text = inspect.getsource(module) if module is not None else ""
    except (OSError, TypeError):
        return None
    for node in ast.parse(text).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets) and getattr(node, "value", None) is not None:
            return ast.get_source_segment(text, node)
    return None


def _renamed(source: str, old: str, new: str) -> str:
    """The source of ``def old(...)`` (or ``class old``) with its own name changed to ``new``."""
    if old == new:
        return source
    return re.sub(rf"^(\s*(?:async\s+def|def|class)\s+){re.escape(old)}\b", rf"\g<1>{new}", source, count=1,
                  flags=re.MULTILINE)


class _Collector:
    """Walks from the answer to everything it needs, each piece once, in the order first needed."""

    def __init__(self) -> None:
        self.imports: list[str] = []
        self.constants: list[str] = []
        self.functions: list[str] = []
        self._shown: dict[int, str] = {}  # id of a course function -> the name it is shown under
        self._names: set[str] = set()

    def code(self, source: str, namespace: dict[str, Any], own_name: str) -> None:
        """Add what ``source``, code living in ``namespace``, reads (``own_name``: its own name)."""
        for name in global_names(source):
            if name == own_name or name in self._names:
                continue
            self._names.add(name)
            if name not in namespace:
                raise ValueError(f"{own_name} reads {name!r}, which its module does not define")
            self.name(name, namespace[name], namespace)

    def name(self, name: str, obj: Any, namespace: dict[str, Any]) -> None:
        line = _import_line(name, obj)
        if line is not None:
            self.imports.append(line)
        elif _is_course(obj) and (inspect.isfunction(obj) or inspect.isclass(obj)):
            self.function(name, obj)
        elif (statement := _constant_statement(name, namespace)) is not None:
            self.code(statement, namespace, name)
            self.constants.append(statement)
        else:
            raise ValueError(f"cannot show {name!r} ({type(obj).__name__}) as code that runs on its own")

    def function(self, name: str, fn: Callable[..., Any]) -> None:
        if id(fn) in self._shown:  # the same function under a second name
            self.functions.append(f"{name} = {self._shown[id(fn)]}")
            return
        self._shown[id(fn)] = name
        source = _renamed(textwrap.dedent(inspect.getsource(fn)), fn.__name__, name)
        self.functions.append(source)  # after what needed it, before what it needs
        self.code(source, fn.__globals__, name)


def self_contained_source(answer: Callable[..., Any], exercise_id: str | None = None) -> str:
    """``answer``'s source, named ``exercise_id``, with every import, constant and course function
    it needs (this module's docstring says how they are found), as one block of code that runs in
    a fresh namespace.

    Raises ``OSError``/``TypeError`` when the source cannot be read (a sealed answer key) and
    ``ValueError`` when a name the answer reads cannot be written as code.
    """
    name = exercise_id or answer.__name__
    collector = _Collector()
    collector.function(name, answer)
    answer_source, helpers = collector.functions[0], collector.functions[1:]
    parts = []
    header = sorted(set(line for line in collector.imports if line.startswith("import "))) + \
        sorted(set(line for line in collector.imports if line.startswith("from ")))
    if header or collector.constants:
        parts.append("\n\n".join(block for block in ("\n".join(header), "\n".join(collector.constants)) if block))
    parts.append(answer_source.rstrip("\n"))
    if helpers:
        parts.append(f"# what {name} uses, from the course's own code:\n\n" +
                     "\n\n\n".join(h.rstrip("\n") for h in helpers))
    return "\n\n\n".join(parts) + "\n"
