"""Paired tests: McNemar's exact p against hand-computed binomial tails; a winner only beyond noise."""
import math

import numpy as np
import pytest

from playground.evaluation.stats import mcnemar, race_verdict


def _pair(both, only_a, only_b, neither):
    a = [True] * both + [True] * only_a + [False] * only_b + [False] * neither
    b = [True] * both + [False] * only_a + [True] * only_b + [False] * neither
    return np.array(a), np.array(b)


@pytest.mark.parametrize("only_a, only_b, p", [
    (0, 6, 2 / 64),  # all six discordant sentences favour B: 2 * (1/2)^6
    (1, 9, 2 * (1 + 10) / 1024),
    (5, 5, 1.0),
    (0, 0, 1.0),
    (30, 10, 2 * sum(math.comb(40, i) for i in range(11)) / 2 ** 40),
])
def test_mcnemar_exact_p(only_a, only_b, p):
    a, b = _pair(50, only_a, only_b, 20)
    t = mcnemar(a, b)
    assert (t.only_a, t.only_b, t.n) == (only_a, only_b, 70 + only_a + only_b)
    assert t.p_value == pytest.approx(p, rel=1e-9)
    assert t.diff == pytest.approx((only_a - only_b) / t.n)
    assert t.low <= t.diff <= t.high
    assert mcnemar(b, a).p_value == pytest.approx(t.p_value)  # symmetric


def test_mcnemar_handles_thousands_of_discordant_rows():
    a, b = _pair(0, 2600, 2400, 0)
    t = mcnemar(a, b)
    assert 0 < t.p_value < 0.01 and math.isfinite(t.high)
    with pytest.raises(ValueError):
        mcnemar([True, False], [True])


def test_a_winner_only_beyond_noise():
    rng = np.random.default_rng(0)
    truth_hard = rng.random(1706) < 0.77
    near = truth_hard.copy()
    near[np.flatnonzero(truth_hard)[:2]] = False  # 0.1 points behind: a tie
    chance = {name: rng.random(1706) < 0.5 for name in ("SimpleRNN", "LSTM", "GRU")}
    tie = race_verdict({"LSTM": truth_hard, "GRU": near, "SimpleRNN": chance["SimpleRNN"]})
    assert tie.startswith("No model is ahead beyond noise: LSTM") and "Call it a tie" in tie
    assert race_verdict(chance).startswith("No model is ahead beyond noise")  # all three at chance
    clear = race_verdict({"GRU": truth_hard, "SimpleRNN": chance["SimpleRNN"], "LSTM": chance["LSTM"]})
    assert clear.startswith("GRU is ahead beyond noise: 7") and "p < 0.0001" in clear
    assert race_verdict({}).startswith("No model finished")
    assert race_verdict({"GRU": truth_hard}).startswith("Only GRU finished")


def test_a_tie_at_the_top_can_still_be_ahead_of_the_rest():
    rng = np.random.default_rng(1)
    good = rng.random(1706) < 0.74
    near = good.copy()
    near[np.flatnonzero(good)[:30]] = False  # 30 rows only `good` gets right, 22 only `near`: a tie
    near[np.flatnonzero(~good)[:22]] = True
    weak = rng.random(1706) < 0.59
    v = race_verdict({"SimpleRNN": weak, "LSTM": good, "GRU": near})
    assert v.startswith("No model is ahead beyond noise: LSTM") and "Call it a tie." in v
    assert v.endswith(f"Both (LSTM and GRU) are ahead of SimpleRNN ({weak.mean():.1%}) beyond noise "
                      "(p < 0.0001 for every such pair)."), v
    # a third model that is only a little worse is not declared behind
    close = good.copy()
    close[np.flatnonzero(good)[:20]] = False  # 0.6 points behind, discordant both ways: p = 0.1
    close[np.flatnonzero(~good)[:10]] = True
    assert "are ahead of" not in race_verdict({"LSTM": good, "GRU": near, "SimpleRNN": close})
