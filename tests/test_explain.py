import numpy as np
import pytest
import torch

from playground.explain import disagreement_summary, latex_lines, unit_step
from playground.trace import trace

from .conftest import random_model


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layer", [0, 1])
def test_unit_step_reproduces_the_trace(arch, layer, small_vocab):
    m = random_model(arch, layers=2, vocab_size=len(small_vocab))
    tr = trace(m, small_vocab, "good film but not great")
    lt = tr.layers[layer]
    for t in range(tr.n_steps):
        s = unit_step(tr, layer, unit=4, t=t)
        assert s.h == lt.h[t, 4] and s.h_prev == (lt.h[t - 1, 4] if t else 0.0)
        for name, v in lt.gates.items():
            assert s.values[name] == v[t, 4]
        # the cell's own step, fed this unit's recorded parts, gives back the recorded values
        inp = {b: np.array([p[0]]) for b, p in s.parts.items()}
        rec = {b: np.array([p[1]]) for b, p in s.parts.items()}
        out = tr.cell.step(inp, rec, {k: np.array([v]) for k, v in s.previous.items()})
        for name, v in s.values.items():
            assert out[name][0] == pytest.approx(v, abs=1e-12)
        # every number printed in the equations is one of the traced numbers, rounded as shown
        text = " ".join(latex_lines(s))
        for v in [*s.values.values(), *(x for p in s.parts.values() for x in p)]:
            assert f"{abs(v):.3f}" in text
    with pytest.raises(IndexError):
        unit_step(tr, 0, unit=999, t=0)


def test_summary_agreement_and_disagreement(small_vocab):
    a = trace(random_model("gru", vocab_size=len(small_vocab), seed=1), small_vocab, "good bad good")
    s = disagreement_summary({"A": a, "B": a})
    assert s.startswith("All 2 read it as")
    # two models made to disagree at every word: a readout bias of +10 / -10 outweighs the state
    pm, nm = random_model("gru", vocab_size=len(small_vocab), seed=1), random_model("lstm", vocab_size=len(small_vocab))
    with torch.no_grad():
        pm.readout.bias.fill_(10.0)
        nm.readout.bias.fill_(-10.0)
    pos, neg = trace(pm, small_vocab, "good bad good"), trace(nm, small_vocab, "good bad good")
    assert pos.label == 1 and neg.label == 0
    s = disagreement_summary({"A": pos, "B": neg, "C": neg})
    assert s == "A says positive, B and C say negative. Their readings part ways at “good” (word 1)."
    assert disagreement_summary({}) == "No models to compare."
    empty = trace(random_model("gru", vocab_size=len(small_vocab)), small_vocab, "")
    assert "nothing to read" in disagreement_summary({"A": empty})
