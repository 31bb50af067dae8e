import numpy as np
import pytest
import torch

from playground.core.trace import trace
from playground.explain.alignment import disagreement_summary
from playground.explain.equations import latex_lines, unit_step
from tests.conftest import random_model


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


# --- Compare: models that read different stretches of one text are aligned by full-text position ---
def _long_text(n: int = 300) -> str:
    """n distinct tokens (w0 ... w{n-1}), so a word's position names exactly one word."""
    return " ".join(f"w{i}" for i in range(n))


def _with_probs(tr, probs_by_position):
    """The same trace with its step probabilities set from a function of the FULL-text position."""
    import dataclasses

    start = tr.n_tokens_total - tr.n_steps
    return dataclasses.replace(tr, step_probs=np.array([probs_by_position(start + t) for t in range(tr.n_steps)]),
                               prob=probs_by_position(tr.n_tokens_total - 1))


def test_summary_compares_the_same_word_when_models_read_different_stretches(small_vocab):
    from playground.explain.alignment import read_start, text_axis

    text = _long_text(300)
    short = trace(random_model("rnn", vocab_size=len(small_vocab), max_len=200), small_vocab, text)
    full = trace(random_model("lstm", vocab_size=len(small_vocab), max_len=400), small_vocab, text)
    assert (short.n_steps, full.n_steps, read_start(short), read_start(full)) == (200, 300, 100, 0)
    # A: positive all along; B: positive up to word 250 (w249), negative from w250 on; C: like A
    a = _with_probs(short, lambda p: 0.9)
    b = _with_probs(full, lambda p: 0.9 if p < 250 else 0.1)
    c = _with_probs(full, lambda p: 0.8)
    s = disagreement_summary({"A": a, "B": b, "C": c})
    assert s == "A and C say positive, B says negative. Their readings part ways at “w250” (word 251)."
    # the word named is the word at that position in the full text, for every model
    axis = text_axis({"A": a, "B": b})
    assert (axis.start, axis.n_total, axis.tokens[250]) == (0, 300, "w250")
    assert a.tokens[250 - read_start(a)] == b.tokens[250 - read_start(b)] == "w250"


def test_summary_when_models_disagree_from_the_first_word_all_of_them_read(small_vocab):
    text = _long_text(300)
    short = trace(random_model("rnn", vocab_size=len(small_vocab), max_len=200), small_vocab, text)
    full = trace(random_model("gru", vocab_size=len(small_vocab), max_len=400), small_vocab, text)
    a = _with_probs(short, lambda p: 0.9)
    b = _with_probs(full, lambda p: 0.1)
    s = disagreement_summary({"A": a, "B": b})
    # A never read words 1-100, so "part ways at word 1" would be false: they disagree wherever both read
    assert s == ("A says positive, B says negative. They disagree already at “w100” (word 101), the first "
                 "word all of them read, and at every word after it.")


def test_summary_does_not_compare_different_texts(small_vocab):
    m = random_model("gru", vocab_size=len(small_vocab))
    a = _with_probs(trace(m, small_vocab, "good film good film"), lambda p: 0.9)
    b = _with_probs(trace(m, small_vocab, "bad movie bad movie"), lambda p: 0.1)
    assert disagreement_summary({"A": a, "B": b}) == "A says positive, B says negative."


def test_reading_notes_say_which_stretch_each_model_read(small_vocab):
    from playground.explain.alignment import reading_note

    text = _long_text(300)
    short = trace(random_model("rnn", vocab_size=len(small_vocab), max_len=200), small_vocab, text)
    full = trace(random_model("lstm", vocab_size=len(small_vocab), max_len=400), small_vocab, text)
    assert reading_note(short) == "read only the last 200 of 300 tokens (from word 101, “w100”)"
    assert reading_note(full) == "read all 300 tokens"


