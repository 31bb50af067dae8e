"""Sentences computed from a trace (playground/explain/narrate.py), checked against the trace itself on
every bundled model and on hand-made curves."""
import dataclasses
import json
import re

import numpy as np
import pytest

from playground.core import cells, zoo
from playground.core.trace import trace
from playground.explain import narrate
from tests.conftest import random_model

SENTENCES = ["I expected to hate it but I loved it", "I expected to hate this movie but I loved every minute of it",
             "not bad at all", "The food was cold and the waiter was rude", "good bad good bad good bad good"]


@pytest.fixture(scope="module", params=zoo.bundled_names() or ["(none)"])
def bundled(request):
    if request.param == "(none)":
        pytest.skip("no bundled models")
    return zoo.load_bundled(request.param)


def _curve(tr) -> np.ndarray:
    return np.concatenate([[tr.prob0], tr.step_probs])  # (T + 1,): the prior, then after each token


@pytest.mark.parametrize("text", SENTENCES)
def test_story_names_the_largest_move_and_every_crossing_on_every_bundled_model(bundled, text):
    tr = trace(bundled.model, bundled.vocab, text)
    story = narrate.curve_story(tr)
    curve = _curve(tr)
    steps = np.diff(curve)  # (T,) each token's change, the first measured from the prior
    assert story.prior == tr.prob0 and story.final == tr.prob and story.n_tokens == tr.n_steps
    # the step changes chain from the prior to the verdict
    ms = narrate.moves(tr)
    assert [m.before for m in ms] == list(curve[:-1]) and [m.after for m in ms] == list(curve[1:])
    # the biggest move: no token moves P(positive) more
    b = story.biggest
    assert abs(b.delta) == np.abs(steps).max() and b.token == tr.tokens[b.t]
    assert b.before == curve[b.t] and b.after == curve[b.t + 1]
    # crossings: exactly the tokens after which the verdict is on the other side of 0.5
    sides = curve >= 0.5
    assert [m.t for m in story.crossings] == [t for t in range(tr.n_steps) if sides[t] != sides[t + 1]]
    # the sentence says these numbers and names these words
    s = story.sentence()
    assert f"at “{b.token}” (token {b.t + 1})" in s
    assert f"{100 * abs(b.delta):.1f} points" in s and narrate.pct(tr.prob0) in s
    for m in story.crossings[:narrate.MAX_LISTED]:
        assert f"to {narrate.side(m.after)} at “{m.token}” (token {m.t + 1})" in s
    assert s.endswith(f"It ends {narrate.side(tr.prob)} at {narrate.pct(tr.prob)}.")


def test_the_first_tokens_move_is_measured_from_the_prior(small_vocab):
    m = random_model("lstm", vocab_size=len(small_vocab), seed=3, scale=1.0)
    tr = trace(m, small_vocab, "good")
    story = narrate.curve_story(tr)
    assert story.biggest.t == 0 and story.biggest.before == tr.prob0
    assert story.biggest.delta == pytest.approx(tr.step_probs[0] - tr.prob0, abs=0)
    crossed = (tr.prob0 >= 0.5) != (tr.step_probs[0] >= 0.5)
    assert bool(story.crossings) == crossed


def _story(prior, probs, tokens=None):
    tokens = tokens or [f"w{i}" for i in range(len(probs))]
    ms = [narrate.Move(t, tokens[t], float(a), float(b)) for t, (a, b) in
          enumerate(zip([prior, *probs[:-1]], probs))]
    return narrate.CurveStory(prior, probs[-1] if probs else prior, len(probs),
                              max(ms, key=lambda m: abs(m.delta)) if ms else None,
                              tuple(m for m in ms if m.crosses))


