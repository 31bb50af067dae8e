"""Pure figure builders: Trace (and friends) -> plotly Figure. No Streamlit here.

Conventions, the same on every chart:
- time runs left to right; the x axis is token positions labelled with the tokens themselves
  (numeric positions, so a repeated word stays two columns); OOV tokens are marked with "°";
- values in [0, 1] (sigmoid gates) use one sequential scale, values in [-1, 1] (h, g, n, and c and
  the pre-activation clipped for colour only) one diverging scale centred at 0;
- hover on any cell shows token, unit, gate and the exact value.
Token text is HTML-escaped before plotly sees it (plotly renders a few tags in labels).
"""
from __future__ import annotations

import html
from collections.abc import Collection, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from playground.core.cells import GATE, UNBOUNDED, Quantity, cell
from playground.core.trace import Trace
from playground.explain.alignment import TextAxis, read_start, text_axis

# Every figure starts on the plotly_white template, so `_layout` need not switch to it: switching a
# figure built on plotly's default template re-validated the whole template, about 30 ms a figure
# (a third of a Playground rerun's server time, which 8 visitors at once feel as a slower verdict).
pio.templates.default = "plotly_white"

SEQUENTIAL = "Viridis"  # gates in [0, 1]
DIVERGING = "RdBu"  # states in [-1, 1], centred at 0 (red negative, blue positive)
POS_COLOR, NEG_COLOR, NEUTRAL = "#2166ac", "#b2182b", "#888888"
MAX_TICKS = 40
MAX_TICKS_NARROW = 15
FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=13)


def token_labels(tokens: Sequence[str], oov: Sequence[bool] | None = None) -> list[str]:
    """Escaped tick labels; OOV tokens get a trailing degree sign."""
    oov = oov or [False] * len(tokens)
    return [html.escape(t, quote=False) + ("°" if o else "") for t, o in zip(tokens, oov)]


def column_names(labels: Sequence[str], start: int = 0) -> list[str]:
    """Unique category names for token columns: "3: movie" (a text may repeat a word); `start`:
    the full-text index of the first label."""
    return [f"{start + i + 1}: {t}" for i, t in enumerate(labels)]


def _x_axis_props(labels: list[str], categories: bool = False, narrow: bool = False, start: int = 0) -> dict:
    """The token axis as plain layout JSON: tick labels under positions start..start+n-1 (or under
    the `column_names` categories). `narrow`: a chart in a third of the page: upright labels, at
    most MAX_TICKS_NARROW of them."""
    n = len(labels)
    step = max(1, int(np.ceil(n / (MAX_TICKS_NARROW if narrow else MAX_TICKS))))  # thin labels on long texts
    vals = list(range(0, n, step))
    names = column_names(labels, start) if categories else None
    axis = dict(tickmode="array", tickvals=[names[i] for i in vals] if categories else [start + i for i in vals],
                ticktext=[labels[i] for i in vals], type="category" if categories else "linear",
                tickangle=-90 if narrow else -45 if n > 8 or max((len(s) for s in labels), default=0) > 8 else 0,
                title=dict(text="token (read left to right)"), showgrid=False)
    if n:
        axis["range"] = [-0.5, n - 0.5] if categories else [start - 0.5, start + n - 0.5]
    return axis


def _token_axis(tr: Trace, labels: list[str], categories: bool = False, narrow: bool = False,
                start: int = 0) -> dict:
    """`_x_axis_props` for every token read, opened on the words: a Keras model's padding (tr.lead zeros,
    read like words) stays in the picture, to the left, with only its last zero in view and ticks on the
    words; a drag or the home button shows it all. Without padding, `_x_axis_props` as it is."""
    lead = tr.lead if len(labels) == tr.n_steps else 0
    if not lead:
        return _x_axis_props(labels, categories, narrow, start)
    axis = _x_axis_props(labels[lead - 1:], categories, narrow, start + lead - 1)
    axis["range"] = [lead - 1.5, len(labels) - 0.5] if categories else [start + lead - 1.5, start + len(labels) - 0.5]
    axis["title"] = dict(text=f"token (drag right for the {lead:,} padding zeros)")
    return axis


def _x_axis(fig: go.Figure, labels: list[str], categories: bool = False, narrow: bool = False,
            start: int = 0) -> None:
    """`_x_axis_props` on a figure built by plotly's validating calls."""
    fig.update_xaxes(**_x_axis_props(labels, categories, narrow, start))


TOP, SUBTITLE_TOP = 50, 82  # the top margin without and with a subtitle's line
# a heatmap's colour bar when its chart's title or subtitle names the scale: thin, untitled (a phone's width)
THIN_BAR = dict(thickness=8, xpad=4, tickfont=dict(size=10))


def _layout_props(title: str, height: int) -> dict:
    """What every chart's layout shares (title at the left, margins, font, legend), as plain JSON."""
    return dict(title=dict(text=title, x=0, xanchor="left", font=dict(size=15)), height=height,
                margin=dict(l=60, r=20, t=TOP, b=80), font=dict(FONT), hoverlabel=dict(font=dict(size=13)),
                legend=dict(orientation="h", y=-0.35, x=0))


# Legend in rows at the foot of the figure, under the token axis. It is placed relative to the
# container, so plotly reserves its height below the bottom margin: however many rows it wraps into
# on a phone, it covers neither the title nor the tick labels (a legend between title and plot grew
# into the title on a phone). Rows as wide as the figure.
BOTTOM_LEGEND = dict(orientation="h", yref="container", y=0, yanchor="bottom", xref="container", x=0.02,
                     xanchor="left")


def _merge(*layers: Mapping) -> dict:
    """Plain JSON dicts merged left to right, nested dicts key by key (the later value wins)."""
    out: dict = {}
    for layer in layers:
        for k, v in layer.items():
            out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    """`_layout_props` on a figure built by plotly's validating calls."""
    white = fig.layout.template.layout.plot_bgcolor == "white"  # the default template (see above)
    fig.update_layout(**_layout_props(title, height), **({} if white else {"template": "plotly_white"}))
    return fig


_PLAIN: dict = {}  # template and colour scale name -> its plain JSON form, made once per process


def _plain(kind: str, name: str):
    """plotly.py's template or colour scale `name` as plain JSON (plotly.js names some scales, e.g.
    RdBu, differently, so a figure built without validation sends the explicit list)."""
    if (kind, name) not in _PLAIN:
        _PLAIN[kind, name] = (pio.templates[name].to_plotly_json() if kind == "template" else
                              [list(p) for p in go.Heatmap(colorscale=name).colorscale])
    return _PLAIN[kind, name]


def _fast_figure(data: list[dict], layout: dict) -> go.Figure:
    """A figure from plain dicts, without plotly's property-by-property validation (setting the
    plotly_white template alone costs ~12 ms a figure, a Playground has a dozen): callers pass only
    well-formed properties, and tests/test_plots.py validates their figures."""
    return go.Figure(dict(data=data, layout=dict(template=_plain("template", "plotly_white"), **layout)),
                     _validate=False)


def _bottom_legend(fig: go.Figure) -> go.Figure:
    """BOTTOM_LEGEND on a figure built by plotly's validating calls."""
    fig.update_layout(legend=BOTTOM_LEGEND)
    return fig


def empty_figure(message: str, height: int = 220) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=html.escape(message), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font=dict(size=15, color=NEUTRAL))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, "", height)


