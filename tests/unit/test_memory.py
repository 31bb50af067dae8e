"""The memory lens (playground/dynamics/memory.py): survival of what each word wrote, exact splits of the
carried state, time constants, a SimpleRNN's state Jacobian, and the gradient through time."""
import json
import math

import numpy as np
import pytest
import torch

from playground.core import zoo
from playground.core.cells import cell
from playground.core.models import ARCHS
from playground.core.text import Encoded
from playground.core.trace import trace_ids
from playground.dynamics import memory
from tests.conftest import random_model


def _enc(ids):
    ids = tuple(int(i) for i in ids)
    return Encoded(ids, tuple(f"w{i}" for i in ids), tuple(False for _ in ids), len(ids))


def _force(model, block: str, bias: float):
    """Set one gate block's input bias so that the gate is exactly 0 or 1 in float64."""
    c, H = model.config.cell, model.config.hidden_size
    k = c.blocks.index(block)
    with torch.no_grad():
        for layer in range(model.config.num_layers):
            getattr(model.rnn, f"bias_ih_l{layer}")[k * H:(k + 1) * H] = bias
    return model


def test_survival_is_the_product_of_the_keep_gates_after_each_word():
    keep = np.random.default_rng(0).uniform(0.2, 1.0, (7, 3))  # (T, H)
    s = memory.survival(keep)
    assert s.shape == (3, 7)
    for t in range(7):
        np.testing.assert_allclose(s[:, t], np.prod(keep[t + 1:], axis=0), rtol=1e-14)
    np.testing.assert_array_equal(s[:, -1], 1.0)
    assert memory.survival(np.zeros((0, 3))).shape == (3, 0)


@pytest.mark.parametrize("arch", [a for a in ARCHS if cell(a).keep is not None])
@pytest.mark.parametrize("layers", [1, 2])
def test_what_survives_of_each_word_adds_up_to_the_carried_state(arch, layers):
    m = random_model(arch, layers, vocab_size=30, hidden=9, seed=layers)
    tr = trace_ids(m, _enc(np.random.default_rng(1).integers(1, 30, 40)))
    lz = memory.lens(tr, m)
    carried = tr.last.gates.get(lz.carrier, tr.last.h)
    np.testing.assert_allclose(lz.kept.sum(axis=1), carried[-1], atol=1e-12)
    assert lz.survival.min() >= 0 and lz.survival.max() <= 1
    np.testing.assert_allclose(lz.weights.sum(), 1.0)
    np.testing.assert_allclose(lz.weighted_survival, lz.weights @ lz.survival)
    np.testing.assert_allclose(lz.mean_survival, lz.survival.mean(axis=0))


def test_an_lstm_whose_forget_gate_is_forced_to_1_keeps_everything():
    m = _force(random_model("lstm", 1, vocab_size=30, hidden=6), "f", 1e4)
    tr = trace_ids(m, _enc(np.random.default_rng(2).integers(1, 30, 25)))
    assert np.all(tr.last.gates["f"] == 1.0)
    lz = memory.lens(tr, m)
    np.testing.assert_array_equal(lz.survival, 1.0)
    # c_T is the plain sum of everything the words wrote: nothing was forgotten
    wrote = (tr.last.gates["i"] * tr.last.gates["g"]).sum(axis=0)
    np.testing.assert_allclose(tr.last.gates["c"][-1], wrote, atol=1e-12)


def test_an_lstm_whose_forget_gate_is_forced_to_0_keeps_only_the_last_word():
    m = _force(random_model("lstm", 1, vocab_size=30, hidden=6), "f", -1e4)
    tr = trace_ids(m, _enc(np.random.default_rng(3).integers(1, 30, 12)))
    lz = memory.lens(tr, m)
    np.testing.assert_array_equal(lz.survival[:, :-1], 0.0)
    np.testing.assert_array_equal(lz.survival[:, -1], 1.0)


def test_a_gru_whose_update_gate_is_forced_to_1_never_changes_its_state():
    m = _force(random_model("gru", 1, vocab_size=30, hidden=6), "z", 1e4)
    tr = trace_ids(m, _enc(np.random.default_rng(4).integers(1, 30, 25)))
    np.testing.assert_array_equal(tr.last.gates["z"], 1.0)
    np.testing.assert_array_equal(tr.last.h, 0.0)  # h = (1 - z) n + z h stays at h_0 = 0
    lz = memory.lens(tr, m)
    np.testing.assert_array_equal(lz.survival, 1.0)
    np.testing.assert_array_equal(lz.written, 0.0)
    assert tr.prob == pytest.approx(tr.prob0, abs=0)