def test_sentence_words_for_no_crossing_many_crossings_and_nothing_read():
    calm = _story(0.6, [0.7, 0.65, 0.9]).sentence()
    assert "never crosses 0.5: it stays positive" in calm and "“w2” (token 3)" in calm and "rises by 25.0" in calm
    zigzag = _story(0.4, [0.6, 0.4, 0.6, 0.4, 0.6]).sentence()
    assert "crosses 0.5 five times" in zigzag and "and 2 more" in zigzag and "“w3”" not in zigzag
    assert "to positive at “w0” (token 1), to negative at “w1” (token 2)" in zigzag
    assert "crosses 0.5 once: to negative" in _story(0.6, [0.3]).sentence()
    assert "crosses 0.5 12 times" in _story(0.4, [0.6, 0.4] * 6).sentence()
    empty = _story(0.49, []).sentence()
    assert "49.0%" in empty and "read nothing" in empty and "biggest" not in empty
    flat = _story(0.5, [0.5, 0.5]).sentence()
    assert "No token moves it" in flat and "never crosses" in flat


def test_sentence_escapes_token_text_only():
    s = _story(0.5, [0.9], tokens=["*bold*"]).sentence(escape=lambda t: t.replace("*", "\\*"))
    assert "“\\*bold\\*”" in s and "*bold*”" not in s.replace("\\*", "")


def test_story_of_an_empty_trace(small_vocab):
    m = random_model("gru", vocab_size=len(small_vocab))
    tr = trace(m, small_vocab, "   ")  # nothing to read ("!!! ???" would read six unknown tokens)
    story = narrate.curve_story(tr)
    assert tr.n_steps == 0
    assert story.biggest is None and story.crossings == () and story.final == tr.prob0
    d = story.as_dict()
    assert d["sentence"] == story.sentence() and d["prior"] == tr.prob0


def test_as_dict_round_trips_the_moves(bundled):
    story = narrate.curve_story(trace(bundled.model, bundled.vocab, SENTENCES[0]))
    d = story.as_dict()
    assert d["biggest"] == {**dataclasses.asdict(story.biggest), "delta": story.biggest.delta,
                            "crosses": story.biggest.crosses, "to": narrate.side(story.biggest.after)}
    assert [c["t"] for c in d["crossings"]] == [m.t for m in story.crossings]


# --- read it with me: step stories (narrate.step_story / step_stories) --------------------------
# What each clause of the cells' wording claims about the value beside it, checked here on the raw
# (unrounded) value, independently of the bands in cells.py. Keys are phrases of the clauses.
GATE_TRUTH = {
    "almost none of": lambda v: v < 0.1, "less than half of": lambda v: v < 0.5,
    "about half of": lambda v: 0.44 < v < 0.56, "more than half of": lambda v: v > 0.5,
    "almost all of the candidate": lambda v: v >= 0.89, "almost all of tanh": lambda v: v >= 0.89,
    "almost all of the previous": lambda v: v >= 0.89,
    "dropped almost all": lambda v: v < 0.1, "dropped most": lambda v: v < 0.5,
    "kept about half": lambda v: 0.44 < v < 0.56,
    "kept most": lambda v: v > 0.5, "kept almost all of what": lambda v: v >= 0.89,
    "became almost entirely the candidate": lambda v: v < 0.1, "took more from the candidate": lambda v: v < 0.5,
    "took about half from": lambda v: 0.44 < v < 0.56, "kept more of its old value": lambda v: v > 0.5,
    "kept almost all of its old value": lambda v: v >= 0.89,
}
PRE_TRUTH = {  # a SimpleRNN's pre-activation a, with h = tanh(a)
    "saturated near -1": lambda a: a < -1.99 and 1 - np.tanh(a) ** 2 < 0.08,
    "saturated near +1": lambda a: a > 1.99 and 1 - np.tanh(a) ** 2 < 0.08,
    "nearly straight middle": lambda a: 1 - np.tanh(a) ** 2 > 0.78,
    "tanh's bend": lambda a: 0.49 < abs(a) < 2.0,
}
NUMBER = re.compile(r"[-+]?\d+\.\d+")


def _truths(clause: str, v: float) -> list[bool]:
    table = PRE_TRUTH if any(k in clause for k in PRE_TRUTH) else GATE_TRUTH
    hits = [ok(v) for phrase, ok in table.items() if phrase in clause]
    assert hits, f"no truth known for {clause!r}"
    return hits


