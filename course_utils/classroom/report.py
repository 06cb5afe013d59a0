"""The class's mistakes at a glance, and the merge of shard gradebooks.

:func:`write_report` reads one or more gradebooks (``gradebook.csv`` and its per-item sidecar
``gradebook_items.csv``, both written by :mod:`course_utils.classroom.batch`) and writes, next
to the gradebook it is named after:

* ``<stem>_mistakes.csv``: one row per (item, category, name) with a count across the class;
  category ``status`` (passed, failed, not_implemented, missing, not_run, ...), ``flagged``
  (submissions flagged for the instructor that hold the item), ``help`` (submissions that used a
  hint or showed the answer) and ``mistake`` (each catalogued mistake the diagnoses named, by its
  name in the catalogue; ``(no diagnosis)`` for a failure no catalogued mistake reproduces);
* ``<stem>_learners.csv``: one row per learner (the first folder of the identifier, else the
  identifier itself): the points of each assignment and the total across them;
* ``<stem>_report.html``: both as plain HTML tables (no script, nothing fetched), to project.

``python -m course_utils class-report GRADEBOOK... --out report.csv`` rebuilds them from several
gradebooks (one per assignment); ``python -m course_utils merge-gradebooks --out gradebook.csv
SHARD...`` joins the gradebooks of ``grade-submissions --shard K/N`` runs into one (rows sorted
by identifier), with their sidecars and feedback, then writes the chart and the report.
"""
from __future__ import annotations

import csv
import html
import shutil
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable

from course_utils.classroom.batch import (FIXED_COLUMNS_AFTER, FIXED_COLUMNS_BEFORE, ITEM_COLUMNS, _write_all,
                                          items_path, learner_of, outputs_for, pass_rate_chart, read_gradebook)

STATUSES = ["passed", "failed", "not_implemented", "missing", "not_run"]
NO_DIAGNOSIS = "(no diagnosis)"


def report_paths(gradebook: Path) -> dict[str, Path]:
    stem = gradebook.with_name(gradebook.stem)
    return {"mistakes": Path(f"{stem}_mistakes.csv"), "learners": Path(f"{stem}_learners.csv"),
            "html": Path(f"{stem}_report.html")}


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _items(gradebook: Path) -> list[dict[str, str]]:
    """The per-item rows of a gradebook's rows (the last of duplicates after an interruption); from
    the gradebook's columns when it has no sidecar (mistakes and help then unknown)."""
    header, rows = read_gradebook(gradebook)
    graded = {r["identifier"]: r for r in rows}
    found: dict[tuple[str, str], dict[str, str]] = {}
    for item in _read_csv(items_path(gradebook)):
        if item.get("identifier") in graded:
            found[(item["identifier"], item.get("item", ""))] = item
    exercises = [c for c in header if c not in FIXED_COLUMNS_BEFORE + FIXED_COLUMNS_AFTER]
    for ident, row in graded.items():
        for ex in exercises:
            if row.get(ex) and (ident, ex) not in found:
                found[(ident, ex)] = {"identifier": ident, "learner": learner_of(ident), "item": ex,
                                      "status": row[ex], "mistake": "", "help": "",
                                      "flagged": "1" if "FLAG:" in row.get("detail", "") else ""}
    return list(found.values())


def mistake_counts(gradebooks: Iterable[Path]) -> list[dict[str, str]]:
    """Rows ``{item, category, name, count}`` across the class (see the module's docstring)."""
    counts: dict[str, Counter] = defaultdict(Counter)
    order: list[str] = []
    for gradebook in gradebooks:  # items in the gradebook's column order (course order), whatever the rows' order
        header = read_gradebook(gradebook)[0]
        order += [c for c in header if c not in FIXED_COLUMNS_BEFORE + FIXED_COLUMNS_AFTER + order]
        for item in _items(gradebook):
            ex = item["item"]
            if ex not in order:
                order.append(ex)
            counts[ex][("status", item["status"])] += 1
            if item.get("flagged"):
                counts[ex][("flagged", "flagged")] += 1
            if item.get("help"):
                counts[ex][("help", "help used")] += 1
            if item["status"] == "failed":
                counts[ex][("mistake", item.get("mistake") or NO_DIAGNOSIS)] += 1
    rows = []
    for ex in (e for e in order if e in counts):
        c = counts[ex]
        keys = [("status", s) for s in STATUSES] + sorted(k for k in c if k[0] == "status" and k[1] not in STATUSES)
        keys += [("flagged", "flagged"), ("help", "help used")]
        keys += sorted((k for k in c if k[0] == "mistake"), key=lambda k: (-c[k], k[1]))
        rows += [{"item": ex, "category": cat, "name": name, "count": str(c[(cat, name)])} for cat, name in keys]
    return rows