def prediction_curve(tr: Trace, title: str = "Prediction after each word", height: int = 340,
                     selected_token: int | None = None) -> go.Figure:
    """P(positive) after each token, starting from the prior (before reading, at x = -1), so the
    first token's step is measured from it like every other; 0.5 marked. Hover: the exact value
    and the change from the point before. `selected_token`: that word's step (from the point before
    to its own) is drawn in orange. A click on a point is a Plotly point selection (`picked_word`).
    A Keras model's padding (tr.lead zeros before the words) is one point, where the padding left P,
    at x = lead - 1, with the prior one step before it: x stays each token's index."""
    lead = tr.lead
    labels = token_labels(tr.tokens, tr.oov)
    band = dict(type="rect", xref="x domain", yref="y", x0=0, x1=1, opacity=0.06, line=dict(width=0))
    shapes = [dict(band, y0=0.5, y1=1, fillcolor=POS_COLOR), dict(band, y0=0, y1=0.5, fillcolor=NEG_COLOR),
              dict(type="line", xref="x domain", yref="y", x0=0, x1=1, y0=0.5, y1=0.5,
                   line=dict(color=NEUTRAL, dash="dash", width=1))]
    full = np.concatenate([[tr.prob0], tr.step_probs])  # (T + 1,): the prior, then after each token
    rows = np.arange(lead, tr.n_steps + 1)  # the prior or the padding's end, then each word: rows of `full`
    y = np.concatenate([[tr.prob0], full[rows]]) if lead else full
    x = np.concatenate([[lead - 2], rows - 1]) if lead else np.arange(-1, tr.n_steps)
    custom = [["<b>before reading</b> (the prior: the readout on the zero state)", "the starting point"]]
    if lead:
        custom += [[f"after the <b>{lead:,} padding zeros</b> read first (tokens 1 to {lead:,})",
                    f"{full[lead] - full[0]:+.3f} from the point before"]]
    custom += [[f"after <b>{labels[t]}</b> (token {t + 1})", f"{full[t + 1] - full[t]:+.3f} from the point before"]
               for t in range(lead, tr.n_steps)]  # where, change from the point before
    steps = full[1:]
    marker_p = [steps[lead - 1]] + list(steps[lead:]) if lead else list(steps)
    data = [dict(type="scatter", x=x, y=y, mode="lines+markers", name="P(positive)",
                 line=dict(color="#444", width=2), customdata=custom,
                 marker=dict(color=[NEUTRAL] + [POS_COLOR if p >= 0.5 else NEG_COLOR for p in marker_p], size=8,
                             symbol=["diamond"] + ["circle"] * len(marker_p)),
                 hovertemplate="%{customdata[0]}<br>P(positive) = %{y:.3f}<br>%{customdata[1]}<extra></extra>")]
    if selected_token is not None and lead <= selected_token < tr.n_steps:
        t = int(selected_token)
        data.append(dict(type="scatter", x=[t - 1, t], y=[full[t], full[t + 1]], mode="lines+markers",
                         hoverinfo="skip", line=dict(color=PICK_COLOR, width=4), marker=dict(color=PICK_COLOR, size=11),
                         name="the chosen word", showlegend=False))
    words = labels[lead:]
    xaxis = _x_axis_props(words, start=lead)
    vals, text = xaxis["tickvals"], xaxis["ticktext"]
    if len(vals) > 1 and vals[1] - vals[0] > 1:  # thinned labels: the prior's label takes the first one's place
        vals, text = vals[1:], text[1:]
    first = [lead - 2, lead - 1] if lead else [-1]
    names = ["before<br>reading", f"{lead:,} ×<br>padding"] if lead else ["before<br>reading"]
    if xaxis["tickangle"]:  # slanted labels on two lines ran into their neighbours (screenshot at 390 px)
        names = [n.replace("<br>", " ") for n in names]
    xaxis.update(tickvals=first + vals, ticktext=names + text, range=[first[0] - 0.5, tr.n_steps - 0.5])
    yaxis = dict(range=[-0.02, 1.02], title=dict(text="P(positive)"), tickmode="array",
                 tickvals=[0, 0.25, 0.5, 0.75, 1], tickformat=".2f")
    return _fast_figure(data, _merge(_layout_props(title, height), dict(shapes=shapes, xaxis=xaxis, yaxis=yaxis,
                                                                          showlegend=False)))