@pytest.mark.parametrize("key", cells.archs())
def test_every_cells_wording_is_true_of_every_value_it_is_printed_with(key):
    c = cells.cell(key)
    assert c.story, f"{c.title} names nothing in its step story"
    for name in c.story:
        q = c.quantity(name)
        grid = np.linspace(0, 1, 4001) if q.kind == cells.GATE else np.linspace(-6, 6, 4801)
        fields = {n: 0.25 for n in (*c.names, "h")} | {f"{s}_prev": -0.5 for s in c.state}
        seen = set()
        for v in grid:
            clause = q.reading.clause(v, {**fields, "h": float(np.tanh(v)) if q.kind != cells.GATE else 0.25})
            seen.add(q.reading.band(v))
            assert all(_truths(clause, v)), (q.title, v, clause)
        assert seen == set(range(len(q.reading.clauses)))  # every band is reachable


def _named_numbers(tr, acc, s) -> set[str]:
    """Every number a step's sentences may print, formatted from the trace and account directly."""
    t = s.t
    curve = np.concatenate([[tr.prob0], tr.step_probs])
    logits = np.concatenate([[acc.prior_logit], acc.step_logits])
    col = acc.contributions[:, t]
    order = np.argsort(-np.abs(col), kind="stable")[:narrate.TOP_UNITS]
    last = tr.last
    out = {narrate.pct(curve[t])[:-1], narrate.pct(curve[t + 1])[:-1], "0.5"}
    logit_like = [logits[t], logits[t + 1], col.sum(), col.sum() - col[order].sum(), *col[order],
                  *tr.readout_w[order]]
    out |= {f"{x:+.3f}" for x in logit_like} | {f"{abs(col[order[-1]]):.3f}"}
    signed, plain = [], []
    for u in order:
        for n in (*tr.gate_names, "h"):
            vals = last.h if n == "h" else last.gates[n]
            signed += [vals[t, u], vals[t - 1, u] if t else 0.0]
            plain += [vals[t, u]]
    out |= {f"{x:+.2f}" for x in signed} | {f"{x:.2f}" for x in plain} | {f"{x:.2f}" for x in np.abs(signed)}
    # constants in the cell's clauses ("slope above 0.78")
    for n in tr.cell.story:
        for clause in tr.cell.quantity(n).reading.clauses:
            out |= set(NUMBER.findall(re.sub(r"\{[^}]*\}", "", clause)))
    return out


@pytest.mark.parametrize("text", SENTENCES[:3] + ["qwzx the movie was good"])
def test_step_stories_say_the_traces_numbers_on_every_bundled_model(bundled, text):
    from playground.explain.account import account
    tr = trace(bundled.model, bundled.vocab, text)
    acc = account(tr)
    stories = narrate.step_stories(tr, acc)
    assert [s.t for s in stories] == list(range(tr.n_steps))
    curve = np.concatenate([[tr.prob0], tr.step_probs])
    last = tr.last
    for s in stories:
        t = s.t
        col = acc.contributions[:, t]  # (H,)
        assert s.token == tr.tokens[t] and s.oov == tr.oov[t]
        assert s.p_before == curve[t] and s.p_after == curve[t + 1]
        assert s.move == pytest.approx(col.sum(), abs=1e-9)  # the word's move is its column's sum
        # the units named are the top contributors, largest |C[u, t]| first, with the trace's values
        sizes = np.abs(col)
        named = [u.unit for u in s.units]
        assert len(named) == narrate.TOP_UNITS and len(set(named)) == len(named)
        assert [sizes[u] for u in named] == sorted(sizes[named], reverse=True)
        assert sizes[named[-1]] >= np.delete(sizes, named).max()
        for u in s.units:
            assert u.contribution == col[u.unit] and u.h_after == last.h[t, u.unit]
            assert u.h_before == (last.h[t - 1, u.unit] if t else 0.0)
            assert u.values == {**{n: last.gates[n][t, u.unit] for n in tr.gate_names}, "h": last.h[t, u.unit]}
        p_sent, who, why = s.sentences
        assert p_sent.startswith(f"At “{tr.tokens[t]}”{'°' if tr.oov[t] else ''} (token {t + 1} of {tr.n_steps})")
        b, a = narrate.pct(curve[t]), narrate.pct(curve[t + 1])
        assert (f"stayed at {a}" if a == b else f"from {b} to {a}") in p_sent
        assert ("crossing 0.5" in p_sent) == (narrate.side(curve[t]) != narrate.side(curve[t + 1]))
        assert f"the logit moved {col.sum():+.3f}" in p_sent
        # who: the wording follows the top unit's share of the move
        c, m = col[named[0]], col.sum()
        if "No single unit" in who:
            assert 0 < c / m <= 0.5
        elif "did most of it" in who:
            assert c / m > 0.5
        else:
            assert "against" in who and c * m <= 0
        assert f"unit {named[0]}" in who.lower() and f"({col[named[1]]:+.3f})" in who
        # why: the top unit's h and each story quantity, with words true of the value
        top = named[0]
        assert f"Unit {top}'s h went from {(last.h[t - 1, top] if t else 0.0):+.2f} to {last.h[t, top]:+.2f}" in why
        for part, n in zip(why.split(": ", 1)[1].split("; "), tr.cell.story):
            q = tr.cell.quantity(n)
            v = last.gates[n][t, top]
            assert f"its {q.title} was {q.show(v)}, " in part
            assert all(_truths(part, v)), (part, v)
        # and no number appears that the trace does not hold at this step
        allowed = _named_numbers(tr, acc, s)
        for x in NUMBER.findall(" ".join(s.sentences)):
            assert x in allowed or x.lstrip("+") in allowed, (x, s.sentences)


