"""Figures of the Why gates page: the memory lens, time constants, a SimpleRNN's state Jacobian and
the gradient through time (playground/dynamics/memory.py). Pure builders, no Streamlit; the conventions of
plots.py (time left to right, tokens as tick labels, [0, 1] values on the sequential scale, exact
values on hover, visitor text escaped).
"""
from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from playground.core.cells import cell
from playground.dynamics.memory import Lens
from playground.figures.plots import (
    SEQUENTIAL,
    _bottom_legend,
    _fast_figure,
    _layout,
    _plain,
    _x_axis,
    heatmap_height,
    token_labels,
)

MEAN_COLOR, WEIGHTED_COLOR = "#7f7f7f", "#e66101"


def log_ticks(values) -> dict:
    """Tick values and labels for a log y axis over `values`: 1-2-5 steps when the range spans up to three
    decades, powers of ten beyond (plotly's own labels a short range with bare digits, '9 8 7', that read
    as numbers of their own on a phone)."""
    v = np.asarray([x for x in np.ravel(values) if np.isfinite(x) and x > 0], dtype=np.float64)
    if not len(v):
        return {}
    lo, hi = np.floor(np.log10(v.min())), np.ceil(np.log10(v.max()))
    if hi - lo <= 3:
        ticks = sorted(m * 10.0 ** e for e in range(int(hi), int(lo) - 1, -1) for m in (1, 2, 5))
        ticks = [t for t in ticks if v.min() / 1.5 <= t <= v.max() * 1.5] or [float(10 ** lo)]
        return dict(tickvals=ticks, ticktext=[f"{t:.3g}" for t in ticks])
    # wider: powers of ten written one way ("10⁻⁴", not "0.001" beside "1e-05"), every 2nd or 3rd one for at most
    # about 8 labels, chosen so that 1 (a share's reference, the last word's) is one of them when in range
    every = max(1, int(np.ceil((hi - lo) / 7)))
    exps = [e for e in range(int(hi), int(lo) - 1, -1) if e % every == 0]
    exps = [e for e in exps if v.min() / 1.5 <= 10.0 ** e <= v.max() * 1.5] or [int(lo)]
    return dict(tickvals=[10.0 ** e for e in sorted(exps)], ticktext=[_power(e) for e in sorted(exps)])


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power(e: int) -> str:
    """10 ** e as a label: "1", "10", "10⁻⁴"."""
    return {0: "1", 1: "10"}.get(e, "10" + str(e).translate(_SUPERSCRIPT))


def positive(y) -> np.ndarray:
    """Values for a log axis: zeros and negatives become gaps (NaN) instead of points at 1e-300 that
    stretch the axis over 300 decades."""
    y = np.asarray(y, dtype=np.float64)
    return np.where(y > 0, y, np.nan)


def survival_lines(lz: Lens, oov: Sequence[bool] | None = None, height: int = 330) -> go.Figure:
    """What survives to the last word of what each word wrote: averaged over units, and weighted
    by each unit's share of the verdict; both in [0, 1]."""
    c = cell(lz.arch)
    labels = token_labels(lz.tokens, oov)
    x = np.arange(len(labels))
    fig = go.Figure()
    gate = c.quantity(lz.gate).title
    for y, name, color, dash in ((lz.weighted_survival, "weighted by each unit's share of the verdict",
                                  WEIGHTED_COLOR, "solid"),
                                 (lz.mean_survival, "mean over units", MEAN_COLOR, "dot")):  # drawn on top
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="lines+markers", name=name, line=dict(color=color, width=2, dash=dash), marker=dict(size=6),
            customdata=labels, hovertemplate=f"<b>%{{customdata}}</b> (token %{{x}})<br>{html.escape(name)}: "
                                             "%{y:.4f} of what it wrote survives<extra></extra>"))
    fig.update_yaxes(range=[-0.02, 1.02], title_text="share that survives", tickformat=".0%")
    _x_axis(fig, labels)
    fig.update_xaxes(title_text="word (what it wrote × every later " + html.escape(gate.split()[-1]) + ")")
    return _bottom_legend(_layout(fig, "What survives of each word to the end", height))


def survival_heatmap(lz: Lens, rows: Sequence[int], oov: Sequence[bool] | None = None,
                     height: int | None = None) -> go.Figure:
    """Units (rows, in the given order) x words: prod_(s>t) keep_s, on the [0, 1] scale."""
    c = cell(lz.arch)
    labels = token_labels(lz.tokens, oov)
    rows = [int(u) for u in rows]
    z = lz.survival[rows].astype(np.float32)  # (K, T)
    names = [str(u) for u in rows]
    cols = [f"{i + 1}: {lab}" for i, lab in enumerate(labels)]
    gate = html.escape(c.quantity(lz.gate).title)
    data = [dict(type="heatmap", z=z, x=cols, y=names, colorscale=_plain("colorscale", SEQUENTIAL), zmin=0.0, zmax=1.0,
                 colorbar=dict(title=dict(text="survives to the end", side="right"), thickness=12, len=0.9),
                 xgap=1 if len(cols) <= 60 else 0, ygap=1 if len(rows) <= 64 else 0,
                 hovertemplate="word <b>%{x}</b><br>unit %{y}<br>survives: %{z:.4f}<extra></extra>")]
    fig = _fast_figure(data, dict(yaxis=dict(title=dict(text="unit"), type="category", autorange="reversed")))
    _x_axis(fig, labels, categories=True)
    fig = _layout(fig, f"Per unit: every later {gate}, multiplied", height or heatmap_height(len(rows)))
    fig.update_layout(title_subtitle_text="units ordered by their share of the verdict", title_subtitle_font_size=12,
                      margin_t=82)
    return fig


