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


def _at(query: dict | None = None) -> AppTest:
    return open_page(PAGE, query, 90)


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


def test_the_gradient_through_time_compares_the_three_cells_and_switches_to_the_long_review():
    at = _at({"model": "lstm-imdb", "s": "a fine film that I loved"})
    table = at.dataframe[0].value
    assert list(table["model"]) == ["rnn-imdb", "lstm-imdb", "gru-imdb"]
    assert list(table["words read"]) == [6, 6, 6]
    at.segmented_control(key="why.text").set_value("review").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["words read"]) == [200, 356, 356]  # rnn-imdb reads only the last 200 tokens
    assert "IMDB TEST review #13" in _captions(at)
    assert at.query_params["grad"] in ("review", ["review"])


def test_a_session_model_without_a_dataset_gets_no_time_constants():
    from collections import OrderedDict

    from playground.core.text import Vocab
    from tests.conftest import WORDS, random_model

    vocab = Vocab(["<pad>", "<unk>"] + WORDS)
    tm = zoo.TrainedModel(name="mine", model=random_model("lstm", vocab_size=len(vocab)), vocab=vocab, card={},
                          source="session")
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["user_models"] = OrderedDict(mine=tm)
    at.query_params["model"] = "mine"
    at.query_params["s"] = " ".join(WORDS[:6])
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="model").value == "mine"
    assert any("No time constants for this model" in i.value for i in at.info)
    rows = at.dataframe[0].value
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
