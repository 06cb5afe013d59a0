"""Command line: ``python -m course_utils <command>``.

For learners:
    progress                 show your progress through the course
    check NOTEBOOK [...]     run a saved workbook and grade every exercise function it defines
    list [--json]            list every exercise and prediction, with its kind, in course order

For course authors and instructors:
    release [--check] [--force]
                             regenerate exercises/ from solutions/ (authors); it never replaces a
                             workbook someone has worked in, unless --force, which keeps a backup
                             in exercises/.backup/ (--check: only say what differs, write nothing)
    slides [--out DIR]       export every lesson to offline reveal.js slides (instructors)
    experiments NAME [...]   remake cached experiments: reference curves, lambda sweep, PPO ablation,
                             GRPO comparison (hours; `experiments list` names them)
    grade-submissions DIR --out gradebook.csv
                             grade a folder of collected workbooks in a sandbox (instructors);
                             --shard K/N grades one part of the class (a job array's task K)
    merge-gradebooks --out gradebook.csv SHARD.csv [...]
                             join the gradebooks of the shards into one, with its report
    class-report GRADEBOOK.csv [...] --out report.csv
                             the class's mistakes and per-learner totals across gradebooks
    site [--out DIR]         build the course website, offline HTML, into build/site/ (site --help)
    hosted --stamp|--check   the set-up block that lets each notebook run in a bare hosted kernel
                             (Colab, Kaggle): write it into the notebooks, or check it (hosted --help)
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _cmd_release(args: argparse.Namespace) -> int:
    from course_utils.release import ReleaseError, release

    try:
        report = release(args.root, check=args.check, force=args.force)
    except ReleaseError as exc:
        print(f"release failed: {exc}", file=sys.stderr)
        return 2
    for name in report.orphans:
        print(f"{'no matching solutions notebook' if args.check else 'warning: no solutions notebook for'}: {name}",
              file=sys.stderr)
    if args.check:
        return _release_check_verdict(report)
    for name in report.written:
        print(f"wrote {name}")
    for name in report.backups:
        print(f"kept a copy of the workbook it replaced: {name}")
    for name in report.kept:
        print(f"left as it is: {name}: someone has worked in it ({report.worked_in[name]})", file=sys.stderr)
    if report.kept:
        print("release never replaces a workbook someone has worked in. A learner: your work is safe, and this "
              "command is not for you (it is the course authors' way to make exercises/). An author: change "
              "solutions/ rather than exercises/; `release --force` replaces these workbooks and first copies "
              "each to exercises/.backup/.", file=sys.stderr)
        return 1
    if not report.written:
        print("exercises/ was already up to date.")
    return 0


def _release_check_verdict(report) -> int:
    """``release --check``: what differs and why, never a command that would replace someone's work."""
    if report.ok:
        print("exercises/ is up to date with solutions/.")
        return 0
    for name in report.stale:
        print(f"out of date: {name}: solutions/{Path(name).name} changed since it was released, and nobody "
              "has worked in it", file=sys.stderr)
    for name, holds in report.worked_in.items():
        print(f"worked in: {name} holds work that is not in the release ({holds})", file=sys.stderr)
    if report.stale:
        print("Course authors: `python -m course_utils release` regenerates the out-of-date workbooks (it leaves "
              "worked-in ones alone), then commit exercises/.", file=sys.stderr)
    if report.worked_in:
        print("A worked-in workbook is what a learner's copy should hold: nothing to do, and nothing to run. "
              "(This check is for the course's own repository, where exercises/ is only ever written by "
              "`release`: there, put the change in solutions/ instead.)", file=sys.stderr)
    return 1


def _cmd_progress(args: argparse.Namespace) -> int:
    from course_utils.catalogue import items
    from course_utils.progress_store import report

    print(repr(report(items())))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    import json

    from course_utils.catalogue import items

    rows = [{"id": item_id, "chapter": item.chapter, "kind": item.kind, "title": item.title}
            for item_id, item in items().items()]
    if args.json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
        return 0
    width = {key: max(len(row[key]) for row in rows) for key in ("chapter", "id", "kind")}
    for row in rows:
        print(f"{row['chapter']:{width['chapter']}}  {row['kind']:{width['kind']}}  {row['id']:{width['id']}}  "
              f"{row['title']}")
    kinds = {}
    for row in rows:
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
    print(f"\n{len(rows)} items: " + ", ".join(f"{n} {kind}" for kind, n in kinds.items()))
    return 0


# what the grading cell runs in the kernel (named here, above the catalogue; the protocol names nothing)
OBSERVER = "course_utils.kernel_observer:observe_source"


def _defined_exercises(code: str) -> list[str]:
    """The exercises a notebook's code defines (loads the catalogue, hence torch: only when needed)."""
    from course_utils.catalogue import defined_exercises

    return defined_exercises(code)


