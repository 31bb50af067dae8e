"""The Playground's first screen: one small bar chart per quantity of the cell (each gate, the
candidate, the states) at the chosen word, one bar per unit to watch, its value printed on it
(playground/explain/lesson.py). Gates on a fixed 0-1 axis with a dotted line at 0.5, so "kept most"
and "dropped most" read at a glance; signed values on -1..1; unbounded ones on a symmetric axis."""
from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from playground.core.cells import GATE, SIGNED
from playground.explain.lesson import QuantityAt
from playground.figures.plots import FONT, PICK_COLOR, _fast_figure

MARKS = {"word": "●", "verdict": "◆"}  # a unit to watch for this word / for the verdict, on its row label
BAR_ROW = 18  # pixels per bar


def unit_label(unit: int, why: str) -> str:
    return f"{MARKS.get(why, '')} {unit}".strip()


def quantity_bars(q: QuantityAt, units: Sequence[int], why: Sequence[str], height: int | None = None,
                  highlight: int | None = None) -> go.Figure:
    """One quantity's values at the word, one horizontal bar per unit to watch (top to bottom in the
    lesson's order), the value printed at the bar's end; `highlight` (a unit) outlined."""
    vals = np.asarray(q.values, dtype=float)
    labels = [unit_label(u, w) for u, w in zip(units, why)]
    if q.kind == GATE:
        rng = [0.0, 1.0]
    elif q.kind == SIGNED:
        rng = [-1.0, 1.0]
    else:
        lim = max(1.0, float(np.max(np.abs(vals))) if len(vals) else 1.0) * 1.05
        rng = [-lim, lim]
    show = [f"{v:.2f}" if q.kind == GATE else f"{v:+.2f}" for v in vals]
    widths = [2.5 if u == highlight else 0 for u in units]
    bars = dict(type="bar", orientation="h", x=vals, y=labels, marker=dict(color=q.color, line=dict(
                    width=widths, color=PICK_COLOR)),
                hovertemplate=f"unit %{{y}}<br>{html.escape(q.title)} = %{{x:.4f}}<extra></extra>")
    shapes = [dict(type="line", x0=0.5 if q.kind == GATE else 0.0, x1=0.5 if q.kind == GATE else 0.0,
                   y0=0, y1=1, yref="paper", line=dict(color="#888", width=1, dash="dot"))]
    # the values in a column at the right of the bars, where no bar or label can cover them
    notes = [dict(x=1.0, xref="paper", xanchor="left", y=lab, yref="y", text=txt, showarrow=False,
                  font=dict(size=11, color="#222"), xshift=2) for lab, txt in zip(labels, show)]
    layout = dict(
        title=dict(text=html.escape(q.title), x=0, xanchor="left", font=dict(size=14)),
        height=height or 60 + BAR_ROW * max(1, len(units)), margin=dict(l=44, r=54, t=30, b=20),
        font=dict(FONT, size=12), showlegend=False, shapes=shapes, annotations=notes, bargap=0.25,
        xaxis=dict(range=rng, showgrid=True, zeroline=False, tickfont=dict(size=10), nticks=3, fixedrange=True),
        yaxis=dict(type="category", autorange="reversed", tickfont=dict(size=12), fixedrange=True))
    return _fast_figure([bars], layout)
