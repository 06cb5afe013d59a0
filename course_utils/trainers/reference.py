"""Old home of the reference learning curves, kept for the lessons that import
``from course_utils.trainers.reference import load_reference``; they live in
:mod:`course_utils.experiments.reference_curves`. ``python -m course_utils.trainers.reference NAME``
still works and runs ``python -m course_utils experiments NAME``.
"""
from __future__ import annotations

from course_utils.experiments.reference_curves import (  # noqa: F401
    OPTIONAL,
    REFERENCES,
    WINDOW,
    ReferenceCurve,
    load_reference,
    make_reference,
    reference_names,
)

__all__ = ["REFERENCES", "ReferenceCurve", "load_reference", "reference_names", "make_reference"]


def main(argv: list[str] | None = None) -> int:
    import sys

    from course_utils.experiments.command import main as experiments

    argv = sys.argv[1:] if argv is None else argv
    names = [a for a in argv if not a.startswith("-")][:1]
    return experiments(argv if names and not argv[0].startswith("-") else ["reference_curves", *argv])


if __name__ == "__main__":
    raise SystemExit(main())
