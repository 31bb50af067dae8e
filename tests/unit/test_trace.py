"""Parity: the step-by-step trace reproduces the fused torch layers (1e-5)."""
import numpy as np
import pytest
import torch

from playground.core import zoo
from playground.core.cells import GATE, SIGNED, cell
from playground.core.models import ARCHS
from playground.core.text import Encoded
from playground.core.trace import fused_prob, trace, trace_ids
from tests.conftest import random_model


def _enc(ids):
    ids = tuple(int(i) for i in ids)
    return Encoded(ids, tuple(f"w{i}" for i in ids), tuple(i == 1 for i in ids), len(ids))


def _fused_states(model, ids):
    with torch.no_grad():
        out, _ = model.rnn(model.embedding(torch.tensor([list(ids)])))
    return out[0].double().numpy()  # (T, H) of the last layer


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("seed", [0, 1])
def test_parity_random_weights(arch, layers, seed):
    m = random_model(arch, layers, vocab_size=30, hidden=16, seed=seed)
    ids = np.random.default_rng(seed).integers(1, 30, 60)
    tr = trace_ids(m, _enc(ids))
    np.testing.assert_allclose(tr.last.h, _fused_states(m, ids), atol=1e-5)
    assert abs(tr.prob - fused_prob(m, ids)) < 1e-5
    assert tr.step_probs.shape == (60,) and len(tr.layers) == layers


@pytest.mark.parametrize("arch", ARCHS)
def test_gates_have_standard_names_shapes_and_ranges(arch):
    m = random_model(arch, 1, vocab_size=30, hidden=7)
    tr = trace_ids(m, _enc(range(2, 12)))
    assert tuple(tr.last.gates) == cell(arch).names == tr.gate_names
    assert {"rnn": ("pre",), "lstm": ("i", "f", "g", "o", "c"), "gru": ("r", "z", "n")}[arch] == tr.gate_names
    for name, g in tr.last.gates.items():
        assert g.shape == (10, 7)
        kind = cell(arch).quantity(name).kind
        if kind == GATE:
            assert g.min() >= 0 and g.max() <= 1
        if kind == SIGNED:
            assert g.min() >= -1 and g.max() <= 1
    assert {"rnn": set(), "lstm": {"i", "f", "o"}, "gru": {"r", "z"}}[arch] == {
        q.name for q in cell(arch).quantities if q.kind == GATE}
    with pytest.raises(ValueError):
        tr.step_probs[0] = 0.3  # arrays are frozen


def test_lstm_cell_update_holds_exactly():
    m = random_model("lstm", 1, vocab_size=30, hidden=5)
    g = trace_ids(m, _enc([3, 4, 5])).last.gates
    c_prev = np.vstack([np.zeros(5), g["c"][:-1]])
    np.testing.assert_allclose(g["c"], g["f"] * c_prev + g["i"] * g["g"], atol=1e-12)


def test_gru_b_hn_stays_inside_the_reset_bracket():
    m = random_model("gru", 1, vocab_size=30, hidden=6)
    with torch.no_grad():
        m.rnn.bias_hh_l0[12:] += 2.0  # a large b_hn: misplacing it would break parity
    ids = [3, 9, 4, 7]
    tr = trace_ids(m, _enc(ids))
    np.testing.assert_allclose(tr.last.h, _fused_states(m, ids), atol=1e-5)


def test_empty_text_gives_the_prior(small_vocab):
    m = random_model("lstm", vocab_size=len(small_vocab))
    tr = trace(m, small_vocab, "   ")
    assert tr.n_steps == 0 and tr.step_probs.shape == (0,)
    assert tr.prob == pytest.approx(fused_prob(m, []))


def test_long_text_is_cut_to_max_len(small_vocab):
    m = random_model("rnn", vocab_size=len(small_vocab), max_len=20)
    tr = trace(m, small_vocab, "good bad " * 50)
    assert tr.n_steps == 20 and tr.truncated and tr.n_tokens_total == 100


@pytest.mark.parametrize("name", zoo.bundled_names() or ["(none shipped)"])
def test_parity_bundled_models(name):
    if name not in zoo.BUNDLED:
        pytest.fail("no bundled models found in playground/weights")
    tm = zoo.load_bundled(name)
    for text in ["I expected to hate it but I loved it", "not bad at all", "the worst film " * 30]:
        tr = trace(tm.model, tm.vocab, text)
        np.testing.assert_allclose(tr.last.h, _fused_states(tm.model, tr.ids), atol=1e-5)
        assert abs(tr.prob - fused_prob(tm.model, tr.ids)) < 1e-5


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("layers", [1, 2])
def test_parts_are_the_pre_activations_of_each_block(arch, layers):
    """Each block's recorded input part is W x + b_ih and recurrent part U h_{t-1} + b_hh,
    computed here independently from the fused layer's weights."""
    m = random_model(arch, layers, vocab_size=30, hidden=6)
    ids = [3, 9, 4, 7, 2]
    tr = trace_ids(m, _enc(ids))
    H = 6
    x = m.embedding.weight.detach().double().numpy()[ids]
    for layer in range(layers):
        w = {n: getattr(m.rnn, f"{n}_l{layer}").detach().double().numpy()
             for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        h = tr.layers[layer].h
        h_prev = np.vstack([np.zeros(H), h[:-1]])
        for k, block in enumerate(cell(arch).blocks):
            sl = slice(k * H, (k + 1) * H)
            inp, rec = tr.layers[layer].parts[block]
            np.testing.assert_allclose(inp, x @ w["weight_ih"][sl].T + w["bias_ih"][sl], atol=1e-12)
            np.testing.assert_allclose(rec, h_prev @ w["weight_hh"][sl].T + w["bias_hh"][sl], atol=1e-12)
        x = h
