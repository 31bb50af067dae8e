import numpy as np
import pytest
import torch

from playground.attribution import METHODS, attribute
from playground.trace import fused_prob, trace

from .conftest import random_model


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_every_method_scores_every_token(method, arch, small_vocab):
    m = random_model(arch, vocab_size=len(small_vocab))
    tr = trace(m, small_vocab, "the film was not good but I loved it 😀")
    a = attribute(m, tr, method)
    assert a.scores.shape == (tr.n_steps,) and np.isfinite(a.scores).all()
    assert np.abs(a.normalised()).max() == pytest.approx(1.0)
    assert not m.training


def test_occlusion_is_leave_one_out(small_vocab):
    m = random_model("gru", vocab_size=len(small_vocab))
    tr = trace(m, small_vocab, "good not bad")
    a = attribute(m, tr, "occlusion")
    ids = list(tr.ids)
    assert a.scores[1] == pytest.approx(tr.prob - fused_prob(m, [ids[0], ids[2]]), abs=1e-6)


def test_integrated_gradients_complete_to_the_logit_difference(small_vocab):
    m = random_model("lstm", vocab_size=len(small_vocab))
    tr = trace(m, small_vocab, "great movie was awful")
    a = attribute(m, tr, "ig", ig_steps=200)
    with torch.no_grad():
        base = float(m(torch.zeros(1, tr.n_steps, dtype=torch.long)))
    logit = np.log(tr.prob / (1 - tr.prob))
    assert a.scores.sum() == pytest.approx(logit - base, abs=2e-3)


def test_delta_sums_to_the_total_change(small_vocab):
    m = random_model("rnn", vocab_size=len(small_vocab))
    tr = trace(m, small_vocab, "good bad good")
    assert attribute(m, tr, "delta").scores.sum() == pytest.approx(tr.prob - tr.prob0)


def test_empty_and_unknown_method(small_vocab):
    m = random_model("gru", vocab_size=len(small_vocab))
    assert attribute(m, trace(m, small_vocab, ""), "ig").scores.shape == (0,)
    with pytest.raises(ValueError):
        attribute(m, trace(m, small_vocab, "good"), "shap")
