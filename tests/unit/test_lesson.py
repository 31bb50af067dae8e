"""The Playground's first screen (playground/explain/lesson.py): the default word, the units to watch, the
gates' values at the word and the sentences about them; the bars that draw them; why methods disagree."""
import json

import numpy as np
import plotly.graph_objects as go
import pytest

from playground.core.trace import trace
from playground.explain.account import account
from playground.explain.attribution import attribute, sign_note
from playground.explain.lesson import WATCH, default_word, units_to_watch, word_lesson
from playground.explain.narrate import curve_story
from playground.figures import lesson_plots, plots
from tests.conftest import random_model

TEXT = "the film was not good but the end was great"


@pytest.fixture(params=["rnn", "lstm", "gru"])
def tr(request, small_vocab):
    return trace(random_model(request.param, vocab_size=len(small_vocab), hidden=12, scale=0.4), small_vocab, TEXT)


def test_the_default_word_is_the_biggest_move_of_p(tr):
    steps = np.abs(np.diff(np.concatenate([[tr.prob0], tr.step_probs])))
    assert default_word(tr) == int(np.argmax(steps)) == curve_story(tr).biggest.t


def test_units_to_watch_are_the_words_movers_then_the_verdicts(tr):
    acc = account(tr)
    for t in range(tr.n_steps):
        watch = units_to_watch(acc, t)
        units = [u for u, _ in watch]
        assert len(units) == len(set(units)) == WATCH
        by_word = [int(u) for u in np.argsort(-np.abs(acc.contributions[:, t]), kind="stable")[:WATCH // 2]]
        assert units[:WATCH // 2] == by_word and [w for _, w in watch][:WATCH // 2] == ["word"] * (WATCH // 2)
        rest = [int(u) for u in acc.ranking("verdict") if int(u) not in by_word][:WATCH - WATCH // 2]
        assert units[WATCH // 2:] == rest
    assert len(units_to_watch(acc, 0, k=40)) == tr.hidden_size  # never more than the layer has
    with pytest.raises(IndexError):
        units_to_watch(acc, tr.n_steps)


def test_the_lesson_holds_every_quantity_of_the_cell_at_the_word_and_says_only_what_they_show(tr):
    t = 4
    lesson = word_lesson(tr, t)
    assert [q.name for q in lesson.quantities] == list(tr.gate_names) + ["h"]
    series = {**tr.last.gates, "h": tr.last.h}
    for q in lesson.quantities:
        vals = series[q.name][t, list(lesson.units)]
        np.testing.assert_array_equal(q.values, vals)  # exactly the traced values, in the units' order
        quantity = tr.cell.quantity(q.name)
        assert f"{quantity.show(vals.min())} to {quantity.show(vals.max())}" in q.sentence
        assert f"(mean {quantity.show(vals.mean())})" in q.sentence
        assert q.told == (quantity.reading is not None)
        if q.told:  # the first unit (the word's biggest mover), in the cell's own words for its band
            assert f"Unit {lesson.units[0]}, which moved this word most: {quantity.show(vals[0])}" in q.sentence
    before, after = float(([tr.prob0] + list(tr.step_probs))[t]), float(tr.step_probs[t])
    assert f"from {100 * before:.1f}% to {100 * after:.1f}%" in lesson.headline or "stayed at" in lesson.headline
    assert ("the biggest move in the text" in lesson.headline) == (t == default_word(tr))
    np.testing.assert_allclose(lesson.contributions, account(tr).contributions[list(lesson.units), t])
    json.dumps(lesson.as_dict())  # the command line's --json


def test_a_lesson_on_nothing_read_is_a_clear_error(small_vocab):
    m = random_model("gru", vocab_size=len(small_vocab))
    with pytest.raises(ValueError, match="nothing was read"):
        word_lesson(trace(m, small_vocab, ""))


def test_the_bars_draw_the_lessons_values_with_the_values_printed(tr):
    lesson = word_lesson(tr)
    for q in lesson.quantities:
        fig = lesson_plots.quantity_bars(q, lesson.units, lesson.why, highlight=lesson.units[1])
        go.Figure(fig.to_dict())  # valid plotly
        bar = fig.data[0]
        np.testing.assert_array_equal(bar.x, q.values)
        assert [a.text for a in fig.layout.annotations] == [tr.cell.quantity(q.name).show(v) for v in q.values]
        assert list(bar.marker.line.width) == [2.5 if u == lesson.units[1] else 0 for u in lesson.units]
        if q.kind == "gate":
            assert list(fig.layout.xaxis.range) == [0.0, 1.0]


def test_the_curve_marks_the_chosen_word_and_a_click_on_it_picks_a_word(tr):
    fig = plots.prediction_curve(tr, selected_token=3)
    go.Figure(fig.to_dict())
    step = fig.data[1]
    assert list(step.x) == [2, 3] and list(step.y) == [tr.step_probs[2], tr.step_probs[3]]
    assert plots.picked_word({"selection": {"points": [{"x": 5}]}}) == 5
    assert plots.picked_word({"selection": {"points": [{"x": -1}]}}) is None  # the prior is not a word
    for bad in (None, {}, {"selection": {"points": [{"x": "a"}, {}]}}, {"selection": {"points": [{"x": 1.5}]}}):
        assert plots.picked_word(bad) is None


def test_why_a_word_flips_sign_between_methods_is_said_with_its_numbers(small_vocab):
    m = random_model("lstm", vocab_size=len(small_vocab), scale=0.5, seed=3)
    tr = trace(m, small_vocab, TEXT)
    ig = attribute(m, tr, "ig")
    assert sign_note(ig, ig, tr) is None
    said = 0
    for method in ("occlusion", "step", "grad_x_input"):
        a = attribute(m, tr, method)
        flips = np.flatnonzero(np.sign(a.scores) * np.sign(ig.scores) < 0)
        note = sign_note(a, ig, tr)
        assert (note is None) == (len(flips) == 0)
        if note is None:
            continue
        said += 1
        t = int(flips[np.argmax(np.abs(a.scores[flips]))])
        assert f"Take “{tr.tokens[t]}”" in note and f"give it {ig.scores[t]:+.3f} logit" in note
        if method == "occlusion":
            assert f"{100 * (tr.prob - a.scores[t]):.1f}% positive against {100 * tr.prob:.1f}%" in note
    assert said  # this model and text have words the methods disagree on


def test_the_curves_brief_sentence_counts_the_crossings_and_keeps_the_rest(tr):
    story = curve_story(tr)
    brief, full = story.brief(), story.sentence()
    if story.crossings:
        assert brief.startswith(full.split(" Its verdict crosses")[0])
        assert "(token" not in brief.split("Its verdict crosses")[1]  # counted, not listed
        side = "positive" if story.final >= 0.5 else "negative"
        assert brief.endswith(f"It ends {side} at {100 * story.final:.1f}%.")
    else:
        assert brief == full
