"""Class mode's pure parts (ui/classmode.py, issue 30): lesson links that hide controls, projector mode."""
from ui import classmode as cm
from ui.state import Field


def test_hide_names_are_checked_and_bad_ones_refused_never_raised():
    assert cm.parse_hide("model, s,,model") == (["model", "s"], [])
    names, refused = cm.parse_hide("s,<script>,a b," + "x" * 61)
    assert names == ["s"] and refused == ["<script>", "a b", "x" * 40]
    assert cm.parse_hide(None) == ([], []) and cm.parse_hide(["s"]) == ([], [])
    many, _ = cm.parse_hide(",".join(f"k{i}" for i in range(100)))
    assert len(many) == cm.MAX_NAMES


def test_a_lesson_links_settings_survive_a_page_switch_and_are_written_back():
    session, params = {}, {"hide": "model,s", "present": "1"}
    got = cm.settings(session, params)
    assert got["hide"] == ["model", "s"] and got["present"] and params == {"hide": "model,s", "present": "1"}
    params = {}  # Streamlit clears the query string on a page switch: the session brings them back
    assert cm.settings(session, params)["hide"] == ["model", "s"] and params == {"hide": "model,s", "present": "1"}
    params = {"present": "0", "hide": ""}  # a link that turns them off
    assert cm.settings(session, params) == {"hide": [], "refused": [], "present": False} and params == {}


def test_a_name_hides_its_pages_field_by_query_or_any_control_by_its_key():
    fields = [Field("play.sentence", "s", ""), Field("play.model", "model", "lstm-rt")]
    keys = cm.hidden_keys(["s", "play.x.card"], fields)
    assert keys == ["play.sentence", "s", "play.x.card"]
    style = cm.css(keys, present=False)
    assert ".st-key-play-sentence { display: none" in style and ".st-key-play-x-card" in style
    assert "stSidebar" not in style and cm.css([], present=False) == ""
    assert f"font-size: {cm.PRESENT_TEXT_PX}px" in cm.css([], present=True)


def test_a_tables_csv_starts_with_its_caption_and_link_and_holds_no_formulas():
    from ui.takeaway import TAKEAWAY_JS, csv_text

    text = csv_text([{"unit": 3, "word": "=HYPERLINK(1)"}, {"unit": -2, "note": "a, b"}], "Units at “but”\nline 2",
                    "http://host/playground?s=x")
    lines = text.splitlines()
    assert lines[:3] == ["# Units at “but”", "# line 2", "# http://host/playground?s=x"]
    assert lines[3] == "unit,word,note" and lines[4] == "3,'=HYPERLINK(1)," and lines[5] == '-2,,"a, b"'
    assert csv_text([[1, 2], [3, 4]]) == "1,2\n3,4\n" and csv_text([]) == ""
    import re
    assert not re.search(r"<[A-Za-z/!]", TAKEAWAY_JS)  # st.html would drop the script
