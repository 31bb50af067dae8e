"""One unit's update at one token, read from the trace, and the cell's update equations written
out with that unit's real numbers (the Playground's unit drill-down, `explain --unit`)."""
from __future__ import annotations

from playground.core.cells import UnitStep, cell
from playground.core.trace import Trace

__all__ = ["UnitStep", "unit_step", "latex_lines"]


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
