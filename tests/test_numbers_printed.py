"""Numbers that are printed: every number in a "What you should see" section is printed by a cell of the same
notebook (its stored outputs), or named with the cache it comes from.

A stated number matches a printed one that rounds to it at the stated precision: "0.28" matches 0.2812, "about
47,000" (rounded to thousands) matches 46,696, "-110" matches -109.8. A number "named with the cache it comes from"
sits in a bullet that names the cache, with its name in backticks (a reference curve such as
`a2c_gae_acrobot`, or an experiment such as `gae_lambda_sweep`). Not numbers of this kind: references ("chapter 05",
"§3", "workbook 07"), the level of an interval ("95% interval"), the **Next:** paragraph, and code in backticks.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))

# notebooks of chapters whose engineers fix their own sections (issue 25): listed, expected to fail until then
PENDING = {"notebooks/02_reinforce.ipynb", "notebooks/07_trpo.ipynb", "notebooks/08_ppo.ipynb",
           "notebooks/09_grpo.ipynb", "notebooks/10_rl_for_language_models.ipynb",
           "solutions/02_reinforce.ipynb", "solutions/04_actor_critic.ipynb", "solutions/07_trpo.ipynb",
           "solutions/08_ppo.ipynb", "solutions/09_grpo.ipynb", "solutions/10_rl_for_language_models.ipynb"}

SUPERSCRIPT = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
NUMBER = re.compile(r"(?<![\w.^_{}\\-])(?:[-−])?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e-?\d+)?(?![\w])")
NOT_A_RESULT = re.compile(r"(?:chapter|chapters|workbook|lesson|section|§)\s*$", re.I)


def _source(cell: dict) -> str:
    return "".join(cell.get("source", ""))


def sections(nb: dict) -> list[str]:
    """The text of every "What you should see" section (to the next heading or **Next:**)."""
    found = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        src = _source(cell)
        m = re.search(r"^(#+)\s*What you should see.*$", src, re.M)
        if not m:
            continue
        rest = src[m.end():]
        end = re.search(r"^#{1,%d}\s|\*\*Next:?\*\*" % len(m.group(1)), rest, re.M)
        found.append(rest[: end.start()] if end else rest)
    return found


def _plain(text: str) -> str:
    """Math as numbers: 10^{-12} -> 1e-12, 10⁻¹² -> 1e-12; no thousands separators, no NBSP."""
    text = text.replace("{,}", ",").replace("\u202f", " ").replace("\u00a0", " ").replace("−", "-")
    text = re.sub(r"10\^\{?(-?\d+)\}?", r"1e\1", text)
    text = re.sub(r"10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)", lambda m: "1e" + m.group(1).translate(SUPERSCRIPT), text)
    return text


def printed_numbers(nb: dict) -> list[float]:
    texts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            if "text" in out:
                texts.append("".join(out["text"]))
            for kind in ("text/plain", "text/markdown"):
                if kind in out.get("data", {}):
                    texts.append("".join(out["data"][kind]))
    values = []
    for m in NUMBER.finditer(_plain("\n".join(texts))):
        try:
            values.append(float(m.group(0).replace(",", "")))
        except ValueError:
            pass
    return values


def _matches(stated: str, printed: list[float]) -> bool:
    value = float(stated.replace(",", ""))
    digits = stated.split(".")[1] if "." in stated and "e" not in stated else None
    if "e" in stated:
        return any(math.isclose(p, value, rel_tol=0.05) for p in printed)
    if digits is not None:
        return any(round(p, len(digits)) == value for p in printed)
    whole = stated.replace(",", "").lstrip("-")
    zeros = len(whole) - len(whole.rstrip("0")) if whole != "0" else 0
    return any(round(p, -zeros) == value if zeros else round(p) == value for p in printed)


def unprinted(nb: dict) -> list[str]:
    """The numbers of the notebook's "What you should see" sections that no cell prints, each in its context."""
    printed = printed_numbers(nb)
    missing = []
    for section in sections(nb):
        for bullet in re.split(r"\n(?=\s*[*-] )", section):
            names_a_cache = re.search(r"`[a-z0-9_]+_(?:cartpole|acrobot|pendulum|halfcheetah|sweep|ablation|"
                                      r"comparison|aggregation|diagnostics)[a-z0-9_]*`", bullet)
            text = _plain(re.sub(r"`[^`]*`", " ", bullet))
            for m in NUMBER.finditer(text):
                stated = m.group(0)
                before, after = text[: m.start()], text[m.end(): m.end() + 40]
                if NOT_A_RESULT.search(before[-12:]) or re.match(r"%\s*(?:bootstrap\s*)?interval", after):
                    continue
                if names_a_cache or _matches(stated, printed):
                    continue
                missing.append(f"{stated!r} in: ...{text[max(0, m.start() - 60): m.end() + 30].strip()}...")
    return missing


def test_the_rule_on_a_small_notebook():
    nb = {"cells": [
        {"cell_type": "code", "source": "", "outputs": [
            {"output_type": "stream", "name": "stdout", "text": "median 46,696; ratio 0.2812; gap < 10⁻¹²\n"}]},
        {"cell_type": "markdown", "source": "## What you should see\n\n* about 47,000 steps, a ratio of 0.28, "
                                            "a gap below $10^{-12}$ (chapter 05, 95% interval)\n"
                                            "* a band of 31,000 to 52,000 steps (`trpo_cartpole`)\n"
                                            "* and 0.29, never printed\n\n**Next:** chapter 06 at 3 pm"},
    ]}
    assert [m.split(" in:")[0] for m in unprinted(nb)] == ["'0.29'"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_number_in_what_you_should_see_is_printed_or_named_with_its_cache(path: Path):
    rel = f"{path.parent.name}/{path.name}"
    missing = unprinted(json.loads(path.read_text(encoding="utf-8")))
    if missing and rel in PENDING:
        pytest.xfail(f"{rel}: {len(missing)} numbers not printed (its chapter's engineer fixes them)")
    assert not missing, f"{rel}: numbers no cell prints:\n" + "\n".join(missing)