def test_who_says_most_no_single_unit_or_against_each_when_true(small_vocab):
    seen = set()
    for seed in range(6):
        for arch in cells.archs():
            m = random_model(arch, vocab_size=len(small_vocab), hidden=3, seed=seed, scale=1.0)
            tr = trace(m, small_vocab, "good bad not great awful movie it was loved hated")
            for s in narrate.step_stories(tr):
                c, mv = s.units[0].contribution, s.move
                who = s.sentences[1]
                kind = "none" if "No single unit" in who else "most" if "did most of it" in who else "against"
                seen.add(kind)
                assert {"most": c / mv > 0.5, "none": 0 < c / mv <= 0.5, "against": c * mv <= 0}[kind]
                assert "the other 0 unit" not in who and "other 2 units" not in who  # 3 units, 3 named
    assert seen == {"most", "none", "against"}


def test_step_story_escapes_tokens_handles_nothing_read_and_bad_positions(small_vocab):
    m = random_model("lstm", vocab_size=len(small_vocab))
    tr = trace(m, small_vocab, "good movie")

    def esc(x):
        return f"<{x}>"

    s = narrate.step_story(tr, t=1, escape=esc)
    assert s.sentences[0].startswith("At “<movie>”") and "<" not in " ".join(s.sentences[1:])
    assert s == narrate.step_stories(tr, escape=esc)[1]
    json.dumps(s.as_dict())  # plain numbers and strings
    assert s.as_dict()["units"][0]["unit"] == s.units[0].unit and s.as_dict()["sentences"] == list(s.sentences)
    for bad in (-1, tr.n_steps):
        with pytest.raises(IndexError):
            narrate.step_story(tr, t=bad)
    empty = trace(m, small_vocab, "")
    assert empty.n_steps == 0 and narrate.step_stories(empty) == []


def test_a_story_quantity_without_words_is_refused():
    bad = dataclasses.replace(cells.LSTM, key="lstm-x", story=("g",))  # the candidate g has no Reading
    with pytest.raises(ValueError, match="story"):
        cells.register(bad)
    assert "lstm-x" not in cells.CELLS


