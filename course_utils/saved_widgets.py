"""Sliders that survive a save: JupyterLab told to keep widget state, and a note on saved sliders.

Two halves of one promise, "a lesson reopens with its sliders":

* **The environment.** JupyterLab's widget manager does not store widget state in a notebook by
  default (``saveState: false`` in the schema of ``@jupyter-widgets/jupyterlab-manager``). A lesson
  run and saved (autosave does it) then keeps outputs that point at widget models it no longer
  describes: a fresh kernel shows "Error displaying widget: model not found". :func:`ensure_saved`
  sets ``saveState: true`` in the environment's ``overrides.json`` (JupyterLab's application
  settings, ``<prefix>/share/jupyter/lab/settings/``), keeping whatever else the file says.
  ``python -m course_utils.saved_widgets`` runs it; ``scripts/_install.sh`` (``make course``,
  ``make test``) and ``postBuild`` (Binder, a JupyterHub image) call it on every start. It imports
  nothing heavy: it runs before JupyterLab on every ``make course``.
* **The output.** A slider drawn from saved state (a fresh JupyterLab before the cell runs, an
  HTML export, the slides) moves its readout but not the figure, which only the kernel redraws.
  :func:`saved_slider_note` is a one-line note to display beside the sliders that says so. It is
  shown only while its own view is *disconnected* (the widget manager marks every view of a model
  without a live kernel connection with the class ``jupyter-widgets-disconnected``; JupyterLab
  draws a broken-link icon for it) and hidden as soon as the cell has run, by a style rule the
  note carries itself, so that every renderer (JupyterLab, nbconvert's HTML and slides, the
  website) applies it without a style sheet of its own.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

__all__ = ["PLUGIN", "NOTE_CLASS", "NOTE_TEXT", "lab_settings_dir", "ensure_saved", "saved_slider_note"]

# the settings id of the widget manager: "<labextension package>:<schema file name>"
PLUGIN = "@jupyter-widgets/jupyterlab-manager:plugin"
NOTE_CLASS = "course-saved-note"
NOTE_TEXT = "Run this cell to move the plot: a saved slider only moves its readout."
DISCONNECTED = "jupyter-widgets-disconnected"


def lab_settings_dir() -> Path:
    """JupyterLab's application settings folder of the running Python's environment (where
    ``overrides.json`` lives): ``$JUPYTERLAB_DIR/settings`` when that is set, else
    ``<sys.prefix>/share/jupyter/lab/settings``, as ``jupyterlab.commands.get_app_dir`` says for a
    virtual or conda environment (importing it takes seconds, too long for every ``make course``)."""
    app_dir = os.environ.get("JUPYTERLAB_DIR") or os.path.join(sys.prefix, "share", "jupyter", "lab")
    return Path(app_dir) / "settings"


def ensure_saved(settings_dir: Path | None = None) -> bool:
    """Make ``<settings_dir>/overrides.json`` say ``{PLUGIN: {"saveState": true}}``, keeping its
    other settings. Idempotent: a file that already says so is not rewritten. Returns whether the
    file was written. Raises ``ValueError`` on a file that is not a JSON object (it is left as
    it is: someone wrote it by hand)."""
    path = Path(settings_dir if settings_dir is not None else lab_settings_dir()) / "overrides.json"
    overrides: dict = {}
    if path.exists():
        try:
            overrides = json.loads(path.read_text(encoding="utf-8") or "{}")
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON ({exc}); left unchanged") from None
        if not isinstance(overrides, dict) or not isinstance(overrides.get(PLUGIN, {}), dict):
            raise ValueError(f"{path} is not a JSON object of settings per plugin; left unchanged")
    if overrides.get(PLUGIN, {}).get("saveState") is True:
        return False
    overrides.setdefault(PLUGIN, {})["saveState"] = True
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(overrides, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # never a half-written file, even if interrupted
    return True


def _note_html(text: str) -> str:
    import html

    # Hidden unless this very view is disconnected, i.e. drawn from the notebook's saved state.
    style = (f".{NOTE_CLASS}:not(.{DISCONNECTED}) {{ display: none !important; }}"
             f" .{NOTE_CLASS} {{ font-size: 0.9em; font-style: italic; color: #8a4b08; }}")
    return f"<style>{style}</style>{html.escape(text)}"


def saved_slider_note(text: str = NOTE_TEXT):
    """An ``ipywidgets.HTML`` to display beside a lesson's sliders, e.g.
    ``display(widgets.HBox(controls), saved_slider_note())``: visible only where the sliders are a
    saved copy (no kernel behind them), hidden once the cell has run."""
    import ipywidgets as widgets

    note = widgets.HTML(value=_note_html(text))
    note.add_class(NOTE_CLASS)
    return note


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m course_utils.saved_widgets",
                                     description="Make this environment's JupyterLab save widget state in notebooks "
                                                 f"({PLUGIN}: saveState true in overrides.json).")
    parser.add_argument("--settings-dir", type=Path, default=None,
                        help=f"JupyterLab's application settings folder (default: {lab_settings_dir()})")
    args = parser.parse_args(argv)
    target = (args.settings_dir or lab_settings_dir()) / "overrides.json"
    try:
        written = ensure_saved(args.settings_dir)
    except (ValueError, OSError) as exc:
        print(f"warning: JupyterLab will not save the sliders' state in notebooks: {exc}", file=sys.stderr)
        return 1
    if written:
        print(f"JupyterLab now saves widget state in notebooks (so lessons reopen with their sliders): {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
