"""Export every lesson of ``notebooks/`` to reveal.js slides that work offline.

``python -m course_utils slides [--out build/slides]`` writes ``NN_topic.slides.html`` per lesson
plus one ``_static/`` folder beside them holding reveal.js, require.js, jQuery, MathJax 3 and
the Jupyter widgets renderer. The HTML loads every script and style sheet from ``_static/``
by a relative path, so the folder can be copied to a USB stick and presented with no network.

The JavaScript comes from the npm registry (``npm pack``, pinned versions, integrity checked)
the first time and is cached in ``~/.cache/course-utils/npm``; later runs reuse it. Without npm or network, pass ``--vendor-from
DIR`` with the five ``.tgz`` files (e.g. copied from a machine that has them).

Live presenting in JupyterLab uses the ``jupyterlab-rise`` extension instead (toolbar button
"Render as slideshow", or Alt+R): both read the same slide metadata of the cells.

The lessons are written to be read, so the builder lays each one out for a projector on a copy
(the lesson files are never changed), in :func:`layout`:

* the hosted install block is dropped and the rest of the set-up cell (imports, seeding) folded
  into a closed ``<details>`` ("Set-up code"); so is a long code cell (more than
  ``FOLD_LINES`` lines, or ``FOLD_PLOT_LINES`` for plotting code): its outputs stay on the slide;
* a markdown cell too tall for one slide is cut at its blank lines (never inside a code fence or a
  display formula), and the cells of a slide are packed into vertical sub-slides whose estimated
  height (:func:`estimated_height`, calibrated on Chromium at 1280x720) stays below
  ``SLIDE_BUDGET_PX`` of the deck's 700 px; long code lines wrap and tall figures and printouts
  are capped by the deck's style sheet (``DECK_CSS``);
* speaker notes (reveal.js ``<aside class="notes">``, press ``S``) come from
  ``docs/speaker_notes/NN.md``: one ``#``-section per heading of the lesson, matched by the
  heading's text (or its number, "3 ·", when the text changed), each placed on the slide of
  its heading. ``tests/test_slides.py`` opens every deck in Chromium at 1280x720 and checks
  that no slide is taller than the deck and that every deck has notes.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import html
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATIC = "_static"
TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "data" / "slides_template"
NOTES_DIR = Path(__file__).resolve().parents[2] / "docs" / "speaker_notes"  # NN.md per lesson


@dataclass(frozen=True)
class Vendor:
    """One npm package and the files of it the slides need (paths inside the tarball)."""

    spec: str
    filename: str
    integrity: str
    target: str  # folder under _static/
    members: tuple[str, ...]  # files or folders (a trailing "/") below package/


VENDORS: tuple[Vendor, ...] = (
    Vendor("reveal.js@4.6.1", "reveal.js-4.6.1.tgz",
           "sha512-1CW0auaXNPmwmvQ7TwpszwVxMi2Xr5cTS3J3EBC/HHgbPF32Dn7aiu/LKWDOGjMbaDwKQiGmfqcoGQ74HUHCMw==",
           "reveal.js", ("dist/reveal.js", "dist/reveal.css", "dist/theme/white.css",
                         "dist/theme/fonts/source-sans-pro/", "plugin/notes/notes.js", "LICENSE")),
    Vendor("requirejs@2.3.7", "requirejs-2.3.7.tgz",
           "sha512-DouTG8T1WanGok6Qjg2SXuCMzszOo0eHeH9hDZ5Y4x8Je+9JB38HdTLT4/VA8OaUhBa0JPVHJ0pyBkM1z+pDsw==",
           "requirejs", ("require.js", "LICENSE")),
    Vendor("jquery@3.7.1", "jquery-3.7.1.tgz",
           "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
           "jquery", ("dist/jquery.min.js", "LICENSE.txt")),
    Vendor("mathjax@3.2.2", "mathjax-3.2.2.tgz",
           "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
           "mathjax", ("es5/tex-svg-full.js", "LICENSE")),
    Vendor("@jupyter-widgets/html-manager@1.0.11", "jupyter-widgets-html-manager-1.0.11.tgz",
           "sha512-MC0bD2uhaMjq+Wf64jXtydqCUNrNdElldMH19QAujAAiag0aGYA41s9PMPVEuVH1+RpqI7MQUqWkaAIbx4xMQQ==",
           "html-manager", ("dist/embed-amd.js", "LICENSE")),
    # matplotlib's animation player (an output of 00_setup) links Font Awesome 4 from a CDN.
    Vendor("font-awesome@4.7.0", "font-awesome-4.7.0.tgz",
           "sha512-U6kGnykA/6bFmg1M/oT9EkFeIYv7JlX3bozwQJWiiLz6L0w3F5vBVPxHlwyX/vtNq1ckcpRKOB9f2Qal/VtFpg==",
           "font-awesome", ("css/font-awesome.min.css", "fonts/fontawesome-webfont.woff2",
                            "fonts/fontawesome-webfont.woff", "fonts/fontawesome-webfont.ttf", "README.md")),
)

# Style sheets and scripts that notebook *outputs* link from a CDN, and their local copies.
_CDN_REWRITES = {
    re.compile(r"https?://maxcdn\.bootstrapcdn\.com/font-awesome/[\d.]+/css/font-awesome(\.min)?\.css"):
        f"{STATIC}/font-awesome/css/font-awesome.min.css",
}
_REMOTE_ASSET = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(https?:)?//[^\"'\s>]+", re.IGNORECASE)


class SlidesError(RuntimeError):
    """The slides could not be built; the message says what to do."""


def _integrity_ok(tarball: Path, integrity: str) -> bool:
    algo, _, expected = integrity.partition("-")
    digest = hashlib.new(algo, tarball.read_bytes()).digest()
    return base64.b64encode(digest).decode() == expected


def cache_dir() -> Path:
    """Where fetched tarballs are kept between runs (``COURSE_SLIDES_CACHE`` overrides)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "course-utils" / "npm"
    return Path(os.environ.get("COURSE_SLIDES_CACHE", default))