# --- the exact account in words (issue 11) ------------------------------------------------------------
@pytest.mark.parametrize("text", SENTENCES)
def test_account_story_says_the_accounts_numbers_on_every_bundled_model(bundled, text):
    from playground.explain.account import account

    tr = trace(bundled.model, bundled.vocab, text)
    acc = account(tr)
    story = narrate.account_story(tr, top=16)
    size = np.abs(acc.unit_shares)  # (H,)
    # the unit with the largest share, and its largest single move
    assert story.unit == int(np.argmax(size)) and story.share == acc.unit_shares[story.unit]
    assert abs(story.move) == np.abs(acc.contributions[story.unit]).max() and story.token == tr.tokens[story.t]
    assert story.word_move == pytest.approx(acc.step_logits[story.t] - (
        acc.step_logits[story.t - 1] if story.t else acc.prior_logit), abs=1e-9)
    # the top 16 hold exactly that part of sum |share|; fewer than `half` units never make half, `half` do
    assert story.top_fraction == pytest.approx(np.sort(size)[::-1][:16].sum() / size.sum(), abs=1e-12)
    by_size = np.sort(size)[::-1]
    assert by_size[:story.half].sum() >= 0.5 * size.sum() > by_size[:story.half - 1].sum()
    # the word that moved the logit most, and who moved it most there
    assert abs(story.big_move) == np.abs(acc.word_moves).max()
    col = acc.contributions[:, story.big_t]
    assert story.big_unit_move == col[story.big_unit] and abs(story.big_unit_move) == np.abs(col).max()
    s = story.sentence()
    for said in (f"from {acc.prior_logit:+.3f} (the prior) to {acc.logit:+.3f}", f"Unit {story.unit} holds",
                 f"{story.share:+.3f}", f"{story.move:+.3f} at “{story.token}” (token {story.t + 1})",
                 f"The top 16 of {tr.hidden_size} units hold {narrate.pct(story.top_fraction)}",
                 f"half of it takes {story.half} unit"):
        assert said in s, (said, s)
    short = story.short()
    assert f"“{story.big_token}” ({story.big_move:+.3f} logit)" in short
    assert f"from {narrate.units_for_half(col)} of {tr.hidden_size} units, the most from unit {story.big_unit}" in short
    assert story.as_dict()["sentence"] == s


@pytest.mark.parametrize("text", SENTENCES[:3])
def test_word_story_names_the_unit_that_moved_the_word_most_and_its_gates_there(bundled, text):
    from playground.explain.account import account

    tr = trace(bundled.model, bundled.vocab, text)
    acc = account(tr)
    for t in range(tr.n_steps):
        s = narrate.word_story(tr, t, acc)
        u = int(np.argmax(np.abs(acc.contributions[:, t])))
        before = tr.prob0 if t == 0 else tr.step_probs[t - 1]
        assert s.startswith(f"“{tr.tokens[t]}” (token {t + 1}) moved the logit by {acc.word_moves[t]:+.3f} "
                            f"(P(positive) from {narrate.pct(before)} to {narrate.pct(tr.step_probs[t])})")
        assert f"Unit {u} moved it most, by {acc.contributions[u, t]:+.3f}" in s
        h_prev = tr.last.h[t - 1, u] if t else 0.0
        assert f"its h went from {h_prev:+.3f} to {tr.last.h[t, u]:+.3f}" in s
        for q in tr.cell.quantities:  # every quantity of the cell, named from cells.py, at this unit and word
            v = tr.last.gates[q.name][t, u]
            assert f"{q.title} {v:.2f}" in s or f"{q.title} {v:+.2f}" in s
    with pytest.raises(IndexError):
        narrate.word_story(tr, tr.n_steps, acc)


def test_account_story_of_nothing_read_and_escaped_tokens(small_vocab):
    from playground.core.trace import trace_ids

    from .test_trace import _enc

    m = random_model("gru", vocab_size=len(small_vocab))
    empty = narrate.account_story(trace_ids(m, _enc([])))
    assert empty.unit is None and "read nothing" in empty.sentence() and "read nothing" in empty.short()
    tr = trace(m, small_vocab, "the film was good")
    story = narrate.account_story(tr)
    mark = lambda t: f"[{t}]"  # noqa: E731 - stands in for the page's Markdown escaper
    assert f"“[{story.token}]”" in story.sentence(mark) and f"“[{story.big_token}]”" in story.short(mark)
    assert narrate.word_story(tr, 0, escape=mark).startswith(f"“[{tr.tokens[0]}]”")
