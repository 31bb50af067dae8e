"""AppTest per page: runs without exceptions, widgets change what is shown, hostile input is safe,
query parameters round-trip."""
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from playground import zoo

APP = str(Path(__file__).resolve().parents[1] / "app.py")
HOSTILE = ["", "   ", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "**bold** $x^2$ # h1",
           "好看的电影 😀 مرحبا", "\x00\x1b[31m\u202e", "word " * 4000, "!!! ???"]

pytestmark = pytest.mark.skipif(not zoo.bundled_names(), reason="no bundled models")


@pytest.fixture(autouse=True)
def _fresh_caches():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield


def _at(page: str | None = None, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if query:
        for k, v in query.items():
            at.query_params[k] = v
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    assert not at.exception, at.exception
    return at


def _metric(at, label_start: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label_start))


def test_home_runs_and_shows_models_and_equations():
    at = _at()
    assert at.title[0].value.startswith("🔁 RNN Playground")
    assert len(at.latex) >= 3
    assert len(at.dataframe) == 1


def test_playground_sentence_and_model_change_the_prediction():
    at = _at("views/playground.py")
    first = _metric(at, "P(positive)")
    at.text_input(key="play.sentence").set_value("a dull, stupid and boring waste of time").run()
    assert not at.exception
    second = _metric(at, "P(positive)")
    assert second != first
    opts = at.selectbox(key="model").options
    at.selectbox(key="model").select_index(next(i for i, o in enumerate(opts) if o.startswith("gru-imdb"))).run()
    assert not at.exception
    assert _metric(at, "P(positive)") != second
    assert at.query_params["model"] == ["gru-imdb"] or at.query_params["model"] == "gru-imdb"


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_playground_hostile_input(text):
    at = _at("views/playground.py")
    at.text_input(key="play.sentence").set_value(text).run()
    assert not at.exception
    for md in at.markdown:
        assert "<script>" not in md.value and "onerror=" not in md.value


def test_playground_long_text_is_cut_with_notice():
    at = _at("views/playground.py")
    at.text_input(key="play.sentence").set_value("good " * 500).run()
    assert any("cut" in w.value for w in at.warning)


def test_playground_examples_unit_and_method():
    at = _at("views/playground.py")
    at.pills(key="play.example").set_value("not bad at all").run()
    assert at.text_input(key="play.sentence").value == "not bad at all"
    at.selectbox(key="play.unit").set_value(3).run()
    assert not at.exception and any("Unit 3" in m.value for m in at.markdown)
    at.segmented_control(key="play.method").set_value("ig").run()
    assert not at.exception


def test_playground_query_params_round_trip():
    at = _at("views/playground.py", query={"s": "what a lovely film", "model": "gru-rt", "unit": "5"})
    assert at.text_input(key="play.sentence").value == "what a lovely film"
    assert at.selectbox(key="model").value == "gru-rt"
    assert at.selectbox(key="play.unit").value == 5


def test_playground_bad_query_params_fall_back():
    at = _at("views/playground.py", query={"model": "nope", "unit": "-4", "method": "<b>", "tok": "x"})
    assert at.selectbox(key="model").value in zoo.bundled_names()


def test_compare_three_verdicts_and_summary():
    at = _at("views/compare.py")
    assert len(at.metric) == 3
    before = [m.value for m in at.metric]
    at.text_input(key="compare.sentence").set_value("a masterpiece, moving and funny").run()
    assert not at.exception and len(at.metric) == 3
    assert len(at.info) == 1 and ("read it as" in at.info[0].value or "say" in at.info[0].value)
    at.segmented_control(key="compare.dataset").set_value("imdb").run()
    assert not at.exception and "imdb" in at.metric[0].label
    del before


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_compare_hostile_input(text):
    at = _at("views/compare.py")
    at.text_input(key="compare.sentence").set_value(text).run()
    assert not at.exception


def _train_page(at: AppTest, rows: int, epochs: int) -> AppTest:
    """The Train page with a small RT run set up: `rows` sentences, no IMDB, `epochs` epochs."""
    at.switch_page("views/train.py").run()
    assert not at.exception, at.exception
    at.slider(key="train.rt_rows").set_value(rows)
    at.slider(key="train.mix_rows").set_value(0)
    at.slider(key="train.epochs").set_value(epochs)
    return at


def _tiny_training(at: AppTest, name: str) -> AppTest:
    _train_page(at, 300, 1).text_input(key="train.name").set_value(name)
    at.button(key="train.start").click().run(timeout=120)
    assert not at.exception, at.exception
    return at


def test_train_page_tiny_run_then_model_everywhere_and_sessions_isolated():
    at = _at()
    _tiny_training(at, "tiny-gru")
    assert any("is ready" in s.value for s in at.success), [e.value for e in at.error]
    assert any(m.label.startswith("TEST accuracy") for m in at.metric)
    at.switch_page("views/playground.py").run()
    assert not at.exception
    assert any(o.startswith("tiny-gru") for o in at.selectbox(key="model").options)
    before = _metric(at, "P(positive)")
    opts = at.selectbox(key="model").options
    at.selectbox(key="model").select_index(next(i for i, o in enumerate(opts) if o.startswith("tiny-gru"))).run()
    assert not at.exception
    assert at.selectbox(key="model").value == "tiny-gru"
    assert _metric(at, "P(positive)") != before
    other = _at("views/playground.py")  # a second visitor
    assert not any(o.startswith("tiny-gru") for o in other.selectbox(key="model").options)


def test_train_page_divergence_is_a_clear_message():
    at = _train_page(_at(), 600, 2)
    at.select_slider(key="train.lr").set_value(10.0)
    at.button(key="train.start").click().run(timeout=120)
    assert not at.exception
    texts = [e.value for e in at.error] + [w.value for w in at.warning]
    assert any("diverged" in t for t in texts), texts


def test_train_page_race_trains_three_cells_and_keeps_them():
    at = _train_page(_at(), 300, 2)
    at.button(key="train.race").click().run(timeout=180)
    assert not at.exception, at.exception
    assert any("won this race" in s.value for s in at.success), [e.value for e in at.error + at.warning]
    table = next(d.value for d in at.dataframe if "cell" in d.value.columns)
    assert list(table["cell"]) == ["SimpleRNN", "LSTM", "GRU"]
    assert ((table["TEST accuracy"] > 0) & (table["TEST accuracy"] < 1)).all()
    assert set(common_models(at)) >= {"race-rnn-rt", "race-lstm-rt", "race-gru-rt"}
    at.switch_page("views/playground.py").run()
    assert any(o.startswith("race-lstm-rt") for o in at.selectbox(key="model").options)


def common_models(at: AppTest) -> list[str]:
    return list(at.session_state["user_models"].keys())


def test_train_page_race_with_a_diverging_rate_says_so_per_cell():
    at = _train_page(_at(), 600, 2)
    at.select_slider(key="train.lr").set_value(10.0)
    at.button(key="train.race").click().run(timeout=180)
    assert not at.exception, at.exception
    texts = [e.value for e in at.error] + [w.value for w in at.warning] + [s.value for s in at.success]
    assert any("diverged" in t for t in texts), texts
