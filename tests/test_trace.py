"""Parity: the step-by-step trace reproduces the fused torch layers (1e-5)."""
import numpy as np
import pytest
import torch

from playground import zoo
from playground.models import ARCHS
from playground.text import Encoded
from playground.trace import GATES, UNIT_INTERVAL, fused_prob, trace, trace_ids

from .conftest import random_model


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
    assert tuple(tr.last.gates) == GATES[arch]
    for name, g in tr.last.gates.items():
        assert g.shape == (10, 7)
        if name in UNIT_INTERVAL:
            assert g.min() >= 0 and g.max() <= 1
        if name in ("g", "n"):
            assert g.min() >= -1 and g.max() <= 1
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
