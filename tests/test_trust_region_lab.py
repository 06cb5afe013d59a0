"""Chapter 06's bug lab: the cache is what the trainers make, the bands tell the runs apart, the prose and
the check keep the bug to themselves."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

import course_utils
from course_utils.answers import trust_region_iteration
from course_utils.catalogue import registry
from course_utils.experiments import trust_region_lab
from tests.conftest import ROOT


def _handed_out():
    ex = registry()["trust_region_iteration"]
    return next(m.fn for m in ex.mistakes if m.name == ex.bug)


@pytest.mark.parametrize("name", ["healthy", "broken"])
def test_the_cache_is_what_the_trainers_make(name):
    lab = trust_region_lab.load()
    trainer = trust_region_iteration if name == "healthy" else _handed_out()
    assert lab["seeds"] == trust_region_lab.SEEDS and lab["iterations"] == trust_region_lab.ITERATIONS
    for k, seed in enumerate(lab["seeds"]):
        again = trust_region_lab.curves(trainer, seed)
        for column in trust_region_lab.COLUMNS:
            assert np.allclose(again[column], lab[name][column][k], atol=1e-7), (name, seed, column)


def test_the_bands_tell_the_two_apart_from_their_own_evidence():
    lab = trust_region_lab.load()
    healthy, broken = lab["healthy"], lab["broken"]
    assert np.all(healthy["kl"] <= lab["delta"] + 1e-12) and np.all(broken["kl"] <= lab["delta"] + 1e-12)
    # healthy: at the optimum within 20 steps, the surrogate predicts the gain it makes
    assert np.all(np.abs(healthy["J"][:, 19] - lab["J_star"]) < 1e-3)
    assert np.all(np.abs(healthy["predicted"] - healthy["actual"])[:, 5:] < 0.25)
    # as handed out: below the healthy band from step 6 on, and the predicted gain runs away from the one made
    assert np.all(broken["J"][:, 5:].max(0) < healthy["J"][:, 5:].min(0))
    assert np.all((broken["predicted"] - broken["actual"])[:, 10:] > 0.5)
    assert trust_region_lab.in_band(healthy["J"][0], healthy["J"]) and not trust_region_lab.in_band(
        broken["J"][0], healthy["J"])


def test_the_fix_passes_and_the_handed_out_code_gets_no_diagnosis():
    assert course_utils.grade("trust_region_iteration", trust_region_iteration).passed
    res = course_utils.grade("trust_region_iteration", _handed_out())
    assert not res.passed and "Expected" in res.message and "Got" in res.message
    bug = registry()["trust_region_iteration"].mistakes[0]
    assert bug.message not in res.message


def test_the_lab_prose_does_not_name_the_bug():
    nb = json.loads((ROOT / "exercises" / "06_trust_regions.ipynb").read_text(encoding="utf-8"))
    cells = nb["cells"]
    start = next(i for i, c in enumerate(cells) if "Bug lab" in "".join(c["source"]))
    prose = " ".join("".join(c["source"]) for c in cells[start:start + 5])
    for telling in ("not updated", "stale", "starting policy", "left at the start", "update pi", "pi = pi_new"):
        assert telling not in prose, telling
    handed = next("".join(c["source"]) for c in cells if "".join(c["source"]).startswith("def trust_region_iteration("))
    assert re.search(r"^\s+logits = new_logits$", handed, re.M) and "pi = pi_new" not in handed
