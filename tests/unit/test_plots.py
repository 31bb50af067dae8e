"""Figure builders: the data in each figure is the trace's data, and labels are safe."""
import dataclasses

import numpy as np
import pytest

from playground.core.cells import cell
from playground.core.trace import trace
from playground.explain.attribution import attribute
from playground.figures import plots
from tests.conftest import random_model


@pytest.fixture(params=["rnn", "lstm", "gru"])
def tr_and_model(request, small_vocab):
    m = random_model(request.param, layers=2, vocab_size=len(small_vocab))
    return trace(m, small_vocab, "the film was not good <b>x</b> 😀 the end"), m


def test_prediction_curve_writes_its_first_label_on_one_line_when_labels_slant(tr_and_model, small_vocab):
    """Slanted two-line labels ran into their neighbours on a phone; upright ones keep two short lines."""
    tr, model = tr_and_model
    slanted = plots.prediction_curve(tr)
    assert slanted.layout.xaxis.tickangle == -45 and slanted.layout.xaxis.ticktext[0] == "before reading"
    upright = plots.prediction_curve(trace(model, small_vocab, "good film"))
    assert upright.layout.xaxis.tickangle == 0 and upright.layout.xaxis.ticktext[0] == "before<br>reading"


def test_prediction_curve_starts_at_the_prior_then_holds_step_probs(tr_and_model):
    tr, _ = tr_and_model
    fig = plots.prediction_curve(tr)
    # the prior (before reading) at x = -1, then P(positive) after each token
    np.testing.assert_array_equal(fig.data[0].x, np.arange(-1, tr.n_steps))
    np.testing.assert_array_equal(fig.data[0].y, np.concatenate([[tr.prob0], tr.step_probs]))
    assert list(fig.layout.xaxis.tickvals) == list(range(-1, tr.n_steps))
    first = "before reading" if fig.layout.xaxis.tickangle else "before<br>reading"  # slanted: one line
    assert list(fig.layout.xaxis.ticktext) == [first] + plots.token_labels(tr.tokens, tr.oov)
    assert fig.layout.xaxis.range[0] < -1 < 0 < tr.n_steps - 1 < fig.layout.xaxis.range[1]
    assert fig.layout.yaxis.title.text == "P(positive)" and 0.5 in fig.layout.yaxis.tickvals
    # hover: where, the exact value, and the step change from the point before (the first from the prior)
    custom = np.asarray(fig.data[0].customdata)
    assert "before reading" in custom[0, 0] and "%{y:.3f}" in fig.data[0].hovertemplate
    assert custom[1, 1] == f"{tr.step_probs[0] - tr.prob0:+.3f} from the point before"
    assert custom[-1, 1] == f"{tr.step_probs[-1] - tr.step_probs[-2]:+.3f} from the point before"


def test_repeated_tokens_stay_separate_columns(tr_and_model):
    tr, _ = tr_and_model
    fig = plots.heatmap(tr, "h")
    labels = plots.token_labels(tr.tokens, tr.oov)
    assert len(set(fig.data[0].x)) == tr.n_steps  # "the" twice -> two columns
    assert list(fig.data[0].x) == [f"{i + 1}: {t}" for i, t in enumerate(labels)]
    assert fig.layout.xaxis.type == "category" and list(fig.layout.xaxis.ticktext) == labels


def test_heatmaps_hold_the_gates_units_by_tokens(tr_and_model):
    tr, _ = tr_and_model
    for layer in (0, 1):
        for name in tr.gate_names + ("h",):
            fig = plots.heatmap(tr, name, layer=layer)
            vals = tr.layers[layer].h if name == "h" else tr.layers[layer].gates[name]
            z = np.asarray(fig.data[0].z)
            assert z.shape == (tr.hidden_size, tr.n_steps)
            # the exact values (float32), coloured within [zmin, zmax], shown exactly on hover
            np.testing.assert_allclose(z, vals.T, rtol=1e-6, atol=1e-7)
            assert fig.data[0].customdata is None and "%{z:.4f}" in fig.data[0].hovertemplate
            if name in ("i", "f", "o", "r", "z"):
                assert (fig.data[0].zmin, fig.data[0].zmax) == (0, 1)
            else:
                assert (fig.data[0].zmin, fig.data[0].zmax) == (-1, 1) and fig.data[0].zmid == 0
            # the title carries the full name (the colour bar is thin and untitled); unbounded values say
            # they are clipped
            assert fig.layout.title.text.startswith(tr.cell.quantity(name).title)  # "— layer k" with two
            assert fig.data[0].colorbar.title.text is None
            clipped = "clipped" in (fig.layout.title.subtitle.text or "")
            assert clipped == (name in ("c", "pre"))
            # a subtitle's line is added to the height: the rows get the same plot area as their neighbours'
            assert fig.layout.height - fig.layout.margin.t == plots.heatmap_height(tr.hidden_size) - 50
            assert "unit" in fig.data[0].hovertemplate and "token" in fig.data[0].hovertemplate