def test_a_simplernn_has_no_keep_gate_and_its_jacobian_matches_autograd():
    m = random_model("rnn", 1, vocab_size=30, hidden=8, seed=5)
    ids = np.random.default_rng(5).integers(1, 30, 20)
    tr = trace_ids(m, _enc(ids))
    lz = memory.lens(tr, m)
    assert not lz.gated and lz.survival is None and lz.kept is None
    # independent: step the fused layer one word at a time in float64 and backpropagate
    md = m.double()
    x = md.embedding(torch.tensor([list(ids)]))  # (1, T, E)
    h0 = torch.zeros(1, 1, 8, dtype=torch.float64)
    states, h = [], h0
    for t in range(len(ids)):
        _, h = md.rnn(x[:, t:t + 1].detach(), h)
        h.retain_grad()
        states.append(h)
    logit = md.readout(states[-1][0, 0])
    logit.sum().backward()
    sens = np.array([float(s.grad.norm()) for s in states])
    np.testing.assert_allclose(lz.readout_sensitivity, sens, rtol=1e-9)
    # the gain of d h_T / d h_t by full Jacobians from autograd, at a few t
    for t in (0, 7, 18, 19):
        def last_from(ht, t=t):
            hh = ht.reshape(1, 1, 8)
            for s in range(t + 1, len(ids)):
                _, hh = md.rnn(x[:, s:s + 1].detach(), hh)
            return hh.reshape(8)
        J = torch.autograd.functional.jacobian(last_from, states[t].detach().reshape(8))
        assert lz.jacobian_gain[t] == pytest.approx(float(J.norm()) / math.sqrt(8), rel=1e-9)
    assert lz.jacobian_gain[-1] == pytest.approx(1.0)


@pytest.mark.parametrize("arch", ARCHS)
def test_gradients_per_word_match_finite_differences(arch):
    m = random_model(arch, 1, vocab_size=30, hidden=7, seed=6)
    ids = list(np.random.default_rng(6).integers(1, 30, 12))
    grads = memory.token_gradients(m, ids)
    md = m.double().eval()
    with torch.no_grad():
        e = md.embedding(torch.tensor([ids]))  # (1, T, E)

        def logit(x):
            out, _ = md.rnn(x)
            return float(md.readout(out[:, -1])[0, 0])

        eps = 1e-6
        for t in range(len(ids)):
            g = np.zeros(e.shape[2])
            for k in range(e.shape[2]):
                d = torch.zeros_like(e)
                d[0, t, k] = eps
                g[k] = (logit(e + d) - logit(e - d)) / (2 * eps)
            assert grads[t] == pytest.approx(np.linalg.norm(g), rel=1e-6, abs=1e-9)


def test_half_distance():
    assert memory.half_distance(np.array([1.0, 0.4, 1.5, 2.0])) == 2  # 1.5 > 1.0, then 0.4 <= 1.0
    assert memory.half_distance(np.array([5.0, 3.0, 2.0])) is None
    assert memory.half_distance(np.array([2.0])) is None
    assert memory.half_distance(np.array([1.0, 0.0])) is None
    assert memory.half_distance(np.array([0.5, 3.0, 1.0])) == 2


def test_time_constants_and_their_story():
    taus = memory.time_constants(np.array([0.0, 0.5, 0.9, 0.99, 1.0]))
    np.testing.assert_allclose(taus[:4], [1.0, 2.0, 10.0, 100.0])
    assert math.isinf(taus[4])
    hist = memory.tau_histogram(np.array([1.0, 2.0, 10.0, 150.0, 499.0, math.inf]))
    counts = {b["label"]: b["count"] for b in hist}
    assert sum(counts.values()) == 6 and counts["1-2"] == counts["2-3"] == counts["10-20"] == 1
    assert counts["100-200"] == counts["200-500"] == counts["500+"] == 1
    story = memory.tau_story(np.array([1.0, 2.0, 10.0, 150.0, math.inf]), "LSTM")
    assert "within 10.0 words" in story and "2 of 5" in story and "2 hold for 100+" in story


def test_bundled_models_report(tmp_path):
    from playground.dynamics.typical import typical_values

    tm = zoo.load_bundled("gru-rt")
    typ = typical_values(tm.model, tm.vocab, "rt", 8)
    out = memory.report(tm, "not bad at all", typ)
    assert len(out["taus"]) == tm.config.hidden_size and len(out["grad_norms"]) == len(out["tokens"]) == 4
    assert out["keep_gate"] == "z" and len(out["survival"]) == tm.config.hidden_size
    json.dumps(out, allow_nan=False)
    rnn = memory.report(zoo.load_bundled("rnn-rt"), "not bad at all", None)
    assert rnn["taus"] is None and "no gate" in rnn["taus_note"] and len(rnn["jacobian_gain"]) == 4


# --- figures ---------------------------------------------------------------------------------------
def test_memory_figures_draw_the_lens_numbers():
    from playground.figures import memory_plots as mp

    m = random_model("lstm", 1, vocab_size=30, hidden=9, seed=3)
    tr = trace_ids(m, _enc(np.random.default_rng(3).integers(1, 30, 15)))
    lz = memory.lens(tr, m)
    fig = mp.survival_lines(lz)
    by_name = {d.name: np.asarray(d.y) for d in fig.data}
    np.testing.assert_allclose(by_name["mean over units"], lz.mean_survival)
    np.testing.assert_allclose(by_name["weighted by each unit's share of the verdict"], lz.weighted_survival)
    rows = [4, 0, 2]
    heat = mp.survival_heatmap(lz, rows)
    np.testing.assert_allclose(np.asarray(heat.data[0].z), lz.survival[rows], rtol=1e-6)
    assert list(heat.data[0].y) == ["4", "0", "2"]
    heat.to_dict()  # well-formed
    import plotly.graph_objects as go

    go.Figure(heat.to_dict())  # validates every property the fast path skipped
    bars = mp.tau_bars(memory.tau_histogram(np.array([1.5, 4.0, 4.5, 700.0])), "t")
    assert list(bars.data[0].y) == [1, 0, 2, 0, 0, 0, 0, 0, 0, 1]


