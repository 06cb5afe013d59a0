"""Saved sliders (issue 22): the course's JupyterLab saves widget state in notebooks, and a slider
drawn from saved state says that its cell must run before it moves the plot.

Here: the settings file the install writes (and keeps writing for an existing ``.venv``), that a
running course server serves it, the server's pre-save hook that keeps the state of widgets a saved
notebook still shows (JupyterLab drops it: jupyter-widgets/ipywidgets#3888), the note widget, the
lessons that use it, and what the note does where there is no kernel at all (the widgets' HTML
renderer of exports, slides and the website, in headless Chromium). The JupyterLab half, a lesson run, saved, reopened with a fresh kernel and
re-run, is ``tests/test_browser.py::test_lesson_05_keeps_working_sliders_after_a_save``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest

from course_utils import saved_widgets
from course_utils.saved_widgets import NEWS_PLUGIN as NEWS, NOTE_CLASS, NOTE_TEXT, PLUGIN, STATE_MIME, VIEW_MIME
from tests.chromium import ARTIFACTS, COURSE_LAB, ROOT

VENV = ROOT / os.environ.get("COURSE_VENV", ".venv")  # the environment scripts/course.sh starts JupyterLab from
LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# the controls a lesson's demo builds (a slider cell is one that builds any of them)
CONTROL = re.compile(r"widgets\.(\w*Slider|ToggleButtons|Dropdown|Checkbox|RadioButtons)\(")


def test_the_plugin_id_names_the_installed_widget_managers_setting():
    """PLUGIN is "<labextension>:<schema>" of the installed jupyterlab_widgets, which has saveState."""
    from jupyter_core.paths import jupyter_path

    package, schema = PLUGIN.split(":")
    found = [Path(d) / package / "schemas" / package / f"{schema}.json" for d in jupyter_path("labextensions")]
    found = [p for p in found if p.exists()]
    assert found, f"no schema of {PLUGIN} in {jupyter_path('labextensions')}"
    properties = json.loads(found[0].read_text())["properties"]
    assert properties["saveState"]["type"] == "boolean"


def test_the_news_popup_is_answered_once_in_the_course_settings(tmp_path):
    """JupyterLab's "get notified about official Jupyter news?" popup: overrides.json answers it
    (fetchNews "false", the installed schema's "Never": never asks, never fetches),
    merged into the settings already there, and a second call writes nothing."""
    from jupyterlab.commands import get_app_dir

    schema = Path(get_app_dir()) / "schemas" / Path(NEWS.replace(":", "/") + ".json")
    fetch = json.loads(schema.read_text())["properties"]["fetchNews"]
    assert {"const": "false", "title": "Never"} in fetch["oneOf"] and fetch["type"] == "string"
    (tmp_path / "overrides.json").write_text(json.dumps({NEWS: {"fetchNews": "true", "doNotDisturbMode": True},
                                                         PLUGIN: {"saveState": True}}))
    assert saved_widgets.ensure_saved(tmp_path) is True
    assert json.loads((tmp_path / "overrides.json").read_text()) == {
        NEWS: {"fetchNews": "false", "doNotDisturbMode": True}, PLUGIN: {"saveState": True}}
    assert saved_widgets.ensure_saved(tmp_path) is False  # idempotent
    (tmp_path / "overrides.json").write_text(json.dumps({PLUGIN: {"saveState": True}}))
    assert saved_widgets.ensure_saved(tmp_path) is True  # the widget setting alone is not enough any more
    assert json.loads((tmp_path / "overrides.json").read_text())[NEWS] == {"fetchNews": "false"}


def test_settings_dir_is_jupyterlabs_own(monkeypatch, tmp_path):
    from jupyterlab.commands import get_app_dir

    monkeypatch.delenv("JUPYTERLAB_DIR", raising=False)
    assert saved_widgets.lab_settings_dir() == Path(get_app_dir()) / "settings"
    monkeypatch.setenv("JUPYTERLAB_DIR", str(tmp_path))
    assert saved_widgets.lab_settings_dir() == Path(get_app_dir()) / "settings"


def test_the_course_environment_saves_widget_state():
    """After the install (make course / make test), the course's JupyterLab has saveState on."""
    path = VENV / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert path.exists(), f"{path} is missing: run `make install` (scripts/_install.sh writes it)"
    assert json.loads(path.read_text())[PLUGIN]["saveState"] is True
    server = VENV / "etc" / "jupyter" / "jupyter_server_config.d" / "course_utils.saved_widgets.json"
    assert json.loads(server.read_text()) == {"ServerApp": {"jpserver_extensions": {"course_utils.saved_widgets": True}}}


def _ensure_installed(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", "source scripts/_install.sh && ensure_installed"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_ensure_installed_writes_the_setting_into_an_installed_venv_idempotently(tmp_path):
    """An existing .venv (its stamp present, nothing reinstalled) still gets the setting, merged
    into the settings already there; a second run changes nothing."""
    stamps = list(VENV.glob(".course-installed-*"))
    if not stamps:
        pytest.skip(f"{VENV} is not installed by scripts/_install.sh")
    import hashlib

    if stamps[0].name != ".course-installed-" + hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:12]:
        pytest.skip("pyproject.toml changed since the install: ensure_installed would reinstall")
    lab = tmp_path / "lab"  # JUPYTERLAB_DIR: JupyterLab's application folder, as get_app_dir reads it
    env = dict(os.environ, JUPYTERLAB_DIR=str(lab))
    out = _ensure_installed(env)
    assert out.returncode == 0, out.stderr
    target = lab / "settings" / "overrides.json"
    assert json.loads(target.read_text()) == {PLUGIN: {"saveState": True}, NEWS: {"fetchNews": "false"}}
    assert "saves widget state" in out.stdout

    # someone else's overrides (and an explicit "false") in the file: kept, and ours set
    target.write_text(json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
                                  PLUGIN: {"saveState": False, "other": 1}, NEWS: {"fetchNews": "true", "x": 2}}))
    assert _ensure_installed(env).returncode == 0
    assert json.loads(target.read_text()) == {"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
                                              PLUGIN: {"saveState": True, "other": 1},
                                              NEWS: {"fetchNews": "false", "x": 2}}
    before = (target.read_bytes(), target.stat().st_mtime_ns)
    time.sleep(0.05)
    again = _ensure_installed(env)
    assert again.returncode == 0 and again.stdout == "" and again.stderr == ""  # silent when nothing to do
    assert (target.read_bytes(), target.stat().st_mtime_ns) == before