def test_labels_are_escaped_and_oov_marked(small_vocab):
    m = random_model("gru", vocab_size=len(small_vocab))
    tr = trace(m, small_vocab, "good 😀")
    assert plots.token_labels(tr.tokens, tr.oov) == ["good", "😀°"]
    assert plots.token_labels(["a<b"], [False]) == ["a&lt;b"]


def test_long_text_thins_tick_labels(small_vocab):
    m = random_model("rnn", vocab_size=len(small_vocab))
    tr = trace(m, small_vocab, "good bad " * 100)
    fig = plots.prediction_curve(tr)
    assert len(fig.layout.xaxis.tickvals) <= plots.MAX_TICKS and fig.layout.xaxis.tickvals[0] == -1


def test_gate_means_averages_gates_and_never_signed_values_with_them(tr_and_model):
    """Gates ([0, 1]) are averaged in one panel; the cell's signed or unbounded values (g, c, n, the
    pre-activation) are not averaged with them (mean |value|, their own axis) nor called gates."""
    from playground.core.cells import GATE

    tr, _ = tr_and_model
    for layer in (0, 1):
        fig = plots.gate_means(tr, layer=layer)
        lt = tr.layers[layer]
        by_title = {q.title: q for q in tr.cell.quantities}
        assert sorted(d.name for d in fig.data) == sorted(by_title)  # every quantity once, by its full name
        axes = {}
        for d in fig.data:
            q = by_title[d.name]
            vals = lt.gates[q.name]
            expected = vals.mean(axis=1) if q.kind == GATE else np.abs(vals).mean(axis=1)
            np.testing.assert_allclose(d.y, expected)
            axes.setdefault(d.yaxis, set()).add(q.kind == GATE)
        assert all(len(kinds) == 1 for kinds in axes.values()), "gates share an axis with other values"
        assert len(fig.layout.annotations) == len(axes)  # one titled panel per kind of value
        for a in fig.layout.annotations:  # only the gates' panel says "gate", and it names only gates
            named = a.text.split(" (gates)")[0].split(":")[0].split(", ")
            kinds = {tr.cell.quantity(n).kind == GATE for n in named}
            assert kinds == {"(gates)" in a.text} and ("gate" in a.text) == ("(gates)" in a.text), a.text
        gate_axes = [ax for ax, kinds in axes.items() if True in kinds]
        for ax in gate_axes:
            key = "yaxis" if ax == "y" else f"yaxis{ax[1:]}"
            assert tuple(fig.layout[key].range) == (0, 1)
        if not tr.cell.has_gates:
            assert "gate" not in fig.layout.title.text.lower()


def test_unit_lines_and_compare(tr_and_model, small_vocab):
    tr, m = tr_and_model
    fig = plots.unit_lines(tr, unit=3, token=2)
    np.testing.assert_allclose(fig.data[0].y, tr.last.h[:, 3])
    fig = plots.compare_curves({"a": tr, "b": tr})
    assert len(fig.data) == 2
    a = attribute(m, tr, "occlusion")
    fig = plots.importance_bars(tr.tokens, tr.oov, a.scores, "x", a.unit)
    np.testing.assert_allclose(fig.data[0].y, a.scores)


def test_empty_and_gauge():
    assert plots.empty_figure("nothing <here>").layout.annotations[0].text == "nothing &lt;here&gt;"
    assert plots.confidence_gauge(0.8).data[0].value == 0.8


def test_narrow_heatmaps_have_upright_and_fewer_labels(small_vocab):
    from playground.core.models import ModelConfig, build
    from playground.core.trace import trace

    m = build(ModelConfig(arch="gru", vocab_size=len(small_vocab), embed_dim=4, hidden_size=3, max_len=100))
    tr = trace(m, small_vocab, " ".join(["the movie was good"] * 10))
    wide, narrow = plots.heatmap(tr, "h"), plots.heatmap(tr, "h", narrow=True)
    assert narrow.layout.xaxis.tickangle == -90 and len(narrow.layout.xaxis.tickvals) <= plots.MAX_TICKS_NARROW
    assert len(wide.layout.xaxis.tickvals) == 40 and wide.layout.xaxis.tickangle == -45


def test_race_curves_one_colour_per_cell():
    hist = [{"epoch": 0.5, "loss": 0.7, "acc": 0.5, "val_loss": 0.69, "val_acc": 0.55},
            {"epoch": 1.0, "loss": 0.6, "acc": 0.6, "val_loss": 0.65, "val_acc": 0.6}]
    fig = plots.race_curves({"rnn": hist, "gru": hist[:1]})
    assert len(fig.data) == 8  # 2 cells x (loss, val loss, acc, val acc)
    names = {d.name for d in fig.data if d.showlegend}
    assert names == {"SimpleRNN validation", "SimpleRNN training", "GRU validation", "GRU training"}
    assert {d.line.color for d in fig.data if d.legendgroup == "gru"} == {cell("gru").color}
    assert {d.line.color for d in fig.data if d.legendgroup == "rnn"} == {cell("rnn").color} != {cell("gru").color}
    assert list(fig.data[0].y) == [0.69, 0.65]
    cut = plots.race_curves({"rnn": hist, "gru": hist[:1]}, cut_short={"gru"})
    assert {d.name for d in cut.data if d.showlegend} == {"SimpleRNN validation", "SimpleRNN training",
                                                          "GRU (cut short by the time cap) validation",
                                                          "GRU (cut short by the time cap) training"}


