"""ui/state.py: links stay short enough to reopen (issue 12 item 5). Pure dicts stand in for
st.session_state and st.query_params; the browser test is in tests/test_browser.py."""
import unicodedata
from urllib.parse import parse_qs, urlencode

import pytest

from ui.state import QUERY_BYTES, Field, PageState, encoded_size, fit_end, link_query, parse_int


def _table():  # like the Playground's: one sentence, then short fields
    return PageState(Field("p.s", "s", "default sentence", long_text=True, label="sentence"),
                     Field("p.model", "model", "gru-rt"), Field("p.unit", "unit", None, parse=parse_int))


def _reopen(params):
    """What a browser opening the link gets: the query string parsed back, as Streamlit does."""
    return {k: v[-1] for k, v in parse_qs(urlencode(params), keep_blank_values=True).items()}


@pytest.mark.parametrize("text", ["好" * 20_000, "😀" * 20_000, "👍🏽" * 10_000, "👨‍👩‍👧" * 4000,
                                  "a wonderful film " * 1200, "é" * 19_999])
def test_a_long_text_keeps_the_query_under_the_budget_and_says_so_on_both_sides(text):
    state, session, params = _table(), {"p.s": text, "p.model": "lstm-imdb", "p.unit": 7}, {}
    state.sync(session, params)
    query = urlencode(params)
    assert len(query) <= QUERY_BYTES  # 20,000 CJK characters alone are 180 KB encoded
    assert params["model"] == "lstm-imdb" and params["unit"] == "7"  # the short fields are all there
    kept = params["s"]
    assert 0 < len(kept) < len(text) and text.endswith(kept) and params["s_cut"] == str(len(text))
    assert unicodedata.category(kept[0]) not in ("Mn", "Me", "Cf", "Sk") and not kept[0].isspace()
    assert session["p.s"] == text  # the page itself still reads the whole text
    assert state.notes == [f"This sentence is too long for the page's address: a copied link carries only its "
                           f"last {len(kept):,} of {len(text):,} characters (a link holds at most 4 KB of text)."]
    # the link opens in a new session: the cut text, the same URL, and a notice that it is only the end
    again, new_session, new_params = _table(), {}, _reopen(params)
    assert again.sync(new_session, new_params)["p.s"] == kept
    assert new_params == params
    assert again.notes == [f"This link carried only the last {len(kept):,} characters of a sentence of "
                           f"{len(text):,} characters (a link holds at most 4 KB of text), so the page shows those."]
    new_session["p.s"] = "my own sentence"  # the visitor types something else: no marker, no notice
    again.sync(new_session, new_params)
    assert new_params == {"s": "my own sentence", "model": "lstm-imdb", "unit": "7"} and again.notes == []


def test_a_text_that_fits_is_written_whole_and_a_cut_starts_at_a_word():
    state, session, params = _table(), {"p.s": "a fine film"}, {}
    state.sync(session, params)
    assert params == {"s": "a fine film"} and state.notes == []
    words = " ".join(f"word{i}" for i in range(2000))
    kept = fit_end("s", words, 1000)
    assert words.endswith(" " + kept) and encoded_size("s", kept) <= 1000 and kept.startswith("word")


@pytest.mark.parametrize("claim", ["abc", "3", "", "99999999999", ["5", "x"]])
def test_a_garbage_cut_marker_says_nothing(claim):
    state, session = _table(), {}
    params = {"s": "a short sentence", "s_cut": claim}
    assert state.sync(session, params)["p.s"] == "a short sentence"
    assert state.notes == [] and "s_cut" not in params


def test_a_text_that_cannot_be_encoded_stays_out_of_the_url_without_an_error():
    state, session, params = _table(), {"p.s": "good \ud800 film"}, {"s": "old"}
    state.sync(session, params)
    assert "s" not in params and state.notes == []


@pytest.mark.parametrize("text", ["好" * 2000, "😀" * 2000, "x" * 30_000])
def test_page_link_query_is_bounded_by_encoded_bytes(text):
    q = link_query("s", text, model="lstm-imdb")
    assert len(urlencode(q)) <= QUERY_BYTES and q["model"] == "lstm-imdb"  # 2,000 emoji are 24 KB encoded
    assert text.endswith(q["s"]) and q["s_cut"] == str(len(text))
    assert link_query("s", "a short one", model="m") == {"model": "m", "s": "a short one"}


def test_a_long_text_field_reserves_its_marker_query():
    with pytest.raises(ValueError):
        PageState(Field("a", "s", "", long_text=True), Field("b", "s_cut", ""))


# --- the pages: a 20,000-character sentence makes a link that reopens (AppTest) -----------------------
@pytest.mark.slow
@pytest.mark.parametrize("page,key,query", [("views/playground.py", "play.sentence", "s"),
                                            ("views/compare.py", "compare.sentence", "s"),
                                            ("views/train.py", "train.probe", "probe")])
def test_each_pages_long_text_makes_a_short_link_that_reopens_with_a_notice(page, key, query):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from playground.core import zoo

    if not zoo.bundled_names():
        pytest.skip("no bundled models")
    app = str(Path(__file__).resolve().parents[2] / "app.py")

    def params_of(at):
        return {k: (v[-1] if isinstance(v, list) else v) for k, v in at.query_params.items()}

    text = "😀" * 20_000
    at = AppTest.from_file(app, default_timeout=120)
    at.run()
    at.switch_page(page).run()
    at.text_input(key=key).set_value(text).run()
    assert not at.exception, at.exception
    params = params_of(at)
    assert len(urlencode(params)) <= QUERY_BYTES, len(urlencode(params))  # was 240 KB: the server answers 400
    kept = params[query]
    assert text.endswith(kept) and params[query + "_cut"] == "20000"
    assert any("a copied link carries only its last" in i.value for i in at.info)
    again = AppTest.from_file(app, default_timeout=120)
    for k, v in params.items():
        again.query_params[k] = v
    again.run()
    again.switch_page(page).run()
    assert not again.exception, again.exception
    assert again.text_input(key=key).value == kept
    assert any(f"This link carried only the last {len(kept):,} characters" in i.value for i in again.info)
