"""Numbers behind the pictures: one unit's update equations at one token, and a plain-language
summary of where several models disagree. Pure functions; the pages only format and show them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch

from .models import SentimentRNN
from .trace import Trace, _weights


@dataclass(frozen=True)
class UnitStep:
    """Everything that went into unit `unit` of layer `layer` at token `t`."""

    arch: str
    layer: int
    unit: int
    t: int
    token: str
    h_prev: float
    h: float
    # gate -> (input part W_i x + b_i, recurrent part W_h h_prev + b_h, activation)
    parts: dict
    c_prev: float | None = None
    c: float | None = None


@torch.no_grad()
def unit_step(model: SentimentRNN, tr: Trace, layer: int, unit: int, t: int) -> UnitStep:
    """Recompute one unit's pre-activations at one step, split into input and recurrent parts."""
    L = len(tr.layers)
    layer = layer % L
    if not (0 <= t < tr.n_steps and 0 <= unit < tr.hidden_size):
        raise IndexError("token or unit out of range")
    w_ih, w_hh, b_ih, b_hh = _weights(model, layer)
    if layer == 0:
        x = model.embedding.weight[tr.ids[t]].double().numpy()
    else:
        x = tr.layers[layer - 1].h[t]
    lt = tr.layers[layer]
    H = tr.hidden_size
    h_prev_vec = lt.h[t - 1] if t > 0 else np.zeros(H)
    names = {"rnn": ("pre",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}[tr.arch]
    parts = {}
    for k, name in enumerate(names):
        row = k * H + unit
        inp = float(w_ih[row] @ x + b_ih[row])
        rec = float(w_hh[row] @ h_prev_vec + b_hh[row])
        parts[name] = (inp, rec, float(lt.gates[name][t, unit]))  # the activation as traced
    c_prev = c = None
    if tr.arch == "lstm":
        c = float(lt.gates["c"][t, unit])
        c_prev = float(lt.gates["c"][t - 1, unit]) if t > 0 else 0.0
    return UnitStep(tr.arch, layer, unit, t, tr.tokens[t], float(h_prev_vec[unit]), float(lt.h[t, unit]),
                    parts, c_prev, c)


def _n(x: float) -> str:
    """A number for an equation: 0.735, -0.029."""
    return f"{x:.3f}"


def _p(x: float) -> str:
    """A factor in a product: negative numbers in parentheses."""
    return f"({x:.3f})" if x < 0 else f"{x:.3f}"


def latex_lines(s: UnitStep) -> list[str]:
    """The cell's update equations for this unit with its actual numbers (LaTeX, one per line)."""
    p = s.parts
    if s.arch == "rnn":
        i, r, a = p["pre"]
        return [
            rf"a_t = \underbrace{{{_n(i)}}}_{{W_{{x}}x_t+b_x}} + \underbrace{{{_p(r)}}}_{{W_{{h}}h_{{t-1}}+b_h}} = {_n(a)}",
            rf"h_t = \tanh(a_t) = \tanh({_n(a)}) = {_n(s.h)}",
        ]
    if s.arch == "lstm":
        lines = []
        for g, fn in (("i", r"\sigma"), ("f", r"\sigma"), ("g", r"\tanh"), ("o", r"\sigma")):
            inp, rec, act = p[g]
            lines.append(rf"{g}_t = {fn}(\underbrace{{{_n(inp)}}}_{{W_{{x{g}}}x_t+b}} + "
                         rf"\underbrace{{{_p(rec)}}}_{{W_{{h{g}}}h_{{t-1}}+b}}) = {_n(act)}")
        i, f, g, o = (p[k][2] for k in "ifgo")
        lines.append(rf"\begin{{aligned}}c_t &= f_t c_{{t-1}} + i_t g_t\\ &= {_n(f)}\cdot{_p(s.c_prev)} + "
                     rf"{_n(i)}\cdot{_p(g)} = {_n(s.c)}\end{{aligned}}")
        lines.append(rf"\begin{{aligned}}h_t &= o_t \tanh(c_t)\\ &= {_n(o)}\cdot\tanh({_n(s.c)}) = {_n(s.h)}\end{{aligned}}")
        return lines
    r_in, r_rec, r = p["r"]
    z_in, z_rec, z = p["z"]
    n_in, n_rec, n = p["n"]
    return [
        rf"r_t = \sigma(\underbrace{{{_n(r_in)}}}_{{W_{{xr}}x_t+b}} + \underbrace{{{_p(r_rec)}}}_{{W_{{hr}}h_{{t-1}}+b}}) = {_n(r)}",
        rf"z_t = \sigma(\underbrace{{{_n(z_in)}}}_{{W_{{xz}}x_t+b}} + \underbrace{{{_p(z_rec)}}}_{{W_{{hz}}h_{{t-1}}+b}}) = {_n(z)}",
        rf"\begin{{aligned}}n_t &= \tanh(\underbrace{{{_n(n_in)}}}_{{W_{{xn}}x_t+b}} + r_t\cdot"
        rf"\underbrace{{{_p(n_rec)}}}_{{W_{{hn}}h_{{t-1}}+b_{{hn}}}})\\ &= \tanh({_n(n_in)} + {_n(r)}\cdot{_p(n_rec)}) = {_n(n)}"
        rf"\end{{aligned}}",
        rf"\begin{{aligned}}h_t &= (1-z_t)\,n_t + z_t\,h_{{t-1}}\\ &= {_n(1 - z)}\cdot{_p(n)} + {_n(z)}\cdot"
        rf"{_p(s.h_prev)} = {_n(s.h)}\end{{aligned}}",
    ]


def verdict_word(p: float) -> str:
    return "positive" if p >= 0.5 else "negative"


def disagreement_summary(traces: Mapping[str, Trace]) -> str:
    """One plain sentence: do the models agree, and where do their readings part ways?"""
    if not traces:
        return "No models to compare."
    items = list(traces.items())
    if all(tr.n_steps == 0 for _, tr in items):
        return "There is nothing to read yet: type a sentence."
    labels = {name: tr.label for name, tr in items}
    pos = [n for n, lab in labels.items() if lab == 1]
    neg = [n for n, lab in labels.items() if lab == 0]

    def names(ns):
        return " and ".join(ns) if len(ns) <= 2 else ", ".join(ns[:-1]) + " and " + ns[-1]

    if not pos or not neg:
        word = "positive" if pos else "negative"
        probs = [tr.prob for _, tr in items]
        return (f"All {len(items)} read it as {word} (P(positive) from {min(probs):.2f} to {max(probs):.2f}).")
    # the first token after which the models stop agreeing and never agree again
    T = min(tr.n_steps for _, tr in items)
    split_at = None
    for t in range(T - 1, -1, -1):
        lab_t = {int(tr.step_probs[t] >= 0.5) for _, tr in items}
        if len(lab_t) == 1:
            break
        split_at = t
    where = f" Their readings part ways at “{items[0][1].tokens[split_at]}” (word {split_at + 1})." if split_at is not None else ""
    return (f"{names(pos)} {'says' if len(pos) == 1 else 'say'} positive, {names(neg)} "
            f"{'says' if len(neg) == 1 else 'say'} negative.{where}")
