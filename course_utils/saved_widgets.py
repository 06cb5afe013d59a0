"""Sliders that survive a save: JupyterLab told to keep widget state, and a note on saved sliders.

Three parts of one promise, "a lesson reopens with its sliders":

* **The environment.** JupyterLab's widget manager does not store widget state in a notebook by
  default (``saveState: false`` in the schema of ``@jupyter-widgets/jupyterlab-manager``). A lesson
  run and saved (autosave does it) then keeps outputs that point at widget models it no longer
  describes: a fresh kernel shows "Error displaying widget: model not found". :func:`ensure_saved`
  sets ``saveState: true`` in the environment's ``overrides.json`` (JupyterLab's application
  settings, ``<prefix>/share/jupyter/lab/settings/``), keeping whatever else the file says.
* **The save.** With ``saveState`` on, the manager writes only the models it has a live kernel
  connection for (jupyter-widgets/ipywidgets#3888, open; it also marks a notebook changed as soon
  as it draws saved widgets). A lesson opened and autosaved without running its slider cell would
  lose the state of the sliders it still shows, and the next fresh start would again say "model
  not found". :func:`keep_widget_state`, a pre-save hook of the Jupyter server, puts back from the
  file on disk the state of every widget the outputs still show and the new state lacks (with the
  models those reference), so such a save writes the lesson unchanged. It is a server extension of
  this module, enabled by :func:`ensure_server_extension` in the environment's
  ``<prefix>/etc/jupyter/jupyter_server_config.d/``.
* **The output.** A slider drawn from saved state (a fresh JupyterLab before the cell runs, an
  HTML export, the slides) moves its readout but not the figure, which only the kernel redraws.
  :func:`saved_slider_note` is a one-line note to display beside the sliders that says so. It is
  shown only while its own view is *disconnected* (the widget manager marks every view of a model
  without a live kernel connection with the class ``jupyter-widgets-disconnected``; JupyterLab
  draws a broken-link icon for it) and hidden as soon as the cell has run, by a style rule the
  note carries itself, so that every renderer (JupyterLab, nbconvert's HTML and slides, the
  website) applies it without a style sheet of its own.

``python -m course_utils.saved_widgets`` writes the two files of the first two parts;
``scripts/_install.sh`` (``make course``, ``make test``) and ``postBuild`` (Binder, a JupyterHub
image) run it on every start. It imports nothing heavy: it runs before JupyterLab on every
``make course``.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

__all__ = ["PLUGIN", "NOTE_CLASS", "NOTE_TEXT", "lab_settings_dir", "server_config_dir", "ensure_saved",
           "ensure_server_extension", "keep_widget_state", "saved_slider_note"]

# the settings id of the widget manager: "<labextension package>:<schema file name>"
PLUGIN = "@jupyter-widgets/jupyterlab-manager:plugin"
NOTE_CLASS = "course-saved-note"
NOTE_TEXT = "Run this cell to move the plot: a saved slider only moves its readout."
DISCONNECTED = "jupyter-widgets-disconnected"
STATE_MIME = "application/vnd.jupyter.widget-state+json"
VIEW_MIME = "application/vnd.jupyter.widget-view+json"
# JupyterLab's "Would you like to get notified about official Jupyter news?" popup, asked of every
# learner on first start: answered once for the course's environment ("false": never fetch news)
NEWS_PLUGIN = "@jupyterlab/apputils-extension:notification"
SETTINGS = {PLUGIN: {"saveState": True}, NEWS_PLUGIN: {"fetchNews": "false"}}  # what ensure_saved writes
EXTENSION = "course_utils.saved_widgets"  # this module is the server extension (not __name__: "__main__" under -m)


def lab_settings_dir() -> Path:
    """JupyterLab's application settings folder of the running Python's environment (where
    ``overrides.json`` lives): ``$JUPYTERLAB_DIR/settings`` when that is set, else
    ``<sys.prefix>/share/jupyter/lab/settings``, as ``jupyterlab.commands.get_app_dir`` says for a
    virtual or conda environment (importing it takes seconds, too long for every ``make course``)."""
    app_dir = os.environ.get("JUPYTERLAB_DIR") or os.path.join(sys.prefix, "share", "jupyter", "lab")
    return Path(app_dir) / "settings"


def ensure_saved(settings_dir: Path | None = None) -> bool:
    """Make ``<settings_dir>/overrides.json`` say ``{PLUGIN: {"saveState": true}}`` and
    ``{NEWS_PLUGIN: {"fetchNews": "false"}}`` (no news popup), keeping its other settings. Idempotent: a file that already says so is not rewritten. Returns whether the
    file was written. Raises ``ValueError`` on a file that is not a JSON object (it is left as
    it is: someone wrote it by hand)."""
    path = Path(settings_dir if settings_dir is not None else lab_settings_dir()) / "overrides.json"
    overrides: dict = {}
    if path.exists():
        try:
            overrides = json.loads(path.read_text(encoding="utf-8") or "{}")
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON ({exc}); left unchanged") from None
        if not isinstance(overrides, dict) or not all(isinstance(overrides.get(p, {}), dict) for p in SETTINGS):
            raise ValueError(f"{path} is not a JSON object of settings per plugin; left unchanged")
    if all(overrides.get(p, {}).get(k) == v for p, kv in SETTINGS.items() for k, v in kv.items()):
        return False
    for plugin, values in SETTINGS.items():
        overrides.setdefault(plugin, {}).update(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(overrides, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # never a half-written file, even if interrupted
    return True


def server_config_dir() -> Path:
    """The Jupyter server's configuration folder of the running Python's environment, the one
    ``jupyter_core.paths.ENV_CONFIG_PATH`` names: ``<sys.prefix>/etc/jupyter/jupyter_server_config.d``."""
    return Path(sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.d"


def ensure_server_extension(config_dir: Path | None = None) -> bool:
    """Enable this module's server extension (the pre-save hook :func:`keep_widget_state`) with a
    file of its own in ``config_dir`` (default :func:`server_config_dir`). Idempotent; returns
    whether the file was written."""
    path = Path(config_dir if config_dir is not None else server_config_dir()) / f"{EXTENSION}.json"
    text = json.dumps({"ServerApp": {"jpserver_extensions": {EXTENSION: True}}}, indent=2) + "\n"
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return True


def _shown_models(nb: dict) -> list[str]:
    """The model ids of the widget views a notebook's outputs show."""
    return [out["data"][VIEW_MIME]["model_id"] for cell in nb.get("cells", []) for out in cell.get("outputs", [])
            if isinstance(out.get("data"), dict) and isinstance(out["data"].get(VIEW_MIME), dict)
            and "model_id" in out["data"][VIEW_MIME]]


