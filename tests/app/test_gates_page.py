"""AppTest of the Why gates page: the memory lens for a gated cell and for a SimpleRNN, the gradient
through time on the sentence and on the long review, hostile input, the URL."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground.core import zoo
from tests.conftest import HOSTILE_TEXTS, open_page

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGE = "views/gates.py"
HOSTILE = HOSTILE_TEXTS

pytestmark = pytest.mark.skipif(not zoo.bundled_names(), reason="no bundled models")


@pytest.fixture(autouse=True)
def _fresh_caches(fresh_caches):
    yield


def _at(query: dict | None = None, opened: tuple[str, ...] = ("why.x.mine",)) -> AppTest:
    """The page with the visitor's-sentence expander open unless said otherwise."""
    return open_page(PAGE, query, 90, opened)


def _charts(at) -> list[str]:
    """Titles of the Plotly charts on the page."""
    import json

    out = []
    for el in at.get("plotly_chart"):
        spec = json.loads(el.proto.spec)
        title = spec.get("layout", {}).get("title", {})
        out.append(title.get("text", "") if isinstance(title, dict) else str(title))
    return out


def _captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def test_an_lstm_shows_what_its_memory_keeps_and_its_time_constants():
    at = _at({"model": "lstm-imdb", "s": "This film was wonderful. Then we went home and had dinner"})
    charts = _charts(at)
    assert "What survives of each word to the end" in charts
    assert any(t.startswith("Per unit: every later forget gate f") for t in charts)
    assert "How long each unit of lstm-imdb remembers" in charts
    caps = _captions(at).replace("\\", "")  # captions are Markdown-escaped
    assert "forget within" in caps, caps
    assert "Of what the first word, “This”, wrote" in caps, caps
    assert any("c_T" in x.value for x in at.latex)


def test_a_gru_uses_its_update_gate():
    at = _at({"model": "gru-rt", "s": "a fine film"})
    assert any(t.startswith("Per unit: every later update gate z") for t in _charts(at))
    assert any("h_T" in x.value and "z_s" in x.value for x in at.latex)


def test_a_simplernn_has_no_gate_and_shows_its_state_jacobian():
    at = _at({"model": "rnn-rt", "s": "a fine film that I loved"})
    charts = _charts(at)
    assert "What a nudge after each word still moves" in charts
    assert "What survives of each word to the end" not in charts
    assert any("no gate" in m.value for m in at.markdown)


def test_the_first_screen_answers_on_the_long_review_with_the_numbers_of_its_chart():
    """Issue 28: why a plain RNN forgets, on the long review, from the dataset's three cells' gradients;
    the causes from the shipped labs (both starts) and the bundled LSTM's forget gates."""
    from playground.dynamics import lab, memory, why

    at = _at({"model": "lstm-rt"}, opened=())
    assert any(t.startswith("What reaches each word of the review") for t in _charts(at))
    assert not any(t.startswith("What survives") for t in _charts(at))  # the sentence's lens waits behind a click
    _, review = memory.long_review()
    rows = []
    for name, title, gated in (("rnn-rt", "SimpleRNN", False), ("lstm-rt", "LSTM", True), ("gru-rt", "GRU", True)):
        tm = zoo.load_bundled(name)
        rows.append((name, title, gated, memory.token_gradients(tm.model, tm.vocab.encode(review, 100).ids)))
    ans = why.answer(rows, len(review.split()))
    said = [m.value.replace("\\", "") for m in at.markdown]
    assert f"**{ans.headline}**" in said, said[:4]
    assert ans.textbook and ans.k == 99 and ans.because in said
    r = {x.model: x for x in ans.reaches}
    assert r["rnn-rt"].share < 1e-5 < 0.01 < r["lstm-rt"].share  # the case the page opens on shows the lesson
    causes = " ".join(said)
    assert "The start decides a lot." in causes and "The GRU starts with its update gate at z = 0.50." in causes
    assert "Trained forget gates sit near" in causes
    table = at.dataframe[0].value
    keras, textbook = lab.load_shipped(), lab.load_shipped(lab.SHIPPED_BY_INIT["textbook"])
    assert list(table["cell"]) == ["SimpleRNN", "LSTM", "GRU"]
    want = why.init_table(keras, textbook, lab.init_gradient_shares,
                          {i: {c: lab.initial_keep(c, lab.LabSettings(init=i)) for c in ("rnn", "lstm", "gru")}
                           for i in ("keras", "textbook")})
    assert table.to_dict("records") == want


def test_the_gradient_through_time_on_the_visitors_sentence_compares_the_three_cells():
    at = _at({"model": "lstm-imdb", "s": "a fine film that I loved"})
    table = at.dataframe[-1].value
    assert list(table["model"]) == ["rnn-imdb", "lstm-imdb", "gru-imdb"]
    assert list(table["words read"]) == [6, 6, 6]
    headline = next(m.value for m in at.markdown if m.value.startswith("**On a ")).replace("\\", "")
    assert "SimpleRNN (rnn-imdb)" in headline and "words before the end" in headline  # the review, every time
    because = next(m.value for m in at.markdown if m.value.startswith("Here the")).replace("\\", "")
    assert because.startswith("Here the SimpleRNN's gradient did not vanish faster")  # IMDB's does not: it says so


def test_a_session_model_without_a_dataset_gets_no_time_constants():
    from collections import OrderedDict

    from playground.core.text import Vocab
    from tests.conftest import WORDS, random_model

    vocab = Vocab(["<pad>", "<unk>"] + WORDS)
    tm = zoo.TrainedModel(name="mine", model=random_model("lstm", vocab_size=len(vocab)), vocab=vocab, card={},
                          source="session")
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["user_models"] = OrderedDict(mine=tm)
    at.session_state["why.x.mine"] = True
    at.query_params["model"] = "mine"
    at.query_params["s"] = " ".join(WORDS[:6])
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="model").value == "mine"
    assert any("No time constants for this model" in i.value for i in at.info)
    rows = at.dataframe[-1].value
    assert list(rows["model"])[-1] == "mine"  # after the dataset's three bundled cells


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text(text):
    at = _at()
    at.text_input(key="why.sentence").input(text).run()
    assert not at.exception, at.exception
    if not text.strip():
        assert at.info or at.warning


@pytest.mark.parametrize("name", zoo.BUNDLED)
def test_the_default_sentence_is_read_right_or_called_a_hard_one_with_its_numbers(name):
    """Issue 15, item 4: the page opens on a positive sentence (one opinion, then plain words). A model
    that ends negative on it gets a warning that calls it a hard one and gives the numbers."""
    from playground.core.trace import trace
    from playground.dynamics import memory

    at = _at({"model": name})
    tm = zoo.load_bundled(name)
    tr = trace(tm.model, tm.vocab, at.session_state["why.sentence"])
    caps = _captions(at).replace("\\", "")
    assert f"{name} reads this text as **{tr.prob:.1%} positive**" in caps, caps
    warnings = [w.value.replace("\\", "") for w in at.warning if "hard one" in w.value]
    if tr.prob >= 0.5:
        assert not warnings
    else:
        assert len(warnings) == 1 and f"A hard one for {name}" in warnings[0]
        t = tr.tokens.index("wonderful")
        assert f"the model was at {memory.pct(tr.step_probs[t])} positive" in warnings[0], warnings
