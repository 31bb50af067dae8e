"""Figures over a distance k: the long-range lab (playground/dynamics/lab.py) and the distance probe
(playground/dynamics/probe.py). Pure builders, no Streamlit; plots.py's conventions (a cell's colour from
cells.py, exact values on hover, visitor text escaped).
"""
from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from playground.core.cells import cell
from playground.dynamics.lab import init_gradient_shares
from playground.figures.memory_plots import log_ticks, positive
from playground.figures.plots import NEUTRAL, _bottom_legend, _layout


def probe_effects(probes: Sequence, colors: Mapping[str, str], height: int = 360,
                  title: str = "How much a phrase still moves the verdict, k words later") -> go.Figure:
    """One line per model: P(positive phrase) - P(negative phrase) after k neutral words (probe.Probe);
    gaps where the model no longer reads the phrase whole; x on a log scale (1 .. 300)."""
    fig = go.Figure()
    for p in probes:
        y = [np.nan if e is None else e for e in p.effect]  # (K,)
        fig.add_trace(go.Scatter(x=list(p.ks), y=y, mode="lines", name=html.escape(p.model),
                                 line=dict(color=colors.get(p.model, NEUTRAL), width=2),
                                 hovertemplate=f"{html.escape(p.model)}, k = %{{x}} words after the phrase<br>"
                                               "effect %{y:.3f}<extra></extra>"))
        if p.half_distance is not None:
            i = p.ks.index(p.half_distance)
            fig.add_trace(go.Scatter(x=[p.half_distance], y=[p.effect[i]], mode="markers", showlegend=False,
                                     marker=dict(color=colors.get(p.model, NEUTRAL), size=11, symbol="x"),
                                     hovertemplate=f"{html.escape(p.model)}: half its k = 1 effect at k = "
                                                   f"{p.half_distance}<extra></extra>"))
    fig.add_hline(y=0, line=dict(color=NEUTRAL, width=1))
    fig.update_yaxes(range=[-0.05, 1.02], title_text="effect: P(pos.) − P(neg.)")
    ks = [1, 2, 5, 10, 20, 50, 100, 200, 300]
    _k_axis(fig, ks, "k: neutral words after the phrase (log)")
    return _bottom_legend(_layout(fig, title, height))


def probe_curves(p, height: int = 340) -> go.Figure:
    """One model's three curves against k: P after the positive phrase, after the negative one, and
    after the filler alone (the same text without a phrase), with the prior."""
    fig = go.Figure()
    for y, name, color in ((p.p_positive, "with the positive phrase", "#2166ac"),
                           (p.p_negative, "with the negative phrase", "#b2182b"),
                           (p.p_filler, "filler alone", NEUTRAL)):
        fig.add_trace(go.Scatter(x=list(p.ks), y=[np.nan if v is None else v for v in y], mode="lines",
                                 name=name, line=dict(color=color, width=2),
                                 hovertemplate=f"k = %{{x}}: P(positive) %{{y:.3f}} {name}<extra></extra>"))
    fig.add_hline(y=p.prior, line=dict(color=NEUTRAL, dash="dot", width=1))
    fig.update_yaxes(range=[-0.02, 1.02], title_text="P(positive) at the end")
    _k_axis(fig, [1, 2, 5, 10, 20, 50, 100, 200, 300], "k: neutral words after the phrase (log)")
    return _bottom_legend(_layout(fig, f"{html.escape(p.model)}: the verdict after k neutral words", height))


def _k_axis(fig: go.Figure, ks: Sequence[int], title: str) -> None:
    fig.update_xaxes(type="log", title_text=title, tickmode="array", tickvals=list(ks), ticktext=[str(k) for k in ks],
                     showgrid=True)