# --- Compare: curves and heatmaps by position in the full text --------------------------------------
def _three_reading_300_tokens(small_vocab):
    """A SimpleRNN that reads at most 200 tokens and two cells that read 400, on a 300-token text."""
    text = " ".join(f"w{i}" for i in range(300))
    return {title: trace(random_model(arch, vocab_size=len(small_vocab), max_len=max_len), small_vocab, text)
            for title, arch, max_len in (("SimpleRNN", "rnn", 200), ("LSTM", "lstm", 400), ("GRU", "gru", 400))}


def test_compare_curves_put_each_point_at_its_position_in_the_full_text(small_vocab):
    traces = _three_reading_300_tokens(small_vocab)
    fig = plots.compare_curves(traces)
    curves = {d.name: d for d in fig.data if d.mode == "lines+markers"}
    np.testing.assert_array_equal(curves["SimpleRNN"].x, np.arange(100, 300))  # it read words 101-300
    np.testing.assert_array_equal(curves["LSTM"].x, np.arange(300))
    np.testing.assert_array_equal(curves["SimpleRNN"].y, traces["SimpleRNN"].step_probs)
    # the axis labels are the full text's words at those positions
    ticks = dict(zip(fig.layout.xaxis.tickvals, fig.layout.xaxis.ticktext))
    assert all(ticks[v] == f"w{v}" for v in ticks)
    # hover names the word and its position in the full text
    assert curves["SimpleRNN"].customdata[0][0] == 101 and curves["SimpleRNN"].customdata[0][1] == "w100°"  # OOV marked
    # the stretch the SimpleRNN did not read is a labelled band, the others have none
    bands = [s for s in fig.layout.shapes if s.type == "rect"]
    assert [(b.x0, b.x1) for b in bands] == [(-0.5, 99.5)]
    notes = [a.text for a in fig.layout.annotations]
    assert any("SimpleRNN" in t and "did not read" in t and "1–100" in t for t in notes), notes
    # a text every model read whole has no band
    short = {k: trace(random_model(a, vocab_size=len(small_vocab)), small_vocab, "good bad film")
             for k, a in (("a", "rnn"), ("b", "gru"))}
    assert not [s for s in plots.compare_curves(short).layout.shapes if s.type == "rect"]


def test_compare_curves_give_two_models_of_one_cell_different_colours(small_vocab):
    traces = {k: trace(random_model("lstm", vocab_size=len(small_vocab), seed=s), small_vocab, "good film")
              for k, s in (("lstm-a", 0), ("lstm-b", 1))}
    fig = plots.compare_curves(traces)
    colours = [d.line.color for d in fig.data if d.mode == "lines+markers"]
    assert len(set(colours)) == 2


def test_heatmap_on_the_full_text_axis_leaves_unread_columns_empty(small_vocab):
    from playground.explain.alignment import text_axis

    traces = _three_reading_300_tokens(small_vocab)
    axis = text_axis(traces)
    rnn, lstm = traces["SimpleRNN"], traces["LSTM"]
    fig = plots.heatmap(rnn, "h", text_axis=axis, narrow=True)
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (rnn.hidden_size, 300)
    assert np.isnan(z[:, :100]).all()  # not read: empty, not zeros
    np.testing.assert_allclose(z[:, 100:], rnn.last.h.T, rtol=1e-6, atol=1e-7)
    assert fig.data[0].x[100] == "101: w100°" and fig.data[0].hoverongaps is False
    assert [(s.x0, s.x1) for s in fig.layout.shapes if s.type == "rect"] == [(-0.5, 99.5)]
    assert any("not read" in a.text for a in fig.layout.annotations)
    # the LSTM's heatmap has the same columns, all filled
    other = plots.heatmap(lstm, "h", text_axis=axis, narrow=True)
    assert [x.split(":")[0] for x in other.data[0].x] == [x.split(":")[0] for x in fig.data[0].x]
    assert not np.isnan(np.asarray(other.data[0].z, dtype=float)).any()
    # without an axis (the Playground), the heatmap has only the columns the model read
    assert np.asarray(plots.heatmap(rnn, "h").data[0].z).shape == (rnn.hidden_size, 200)


# --- Train: which weights the curves score, and the kept checkpoint ------------------------------------
_HIST = [{"epoch": 0.5, "loss": 0.70, "acc": 0.50, "val_loss": 0.69, "val_acc": 0.55},
         {"epoch": 1.0, "loss": 0.60, "acc": 0.60, "val_loss": 0.62, "val_acc": 0.71},
         {"epoch": 1.5, "loss": 0.50, "acc": 0.70, "val_loss": 0.64, "val_acc": 0.66}]


