"""ui/wellformed.py: a text the browser cannot send (issue 12 item 8). The browser half (a lone
surrogate typed in the Playground) is in tests/test_browser.py."""
import re
from pathlib import Path

import pytest

from ui.wellformed import GUARD_JS, note, unreadable

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_unreadable_counts_replacement_characters_and_lone_surrogates():
    assert unreadable("a fine film") == 0 and note("a fine film") is None
    assert unreadable("good \ufffd film") == 1 and unreadable("x\ud800y\udc00\ufffd") == 3
    assert unreadable("😀 👍🏽 好") == 0  # whole characters outside the BMP are not surrogates in Python
    assert note("good \ufffd film").startswith("One character of this text could not be read (shown as \ufffd)")
    assert note("\ufffd\ufffd").startswith("2 characters of this text could not be read")


def test_the_guard_script_survives_st_htmls_sanitizer():
    # DOMPurify (SAFE_FOR_XML) removes a <script> whose text matches /<[/\w!]/: the guard would never run
    assert not re.search(r"<[/\w!]", GUARD_JS)
    assert "window.__rnnWellFormed" in GUARD_JS and "addEventListener('input', repair, true)" in GUARD_JS


@pytest.mark.parametrize("page,key", [("views/playground.py", "play.sentence"),
                                      ("views/compare.py", "compare.sentence"),
                                      ("views/train.py", "train.probe")])
def test_each_page_says_when_characters_of_its_text_could_not_be_read(page, key):
    from streamlit.testing.v1 import AppTest

    from playground.core import zoo

    if not zoo.bundled_names():
        pytest.skip("no bundled models")
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(page).run()
    assert not any("could not be read" in w.value for w in at.warning)
    at.text_input(key=key).set_value("awful \ufffd boring film").run()
    assert not at.exception, at.exception
    assert any(w.value.startswith("One character of this text could not be read") for w in at.warning)


def test_a_link_with_broken_percent_encoding_says_so():
    from streamlit.testing.v1 import AppTest

    from playground.core import zoo

    if not zoo.bundled_names():
        pytest.skip("no bundled models")
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["s"] = b"awful \xed\xa0\x80 film".decode("utf-8", errors="replace")  # as parse_qs decodes it
    at.run()
    at.switch_page("views/playground.py").run()
    assert not at.exception, at.exception
    assert any("3 characters of this text could not be read" in w.value for w in at.warning)


def test_the_guard_goes_out_once_per_session_on_whatever_page_opens_first():
    """Sent on every rerun it delayed every verdict (a script element to sanitise and run before it); its
    listeners live on the tab's window, so once per browser session is enough."""
    from streamlit.testing.v1 import AppTest

    def guards(at) -> int:
        return sum("__rnnWellFormed" in (h.proto.body or "") for h in at.get("html"))

    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert guards(at) == 1  # the first run, on the Home page
    at.run()
    assert guards(at) == 0
    at.switch_page("views/compare.py").run()
    assert guards(at) == 0 and not at.exception
    other = AppTest.from_file(APP, default_timeout=120)  # another tab: a session of its own
    other.switch_page("views/train.py").run()
    assert guards(other) == 1
