"""Which code a grading saw: a short hash of a function's syntax tree.

Two gradings of the same function (``check(fn)`` run twice, ``course check`` on a saved workbook,
a copy of a function in a later workbook) see the same fingerprint, so that the progress store
(:mod:`course_utils.progress_store`) counts tries, not gradings. Comments, blank lines,
re-wrapping and the docstring do not change a fingerprint; names, code and decorators do.
"""
from __future__ import annotations

import ast
import copy
import hashlib
import textwrap
from typing import Optional

__all__ = ["fingerprint", "notebook_fingerprints"]


def fingerprint(source: str) -> Optional[str]:
    """A short hash of the first function ``source`` defines: its syntax tree without the
    docstring (names, code and decorators count; comments, spacing and the docstring do not).
    None when ``source`` does not parse or defines no function."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except (SyntaxError, ValueError):
        return None
    node = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    return _node_fingerprint(node) if node is not None else None


def _node_fingerprint(node: ast.AST) -> str:
    body = list(getattr(node, "body", []))
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str) and len(body) > 1:
        node = copy.copy(node)
        node.body = body[1:]
    return hashlib.sha256(ast.dump(node).encode()).hexdigest()[:16]


def notebook_fingerprints(cells: list[str]) -> dict[str, str]:
    """{function name: :func:`fingerprint`} of the functions a notebook's code cells define at
    their top level (the last definition of a name wins, as when the notebook runs top to bottom).
    A cell that does not parse as Python (IPython magics, a syntax error) is skipped after its
    magic lines are dropped."""
    out: dict[str, str] = {}
    for source in cells:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            try:
                tree = ast.parse("\n".join(line for line in source.split("\n")
                                           if not line.lstrip().startswith(("%", "!"))))
            except (SyntaxError, ValueError):
                continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out[node.name] = _node_fingerprint(node)
    return out