def test_training_curves_mark_the_kept_checkpoint_and_name_the_weights_validation_scores():
    fig = plots.training_curves(_HIST, averaged=True, kept_at=1.0)
    val = [d for d in fig.data if d.name == "validation (moving-average weights)"]
    assert [list(d.y) for d in val] == [[0.69, 0.62, 0.64], [0.55, 0.71, 0.66]]  # loss, accuracy
    assert [d.showlegend for d in val] == [True, False]  # one legend entry for both plots
    assert "validation (moving-average weights) accuracy" in val[1].hovertemplate
    stars = [d for d in fig.data if d.marker.symbol == "star"]
    assert [(list(d.x), list(d.y)) for d in stars] == [([1.0], [0.62]), ([1.0], [0.71])]  # on both validation curves
    assert stars[0].name == "kept weights (epoch 1.00)" and [d.showlegend for d in stars] == [True, False]
    assert [s.x0 for s in fig.layout.shapes] == [1.0, 1.0]  # a dotted line through both plots
    plain = plots.training_curves(_HIST)
    assert "validation" in [d.name for d in plain.data]  # without the average, no claim about it
    assert not [d for d in plain.data if d.marker.symbol == "star"] and not plain.layout.shapes
    live = plots.training_curves(_HIST, kept_at=1.0, live=True)
    assert any(d.name == "best so far (epoch 1.00)" for d in live.data)


def test_training_curves_without_validation_mark_the_final_weights_on_the_training_curves():
    hist = [{**h, "val_loss": None, "val_acc": None} for h in _HIST]
    fig = plots.training_curves(hist, kept_at=1.5)
    stars = [d for d in fig.data if d.marker.symbol == "star"]
    assert [(list(d.x), list(d.y)) for d in stars] == [([1.5], [0.50]), ([1.5], [0.70])]


def test_loss_accuracy_legends_sit_below_the_epoch_titles_however_they_wrap():
    """Placed relative to the plot area, the legend slid up into the "epoch" titles on a phone
    (its rows grew the bottom margin, which shrank the plot it was placed against)."""
    for fig in (plots.training_curves(_HIST, kept_at=1.0), plots.race_curves({"rnn": _HIST, "gru": _HIST})):
        legend = fig.layout.legend
        assert (legend.yref, legend.y, legend.yanchor) == ("container", 0, "bottom")


def test_race_curves_star_each_cells_kept_checkpoint_and_say_which_weights_validation_scores():
    fig = plots.race_curves({"rnn": _HIST, "gru": _HIST[:2]}, averaged=True, kept={"rnn": 1.0, "gru": 0.5})
    stars = [d for d in fig.data if d.marker.symbol == "star" and d.x != (None,)]
    assert [(list(d.x), list(d.y), d.marker.color) for d in stars] == [
        ([1.0], [0.71], cell("rnn").color), ([0.5], [0.55], cell("gru").color)]
    assert [d.name for d in stars] == ["SimpleRNN kept weights (epoch 1.00)", "GRU kept weights (epoch 0.50)"]
    legend = [d.name for d in fig.data if d.showlegend is not False and d.legendgroup == "kept"]
    assert legend == ["kept weights (star in the cell's colour)"]
    assert "SimpleRNN validation (moving-average weights)" in {d.name for d in fig.data if d.showlegend}


def test_probe_curves_draw_the_kept_model_last_in_the_kept_colour(small_vocab):
    m = random_model("gru", vocab_size=len(small_vocab))
    tr = trace(m, small_vocab, "the film was good")
    fig = plots.probe_curves([("epoch 1", tr), ("epoch 2", tr), ("kept model (epoch 1.00)", tr)])
    assert [d.name for d in fig.data] == ["epoch 1", "epoch 2", "kept model (epoch 1.00)"]
    assert fig.data[-1].line.color == plots.KEPT_COLOR and fig.data[-1].line.width == 3