def lab_accuracy(result: Mapping, title: str = "TEST accuracy against the distance k", height: int = 360) -> go.Figure:
    """Mean TEST accuracy per cell and k, whiskers from the lowest to the highest seed; chance (0.5)
    and the line at which a cell counts as fallen to chance."""
    ks = list(result["k"])
    fig = go.Figure()
    fig.add_hrect(y0=0.4, y1=float(result.get("chance_accuracy", 0.6)), fillcolor=NEUTRAL, opacity=0.12, line_width=0)
    fig.add_hline(y=0.5, line=dict(color=NEUTRAL, dash="dash", width=1))
    for c in result["cells"]:
        mean = np.array([np.nan if a is None else a for a in result["accuracy"][c]], dtype=np.float64)  # (K,)
        spread = [s if s is not None else [np.nan, np.nan] for s in result["spread"][c]]
        lo, hi = np.array([s[0] for s in spread]), np.array([s[1] for s in spread])
        seeds = [", ".join(f"{a:.3f}" for a in per) for per in result.get("per_seed", {}).get(c, [[]] * len(ks))]
        fig.add_trace(go.Scatter(
            x=ks, y=mean, mode="lines+markers", name=cell(c).title, line=dict(color=cell(c).color, width=2),
            marker=dict(size=8), error_y=dict(type="data", symmetric=False, array=hi - mean, arrayminus=mean - lo,
                                              thickness=1.2, width=4),
            customdata=seeds, hovertemplate=f"{cell(c).title}, k = %{{x}}<br>mean TEST accuracy %{{y:.3f}}"
                                            f"<br>seeds: %{{customdata}}<extra></extra>"))
    fig.update_yaxes(range=[0.4, 1.03], title_text="TEST accuracy",
                     tickformat=".0%")
    _k_axis(fig, ks, "k: signal to the end, tokens (log)")
    return _bottom_legend(_layout(fig, title, height))


def lab_init_gradient(result: Mapping, height: int = 360,
                      title: str = "Gradient reaching the signal at the start of training") -> go.Figure:
    """Per cell and k: |d loss / d x| at the signal token over the same at the last token, at step 1."""
    ks = list(result["k"])
    shares = init_gradient_shares(result)
    fig = go.Figure()
    for c in result["cells"]:
        y = [np.nan if s is None else s for s in shares[c]]
        fig.add_trace(go.Scatter(x=ks, y=y, mode="lines+markers", name=cell(c).title,
                                 line=dict(color=cell(c).color, width=2), marker=dict(size=8),
                                 hovertemplate=f"{cell(c).title}, k = %{{x}}: %{{y:.3g}} of the last token's "
                                               "gradient<extra></extra>"))
    vals = [s for row in shares.values() for s in row if s is not None]
    fig.update_yaxes(type="log", title_text="signal ÷ last token (log)", **log_ticks(vals))
    _k_axis(fig, ks, "k: signal to the end, tokens (log)")
    return _bottom_legend(_layout(fig, title, height))


def lab_gradient_curves(result: Mapping, k: int, height: int = 340) -> go.Figure:
    """The gradient reaching the signal token during training at one k, per cell (median over seeds,
    band from the lowest to the highest seed), against the optimizer step; log y."""
    i = list(result["k"]).index(k)
    fig = go.Figure()
    vals = []
    for c in result["cells"]:
        cv = result["curves"][c][i]
        if not cv:
            continue
        steps, g = cv["step"], np.asarray(cv["grad_signal"], dtype=np.float64)
        lo = np.asarray(cv.get("grad_signal_min", g), dtype=np.float64)
        hi = np.asarray(cv.get("grad_signal_max", g), dtype=np.float64)
        vals += [v for v in np.concatenate([lo, hi]) if v > 0]
        color = cell(c).color
        band = (lo > 0) & (hi > 0)  # a log axis cannot draw 0: the band covers the steps where both ends are above it
        if band.any():
            xs = [x for x, b in zip(steps, band) if b]
            fig.add_trace(go.Scatter(x=xs + xs[::-1], y=list(hi[band]) + list(lo[band])[::-1], fill="toself",
                                     fillcolor=color, opacity=0.15, line=dict(width=0), hoverinfo="skip",
                                     showlegend=False))
        fig.add_trace(go.Scatter(x=steps, y=positive(g), mode="lines+markers", name=cell(c).title,
                                 line=dict(color=color, width=2), marker=dict(size=5),
                                 hovertemplate=f"{cell(c).title}, step %{{x}}: %{{y:.3g}}<extra></extra>"))
    fig.update_yaxes(type="log", title_text="|∂loss/∂x| at the signal (log)", **log_ticks(vals))
    fig.update_xaxes(title_text="training step (gaps: exactly 0)")
    return _bottom_legend(_layout(fig, f"Gradient reaching the signal while training, k = {k}", height))


def lab_table(result: Mapping) -> list[dict]:
    """One row per cell: the mean TEST accuracy at each k with the seeds' range."""
    rows = []
    for c in result["cells"]:
        row = {"cell": cell(c).title}
        for k, a, s in zip(result["k"], result["accuracy"][c], result["spread"][c]):
            row[f"k = {k}"] = "-" if a is None else (f"{a:.3f}" if s is None or s[0] == s[1] else
                                                    f"{a:.3f} ({s[0]:.2f}–{s[1]:.2f})")
        kc = result["chance_distance"][c]
        row["falls to chance at"] = "never here" if kc is None else f"k = {kc}"
        rows.append(row)
    return rows