def test_postbuild_writes_the_setting_into_the_image_environment(tmp_path):
    """Binder / a JupyterHub image: postBuild, run by repo2docker with the image's python and pip
    on PATH, writes the setting (pip stubbed here: the course is installed already)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pip").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    for tool in ("pip", "python"):
        (bin_dir / tool).chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", JUPYTERLAB_DIR=str(tmp_path / "lab"))
    out = subprocess.run(["bash", "postBuild"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "lab" / "settings" / "overrides.json").read_text()) == {
        PLUGIN: {"saveState": True}, NEWS: {"fetchNews": "false"}}


def test_a_broken_overrides_file_is_left_alone_with_a_warning(tmp_path):
    target = tmp_path / "overrides.json"
    target.write_text("{ // a comment: not JSON")
    with pytest.raises(ValueError, match="not valid JSON"):
        saved_widgets.ensure_saved(tmp_path)
    out = subprocess.run([sys.executable, "-m", "course_utils.saved_widgets", "--settings-dir", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 1 and "will not save" in out.stderr
    assert target.read_text() == "{ // a comment: not JSON"


@COURSE_LAB
@pytest.mark.system
def test_the_course_server_saves_widget_state_and_keeps_what_outputs_show(course_lab):
    """JupyterLab started as learners start it (scripts/course.sh: the session's course_lab) reads
    the file: its settings API answers saveState true for the widget manager, as the default of
    the schema (the overrides), with no user setting of its own (a throw-away user settings
    folder). And its server runs the pre-save hook: a save through the contents API that lacks the
    state of a widget the outputs show (what JupyterLab sends for a slider whose cell did not run)
    writes it back."""
    folder = ROOT / "build" / f"test-saved-widgets-{os.getpid()}"  # under the server's root, git-ignored
    folder.mkdir(parents=True, exist_ok=True)
    nb = _notebook_with_a_slider()
    (folder / "lesson.ipynb").write_text(json.dumps(nb))
    try:
        with urllib.request.urlopen(course_lab.url(f"lab/api/settings/{PLUGIN}"), timeout=30) as r:
            answer = json.load(r)
        assert answer["schema"]["properties"]["saveState"]["default"] is True, answer
        assert "saveState" not in answer["settings"], answer

        sent = json.loads(json.dumps(nb))
        sent["metadata"]["widgets"][STATE_MIME]["state"] = {}  # no live model: what JupyterLab writes
        rel = (folder / "lesson.ipynb").relative_to(course_lab.root).as_posix()
        request = urllib.request.Request(course_lab.url(f"api/contents/{rel}"), method="PUT",
                                         data=json.dumps({"type": "notebook", "format": "json", "content": sent}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as r:
            assert r.status == 200
        written = json.loads((folder / "lesson.ipynb").read_text())
        assert set(written["metadata"]["widgets"][STATE_MIME]["state"]) == {"box", "slider", "layout"}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _model(name: str, **state) -> dict:
    module = "@jupyter-widgets/base" if name == "LayoutModel" else "@jupyter-widgets/controls"
    return {"model_name": name, "model_module": module, "model_module_version": "2.0.0", "state": state}


def _notebook_with_a_slider() -> dict:
    """A saved notebook whose one output shows a box holding a slider (box -> slider -> layout),
    plus the state of a widget no output shows any more."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("display(box)", execution_count=1, outputs=[nbformat.v4.new_output(
        "display_data", data={VIEW_MIME: {"version_major": 2, "version_minor": 0, "model_id": "box"},
                              "text/plain": "HBox(...)"})]))
    nb.metadata["widgets"] = {STATE_MIME: {"version_major": 2, "version_minor": 0, "state": {
        "box": _model("HBoxModel", children=["IPY_MODEL_slider"]),
        "slider": _model("FloatSliderModel", value=0.9, layout="IPY_MODEL_layout"),
        "layout": _model("LayoutModel"),
        "gone": _model("ButtonModel")}}}
    return json.loads(nbformat.writes(nb))