def test_correct_on_test_is_the_card_accuracy_sentence_by_sentence():
    from playground.core import data, zoo
    from playground.evaluation.heldout import correct_on_test

    if "rnn-rt" not in zoo.bundled_names():
        pytest.skip("no bundled models")
    tm = zoo.load_bundled("rnn-rt")
    right = correct_on_test(tm.model, tm.vocab, "rt")
    assert right.dtype == bool and len(right) == len(data.load("rt", "test"))
    assert right.mean() == pytest.approx(tm.test_accuracy, abs=6e-4)  # the card's TEST accuracy


# --- issue 28: Compare's first screen, each cell's keep gate at one word, side by side ---------------
def test_the_biggest_position_is_the_largest_move_of_any_model_among_the_words_all_read(small_vocab):
    from playground.explain.alignment import biggest_position

    text = _long_text(300)
    short = trace(random_model("rnn", vocab_size=len(small_vocab), max_len=200), small_vocab, text)
    full = trace(random_model("lstm", vocab_size=len(small_vocab), max_len=400), small_vocab, text)
    # B jumps by 0.8 at word 51 (read by B only) and by 0.3 at word 261; A moves by 0.05 at word 151
    a = _with_probs(short, lambda p: 0.5 if p < 150 else 0.55)
    b = _with_probs(full, lambda p: 0.1 if p < 50 else (0.9 if p < 260 else 0.6))
    assert biggest_position({"A": a, "B": b}) == 260  # word 51 is not one A read
    assert biggest_position({"B": b}) == 50


def test_keeps_at_shows_each_gated_cells_keep_gate_for_its_own_units_to_watch(small_vocab):
    from playground.explain.account import account
    from playground.explain.alignment import biggest_position, keeps_at
    from playground.explain.lesson import units_to_watch

    text = "good bad good film bad"
    trs = {name: trace(random_model(arch, vocab_size=len(small_vocab), seed=i, hidden=8), small_vocab, text)
           for i, (name, arch) in enumerate((("R", "rnn"), ("L", "lstm"), ("G", "gru")))}
    got = keeps_at(trs, 2)
    assert (got.position, got.token, got.n_total) == (2, "good", 5)
    r, lm, g = got.models
    assert r.gate is None and r.carrier is None and r.mean_all is None and "no gate keeps" in r.sentence
    for m, name, gate, carrier in ((lm, "L", "f", "c"), (g, "G", "z", "h")):
        tr = trs[name]
        units = [u for u, _ in units_to_watch(account(tr), 2)]
        assert list(m.units) == units and m.gate.name == gate and m.carrier == carrier
        np.testing.assert_allclose(m.gate.values, tr.last.gates[gate][2, units], rtol=0, atol=1e-12)
        assert m.mean_all == pytest.approx(float(tr.last.gates[gate][2].mean()), abs=1e-12)
        p = np.concatenate([[tr.prob0], tr.step_probs])
        assert (m.p_before, m.p_after) == pytest.approx((p[2], p[3]), abs=1e-12)
        assert f"kept {m.mean_all:.2f} of {carrier} on average over all 8 units" in m.sentence
        assert f"{m.gate.values[0]:.2f})." in m.sentence  # the unit that moved the word most, by value
    assert got.headline.startswith(f"At “good” (word 3 of 5), P(positive) moved R {100 * r.delta:+.1f}, "
                                   f"L {100 * lm.delta:+.1f}, G {100 * g.delta:+.1f} points.")
    assert got.headline.endswith(f"L's forget gate kept {lm.mean_all:.2f} of c; G's update gate kept "
                                 f"{g.mean_all:.2f} of h; R has no keep gate.")
    assert keeps_at(trs).position == biggest_position(trs)  # the default: the biggest move of any of them
    with pytest.raises(IndexError):
        keeps_at(trs, 5)
    empty = trace(random_model("gru", vocab_size=len(small_vocab)), small_vocab, "")
    with pytest.raises(ValueError):
        keeps_at({"A": empty})