def _fetch(vendor: Vendor, workdir: Path, vendor_from: Path | None) -> Path:
    """The package's tarball: from ``vendor_from`` if given, else the cache, else ``npm pack``."""
    cached = cache_dir() / vendor.filename
    if vendor_from is None and cached.is_file() and _integrity_ok(cached, vendor.integrity):
        return cached
    if vendor_from is not None:
        tarball = vendor_from / vendor.filename
        if not tarball.is_file():
            raise SlidesError(f"{tarball} is missing: put the npm tarball of {vendor.spec} there "
                              f"(`npm pack {vendor.spec}` makes it).")
    else:
        if shutil.which("npm") is None:
            raise SlidesError("the slides need reveal.js and friends, fetched once with npm, which is not "
                              "installed. Install Node.js, or pass --vendor-from DIR with the tarballs.")
        proc = subprocess.run(["npm", "pack", vendor.spec, "--silent"], cwd=workdir,
                              capture_output=True, text=True, timeout=300)
        tarball = workdir / vendor.filename
        if proc.returncode != 0 or not tarball.is_file():
            raise SlidesError(f"`npm pack {vendor.spec}` failed (no network?): {proc.stderr.strip()[-400:]}")
    if not _integrity_ok(tarball, vendor.integrity):
        raise SlidesError(f"{tarball.name} does not match the pinned integrity of {vendor.spec}; refusing to use it.")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tarball, cached)
    except OSError:
        pass  # a read-only cache only costs a download next time
    return tarball


def _extract(vendor: Vendor, tarball: Path, dest: Path) -> None:
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            rel = member.name.removeprefix("package/")
            if not member.isfile() or not any(rel == m or (m.endswith("/") and rel.startswith(m))
                                              for m in vendor.members):
                continue
            target = dest / vendor.target / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tar.extractfile(member)
            assert src is not None
            target.write_bytes(src.read())


def ensure_static(out: Path, vendor_from: Path | None = None) -> Path:
    """Make sure ``out/_static`` holds every vendored file; fetch only what is missing."""
    static = out / STATIC
    missing = [v for v in VENDORS
               if not all((static / v.target / m).exists() for m in v.members if not m.endswith("/"))]
    if missing:
        with tempfile.TemporaryDirectory(prefix="course-slides-") as tmp:
            for vendor in missing:
                _extract(vendor, _fetch(vendor, Path(tmp), vendor_from), static)
    return static


def remote_assets(html_text: str) -> list[str]:
    """Every script or style sheet that ``html_text`` would load from another host."""
    return [m.group(0) for m in _REMOTE_ASSET.finditer(html_text)]