def test_gradient_and_jacobian_figures():
    from playground.figures import memory_plots as mp

    g = np.array([0.5, 1.0, 4.0])
    fig = mp.gradient_lines({"a (LSTM)": (g, ("x", "<b>y</b>", "z"), "#008837", 1)})
    line, half = fig.data
    assert list(line.x) == [-2, -1, 0] and list(line.y) == [0.5, 1.0, 4.0]
    assert "&lt;b&gt;y&lt;/b&gt;" in list(line.customdata)  # visitor text escaped
    assert list(half.x) == [-1] and list(half.y) == [1.0]
    ticks = fig.layout.yaxis.tickvals
    assert min(ticks) <= 0.5 * 1.5 and max(ticks) >= 4 / 1.5
    m = random_model("rnn", 1, vocab_size=30, hidden=6, seed=2)
    lz = memory.lens(trace_ids(m, _enc([3, 4, 5, 6])), m)
    jf = mp.jacobian_lines(lz)
    np.testing.assert_allclose(np.asarray(jf.data[0].y), lz.jacobian_gain)
    np.testing.assert_allclose(np.asarray(jf.data[1].y), lz.readout_sensitivity)


def test_log_ticks():
    from playground.figures.memory_plots import log_ticks

    t = log_ticks([0.7, 6.0])
    assert t["tickvals"] == [0.5, 1.0, 2.0, 5.0] and t["ticktext"] == ["0.5", "1", "2", "5"]
    wide = log_ticks([1e-6, 3.0])
    assert wide["tickvals"] == [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0]
    assert wide["ticktext"] == ["10⁻⁶", "10⁻⁵", "10⁻⁴", "10⁻³", "10⁻²", "10⁻¹", "1"]  # one notation, not "1e-05"
    eight = log_ticks([8e-7, 1.2])  # Why gates' shares: every 2nd power, and 1 (the last word's) among them
    assert eight["ticktext"] == ["10⁻⁶", "10⁻⁴", "10⁻²", "1"] and eight["tickvals"][-1] == 1.0
    assert log_ticks([0.0, -1.0]) == {}


def test_log_axes_never_plot_zero():
    """A gradient of exactly 0 (float32 underflow) is a gap on a log axis, not a point at 1e-300 that
    stretches the axis over 300 decades."""
    from playground.figures import memory_plots as mp

    fig = mp.gradient_lines({"a (GRU)": (np.array([0.0, 1e-3, 2.0]), ("x", "y", "z"), "#e66101", None)})
    y = np.asarray(fig.data[0].y, dtype=float)
    assert np.isnan(y[0]) and y[1] == 1e-3
    assert min(fig.layout.yaxis.tickvals) >= 1e-4
    assert len(mp.log_ticks([1e-13, 1.0])["tickvals"]) <= 8


@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn"])
def test_fade_story_gives_the_prediction_at_the_word_and_at_the_end_and_what_was_kept(arch):
    torch.manual_seed(3)
    m = random_model(arch, vocab_size=50)
    tr = trace_ids(m, _enc([5, 9, 11, 2, 7, 7, 3]))
    lz = memory.lens(tr, m)
    s = memory.fade_story(tr, lz, 1)
    assert f"(word 2) the model was at {memory.pct(tr.step_probs[1])} positive" in s
    assert f"after the 5 words that follow it, at {memory.pct(tr.prob)}" in s
    if lz.gated:
        assert f"keeps {memory.pct(lz.weighted_survival[1])} of what" in s
    else:
        assert f"rms gain of {float(lz.jacobian_gain[1]):.3g}" in s
    assert memory.fade_story(tr, lz, 7) == "" and memory.fade_story(tr, lz, -1) == ""
    assert memory.fade_story(tr, lz, 6) == f"“w3” is the last word: the model ends at {memory.pct(tr.prob)} positive " \
                                          "right after it."


def test_the_gradient_tables_row_says_the_numbers_it_is_given():
    from playground.dynamics.memory import gradient_row

    r = gradient_row("m", "LSTM", ["a", "b", "c"], [0.1, 0.5, 1.0])
    assert r == {"model": "m", "cell": "LSTM", "words read": 3, "|grad| last word": 1.0, "first / last": 0.1,
                 "half-distance": 1}  # 0.5 is half the last word's 1.0, one word back
    empty = gradient_row("m", "GRU", [], [])
    assert empty["|grad| last word"] is None and empty["first / last"] is None and empty["half-distance"] is None
    assert gradient_row("m", "GRU", ["a", "b"], [1.0, 0.0])["first / last"] is None  # a last word with no gradient
