"""Decks that present (issue 26): every lesson's offline deck, laid out for a projector.

* The layout on small notebooks made here: the hosted install block gone and the set-up folded,
  long code folded with its outputs kept, a tall markdown cell cut at its paragraphs (never inside a
  formula or a code fence, a table's header repeated), a cell's outputs spread over sub-slides, and
  the packer's sub-slides within the budget.
* Speaker notes: every lesson has a notes file whose every heading matches a heading of the lesson,
  and whose minutes add up to the lecture time (L) of the chapter's plan in INSTRUCTORS.md.
* In Chromium at 1280x720: every deck of ``notebooks/`` built by the real exporter, no slide taller
  (or wider) than the deck, and every deck carries notes. Skips without the vendored JavaScript
  (npm or its cache), Chromium or selenium.
"""
from __future__ import annotations

import os
import re
import shutil

import nbformat
import pytest

from course_utils import hosted
from course_utils.classroom import slides
from tests.conftest import ROOT

LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _slide_type(cell) -> str:
    return cell.metadata.get("slideshow", {}).get("slide_type", "-")


def _notebook(cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    for index, cell in enumerate(nb.cells):
        cell.id = f"c{index}"
    return nb


def _code(source, outputs=(), slide_type="-"):
    cell = nbformat.v4.new_code_cell(source, metadata={"slideshow": {"slide_type": slide_type}})
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


def _text(source, slide_type="-"):
    return nbformat.v4.new_markdown_cell(source, metadata={"slideshow": {"slide_type": slide_type}})


def _stream(lines: int):
    return {"output_type": "stream", "name": "stdout", "text": "".join(f"line {i}\n" for i in range(lines))}


def _png(width: int, height: int):
    import base64
    import struct
    import zlib

    raw = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw += struct.pack(">I", zlib.crc32(raw[12:29]))
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(raw).decode(), "text/plain": "<Figure>"}}


def _groups(cells) -> list[list]:
    """The cells of each (sub-)slide, in order."""
    groups: list[list] = []
    for cell in cells:
        if not groups or _slide_type(cell) in ("slide", "subslide"):
            groups.append([])
        groups[-1].append(cell)
    return groups


def test_setup_block_and_long_code_fold_outputs_stay():
    setup = hosted.BEGIN + "\nimport os\nprint('installing')\n" + hosted.END + "\n\nimport torch\nseed_everything(0)"
    plotting = "\n".join(["fig, ax = plt.subplots()"] + [f"ax.plot([{i}])" for i in range(8)])
    short = "x = 1\nprint(x)"
    nb = _notebook([_text("# Title", "slide"), _code(setup), _code(plotting, [_png(600, 400)], "subslide"),
                    _code(short, [_stream(1)]), _code("\n".join(f"y{i} = {i}" for i in range(30)))])
    laid, unmatched = slides.layout(nb, [])
    assert unmatched == []
    folds = [c for c in laid.cells if c.cell_type == "markdown" and c.source.startswith('<details class="course-fold">')]
    assert len(folds) == 3, [c.source[:60] for c in laid.cells]
    assert "Set-up code (2 lines)" in folds[0].source and "installing" not in folds[0].source
    assert "Plotting code (9 lines)" in folds[1].source and "Code (30 lines)" in folds[2].source
    assert "\n" not in folds[1].source  # one HTML line: markdown passes it through whole
    # the folded cell keeps its outputs, without its source; the fold takes its place in the deck
    plot_cell = laid.cells[laid.cells.index(folds[1]) + 1]
    assert plot_cell.outputs and plot_cell.metadata["transient"]["remove_source"]
    assert _slide_type(folds[1]) == "subslide" and _slide_type(plot_cell) == "-"
    assert any(c.source == short and not c.metadata.get("transient") for c in laid.cells)  # short code stays
    assert nb.cells[1].source == setup  # the lesson itself is not changed