def picked_word(selection) -> int | None:
    """The token index of the first clicked point of a `prediction_curve` selection (its x), or None
    (nothing usable clicked, or the prior's point before the first word)."""
    try:
        points = selection["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for p in points or ():
        try:
            x = float(p["x"])
        except (KeyError, TypeError, ValueError):
            continue
        if np.isfinite(x) and x == int(x) and x >= 0:
            return int(x)
    return None


EXTRA_COLORS = ("#1f77b4", "#d62728", "#8c564b", "#e377c2")  # a second model of one cell: unlike any cell's


def curve_colors(traces: Mapping[str, Trace]) -> dict[str, str]:
    """Each model's colour: its cell's, or, if another model of the same cell took it, a spare."""
    used, out = set(), {}
    for name, tr in traces.items():
        c = tr.cell.color if tr.cell.color not in used else next((x for x in EXTRA_COLORS if x not in used), NEUTRAL)
        used.add(c)
        out[name] = c
    return out


def compare_curves(traces: Mapping[str, Trace], title: str = "Prediction after each word",
                   height: int = 360, selected_position: int | None = None) -> go.Figure:
    """Several models' curves on one chart, every point at its word's position in the full text
    (a model that reads only the last max_len tokens starts later). The stretch a model did not
    read is a shaded band in its colour, labelled; words none of them read are left off the axis.
    `selected_position` (full-text index): that word's column shaded in the pick colour."""
    axis = text_axis(traces)
    if not axis.same_text and len(traces) > 1:
        return _curves_own_axes(traces, title, height)
    fig = go.Figure()
    fig.add_hline(y=0.5, line=dict(color=NEUTRAL, dash="dash", width=1))
    if selected_position is not None and axis.start <= selected_position < axis.n_total:
        fig.add_vrect(x0=selected_position - 0.5, x1=selected_position + 0.5, fillcolor=PICK_COLOR, opacity=0.18,
                      line_width=0, layer="below")
    colors = curve_colors(traces)
    k = 0
    for name, tr in traces.items():
        start, c = read_start(tr), colors[name]
        if start > axis.start:  # the stretch this model did not read
            fig.add_vrect(x0=axis.start - 0.5, x1=start - 0.5, fillcolor=c, opacity=0.1, line_width=0, layer="below")
            fig.add_annotation(x=axis.start - 0.5, y=1.0 - 0.13 * k, xanchor="left", yanchor="top", showarrow=False,
                               align="left", font=dict(size=12, color=c), bgcolor="rgba(255,255,255,0.75)",
                               text=f"<b>{html.escape(name)}</b> did not read<br>words 1–{start:,}")
            k += 1
    for name, tr in traces.items():
        start = read_start(tr)
        labels = token_labels(tr.tokens, tr.oov)
        custom = np.empty((tr.n_steps, 2), dtype=object)  # (T, 2): word number in the full text, word
        custom[:, 0] = start + np.arange(tr.n_steps) + 1
        custom[:, 1] = labels
        fig.add_trace(go.Scatter(
            x=start + np.arange(tr.n_steps), y=tr.step_probs, mode="lines+markers", name=html.escape(name),
            line=dict(color=colors[name], width=2), marker=dict(size=6), customdata=custom,
            hovertemplate=(f"{html.escape(name)}<br>after word %{{customdata[0]:,}}, <b>%{{customdata[1]}}</b>: "
                           "%{y:.3f}<extra></extra>"),
        ))
    fig.update_yaxes(range=[-0.02, 1.02], title_text="P(positive)")
    n = axis.n_total - axis.start
    if n > 0:  # a long text gets fewer, upright labels (40 slanted ones collide on a phone)
        _x_axis(fig, token_labels(axis.tokens[axis.start:]), start=axis.start, narrow=n > MAX_TICKS_NARROW)
        if axis.common > 0:
            fig.update_xaxes(title_text="word, by position in the full text" + (
                f" (words 1–{axis.start:,}: read by none of them, not shown)" if axis.start else ""))
    return _bottom_legend(_layout(fig, title, height))


def _curves_own_axes(traces: Mapping[str, Trace], title: str, height: int) -> go.Figure:
    """Models that split the text into different tokens (a Keras model reads words without punctuation, after
    its padding and start token): one row each, under its own tokens, so no word is drawn under another's."""
    from plotly.subplots import make_subplots

    names = list(traces)
    fig = make_subplots(rows=len(names), cols=1, vertical_spacing=0.45 / len(names),
                        subplot_titles=[f"{html.escape(n)}: its own tokens" for n in names])
    colors = curve_colors(traces)
    for k, (name, tr) in enumerate(traces.items(), start=1):
        labels = token_labels(tr.tokens, tr.oov)
        lead = tr.lead  # a Keras model's padding: one point, where the padding left P, then the words
        if lead:
            labels = [f"{lead:,} × padding"] + labels[lead:]
        fig.add_trace(go.Scatter(
            x=np.arange(lead - 1 if lead else 0, tr.n_steps), y=tr.step_probs[lead - 1 if lead else 0:],
            mode="lines+markers", name=html.escape(name),
            line=dict(color=colors[name], width=2), marker=dict(size=5), customdata=labels,
            hovertemplate=f"{html.escape(name)}<br>after <b>%{{customdata}}</b>: %{{y:.3f}}<extra></extra>"),
            row=k, col=1)
        fig.add_hline(y=0.5, line=dict(color=NEUTRAL, dash="dash", width=1), row=k, col=1)
        props = _x_axis_props(labels, start=lead - 1 if lead else 0)
        props["title"] = dict(text="")
        fig.update_xaxes(**props, row=k, col=1)
        fig.update_yaxes(range=[-0.02, 1.02], title_text="P(positive)", row=k, col=1)
    for a in fig.layout.annotations:  # the row titles at the left, as every chart's title
        a.update(x=0, xanchor="left", font=dict(size=13))
    return _bottom_legend(_layout(fig, title, max(height, 250 * len(names))))


def scale_for(q: Quantity) -> dict:
    """Colour scale settings for a quantity (the project-wide convention): [0, 1] gates
    sequential; everything else diverging around 0, unbounded values clipped at ±1 for colour."""
    if q.kind == GATE:
        return dict(colorscale=SEQUENTIAL, zmin=0.0, zmax=1.0)
    return dict(colorscale=DIVERGING, zmin=-1.0, zmax=1.0, zmid=0.0, reversescale=False)


def _values(tr: Trace, name: str, layer: int) -> np.ndarray:
    lt = tr.layers[layer]
    return lt.h if name == "h" else lt.gates[name]  # (T, H)


TOP_UNITS = 16  # "the units that matter": how many rows a ranked units x tokens picture shows
MAX_CLICK_CELLS = 3200  # a click layer only up to this many cells: each is an invisible SVG marker (~35 bytes of
# JSON, ~0.1 ms to draw in headless Chromium here: 5 pictures of 16 units x 400 words added ~4 s to a page)
PICK_COLOR = "#ff7f00"  # the chosen unit's row and token's column, outlined on every picture


def shown_units(order: Sequence[int], top: int | None, selected: int | None = None) -> list[int]:
    """The rows of a ranked picture: the first `top` units of `order` (all when `top` is None),
    and the selected unit after them when it is not among them, so the choice stays visible."""
    rows = [int(u) for u in (order if top is None else order[:top])]
    if selected is not None and selected not in rows and selected in set(int(u) for u in order):
        rows.append(int(selected))
    return rows


class UnitsTokens:
    """The frame every units x tokens picture shares (`heatmap`, `contributions`): one row per unit
    (in the given order, named by its real number), one column per token read, labelled "position:
    token"; with a `text_axis` (Compare) the columns run over the full text from the first word any
    of the models read, and this model's unread words are empty (NaN) columns, shaded. It builds the
    heatmap layer, the click layer (an invisible marker per read cell whose customdata starts with
    unit, token index, value), the "not read" shading and the x axis, so the two pictures differ
    only in what they show, not in how."""

    def __init__(self, tr: Trace, rows: Sequence[int], text_axis: TextAxis | None = None,
                 row_names: Sequence[str] | None = None):
        self.tr = tr
        self.rows = [int(u) for u in rows]
        self.row_names = [str(u) for u in self.rows] if row_names is None else list(row_names)
        self.T = tr.n_steps
        self.labels = token_labels(tr.tokens, tr.oov)
        self.first, self.skipped = 0, 0  # full-text index of column 0; empty columns before the first word read
        self.text_axis = text_axis
        if text_axis is not None and text_axis.n_total > text_axis.start:
            self.first, self.skipped = text_axis.start, read_start(tr) - text_axis.start
            self.labels = token_labels(text_axis.tokens[self.first:self.first + self.skipped]) + self.labels
        self.columns = column_names(self.labels, self.first)

    @property
    def K(self) -> int:
        return len(self.rows)

    def grid(self, values: np.ndarray) -> np.ndarray:
        """(K, T) values of the shown rows -> (K, skipped + T) float32, the unread columns NaN."""
        z = np.full((self.K, self.skipped + self.T), np.nan, dtype=np.float32)
        z[:, self.skipped:] = values
        return z

    def can_click(self, wanted: bool) -> bool:
        return wanted and 0 < self.K * self.T <= MAX_CLICK_CELLS

    def heat(self, z: np.ndarray, scale: Mapping, colorbar: dict, hover: str, click: bool, **extra) -> dict:
        """The heatmap layer. Columns are categories named "position: token" (unique, shown on hover),
        so no per-cell hover data is sent: 8,000 cells cost 32 KB as float32, not 350 KB of JSON.
        Values outside [zmin, zmax] take the end colours; hover shows the exact value. With a click
        layer the heatmap itself does not hover (the markers do)."""
        heat = dict(type="heatmap", z=z, x=self.columns, y=self.row_names,
                    colorscale=_plain("colorscale", scale["colorscale"]), zmin=scale["zmin"], zmax=scale["zmax"],
                    colorbar=colorbar, xgap=1 if len(self.labels) <= 60 else 0, ygap=1 if self.K <= 64 else 0)
        if scale.get("zmid") is not None:
            heat["zmid"] = scale["zmid"]
        heat.update(dict(hoverinfo="skip") if click else dict(hovertemplate=hover))
        heat.update(extra)
        return heat

    def click_layer(self, z: np.ndarray, hover: str, extra: Sequence[np.ndarray] = (), **trace_props) -> dict:
        """One invisible, cell-sized marker per read cell: it carries the hover and makes a click a
        Plotly point selection, which Streamlit reports (it reports no heatmap cells). customdata per
        marker: unit, token index (in the trace), value, then `extra` ((K,) per row) columns."""
        tt, kk = np.meshgrid(np.arange(self.T), np.arange(self.K))  # (K, T) token index, row
        tt, kk = tt.ravel(), kk.ravel()
        units = np.asarray(self.rows)[kk]
        custom = np.stack([units, tt, z[kk, self.skipped + tt]] + [np.asarray(e)[kk] for e in extra],
                          axis=1).astype(np.float32)  # (K*T, 3 + len(extra))
        return dict(type="scatter", x=[self.columns[self.skipped + t] for t in tt],
                    y=[self.row_names[k] for k in kk], mode="markers", customdata=custom, showlegend=False,
                    name="cells", marker=dict(symbol="square", size=12, opacity=0, color=PICK_COLOR),
                    selected=dict(marker=dict(opacity=0)), unselected=dict(marker=dict(opacity=0)),
                    hovertemplate=hover, **trace_props)

    CLICK_LAYOUT = dict(hoverdistance=-1, clickmode="event+select", dragmode=False)

    def not_read(self, yrefs: Sequence[str] = ("y",)) -> list[dict]:
        """Grey shading over the unread columns, one rectangle per panel (`yrefs`: "y", "y2", ...)."""
        if self.skipped <= 0:
            return []
        return [dict(type="rect", xref="x", yref=f"{y} domain", x0=-0.5, x1=self.skipped - 0.5, y0=0, y1=1,
                     fillcolor=NEUTRAL, opacity=0.15, line=dict(width=0), layer="below") for y in yrefs]

    def xaxis(self, narrow: bool) -> dict:
        axis = (_token_axis(self.tr, self.labels, categories=True, narrow=narrow) if self.text_axis is None else
                _x_axis_props(self.labels, categories=True, narrow=narrow, start=self.first))
        if self.text_axis is not None and self.text_axis.common > 0:
            axis["title"] = dict(text="word, by position in the full text")
        return axis


def heatmap(tr: Trace, name: str, layer: int = -1, title: str | None = None, height: int | None = None,
            selected_unit: int | None = None, narrow: bool = False, text_axis: TextAxis | None = None,
            rows: Sequence[int] | None = None, reference: np.ndarray | None = None,
            selected_token: int | None = None, clickable: bool = False) -> go.Figure:
    """Units (rows) x tokens (columns) of one gate or state; exact values on hover. `narrow`: for
    a chart a third of the page wide (fewer, upright token labels). `text_axis` (Compare): columns
    are the words of the full text that any of several models read, numbered by their position in
    it, so the models' heatmaps line up; the words this model did not read stay empty, shaded.

    `rows`: the units to show, top to bottom (default: all, in index order); rows are labelled
    with the real unit numbers. `reference` ((H,) per unit, e.g. its typical value): colour and
    hover show value - reference on a diverging scale centred at 0, scaled to the largest |change|
    shown (the subtitle says so). `selected_unit` / `selected_token` (the trace's token index): that
    row and column are outlined. `clickable`: an invisible marker over every read cell (customdata
    = unit, token index, value) carries the hover and makes a click a Plotly point selection, which
    Streamlit reports (it reports no heatmap cells); left off above MAX_CLICK_CELLS cells."""
    vals = _values(tr, name, layer)  # (T, H)
    T, H = vals.shape
    g = UnitsTokens(tr, range(H) if rows is None else [int(u) for u in rows if 0 <= int(u) < H], text_axis)
    q = tr.cell.quantity(name)
    if reference is not None:
        vals = vals - np.asarray(reference, dtype=np.float64)[None, :]  # (T, H) change from the reference
    shown = vals[:, g.rows].T  # (K, T)
    z = g.grid(shown)  # (K, skipped + T) float32
    scale = scale_for(q)
    gate_title = q.title
    subtitle = "colour clipped at ±1; hover for exact values" if q.kind == UNBOUNDED else None
    if reference is not None:
        gate_title = f"{q.title} − typical"
        lim = float(np.nanmax(np.abs(shown))) if shown.size and np.isfinite(shown).any() else 0.0
        lim = lim if lim > 1e-6 else 1e-6
        scale = dict(colorscale=DIVERGING, zmin=-lim, zmax=lim, zmid=0.0)
        subtitle = f"colour ends at ±{lim:.3g}, the largest change here"
    layer_no = (layer % len(tr.layers)) + 1
    click = g.can_click(clickable)
    hover = ("token <b>%{x}</b><br>unit %{y}<br>" + html.escape(gate_title) + " = %{z:.4f}<extra></extra>")
    data = [g.heat(z, scale, dict(THIN_BAR, len=0.9),  # the title names the quantity
                   hover, click, **(dict(hoverongaps=False) if text_axis is not None else {}))]
    layout: dict = dict(shapes=g.not_read(), annotations=[])
    if click:
        data.append(g.click_layer(z, hover.replace("%{z:.4f}", "%{customdata[2]:.4f}")))
        layout.update(UnitsTokens.CLICK_LAYOUT)
    if g.skipped > 0:
        layout["annotations"].append(dict(x=(g.skipped - 1) / 2, y=0.5, yref="paper", showarrow=False, textangle=-90,
                                          text=f"not read (words 1–{read_start(tr):,})",
                                          font=dict(size=12, color="#444")))
    if selected_unit is not None and selected_unit in g.rows:
        k = g.rows.index(selected_unit)
        layout["shapes"].append(dict(type="rect", xref="x domain", yref="y", x0=0, x1=1, y0=k - 0.5, y1=k + 0.5,
                                     line=dict(color=PICK_COLOR, width=2)))
    if selected_token is not None and 0 <= selected_token < T:
        c = g.skipped + selected_token
        layout["shapes"].append(dict(type="rect", xref="x", yref="y domain", x0=c - 0.5, x1=c + 0.5, y0=0, y1=1,
                                     line=dict(color=PICK_COLOR, width=2, dash="dot")))
    layout["yaxis"] = dict(title=dict(text="unit"), type="category", autorange="reversed", showgrid=False,
                           **(dict(tickmode="array", tickvals=g.row_names, ticktext=g.row_names) if g.K <= 32 else {}))
    layout["xaxis"] = g.xaxis(narrow)
    if title is None:
        title = f"{gate_title} — layer {layer_no}" if len(tr.layers) > 1 else gate_title
    # a subtitle's line comes on top of the default height, not out of the rows
    layers = [_layout_props(title, height or heatmap_height(g.K) + (SUBTITLE_TOP - TOP if subtitle else 0)), layout]
    if subtitle:  # on a second line (a phone cuts long titles)
        layers.append(dict(title=dict(subtitle=dict(text=subtitle, font=dict(size=12))), margin=dict(t=SUBTITLE_TOP)))
    return _fast_figure(data, _merge(*layers))


def heatmap_height(rows: int) -> int:
    """A units x tokens picture's height: a few pixels a row for many units, readable rows for few."""
    return int(min(560, max(240, 150 + (18 if rows <= 32 else 6) * rows)))


def picked_cell(selection) -> tuple[int, int] | None:
    """(unit, token index) of the first clicked cell in a Streamlit chart selection (the click
    layer's customdata), or None when nothing usable was clicked."""
    try:
        points = selection["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for p in points or ():
        try:
            custom = p["customdata"]  # a list, or (a float32 array sent as binary) a dict {"0": .., "1": ..}
            unit, token = (custom["0"], custom["1"]) if isinstance(custom, Mapping) else custom[:2]
            unit, token = float(unit), float(token)
            if np.isfinite(unit) and np.isfinite(token) and unit == int(unit) and token == int(token):
                return int(unit), int(token)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            continue
    return None


def gate_means(tr: Trace, layer: int = -1, title: str | None = None, height: int | None = None) -> go.Figure:
    """The cell's quantities averaged over units after every token, one line each. Gates ([0, 1])
    share a 0-1 panel with their mean value; the others (signed or unbounded: a candidate, the
    LSTM's cell state, a SimpleRNN's pre-activation) get a panel of their own with the mean
    |value|: their signed values would cancel in a mean, and they are not gates. A SimpleRNN has
    only the second panel."""
    lt = tr.layers[layer]
    c = tr.cell
    gates = [q for q in c.quantities if q.kind == GATE]
    others = [q for q in c.quantities if q.kind != GATE]
    g_names, o_names = (", ".join(q.name for q in qs) for qs in (gates, others))  # short: a phone shows it all
    panels = [p for p in ((gates, f"{g_names} (gates): mean over units", "mean (1 = open)", False),
                          (others, f"{o_names}: mean |value| over units", "mean |value|", True)) if p[0]]
    if title is None:
        title = "Gates and the cell's values, per token" if gates else "Averaged over units, per token"
        if len(tr.layers) > 1:
            title += f" — layer {(layer % len(tr.layers)) + 1}"
    labels = token_labels(tr.tokens, tr.oov)
    # one token axis under the last panel, each panel a y axis of its own (what make_subplots with a
    # shared x axis draws, in plain dicts: make_subplots and validation cost ~150 ms a rerun)
    gap = 0.14
    h = (1 - gap * (len(panels) - 1)) / len(panels)
    domains = [[1 - i * (h + gap) - h, 1 - i * (h + gap)] for i in range(len(panels))]
    domains[-1][0] = 0.0
    anchor = "y" if len(panels) == 1 else f"y{len(panels)}"
    data, layout = [], dict(annotations=[], xaxis=dict(_token_axis(tr, labels), anchor=anchor))
    for row, (qs, panel_title, y_title, absolute) in enumerate(panels):
        yname = "y" if row == 0 else f"y{row + 1}"
        for q in qs:
            vals = lt.gates[q.name]  # (T, H)
            data.append(dict(
                type="scatter", x=np.arange(tr.n_steps), yaxis=yname,
                y=np.abs(vals).mean(axis=1) if absolute else vals.mean(axis=1),
                mode="lines+markers", name=q.title, line=dict(color=q.color, width=2), marker=dict(size=5),
                customdata=labels,
                hovertemplate=(f"{q.title}<br>token <b>%{{customdata}}</b><br>"
                               f"{'mean |value|' if absolute else 'mean'} = %{{y:.4f}}<extra></extra>")))
        layout["yaxis" if row == 0 else f"yaxis{row + 1}"] = dict(
            domain=domains[row], anchor="x", title=dict(text=y_title), rangemode="tozero",
            **({"range": [0, 1]} if not absolute else {}))
        layout["annotations"].append(dict(  # the panel's title: left-aligned, smaller than the chart's
            text=panel_title, x=0, xanchor="left", xref="paper", y=domains[row][1], yanchor="bottom", yref="paper",
            showarrow=False, font=dict(size=12, color="#555")))
    return _fast_figure(data, _merge(_layout_props(title, height or (230 + 150 * len(panels))), layout,
                                     dict(legend=BOTTOM_LEGEND, margin=dict(t=80))))


def unit_lines(tr: Trace, unit: int, layer: int = -1, token: int | None = None, height: int = 400) -> go.Figure:
    """One unit's h and every quantity of its cell across the sentence; the chosen token marked."""
    lt = tr.layers[layer]
    labels = token_labels(tr.tokens, tr.oov)
    series = {"h": lt.h[:, unit], **{k: v[:, unit] for k, v in lt.gates.items()}}
    data = []
    for name, vals in series.items():
        q = tr.cell.quantity(name)
        data.append(dict(
            type="scatter", x=np.arange(tr.n_steps), y=vals, mode="lines+markers", name=q.title,
            line=dict(color=q.color, width=3 if name == "h" else 1.5), marker=dict(size=5), customdata=labels,
            hovertemplate=f"unit {unit} · {q.title}<br>token <b>%{{customdata}}</b> = %{{y:.4f}}<extra></extra>"))
    shapes = []
    if token is not None and 0 <= token < tr.n_steps:
        shapes.append(dict(type="line", xref="x", yref="y domain", x0=token, x1=token, y0=0, y1=1,
                           line=dict(color=PICK_COLOR, width=2, dash="dot")))
    layout = dict(shapes=shapes, xaxis=_token_axis(tr, labels), yaxis=dict(title=dict(text="value")),
                  legend=BOTTOM_LEGEND, margin=dict(l=50, r=8))  # a wider plot: two legend entries a row at 390 px
    return _fast_figure(data, _merge(_layout_props(f"Unit {unit} across the sentence", height), layout))


def importance_bars(tokens: Sequence[str], oov: Sequence[bool], scores: np.ndarray, title: str,
                    unit: str, height: int = 300) -> go.Figure:
    """Signed word importance per token (blue pushes positive, red negative)."""
    labels = token_labels(tokens, oov)
    fig = go.Figure(go.Bar(
        x=np.arange(len(labels)), y=scores, marker_color=[POS_COLOR if s >= 0 else NEG_COLOR for s in scores],
        customdata=np.array(labels, dtype=object),
        hovertemplate="<b>%{customdata}</b><br>importance = %{y:.4f}<extra></extra>",
    ))
    fig.update_yaxes(title_text=f"importance ({unit})", zeroline=True, zerolinecolor="#999")
    _x_axis(fig, labels)
    return _layout(fig, title, height)


def ig_path_figure(path, title: str = "The path integrated gradients follow", height: int = 330) -> go.Figure:
    """`attribution.IGPath`: the model's logit along the path from the baseline (0) to the text (1),
    and the baseline's logit plus the scores so far at the ends of the pieces the integral used. The
    path's `stretches` (where an incomplete result's gap lies) are shaded."""
    data = [dict(type="scatter", x=path.alpha, y=path.logit, mode="lines", name="the model's logit on the path",
                 line=dict(color="#444", width=2),
                 hovertemplate="%{x:.6g} of the way<br>logit = %{y:+.3f}<extra></extra>"),
            dict(type="scatter", x=path.edges, y=path.running, mode="lines+markers",
                 name="baseline + integrated gradients so far", line=dict(color=POS_COLOR, width=1.5, dash="dot"),
                 marker=dict(color=POS_COLOR, size=6),
                 hovertemplate="%{x:.6g} of the way<br>baseline + scores so far = %{y:+.3f}<extra></extra>")]
    shapes = []
    for w in path.stretches:  # at least 1% of the axis wide, so a stretch of 1e-4 can still be seen
        mid, half = (w.start + w.end) / 2, max((w.end - w.start) / 2, 0.005)
        shapes.append(dict(type="rect", xref="x", yref="y domain", x0=mid - half, x1=mid + half, y0=0, y1=1,
                           fillcolor=NEG_COLOR, opacity=0.15, line=dict(width=0)))
    layout = _merge(_layout_props(title, height), dict(
        shapes=shapes, legend=BOTTOM_LEGEND, margin=dict(b=110),
        xaxis=dict(title=dict(text="0 = padding (the baseline), 1 = your text"),
                   range=[-0.02, 1.02], zeroline=False),
        yaxis=dict(title=dict(text="logit"), zeroline=True, zerolinecolor="#ccc")))
    return _fast_figure(data, layout)


def confidence_gauge(prob: float, height: int = 130) -> go.Figure:
    """A horizontal bar from 0 (negative) to 1 (positive) with the probability marked."""
    fig = go.Figure(go.Indicator(
        mode="gauge+number", value=prob, number=dict(valueformat=".1%", suffix=" positive"),
        gauge=dict(shape="bullet", axis=dict(range=[0, 1], tickformat=".0%"),
                   bar=dict(color=POS_COLOR if prob >= 0.5 else NEG_COLOR, thickness=0.6),
                   steps=[dict(range=[0, 0.5], color="#fbe3e5"), dict(range=[0.5, 1], color="#e3edf8")],
                   threshold=dict(line=dict(color="#333", width=2), value=0.5)),
    ))
    fig.update_layout(height=height, margin=dict(l=20, r=30, t=15, b=35), font=FONT)
    return fig


def _loss_accuracy_subplots() -> go.Figure:
    """Loss (left) and accuracy (right) side by side; two-line titles and a wide gap, so a phone's
    narrow plots keep the titles clear of the accuracy ticks."""
    from plotly.subplots import make_subplots

    small = "<br><span style='font-size:11px'>{}</span>"
    return make_subplots(rows=1, cols=2, horizontal_spacing=0.2,
                         subplot_titles=("Loss" + small.format("lower is better"),
                                         "Accuracy" + small.format("higher is better")))


def _loss_accuracy_layout(fig: go.Figure, height: int, bottom: int) -> go.Figure:
    """Axes and legend of a loss (left) / accuracy (right) pair of subplots against epochs."""
    fig.update_xaxes(title_text="epoch", title_standoff=4, rangemode="tozero")
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(range=[0.4, 1.0], tickformat=".0%", row=1, col=2)
    _layout(fig, "", height)
    # the legend sits at the foot of the figure, placed relative to the container: plotly reserves
    # its rows below the bottom margin, so however many rows it wraps into on a phone it never
    # reaches the "epoch" titles (placed relative to the plot, it slid up into them as it grew)
    fig.update_layout(legend=dict(orientation="h", yref="container", y=0, yanchor="bottom", x=0, xanchor="left"),
                      margin=dict(t=60, b=bottom, autoexpand=True))
    return fig


KEPT_COLOR = "#2ca02c"
AVERAGED = " (moving-average weights)"


def _kept_label(at: float, live: bool) -> str:
    return f"{'best so far' if live else 'kept weights'} (epoch {at:.2f})"


def _kept_point(history: Sequence[dict], at: float | None) -> dict | None:
    """The history row of the kept checkpoint (the one validated at epoch `at`)."""
    if at is None:
        return None
    return next((h for h in history if abs(h["epoch"] - at) < 1e-9), None)


def training_curves(history: Sequence[dict], batch_history: Sequence[dict] = (), height: int = 330,
                    averaged: bool = False, kept_at: float | None = None, live: bool = False) -> go.Figure:
    """Loss (left) and accuracy (right) against epochs: per-batch loss faintly, train and
    validation at every validation pass. `averaged`: validation scored the moving average of the
    weights (the names say so). `kept_at`: the epoch of the kept checkpoint (of the best so far,
    when `live`), marked with a star on both validation curves (on the training curves when there
    was no validation) and a dotted vertical line."""
    fig = _loss_accuracy_subplots()
    if batch_history:
        fig.add_trace(go.Scatter(x=[b["epoch"] for b in batch_history], y=[b["loss"] for b in batch_history],
                                 mode="lines", name="batch loss (live weights)", line=dict(color="#bbbbbb", width=1),
                                 hovertemplate="epoch %{x:.2f}<br>batch loss %{y:.3f}<extra></extra>"), 1, 1)
    x = [h["epoch"] for h in history]
    val_name = "validation" + (AVERAGED if averaged else "")
    # one legend entry per kind of curve (both plots share it), so a phone's legend stays short
    series = [("loss", "training", "loss", "#1f77b4", 1), ("val_loss", val_name, "loss", "#ff7f0e", 1),
              ("acc", "training", "accuracy", "#1f77b4", 2), ("val_acc", val_name, "accuracy", "#ff7f0e", 2)]
    shown = set()
    for key, name, what, color, col in series:
        ys = [h.get(key) for h in history]
        if any(y is not None for y in ys):
            fig.add_trace(go.Scatter(x=x, y=ys, mode="lines+markers", name=name, marker=dict(size=6),
                                     legendgroup=name, showlegend=name not in shown,
                                     line=dict(color=color, width=2, dash="solid" if key.startswith("val") else "dot"),
                                     hovertemplate=f"epoch %{{x:.2f}}<br>{name} {what} %{{y:.4f}}<extra></extra>"),
                          1, col)
            shown.add(name)
    row = _kept_point(history, kept_at)
    if row is not None:
        label = _kept_label(kept_at, live)
        keys = ("val_loss", "val_acc") if row.get("val_acc") is not None else ("loss", "acc")
        for col, key in enumerate(keys, start=1):
            fig.add_trace(go.Scatter(
                x=[kept_at], y=[row[key]], mode="markers", name=label, legendgroup="kept", showlegend=col == 1,
                marker=dict(symbol="star", size=15, color=KEPT_COLOR, line=dict(color="#ffffff", width=1)),
                hovertemplate=f"{label}<br>{key.replace('val_', 'validation ').replace('acc', 'accuracy')} "
                              "%{y:.4f}<extra></extra>"), 1, col)
            fig.add_vline(x=kept_at, line=dict(color=KEPT_COLOR, dash="dot", width=1), row=1, col=col)
    return _loss_accuracy_layout(fig, height, bottom=110)


def race_curves(histories: Mapping[str, Sequence[dict]], height: int = 360,
                cut_short: Collection[str] = (), averaged: bool = False,
                kept: Mapping[str, float | None] | None = None, live: bool = False) -> go.Figure:
    """Cells trained on the same data (keys: rnn, lstm, gru): loss (left) and accuracy (right)
    against epochs, one colour per cell; validation solid, training dotted. Cells in `cut_short`
    (stopped by the time cap) say so in the legend. `averaged`: validation scored the moving
    average of the weights. `kept`: arch -> epoch of its kept checkpoint (best so far when
    `live`), a star in the cell's colour on its validation accuracy."""
    fig = _loss_accuracy_subplots()
    kept = kept or {}
    stars = []
    for arch, history in histories.items():
        title, color = cell(arch).title, cell(arch).color
        if arch in cut_short:
            title += " (cut short by the time cap)"
        x = [h["epoch"] for h in history]
        for key, kind, col in (("val_loss", "validation", 1), ("loss", "training", 1),
                               ("val_acc", "validation", 2), ("acc", "training", 2)):
            ys = [h.get(key) for h in history]
            if not any(y is not None for y in ys):
                continue
            val = kind == "validation"
            if val and averaged:
                kind += AVERAGED
            fig.add_trace(go.Scatter(
                x=x, y=ys, mode="lines+markers" if val else "lines", legendgroup=arch,
                name=f"{title} {kind}", showlegend=col == 1,
                line=dict(color=color, width=2.5 if val else 1.5, dash="solid" if val else "dot"),
                marker=dict(size=6),
                hovertemplate=f"{title}<br>epoch %{{x:.2f}}<br>{kind} {'loss' if col == 1 else 'accuracy'} "
                              f"%{{y:.4f}}<extra></extra>"), 1, col)
        row = _kept_point(history, kept.get(arch))
        if row is not None:
            key = "val_acc" if row.get("val_acc") is not None else "acc"
            label = f"{cell(arch).title} {_kept_label(kept[arch], live)}"
            stars.append(go.Scatter(
                x=[kept[arch]], y=[row[key]], mode="markers", legendgroup="kept", showlegend=False, name=label,
                marker=dict(symbol="star", size=15, color=color, line=dict(color="#ffffff", width=1)),
                hovertemplate=f"{label}<br>{'validation' if key == 'val_acc' else 'training'} accuracy "
                              "%{y:.4f}<extra></extra>"))
    if stars:  # one grey legend entry, last, for the stars in each cell's colour
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", legendgroup="kept",
                                 name=f"{'best so far' if live else 'kept weights'} (star in the cell's colour)",
                                 marker=dict(symbol="star", size=15, color=NEUTRAL)), 1, 2)
        for star in stars:
            fig.add_trace(star, 1, 2)
    return _loss_accuracy_layout(fig, height, bottom=120)