def _judge_observations(observed: dict, committed: dict | None = None, help_used: dict | None = None) -> dict:
    """Judge, here, what a workbook's kernel observed, the predictions its saved file holds and the
    help it shows it used (loads the catalogue, hence torch)."""
    from course_utils.notebook_verdicts import judge_observations

    return judge_observations(observed, committed, help_used)


def _record_progress(report) -> list[str]:
    """What ``check NOTEBOOK`` found goes into the learner's progress file, as ``check(...)`` does.

    An exercise is recorded with the fingerprint of its code, so that grading unchanged code again
    adds no attempt (``progress_store.py``), and only by the workbook of its own chapter: a
    function copied from an earlier workbook (``kl_categorical`` in workbook 07) is graded and
    shown, not counted twice. A prediction committed in the file (with the buttons) is recorded
    when the progress file has none yet (the first commitment counts). Returns the exercises left
    to their own workbook."""
    from course_utils.catalogue import predictions, registry
    from course_utils import progress_store

    elsewhere = []
    for ex_id, res in report.results.items():
        ex = registry().get(ex_id)
        if ex is not None and res["status"] in ("passed", "failed", "not_implemented"):
            if report.chapter and not ex.chapter.startswith(report.chapter):
                elsewhere.append(f"{ex_id} (workbook {ex.chapter[:2]})")
                continue
            progress_store.record(ex_id, res["status"], code=report.fingerprints.get(ex_id))
        elif ex_id in predictions() and res.get("passed") and res.get("choice"):
            progress_store.record_prediction(ex_id, res["choice"], res["choice"] == predictions()[ex_id].answer)
    return elsewhere


def _cmd_check(args: argparse.Namespace) -> int:
    from course_utils.grading.check_notebook import grade_notebook

    worst = 0
    for path in args.notebooks:
        report = grade_notebook(Path(path), _judge_observations, OBSERVER, cell_timeout=args.cell_timeout,
                                defined_exercises=_defined_exercises)
        print(report.summary())
        elsewhere = _record_progress(report)
        for ex_id, res in report.results.items():
            if args.verbose:
                print("\n" + res["message"])
            elif not res["passed"] and res["status"] != "not_implemented":
                # the headline of each failure: which case failed and why (-v prints the whole feedback)
                headline = [line for line in res["message"].splitlines() if line.strip()][:2]
                print("\n".join(f"    {line}" for line in headline))
        if elsewhere:
            print(f"  note: {', '.join(elsewhere)}: graded here, recorded in your progress by its own workbook "
                  "(check that one to record it).")
        if any(res["status"] == "not_implemented" for res in report.results.values()):
            print(f"  note: this grades the file saved on disk. If you solved these in JupyterLab, save the "
                  f"notebook (Ctrl+S) and run the command again.")
        if not report.all_passed:
            worst = 1
    return worst