def _references(value) -> list[str]:
    """The models a model's state points at ("IPY_MODEL_<id>": children, layout, style, ...)."""
    if isinstance(value, str):
        return [value[len("IPY_MODEL_"):]] if value.startswith("IPY_MODEL_") else []
    if isinstance(value, dict):
        return [ref for v in value.values() for ref in _references(v)]
    if isinstance(value, list):
        return [ref for v in value for ref in _references(v)]
    return []


def keep_widget_state(model: dict, path: str, contents_manager=None, **kwargs) -> None:
    """Jupyter server pre-save hook: the notebook about to be written keeps the saved state of
    every widget its outputs still show (and of the models those point at), taken from the file
    on disk where the new state lacks it. Changes nothing when nothing is missing, when the file
    is new, or for anything but a notebook."""
    nb = model.get("content")
    if model.get("type") != "notebook" or not isinstance(nb, dict):
        return
    metadata = nb.setdefault("metadata", {})
    saved = (metadata.get("widgets") or {}).get(STATE_MIME) or {}
    state = saved.get("state") or {}
    needed, todo = set(), _shown_models(nb)
    while todo:  # what the outputs show and, through the state the new file has, point at
        model_id = todo.pop()
        if model_id not in needed:
            needed.add(model_id)
            todo += _references(state.get(model_id, {}).get("state", {}))
    missing = sorted(needed - set(state))
    if not missing or contents_manager is None:
        return
    try:  # (never an HTTPError out of here: the server would refuse the save)
        os_path = (contents_manager._get_os_path(path) if hasattr(contents_manager, "_get_os_path")
                   else os.path.join(contents_manager.root_dir, path))
        with open(os_path, encoding="utf-8") as f:
            old = json.load(f)["metadata"]["widgets"][STATE_MIME]
        old_state = dict(old["state"])
    except Exception:  # noqa: BLE001  (a new file, one without saved widgets, another contents manager)
        return
    restored: dict = {}
    while missing:
        model_id = missing.pop()
        if model_id in state or model_id in restored or not isinstance(old_state.get(model_id), dict):
            continue
        restored[model_id] = old_state[model_id]
        missing += _references(restored[model_id].get("state", {}))
    if restored:
        metadata["widgets"] = {STATE_MIME: {"version_major": saved.get("version_major", old.get("version_major", 2)),
                                            "version_minor": saved.get("version_minor", old.get("version_minor", 0)),
                                            "state": {**state, **restored}}}


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": EXTENSION}]


def _load_jupyter_server_extension(serverapp) -> None:
    serverapp.contents_manager.register_pre_save_hook(keep_widget_state)
    serverapp.log.info("course_utils: a saved notebook keeps the state of the widgets its outputs still show")


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
                                                 f"({PLUGIN}: saveState true in overrides.json) and its server keep "
                                                 "the state of widgets a saved notebook still shows.")
    parser.add_argument("--settings-dir", type=Path, default=None,
                        help=f"JupyterLab's application settings folder (default: {lab_settings_dir()})")
    parser.add_argument("--server-config-dir", type=Path, default=None,
                        help=f"the Jupyter server's configuration folder (default: {server_config_dir()})")
    args = parser.parse_args(argv)
    status = 0
    try:
        if ensure_saved(args.settings_dir):
            print("JupyterLab now saves widget state in notebooks (so lessons reopen with their sliders): "
                  f"{(args.settings_dir or lab_settings_dir()) / 'overrides.json'}")
    except (ValueError, OSError) as exc:
        print(f"warning: JupyterLab will not save the sliders' state in notebooks: {exc}", file=sys.stderr)
        status = 1
    try:
        if ensure_server_extension(args.server_config_dir):
            print("The Jupyter server now keeps the state of the widgets a saved notebook still shows: "
                  f"{(args.server_config_dir or server_config_dir()) / (EXTENSION + '.json')}")
    except OSError as exc:
        print(f"warning: saving a notebook may drop the state of sliders whose cell did not run: {exc}", file=sys.stderr)
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
