"""The course's plain math notation, shown as math: hints and predictions keep their readable text.

Hints (``checks/ch*.py``) and predictions (``checks/predictions.py``) write formulas in plain
text, ``log pi(a_i|s_i) = z_{i,a_i} - logsumexp_b z_{i,b}`` or ``sigma^2``, which reads well in a
terminal but looked like raw LaTeX in JupyterLab. :func:`html` turns that notation into HTML
that every renderer shows without MathJax (JupyterLab, an Output widget, the website): Greek
letters, subscripts and superscripts, ``hat R`` as R̂, ``sum_t`` as Σ with its index, ``grad`` as
∇, ``<=`` as ≤. :func:`plain` makes the same substitutions where plain text can (Greek letters,
symbols, subscripts and superscripts that Unicode has) and leaves the rest as written.

The notation, as the checks use it:

* ``x_i``, ``x_{t+1}``, ``x^2``, ``gamma^{T-1}``: a subscript or superscript. An unbraced
  subscript follows a one-letter or Greek name (``g_ik``, ``V_phi``, up to three characters) or
  is one character after a longer name (``logp_i``, ``score_i``); anything else with an
  underscore is a code name and stays as it is (``log_std``, ``next_values``, ``clip_eps``).
* a Greek letter's name as a word (``pi``, ``mu``, ``sigma``, ``gamma``, ``lam``, ``eps`` ...),
  ``d/dmu`` included; ``hat X``, ``tilde X`` and ``bar X`` put the accent on X.
* text between backticks is code: shown as code, never converted.
"""
from __future__ import annotations

import html as _html
import re

__all__ = ["html", "plain"]

GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "Delta": "Δ", "epsilon": "ε", "eps": "ε", "eta": "η",
    "theta": "θ", "lambda": "λ", "lam": "λ", "mu": "μ", "nu": "ν", "pi": "π", "rho": "ρ", "sigma": "σ",
    "tau": "τ", "phi": "φ", "Phi": "Φ", "psi": "ψ", "Psi": "Ψ", "xi": "ξ", "omega": "ω",
}
OPERATORS = {"grad": "∇", "sqrt": "√"}
BIG = {"sum": "Σ", "prod": "Π"}  # only with an index (``sum_t``); the word alone stays a word
ACCENTS = {"hat": "\u0302", "tilde": "\u0303", "bar": "\u0304"}
SYMBOLS = [("<=", "≤"), (">=", "≥"), ("!=", "≠"), ("->", "→"), ("<-", "←"), ("+-", "±")]
SUB = dict(zip("0123456789+-=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"))
SUP = dict(zip("0123456789+-=()abcdefghijklmnoprstuvwxyzT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᵀ"))

_POWER = re.compile(r"-?[A-Za-z0-9]+|\([^()]{1,12}\)")  # x^2, x^-1, A^(k)
_INDEX = re.compile(r"[A-Za-z0-9]{1,3}(?![A-Za-z0-9_])")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*")  # underscores only inside a word


def _braced(text: str, start: int) -> int:
    """The index just after the ``}`` that closes the ``{`` at ``start``, or -1."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i + 1
    return -1


class _Writer:
    """Builds one of the two forms: HTML (escaped, <sub>/<sup>) or plain text (Unicode where it can)."""

    def __init__(self, as_html: bool) -> None:
        self.as_html = as_html

    def text(self, s: str) -> str:
        return _html.escape(s, quote=False) if self.as_html else s

    def script(self, kind: str, raw: str, inner: str, braced: bool) -> str:
        """A subscript or superscript: ``raw`` as written, ``inner`` already converted."""
        if self.as_html:
            return f"<{kind}>{inner}</{kind}>"
        table = SUB if kind == "sub" else SUP
        if 0 < len(inner) <= 3 and all(ch in table for ch in inner):
            return "".join(table[ch] for ch in inner)
        mark = "_" if kind == "sub" else "^"  # as written (a word's index with its Greek letter: P_π)
        return f"{mark}{{{raw}}}" if braced else f"{mark}{raw if ',' in inner else inner}"

    def code(self, s: str) -> str:
        return f"<code>{_html.escape(s, quote=False)}</code>" if self.as_html else f"`{s}`"


def _name(word: str, after: str = "_") -> str:
    """A name as shown: a Greek letter, an operator (``grad`` only before math, not "requires grad,")."""
    if word in OPERATORS and not (after[:1] in ("_", "(") or re.match(r" [A-Za-z0-9(]", after[:2])):
        return word
    return GREEK.get(word, OPERATORS.get(word, word))


def _split_word(word: str, long_names_take_indices: bool) -> tuple[str, list[str]]:
    """A word with underscores: (its name, the parts that are its subscript), by the rules of the
    module's docstring (``V_old_i``: V with the index old,i; ``log_std_d``: log_std with d)."""
    parts = word.split("_")
    name, subs = parts[0], []
    for part in parts[1:]:
        short_name = len(name) == 1 or name in GREEK or name in OPERATORS or name in BIG
        if not subs and (short_name and (len(part) <= 3 or part in GREEK)
                         or long_names_take_indices and len(part) == 1):
            subs.append(part)
        elif len(subs) == 1 and len(part) == 1:  # V_old_i: a second index
            subs.append(part)
        else:
            if subs:  # an index followed by more of a name: it was all a code name
                name, subs = "_".join([name, *subs]), []
            name += "_" + part
    return name, subs


