"""The cached experiments: one store, one command, and the shipped files are found by every reader."""
from __future__ import annotations

import numpy as np
import pytest

from course_utils.experiments import (
    command,
    grpo_comparison,
    lambda_sweep,
    ppo_ablation,
    ppo_diagnostics,
    reference_curves,
    store,
)
from course_utils.trainers.history import History


def _fake_train(*args, seed=0, total_steps=4_000, **kwargs) -> History:
    """A run whose rolling mean climbs by 10 per episode (no training: the plumbing is tested)."""
    steps = list(range(200, total_steps + 1, 200))
    return History(env_steps=steps, wall_time=[s / 1000 for s in steps], episode_returns=[10.0 * (i + 1) for i in range(len(steps))],
                   episode_end_steps=steps, iteration_mean_return=[0.0] * len(steps), config={"seed": seed})


def test_shipped_caches_are_found_by_their_loaders():
    for name in reference_curves.reference_names():
        if name not in reference_curves.OPTIONAL:
            assert reference_curves.load_reference(name).n_seeds >= 1
    assert set(lambda_sweep.load_lambda_sweep()["runs"]) == {str(lam) for lam in lambda_sweep.LAMBDA_SWEEP["lams"]}
    assert len(ppo_ablation.load()["results"]) == len(ppo_ablation.VARIANTS)
    assert set(grpo_comparison.load()["runs"]) == {"GRPO", "PPO + critic"}
    assert grpo_comparison.cache_path() == store.path("grpo_vs_ppo.json")
    diagnostics = ppo_diagnostics.load()
    assert set(diagnostics["results"]) == set(ppo_diagnostics.RUNS) and len(diagnostics["seeds"]) >= 5
    assert set(ppo_diagnostics.MYSTERY.values()) == set(ppo_diagnostics.RUNS) - {"healthy"}


def test_every_cache_names_a_command_that_remakes_it():
    """Each shipped cache's meta.command is what a reader types to remake it: the one experiments
    command, with a name it knows (the old homes under trainers/ are gone; a command naming one fails)."""
    from course_utils.experiments import command

    files = sorted(store.path("").glob("*.json")) + sorted(store.path(reference_curves.FOLDER).glob("*.json"))
    assert len(files) >= 15
    for path in files:
        words = store.read(path)["meta"]["command"].split()
        assert words[:4] == ["python", "-m", "course_utils", "experiments"], (path.name, words)
        names = [w for w in words[4:words.index("--seeds")]] if "--seeds" in words else words[4:]
        assert names and set(names) <= set(command.names()), (path.name, names)
        assert path.stem in names, (path.name, names)


def test_new_caches_share_one_metadata_block(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "data_dir", lambda: tmp_path)
    curve = reference_curves.make_reference("reinforce_cartpole", [0, 1], {"reinforce": _fake_train}, progress=False)
    sweep = lambda_sweep.make_lambda_sweep(_fake_train, seeds=[0], progress=False)
    for data, name in [(curve, "reinforce_cartpole"), (sweep, "gae_lambda_sweep")]:
        assert data["meta"]["command"].startswith(f"python -m course_utils experiments {name}")
        assert {"versions", "torch_threads", "created", "machine"} <= set(data["meta"])
    written = store.write(f"{reference_curves.FOLDER}/reinforce_cartpole.json", curve)
    assert written.parent.parent == tmp_path
    loaded = reference_curves.load_reference("reinforce_cartpole")
    assert loaded.seeds == [0, 1] and loaded.steps_to(100.0) == [4_000, 4_000]  # rolling mean 105 after episode 20 (step 4,000)