def probe_curves(snapshots: Sequence[tuple[str, Trace]], height: int = 330) -> go.Figure:
    """The probe sentence's prediction curve after each epoch; the newest is darkest. A snapshot
    labelled "kept model …" (the weights registered when training ends) is drawn last, in the
    kept-checkpoint colour."""
    fig = go.Figure()
    fig.add_hline(y=0.5, line=dict(color=NEUTRAL, dash="dash", width=1))
    n = len(snapshots)
    for k, (label, tr) in enumerate(snapshots):
        alpha = 0.25 + 0.75 * (k + 1) / max(1, n)
        labels = token_labels(tr.tokens, tr.oov)
        color = KEPT_COLOR if label.startswith("kept model") else f"rgba(230,97,1,{alpha:.2f})"
        fig.add_trace(go.Scatter(
            x=np.arange(tr.n_steps), y=tr.step_probs, mode="lines+markers", name=html.escape(label),
            line=dict(color=color, width=3 if k == n - 1 else 1.5),
            marker=dict(size=6 if k == n - 1 else 4), customdata=np.array(labels, dtype=object),
            hovertemplate=f"{html.escape(label)}<br>after <b>%{{customdata}}</b>: %{{y:.3f}}<extra></extra>"))
    fig.update_layout(showlegend=True)  # even after one epoch: the label says which epoch is drawn
    fig.update_yaxes(range=[-0.02, 1.02], title_text="P(positive)")
    if snapshots:
        tr = snapshots[-1][1]
        _x_axis(fig, token_labels(tr.tokens, tr.oov))
    return _bottom_legend(_layout(fig, "", height))


