"""Sentences computed from a trace (playground/narrate.py), checked against the trace itself on
every bundled model and on hand-made curves."""
import dataclasses

import numpy as np
import pytest

from playground import narrate, zoo
from playground.trace import trace

from .conftest import random_model

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
    tr = trace(m, small_vocab, "!!! ???")
    story = narrate.curve_story(tr)
    assert tr.n_steps == 0 or story.biggest is not None
    if tr.n_steps == 0:
        assert story.biggest is None and story.crossings == () and story.final == tr.prob0
    d = story.as_dict()
    assert d["sentence"] == story.sentence() and d["prior"] == tr.prob0


def test_as_dict_round_trips_the_moves(bundled):
    story = narrate.curve_story(trace(bundled.model, bundled.vocab, SENTENCES[0]))
    d = story.as_dict()
    assert d["biggest"] == {**dataclasses.asdict(story.biggest), "delta": story.biggest.delta,
                            "crosses": story.biggest.crosses, "to": narrate.side(story.biggest.after)}
    assert [c["t"] for c in d["crossings"]] == [m.t for m in story.crossings]


@pytest.mark.parametrize("old, t, new, expected", [
    ("the film was dull".split(), 1, "I thought the film was good".split(), 3),  # same word, new place
    ("it was it".split(), 2, "it is it and it".split(), 2),  # the 2nd "it" stays the 2nd "it"
    ("it was it".split(), 2, "it is fine".split(), 0),  # fewer occurrences: the last one
    ("the film was dull".split(), 1, "what a gem of a movie".split(), 5),  # word gone: the last token
    ("a b".split(), None, "x y z".split(), 2),  # nothing chosen yet: the last token
    ("a b".split(), 7, "x y z".split(), 2),  # out of range: the last token
    ("a b".split(), 0, [], None),  # nothing to point at
])
def test_follow_token(old, t, new, expected):
    assert narrate.follow_token(old, t, new) == expected
