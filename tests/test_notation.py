"""One symbol, one meaning (issue 25, item 8): the notation card, linked from every lesson, and no
lesson or workbook using a symbol the card has retired or gives to something else."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CARD = ROOT / "notebooks" / "notation.md"
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NOTEBOOKS = LESSONS + sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))

# each retired spelling, and why it is wrong
RETIRED = {
    r"\\Psi_t": "the estimator's weight is Phi_t (chapter 03)",
    r"d\^\\pi_\\gamma|d_\\gamma\^\{?\\pi": "the discounted visitation is d_pi",
    r"\\rho_\{?\\pi": "rho is the start distribution rho_0 only; the unnormalised visitation is bar d_pi",
    r"\\rho\b(?!_0)": "rho is the start distribution rho_0 only (GRPO's ratio is q)",
    r"\\lambda I": "lambda is GAE's parameter; the damping is nu",
    r"\\varepsilon": "epsilon is PPO's clip range; the numerical guard is epsilon_num, chapter 06's constant epsilon_A, "
                     "a normal draw xi",
}


def _markdown(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def test_the_card_defines_every_symbol_the_checks_rely_on():
    card = CARD.read_text(encoding="utf-8")
    for symbol in (r"$\rho_0$", r"$d_\pi$", r"$\bar d_\pi$", r"$\Phi_t$", r"$\lambda$", r"$\nu$", r"$\epsilon$",
                   r"$\epsilon_{\text{num}}$", r"$\epsilon_A$", r"$\xi$", r"$q$", r"$h$", r"$\eta$", r"$\alpha$"):
        assert f"| {symbol}" in card, symbol


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_lesson_links_the_card_in_its_first_markdown_cell(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    first = next("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "](notation.md)" in first


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_retired_symbol_in_the_text(path):
    text = _markdown(path)
    for pattern, why in RETIRED.items():
        found = re.search(pattern, text)
        assert not found, f"{path.name}: {text[max(0, found.start() - 40):found.end() + 40]!r}: {why}"
    if path.name.startswith("06_"):  # mu is a Gaussian's mean (chapter 01), never the start distribution
        assert r"\mu" not in text
