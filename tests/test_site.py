"""The course website (``python -m course_utils site``): built once, offline, then checked.

The build (module fixture, into a temporary folder) renders every lesson and workbook with its
stored outputs, with the repository's own docs/site.toml, which names no repository or hub: the
build a fresh clone makes. The checks: every notebook became a page; not one link (nor any
text) points at a placeholder address, and the links a configured site has are tested on the
staged pages; no raw ``$$`` is left in the rendered
text; every internal link and anchor resolves; nothing is loaded from another host (plain links
to Binder, Colab or GitHub are links, not loads); the vendored JavaScript is refused when it does
not match its pin. Then, where Debian's ``chromium`` and ``chromium-driver`` and ``selenium`` are
installed (``.ci/run`` installs them), every page is opened in headless Chromium, served from
127.0.0.1: no console error, no request to another host, MathJax typeset the math (no TeX error),
the widgets are drawn; screenshots go to ``artifacts/site_*.png``.

Skipped where Sphinx, MyST-NB and sphinx-book-theme are not installed (the ``site`` extra, Python
3.11+), or where the pinned JavaScript cannot be had from the npm registry.
"""
from __future__ import annotations

import functools
import html
import http.server
import json
import re
import shutil
import threading
import time
from html.parser import HTMLParser
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from tests.chromium import ARTIFACTS, CHROMEDRIVER, CHROMIUM, chromium
from tests.conftest import ROOT

pytestmark = [pytest.mark.system, pytest.mark.skipif(
    any(find_spec(m) is None for m in ("sphinx", "myst_nb", "sphinx_book_theme")),
    reason="the site extra is not installed (pip install -e '.[site]'; Python 3.11+)")]

