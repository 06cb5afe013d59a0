"""Sphinx configuration of the course website.

Not run from here: ``python -m course_utils site`` (or ``make site``) copies this folder, the
lessons and the workbooks into a staging folder (``build/site-src/``), adds the generated pages,
and runs Sphinx there. The notebooks are rendered with their stored outputs; nothing is executed,
and every script, style sheet and font is served from ``_static/`` (no network at build time or
when a page is read).
"""
from __future__ import annotations

import json
from pathlib import Path

_here = Path(__file__).resolve().parent
_site = json.loads((_here / "_site_config.json").read_text()) if (_here / "_site_config.json").exists() else {}

project = "Policy optimisation, hands on"
author = "the course authors"
copyright = "the course authors, MIT licence"

extensions = ["myst_nb"]
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]
suppress_warnings = ["misc.highlighting_failure"]

# MyST-NB: render the notebooks as saved, never run them
nb_execution_mode = "off"
nb_merge_streams = True
nb_output_stderr = "show"
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
# Jupyter widgets are drawn from their saved state by the widgets' HTML manager, served locally.
# The "CDN" of further widget modules points at a local folder too (relative to a notebook page,
# one folder down): nothing is fetched from the web.
nb_ipywidgets_js = {
    "vendor/requirejs/require.js": {},
    "widgets-config.js": {},  # tells RequireJS where the manager's fonts are
    "vendor/html-manager/dist/embed-amd.js": {"data-jupyter-widgets-cdn": "../_static/vendor/",
                                               "data-jupyter-widgets-cdn-only": ""},
}

# MathJax 3, vendored (course_utils/site.py checks its integrity) instead of the default CDN.
mathjax_path = "vendor/mathjax/es5/tex-svg-full.js"

html_theme = "sphinx_book_theme"
html_title = project
html_static_path = ["_static"]
html_css_files = ["course-site.css"]
html_favicon = "_static/favicon.svg"  # else browsers ask the host for /favicon.ico
html_last_updated_fmt = None
html_context = {"default_mode": "auto"}  # light or dark as the reader's system prefers
html_theme_options = {
    "repository_url": _site.get("repository", ""),
    "repository_branch": _site.get("ref", "main"),
    "use_repository_button": bool(_site.get("repository")),
    "use_download_button": True,
    "use_fullscreen_button": False,
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "launch_buttons": {},  # the pages carry their own "open this notebook" links
}
