"""Interventions, what-if edits and ablations: exact where they claim to be (playground/dynamics/intervene.py,
whatif.py, ablate.py), and their command lines."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from playground.cli.main import main
from playground.core import cells, zoo
from playground.core.data import load
from playground.core.models import ARCHS, ModelConfig, build
from playground.core.text import Encoded
from playground.core.trace import fused_prob, trace, trace_ids
from playground.dynamics.ablate import _Runner, ablation, labelled_sample
from playground.dynamics.intervene import clamp, force_gate, forceable_gates, intervene, intervene_trace, zero_top
from playground.dynamics.typical import sample_texts
from playground.dynamics.whatif import OPPOSITES, branch, branch_trace, suggest
from playground.explain.account import account
from tests.conftest import random_model, run_cli

ROOT = Path(__file__).resolve().parents[2]
needs_models = pytest.mark.skipif("lstm-rt" not in zoo.bundled_names(), reason="no bundled models")
CASES = [(arch, layers) for arch in ARCHS for layers in (1, 2)]
T = 24


def _enc(ids):
    ids = tuple(int(i) for i in ids)
    return Encoded(ids, tuple(f"w{i}" for i in ids), tuple(i == 1 for i in ids), len(ids))


def _traced(arch, layers, seed=0, n=T):
    m = random_model(arch, layers, vocab_size=30, hidden=9, seed=seed)
    return m, trace_ids(m, _enc(np.random.default_rng(seed).integers(1, 30, n)))


def _assert_same_before(a, b, k):
    """Every recorded array of every layer, and the readout, are bitwise equal before token k."""
    for la, lb in zip(a.layers, b.layers):
        assert np.array_equal(la.h[:k], lb.h[:k])
        for q in la.gates:
            assert np.array_equal(la.gates[q][:k], lb.gates[q][:k])
        for blk in la.parts:
            assert all(np.array_equal(x[:k], y[:k]) for x, y in zip(la.parts[blk], lb.parts[blk]))
    assert np.array_equal(a.step_probs[:k], b.step_probs[:k])


def _assert_traces_close(a, b, atol):
    assert a.ids == b.ids
    for la, lb in zip(a.layers, b.layers):
        np.testing.assert_allclose(la.h, lb.h, rtol=0, atol=atol)
        for q in la.gates:
            np.testing.assert_allclose(la.gates[q], lb.gates[q], rtol=0, atol=atol)
    np.testing.assert_allclose(a.step_probs, b.step_probs, rtol=0, atol=atol)


# --- interventions --------------------------------------------------------------------------------
@pytest.mark.parametrize("arch,layers", CASES)
def test_clamping_a_unit_to_its_own_value_changes_nothing(arch, layers):
    m, tr = _traced(arch, layers)
    for layer in range(layers):
        for state in cells.cell(arch).state:
            own = (tr.layers[layer].h if state == "h" else tr.layers[layer].gates[state])[9, 4]
            o = intervene_trace(m, tr, clamp(9, 4, float(own), state, layer=layer))
            _assert_traces_close(o.changed, tr, 1e-9)
            assert o.max_change <= 1e-9
            # and another value does change the rest (the clamp is not ignored)
            other = intervene_trace(m, tr, clamp(9, 4, float(np.clip(-own, -1, 1)) or 0.9, state, layer=layer))
            assert np.abs(other.changed.last.h[10:] - tr.last.h[10:]).max() > 1e-6


@pytest.mark.parametrize("arch,layers", CASES)
def test_steps_before_the_token_are_bitwise_unchanged(arch, layers):
    m, tr = _traced(arch, layers, seed=1)
    gates = forceable_gates(cells.cell(arch))
    ivs = [clamp(7, 2, 0.8, layer=0), clamp(11, 5, -0.5, hold=True), zero_top(7, 3)]
    ivs += [force_gate(7, g, v, unit) for g in gates for v in (0.0, 1.0, 0.3) for unit in (None, 3)]
    for iv in ivs:
        o = intervene_trace(m, tr, iv)
        k = iv.token
        _assert_same_before(o.changed, tr, k)
        assert o.start == k and np.all(o.delta[:k] == 0) and o.max_change > 0
        assert np.abs(o.changed.last.h[k:] - tr.last.h[k:]).max() > 0  # it did act from k on


@pytest.mark.parametrize("arch,layers", CASES)
def test_clamp_at_one_token_or_held_and_zero_top(arch, layers):
    m, tr = _traced(arch, layers, seed=2)
    at = intervene_trace(m, tr, clamp(5, 1, 0.25)).changed.last.h
    held = intervene_trace(m, tr, clamp(5, 1, 0.25, hold=True)).changed.last.h
    assert at[5, 1] == 0.25 and held[5, 1] == 0.25 and np.all(held[5:, 1] == 0.25)
    assert not np.all(at[6:, 1] == 0.25)  # at K only: the unit runs freely afterwards
    o = intervene_trace(m, tr, zero_top(4, 3))
    top = tuple(int(u) for u in account(tr).ranking("verdict")[:3])
    assert o.interventions[0].units == top
    assert np.all(o.changed.last.h[4:, list(top)] == 0) and np.all(o.changed.last.h[:4] == tr.last.h[:4])


@pytest.mark.parametrize("layers", [1, 2])
def test_a_forget_gate_forced_to_one_keeps_the_cell(layers):
    m, tr = _traced("lstm", layers, seed=3)
    keep = cells.cell("lstm").keep
    for unit in (2, None):
        lt = intervene_trace(m, tr, force_gate(6, keep.gate, 1.0, unit)).changed.last
        g, c = lt.gates, lt.gates[keep.carrier]
        cols = [2] if unit is not None else list(range(tr.hidden_size))
        assert np.all(g["f"][6:, cols] == 1.0)
        # nothing is forgotten: c_t = c_(t-1) + i_t g_t, exactly
        assert np.array_equal(c[6:, cols], c[5:-1, cols] + (g["i"] * g["g"])[6:, cols])
    # with the input gate shut too, the cell holds its value exactly
    lt = intervene_trace(m, tr, force_gate(6, "f", 1.0, 2), force_gate(6, "i", 0.0, 2)).changed.last
    assert np.all(lt.gates["c"][6:, 2] == tr.last.gates["c"][5, 2])
    # a forget gate of 0 keeps nothing: c_t = i_t g_t
    lt = intervene_trace(m, tr, force_gate(6, "f", 0.0, 2)).changed.last
    assert np.array_equal(lt.gates["c"][6:, 2], (lt.gates["i"] * lt.gates["g"])[6:, 2])


@pytest.mark.parametrize("layers", [1, 2])
def test_a_gru_update_gate_forced_to_one_keeps_h(layers):
    m, tr = _traced("gru", layers, seed=4)
    for layer in range(layers):
        o = intervene_trace(m, tr, force_gate(8, "z", 1.0, 5, layer=layer))
        h = o.changed.layers[layer].h
        assert np.all(h[8:, 5] == tr.layers[layer].h[7, 5]) and np.all(o.changed.layers[layer].gates["z"][8:, 5] == 1)
        assert not np.all(h[8:, 4] == tr.layers[layer].h[7, 4])  # other units still move
        h0 = intervene_trace(m, tr, force_gate(8, "z", 0.0, 5, layer=layer)).changed.layers[layer]
        assert np.array_equal(h0.h[8:, 5], h0.gates["n"][8:, 5])  # z = 0: h is the candidate
    # every unit of the last layer frozen: the readout sees the state after token 7 to the end
    probs = intervene_trace(m, tr, force_gate(8, "z", 1.0)).changed.step_probs
    assert np.all(probs[8:] == probs[7]) and probs[7] == tr.step_probs[7]


def test_a_gate_the_step_computes_otherwise_is_refused():
    gru = cells.cell("gru")

    def step(inp, rec, prev):
        out = gru.step(inp, rec, prev)
        return {**out, "z": cells.sigmoid(2 * (inp["z"] + rec["z"]) + 0.5)}  # not σ(input + recurrent)

    cells.register(dataclasses.replace(gru, key="odd", title="odd GRU", step=step))
    try:
        m = build(ModelConfig(arch="odd", vocab_size=30, embed_dim=8, hidden_size=5), seed=0).eval()
        tr = trace_ids(m, _enc([3, 4, 5, 6]))
        with pytest.raises(ValueError, match="cannot force z"):
            intervene_trace(m, tr, force_gate(1, "z", 0.3))
        intervene_trace(m, tr, force_gate(1, "r", 0.3))  # its reset gate is still σ(...)
    finally:
        del cells.CELLS["odd"]


@pytest.mark.parametrize("iv,match", [
    (clamp(24, 0, 0.1), "token 24 is out of range"), (clamp(-1, 0, 0.1), "token -1 is out of range"),
    (clamp(0, 9, 0.1), "unit 9 is out of range"), (clamp(0, 0, 1.5), r"lies in \[-1, 1\]"),
    (clamp(0, 0, 0.1, "c"), "no state 'c'"), (clamp(0, 0, 0.1, layer=2), "layer 2 is out of range"),
    (force_gate(0, "f", 1.0), "no gate 'f'"), (force_gate(0, "n", 1.0), "no gate 'n'"),
    (force_gate(0, "z", 1.5), r"lies in \[0, 1\]"), (zero_top(0, 10), "top-k must be between 1 and 9"),
    (dataclasses.replace(clamp(0, 0, 0.1), token=1.5), "whole numbers"), (clamp(np.int64(30), 0, 0.1), "token 30"),
])
def test_bad_interventions_are_clear_errors(iv, match):
    m, tr = _traced("gru", 2)
    with pytest.raises(ValueError, match=match):
        intervene_trace(m, tr, iv)


# --- what-if edits --------------------------------------------------------------------------------
@pytest.mark.parametrize("arch,layers", CASES)
def test_an_edit_branch_shares_the_prefix_exactly(arch, layers):
    m, tr = _traced(arch, layers, seed=5)
    ids = list(tr.ids)
    other = lambda v: v % 29 + 1  # noqa: E731 - another id in 1..29
    edits = {"swap": (ids[:10] + [other(ids[10])] + ids[11:], 10), "remove": (ids[:10] + ids[11:], 10),
             "insert": (ids[:10] + [other(ids[10])] + ids[10:], 10), "append": (ids + [3, 4], T),
             "cut": (ids[:10], 10), "first": ([other(ids[0])] + ids[1:], 0)}
    for name, (new, k) in edits.items():
        if name == "remove" and ids[10] == ids[11]:
            k = 11  # removing one of two equal ids changes the sequence one later
        b = branch_trace(m, tr, _enc(new))
        assert b.branch == k
        _assert_same_before(b.edited, tr, k)  # bitwise, every layer and the readout
        _assert_traces_close(b.edited, trace_ids(m, _enc(new)), 1e-12)  # and it is the edited text's trace
        d = b.share_change  # the units' changes add up to the change of the final logit
        assert abs(d.sum() - (account(b.edited).logit - account(tr).logit)) < 1e-12
        xo, xe = b.positions()
        assert len(xo) == T and len(xe) == len(new) and list(xo[:k]) == list(xe[:k]) == list(range(k))
        if b.suffix:
            assert xo[-1] == xe[-1] and xo[-b.suffix] == xe[-b.suffix]
    assert branch_trace(m, tr, _enc(ids)).identical


def test_suggestions_follow_the_stated_rules(small_vocab):
    m = random_model("lstm", vocab_size=len(small_vocab))
    text = "The movie, sadly, was good!"
    sugg = suggest(m, small_vocab, text)
    kinds = [e.kind for e in sugg]
    assert sugg == suggest(m, small_vocab, text)  # deterministic
    assert sugg[0].kind == "swap" and sugg[0].text == "The movie, sadly, was bad!" and OPPOSITES["good"] == "bad"
    tr = trace(m, small_vocab, text)
    moved = int(np.argmax(np.abs(account(tr).word_moves)))
    assert sugg[kinds.index("remove")].index == moved
    ins = sugg[kinds.index("insert")]
    assert ins.text == "The movie, sadly, was not good!" and ins.label == "not before good"
    # "great"'s opposite "terrible" is not in this vocabulary: no swap; "not" already negates it and follows
    # "is": no insert; the word that moved the logit most, and the negation "not" if that is another word
    text = "it is not great"
    moved = int(np.argmax(np.abs(account(trace(m, small_vocab, text)).word_moves)))
    assert [(e.kind, e.index) for e in suggest(m, small_vocab, text)] == [("remove", moved)] + (
        [("remove", 2)] if moved != 2 else [])


# --- ablation -------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch,layers", CASES)
def test_ablating_by_weights_is_holding_h_at_zero(arch, layers, small_vocab):
    m = random_model(arch, layers, vocab_size=len(small_vocab), hidden=9, seed=6)
    texts = ["the movie was good", "awful film", "it was not bad", "loved it", "", "a"]
    runner = _Runner(m, small_vocab, texts)
    logits, _ = runner.run([1, 4])
    for text, logit in zip(texts, logits):
        tr = trace(m, small_vocab, text)
        if not tr.n_steps:
            assert logit == tr.readout_b
            continue
        o = intervene_trace(m, tr, clamp(0, 1, 0.0, hold=True), clamp(0, 4, 0.0, hold=True))
        assert abs(logit - account(o.changed).logit) < 1e-5
    assert np.allclose(runner.run()[0][:4], [account(trace(m, small_vocab, t)).logit for t in texts[:4]], atol=1e-5)


@needs_models
def test_ablation_accuracy_with_nothing_ablated_is_the_models_accuracy():
    tm = zoo.load_bundled("rnn-rt")
    seen = []
    a = ablation(tm.model, tm.vocab, "rt", n_texts=40, top=3, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 1 + 3 + 4  # unablated, 3 alone, top 5 .. 50
    split = load("rt", "test")
    texts = sample_texts("rt", 40)
    right = [(fused_prob(tm.model, tm.vocab.encode(t, tm.config.max_len).ids) >= 0.5) ==
             bool(split.labels[split.texts.index(t)]) for t in texts]
    assert a.accuracy == np.mean(right) and a.n_texts == 40
    assert list(labelled_sample("rt", 40)[1]) == [split.labels[split.texts.index(t)] for t in texts]
    assert len(a.single) == 3 and a.together[1] == a.single[0] and set(a.together) == {1, 5, 10, 25, 50}
    assert sorted(a.ranking) == list(range(tm.config.hidden_size))
    assert list(a.mean_share) == sorted(a.mean_share, reverse=True)


# --- bundled model and command line ---------------------------------------------------------------
@needs_models
def test_bundled_model_branch_and_intervention():
    tm = zoo.load_bundled("lstm-rt")
    sugg = suggest(tm.model, tm.vocab, "not bad at all")
    assert sugg[0].label == "bad → good" and sugg[0].text == "not good at all"
    b = branch(tm.model, tm.vocab, "not bad at all", sugg[0].text)
    assert b.branch == 1 and b.suffix == 2 and b.edited.step_probs[0] == b.original.step_probs[0]
    o = intervene(tm.model, tm.vocab, "The food was cold and the waiter was rude", force_gate(3, "f", 1.0))
    assert np.array_equal(o.changed.step_probs[:3], o.original.step_probs[:3])


@needs_models
def test_cli_intervene_json():
    r = run_cli("intervene", "--model", "gru-rt", "--token", "1", "--unit", "3", "--value", "0.5", "--json", "not",
                "bad", "at", "all")
    out = json.loads(r.stdout)
    assert {"tokens", "original_step_probs", "step_probs", "intervention", "final_change", "max_change"} <= set(out)
    assert out["tokens"] == ["not", "bad", "at", "all"] and len(out["step_probs"]) == 4
    assert out["step_probs"][0] == out["original_step_probs"][0]
    assert out["intervention"][0]["kind"] == "clamp" and out["intervention"][0]["unit"] == 3
    assert out["final_change"] == pytest.approx(out["step_probs"][-1] - out["original_step_probs"][-1], abs=1e-15)


@needs_models
def test_cli_whatif_and_ablate_json(capsys):
    assert main(["whatif", "--model", "gru-rt", "--to", "not good at all", "--json", "not bad at all"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["branch"]["branch"] == 1 and out["suggestions"][0]["text"] == "not good at all"
    assert out["suggestions"][0]["prob"] == pytest.approx(out["branch"]["edited_prob"], abs=1e-15)
    assert main(["ablate", "--model", "rnn-rt", "--texts", "12", "--top", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_texts"] == 12 and len(out["single"]) == 2 and "1" in out["together"]


@needs_models
@pytest.mark.parametrize("args,pattern", [
    (["--token", "4", "--unit", "1", "--value", "0"], "token 4 is out of range"),
    (["--token", "0", "--unit", "128", "--value", "0"], "unit 128 is out of range"),
    (["--token", "0", "--gate", "z", "--gate-value", "1"], "has no gate 'z'"),
    (["--token", "0", "--gate", "f"], "--gate and --gate-value go together"),
    (["--token", "0"], "say what to do"),
    (["--token", "x", "--top-k", "1"], "invalid int value"),
])
def test_cli_bad_inputs_are_one_line_errors(args, pattern, capsys):
    assert main(["intervene", "--model", "lstm-rt", *args, "not bad at all"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and pattern in err[0]


def test_the_suggestion_is_the_fewest_top_units_that_flip_the_verdict_or_the_biggest_move():
    """Issue 28: State space opens on an intervention that visibly changes the verdict, chosen from the account."""
    from playground.dynamics.intervene import SUGGEST_K, suggest

    model, tr = _traced("gru", 1, seed=3)
    o = suggest(model, tr)
    k = o.interventions[0].k
    tries = {kk: intervene_trace(model, tr, zero_top(0, kk)) for kk in SUGGEST_K if kk <= tr.hidden_size}
    flips = [kk for kk, x in tries.items() if (x.changed.prob >= 0.5) != (tr.prob >= 0.5)]
    if flips:
        assert k == flips[0]
    else:
        assert abs(o.final_change) == max(abs(x.final_change) for x in tries.values())
    assert o.interventions[0].units == tuple(int(u) for u in account(tr).ranking("verdict")[:k])