def _save(cm, nb: dict, path: str = "lesson.ipynb") -> dict:
    cm.save({"type": "notebook", "format": "json", "content": json.loads(json.dumps(nb))}, path)
    return json.loads((Path(cm.root_dir) / path).read_text())


@pytest.fixture
def contents(tmp_path):
    """The Jupyter server's file contents manager with the course's pre-save hook."""
    from jupyter_server.services.contents.filemanager import FileContentsManager

    cm = FileContentsManager(root_dir=str(tmp_path))
    cm.register_pre_save_hook(saved_widgets.keep_widget_state)
    return cm


def test_a_save_without_live_widgets_keeps_the_state_the_outputs_show(contents):
    nb = _notebook_with_a_slider()
    _save(contents, nb)
    sent = json.loads(json.dumps(nb))
    sent["metadata"]["widgets"][STATE_MIME]["state"] = {}
    written = _save(contents, sent)
    state = written["metadata"]["widgets"][STATE_MIME]["state"]
    assert state == {k: v for k, v in nb["metadata"]["widgets"][STATE_MIME]["state"].items() if k != "gone"}
    sent["metadata"].pop("widgets")  # a save with no widget metadata at all
    assert _save(contents, sent)["metadata"]["widgets"] == written["metadata"]["widgets"]


def test_a_save_after_the_cell_ran_writes_the_live_state_only(contents):
    nb = _notebook_with_a_slider()
    _save(contents, nb)
    rerun = json.loads(json.dumps(nb))
    rerun["cells"][0]["outputs"][0]["data"][VIEW_MIME]["model_id"] = "box2"
    rerun["metadata"]["widgets"][STATE_MIME]["state"] = {"box2": _model("HBoxModel", children=[])}
    assert set(_save(contents, rerun)["metadata"]["widgets"][STATE_MIME]["state"]) == {"box2"}