def test_diagnostics_cache_bins_runs_and_summarises(tmp_path, monkeypatch):
    """ppo_diagnostics: per-update diagnostics binned on the grid, bands and tables over seeds."""
    def fake_ppo(config, gae=None, progress=False):
        h = _fake_train(seed=config["seed"], total_steps=config["total_steps"])
        n = len(h.env_steps)
        h.diagnostics = {"approx_kl": [0.01 * (config["seed"] + 1)] * n, "clip_fraction": [0.1] * n,
                         "entropy": list(np.linspace(0.69, 0.3, n)), "explained_variance": [0.5] * n, "value_mean": [10.0] * n}
        return h

    data = ppo_diagnostics.run([0, 1], 6_000, fake_ppo, lambda env, **kw: kw)
    assert data["grid"] == [2_000, 4_000, 6_000] and data["meta"]["command"].endswith("--seeds 0 1 --steps 6000")
    healthy = data["results"]["healthy"]["runs"]
    assert [r["approx_kl"] for r in healthy] == [[0.01] * 3, [0.02] * 3]
    assert ppo_diagnostics.per_seed(data, "healthy", "approx_kl") == [0.01, 0.02]
    grid, mid, low, high = ppo_diagnostics.band(data, "lr_x30", "approx_kl")
    assert np.allclose(mid, 0.015) and np.allclose(low, 0.0125) and np.allclose(high, 0.0175)
    assert "0.0150 [0.0100, 0.0200]" in ppo_diagnostics.table(data, {"h": "healthy"}, 0, 6_000)


def test_the_command_lists_and_rejects(capsys):
    assert command.main(["list"]) == 0
    listed = capsys.readouterr().out.split()
    assert {"reference_curves", "ppo_cartpole", "gae_lambda_sweep", "ppo_ablation", "ppo_diagnostics",
            "grpo_vs_ppo"} <= set(listed)
    assert command.main(["no_such_experiment"]) == 2


@pytest.mark.parametrize("argv", [["experiments", "list"]])
def test_the_course_command_has_the_experiments_subcommand(argv, capsys):
    from course_utils.cli import main

    assert main(argv) == 0 and "grpo_vs_ppo" in capsys.readouterr().out


def test_the_diagnostics_lab_reads_what_the_cache_shows():
    """What lesson 08's section 8, the lab's predict items and INSTRUCTORS.md say about the broken
    runs, checked on the shipped cache (mean over the first 20,000 steps, every seed)."""
    data = ppo_diagnostics.load()

    def early(name, quantity):
        return np.array(ppo_diagnostics.per_seed(data, name, quantity, 0, 20_000))

    healthy = {q: early("healthy", q) for q in ppo_diagnostics.DIAGNOSTICS + ("return",)}
    # learning rate x 30: every seed's updates move the policy about ten times further or more (the median seed
    # about twenty times), clip more, and lose entropy
    assert early("lr_x30", "approx_kl").min() > 9 * healthy["approx_kl"].max()
    assert np.median(early("lr_x30", "approx_kl")) > 15 * np.median(healthy["approx_kl"])
    assert np.median(early("lr_x30", "clip_fraction")) > healthy["clip_fraction"].max()
    assert np.median(early("lr_x30", "entropy")) < healthy["entropy"].min()
    # no done mask: return far below, update sizes healthy, critic worse early
    assert early("no_done_mask", "return").max() < healthy["return"].min() / 3
    assert early("no_done_mask", "approx_kl").max() < 1.5 * healthy["approx_kl"].max()
    assert early("no_done_mask", "explained_variance").max() < healthy["explained_variance"].min()
    # ... and a mean value far above what its short episodes are worth: (1 - gamma^L) / (1 - gamma), gamma 0.98
    worth = (1 - 0.98 ** early("no_done_mask", "return").max()) / 0.02
    assert early("no_done_mask", "value_mean").min() > 1.5 * worth
    # no advantage normalisation: its updates are no larger than healthy ones (the run that hides)
    assert early("no_adv_norm", "approx_kl").max() < 1.5 * healthy["approx_kl"].max()
    assert early("no_adv_norm", "clip_fraction").max() < 1.5 * healthy["clip_fraction"].max()