def test_tall_markdown_is_cut_at_paragraphs_and_slides_fit():
    paragraph = " ".join(["words"] * 60)
    formula = "$$\na = b\n\nc = d\n$$"
    table = "| a | b |\n|---|---|\n" + "\n".join(f"| {i} | {i * i} |" for i in range(30))
    source = "## 3 · A long section\n\n" + "\n\n".join([paragraph] * 6 + [formula] + [paragraph] * 4 + [table])
    nb = _notebook([_text(source, "slide"), _code("print(1)", [_png(640, 480), _stream(40)])])
    laid, _ = slides.layout(nb, [])
    parts = [c for c in laid.cells if c.cell_type == "markdown"]
    assert len(parts) > 2
    assert "".join(p.source for p in parts).count("$$") == 2 and any(formula in p.source for p in parts)
    tables = [p.source for p in parts if "| a | b |" in p.source]
    assert len(tables) >= 2 and all(t.count("| a | b |") == 1 for t in tables)  # the header on every piece
    assert sum(t.count("|---|---|") for t in tables) == len(tables)
    rows = [line for t in tables for line in t.splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(rows) == 30
    # the figure and the long printout go on two sub-slides; no (sub-)slide over the budget
    code = [c for c in laid.cells if c.cell_type == "code"]
    assert [len(c.outputs) for c in code] == [1, 1] and code[1].metadata["transient"]["remove_source"]
    for group in _groups(laid.cells):
        assert sum(slides.estimated_height(c) for c in group) <= slides.SLIDE_BUDGET_PX or len(group) == 1
    assert _slide_type(laid.cells[0]) == "slide"


def test_notes_are_placed_by_heading_text_or_number():
    nb = _notebook([_text("# 05 · Title\n\nIntro", "slide"), _text("## 1 · Old name\n\ntext", "slide"),
                    _text("### A subsection\n\nmore"), _text("## Summary", "slide")])
    notes = [("05 · Title", "plan"), ("1 · New name", "one"), ("A subsection", "sub"), ("Summary", "end"),
             ("Nowhere", "lost")]
    laid, unmatched = slides.layout(nb, notes)
    assert unmatched == ["Nowhere"]
    kinds = [(_slide_type(c), c.source.split("\n")[0]) for c in laid.cells]
    assert kinds == [("slide", "# 05 · Title"), ("notes", "plan"), ("slide", "## 1 · Old name"), ("notes", "one"),
                     ("-", "### A subsection"), ("notes", "sub"), ("slide", "## Summary"), ("notes", "end")]


def _plans() -> dict[str, int]:
    """Chapter -> the minutes of lecture (L) in INSTRUCTORS.md's plan."""
    text = (ROOT / "INSTRUCTORS.md").read_text(encoding="utf-8")
    plans = {}
    for match in re.finditer(r"^### (\d\d) ·", text, re.M):
        body = text[match.end():match.end() + 3000]
        found = re.search(r"\*\*Plan\.\*\* L (\d+)", body)
        if found:
            plans[match.group(1)] = int(found.group(1))
    return plans


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_every_lesson_has_speaker_notes_that_match_and_add_up(lesson):
    path = slides.notes_file(lesson)
    assert path.is_file(), f"{lesson.name} has no speaker notes: write {path.relative_to(ROOT)}"
    notes = slides.read_notes(path)
    laid, unmatched = slides.layout(nbformat.read(str(lesson), as_version=4), notes)
    assert not unmatched, f"{path.name}: no heading of {lesson.name} is {unmatched}"
    assert sum(_slide_type(c) == "notes" for c in laid.cells) == len([n for n in notes if n[1]]) >= 4
    minutes = sum(int(m) for m in re.findall(r"\*\*(\d+) min\.\*\*", path.read_text(encoding="utf-8")))
    assert minutes == _plans()[lesson.stem[:2]], f"{path.name}: the notes' minutes do not add up to the plan's L"


def _vendored() -> bool:
    cached = all((slides.cache_dir() / v.filename).is_file() for v in slides.VENDORS)
    return cached or shutil.which("npm") is not None or bool(os.environ.get("COURSE_SLIDES_CACHE"))


MEASURE = """
const done = arguments[arguments.length - 1];
require(["_static/reveal.js/dist/reveal.js"], function (Reveal) {
  const measure = () => {
    if (!Reveal.isReady()) { return setTimeout(measure, 100); }
    Reveal.configure({viewDistance: 1000, transition: "none"});
    const rows = [];
    Reveal.getHorizontalSlides().forEach((top, h) => {
      const leaves = top.querySelectorAll(":scope > section");
      (leaves.length ? Array.from(leaves) : [top]).forEach((leaf, v) => {
        leaf.style.display = "block"; leaf.style.height = "auto"; leaf.style.overflowY = "visible";
        const heading = leaf.querySelector("h1, h2, h3");
        rows.push([h, v, leaf.scrollHeight, leaf.scrollWidth, heading ? heading.textContent.slice(0, 50) : ""]);
      });
    });
    done({height: Reveal.getConfig().height, width: Reveal.getConfig().width, rows: rows,
          notes: document.querySelectorAll("aside.notes").length,
          window: [window.innerWidth, window.innerHeight]});
  };
  measure();
});
"""


@pytest.mark.skipif(not _vendored(), reason="npm (or its cache) is needed once to fetch reveal.js for the slides")
def test_no_slide_is_taller_than_the_deck_in_chromium(tmp_path):
    from tests.chromium import CHROMEDRIVER, CHROMIUM, chromium

    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Chromium and chromedriver are needed (Debian: chromium, chromium-driver)")
    decks = slides.export_all(ROOT / "notebooks", tmp_path)
    assert len(decks) == len(LESSONS)
    problems = []
    with chromium() as driver:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 1280, "height": 720, "deviceScaleFactor": 1, "mobile": False})
        driver.set_script_timeout(90)
        for deck in decks:
            driver.get(deck.as_uri())
            seen = driver.execute_async_script(MEASURE)
            assert seen["window"] == [1280, 720]
            if not seen["notes"]:
                problems.append(f"{deck.name}: no speaker notes")
            for h, v, height, width, heading in seen["rows"]:
                if height > seen["height"] or width > seen["width"]:
                    problems.append(f"{deck.name} slide {h}/{v} ({heading!r}): {width} x {height} px, "
                                    f"the deck is {seen['width']} x {seen['height']}")
    assert not problems, "\n".join(problems)
