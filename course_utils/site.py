"""The course as a website: ``python -m course_utils site [--out build/site]`` (or ``make site``).

Renders every lesson (``notebooks/``) and every workbook (``exercises/``) with its stored outputs
(nothing is executed) through Sphinx, MyST-NB and sphinx-book-theme, into static HTML that works
with no network: MathJax 3, the Jupyter widgets renderer, RequireJS and Font Awesome are served
from the site's own ``_static/vendor/``.

How it is put together:

1. ``docs/`` (conf.py, index.md, site.toml, _static/) is copied into a staging folder
   (``build/site-src/``), with copies of the notebooks in ``notebooks/`` and ``exercises/``
   (the same paths as in the repository, so the "open this notebook" links are simply the page's
   path). Each copy gets a first box of links (Binder, the class's JupyterHub through nbgitpuller,
   Colab: each only when ``docs/site.toml`` or the command line names what it needs, the
   repository and, for the JupyterHub, its address; a link that cannot be filled in is left out,
   never pointed at a placeholder) and a note under every cell that shows widgets; animations' CDN style sheet is pointed
   at the local Font Awesome. The committed notebooks are never touched.
2. A page per chapter (``chapters/NN_topic.md``) and the home page's chapter map are generated
   from README.md's chapter map; the benchmark table is ``benchmarks/RESULTS.md``.
3. The vendored JavaScript comes from the npm registry at *install* time
   (``python -m course_utils site --fetch-assets``, which ``scripts/_install.sh`` runs), reusing the
   slides' pinned tarballs and cache (``course_utils/classroom/slides.py``): each tarball is checked
   against its pinned sha512 integrity, each extracted file against a pinned sha256. The build
   itself reads only that cache (or ``--vendor-from DIR``) and never downloads anything.
4. Sphinx runs once (``-E``: a fresh build), then every written page and style sheet is scanned:
   a script, style sheet, image or frame that would load from another host fails the build.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlparse

ROOT = Path(__file__).resolve().parents[1]
VENDOR = "vendor"  # folder under the site's _static/
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# npm packages (pinned in course_utils/classroom/slides.py with their sha512 integrity) the site
# serves, and the sha256 of each file taken from them: a second pin, on what pages really load.
SITE_VENDORS = ("mathjax@3.2.2", "requirejs@2.3.7", "@jupyter-widgets/html-manager@1.0.11", "font-awesome@4.7.0")
FILE_SHA256 = {
    "mathjax/es5/tex-svg-full.js":
        "a4354ff94fd868aea0cc6eaaa79a57fda0588646fc46ee3700a349ee0a11cbe6",
    "requirejs/require.js":
        "8215b90000b571bd241d28512c83f59855cecc3158db94b79b2d974c9923b5d2",
    "html-manager/dist/embed-amd.js":
        "6a31b871e4976784b0d1b0551970bd8bdc41fec8abccae50104fad9ec8829d23",
    "font-awesome/css/font-awesome.min.css":
        "799aeb25cc0373fdee0e1b1db7ad6c2f6a0e058dfadaa3379689f583213190bd",
}

_FONT_SUFFIXES = (".woff2", ".woff", ".ttf", ".eot", ".svg")
_FONT_AWESOME_CDN = re.compile(
    r"https?://maxcdn\.bootstrapcdn\.com/font-awesome/[\d.]+/css/font-awesome(\.min)?\.css")
# An element that makes the browser *load* something (not a link a reader may follow).
_LOADING_TAG = re.compile(
    r"<(?P<tag>script|link|img|iframe|video|audio|source|track|embed|object|input)\b(?P<attrs>[^>]*)>",
    re.IGNORECASE)
_URL_ATTR = re.compile(r"\b(?:src|href|data|poster|srcset)\s*=\s*[\"']?\s*((?:https?:)?//[^\"'\s>]+)",
                       re.IGNORECASE)
_CSS_REMOTE = re.compile(r"(?:url\(\s*[\"']?|@import\s+[\"'])\s*((?:https?:)?//[^\"')\s]+)", re.IGNORECASE)
# <link rel=...> values that make a browser connect or fetch (canonical/alternate do not)
_LINK_LOADS = re.compile(r"\brel\s*=\s*[\"']?[^\"'>]*\b(stylesheet|preload|prefetch|preconnect|dns-prefetch|"
                         r"modulepreload|icon|manifest)\b", re.IGNORECASE)


class SiteError(RuntimeError):
    """The site could not be built; the message says what to do."""


# What docs/site.toml used to hold before a course was published: an address with one of these is not one.
PLACEHOLDERS = ("OWNER/REPO", "//HUB")


@dataclass(frozen=True)
class SiteConfig:
    """Where the "open this notebook" links point (docs/site.toml; command-line flags override).

    ``repository`` and ``hub_url`` are empty until someone sets them: the pages then carry no
    link that needs them (Binder and Colab need the repository; the JupyterHub needs both).
    """

    repository: str = ""
    ref: str = "main"
    hub_url: str = ""
    binder_url: str = "https://mybinder.org"

    @classmethod
    def load(cls, path: Path, **overrides: str | None) -> "SiteConfig":
        """The settings of ``path`` with ``overrides`` on top; a placeholder address counts as unset."""
        import tomllib  # Python 3.11+, as the site's packages

        values = tomllib.loads(path.read_text()) if path.is_file() else {}
        values.update({k: v for k, v in overrides.items() if v})
        known = {k: str(values[k]).rstrip("/") if k != "ref" else str(values[k])
                 for k in cls.__dataclass_fields__ if k in values}
        known = {k: "" if any(p in v for p in PLACEHOLDERS) else v for k, v in known.items()}
        return cls(**known)

    def unset(self) -> list[str]:
        """The settings still missing, each with the links it would give: for the builder's note."""
        missing = []
        if not self.repository:
            missing.append("repository (the Binder, JupyterHub and Colab links)")
        if not self.hub_url:
            missing.append("hub_url (the JupyterHub links)")
        return missing