def tau_bars(hist: Sequence[Mapping], title: str, height: int = 300) -> go.Figure:
    """Units per time-constant bin (memory.tau_histogram)."""
    labels = [b["label"] for b in hist]
    counts = [b["count"] for b in hist]
    fig = go.Figure(go.Bar(x=labels, y=counts, marker_color=WEIGHTED_COLOR,
                           hovertemplate="time constant %{x} words: %{y} units<extra></extra>"))
    fig.update_xaxes(title_text="time constant τ = 1 / (1 − mean keep gate), in words", type="category")
    fig.update_yaxes(title_text="units")
    return _layout(fig, title, height)


def jacobian_lines(lz: Lens, oov: Sequence[bool] | None = None, height: int = 330) -> go.Figure:
    """A cell without a keep gate: how much a nudge of the state after each word still moves the
    last state (root-mean-square gain of d h_T / d h_t) and the verdict (|d logit / d h_t|); log y."""
    labels = token_labels(lz.tokens, oov)
    x = np.arange(len(labels))
    fig = go.Figure()
    for y, name, color in ((lz.jacobian_gain, "the last state: rms gain of ∂h_T/∂h_t", MEAN_COLOR),
                           (lz.readout_sensitivity, "the verdict: |∂ logit / ∂h_t|", WEIGHTED_COLOR)):
        fig.add_trace(go.Scatter(x=x, y=positive(y), mode="lines+markers", name=name,
                                 line=dict(color=color, width=2), marker=dict(size=6), customdata=labels,
                                 hovertemplate=f"<b>%{{customdata}}</b> (token %{{x}})<br>{html.escape(name)} = "
                                               "%{y:.4g}<extra></extra>"))
    fig.update_yaxes(type="log", title_text="size (log scale)",
                     **log_ticks(np.concatenate([lz.jacobian_gain, lz.readout_sensitivity])))
    _x_axis(fig, labels)
    fig.update_xaxes(title_text="word whose state is nudged")
    return _bottom_legend(_layout(fig, "What a nudge after each word still moves", height))


def _words_only(g, tokens, color, half):
    """A line without the padding a Keras model read before the text (its leading "<pad>" tokens): the
    chart is about the words of the review; the half-distance is kept when it falls among them."""
    lead = 0
    while lead < len(tokens) - 1 and tokens[lead] == "<pad>":
        lead += 1
    if not lead:
        return g, tokens, color, half
    g = np.asarray(g)[lead:]
    return g, list(tokens)[lead:], color, half if half is not None and half < len(g) else None


def gradient_lines(series: Mapping[str, tuple[np.ndarray, Sequence[str], str, int | None]], height: int = 360,
                   title: str = "|∂ logit / ∂ embedding| of each word", relative: bool = False,
                   mark: int | None = None) -> go.Figure:
    """One line per model: name -> (grads (T,), tokens, colour, half-distance). x = words before the
    last one, time left to right (0 = the last word), so models that read different stretches line
    up at the end; log y; the half-distance marked on each line. `relative`: each line divided by its
    last word's value (1 at x = 0), so lines read as shares of the last word's gradient; `mark`: a dotted
    line at that many words back (the first screen's sentence quotes the values there)."""
    fig = go.Figure()
    series = {n: _words_only(*v) for n, v in series.items()}
    if relative:
        series = {n: (np.asarray(g, dtype=np.float64) / g[-1] if len(g) and g[-1] > 0 else np.asarray(g), t, c, h)
                  for n, (g, t, c, h) in series.items()}
    if mark is not None:
        fig.add_vline(x=-mark, line=dict(color="#888", dash="dot", width=1))
        fig.add_annotation(x=-mark, y=0.98, yref="paper", yanchor="top", xanchor="left", xshift=4,
                           showarrow=False, font=dict(size=11), text=f"{mark} words back")
    for name, (g, tokens, color, half) in series.items():
        T = len(g)
        if T == 0:
            continue
        x = np.arange(-(T - 1), 1)  # (T,) words before the last: -(T-1) .. 0
        labels = token_labels(tokens)
        fig.add_trace(go.Scatter(x=x, y=positive(g), mode="lines", name=html.escape(name),
                                 line=dict(color=color, width=2), customdata=labels,
                                 hovertemplate=f"{html.escape(name)}<br><b>%{{customdata}}</b>, %{{x}} words before "
                                               "the end<br>|gradient| = %{y:.4g}<extra></extra>"))
        if half is not None:
            fig.add_trace(go.Scatter(x=[-half], y=positive([g[T - 1 - half]]), mode="markers", showlegend=False,
                                     marker=dict(color=color, size=11, symbol="x"), name="half-distance",
                                     hovertemplate=f"{html.escape(name)}: half the last word's gradient "
                                                   f"{half} words before the end<extra></extra>"))
    fig.update_yaxes(type="log", title_text="share (log scale)" if relative else "|gradient| (log scale)",
                     **log_ticks(np.concatenate([np.asarray(v[0], dtype=np.float64) for v in series.values()] or [[]])))
    fig.update_xaxes(title_text="words before the last (0 = the last word)", showgrid=True, zeroline=False)
    return _bottom_legend(_layout(fig, title, height))