def _cmd_slides(args: argparse.Namespace) -> int:
    from course_utils.classroom.slides import SlidesError, export_all

    try:
        written = export_all(Path(args.lessons), Path(args.out),
                             Path(args.vendor_from) if args.vendor_from else None)
    except SlidesError as exc:
        print(f"slides failed: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(f"Open them in a browser (no network needed); keep the {args.out}/_static folder beside them.")
    return 0


def _cmd_experiments(args: argparse.Namespace) -> int:
    from course_utils.experiments.command import run

    return run(args)


def _cmd_grade_submissions(args: argparse.Namespace) -> int:
    from course_utils.classroom.batch import grade_submissions, parse_shard, summarise
    from course_utils.classroom.sandbox import Limits

    root = Path(args.submissions)
    if not root.is_dir():
        print(f"{root} is not a folder of submissions.", file=sys.stderr)
        return 2
    try:
        shard = parse_shard(args.shard) if args.shard else None
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    limits = Limits(cell_timeout_s=args.timeout_cell, total_timeout_s=args.timeout_total,
                    memory_mb=args.memory_mb, cpu_s=args.cpu_seconds)
    try:
        grade_submissions(root, Path(args.out), limits, workers=args.workers, progress=not args.no_progress,
                          assignment=Path(args.assignment) if args.assignment else None, shard=shard)
    except KeyboardInterrupt:
        return 130
    from course_utils.classroom.report import write_report

    if Path(args.out).exists():  # the class's mistakes at a glance, next to the gradebook
        report = write_report([Path(args.out)], Path(args.out))
        print(f"Mistakes of the class: {report['html']} ({report['mistakes'].name}, {report['learners'].name})")
    counts = summarise(Path(args.out))
    print("Status of all rows: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    return 0


def _cmd_merge_gradebooks(args: argparse.Namespace) -> int:
    from course_utils.classroom.report import merge_gradebooks

    try:
        n = merge_gradebooks([Path(p) for p in args.shards], Path(args.out))
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"Merged {n} rows from {len(args.shards)} gradebook(s) -> {args.out}")
    return 0


def _cmd_class_report(args: argparse.Namespace) -> int:
    from course_utils.classroom.report import write_report

    missing = [p for p in args.gradebooks if not Path(p).is_file()]
    if missing:
        print(f"not a gradebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    paths = write_report([Path(p) for p in args.gradebooks], Path(args.out))
    print("\n".join(f"wrote {p}" for p in paths.values()))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["site"]:  # its options live in course_utils/site.py (needs the `site` extra)
        from course_utils.site import main as site_main

        return site_main(argv[1:])
    if argv[:1] == ["hosted"]:  # its options live in course_utils/hosted.py
        from course_utils.hosted import main as hosted_main

        return hosted_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m course_utils", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("progress", help="show your progress")
    p.set_defaults(func=_cmd_progress)
    p = sub.add_parser("list", help="list the exercises and predictions, with their kind")
    p.add_argument("--json", action="store_true", help="one JSON object per item: id, chapter, kind, title")
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("check", help="run workbooks and grade every exercise they define")
    p.add_argument("notebooks", nargs="+")
    p.add_argument("--cell-timeout", type=int, default=120)
    p.add_argument("-v", "--verbose", action="store_true", help="print each exercise's feedback")
    p.set_defaults(func=_cmd_check)
    p = sub.add_parser("release", help="(course authors) generate exercises/ from solutions/; keeps worked-in workbooks",
                       description="Course authors: regenerate the learners' workbooks (exercises/) from the solved "
                                   "ones (solutions/). A workbook someone has worked in (edited cells, outputs) is "
                                   "never replaced, unless --force, which first copies it to exercises/.backup/.")
    p.add_argument("--check", action="store_true",
                   help="write nothing: say which workbooks differ from the release, and why")
    p.add_argument("--force", action="store_true",
                   help="also replace worked-in workbooks, each after a backup in exercises/.backup/")
    p.add_argument("--root", default=".", help="repository root (default: .)")
    p.set_defaults(func=_cmd_release)
    p = sub.add_parser("slides", help="export every lesson to offline HTML slides")
    p.add_argument("--out", default="build/slides", help="output folder (default: build/slides)")
    p.add_argument("--lessons", default="notebooks", help="folder of lessons (default: notebooks)")
    p.add_argument("--vendor-from", default=None,
                   help="folder with the npm tarballs of reveal.js & co. (default: fetch with `npm pack`)")
    p.set_defaults(func=_cmd_slides)
    p = sub.add_parser("experiments", help="remake cached experiments (reference curves, sweeps, ablations)")
    from course_utils.experiments.command import add_arguments

    add_arguments(p)
    p.set_defaults(func=_cmd_experiments)
    p = sub.add_parser("grade-submissions", help="grade collected workbooks, each in a sandbox")
    p.add_argument("submissions", help="folder of submitted .ipynb files (subfolders per student are fine)")
    p.add_argument("--out", default="gradebook.csv", help="CSV gradebook; rerun to resume (default: gradebook.csv)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel submissions (default: all cores)")
    p.add_argument("--timeout-cell", type=int, default=60, help="seconds per cell before it is interrupted (default: 60)")
    p.add_argument("--timeout-total", type=int, default=600, help="seconds per submission in all (default: 600)")
    p.add_argument("--memory-mb", type=int, default=4096, help="address-space limit per submission (default: 4096)")
    p.add_argument("--cpu-seconds", type=int, default=None, help="CPU-time limit (default: the total timeout)")
    p.add_argument("--assignment", default=None,
                   help="the released workbook every submission answers, e.g. exercises/01_log_derivative_trick.ipynb "
                        "(default: each submission's own workbook, from its metadata or file name); its exercises "
                        "set the denominator")
    p.add_argument("--shard", default=None, metavar="K/N",
                   help="grade only shard K of N (K from 0; a learner's notebooks stay in one shard): one task of a "
                        "Slurm job array or a Kubernetes indexed Job; merge-gradebooks joins the shards")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_grade_submissions)
    p = sub.add_parser("merge-gradebooks", help="join the gradebooks of grade-submissions --shard runs into one")
    p.add_argument("shards", nargs="+", help="the shards' gradebook CSVs")
    p.add_argument("--out", required=True, help="the merged gradebook CSV (its report, chart and feedback beside it)")
    p.set_defaults(func=_cmd_merge_gradebooks)
    p = sub.add_parser("class-report", help="the class's mistakes and per-learner totals from several gradebooks")
    p.add_argument("gradebooks", nargs="+", help="gradebook CSVs (their _items.csv sidecars beside them)")
    p.add_argument("--out", required=True, help="name of the report: OUT_mistakes.csv, OUT_learners.csv, OUT_report.html")
    p.set_defaults(func=_cmd_class_report)
    sub.add_parser("site", help="build the course website into build/site/ (site --help: its options)")
    sub.add_parser("hosted", help="write/check the set-up block for hosted kernels (hosted --help: its options)")
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
