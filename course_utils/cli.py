"""Command line: ``python -m course_utils <command>``.

    release [--check]        regenerate exercises/ from solutions/ (or fail if they drifted)
    progress                 show your progress through the course
    check NOTEBOOK [...]     run a workbook and grade every exercise function it defines
    list                     list every exercise id, in course order
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_release(args: argparse.Namespace) -> int:
    from course_utils.release import ReleaseError, release

    try:
        report = release(args.root, check=args.check)
    except ReleaseError as exc:
        print(f"release failed: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if report.ok:
            print("exercises/ is up to date with solutions/.")
            return 0
        for name in report.stale:
            print(f"out of date: {name}", file=sys.stderr)
        for name in report.orphans:
            print(f"no matching solutions notebook: {name}", file=sys.stderr)
        print("Run `python -m course_utils release` and commit exercises/.", file=sys.stderr)
        return 1
    for name in report.written:
        print(f"wrote {name}")
    if not report.written:
        print("exercises/ was already up to date.")
    for name in report.orphans:
        print(f"warning: {name} has no solutions notebook", file=sys.stderr)
    return 0


def _cmd_progress(args: argparse.Namespace) -> int:
    from course_utils.grading.progress_file import report

    print(repr(report()))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from course_utils.grading.spec import registry

    for ex_id, ex in registry().items():
        print(f"{ex.chapter:32s} {ex_id:30s} {ex.signature}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from course_utils.grading.runner import grade_notebook

    worst = 0
    for path in args.notebooks:
        report = grade_notebook(Path(path), cell_timeout=args.cell_timeout)
        print(report.summary())
        if args.verbose:
            for res in report.results.values():
                print("\n" + res["message"])
        if not report.all_passed:
            worst = 1
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="generate exercises/ from solutions/")
    p.add_argument("--check", action="store_true", help="only check that exercises/ is up to date")
    p.add_argument("--root", default=".", help="repository root (default: .)")
    p.set_defaults(func=_cmd_release)
    p = sub.add_parser("progress", help="show your progress")
    p.set_defaults(func=_cmd_progress)
    p = sub.add_parser("list", help="list the exercises")
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("check", help="run workbooks and grade every exercise they define")
    p.add_argument("notebooks", nargs="+")
    p.add_argument("--cell-timeout", type=int, default=120)
    p.add_argument("-v", "--verbose", action="store_true", help="print each exercise's feedback")
    p.set_defaults(func=_cmd_check)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