# --- laying a lesson out for a projector -------------------------------------------------------
# Heights in CSS pixels of the deck (reveal.js scales its 960x700 to the window), measured in Chromium
# at 1280x720 on this course's decks: a code line 22.8 px (+22 px per cell), a markdown line wrapped at
# ~95 characters about 25 px (display math and lists more: the estimate below errs on the tall side).
DECK_HEIGHT_PX = 700
SLIDE_BUDGET_PX = 590  # what the packer fills; the rest is margin for the estimate's error
FOLD_LINES = 14  # code longer than this is folded on the slide
FOLD_PLOT_LINES = 6  # plotting code longer than this too
IMAGE_MAX_PX = 420  # figures taller than this are scaled down (DECK_CSS)
PRINTOUT_MAX_PX = 260  # printed text taller than this scrolls inside its box (DECK_CSS)
_PLOTTING = re.compile(r"\b(plt|ax|axes|fig)\.\w+\(|\bplot_\w+\(")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_NUMBERED = re.compile(r"^(\d+)\s*·")

DECK_CSS = f"""
<style>
/* course_utils.classroom.slides: a lesson laid out for a projector */
.reveal .jp-InputArea pre, .reveal details.course-fold pre {{ white-space: pre-wrap; word-break: normal;
  overflow-wrap: anywhere; }}
.reveal .jp-OutputArea-output pre {{ white-space: pre-wrap; word-break: normal; overflow-wrap: anywhere; }}
.reveal .jp-OutputArea-output img {{ max-height: {IMAGE_MAX_PX}px; width: auto; max-width: 100%; }}
.reveal .jp-OutputArea-output pre {{ max-height: {PRINTOUT_MAX_PX}px; overflow-y: auto; }}
.reveal details.course-fold {{ margin: 4px 0 4px 0; font-size: 15px; text-align: left; }}
.reveal details.course-fold > summary {{ cursor: pointer; color: #555; }}
.reveal details.course-fold[open] .highlight {{ max-height: 520px; overflow-y: auto; }}
</style>
"""


def _png_size(data: str) -> tuple[int, int]:
    try:
        raw = base64.b64decode(data[:64])
        return struct.unpack(">II", raw[16:24])
    except Exception:  # noqa: BLE001
        return 600, 400


