import pytest

from playground.explain import disagreement_summary, latex_lines, unit_step
from playground.trace import trace

from .conftest import random_model


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layer", [0, 1])
def test_unit_step_reproduces_the_trace(arch, layer, small_vocab):
    m = random_model(arch, layers=2, vocab_size=len(small_vocab))
    tr = trace(m, small_vocab, "good film but not great")
    for t in range(tr.n_steps):
        s = unit_step(m, tr, layer, unit=4, t=t)
        assert s.h == pytest.approx(tr.layers[layer].h[t, 4])
        for g, (_, _, act) in s.parts.items():
            assert act == pytest.approx(tr.layers[layer].gates[g][t, 4], abs=1e-9)
        lines = latex_lines(s)
        assert lines and all(isinstance(x, str) for x in lines)
    with pytest.raises(IndexError):
        unit_step(m, tr, 0, unit=999, t=0)


def test_summary_agreement_and_disagreement(small_vocab):
    a = trace(random_model("gru", vocab_size=len(small_vocab), seed=1), small_vocab, "good bad good")
    b = trace(random_model("lstm", vocab_size=len(small_vocab), seed=2), small_vocab, "good bad good")
    s = disagreement_summary({"A": a, "B": a})
    assert s.startswith("All 2 read it as")
    s = disagreement_summary({"A": a, "B": b})
    if a.label != b.label:
        assert "say" in s and "positive" in s and "negative" in s
    assert disagreement_summary({}) == "No models to compare."
    empty = trace(random_model("gru", vocab_size=len(small_vocab)), small_vocab, "")
    assert "nothing to read" in disagreement_summary({"A": empty})
