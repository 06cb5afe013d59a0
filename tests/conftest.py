"""Shared test set-up: a throw-away progress file, one torch thread, no strict mode leaking; the
browser tests' session fixtures (``course_lab``, ``browser``: tests/chromium.py)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from tests.chromium import browser, course_lab  # noqa: F401  (session fixtures of the browser tests)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(tmp_path / "progress.json"))
    monkeypatch.delenv("COURSE_STRICT", raising=False)
    torch.set_num_threads(1)
    yield


def pytest_configure(config):
    os.environ.setdefault("MPLBACKEND", "Agg")
    # scripts/test.sh runs these again under another floating-point path (another machine)
    config.addinivalue_line("markers", "learning: trains an agent; must hold on any CPU's float path")
    config.addinivalue_line("markers", "numerics: compares floating-point math; must hold on any CPU")
    # scripts/test.sh runs these once, in a stage of their own
    config.addinivalue_line("markers", "system: starts servers or a browser (hub, JupyterLab, website, hosted kernel)")


# ----------------------------------------------------------------------------- two workers, balanced
# scripts/test.sh runs tests/ on 2 pytest-xdist workers with --dist loadfile --no-loadscope-reorder:
# xdist sends the files in the order collected here, and this hook puts the longest files first (each
# file's tests keep their order), from the seconds below (`--durations` of tests/ on a loaded 2-core
# machine, 2026-12-04: only their order matters; a test not listed counts 1 s, a function's figure
# counts for each of its parameters), so that the last files to finish are short ones; xdist's own
# order (most tests first) left one worker idle while the other ran a long file. A stale figure costs
# balance, never a test.
DURATIONS = {
    "tests/test_class_report.py::test_a_class_of_31_gives_the_mistakes_report": 686,
    "tests/test_class_report.py::test_shards_graded_apart_merge_into_the_single_run": 578,
    "tests/test_classroom.py::test_grade_submissions_contains_hostile_notebooks_and_resumes": 410,
    "tests/test_hub.py::test_a_class_on_jupyterhub": 407,
    "tests/test_browser_predict.py::test_a_button_commitment_is_saved_and_counted": 363,
    "tests/test_trainer_reinforce.py::test_reinforce_with_baseline_learns_cartpole_on_every_seed": 318,
    "tests/test_hosted.py::test_workbook_01_runs_in_a_bare_kernel_that_installs_the_course": 221,
    "tests/test_predict_commit.py::test_course_check_counts_a_button_commitment_and_regrading_adds_no_attempt": 204,
    "tests/test_trainer_trpo.py::test_trpo_learns_cartpole_on_every_seed": 192,
    "tests/test_trainer_ppo.py::test_zoo_cartpole_learns_on_every_seed": 185,
    "tests/test_trusted_grading.py::test_a_hostile_class_cannot_grade_itself": 176,
    "tests/test_browser.py::test_first_hour": 167,
    "tests/test_learner_work.py::test_no_command_a_learner_can_see_loses_their_work": 163,
    "tests/test_predict_commit.py::test_the_batch_grader_counts_button_commitments": 160,
    "tests/test_trainer_a2c.py::test_a2c_learns_cartpole_on_every_seed": 132,
    "tests/test_site.py::test_every_notebook_became_a_page": 130,
    "tests/test_predict_commit.py::test_course_check_counts_a_commitment_kept_only_in_the_widget_state": 125,
    "tests/test_benchmarks.py::test_the_benchmark_runs_end_to_end_at_a_tiny_scale": 120,
    "tests/test_trusted_grading.py::test_the_split_grader_says_what_check_says": 113,
    "tests/test_project.py::test_cli_grades_a_workbook_file": 101,
    "tests/test_browser.py::test_lesson_runs_and_a_slider_changes_the_plot": 98,
    "tests/test_project.py::test_cli_check_prints_the_headline_of_a_failure": 92,
    "tests/test_class_report.py::test_a_mixed_folder_grades_only_the_named_assignment_and_says_so": 82,
    "tests/test_site.py::test_every_page_renders_in_chromium": 81,
    "tests/test_readme_commands.py::test_readme_command_works_in_a_new_shell[.venv/bin/course check exercises/01_log_derivative_trick.ipynb]": 78,
    "tests/test_browser.py::test_lesson_05_keeps_working_sliders_after_a_save": 76,
    "tests/test_kernel_warnings.py::test_course_check_starts_with_no_warning": 64,
    "tests/test_predict_commit.py::test_a_copied_exercise_is_graded_but_recorded_by_its_own_workbook": 63,
    "tests/test_project.py::test_open_the_course_command_starts_jupyterlab": 42,
    "tests/test_classroom.py::test_slides_export_is_offline": 42,
    "tests/test_notebooks.py::test_learner_workbook_runs_and_every_check_says_not_implemented": 25,
    "tests/test_readme_commands.py::test_readme_command_works_in_a_new_shell": 20,
}


def _seconds(nodeid: str) -> float:
    """The listed figure of a test: its own, else its function's (every parameter), else 1 s."""
    return DURATIONS.get(nodeid, DURATIONS.get(nodeid.split("[", 1)[0], 1.0))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return  # (one process: the order of the files, nothing to balance)
    files: dict[str, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    weight = {path: sum(_seconds(i.nodeid) for i in members) for path, members in files.items()}
    items[:] = [item for path in sorted(files, key=lambda p: -weight[p]) for item in files[path]]  # (stable)