# --- the exact account of the verdict: words' moves over units x tokens contributions (issue 11) -------
def test_contributions_show_the_ranked_units_and_the_words_moves(tr_and_model):
    from playground.explain.account import account

    tr, _ = tr_and_model
    acc = account(tr)
    fig = plots.contributions(tr)
    bars, heat = fig.data
    # above: each word's move of the logit (the columns' sums over ALL units), on the same columns
    np.testing.assert_allclose(bars.y, acc.word_moves, atol=1e-12, rtol=0)
    assert list(bars.x) == list(heat.x) == plots.column_names(plots.token_labels(tr.tokens, tr.oov))
    assert bars.xaxis in (None, "x") and heat.xaxis in (None, "x") and (bars.yaxis, heat.yaxis) == ("y", "y2")
    assert fig.layout.yaxis.domain[0] > fig.layout.yaxis2.domain[1]  # one x axis; the bars above the units
    # below: the top units by share of the verdict, most decisive first, each row exactly C[u, :]
    top = acc.ranking("verdict")[:16].tolist()
    z = np.asarray(heat.z, dtype=float)
    assert z.shape == (min(16, tr.hidden_size), tr.n_steps)
    np.testing.assert_allclose(z, acc.contributions[top], rtol=1e-6, atol=1e-7)
    assert list(fig.layout.yaxis2.ticktext) == [str(u) for u in top]
    # diverging, centred at 0, symmetric at the largest |C| shown (said in the subtitle), in logit
    m = float(np.abs(acc.contributions[top]).max())
    assert heat.zmid == 0 and heat.zmin == pytest.approx(-m, rel=1e-6) and heat.zmax == pytest.approx(m, rel=1e-6)
    # the colour bar is untitled and thin (a phone's width); the subtitle names it and its range
    assert heat.colorbar.title.text is None and heat.colorbar.thickness <= 8 and fig.layout.yaxis.title.text == "move"
    assert f"colour: C, ±{m:.3f} logit" in fig.layout.title.subtitle.text
    assert list(heat.colorbar.ticktext) == [f"−{m:.2g}", "0", f"+{m:.2g}"] and heat.colorbar.tickvals[2] == heat.zmax
    # hover: unit, its share of the final logit, the word, and C exactly
    u = top[0]
    assert heat.y[0] == f"<b>unit {u}</b> · its share of the final logit {acc.unit_shares[u]:+.4f}"
    assert "C = %{z:+.4f} logit" in heat.hovertemplate and "%{x}" in heat.hovertemplate
    # the other ranking, all units, or rows given in an order
    by_moves = plots.contributions(tr, by="moves", top=None)
    assert list(by_moves.layout.yaxis2.ticktext) == [str(u) for u in acc.ranking("moves")]
    rows = plots.contributions(tr, rows=[3, 0, 7]).data[1]
    np.testing.assert_allclose(np.asarray(rows.z, dtype=float), acc.contributions[[3, 0, 7]], rtol=1e-6, atol=1e-7)


def test_contributions_outline_the_chosen_unit_and_word_and_escape_tokens(tr_and_model):
    from playground.explain.account import account

    tr, _ = tr_and_model
    order = account(tr).ranking("verdict").tolist()
    fig = plots.contributions(tr, top=4, selected_unit=order[2], selected_token=1)
    rects = [(s.x0, s.x1, s.y0, s.y1) for s in fig.layout.shapes]  # its row, and its cell at the word
    assert rects == [(-0.5, tr.n_steps - 0.5, 1.5, 2.5), (0.5, 1.5, 1.5, 2.5)]
    assert not plots.contributions(tr, top=4, selected_unit=order[5]).layout.shapes  # not shown: no outline
    weird = dataclasses.replace(tr, tokens=("<b>x</b>",) + tr.tokens[1:])
    x = plots.contributions(weird).data[1].x
    assert x[0] == "1: &lt;b&gt;x&lt;/b&gt;" and all("<b>" not in v for v in x)


def test_contributions_on_the_full_text_axis_leave_unread_words_empty(small_vocab):
    from playground.explain.account import account
    from playground.explain.alignment import text_axis

    traces = _three_reading_300_tokens(small_vocab)
    axis = text_axis(traces)
    rnn = traces["SimpleRNN"]
    fig = plots.contributions(rnn, top=5, text_axis=axis, narrow=True)
    bars, heat = fig.data
    z = np.asarray(heat.z, dtype=float)
    assert z.shape == (5, 300) and np.isnan(z[:, :100]).all()  # not read: empty, not zeros
    np.testing.assert_allclose(z[:, 100:], account(rnn).contributions[account(rnn).ranking()[:5]], rtol=1e-6,
                               atol=1e-7)
    assert np.isnan(np.asarray(bars.y, dtype=float)[:100]).all() and heat.x[100] == "101: w100°"
    assert [x.split(":")[0] for x in plots.contributions(traces["LSTM"], text_axis=axis).data[1].x] == \
        [x.split(":")[0] for x in heat.x]


# --- issue 11: ranked rows, change from typical, click to choose --------------------------------------
def _lstm_trace(small_vocab, text="the film was not good but the end was good", hidden=24):
    from playground.core.models import ModelConfig, build

    m = build(ModelConfig(arch="lstm", vocab_size=len(small_vocab), embed_dim=4, hidden_size=hidden, max_len=400))
    return trace(m, small_vocab, text)


def test_heatmap_shows_the_given_units_in_order_labelled_with_their_numbers(small_vocab):
    tr = _lstm_trace(small_vocab)
    rows = [17, 3, 9]
    fig = plots.heatmap(tr, "f", rows=rows, selected_unit=3, selected_token=2)
    np.testing.assert_allclose(np.asarray(fig.data[0].z), tr.last.gates["f"][:, rows].T, rtol=1e-6, atol=1e-7)
    assert list(fig.data[0].y) == ["17", "3", "9"] and fig.layout.yaxis.type == "category"
    assert list(fig.layout.yaxis.ticktext) == ["17", "3", "9"]  # the real unit numbers, not positions
    rects = [(s.y0, s.y1, s.x0, s.x1) for s in fig.layout.shapes]
    assert (0.5, 1.5) in [r[:2] for r in rects]  # unit 3's row (second) outlined
    assert (1.5, 2.5) in [r[2:] for r in rects]  # token 2's column outlined
    # a unit not shown gets no outline; the default is every unit in index order
    assert not plots.heatmap(tr, "f", rows=rows, selected_unit=4).layout.shapes
    assert list(plots.heatmap(tr, "f").data[0].y) == [str(u) for u in range(tr.hidden_size)]