def learner_totals(gradebooks: Iterable[Path]) -> tuple[list[str], list[dict[str, str]]]:
    """Per learner: ``total``/``max`` of every assignment (the identifier after the learner's folder,
    else the gradebook's name) and across them."""
    assignments: list[str] = []
    table: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    for gradebook in gradebooks:
        for row in read_gradebook(gradebook)[1]:
            ident = row["identifier"]
            name = ident.split("/", 1)[1] if "/" in ident else gradebook.stem
            if name not in assignments:
                assignments.append(name)
            try:
                table[learner_of(ident)][name] = (int(row.get("total") or 0), int(row.get("max") or 0))
            except ValueError:
                table[learner_of(ident)][name] = (0, 0)
    header = ["learner"] + assignments + ["total", "max"]
    rows = []
    for learner in sorted(table):
        got = table[learner]
        row = {"learner": learner, **{a: f"{got[a][0]}/{got[a][1]}" for a in assignments if a in got}}
        row.update(total=str(sum(t for t, _ in got.values())), max=str(sum(m for _, m in got.values())))
        rows.append(row)
    return header, rows


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_report(gradebooks: list[Path], target: Path) -> dict[str, Path]:
    """Write the mistakes CSV, the learners CSV and the HTML page named after ``target``."""
    paths = report_paths(target)
    mistakes = mistake_counts(gradebooks)
    with paths["mistakes"].open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["item", "category", "name", "count"])
        writer.writeheader()
        writer.writerows(mistakes)
    header, learners = learner_totals(gradebooks)
    _write_all(paths["learners"], header, learners)
    by_item: dict[str, dict[tuple[str, str], str]] = defaultdict(dict)
    for r in mistakes:
        by_item[r["item"]][(r["category"], r["name"])] = r["count"]
    status_rows = [[ex] + [c.get(("status", s), "0") for s in STATUSES]
                   + [c.get(("flagged", "flagged"), "0"), c.get(("help", "help used"), "0")]
                   for ex, c in by_item.items()]
    mistake_rows = [[r["item"], r["name"], r["count"]] for r in mistakes if r["category"] == "mistake"]
    page = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>The class's mistakes</title>",
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
            "td,th{border:1px solid #999;padding:4px 10px;text-align:left}th{background:#eee}</style></head><body>",
            f"<h1>The class's mistakes</h1><p>From {html.escape(', '.join(g.name for g in gradebooks))}.</p>",
            "<h2>Status per item</h2>",
            _table(["item"] + STATUSES + ["flagged", "help used"], status_rows),
            "<h2>Diagnosed mistakes of the failures</h2>", _table(["item", "mistake", "submissions"], mistake_rows),
            "<h2>Per learner</h2>", _table(header, [[r.get(h, "") for h in header] for r in learners]),
            "</body></html>"]
    paths["html"].write_text("\n".join(page), encoding="utf-8")
    return paths


def merge_gradebooks(shards: list[Path], out: Path, log=print) -> int:
    """Join shard gradebooks (and their item sidecars and feedback) into ``out``; rows sorted by
    identifier; an identifier in two shards is kept from the first and reported. Returns the rows."""
    exercises: list[str] = []
    rows: dict[str, dict[str, str]] = {}
    items: list[dict[str, str]] = []
    for shard in shards:
        header, shard_rows = read_gradebook(shard)
        if not header:
            raise FileNotFoundError(f"{shard} is not a gradebook")
        exercises += [c for c in header if c not in FIXED_COLUMNS_BEFORE + FIXED_COLUMNS_AFTER + exercises]
        new = set()
        for r in shard_rows:
            if r["identifier"] in rows:
                log(f"WARNING: {r['identifier']} is in more than one shard; kept the first.")
                continue
            rows[r["identifier"]] = r
            new.add(r["identifier"])
        items += [i for i in _items(shard) if i["identifier"] in new]
        _, feedback = outputs_for(shard)
        if feedback.is_dir():
            target = outputs_for(out)[1]
            target.mkdir(parents=True, exist_ok=True)
            for md in feedback.glob("*.md"):
                shutil.copyfile(md, target / md.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_all(out, FIXED_COLUMNS_BEFORE + exercises + FIXED_COLUMNS_AFTER, [rows[k] for k in sorted(rows)])
    _write_all(items_path(out), ITEM_COLUMNS, sorted(items, key=lambda i: (i["identifier"], i["item"])))
    pass_rate_chart(out, outputs_for(out)[0])
    write_report([out], out)
    return len(rows)