def test_a_live_box_keeps_a_saved_child_it_points_at(contents):
    nb = _notebook_with_a_slider()
    _save(contents, nb)
    partly = json.loads(json.dumps(nb))
    state = partly["metadata"]["widgets"][STATE_MIME]["state"]
    del state["slider"], state["layout"], state["gone"]
    assert set(_save(contents, partly)["metadata"]["widgets"][STATE_MIME]["state"]) == {"box", "slider", "layout"}


def test_the_hook_leaves_new_files_and_other_documents_alone(contents, tmp_path):
    nb = _notebook_with_a_slider()
    nb["metadata"]["widgets"][STATE_MIME]["state"] = {}
    assert _save(contents, nb, "new.ipynb")["metadata"]["widgets"][STATE_MIME]["state"] == {}
    model = {"type": "file", "format": "text", "content": "plain"}
    saved_widgets.keep_widget_state(model, "a.txt", contents)
    assert model == {"type": "file", "format": "text", "content": "plain"}


def test_the_note_is_a_widget_that_hides_itself_once_connected():
    import ipywidgets as widgets

    note = saved_widgets.saved_slider_note()
    assert isinstance(note, widgets.HTML) and NOTE_CLASS in note._dom_classes
    style, text = re.fullmatch(r"<style>(.*)</style>(.*)", note.value, flags=re.S).groups()
    assert text == NOTE_TEXT
    assert f".{NOTE_CLASS}:not(.jupyter-widgets-disconnected) {{ display: none !important; }}" in style
    assert "<b>" not in saved_widgets.saved_slider_note("a <b>").value.split("</style>")[1]  # text, not markup


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_slider_demo_of_a_lesson_displays_the_note(path):
    cells = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    for source in cells:
        if CONTROL.search(source):
            assert "saved_slider_note()" in source, f"{path.name}: a demo with controls and no note:\n{source[-300:]}"


def test_the_slider_demos_are_found():
    """The lessons with slider demos (so the test above is not vacuous)."""
    with_controls = [p.name[:2] for p in LESSONS
                     if any(CONTROL.search("".join(c["source"])) for c in json.loads(p.read_text())["cells"])]
    assert {"01", "04", "05", "07", "08"} <= set(with_controls)


@pytest.mark.system
def test_without_a_kernel_the_widgets_renderer_shows_the_note(tmp_path, browser):
    """What an HTML export, the slides and the website draw (the widgets' HTML manager, no kernel):
    the sliders from their saved state, and the note visible beside them."""
    from course_utils.classroom.slides import VENDORS, cache_dir

    vendor = next(v for v in VENDORS if v.target == "html-manager")
    tarball = cache_dir() / vendor.filename
    if not tarball.exists():
        pytest.skip(f"{tarball} is missing (the install fetches it from the npm registry)")
    with tarfile.open(tarball) as tar:  # the renderer and its fonts
        for member in tar.getmembers():
            if member.isfile() and member.name.startswith("package/dist/") and ".." not in member.name:
                (tmp_path / member.name).parent.mkdir(parents=True, exist_ok=True)
                (tmp_path / member.name).write_bytes(tar.extractfile(member).read())
    import ipywidgets as widgets
    from ipywidgets.embed import embed_minimal_html

    slider = widgets.FloatSlider(value=0.9, min=0.0, max=1.0, step=0.1, description="lam")
    page = tmp_path / "export.html"
    embed_minimal_html(str(page), views=[widgets.HBox([slider]), saved_widgets.saved_slider_note()],
                       requirejs=False, cors=False, embed_url=(tmp_path / "package" / "dist" / "embed.js").as_uri())
    browser.get(page.as_uri())
    deadline, seen = time.time() + 30, None
    while time.time() < deadline and not (seen and seen["slider"] and seen["note"]):
        time.sleep(0.3)
        seen = browser.execute_script(
            f"const note = document.querySelector('.{NOTE_CLASS}');"
            "return {slider: !!document.querySelector('.widget-slider'),"
            " note: note && getComputedStyle(note).display !== 'none' && note.offsetHeight > 0 ? note.innerText : ''};")
    browser.save_screenshot(str(ARTIFACTS / "saved_slider_note_without_kernel.png"))
    assert seen and seen["slider"], "the saved slider was not drawn"
    assert seen["note"].strip() == NOTE_TEXT, seen