def test_shown_units_keep_the_order_and_the_selected_unit():
    order = [5, 2, 7, 0, 1]
    assert plots.shown_units(order, 3) == [5, 2, 7]
    assert plots.shown_units(order, 3, selected=1) == [5, 2, 7, 1]  # the choice stays visible, last
    assert plots.shown_units(order, 3, selected=2) == [5, 2, 7]
    assert plots.shown_units(order, None, selected=9) == order  # a unit the model does not have: ignored


def test_heatmap_change_from_typical_is_value_minus_reference_on_a_scale_centred_at_0(small_vocab):
    tr = _lstm_trace(small_vocab)
    ref = np.linspace(0.2, 0.8, tr.hidden_size)
    rows = [4, 0, 11]
    fig = plots.heatmap(tr, "o", rows=rows, reference=ref)
    expected = (tr.last.gates["o"] - ref[None, :])[:, rows].T
    np.testing.assert_allclose(np.asarray(fig.data[0].z), expected, rtol=1e-5, atol=1e-6)
    lim = np.abs(expected).max()
    assert fig.data[0].zmid == 0 and np.isclose(fig.data[0].zmax, lim) and np.isclose(fig.data[0].zmin, -lim)
    assert fig.data[0].colorscale == plots.go.Heatmap(colorscale=plots.DIVERGING).colorscale
    assert fig.layout.title.text == "output gate o − typical"
    assert f"±{lim:.3g}" in fig.layout.title.subtitle.text
    # the values themselves keep the gate's own scale and name
    plain = plots.heatmap(tr, "o", rows=rows)
    assert plain.layout.title.text == "output gate o" and (plain.data[0].zmin, plain.data[0].zmax) == (0, 1)


