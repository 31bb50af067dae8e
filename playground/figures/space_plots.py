"""Figures of the State space page: the PC1/PC2 plane with the sample's final states, the fixed points,
the readout's line and a sentence's path (and an edited sentence's branch); two prediction curves on one
axis (an edit, an intervention); a unit's activation histogram. Pure builders, no Streamlit; visitor
text is escaped, exact values on hover (the plane is a projection: each point's hover gives its real P).
"""
from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from playground.dynamics.statespace import Path, StateSpace, key_points
from playground.figures.plots import NEG_COLOR, NEUTRAL, POS_COLOR, _bottom_legend, _layout

PATH_COLOR, BRANCH_COLOR, FIXED_COLOR = "#222222", "#e66101", "#7b3294"
P_SCALE = [[0.0, NEG_COLOR], [0.5, "#f7f7f7"], [1.0, POS_COLOR]]  # a path point's colour: its exact P(positive)


def _label_sides(x: np.ndarray, y: np.ndarray, text: list[str], rows: list[int]) -> list[str]:
    """Each point's label above it (the start's below), except a label near the previous label, which goes to
    the other side: "cold" and "was (13)", neighbours on one path, were drawn over each other at 390 px."""
    fin = np.isfinite(x) & np.isfinite(y)
    span_x = float(np.ptp(x[fin])) if fin.any() else 0.0
    span_y = float(np.ptp(y[fin])) if fin.any() else 0.0
    sides = ["bottom center" if i == 0 else "top center" for i in rows]
    last = None
    for j, t in enumerate(text):
        if not t or not fin[j]:
            continue
        if last is not None and abs(x[j] - x[last]) <= 0.15 * span_x and abs(y[j] - y[last]) <= 0.1 * span_y:
            sides[j] = "bottom center" if sides[last] == "top center" else "top center"
        last = j
    return sides


def _path_trace(p: Path, name: str, color: str, first: int = 0, dash: str = "solid",
                colorbar: bool = True) -> list[go.Scatter]:
    """A path's points from row `first` (0: the start h_0) on: the line in `color`, each point coloured by
    its exact P(positive), the start a diamond, and only the key points labelled (statespace.key_points:
    start, end, the largest moves), so the labels do not pile up. Padding read before the words (`p.lead`)
    is a thin grey dotted run of small dots, one legend entry, and its last point is labelled."""
    twice = {t for t in p.tokens[p.lead:] if p.tokens[p.lead:].count(t) > 1}  # a repeated word: with its position
    labels = ["start (h₀ = 0)"] + [html.escape(t if t not in twice else f"{t} ({i + 1 - p.lead})", quote=False)
                                   for i, t in enumerate(p.tokens)]
    if p.lead:
        labels[1:p.lead + 1] = [f"padding zero {i} of {p.lead}" for i in range(1, p.lead + 1)]
    keys = set(key_points(p))
    custom_all = np.stack([np.array(labels, dtype=object), np.round(p.probs, 4), np.round(p.captured, 3)], axis=1)
    hover = (f"{html.escape(name)}: after <b>%{{customdata[0]}}</b><br>exact P(positive) %{{customdata[1]}}<br>"
             "the plane keeps %{customdata[2]:.0%} of its distance<extra></extra>")
    out = []
    words_from = max(first, p.lead)
    if first < p.lead:  # the padding's run: rows first..lead (the start's diamond is drawn with the words' trace)
        idx = np.arange(first, p.lead + 1)
        text = [f"{p.lead} × padding" if i == p.lead else "" for i in idx]
        # the label grows away from the middle of the path, so it is not cut at the plot's edge
        side = "bottom left" if p.xy[p.lead, 0] > float(np.median(p.xy[:, 0])) else "bottom right"
        out.append(go.Scatter(x=p.xy[idx, 0], y=p.xy[idx, 1], mode="lines+markers+text",
                              name=f"the {p.lead} padding zeros read first", text=text,
                              textposition=side, textfont=dict(size=11, color=NEUTRAL),
                              line=dict(color=NEUTRAL, width=1, dash="dot"),
                              marker=dict(size=4, color=NEUTRAL), customdata=custom_all[idx], hovertemplate=hover))
    idx = np.arange(words_from, len(p.xy))
    if first == 0 and p.lead:
        idx = np.concatenate([[0], idx])  # the start's diamond belongs to the sentence's own entry
    text = [("start" if i == 0 else labels[i]) if i in keys and (i != p.lead or i == 0) else "" for i in idx]
    segs = idx.astype(float)
    x, y = p.xy[idx, 0].astype(float), p.xy[idx, 1].astype(float)
    if first == 0 and p.lead:  # no line from the start straight to the first word: the padding ran between
        x, y = np.insert(x, 1, np.nan), np.insert(y, 1, np.nan)
        segs = np.insert(segs, 1, np.nan)
        text.insert(1, "")
    rows = [int(i) if not np.isnan(i) else 0 for i in segs]
    gap = [bool(np.isnan(i)) for i in segs]
    out.append(go.Scatter(x=x, y=y, mode="lines+markers+text", name=name, text=text,
                          textposition=_label_sides(x, y, text, rows),
                          textfont=dict(size=12, color=color),
                          line=dict(color=color, width=2, dash=dash),
                          marker=dict(size=[0 if g else 14 if i == 0 else 9 for i, g in zip(rows, gap)],
                                      symbol=["diamond" if i == 0 and not g else "circle" for i, g in zip(rows, gap)],
                                      color=p.probs[rows], cmin=0.0, cmax=1.0, colorscale=P_SCALE,
                                      line=dict(color=color, width=1.5),
                                      colorbar=dict(title=dict(text="P(positive)", side="right"), len=0.6,
                                                    thickness=12, tickvals=[0, 0.5, 1]) if colorbar else None),
                          customdata=custom_all[rows], hovertemplate=hover, connectgaps=False))
    return out


