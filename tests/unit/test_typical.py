"""Typical values per unit over a TEST sample: exact means of what the trace records."""
import numpy as np
import pytest

from playground.core import zoo
from playground.core.trace import trace
from playground.dynamics.typical import sample_texts, typical_values

needs_models = pytest.mark.skipif("rnn-rt" not in zoo.bundled_names(), reason="no bundled models")


def test_sample_is_fixed_spread_and_bounded():
    a, b = sample_texts("rt", 10), sample_texts("rt", 10)
    assert a == b and len(a) == 10 and len(set(a)) == 10
    assert sample_texts("rt", 0) == ()


@needs_models
def test_means_equal_a_direct_computation_over_the_same_texts():
    tm = zoo.load_bundled("gru-rt")
    typ = typical_values(tm.model, tm.vocab, "rt", n_texts=6)
    traces = [trace(tm.model, tm.vocab, t) for t in sample_texts("rt", 6)]
    for q in ("z", "r", "n", "h"):
        rows = np.vstack([tr.last.h if q == "h" else tr.last.gates[q] for tr in traces])
        np.testing.assert_allclose(typ.mean[-1][q], rows.mean(axis=0), atol=1e-12)
        np.testing.assert_allclose(typ.std[-1][q], rows.std(axis=0), atol=1e-9)
    assert typ.n_tokens == sum(tr.n_steps for tr in traces) and typ.n_texts == 6
    assert "TEST" in typ.describe()