NOTEBOOKS = sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb")) + sorted(ROOT.glob("exercises/[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from course_utils import site as site_mod

    if site_mod.assets_missing():
        try:  # the install step (scripts/_install.sh) normally did this
            site_mod.fetch_assets()
        except site_mod.SiteError as exc:
            pytest.skip(f"the website's pinned JavaScript is not cached and cannot be fetched: {exc}")
    out = tmp_path_factory.mktemp("website") / "site"
    report = site_mod.build(ROOT, out)
    print(f"site built in {report.seconds:.1f} s")
    assert not report.warnings, "the website build warned (a notebook's markdown, or docs/):\n" + "\n".join(
        report.warnings)
    return report


def _pages(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*.html") if "_static" not in p.parts)


def _visible_text(page: str) -> str:
    """The page's text as a reader sees it before MathJax runs: no scripts, styles, code, nor the
    math that Sphinx marked up for MathJax (which may hold ``\\text{$x$}``)."""
    page = re.sub(r"<(script|style|pre|code|textarea)\b.*?</\1>", " ", page, flags=re.DOTALL | re.IGNORECASE)
    page = re.sub(r"<(div|span) class=\"math notranslate nohighlight\">.*?</\1>", " ", page, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_every_notebook_became_a_page(site):
    out = site.out
    for nb in NOTEBOOKS:
        page = out / nb.parent.name / f"{nb.stem}.html"
        assert page.is_file(), f"{nb.relative_to(ROOT)} has no page"
        text = page.read_text(encoding="utf-8")
        first_cell = json.loads(nb.read_text(encoding="utf-8"))["cells"][0]
        title = re.search(r"^#\s+(.+)$", "".join(first_cell["source"]), flags=re.MULTILINE).group(1).strip()
        assert html.escape(title, quote=False) in text, f"{page.name}: no title {title!r}"
        assert "Open this notebook" in text and "On your machine" in text
        chapter = out / "chapters" / f"{nb.stem}.html"
        assert chapter.is_file() and f"{nb.parent.name}/{nb.stem}.html" in chapter.read_text(encoding="utf-8")
    index = (out / "index.html").read_text(encoding="utf-8")
    for nb in NOTEBOOKS:
        assert f"chapters/{nb.stem}.html" in index, f"the chapter map has no {nb.stem}"
    assert "search.html" in index and (out / "searchindex.js").is_file()
    assert "categorical_log_prob" in index and "reaching CartPole" in index  # README's chapter map, one source
    bench = (out / "benchmarks" / "RESULTS.html").read_text(encoding="utf-8")
    assert "ppo-cartpole" in bench and "<table" in bench and (out / "_images" / "results.png").is_file()


def test_stored_outputs_are_shown(site):
    lesson = (site.out / "notebooks" / "01_log_derivative_trick.html").read_text(encoding="utf-8")
    assert lesson.count('src="data:image/png') + lesson.count("<img") >= 4  # the stored figures
    assert "application/vnd.jupyter.widget-view+json" in lesson and "shown in their saved" in lesson
    setup = (site.out / "notebooks" / "00_setup.html").read_text(encoding="utf-8")
    assert "animation" in setup.lower() and "_static/vendor/font-awesome/css/font-awesome.min.css" in setup


def test_no_raw_math_left(site):
    pages_with_math = 0
    for page in _pages(site.out):
        raw = page.read_text(encoding="utf-8")
        text = _visible_text(raw)
        assert "$$" not in text, f"{page.relative_to(site.out)}: raw $$ in {text[text.index('$$') - 80:][:200]!r}"
        leftover = re.search(r"\$[^$\s]*\\[a-zA-Z]+[^$]*?\$", text)
        assert leftover is None, f"{page.relative_to(site.out)}: raw inline math {leftover.group(0)[:120]!r}"
        pages_with_math += 'class="math notranslate nohighlight"' in raw
    assert pages_with_math >= len(NOTEBOOKS) // 2


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value or "")
            if name in ("href", "src") and value:
                self.urls.append(value)


@functools.lru_cache(maxsize=None)
def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def test_every_internal_link_resolves(site):
    broken = []
    for page in _pages(site.out):
        for url in _parse(page).urls:
            parsed = urlparse(url)
            if parsed.scheme or url.startswith("//") or url.startswith("data:"):
                continue
            target = (page.parent / unquote(parsed.path)).resolve() if parsed.path else page
            if not target.exists():
                broken.append(f"{page.relative_to(site.out)} -> {url}")
            elif parsed.fragment and target.suffix == ".html" and unquote(parsed.fragment) not in _parse(target).ids:
                broken.append(f"{page.relative_to(site.out)} -> {url} (no such anchor)")
    assert not broken, "\n".join(broken[:20])


def test_nothing_loads_from_the_network(site):
    from course_utils.site import check_offline, external_loads

    assert check_offline(site.out) == {}
    # the scanner sees what it must: a remote script, style sheet, image, CSS import; not a plain link
    assert external_loads('<script src="https://cdn.example/x.js"></script><a href="https://mybinder.org">x</a>') == [
        "https://cdn.example/x.js"]
    assert external_loads('<link rel="stylesheet" href="//fonts.example/f.css"><img src=http://x/y.png>') == [
        "//fonts.example/f.css", "http://x/y.png"]
    assert external_loads("@import 'https://fonts.example/a.css'; b{background:url(https://x/y.png)}", css=True) == [
        "https://fonts.example/a.css", "https://x/y.png"]


def test_vendored_javascript_is_refused_when_it_does_not_match_its_pin(tmp_path):
    from course_utils.classroom.slides import cache_dir
    from course_utils.site import SITE_VENDORS, SiteError, _vendors, assets_missing, vendor_assets

    if assets_missing():
        pytest.skip("the pinned tarballs are not cached")
    _, vendors = _vendors()
    assert [v.spec for v in vendors] == list(SITE_VENDORS)
    for vendor in vendors:
        shutil.copyfile(cache_dir() / vendor.filename, tmp_path / vendor.filename)
    mathjax = next(v for v in vendors if v.spec.startswith("mathjax@"))
    (tmp_path / mathjax.filename).write_bytes((tmp_path / mathjax.filename).read_bytes()[:-10] + b"0" * 10)
    with pytest.raises(SiteError, match="pinned integrity"):
        vendor_assets(tmp_path / "static", vendor_from=tmp_path)


def _placeholder_links(out: Path) -> dict[str, int]:
    """{page: number of links to a placeholder address (OWNER/REPO, https://HUB)} over a built site."""
    found = {}
    for page in _pages(out):
        urls = [unquote(u) for u in _parse(page).urls]
        bad = [u for u in urls if "OWNER/REPO" in u or "//HUB" in u]
        if bad:
            found[str(page.relative_to(out))] = len(bad)
    return found


def test_a_default_build_has_no_link_to_a_placeholder(site):
    from course_utils.site import SiteConfig

    assert SiteConfig.load(ROOT / "docs" / "site.toml").unset(), "this test is about a site with nothing set"
    assert _placeholder_links(site.out) == {}
    for page in _pages(site.out):  # nor any text: the notebooks' set-up block names no placeholder either
        text = page.read_text(encoding="utf-8")
        assert "OWNER/REPO" not in text and "//HUB" not in text, page.relative_to(site.out)
    lesson = (site.out / "notebooks" / "01_log_derivative_trick.html").read_text(encoding="utf-8")
    assert "mybinder.org" not in lesson and "colab.research.google.com" not in lesson and "git-pull" not in lesson


def test_placeholder_links_are_found_when_there_are_some(tmp_path):
    """The scan of the test above sees a placeholder link where there is one."""
    page = tmp_path / "p.html"
    page.write_text('<a href="https://mybinder.org/v2/gh/OWNER/REPO/main">x</a>'
                    '<a href="https://HUB/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2Fme%2Fc">y</a>'
                    '<a href="https://github.com/me/course">z</a>')
    assert _placeholder_links(tmp_path) == {"p.html": 2}


def _staged(tmp_path, config) -> tuple[str, str]:
    """The staged workbook 01 (its box of links) and chapter 01's page, under ``config``."""
    from course_utils.site import _chapter_page, chapters, stage_notebook

    rel = "exercises/01_log_derivative_trick.ipynb"
    stage_notebook(ROOT / rel, tmp_path / rel, rel, config)
    box = json.loads((tmp_path / rel).read_text())["cells"][1]
    chapter = next(ch for ch in chapters(ROOT) if ch.number == "01")
    return box["source"], _chapter_page(chapter, config, ROOT, solutions=False)


def test_each_link_appears_once_what_it_needs_is_set(tmp_path):
    from course_utils.site import SiteConfig

    nothing = SiteConfig()
    box, chapter = _staged(tmp_path / "a", nothing)
    assert box.count("](") == 0 and "make course" in box
    assert "open in" not in chapter and "read it here" in chapter
    repository = SiteConfig(repository="https://github.com/me/course")
    box, chapter = _staged(tmp_path / "b", repository)
    assert "[Binder](https://mybinder.org/v2/gh/me/course/main" in box and "[Colab](" in box
    assert "git-pull" not in box and "open in JupyterHub" not in chapter
    assert chapter.count("open in Binder") == 1 and chapter.count("(https://colab.research.google.com/") == 2
    both = SiteConfig(repository="https://github.com/me/course", hub_url="https://hub.uni.edu")
    box, chapter = _staged(tmp_path / "c", both)
    assert "(https://hub.uni.edu/hub/user-redirect/git-pull?repo=" in box and "open in JupyterHub" in chapter


def test_a_placeholder_in_site_toml_counts_as_unset(tmp_path):
    from course_utils.site import SiteConfig

    toml = tmp_path / "site.toml"
    toml.write_text('repository = "https://github.com/OWNER/REPO"\nref = "main"\nhub_url = "https://HUB"\n')
    config = SiteConfig.load(toml)
    assert config.repository == "" and config.hub_url == "" and len(config.unset()) == 2
    assert SiteConfig.load(toml, repository="https://github.com/me/course").repository == "https://github.com/me/course"


def test_open_links_follow_the_documented_formats():
    from course_utils.site import SiteConfig, open_links

    config = SiteConfig("https://github.com/OWNER/REPO", "main", "https://HUB")
    links = open_links(config, "exercises/00_setup.ipynb")
    # the nbgitpuller link exactly as INSTRUCTORS.md documents it
    assert links["JupyterHub"] == ("https://HUB/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2FOWNER%2FREPO"
                                   "&branch=main&urlpath=lab%2Ftree%2FREPO%2Fexercises%2F00_setup.ipynb")
    assert links["JupyterHub"] in (ROOT / "INSTRUCTORS.md").read_text()
    assert links["Binder"] == "https://mybinder.org/v2/gh/OWNER/REPO/main?urlpath=lab/tree/exercises/00_setup.ipynb"
    assert links["Colab"] == "https://colab.research.google.com/github/OWNER/REPO/blob/main/exercises/00_setup.ipynb"
    other = open_links(SiteConfig("https://git.uni.edu/rl/course.git", "v1", "https://hub.uni.edu"), "notebooks/x.ipynb")
    assert "Colab" not in other and other["Binder"].startswith("https://mybinder.org/v2/git/https%3A%2F%2Fgit.uni.edu")


# ----------------------------------------------------------------------------- in a browser

@pytest.fixture(scope="module")
def served(site):
    """The built site on an HTTP server at 127.0.0.1 (as a web host would serve it)."""
    handler = functools.partial(_QuietHandler, directory=str(site.out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    with chromium(page_load_timeout=60,
                  capabilities={"goog:loggingPrefs": {"browser": "ALL", "performance": "ALL"}}) as driver:
        driver.set_script_timeout(60)
        yield driver


_TYPESET = """
const done = arguments[arguments.length - 1];
const wait = (t) => new Promise(r => setTimeout(r, t));
(async () => {
  const loads = !!document.querySelector('script[src*="mathjax"]');
  for (let i = 0; loads && i < 200 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++) await wait(50);
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  done({math: document.querySelectorAll('.math').length,
        typeset: document.querySelectorAll('mjx-container').length,
        errors: [...document.querySelectorAll('mjx-merror')].map(e => e.textContent).slice(0, 3),
        widgets: document.querySelectorAll('.jupyter-widgets, .widget-slider, .widget-dropdown').length,
        text: document.body.innerText});
})().catch(e => done({failed: String(e)}));
"""


def test_every_page_renders_in_chromium(site, served, browser):
    shots = {"index.html": "site_home.png", "notebooks/01_log_derivative_trick.html": "site_lesson01.png",
             "notebooks/00_setup.html": "site_lesson00_animation.png",
             "exercises/01_log_derivative_trick.html": "site_workbook01.png",
             "benchmarks/RESULTS.html": "site_benchmarks.png"}
    problems: list[str] = []
    start = time.monotonic()
    for page in _pages(site.out):
        rel = page.relative_to(site.out).as_posix()
        browser.get(f"{served}/{rel}")
        result = browser.execute_async_script(_TYPESET)
        if "failed" in result:
            problems.append(f"{rel}: {result['failed']}")
            continue
        if result["math"] and result["typeset"] < result["math"]:
            problems.append(f"{rel}: {result['math']} math elements, {result['typeset']} typeset by MathJax")
        if result["errors"]:
            problems.append(f"{rel}: TeX errors {result['errors']}")
        if "$$" in result["text"]:
            problems.append(f"{rel}: raw $$ in the rendered page")
        if rel == "notebooks/01_log_derivative_trick.html" and not result["widgets"]:
            problems.append(f"{rel}: the saved widgets were not drawn")
        if rel.startswith("notebooks/") and rel.endswith(("01_log_derivative_trick.html", "05_gae.html")) \
                and not result["typeset"]:
            problems.append(f"{rel}: no math typeset on a lesson full of it")
        severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        problems += [f"{rel}: console: {m[:300]}" for m in severe]
        for entry in browser.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                url = message["params"]["request"]["url"]
                if urlparse(url).scheme in ("http", "https", "ws", "wss") and not url.startswith(served):
                    problems.append(f"{rel}: requested {url[:200]}")
        if rel in shots:
            if rel.startswith("notebooks/01"):
                browser.execute_script("document.querySelector('.jupyter-widgets, .widget-slider')"
                                       "?.scrollIntoView({block: 'center'});")
                time.sleep(0.3)
            browser.save_screenshot(str(ARTIFACTS / shots[rel]))
    print(f"{len(_pages(site.out))} pages opened in {time.monotonic() - start:.0f} s")
    # the search page finds a word of the lessons, from the local index
    browser.get(f"{served}/search.html?q=advantage")
    deadline, hits = time.monotonic() + 30, []
    while time.monotonic() < deadline and not any("/notebooks/05_gae.html" in h for h in hits):
        time.sleep(0.3)  # (the results are listed one by one)
        hits = browser.execute_script("return [...document.querySelectorAll('#search-results li a')].map(a => a.href)")
    if not any("/notebooks/05_gae.html" in h for h in hits):
        problems.append(f"search.html?q=advantage does not find lesson 05: {hits[:5]}")
    browser.save_screenshot(str(ARTIFACTS / "site_search.png"))
    assert not problems, "\n".join(problems[:30])
