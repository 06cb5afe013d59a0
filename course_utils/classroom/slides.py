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
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

STATIC = "_static"
TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "data" / "slides_template"


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


def export_lesson(notebook: Path, out: Path) -> Path:
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
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": notebook.stem}})
    for pattern, local in _CDN_REWRITES.items():
        body = pattern.sub(local, body)
    remote = remote_assets(body)
    if remote:
        raise SlidesError(f"{notebook.name}: an output loads {remote[0]!r} from the network, which would "
                          "fail offline. Add a local copy to VENDORS/_CDN_REWRITES in course_utils/classroom/slides.py.")
    target = out / f"{notebook.stem}.slides.html"
    target.write_text(body, encoding="utf-8")
    return target


def export_all(lessons: Path, out: Path, vendor_from: Path | None = None) -> list[Path]:
    """Export every ``lessons/*.ipynb`` and return the written HTML files, in order."""
    notebooks = sorted(lessons.glob("*.ipynb"))
    if not notebooks:
        raise SlidesError(f"no lessons (*.ipynb) in {lessons}")
    out.mkdir(parents=True, exist_ok=True)
    ensure_static(out, vendor_from)
    return [export_lesson(nb, out) for nb in notebooks]