@dataclass(frozen=True)
class Chapter:
    number: str  # "01"
    stem: str  # "01_log_derivative_trick"
    title: str  # the lesson's first heading, without its number
    summary: str = ""  # README chapter map: what the chapter is about
    implement: str = ""  # README chapter map: what you implement
    ends_by: str = ""  # README chapter map: the workbook ends by ...


@dataclass
class BuildReport:
    out: Path
    pages: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- links

def open_links(config: SiteConfig, path: str) -> dict[str, str]:
    """Where a notebook at ``path`` (relative to the repository root) opens, by service: only the
    services the configuration can fill in (none without a repository, no JupyterHub without its
    address).

    >>> links = open_links(SiteConfig("https://github.com/me/course", "main", "https://hub.uni.edu"),
    ...                    "exercises/01_log_derivative_trick.ipynb")
    >>> links["Binder"]
    'https://mybinder.org/v2/gh/me/course/main?urlpath=lab/tree/exercises/01_log_derivative_trick.ipynb'
    >>> links["Colab"]
    'https://colab.research.google.com/github/me/course/blob/main/exercises/01_log_derivative_trick.ipynb'
    >>> open_links(SiteConfig(), "exercises/01_log_derivative_trick.ipynb")
    {}
    """
    if not config.repository:
        return {}
    repo = config.repository.removesuffix(".git")
    name = repo.rsplit("/", 1)[-1]
    parsed = urlparse(repo)
    github = parsed.netloc == "github.com" and parsed.path.count("/") == 2
    links: dict[str, str] = {}
    if github:
        links["Binder"] = f"{config.binder_url}/v2/gh{parsed.path}/{quote(config.ref, safe='')}?urlpath=lab/tree/{path}"
    else:
        links["Binder"] = (f"{config.binder_url}/v2/git/{quote(repo, safe='')}/{quote(config.ref, safe='')}"
                           f"?urlpath=lab/tree/{path}")
    # nbgitpuller clones the repository into the learner's home as <name>/ (INSTRUCTORS.md has the format)
    if config.hub_url:
        links["JupyterHub"] = (f"{config.hub_url}/hub/user-redirect/git-pull?repo={quote(repo, safe='')}"
                               f"&branch={quote(config.ref, safe='')}"
                               f"&urlpath={quote(f'lab/tree/{name}/{path}', safe='')}")
    if github:
        links["Colab"] = f"https://colab.research.google.com/github{parsed.path}/blob/{config.ref}/{path}"
    return links


