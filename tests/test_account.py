"""The exact account of the verdict: units x tokens contributions that add up."""
import numpy as np
import pytest
import torch

from playground import zoo
from playground.account import account
from playground.models import ARCHS
from playground.trace import trace, trace_ids

from .conftest import random_model
from .test_trace import _enc

SENTENCE = "I expected to hate this movie but I loved every minute of it"


def _check_sums(tr, acc):
    T = tr.n_steps
    assert acc.contributions.shape == (tr.hidden_size, T)
    # every column is that word's change in logit, every row a unit's share of the final logit
    assert abs(acc.contributions.sum() - (acc.logit - acc.prior_logit)) < 1e-9
    np.testing.assert_allclose(acc.contributions.sum(axis=0), acc.word_moves, atol=1e-9, rtol=0)
    np.testing.assert_allclose(acc.unit_shares, tr.readout_w * tr.last.h[-1], atol=1e-12, rtol=0)
    # the logits are the trace's probabilities, read back through the sigmoid
    np.testing.assert_allclose(1 / (1 + np.exp(-acc.step_logits)), tr.step_probs, atol=1e-12, rtol=0)
    assert abs(1 / (1 + np.exp(-acc.prior_logit)) - tr.prob0) < 1e-12


@pytest.mark.parametrize("name", zoo.bundled_names())
def test_bundled_contributions_add_up(name):
    tm = zoo.load_bundled(name)
    tr = trace(tm.model, tm.vocab, SENTENCE)
    acc = account(tr)
    _check_sums(tr, acc)
    # and the final logit is the fused torch forward's (float32) logit
    with torch.no_grad():
        fused = float(tm.model(torch.tensor([list(tr.ids)]))[0])
    assert abs(acc.logit - fused) < 1e-4
    unit, tok = acc.decisive()
    assert unit == int(np.argmax(np.abs(acc.unit_shares)))
    assert abs(acc.contributions[unit, tok]) == np.abs(acc.contributions[unit]).max()


@pytest.mark.parametrize("arch", ARCHS)
def test_two_layer_random_model_accounts_for_its_last_layer(arch):
    m = random_model(arch, 2, vocab_size=30, hidden=9, seed=3)
    ids = np.random.default_rng(3).integers(1, 30, 40)
    tr = trace_ids(m, _enc(ids))
    _check_sums(tr, account(tr))


def test_ranking_orders_units_by_their_share():
    m = random_model("lstm", 1, vocab_size=30, hidden=12, seed=1)
    tr = trace_ids(m, _enc(np.random.default_rng(1).integers(1, 30, 25)))
    acc = account(tr)
    by_verdict = acc.ranking("verdict")
    shares = np.abs(acc.unit_shares)[by_verdict]
    assert sorted(by_verdict.tolist()) == list(range(12))
    assert np.all(np.diff(shares) <= 0)
    moves = np.abs(acc.contributions).sum(axis=1)[acc.ranking("moves")]
    assert np.all(np.diff(moves) <= 0)
    with pytest.raises(ValueError):
        acc.ranking("nonsense")


def test_no_tokens_is_an_empty_account():
    m = random_model("gru", 1, vocab_size=30, hidden=5)
    tr = trace_ids(m, _enc([]))
    acc = account(tr)
    assert acc.contributions.shape == (5, 0) and acc.decisive() is None
    assert acc.logit == acc.prior_logit == tr.readout_b
