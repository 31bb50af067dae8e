"""The exact account of the verdict: units x tokens contributions that add up."""
import numpy as np
import pytest
import torch

from playground.core import zoo
from playground.core.models import ARCHS
from playground.core.trace import trace, trace_ids
from playground.explain.account import account
from tests.conftest import random_model

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


def test_units_for_half_counts_the_largest_parts_that_make_half():
    from playground.explain.account import units_for_half

    assert units_for_half(np.array([0.0, 0.0])) == 0
    assert units_for_half(np.array([1.0, -1.0])) == 1  # exactly half
    assert units_for_half(np.array([0.1, -3.0, 1.0, 1.0, 1.0])) == 2
    assert units_for_half(np.array([0.2] * 10)) == 5


def test_units_at_lists_the_units_that_moved_a_word_most_with_their_values():
    from playground.explain.account import units_at

    m = random_model("lstm", 2, vocab_size=30, hidden=12, seed=4)
    tr = trace_ids(m, _enc(np.random.default_rng(4).integers(1, 30, 9)))
    acc = account(tr)
    for t in (0, 5):
        rows = units_at(tr, acc, t, k=4)
        sizes = [abs(r.contribution) for r in rows]
        assert len(rows) == 4 and sizes == sorted(sizes, reverse=True)
        assert sizes[0] == np.abs(acc.contributions[:, t]).max()
        for r in rows:
            assert r.contribution == acc.contributions[r.unit, t] and r.share == acc.unit_shares[r.unit]
            assert r.values["h"] == tr.last.h[t, r.unit] and r.h_prev == (tr.last.h[t - 1, r.unit] if t else 0.0)
            assert list(r.values) == [*tr.cell.names, "h"]  # every quantity of the last layer, in the cell's order
            assert all(r.values[q] == tr.last.gates[q][t, r.unit] for q in tr.cell.names)
        out = [u for u in range(12) if u not in {r.unit for r in rows}][0]
        assert [r.unit for r in units_at(tr, acc, t, k=4, include=out)] == [r.unit for r in rows] + [out]
    with pytest.raises(IndexError):
        units_at(tr, acc, 9)
