"""Fast tests for course_utils.render and course_utils.env_check (a few frames each)."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from IPython.display import HTML

from course_utils.env_check import EnvironmentReport, environment_report, try_render_frame
from course_utils.render import frames_to_html, rollout_frames, show_episode


def _rendering_available() -> bool:
    frame, _ = try_render_frame()
    return frame is not None


needs_rendering = pytest.mark.skipif(not _rendering_available(), reason="pygame cannot render off-screen here")


# ---------------------------------------------------------------- env_check
def test_report_without_rendering_lists_versions_and_threads():
    report = environment_report(render=False)
    assert set(report.versions) == {"python", "torch", "gymnasium", "numpy", "matplotlib", "ipywidgets"}
    assert report.versions["gymnasium"].startswith("1.")
    assert report.torch_threads >= 1
    assert report.render_ok is False and report.render_error == "skipped"
    text = str(report)
    assert "torch threads" in text and "off-screen rendering" in text
    assert text.splitlines()[0].startswith("python")


def test_report_html_is_a_table_and_escaped():
    report = EnvironmentReport(
        versions={"python": "3.11", "weird": "<script>"},
        device="cpu",
        cuda_available=False,
        torch_threads=1,
        render_ok=False,
        render_error="no <display>",
    )
    html = report._repr_html_()
    assert html.startswith("<table>") and html.endswith("</table>")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;display&gt;" in html


@needs_rendering
def test_report_with_rendering_holds_one_rgb_frame():
    report = environment_report()
    assert report.render_ok and report.render_error == ""
    assert report.frame is not None
    assert report.frame.ndim == 3 and report.frame.shape[2] == 3 and report.frame.dtype == np.uint8
    assert "works (400x600 RGB frame)" in str(report)


# ---------------------------------------------------------------- render
@needs_rendering
def test_random_rollout_shapes_and_reproducibility():
    first = rollout_frames("CartPole-v1", policy=None, seed=0, max_steps=500)
    second = rollout_frames("CartPole-v1", policy=None, seed=0, max_steps=500)
    assert len(first.frames) == len(first.rewards) + 1  # reset frame + one per step
    assert first.frames[0].shape == (400, 600, 3) and first.frames[0].dtype == np.uint8
    assert first.terminated or first.truncated
    assert first.episode_return == float(len(first.rewards))  # CartPole pays +1 per step
    np.testing.assert_array_equal(first.rewards, second.rewards)
    np.testing.assert_array_equal(first.frames[-1], second.frames[-1])


@needs_rendering
def test_max_steps_stops_early_and_policy_is_used():
    seen = []

    def always_right(obs):
        seen.append(np.asarray(obs).shape)
        return 1

    rollout = rollout_frames("CartPole-v1", policy=always_right, seed=1, max_steps=3)
    assert len(rollout.rewards) == 3 and len(rollout.frames) == 4
    assert not rollout.terminated and not rollout.truncated
    assert seen == [(4,)] * 3


@needs_rendering
def test_rollout_accepts_an_env_and_leaves_it_open():
    env = gym.make("CartPole-v1", render_mode="rgb_array")
    rollout = rollout_frames(env, max_steps=2)
    assert len(rollout.frames) == 3
    env.reset(seed=0)  # still usable: we did not close an env we did not create
    env.close()


def test_env_without_rgb_rendering_is_rejected():
    env = gym.make("CartPole-v1")
    with pytest.raises(ValueError, match="rgb_array"):
        rollout_frames(env, max_steps=1)
    env.close()


def test_frames_to_html_player():
    frames = [np.full((20, 30, 3), value, dtype=np.uint8) for value in (0, 128, 255)]
    player = frames_to_html(frames, fps=10, title="three frames")
    assert isinstance(player, HTML)
    assert "<script" in player.data and "animation" in player.data.lower()
    with pytest.raises(ValueError):
        frames_to_html([])


@needs_rendering
def test_show_episode_returns_html():
    player = show_episode("CartPole-v1", seed=0, max_steps=3, fps=10)
    assert isinstance(player, HTML)
    assert "<script" in player.data