def _links_markdown(config: SiteConfig, path: str) -> str:
    links = open_links(config, path)
    labels = {"Binder": "Binder", "JupyterHub": "your class's JupyterHub (nbgitpuller)", "Colab": "Colab"}
    parts = "".join(f"[{labels[k]}]({v}) · " for k, v in links.items())
    locally = f"`make course`, then `{path}`"
    return ("```{admonition} Open this notebook to run it\n:class: tip course-open\n"
            + (f"{parts}or locally: {locally}.\n```" if parts else f"On your machine: {locally}.\n```"))


# ----------------------------------------------------------------------------- chapters

def _cell_text(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _first_heading(notebook: Path) -> str:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            m = re.search(r"^#\s+(.+)$", _cell_text(cell), flags=re.MULTILINE)
            if m:
                return m.group(1).strip()
    return notebook.stem


def _readme_chapter_rows(readme: Path) -> dict[str, list[str]]:
    """README.md's chapter map table: {"01": [topic, you implement, the workbook ends by]}."""
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    section = text.split("## Chapter map", 1)[1].split("\n## ", 1)[0] if "## Chapter map" in text else ""
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and re.fullmatch(r"\d\d", cells[0]):
            rows[cells[0]] = cells[1:4]
    return rows


def chapters(root: Path) -> list[Chapter]:
    """Every chapter with a lesson in ``notebooks/``, in order."""
    rows = _readme_chapter_rows(root / "README.md")
    out = []
    for lesson in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        number = lesson.stem[:2]
        title = re.sub(r"^\d\d\s*[·.:-]\s*", "", _first_heading(lesson))
        summary, implement, ends_by = rows.get(number, ["", "", ""])
        out.append(Chapter(number, lesson.stem, title, summary, implement, ends_by))
    return out


def _chapter_map(chapter_list: list[Chapter]) -> str:
    lines = ["| # | chapter | you implement | the workbook ends by |", "|---|---|---|---|"]
    for ch in chapter_list:
        lines.append(f"| {ch.number} | [{ch.title}](chapters/{ch.stem}.md): {ch.summary} | {ch.implement} | {ch.ends_by} |")
    return "\n".join(lines)


def _chapter_page(ch: Chapter, config: SiteConfig, root: Path, solutions: bool) -> str:
    folders = [("lesson", "notebooks"), ("workbook", "exercises")] + ([("solved workbook", "solutions")] if solutions else [])
    present = [(kind, folder) for kind, folder in folders if (root / folder / f"{ch.stem}.ipynb").is_file()]
    out = [f"# {ch.number} · {ch.title}", ""]
    if ch.summary:
        out += [ch.summary[:1].upper() + ch.summary[1:] + ".", ""]
    if ch.implement:
        out += [f"**You implement:** {ch.implement}.", ""]
    if ch.ends_by:
        out += [f"**The workbook ends by** {ch.ends_by}.", ""]
    header = "| | " + " | ".join(kind for kind, _ in present) + " |"
    out += [header, "|---" * (len(present) + 1) + "|"]
    titles = {folder: _first_heading(root / folder / f"{ch.stem}.ipynb") for _, folder in present}
    out.append("| read it here | " + " | ".join(f"[{titles[f]}](../{f}/{ch.stem}.ipynb)" for _, f in present) + " |")
    per_folder = {f: open_links(config, f"{f}/{ch.stem}.ipynb") for _, f in present}
    for service in per_folder[present[0][1]]:  # (no rows where no service can be linked)
        out.append(f"| open in {service} | " + " | ".join(f"[open]({per_folder[f][service]})" for _, f in present) + " |")
    out += ["", "```{toctree}", ":hidden:", ""] + [f"../{f}/{ch.stem}" for _, f in present] + ["```", ""]
    return "\n".join(out)


# ----------------------------------------------------------------------------- notebooks

_WIDGET_NOTE = ("```{note}\n:class: course-widget-note\nThe controls above are shown in their saved "
                "position. In a running notebook (the links at the top of this page, or `make course`) "
                "moving them redraws the figure.\n```")


def _markdown_cell(text: str, cell_id: str) -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": text}


def stage_notebook(src: Path, dest: Path, rel_path: str, config: SiteConfig) -> None:
    """Copy one notebook for the website: a box of links first, a note under widget cells,
    animations pointed at the local Font Awesome. ``src`` itself is left as it is."""
    nb = json.loads(src.read_text(encoding="utf-8"))
    depth = rel_path.count("/")
    font_awesome = "../" * depth + f"_static/{VENDOR}/font-awesome/css/font-awesome.min.css"
    cells: list[dict] = []
    for i, cell in enumerate(nb["cells"]):
        cells.append(cell)
        if i == 0:
            cells.append(_markdown_cell(_links_markdown(config, rel_path), "course-site-open"))
        has_widget = False
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            has_widget |= WIDGET_VIEW in data
            if "text/html" in data:
                html = _cell_text({"source": data["text/html"]})
                data["text/html"] = _FONT_AWESOME_CDN.sub(font_awesome, html)
        if has_widget:
            cells.append(_markdown_cell(_WIDGET_NOTE, f"course-site-widget-note-{i}"))
    if not nb["cells"]:
        cells.append(_markdown_cell(_links_markdown(config, rel_path), "course-site-open"))
    nb["cells"] = cells
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")


# ----------------------------------------------------------------------------- vendored assets

def _vendors():
    from course_utils.classroom import slides

    by_spec = {v.spec: v for v in slides.VENDORS}
    missing = [s for s in SITE_VENDORS if s not in by_spec]
    if missing:
        raise SiteError(f"course_utils/classroom/slides.py no longer pins {missing}; update SITE_VENDORS.")
    return slides, [by_spec[s] for s in SITE_VENDORS]


def assets_missing(vendor_from: Path | None = None) -> list[str]:
    """The pinned packages whose tarball is not in the cache (or ``vendor_from``) yet."""
    slides, vendors = _vendors()
    return [v.spec for v in vendors if not ((vendor_from or slides.cache_dir()) / v.filename).is_file()]


def fetch_assets(vendor_from: Path | None = None) -> list[Path]:
    """Install-time step: put the pinned tarballs in the cache (npm pack; integrity checked)."""
    slides, vendors = _vendors()
    with tempfile.TemporaryDirectory(prefix="course-site-") as tmp:
        return [slides._fetch(v, Path(tmp), vendor_from) for v in vendors]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _with_fonts(vendor, tarball: Path):
    """The vendor with the font files of its ``dist/`` too (the widgets' manager loads them)."""
    import dataclasses
    import tarfile

    with tarfile.open(tarball) as tar:
        fonts = tuple(m.name.removeprefix("package/") for m in tar.getmembers()
                      if m.name.startswith("package/dist/") and m.name.endswith(_FONT_SUFFIXES))
    return dataclasses.replace(vendor, members=vendor.members + fonts)


def vendor_assets(static: Path, vendor_from: Path | None = None) -> Path:
    """Extract the vendored files into ``static/vendor``, from the cache or ``vendor_from`` only:
    the build never downloads. Every tarball and every served file is checked against its pin."""
    slides, vendors = _vendors()
    dest = static / VENDOR
    for vendor in vendors:
        tarball = (vendor_from or slides.cache_dir()) / vendor.filename
        if not tarball.is_file():
            raise SiteError(
                f"{vendor.spec} is not in {tarball.parent} (it is fetched at install time). Run "
                "`.venv/bin/python -m course_utils site --fetch-assets` once with access to the npm "
                "registry, or pass --vendor-from DIR holding the npm tarballs.")
        if not slides._integrity_ok(tarball, vendor.integrity):
            raise SiteError(f"{tarball} does not match the pinned integrity of {vendor.spec}; refusing to use it.")
        slides._extract(_with_fonts(vendor, tarball), tarball, dest)
    for rel, expected in FILE_SHA256.items():
        got = _sha256(dest / rel)
        if got != expected:
            raise SiteError(f"_static/{VENDOR}/{rel} has sha256 {got}, not the pinned {expected}.")
    return dest


# ----------------------------------------------------------------------------- checks

def external_loads(text: str, css: bool = False) -> list[str]:
    """What a page (or, with ``css``, a style sheet) would load from another host.

    Plain links a reader may follow (``<a href="https://mybinder.org/...">``) are not loads."""
    if css:
        return [m.group(1) for m in _CSS_REMOTE.finditer(text)]
    found = []
    for m in _LOADING_TAG.finditer(text):
        attrs = m.group("attrs")
        if m.group("tag").lower() == "link" and not _LINK_LOADS.search(attrs):
            continue
        found += [u.group(1) for u in _URL_ATTR.finditer(attrs)]
    style_blocks = re.findall(r"<style\b[^>]*>(.*?)</style>", text, flags=re.IGNORECASE | re.DOTALL)
    found += [u for block in style_blocks for u in external_loads(block, css=True)]
    return found


def check_offline(out: Path) -> dict[str, list[str]]:
    """{file: [remote URL, ...]} for every page or style sheet under ``out`` that loads from the web."""
    problems = {}
    for path in sorted(out.rglob("*")):
        if path.suffix not in (".html", ".css") or not path.is_file():
            continue
        remote = external_loads(path.read_text(encoding="utf-8", errors="replace"), css=path.suffix == ".css")
        if remote:
            problems[str(path.relative_to(out))] = remote
    return problems


# ----------------------------------------------------------------------------- build

def stage(root: Path, staging: Path, config: SiteConfig, solutions: bool = False,
          vendor_from: Path | None = None) -> list[str]:
    """Write the Sphinx source tree into ``staging``; returns the notebook pages (paths, no suffix)."""
    if staging.exists():
        shutil.rmtree(staging)
    # docs/speaker_notes/ feeds the slides' speaker notes (classroom/slides.py), not the website
    shutil.copytree(root / "docs", staging, ignore=shutil.ignore_patterns("__pycache__", "_build", "speaker_notes"))
    (staging / "_site_config.json").write_text(json.dumps(config.__dict__, indent=1))
    vendor_assets(staging / "_static", vendor_from)
    chapter_list = chapters(root)
    if not chapter_list:
        raise SiteError(f"no lessons (notebooks/NN_*.ipynb) in {root}")
    pages = []
    for folder in ("notebooks", "exercises") + (("solutions",) if solutions else ()):
        for nb in sorted((root / folder).glob("[0-9][0-9]_*.ipynb")):
            rel = f"{folder}/{nb.name}"
            stage_notebook(nb, staging / rel, rel, config)
            pages.append(f"{folder}/{nb.stem}")
    if (root / "notebooks" / "notation.md").is_file():  # the notation card every lesson links to
        shutil.copy2(root / "notebooks" / "notation.md", staging / "notebooks" / "notation.md")
    (staging / "chapters").mkdir()
    for ch in chapter_list:
        (staging / "chapters" / f"{ch.stem}.md").write_text(_chapter_page(ch, config, root, solutions), encoding="utf-8")
    index = staging / "index.md"
    index.write_text(index.read_text().replace("<!-- chapter-map -->", _chapter_map(chapter_list)))
    bench = staging / "benchmarks"
    bench.mkdir()
    for name in ("RESULTS.md", "results.png"):
        if (root / "benchmarks" / name).is_file():
            shutil.copy2(root / "benchmarks" / name, bench / name)
    if not (bench / "RESULTS.md").is_file():
        (bench / "RESULTS.md").write_text("# Benchmark\n\nNo results yet: run `python -m benchmarks.run`.\n")
    return pages


def build(root: Path = ROOT, out: Path | None = None, config: SiteConfig | None = None, *,
          solutions: bool = False, vendor_from: Path | None = None, jobs: int = 1,
          staging: Path | None = None) -> BuildReport:
    """Build the whole website into ``out`` (default ``build/site``) and check it is offline."""
    try:
        import myst_nb  # noqa: F401
        import sphinx_book_theme  # noqa: F401
    except ImportError as exc:
        raise SiteError(f"{exc.name} is not installed: `.venv/bin/pip install -e \".[site]\"` (Python 3.11+).") from exc
    out = (out or root / "build" / "site").resolve()
    staging = (staging or out.parent / f"{out.name}-src").resolve()
    config = config or SiteConfig.load(root / "docs" / "site.toml")
    start = time.monotonic()
    pages = stage(root, staging, config, solutions, vendor_from)
    # Sphinx writes into the staging folder (MyST-NB puts a jupyter_execute/ folder beside its
    # output), and the finished site is then moved to `out`.
    html = staging / "_build" / "html"
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-E", "-q", "-j", str(jobs),
           "-d", str(staging / "_build" / "doctrees"), str(staging), str(html)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SiteError(f"sphinx-build failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(html), str(out))
    warnings = [line for line in proc.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    (out / ".nojekyll").touch()  # GitHub Pages: serve _static/ as it is
    remote = check_offline(out)
    if remote:
        listing = "; ".join(f"{page}: {urls[:3]}" for page, urls in list(remote.items())[:5])
        raise SiteError(f"pages would load from the network: {listing}")
    return BuildReport(out=out, pages=[out / f"{p}.html" for p in pages],
                       seconds=time.monotonic() - start, warnings=warnings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils site",
                                     description="Build the course website (offline HTML) into build/site/.")
    parser.add_argument("--out", default="build/site", help="output folder (default: build/site)")
    parser.add_argument("--root", default=str(ROOT), help="repository root (default: this checkout)")
    parser.add_argument("--repository", help="git repository the 'open' links use (default: docs/site.toml)")
    parser.add_argument("--ref", help="branch or tag the links open (default: docs/site.toml)")
    parser.add_argument("--hub-url", help="the class's JupyterHub, for the nbgitpuller links (default: docs/site.toml)")
    parser.add_argument("--binder-url", help="a BinderHub (default: docs/site.toml)")
    parser.add_argument("--solutions", action="store_true",
                        help="also publish the solved workbooks (an instructors' site; never for learners)")
    parser.add_argument("--vendor-from", help="folder with the npm tarballs (default: the cache filled at install time)")
    parser.add_argument("--fetch-assets", action="store_true",
                        help="only fetch the pinned JavaScript into the cache (install time; needs the npm registry)")
    parser.add_argument("--jobs", type=int, default=1, help="Sphinx processes (default: 1)")
    args = parser.parse_args(argv)
    vendor_from = Path(args.vendor_from) if args.vendor_from else None
    try:
        if args.fetch_assets:
            for tarball in fetch_assets(vendor_from):
                print(f"ok {tarball.name}")
            return 0
        root = Path(args.root).resolve()
        config = SiteConfig.load(root / "docs" / "site.toml", repository=args.repository, ref=args.ref,
                                 hub_url=args.hub_url, binder_url=args.binder_url)
        report = build(root, Path(args.out), config, solutions=args.solutions, vendor_from=vendor_from,
                       jobs=args.jobs)
    except SiteError as exc:
        print(f"site failed: {exc}", file=sys.stderr)
        return 2
    for line in report.warnings:
        print(line, file=sys.stderr)
    if config.unset():
        print(f"note: not set, so left out of every page: {'; '.join(config.unset())}. Set them in docs/site.toml "
              "or with --repository / --hub-url.", file=sys.stderr)
    print(f"wrote {len(report.pages)} notebook pages and the chapter pages to {report.out} "
          f"in {report.seconds:.0f} s; open {report.out / 'index.html'} (no network needed).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