def plane(space: StateSpace, path: Path | None = None, edited: Path | None = None, branch: int = 0,
          title: str = "The hidden state on PC1 and PC2", height: int = 520,
          model: str = "") -> go.Figure:
    """The sample's final states (faint, blue positive / red negative by TEST label), the approximate
    fixed points, the line where the plane's own points have logit 0, and the path (with the edited
    path branching off at `branch`, the first token that differs)."""
    fig = go.Figure()
    for lab, color, name in ((1, POS_COLOR, "TEST texts' final states: labelled positive"),
                             (0, NEG_COLOR, "TEST texts' final states: labelled negative")):
        m = space.final_labels == lab
        fig.add_trace(go.Scatter(x=space.final_xy[m, 0], y=space.final_xy[m, 1], mode="markers", name=name,
                                 marker=dict(size=6, color=color, opacity=0.22),
                                 customdata=np.round(space.final_probs[m], 3),
                                 hovertemplate=f"{name}<br>model's P(positive) %{{customdata}}<extra></extra>"))
    if len(space.fixed_xy):
        fig.add_trace(go.Scatter(x=space.fixed_xy[:, 0], y=space.fixed_xy[:, 1], mode="markers",
                                 name="approximate fixed points (neutral input)",
                                 marker=dict(size=7, color=FIXED_COLOR, symbol="x-thin", line=dict(width=2,
                                                                                                  color=FIXED_COLOR)),
                                 customdata=np.round(space.fixed.probs, 3),
                                 hovertemplate="fixed point<br>P(positive) %{customdata}<extra></extra>"))
    pts = [space.final_xy, space.fixed_xy] + [p.xy for p in (path, edited) if p is not None]
    allxy = np.vstack([a for a in pts if len(a)])
    lo, hi = allxy.min(0), allxy.max(0)
    pad = 0.08 * np.maximum(hi - lo, 1e-6)
    seg = space.line_segment((lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1]))
    if seg is not None:
        fig.add_trace(go.Scatter(x=seg[:, 0], y=seg[:, 1], mode="lines", name="readout's line (logit 0 in the plane)",
                                 line=dict(color=NEUTRAL, dash="dash", width=1.5), hoverinfo="skip"))
    if path is not None:
        fig.add_traces(_path_trace(path, f"{model} reading your sentence" if model else "your sentence", PATH_COLOR))
    if edited is not None:
        fig.add_traces(_path_trace(edited, "the edited sentence", BRANCH_COLOR, first=branch, dash="dot",
                                   colorbar=False))
    share = space.variance
    fig.update_xaxes(title_text=f"PC1 ({share[0]:.0%} of the variance)", zeroline=False,
                     range=[lo[0] - pad[0], hi[0] + pad[0]])
    fig.update_yaxes(title_text=f"PC2 ({share[1]:.0%})", zeroline=False, range=[lo[1] - pad[1], hi[1] + pad[1]])
    return _bottom_legend(_layout(fig, title, height))


def two_curves(a: Sequence[float], b: Sequence[float], tokens_a: Sequence[str], tokens_b: Sequence[str],
               x_a: Sequence[int] | None = None, x_b: Sequence[int] | None = None,
               names: tuple[str, str] = ("original", "changed"), title: str = "Prediction after each word",
               height: int = 330) -> go.Figure:
    """Two P(positive) curves on one token axis (positions x_a, x_b: an edit's shared prefix and suffix
    line up); hover gives each token and its exact value."""
    fig = go.Figure()
    fig.add_hline(y=0.5, line=dict(color=NEUTRAL, dash="dash", width=1))
    for y, toks, x, name, color, dash in ((a, tokens_a, x_a, names[0], PATH_COLOR, "solid"),
                                          (b, tokens_b, x_b, names[1], BRANCH_COLOR, "dot")):
        x = np.arange(len(y)) if x is None else np.asarray(x)
        labels = [html.escape(t, quote=False) for t in toks]
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=html.escape(name), customdata=labels,
                                 line=dict(color=color, width=2, dash=dash), marker=dict(size=6),
                                 hovertemplate=f"{html.escape(name)}: after <b>%{{customdata}}</b><br>"
                                               "P(positive) %{y:.3f}<extra></extra>"))
    labels_a = [html.escape(t, quote=False) for t in tokens_a]
    xa = np.arange(len(labels_a)) if x_a is None else np.asarray(x_a)
    step = max(1, int(np.ceil(len(xa) / 30)))
    fig.update_xaxes(tickmode="array", tickvals=list(xa[::step]), ticktext=labels_a[::step], tickangle=-45,
                     title_text="word (the original's; hover for the other's)")
    fig.update_yaxes(range=[-0.02, 1.02], title_text="P(positive)")
    return _bottom_legend(_layout(fig, title, height))


def histogram(edges: Sequence[float], counts: Sequence[int], title: str, value: str = "h",
              height: int = 280) -> go.Figure:
    """A unit's activation distribution: bars between bin edges."""
    edges = np.asarray(edges, dtype=np.float64)
    mids = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure(go.Bar(x=mids, y=list(counts), width=np.diff(edges), marker_color=PATH_COLOR,
                           customdata=np.stack([edges[:-1], edges[1:]], axis=1),
                           hovertemplate=f"{html.escape(value)} from %{{customdata[0]:.3f}} to %{{customdata[1]:.3f}}: "
                                         "%{y} tokens<extra></extra>"))
    fig.update_xaxes(title_text=html.escape(value))
    fig.update_yaxes(title_text="tokens")
    return _layout(fig, title, height)
