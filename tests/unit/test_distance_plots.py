"""Figures and sentences over a distance k: the lab's (playground/figures/distance_plots.py, lab.lesson) and the
distance probe's, checked against the numbers they draw."""
import numpy as np
import pytest

from playground.dynamics import lab
from playground.figures import distance_plots as dp


def _result(chance, shares):
    """A hand-made lab result: k = 5, 50; accuracy 1.0 then `chance[c]` (or 0.5 if the cell falls there)."""
    ks = [5, 50]
    cells = ["rnn", "lstm", "gru"]
    acc = {c: [1.0, 0.5 if chance[c] == 50 else 0.9] for c in cells}
    curves = {c: [{"step": [1, 2], "loss": [0.7, 0.6], "grad_signal": [shares[c][i], 0.0], "grad_last": [1.0, 1.0],
                   "grad_signal_min": [shares[c][i], 0.0], "grad_signal_max": [shares[c][i], 0.0]}
                  for i in range(2)] for c in cells}
    return {"k": ks, "cells": cells, "seeds": [0, 1], "chance_accuracy": 0.6, "accuracy": acc,
            "spread": {c: [[a - 0.01, a] for a in acc[c]] for c in cells},
            "per_seed": {c: [[a - 0.01, a] for a in acc[c]] for c in cells},
            "chance_distance": {c: chance[c] for c in cells}, "curves": curves}


def test_lab_accuracy_draws_means_and_the_seeds_range():
    r = _result({"rnn": 50, "lstm": None, "gru": None}, {c: [0.5, 1e-3] for c in ("rnn", "lstm", "gru")})
    fig = dp.lab_accuracy(r)
    rnn = next(d for d in fig.data if d.name == "SimpleRNN")
    assert list(rnn.x) == [5, 50] and list(rnn.y) == [1.0, 0.5]
    np.testing.assert_allclose(rnn.error_y.arrayminus, [0.01, 0.01])
    np.testing.assert_allclose(rnn.error_y.array, [0.0, 0.0])


def test_the_lesson_says_whether_the_textbook_order_holds():
    shares = {"rnn": [0.5, 1e-6], "lstm": [0.6, 0.1], "gru": [0.6, 0.2]}
    textbook = lab.lesson(_result({"rnn": 50, "lstm": None, "gru": None}, shares))
    assert "first cell to fall to chance is the SimpleRNN (at k = 50)" in textbook
    assert "That is the textbook order" in textbook and "SimpleRNN 1e-06" in textbook
    other = lab.lesson(_result({"rnn": None, "lstm": None, "gru": 50}, shares))
    assert "is the GRU (at k = 50)" in other and "not the textbook order" in other
    none = lab.lesson(_result({"rnn": None, "lstm": None, "gru": None}, shares))
    assert none.startswith("No cell falls to chance at any k up to 50.") and "textbook" not in none


def test_init_gradient_shares_and_zero_gradients():
    r = _result({"rnn": None, "lstm": None, "gru": 50}, {"rnn": [0.5, 0.1], "lstm": [0.4, 0.01], "gru": [0.3, 0.0]})
    shares = lab.init_gradient_shares(r)
    assert shares["rnn"] == [0.5, 0.1] and shares["gru"] == [0.3, None]
    fig = dp.lab_init_gradient(r)
    gru = next(d for d in fig.data if d.name == "GRU")
    assert gru.y[0] == 0.3 and np.isnan(gru.y[1])
    curves = dp.lab_gradient_curves(r, 5)  # the second step's gradient is 0: a gap, never a point at 1e-300
    lines = [d for d in curves.data if d.name in ("SimpleRNN", "LSTM", "GRU")]
    assert all(np.isnan(d.y[1]) for d in lines)
    table = dp.lab_table(r)
    assert table[2]["falls to chance at"] == "k = 50" and table[0]["falls to chance at"] == "never here"
    assert table[0]["k = 50"] == "0.900 (0.89–0.90)"


@pytest.mark.slow
def test_probe_figures_draw_the_effect_with_gaps_where_the_phrase_is_not_read():
    from playground.dynamics import probe

    p = probe.bundled_probe("lstm-rt")
    fig = dp.probe_effects([p], {"lstm-rt": "#008837"})
    y = np.asarray(fig.data[0].y, dtype=float)
    eff = p.effect
    assert y[0] == eff[0] and np.isnan(y[-1]) and eff[-1] is None  # k = 300 is past what lstm-rt reads
    curves = dp.probe_curves(p)
    assert np.asarray(curves.data[2].y)[9] == p.p_filler[9]
