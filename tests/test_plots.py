"""Learning-curve plots and the shipped reference curves."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from course_utils.plots import load_reference, plot_learning_curves
from course_utils.trainers import History
from course_utils.experiments.reference_curves import OPTIONAL, REFERENCES


def fake_history(returns: list[float], length: int = 10) -> History:
    steps = list(np.cumsum([length] * len(returns)))
    return History(env_steps=steps, episode_returns=returns, episode_end_steps=steps,
                   iteration_mean_return=returns, wall_time=[0.1 * i for i in range(len(returns))])  # fmt: skip


@pytest.mark.parametrize("name", list(REFERENCES))
def test_shipped_reference_curves_load(name):
    ref = load_reference(name)
    assert ref.name == name and len(ref.seeds) == (1 if name in OPTIONAL else 8)  # optional: one long run
    assert ref.env_steps.shape == ref.mean.shape == ref.min.shape == ref.max.shape == ref.median.shape
    ok = ~np.isnan(ref.mean)
    for center in (ref.mean, ref.median):
        assert (ref.min[ok] <= center[ok] + 1e-6).all() and (center[ok] <= ref.max[ok] + 1e-6).all()
    assert ref.config["env_id"] == REFERENCES[name][1]["env_id"] and ref.meta["torch_threads"] == 1


def test_plot_runs_and_reference():
    runs = [fake_history([10.0 * i for i in range(50)]), fake_history([12.0 * i for i in range(40)])]
    ax = plot_learning_curves({"mine": runs, "one": runs[0]}, reference="reinforce_rtg_baseline_cartpole",
                              smooth=5, band="std", target=475)  # fmt: skip
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "mine (2 runs)" and labels[1] == "one" and labels[2].startswith("reference:")
    mean_line = ax.get_lines()[0]
    assert mean_line.get_xdata()[-1] == 400  # the common grid ends with the shorter run
    with pytest.raises(FileNotFoundError, match="python -m course_utils experiments"):
        load_reference("no_such_curve")


def test_reference_band_and_the_learners_run_are_marked_on_the_target_line():
    run = fake_history([500.0] * 30, length=1_000)  # reaches 475 at its first episode, 1,000 steps
    ax = plot_learning_curves({"mine": run}, reference="reinforce_rtg_baseline_cartpole", target=475)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(label.startswith("reference: reinforce_rtg_baseline_cartpole (median and range of 8 seeds)")
               for label in labels)
    assert any("first reached 475 (8/8 seeds)" in label for label in labels)
    stars = [line for line in ax.get_lines() if line.get_marker() == "*"]
    assert len(stars) == 1 and stars[0].get_xdata()[0] == 1_000
    notes = [t.get_text() for t in ax.texts]
    assert "your run ends here" in notes  # 30,000 steps on axes drawn to 100,000


def test_claim_prints_holds_and_raises_only_in_strict_mode(capsys, monkeypatch):
    from course_utils.bands import claim

    assert claim(True, "it learned") is None  # nothing for a cell to display
    assert capsys.readouterr().out == "claim holds: it learned\n"
    claim(False, "it learned")
    assert "this run does not show: it learned. A single run is one draw" in capsys.readouterr().out
    monkeypatch.setenv("COURSE_STRICT", "1")
    with pytest.raises(AssertionError, match="does not show: it learned"):
        claim(False, "it learned")