def test_click_layer_has_one_marker_per_cell_naming_its_unit_and_token(small_vocab):
    tr = _lstm_trace(small_vocab)
    rows = [6, 1]
    fig = plots.heatmap(tr, "i", rows=rows, clickable=True)
    heat, cells = fig.data
    assert heat.hoverinfo == "skip" and cells.type == "scatter" and cells.marker.opacity == 0
    custom = np.asarray(cells.customdata)  # (K * T, 3): unit, token index, value
    assert custom.shape == (len(rows) * tr.n_steps, 3)
    for (unit, tok, value), x, y in zip(custom, cells.x, cells.y):
        assert y == str(int(unit)) and x == heat.x[int(tok)]  # each marker sits on its own cell
        assert np.isclose(value, tr.last.gates["i"][int(tok), int(unit)], atol=1e-6)
    assert "%{customdata[2]:.4f}" in cells.hovertemplate and "input gate i" in cells.hovertemplate
    assert fig.layout.clickmode == "event+select"
    # built from plain dicts without plotly's validation (fast): every property still passes it, in every variant
    ref = np.zeros(tr.hidden_size)
    for kw in ({}, dict(rows=rows, clickable=True, reference=ref, selected_unit=6, selected_token=1)):
        built = plots.heatmap(tr, "c", **kw)
        plots.go.Figure(built.to_dict())  # raises on any invalid property
        assert built.layout.template.layout.plot_bgcolor == "white"  # plotly_white, like every chart
        assert built.data[0].colorscale == plots.go.Heatmap(colorscale=plots.DIVERGING).colorscale
    # over the bound the layer is left off (and the heatmap keeps its own hover)
    big = _lstm_trace(small_vocab, "good " * (plots.MAX_CLICK_CELLS // 24 + 1))
    fig = plots.heatmap(big, "i", clickable=True)
    assert len(fig.data) == 1 and fig.data[0].hoverinfo != "skip"
    assert len(plots.heatmap(big, "i", rows=range(16), clickable=True).data) == 2


def test_click_layer_payload_stays_small(small_vocab):
    """A 16 x 200 clickable picture: each cell's marker costs at most 40 bytes of JSON; 128 x 200 has none."""
    import plotly.io as pio

    tr = _lstm_trace(small_vocab, " ".join(["the movie was good"] * 50), hidden=128)
    assert tr.n_steps == 200 and 16 * 200 <= plots.MAX_CLICK_CELLS < 128 * 200
    for rows, click_cells in ((list(range(16)), 16 * 200), (None, 0)):
        plain = len(pio.to_json(plots.heatmap(tr, "f", rows=rows), validate=False))
        click = len(pio.to_json(plots.heatmap(tr, "f", rows=rows, clickable=True), validate=False))
        assert click - plain <= 40 * click_cells, (rows is None, click - plain)


def test_click_layer_on_the_full_text_axis_covers_only_words_the_model_read(small_vocab):
    from playground.explain.alignment import text_axis

    traces = _three_reading_300_tokens(small_vocab)
    rnn = traces["SimpleRNN"]
    fig = plots.heatmap(rnn, "h", text_axis=text_axis(traces), narrow=True, rows=[0, 1], clickable=True)
    custom = np.asarray(fig.data[1].customdata)
    assert custom.shape == (2 * rnn.n_steps, 3) and custom[:, 1].min() == 0  # token index in the model's trace
    plots.go.Figure(fig.to_dict())  # valid plotly, with its shaded band and note
    assert fig.data[1].x[0] == fig.data[0].x[100]  # the first marker sits on the first word it read


def test_picked_cell_reads_a_streamlit_selection():
    sel = {"selection": {"points": [{"x": "9: loved", "y": "3", "customdata": {"0": 3, "1": 8, "2": 0.3}}]}}
    assert plots.picked_cell(sel) == (3, 8)  # float32 customdata arrives as an object with string keys
    assert plots.picked_cell({"selection": {"points": [{"customdata": [5, 2, 0.1]}]}}) == (5, 2)
    for bad in (None, {}, {"selection": {"points": []}}, {"selection": {"points": [{"x": 1}]}},
                {"selection": {"points": [{"customdata": ["a", "b"]}]}},
                {"selection": {"points": [{"customdata": [float("nan"), 1]}]}},
                {"selection": {"points": [{"customdata": [1.5, 1]}]}}):
        assert plots.picked_cell(bad) is None


# --- read it with me: the animated step-through (plots.step_through) -----------------------------
def test_step_through_frames_hold_each_words_step_and_caption(tr_and_model):
    from playground.explain import narrate
    tr, _ = tr_and_model
    stories = narrate.step_stories(tr)
    fig = plots.step_through(tr, stories, start=2)
    import plotly.graph_objects as go
    go.Figure(fig.to_dict())  # what was added unvalidated is valid plotly
    curve = np.concatenate([[tr.prob0], tr.step_probs])
    labels = plots.token_labels(tr.tokens, tr.oov)
    frames = go.Figure(fig.to_dict()).frames  # the plain frames, through plotly's validation
    assert [f.name for f in frames] == [str(t) for t in range(tr.n_steps)] == [f["name"] for f in fig.raw_frames]
    for t, f in enumerate(frames):
        assert list(f.data[0].x) == [t - 1, t] and list(f.data[0].y) == [curve[t], curve[t + 1]]
        assert f.traces == (len(fig.data) - 1,)
        cap = f.layout.annotations[0].text
        assert cap.startswith(f"<b>{labels[t]}</b> (token {t + 1} of {tr.n_steps})")
        assert f"{100 * curve[t]:.1f}% → {100 * curve[t + 1]:.1f}%" in cap
        assert f"top unit {stories[t].units[0].unit}: {stories[t].units[0].contribution:+.3f}" in cap
        assert "<b>x</b>" not in cap  # token text is escaped
    # the figure opens on `start`, and its slider points there; Play runs in the browser
    assert list(fig.data[-1].x) == [1, 2] and fig.layout.sliders[0].active == 2
    assert list(fig.layout.sliders[0].steps[2].args[0]) == ["2"]
    assert fig.layout.updatemenus[0].buttons[0].args[0] is None  # Play: every frame from the current one


def test_step_through_of_a_long_text_keeps_its_largest_moves_and_says_so(small_vocab):
    from playground.explain import narrate
    m = random_model("gru", vocab_size=len(small_vocab), scale=1.0)
    tr = trace(m, small_vocab, " ".join(["good bad not great awful movie the it"] * 25))  # 200 tokens
    stories = narrate.step_stories(tr)
    fig = plots.step_through(tr, stories)
    shown = [int(f["name"]) for f in fig.raw_frames]
    assert len(shown) == plots.MAX_FRAMES and shown == sorted(shown)
    sizes = np.abs([s.move for s in stories])
    assert sizes[shown].min() >= np.delete(sizes, shown).max()  # no word left out moved more than one kept
    assert f"the {plots.MAX_FRAMES} largest moves of {tr.n_steps}" in fig.layout.title.subtitle.text
    assert len(fig.to_json()) < 150_000  # the payload stays small however long the text
    assert plots.step_through(tr, []).to_dict().get("frames", []) == []  # nothing read: the plain curve


def test_contributions_click_layer_carries_unit_token_and_value(tr_and_model):
    from playground.explain.account import account

    tr, _ = tr_and_model
    acc = account(tr)
    fig = plots.contributions(tr, top=4, clickable=True)
    heat, cells = fig.data[1], fig.data[2]
    order = acc.ranking()[:4]
    custom = np.asarray(cells.customdata, dtype=float)  # (4 * T, 4): unit, token, C, the unit's share
    assert custom.shape == (4 * tr.n_steps, 4) and cells.yaxis == "y2" and heat.hoverinfo == "skip"
    for unit, t, c, share in custom[:: max(1, len(custom) // 7)]:
        assert int(unit) in order and c == pytest.approx(acc.contributions[int(unit), int(t)], rel=1e-6, abs=1e-7)
        assert share == pytest.approx(acc.unit_shares[int(unit)], rel=1e-6, abs=1e-7)
    assert "its share of the final logit %{customdata[3]:+.4f}" in cells.hovertemplate
    assert list(heat.y) == [str(u) for u in order]  # short row names: the markers carry the share
    assert plots.picked_cell({"selection": {"points": [{"customdata": list(custom[5])}]}}) == \
        (int(custom[5, 0]), int(custom[5, 1]))
    assert len(plots.contributions(tr, top=4).data) == 2  # no click layer unless asked


def test_every_contributions_variant_is_valid_plotly(tr_and_model, small_vocab):
    from playground.explain.account import account
    from playground.explain.alignment import text_axis

    tr, _ = tr_and_model
    traces = _three_reading_300_tokens(small_vocab)
    for fig in (plots.contributions(tr), plots.contributions(tr, top=None, by="moves", clickable=True, narrow=True),
                plots.contributions(tr, top=3, selected_unit=int(account(tr).ranking()[1]), selected_token=0,
                                    clickable=True),
                plots.contributions(traces["SimpleRNN"], top=4, text_axis=text_axis(traces), clickable=True)):
        plots.go.Figure(fig.to_dict())  # built from plain dicts without validation: check they are valid plotly


# --- figures built from plain dicts (no validation while serving) are valid plotly ---------------
def test_every_figure_built_without_validation_passes_plotly_validation(tr_and_model):
    """The Playground's figures skip plotly's property-by-property validation (it was most of a
    rerun's server time); here every one of them goes through it, in each of its variants."""
    import plotly.graph_objects as go

    from playground.explain.alignment import text_axis

    tr, _ = tr_and_model
    axis = text_axis({"a": tr, "b": tr})
    figures = [plots.prediction_curve(tr), plots.gate_means(tr), plots.gate_means(tr, layer=0),
               plots.unit_lines(tr, 1, token=2), plots.unit_lines(tr, 0, token=None),
               plots.contributions(tr), plots.contributions(tr, clickable=True, selected_unit=0, selected_token=1,
                                                         narrow=True, text_axis=axis),
               plots.heatmap(tr, "h"), plots.heatmap(tr, "h", clickable=True, selected_unit=1, selected_token=0,
                                                     reference=np.zeros(tr.hidden_size), narrow=True, text_axis=axis)]
    figures += [plots.heatmap(tr, q.name, layer=0) for q in tr.cell.quantities]
    for fig in figures:
        checked = go.Figure(fig.to_dict())  # raises on any property plotly does not know or accept
        assert checked.layout.template.layout.plot_bgcolor == "white"
        assert checked.layout.title.x == 0 and checked.layout.height >= 200


def test_gate_means_panels_share_one_token_axis_under_the_last_panel(tr_and_model):
    tr, _ = tr_and_model
    fig = plots.gate_means(tr)
    lay = fig.to_dict()["layout"]
    panels = sorted(k for k in lay if k.startswith("yaxis"))
    has_gates = any(q.kind == "gate" for q in tr.cell.quantities)
    assert len(panels) == (2 if has_gates else 1) == len(lay["annotations"])
    assert lay["xaxis"]["anchor"] == ("y2" if len(panels) == 2 else "y") and "xaxis2" not in lay
    doms = [lay[p]["domain"] for p in panels]
    assert doms[0][1] == 1 and doms[-1][0] == 0 and all(lo < hi for lo, hi in doms)
    if len(doms) == 2:  # the gates above, clear of the panel below
        assert doms[1][1] < doms[0][0] and lay["yaxis"]["range"] == [0, 1]
    assert {t["yaxis"] for t in fig.to_dict()["data"]} == ({"y", "y2"} if len(panels) == 2 else {"y"})


def test_ig_path_figure_is_valid_plotly_and_shades_only_the_paths_stretches(small_vocab):
    from playground.explain.attribution import GapPiece, attribute, ig_path

    m = random_model("gru", vocab_size=len(small_vocab))
    tr = trace(m, small_vocab, "not good but I loved it")
    a = attribute(m, tr, "ig")
    path = ig_path(m, a, list(tr.ids))
    plain = plots.ig_path_figure(path)
    shaded = plots.ig_path_figure(dataclasses.replace(path, stretches=(GapPiece(0.5, 0.5001, 1.0, 2.0),)))
    for fig in (plain, shaded):
        plots.go.Figure(fig.to_dict())  # built from plain dicts without validation: still valid plotly
        assert list(fig.data[0].x) == list(path.alpha) and list(fig.data[1].y) == list(path.running)
    assert not plain.layout.shapes
    (band,) = shaded.layout.shapes  # a 1e-4 stretch is widened to 1% of the axis, centred on it
    assert band.x0 == pytest.approx(0.49505) and band.x1 == pytest.approx(0.50505)