def _wrapped_lines(text: str, width: int = 90) -> int:
    return sum(max(1, -(-len(line) // width)) for line in text.splitlines() if line.strip())


def _output_height(output: dict[str, Any]) -> float:
    data = output.get("data", {})
    if "image/png" in data:
        w, h = _png_size(data["image/png"])
        return min(h * min(1.0, 900 / max(w, 1)), IMAGE_MAX_PX) + 30
    if "application/vnd.jupyter.widget-view+json" in data:
        return 45
    if "text/html" in data:
        return 430  # an animation player, a table
    text = output.get("text") or data.get("text/plain") or ""
    text = "".join(text) if isinstance(text, list) else text
    return min(23 * _wrapped_lines(text, 60) + 16, PRINTOUT_MAX_PX + 16) if text.strip() else 0


def estimated_height(cell: Any) -> float:
    """About how tall ``cell`` is on a slide, in the deck's CSS pixels (errs on the tall side)."""
    if cell.metadata.get("slideshow", {}).get("slide_type") in ("notes", "skip"):
        return 0
    if cell.cell_type == "markdown" and cell.source.startswith('<details class="course-fold">'):
        return 45
    if cell.cell_type == "markdown":
        lines = cell.source.splitlines()
        rows = [line for line in lines if line.lstrip().startswith("|")]  # a table's cells wrap in narrow columns
        text = "\n".join(line for line in lines if not line.lstrip().startswith("|"))
        blanks = sum(1 for line in lines if not line.strip())
        headings = sum(1 for line in lines if _HEADING.match(line))
        display_math = text.count("$$") // 2
        # x1.3: the largest ratio of measured to estimated height over the course's markdown cells was 1.27
        return 1.3 * (27 * _wrapped_lines(text) + 14 * blanks + 30 * headings + 30 * display_math
                      + 30 * _wrapped_lines("\n".join(rows), 60) + 20)
    height = 0.0
    if not cell.metadata.get("transient", {}).get("remove_source"):
        height += 23 * _wrapped_lines(cell.source, 75) + 22  # long lines wrap at about 75-80 characters
    return height + sum(_output_height(o) for o in cell.get("outputs", []))


def _fold_html(source: str, summary: str) -> str:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    code = highlight(source, PythonLexer(), HtmlFormatter(cssclass="highlight hl-ipython3"))
    # one line of HTML (newlines as &#10;, which <pre> shows as line breaks): markdown passes an HTML
    # block through only up to its first blank line; $ is escaped so that MathJax leaves code alone
    code = code.strip().replace("\n", "&#10;").replace("$", "&#36;")
    return f'<details class="course-fold"><summary>{html.escape(summary)}</summary>{code}</details>'



def _slide_type(cell: Any) -> str:
    return cell.metadata.get("slideshow", {}).get("slide_type", "-") or "-"


def _set_slide_type(cell: Any, slide_type: str) -> None:
    cell.metadata.setdefault("slideshow", {})["slide_type"] = slide_type


def _fold(cell: Any, source: str, summary: str) -> list[Any]:
    """A code cell folded: a cell holding the code in a closed <details> (markdown: the exporter
    passes its HTML through, where it cleans a raw cell's), then the cell itself without its source
    (its outputs stay); the fold takes the cell's place in the deck."""
    import nbformat

    fold = nbformat.v4.new_markdown_cell(_fold_html(source, summary))
    fold.id = f"{cell.get('id', 'cell')}-fold"
    _set_slide_type(fold, _slide_type(cell))
    _set_slide_type(cell, "-")
    cell.metadata.setdefault("transient", {})["remove_source"] = True
    return [fold, cell] if cell.get("outputs") else [fold]


def _without_install_block(source: str) -> str:
    from course_utils import hosted

    if not source.startswith(hosted.BEGIN) or hosted.END not in source:
        return source
    return source[source.index(hosted.END) + len(hosted.END):].lstrip("\n")


def _fold_code(cells: list[Any]) -> list[Any]:
    laid: list[Any] = []
    first_code = True
    for cell in cells:
        if cell.cell_type != "code" or _slide_type(cell) in ("skip", "notes"):
            laid.append(cell)
            continue
        source = cell.source
        n = len(source.splitlines())
        if first_code:  # the set-up cell: the hosted install block goes, the imports fold
            first_code = False
            source = _without_install_block(source)
            laid += _fold(cell, source, f"Set-up code ({len(source.splitlines())} lines): click to show")
        elif (n > FOLD_LINES or (n > FOLD_PLOT_LINES and _PLOTTING.search(source))
              or estimated_height(cell) > SLIDE_BUDGET_PX):
            what = "Plotting code" if _PLOTTING.search(source) and n <= 3 * FOLD_LINES else "Code"
            laid += _fold(cell, source, f"{what} ({n} lines): click to show")
        else:
            laid.append(cell)
    return laid


_ITEM = re.compile(r"^(?:[-*+]|\d+[.)])\s")


def _paragraphs(source: str) -> list[tuple[str, str]]:
    """A markdown text cut where a slide may break: at blank lines, before a top-level list item and
    between a table's rows, never inside a code fence or a $$ formula. Each piece is (text, glue):
    ``glue`` is what joins it to the piece before when both stay on one slide ("\n\n", or "\n" for
    the next list item or rows of the same table); a table's piece that starts a slide repeats the
    header, which :func:`_join` drops when the pieces stay together."""
    parts: list[tuple[str, str]] = []
    current: list[str] = []
    glue = "\n\n"
    fence = math = False
    header: list[str] = []  # the table being read: its header and separator lines
    for line in source.splitlines():
        stripped = line.strip()
        free = not fence and not math
        if free and not stripped:
            if current:
                parts.append(("\n".join(current), glue))
            current, header, glue = [], [], "\n\n"
            continue
        if free and current and _ITEM.match(line) and not current[0].lstrip().startswith("|"):
            parts.append(("\n".join(current), glue))
            current, glue = [], "\n"
        if free and stripped.startswith("|"):
            if len(header) < 2 and all(row.strip().startswith("|") for row in current):
                header.append(line)
            elif len(current) >= len(header) + 4:  # four rows a piece
                parts.append(("\n".join(current), glue))
                current, glue = list(header), "\n"
        if stripped.startswith("```"):
            fence = not fence
        if not fence:
            math ^= stripped.count("$$") % 2 == 1
        current.append(line)
    if current:
        parts.append(("\n".join(current), glue))
    return parts


def _join(pieces: list[tuple[str, str]]) -> str:
    text = ""
    for index, (piece, glue) in enumerate(pieces):
        if index and glue == "\n" and piece.lstrip().startswith("|"):  # rows of the table above: no second header
            piece = "\n".join(piece.splitlines()[2:])
        text = piece if not index else text + glue + piece
    return text


def _split_markdown(cells: list[Any]) -> list[Any]:
    laid: list[Any] = []
    for cell in cells:
        if cell.cell_type != "markdown" or estimated_height(cell) <= SLIDE_BUDGET_PX:
            laid.append(cell)
            continue
        chunks: list[list[tuple[str, str]]] = [[]]
        probe = copy.deepcopy(cell)
        for piece in _paragraphs(cell.source):
            probe.source = _join(chunks[-1] + [piece])
            if chunks[-1] and estimated_height(probe) > SLIDE_BUDGET_PX:
                chunks.append([])
            chunks[-1].append(piece)
        for index, chunk in enumerate(chunks):
            part = copy.deepcopy(cell)
            part.source = _join(chunk)
            if index:
                part.id = f"{cell.get('id', 'cell')}-part{index + 1}"
                part.metadata.pop("attachments", None)
                _set_slide_type(part, "-")
            laid.append(part)
    return laid


def _split_outputs(cells: list[Any]) -> list[Any]:
    """A code cell whose outputs do not fit on one slide (a figure and a printed table) continues
    on further cells that show only the rest of its outputs (the packer puts them on sub-slides)."""
    laid: list[Any] = []
    for cell in cells:
        if cell.cell_type != "code" or estimated_height(cell) <= SLIDE_BUDGET_PX or len(cell.get("outputs", [])) < 2:
            laid.append(cell)
            continue
        groups: list[list[Any]] = [[]]
        used = estimated_height(cell) - sum(_output_height(o) for o in cell.outputs)  # its source, if shown
        for output in cell.outputs:
            if groups[-1] and used + _output_height(output) > SLIDE_BUDGET_PX:
                groups.append([])
                used = 0
            groups[-1].append(output)
            used += _output_height(output)
        for index, group in enumerate(groups):
            part = cell if not index else copy.deepcopy(cell)
            part.outputs = group
            if index:
                part.id = f"{cell.get('id', 'cell')}-outputs{index + 1}"
                part.metadata.setdefault("transient", {})["remove_source"] = True
                _set_slide_type(part, "-")
            laid.append(part)
    return laid


def _pack(cells: list[Any]) -> None:
    """Start a new vertical sub-slide wherever the next cell would overflow the current one."""
    used = 0.0
    for cell in cells:
        kind = _slide_type(cell)
        height = estimated_height(cell)
        if kind in ("slide", "subslide"):
            used = height
        elif used > 0 and height > 0 and used + height > SLIDE_BUDGET_PX:
            _set_slide_type(cell, "subslide")
            used = height
        else:
            used += height


def _normalised(heading: str) -> str:
    text = re.sub(r"[`*_$\\{}]", "", heading).replace("¶", "")
    return re.sub(r"\s+", " ", text).strip().casefold()


def read_notes(path: Path) -> list[tuple[str, str]]:
    """The sections of a speaker-notes file: (heading, text), in order; text before the first
    heading is ignored (a comment for whoever edits the file)."""
    sections: list[tuple[str, list[str]]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _HEADING.match(line)
        if match:
            sections.append((match.group(2), []))
        elif sections:
            sections[-1][1].append(line)
    return [(heading, "\n".join(body).strip()) for heading, body in sections]


def _headings(cell: Any) -> list[str]:
    if cell.cell_type != "markdown":
        return []
    found, fence = [], False
    for line in cell.source.splitlines():
        if line.strip().startswith("```"):
            fence = not fence
        match = None if fence else _HEADING.match(line)
        if match:
            found.append(match.group(2))
    return found


def notes_file(notebook: Path, notes_dir: Path = NOTES_DIR) -> Path:
    """``docs/speaker_notes/NN.md`` for ``notebooks/NN_topic.ipynb``."""
    return notes_dir / f"{notebook.stem.split('_', 1)[0]}.md"


def _insert_notes(cells: list[Any], notes: list[tuple[str, str]]) -> tuple[list[Any], list[str]]:
    """Each notes section placed after the cell holding its heading; returns the headings not found."""
    import nbformat

    where: dict[str, int] = {}
    by_number: dict[str, int] = {}
    for index, cell in enumerate(cells):
        for heading in _headings(cell):
            where.setdefault(_normalised(heading), index)
            number = _NUMBERED.match(_normalised(heading))
            if number and cell.cell_type == "markdown":
                by_number.setdefault(number.group(1), index)
    after: dict[int, list[str]] = {}
    unmatched = []
    for heading, text in notes:
        key = _normalised(heading)
        number = _NUMBERED.match(key)
        index = where.get(key, by_number.get(number.group(1)) if number else None)
        if index is None:
            unmatched.append(heading)
        elif text:
            after.setdefault(index, []).append(text)
    laid: list[Any] = []
    for index, cell in enumerate(cells):
        laid.append(cell)
        if index in after:
            note = nbformat.v4.new_markdown_cell("\n\n".join(after[index]))
            note.id = f"{cell.get('id', 'cell')}-notes"
            _set_slide_type(note, "notes")
            laid.append(note)
    return laid, unmatched


def layout(nb: Any, notes: list[tuple[str, str]] | None = None) -> tuple[Any, list[str]]:
    """A copy of the lesson laid out for a projector (folds, markdown cut, sub-slides, speaker notes)
    and the notes' headings that match no heading of the lesson."""
    nb = copy.deepcopy(nb)
    cells = _split_outputs(_split_markdown(_fold_code(list(nb.cells))))
    cells, unmatched = _insert_notes(cells, notes or [])
    _pack(cells)
    nb.cells = cells
    return nb, unmatched


def export_lesson(notebook: Path, out: Path, notes_dir: Path = NOTES_DIR) -> Path:
    """Write ``out/<name>.slides.html`` for one lesson, pointing at ``out/_static``."""
    import nbformat
    from nbconvert import SlidesExporter

    exporter = SlidesExporter(
        extra_template_basedirs=[str(TEMPLATE_DIR)], template_name="offline_reveal",
        reveal_url_prefix=f"{STATIC}/reveal.js", reveal_theme="white", reveal_scroll=True,
        require_js_url=f"{STATIC}/requirejs/require.js",
        jquery_url=f"{STATIC}/jquery/dist/jquery.min.js",
        mathjax_url=f"{STATIC}/mathjax/es5/tex-svg-full.js",
        widget_renderer_url=f"{STATIC}/html-manager/dist/embed-amd.js",
        font_awesome_url="",
    )
    nb = nbformat.read(str(notebook), as_version=4)
    notes_path = notes_file(notebook, notes_dir)
    notes = read_notes(notes_path) if notes_path.is_file() else []
    if not notes:
        print(f"slides: {notebook.name} has no speaker notes ({notes_path} is missing or empty)", file=sys.stderr)
    nb, unmatched = layout(nb, notes)
    if unmatched:
        print(f"slides: {notes_path.name}: no heading of {notebook.name} matches the notes for "
              + "; ".join(repr(h) for h in unmatched), file=sys.stderr)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": notebook.stem}})
    body = body.replace("</head>", DECK_CSS + "</head>", 1)
    for pattern, local in _CDN_REWRITES.items():
        body = pattern.sub(local, body)
    remote = remote_assets(body)
    if remote:
        raise SlidesError(f"{notebook.name}: an output loads {remote[0]!r} from the network, which would "
                          "fail offline. Add a local copy to VENDORS/_CDN_REWRITES in course_utils/classroom/slides.py.")
    target = out / f"{notebook.stem}.slides.html"
    target.write_text(body, encoding="utf-8")
    return target


def export_all(lessons: Path, out: Path, vendor_from: Path | None = None,
               notes_dir: Path = NOTES_DIR) -> list[Path]:
    """Export every ``lessons/*.ipynb`` and return the written HTML files, in order."""
    notebooks = sorted(lessons.glob("*.ipynb"))
    if not notebooks:
        raise SlidesError(f"no lessons (*.ipynb) in {lessons}")
    out.mkdir(parents=True, exist_ok=True)
    ensure_static(out, vendor_from)
    return [export_lesson(nb, out, notes_dir) for nb in notebooks]
