"""Numbers behind the pictures: one unit's update at one token (read from the trace), its
equations with real numbers, and a plain-language summary of where several models disagree.
Pure functions; the pages only format and show them.
"""
from __future__ import annotations

from typing import Mapping

from .cells import UnitStep, cell
from .trace import Trace

__all__ = ["UnitStep", "unit_step", "latex_lines", "verdict_word", "disagreement_summary"]


def unit_step(tr: Trace, layer: int, unit: int, t: int) -> UnitStep:
    """Everything that went into unit `unit` of `layer` at token `t`: each block's input and
    recurrent part, every quantity at t, and the carried state at t - 1, all as traced."""
    layer = layer % len(tr.layers)
    if not (0 <= t < tr.n_steps and 0 <= unit < tr.hidden_size):
        raise IndexError("token or unit out of range")
    lt = tr.layers[layer]
    values = {name: float(v[t, unit]) for name, v in lt.gates.items()}
    values["h"] = float(lt.h[t, unit])
    series = {**lt.gates, "h": lt.h}
    previous = {s: float(series[s][t - 1, unit]) if t > 0 else 0.0 for s in tr.cell.state}
    parts = {b: (float(inp[t, unit]), float(rec[t, unit])) for b, (inp, rec) in lt.parts.items()}
    return UnitStep(tr.arch, layer, unit, t, tr.tokens[t], values, previous, parts)


def latex_lines(s: UnitStep) -> list[str]:
    """The cell's update equations for this unit with its actual numbers (LaTeX, one per line)."""
    return cell(s.arch).unit_latex(s)


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
    where = ""
    if split_at is not None:
        where = f" Their readings part ways at “{items[0][1].tokens[split_at]}” (word {split_at + 1})."
    return (f"{names(pos)} {'says' if len(pos) == 1 else 'say'} positive, {names(neg)} "
            f"{'says' if len(neg) == 1 else 'say'} negative.{where}")
