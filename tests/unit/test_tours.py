"""Guided tours (playground/explain/tours.py, issue 30): every step points at a real element of its page and
states numbers that an independent computation from the trace gives again."""
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from playground.core import zoo
from playground.core.trace import trace
from playground.explain import tours
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[2]
VIEWS = {"playground": "views/playground.py", "compare": "views/compare.py", "gates": "views/gates.py"}


@pytest.fixture(scope="module")
def both():
    return {tid: tours.steps(tid) for tid in tours.TOURS}


def test_each_tour_has_ten_steps_each_on_a_real_element_with_a_number(both):
    for tid, steps in both.items():
        assert len(steps) >= 10, tid
        for s in steps:
            source = (ROOT / VIEWS[s.page]).read_text()
            prefix = s.target.rsplit(".", 1)[0]
            assert f'"{s.target}"' in source or f'f"{prefix}.{{' in source, (tid, s.target)  # a key on that page
            assert re.search(r"\d", s.text + (s.question.reveal if s.question else "")), (tid, s.title)
            assert s.numbers, (tid, s.title)
        assert sum(s.question is not None for s in steps) >= 2, tid


def _probs(tr):
    return np.concatenate([[tr.prob0], np.asarray(tr.step_probs, dtype=float)])


def test_what_an_lstm_keeps_says_the_traces_numbers(both):
    steps = both["lstm-keeps"]
    tm = zoo.load_bundled("lstm-rt")
    tr = trace(tm.model, tm.vocab, tours.DEFAULT_SENTENCE)
    p = _probs(tr)
    assert steps[0].numbers["prob"] == pytest.approx(p[-1]) and steps[0].numbers["prob0"] == pytest.approx(p[0])
    b = int(np.argmax(np.abs(np.diff(p))))
    q = steps[1].question
    assert steps[1].numbers["biggest"] == b and q.choices[q.answer] == tr.tokens[b]
    u = steps[2].numbers["unit"]
    f, i, g, o, c = (float(tr.last.gates[k][b, u]) for k in "figoc")
    c_old = float(tr.last.gates["c"][b - 1, u])
    assert steps[2].numbers["f"] == pytest.approx(f) and steps[2].numbers["c_old"] == pytest.approx(c_old)
    assert steps[4].numbers["c"] == pytest.approx(f * c_old + i * g, abs=1e-5)  # the cell's own equation
    assert steps[5].numbers["h"] == pytest.approx(o * math.tanh(c), abs=1e-5)
    mean_f = tr.last.gates["f"].mean(axis=1)
    assert steps[6].numbers["word"] == int(np.argmin(mean_f))
    forced = steps[7]
    assert forced.question.answer == (0 if forced.numbers["flips"] else 1)
    assert forced.numbers["flips"] == ((forced.numbers["forced_prob"] >= 0.5) != (p[-1] >= 0.5))
    assert all(f"{v:.2f}" in s.text for s, v in ((steps[2], f), (steps[3], i)))


def test_forcing_the_forget_gate_is_checked_against_torchs_own_lstm():
    """Step 8's "what if f = 1" rerun by hand: torch's LSTM weights step by step, f forced from that word on."""
    steps = tours.steps("lstm-keeps")
    t_f, want = steps[7].params["tok"], steps[7].numbers["forced_prob"]
    tm = zoo.load_bundled("lstm-rt")
    ids = torch.tensor(tm.encode(tours.DEFAULT_SENTENCE).ids)
    rnn = tm.model.rnn
    x = tm.model.embedding.weight[ids].double()
    H = rnn.hidden_size
    h, c = torch.zeros(H, dtype=torch.float64), torch.zeros(H, dtype=torch.float64)
    w_ih, w_hh = rnn.weight_ih_l0.double(), rnn.weight_hh_l0.double()
    b = (rnn.bias_ih_l0 + rnn.bias_hh_l0).double()
    with torch.no_grad():
        for t in range(len(ids)):
            z = w_ih @ x[t] + w_hh @ h + b
            i, f = torch.sigmoid(z[:H]), torch.sigmoid(z[H:2 * H])
            g, o = torch.tanh(z[2 * H:3 * H]), torch.sigmoid(z[3 * H:])
            if t >= int(t_f):
                f = torch.ones(H, dtype=torch.float64)
            c = f * c + i * g
            h = o * torch.tanh(c)
        p = torch.sigmoid(tm.model.readout.weight.double() @ h + tm.model.readout.bias.double())
    assert tm.config.num_layers == 1 and float(p) == pytest.approx(want, abs=1e-5)


def test_why_plain_rnns_forget_says_the_gradients_torch_gives(both):
    steps = both["rnn-forgets"]
    up = steps[0].numbers["word"]
    for name, got in (("rnn-rt", steps[4].numbers["share_rnn"]), ("lstm-rt", steps[4].numbers["share_lstm"])):
        tm = zoo.load_bundled(name)
        ids = torch.tensor([tm.encode(tours.FORGET_SENTENCE).ids])
        kept = {}
        def keep(module, inputs, out, kept=kept):
            out.retain_grad()
            kept["e"] = out

        hook = tm.model.embedding.register_forward_hook(keep)
        try:
            with torch.enable_grad():
                tm.model.requires_grad_(True)
                tm.model(ids).sum().backward()
        finally:
            hook.remove()
            tm.model.requires_grad_(False)
            tm.model.zero_grad(set_to_none=True)
        norms = kept["e"].grad[0].norm(dim=1)
        assert got == pytest.approx(float(norms[up] / norms[-1]), rel=1e-3), name
    q = steps[4].question
    assert q.choices[q.answer] == ("LSTM" if steps[4].numbers["share_lstm"] > steps[4].numbers["share_rnn"]
                                   else "SimpleRNN")
    per, k, share = (steps[5].numbers[x] for x in ("per_step", "k", "share"))
    assert per ** k == pytest.approx(share, rel=1e-6)  # the per-step factor is the share's k-th root
    assert steps[5].question.choices[steps[5].question.answer] == "1e-06"
    assert "wonderful" in steps[0].params["s"] and "home" not in steps[1].params["s"]  # the start alone: no spoiler


def test_any_sentence_gives_a_tour_or_one_sentence_why_not():
    for text in ("😀 🎬 😡 terrible but 好", "<b>great</b> **film** " * 40, "a b"):
        for tid in tours.TOURS:
            assert len(tours.steps(tid, text)) >= 2
    with pytest.raises(ValueError):
        tours.steps("lstm-keeps", "good")


def test_the_command_line_twin_prints_the_same_steps():
    r = run_cli("tour", "--id", "lstm-keeps", "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert [s["text"] for s in got["steps"]] == [s.text for s in tours.steps("lstm-keeps")]