def _index(w: _Writer, subs: list[str]) -> str:
    if not subs:
        return ""
    inner = ",".join(w.text(_name(s)) for s in subs)
    return w.script("sub", "_".join(subs), inner, braced=False)


def _convert(text: str, w: _Writer) -> str:
    out: list[str] = []
    after_script = False  # the last piece was a subscript or superscript (G^lambda_t)
    i = 0
    while i < len(text):
        ch, was_script, after_script = text[i], after_script, False
        if ch == "`":
            end = text.find("`", i + 1)
            if end > i:
                out.append(w.code(text[i + 1:end]))
                i = end + 1
                continue
        if ch in "_^" and i + 1 < len(text) and out:
            kind = "sub" if ch == "_" else "sup"
            if text[i + 1] == "{":
                end = _braced(text, i + 1)
                if end > 0:
                    raw = text[i + 2:end - 1]
                    fell_back = not w.as_html and out[-1].startswith(("_", "^"))  # G^lambda_{t+1}: as written
                    out.append(f"{ch}{{{raw}}}" if fell_back else w.script(kind, raw, _convert(raw, w), braced=True))
                    i, after_script = end, not out[-1].startswith(("_", "^"))
                    continue
            m = _POWER.match(text, i + 1) if ch == "^" else _INDEX.match(text, i + 1)
            if ch == "_" and not (text[i - 1] in ")]" or was_script):
                m = None  # an unbraced index only after a bracket or a script; a word takes its own
            if m:
                out.append(w.script(kind, m.group(0), _convert(m.group(0), w), braced=False))
                i, after_script = m.end(), not out[-1].startswith(("_", "^"))  # (not after a plain x^abc)
                continue
        m = _WORD.match(text, i)
        if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            word, end = m.group(0), m.end()
            accent = ACCENTS.get(word)
            follow = _WORD.match(text, end + 1) if accent and text[end:end + 1] == " " else None
            if follow and (len(follow.group(0).split("_")[0]) == 1 or follow.group(0).split("_")[0] in GREEK):
                # hat R_t: the accent goes on the next name, a symbol ("a bar chart" stays words)
                name, subs = _split_word(follow.group(0), w.as_html)
                out.append(w.text(_name(name)) + ACCENTS[word] + _index(w, subs))
                i, after_script = follow.end(), bool(subs)
                continue
            if word.startswith("d") and word[1:] in GREEK and i > 0 and text[i - 1] == "/":  # d/dmu
                out.append(w.text("d" + GREEK[word[1:]]))
                i = end
                continue
            name, subs = _split_word(word, w.as_html)
            if name in BIG and (subs or text[end:end + 1] in ("_", "^")):
                name = BIG[name]
            out.append(w.text(_name(name, "_" if subs else text[end:end + 2])) + _index(w, subs))
            i, after_script = end, bool(subs)
            continue
        for raw, symbol in SYMBOLS:
            if text.startswith(raw, i):
                out.append(w.text(symbol))
                i += len(raw)
                break
        else:
            out.append(w.text(ch))
            i += 1
    return "".join(out)


def html(text: str) -> str:
    """``text`` in the course's plain math notation as HTML (escaped; <sub>, <sup>, Greek letters)."""
    return _convert(text, _Writer(as_html=True))


def plain(text: str) -> str:
    """``text`` with Greek letters, symbols and the short subscripts and superscripts that Unicode
    has; everything else as written (a code name such as ``logits_p`` stays one)."""
    return _convert(text, _Writer(as_html=False))