def confusion_matrix(tn: int, fp: int, fn: int, tp: int, height: int = 300) -> go.Figure:
    z = np.array([[tn, fp], [fn, tp]])
    total = max(1, int(z.sum()))
    text = [[f"{v:,}<br>({v / total:.0%})" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=["predicted negative", "predicted positive"],
                               y=["truly negative", "truly positive"], colorscale="Blues", showscale=False,
                               text=text, texttemplate="%{text}", hovertemplate="%{y}, %{x}: %{z}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, "", height)


CONTRIB_TOP = TOP_UNITS  # units a contributions picture shows first (all are one click away)


def contributions(tr: Trace, rows: Sequence[int] | None = None, top: int | None = CONTRIB_TOP, by: str = "verdict",
                  selected_unit: int | None = None, selected_token: int | None = None,
                  text_axis: TextAxis | None = None, narrow: bool = False, title: str | None = None,
                  height: int | None = None, acc=None, clickable: bool = False) -> go.Figure:
    """The exact account of the verdict (playground/explain/account.py) as one figure of two rows sharing
    the token columns: above, each word's move of the logit (the columns' sums); below, the units
    x tokens contributions C[u, t] = w_u (h_u,t - h_u,t-1) of the last layer, in logit, diverging
    around 0 on a symmetric scale set by the largest |C| shown (not clipped). Rows: `rows` in that
    order, else the units ranked `by` ("verdict" or "moves"), the first `top` of them (None: all).
    Hover: the unit, the word, C exactly, the unit's share of the final logit, and the word's move.
    `text_axis` (Compare): columns by position in the full text, words this model did not read empty.
    `clickable`: as in `heatmap`, an invisible marker per read cell (customdata = unit, token index, C)
    carries the hover and turns a click into a selection `picked_cell` reads (up to MAX_CLICK_CELLS)."""
    from playground.explain.account import account

    acc = account(tr) if acc is None else acc
    C = acc.contributions  # (H, T)
    H, T = C.shape
    order = [int(u) for u in (rows if rows is not None else acc.ranking(by)[:top] if top else acc.ranking(by))
             if 0 <= int(u) < H]
    shares = acc.unit_shares
    click = UnitsTokens(tr, order).can_click(clickable)
    # Without a click layer the row categories carry the unit's share for the heatmap's hover (the tick
    # says only the unit number); with one, the rows are named by number and each marker's customdata
    # (unit, token, C, share) carries the hover: 800 long names would cost ~60 KB a rerun.
    g = UnitsTokens(tr, order, text_axis, row_names=None if click else
                    [f"<b>unit {u}</b> · its share of the final logit {shares[u]:+.4f}" for u in order])
    z = g.grid(C[order])  # (rows, skipped + T)
    bars = np.concatenate([np.full(g.skipped, np.nan), acc.word_moves])  # (skipped + T,) each word's move
    zmax = float(np.nanmax(np.abs(z))) if z.size and np.isfinite(z).any() else 0.0
    zmax = zmax if zmax > 0 else 1.0
    # two panels on one x axis (drawn under the heatmap): bars on y (top), the heatmap on y2; plain
    # dicts through _fast_figure (make_subplots and plotly's validation cost ~30 ms a rerun)
    heat = g.heat(z, dict(colorscale=DIVERGING, zmin=-zmax, zmax=zmax, zmid=0.0),
                  dict(THIN_BAR, len=0.75, y=0.39, tickvals=[-zmax, 0.0, zmax],  # the subtitle names it
                       ticktext=[f"−{zmax:.2g}", "0", f"+{zmax:.2g}"]),  # the minus sign, as plotly's own ticks
                  "%{y}<br>at <b>%{x}</b>: C = %{z:+.4f} logit<extra></extra>", click, yaxis="y2", hoverongaps=False)
    x = g.columns
    data = [dict(type="bar", x=x, y=bars, marker=dict(color=[POS_COLOR if m >= 0 else NEG_COLOR
                                                             for m in np.nan_to_num(bars)]),
                 name="word's move", showlegend=False, yaxis="y",
                 hovertemplate=f"<b>%{{x}}</b><br>moved the logit by %{{y:+.4f}}<br>(the sum over all {H} units)"
                               "<extra></extra>"), heat]
    step = max(1, int(np.ceil(len(order) / 32)))  # at most 32 unit numbers on the axis
    layout: dict = dict(
        yaxis=dict(domain=[0.8, 1.0], title=dict(text="move"), zeroline=True, zerolinecolor="#999", nticks=4),
        yaxis2=dict(domain=[0.0, 0.76], title=dict(text="unit" if narrow else "unit, ranked"),
                    autorange="reversed", showgrid=False, type="category", tickmode="array",
                    tickvals=g.row_names[::step], ticktext=[str(u) for u in order[::step]]),
        xaxis=dict(anchor="y2"), showlegend=False, shapes=g.not_read(("y", "y2")))
    if click:
        data.append(g.click_layer(
            z, "<b>unit %{customdata[0]}</b> · its share of the final logit %{customdata[3]:+.4f}<br>"
               "at <b>%{x}</b>: C = %{customdata[2]:+.4f} logit<extra></extra>",
            extra=[shares[np.asarray(order, dtype=int)]], yaxis="y2"))
        layout.update(UnitsTokens.CLICK_LAYOUT)
    shapes = layout["shapes"]
    if selected_unit is not None and selected_unit in order:
        r = order.index(selected_unit)
        shapes.append(dict(type="rect", xref="x", yref="y2", x0=-0.5, x1=len(x) - 0.5, y0=r - 0.5, y1=r + 0.5,
                           line=dict(color=PICK_COLOR, width=2)))
        if selected_token is not None and 0 <= selected_token < T:
            c = g.skipped + selected_token
            shapes.append(dict(type="rect", xref="x", yref="y2", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5,
                               line=dict(color="#000000", width=2)))
    layout["xaxis"] = _merge(g.xaxis(narrow), layout["xaxis"])
    if title is None:
        title = "Each word's move (bars),<br>each unit's part of it (C)"
    scale = f"colour: C, ±{zmax:.3f} logit" + ("" if narrow else " (the largest |C| shown)")
    height = height or int(min(1100, max(380, 260 + (19 if len(order) <= 32 else 7) * len(order))))
    return _fast_figure(data, _merge(_layout_props(title, height), layout, dict(
        title=dict(subtitle=dict(text=scale, font=dict(size=12))), margin=dict(t=100, l=50, r=10))))


# --- read it with me: the prediction curve, one token at a time, animated in the browser -----------
MAX_FRAMES = 80  # a longer text gets frames only at its MAX_FRAMES largest moves (in reading order)
FRAME_MS = 900  # Play: time per token


class AnimatedFigure(go.Figure):
    """A Figure whose frames are kept as plain dicts and added in `to_dict` (which st.plotly_chart
    and to_json call): plotly builds a Frame object per frame, property by property, ~1 ms each on
    the serving machine, more than everything else in the step-through. `raw_frames` are the frames;
    tests validate them against plotly (go.Figure(fig.to_dict()))."""

    def __init__(self, *args, raw_frames: Sequence[dict] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self._raw_frames = list(raw_frames)

    @property
    def raw_frames(self) -> list[dict]:
        return self._raw_frames

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["frames"] = list(self._raw_frames)  # plain data, read-only by convention: serialised at once
        return d


def _step_caption(s, label: str) -> str:
    """The frame's three-line caption: the word and P before -> after, and the unit that moved it most."""
    top = s.units[0] if s.units else None
    who = f"top unit {top.unit}: {top.contribution:+.3f}" if top is not None else ""
    where = getattr(s, "where", "") or f"token {s.t + 1} of {s.n_steps}"
    return (f"<b>{label}</b> ({where})<br>P(positive) {100 * s.p_before:.1f}% → "
            f"{100 * s.p_after:.1f}%<br>logit {s.move:+.3f}" + (f"; {who}" if who else ""))


def _count(tr: Trace, k: int) -> str:
    """Token k's number on a slider: its position, or among the words after a Keras model's padding."""
    fw = tr.first_word
    return str(k + 1) if not fw else str(k + 1 - fw) if k >= fw else "start"


def step_through(tr: Trace, stories: Sequence, start: int | None = None, title: str = "Read it with me",
                 height: int = 440, base: go.Figure | None = None) -> go.Figure:  # AnimatedFigure with stories
    """The prediction curve with the current word's step drawn thick (blue up, red down) and a
    caption naming the word, P before and after and the unit that moved it most; Plotly frames, a
    slider and a Play button step through the words in the browser, without the server. `stories`:
    narrate.step_stories(tr) (one per token). A text longer than MAX_FRAMES tokens gets frames only
    at its MAX_FRAMES largest moves, and the subtitle says so. `start`: the token shown first.
    `base`: the page's prediction_curve(tr) if it has one (copied, not changed: saves rebuilding it)."""
    base = prediction_curve(tr, title=title, height=height) if base is None else base
    # what is added below is plain data (tested against plotly's validation in tests/test_plots.py):
    # validating every frame and slider step property by property cost ~25 ms for 50 words
    fig = AnimatedFigure(base.to_dict(), _validate=False)
    fig.update_layout(title_text=title, height=height)
    fig.update_xaxes(title_text=None)  # the slider sits where the axis title was
    if not stories:
        return fig
    labels = token_labels(tr.tokens, tr.oov)
    lead = tr.lead  # a Keras model's padding: no frames (the curve draws it as one point)
    shown = list(range(lead, len(stories)))
    if len(shown) > MAX_FRAMES:  # the largest |moves|, in reading order
        moves = np.abs([s.move for s in stories[lead:]])
        shown = sorted((lead + np.argsort(-moves, kind="stable")[:MAX_FRAMES]).tolist())
    start = shown[-1] if start is None else start
    if start not in shown:  # the nearest shown token
        start = min(shown, key=lambda k: abs(k - start))

    def parts(k: int) -> tuple[dict, dict]:  # plain dicts, only what changes: plotly validates frames
        s = stories[k]                           # property by property (~0.3 ms a frame this way)
        color = POS_COLOR if s.p_after >= s.p_before else NEG_COLOR
        data = dict(x=[k - 1, k], y=[s.p_before, s.p_after], line=dict(color=color), marker=dict(color=color))
        caption = dict(text=_step_caption(s, labels[k]), xref="paper", yref="paper", x=0, y=1.0, xanchor="left",
                       yanchor="bottom", showarrow=False, align="left", bgcolor="rgba(255,255,255,0.85)",
                       font=dict(color="#222222"))
        return data, caption

    data, caption = parts(start)
    color = data["line"]["color"]
    fig.add_trace(go.Scatter(x=data["x"], y=data["y"], mode="lines+markers", hoverinfo="skip", name="this word",
                             line=dict(color=color, width=5),
                             marker=dict(size=[8, 16], color=color, line=dict(color="white", width=2))))
    step_args = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    fig.update_layout(
        # the Play buttons first, the slider under them across the whole width: beside the buttons a phone
        # left the slider 70 px to drag in (screenshot at 390 px)
        annotations=[caption], margin=dict(l=60, r=20, t=115, b=170),
        sliders=[dict(active=shown.index(start), x=0, len=1, y=0, yanchor="top", pad=dict(t=110, b=0),
                      currentvalue=dict(prefix="word ", xanchor="right", font=dict(size=13, color="#222222")),
                      font=dict(color="rgba(0,0,0,0)"),  # no tick labels (the axis names the words)
                      ticklen=0, minorticklen=0, steps=[dict(method="animate", label=f"{_count(tr, k)}: {labels[k]}",
                                             args=[[str(k)], step_args]) for k in shown])],
        updatemenus=[dict(type="buttons", direction="left", x=0, y=0, xanchor="left", yanchor="top",
                          pad=dict(t=72, r=10), showactive=False, buttons=[
                              dict(label="▶ Play", method="animate", args=[None, dict(
                                  mode="immediate", fromcurrent=True, frame=dict(duration=FRAME_MS, redraw=True),
                                  transition=dict(duration=0))]),
                              dict(label="❚❚", method="animate", args=[[None], step_args])])],
    )
    if len(shown) < len(stories) - lead:
        fig.update_layout(title_subtitle_text=f"frames at the {len(shown)} largest moves of {len(stories) - lead:,} "
                                              "tokens",
                          title_subtitle_font_size=12)
    n = len(fig.data) - 1  # the step's trace
    frames = []
    for k in shown:
        d, c = parts(k)
        frames.append(dict(name=str(k), data=[d], traces=[n], layout=dict(annotations=[c])))
    fig._raw_frames = frames
    return fig
