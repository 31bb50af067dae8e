"""Hostile model files in the app (issue 12): the session's byte budget, an upload parsed once
and never re-added, taken names, and file-controlled text (names, card fields, tensor names)
never rendered as Markdown or HTML on any page."""
import json
import re
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as st_save
from streamlit.testing.v1 import AppTest

from playground.core import zoo
from tests.conftest import WORDS, settle
from ui import catalog

APP = str(Path(__file__).resolve().parents[2] / "app.py")
EVIL = "![x](http://example.com/x.png) [link](http://evil) <img src=x onerror=alert(1)> **bold** :red[r] $x^2$"
MiB = 2**20

pytestmark = pytest.mark.skipif(not zoo.bundled_names(), reason="no bundled models")


@pytest.fixture(autouse=True)
def _fresh_caches(fresh_caches):
    yield


# --- the session's budget, as a pure function ----------------------------------------------------------
def test_session_drops_counts_models_and_bytes():
    held = [("a", 50 * MiB), ("b", 50 * MiB), ("c", 10 * MiB)]
    assert zoo.session_drops(held, [("d", 10 * MiB)], 4, 160 * MiB) == []
    assert zoo.session_drops(held, [("d", 60 * MiB)], 4, 160 * MiB) == ["a"]  # bytes, not count
    assert zoo.session_drops(held, [("d", 101 * MiB)], 4, 160 * MiB) == ["a", "b"]
    assert zoo.session_drops(held + [("d", 1)], [("e", 1)], 4, 160 * MiB) == ["a"]  # count
    assert zoo.session_drops(held, [("a", 60 * MiB)], 4, 160 * MiB) == []  # a name that comes again is replaced
    assert zoo.session_drops(held, [("x", 1), ("y", 1), ("z", 1)], 4, 160 * MiB) == ["a", "b"]
    assert zoo.session_drops([], [("big", 999 * MiB)], 4, 160 * MiB) == []  # new ones are never dropped here


def _tm(name: str, vocab_size: int = len(WORDS) + 2, embed: int = 8):
    from playground.core.models import ModelConfig, build
    from playground.core.text import Vocab

    words = ["<pad>", "<unk>"] + (WORDS + [f"w{i}" for i in range(vocab_size)])[:vocab_size - 2]
    model = build(ModelConfig(arch="gru", vocab_size=vocab_size, embed_dim=embed, hidden_size=8), seed=0).eval()
    return zoo.TrainedModel(name=name, model=model, vocab=Vocab(words), card={"dataset": "rt"}, source="session")


def _script_add(sizes):
    """In a script: add models of the given embedding sizes in order; keep the notices."""
    import streamlit as st

    from tests.app.test_hostile_files import _tm
    from ui import catalog

    st.session_state["said"] = [catalog.add_session_model(_tm(f"m{i}", 20_000, e)) for i, e in enumerate(sizes)]
    st.session_state["left"] = list(catalog.session_models())
    st.session_state["would"] = catalog.dropped_by(st.session_state["left"], ["new"], 60 * 2**20)
    st.session_state["would_count"] = catalog.dropped_by(st.session_state["left"], ["new"])


def test_session_models_count_against_a_byte_budget():
    """20,000 x 512 embeddings are ~41 MiB each: four of them pass the 160 MiB budget, so the
    oldest goes before the count of four is reached; dropped_by says so before."""
    at = AppTest.from_function(_script_add, args=([512, 512, 512, 512],), default_timeout=60).run()
    assert not at.exception, at.exception
    assert at.session_state["left"] == ["m1", "m2", "m3"]
    assert at.session_state["said"][:3] == [None, None, None]
    assert "“m0” was dropped" in at.session_state["said"][3] and "160 MiB" in at.session_state["said"][3]
    assert at.session_state["would"] == ["m1"]  # a 60 MiB model would drop the oldest by bytes
    assert at.session_state["would_count"] == []  # by count alone (3 held) nothing


def test_a_model_alone_over_the_budget_is_not_kept(monkeypatch):

    monkeypatch.setattr(catalog, "SESSION_MODEL_BYTES", 2 * MiB)
    models = OrderedDict(small=_tm("small"))
    said = catalog._add(models, _tm("big", 20_000, 64))  # ~5 MiB
    assert list(models) == ["small"] and "“big” was not kept" in said and "2 MiB" in said


# --- uploads: parsed once, never re-added, names never silently kept --------------------------------
def _script_upload(blobs):
    """Feed (file_id, bytes) uploads through the upload handling the Train page uses."""
    import streamlit as st

    from ui import catalog

    reads = st.session_state.setdefault("reads", [])
    st.session_state.setdefault("said", [])
    for file_id, blob in blobs:
        def read(blob=blob, file_id=file_id):
            reads.append(file_id)
            return blob
        st.session_state["said"].append(catalog.receive_upload(file_id, read))
    st.session_state["left"] = list(catalog.session_models())


def _file(tm, name=None, **meta):
    m = {"format": zoo.FORMAT, "name": name or tm.name, "config": json.dumps(tm.config.to_dict()),
         "vocab": json.dumps(tm.vocab.itos), "card": json.dumps(tm.card)}
    m.update(meta)
    return st_save({k: v.clone() for k, v in tm.model.state_dict().items()}, metadata=m)


def test_an_upload_is_parsed_once_and_never_re_adds_itself():
    a = _file(_tm("A"))
    at = AppTest.from_function(_script_upload, args=([("fa", a)],), default_timeout=60)
    at.session_state["user_models"] = OrderedDict((n, _tm(n)) for n in ["x", "y", "z"])
    at.run()
    assert at.session_state["left"] == ["x", "y", "z", "A"] and at.session_state["reads"] == ["fa"]
    assert at.session_state["said"][0][-1] == ("success", "“A” \\(GRU\\) is ready in every page's model picker\\.")
    at.session_state["user_models"]["new"] = _tm("new")  # a newer model drops A...
    at.session_state["user_models"].pop("A")
    at.run()  # ...and the rerun with A still in the uploader neither parses nor re-adds it
    assert at.session_state["left"] == ["x", "y", "z", "new"] and at.session_state["reads"] == ["fa"]


def test_an_upload_whose_name_is_taken_is_renamed_and_says_so():
    blobs = [("f1", _file(_tm("A"))), ("f2", _file(_tm("A"))), ("f3", _file(_tm("A"))),
             ("f4", _file(_tm("lstm-rt")))]
    at = AppTest.from_function(_script_upload, args=(blobs,), default_timeout=60).run()
    assert at.session_state["left"] == ["A", "A (2)", "A (3)", "lstm-rt (2)"]
    said = at.session_state["said"]
    assert said[1][0] == ("info", "“A” is the name of a model already in this session, so this one is called "
                                  "“A \\(2\\)”\\.")
    assert said[3][0] == ("info", "“lstm\\-rt” is the name of a bundled model, so this one is called "
                                  "“lstm\\-rt \\(2\\)”\\.")
    assert said[1][-1][0] == "success" and "“A \\(2\\)”" in said[1][-1][1]


def test_a_refused_file_names_its_tensor_escaped():
    tm = _tm("A")
    tensors = {k: v.clone() for k, v in tm.model.state_dict().items()}
    tensors[EVIL[:40]] = torch.zeros(1)
    blob = st_save(tensors, metadata={"format": zoo.FORMAT, "config": json.dumps(tm.config.to_dict()),
                                      "vocab": json.dumps(tm.vocab.itos), "card": "{}"})
    at = AppTest.from_function(_script_upload, args=([("f", blob)],), default_timeout=60).run()
    [(kind, text)] = at.session_state["said"][0]
    assert kind == "error" and "unexpected" in text
    _assert_escaped(text)


# --- file-controlled text on every page --------------------------------------------------------------
def _assert_escaped(text: str) -> None:
    """No Markdown link or image, no raw HTML tag, no emphasis, directive or LaTeX left active:
    each of their marks is backslash-escaped."""
    assert "](http" not in text, text
    for active in (r"(?<!\\)<img", r"(?<!\\)\*\*bold", r"(?<!\\):red\[", r"(?<!\\)\$x", r"(?<!\\)!\\?\["):
        assert not re.search(active, text), (active, text)


def _shown(at: AppTest) -> list[str]:
    """Every string a page renders as Markdown: text elements, labels, helps, metric labels."""
    out = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "subheader", "title"):
        out += [e.value for e in getattr(at, kind)]
    out += [m.label for m in at.metric] + [m.help or "" for m in at.metric]
    for kind in ("selectbox", "select_slider", "multiselect", "text_input", "toggle", "button", "radio"):
        for w in getattr(at, kind):
            out += [w.label or "", getattr(w, "help", None) or ""]
    for ss in at.select_slider:  # its options are Markdown too (selectbox options are plain text)
        out += list(ss.options)
    for p in at.get("page_link"):
        out.append(p.proto.label)
    return out


def _hostile_model():
    tm = _tm("x")
    card = {"dataset": "rt", "test_accuracy": 0.75, "trained_on": EVIL, "test_split": EVIL, "status": "done",
            "layers": [{"layer": EVIL[:150], "type": "GRU", "params": 3}], "note": EVIL[:200]}
    return zoo.from_bytes(_file(tm, name=EVIL[:100], card=json.dumps(card)))


@pytest.mark.parametrize("page", ["views/playground.py", "views/compare.py", "views/train.py"])
def test_a_model_named_in_markdown_and_html_shows_escaped_on_every_page(page):
    tm = _hostile_model()
    assert tm.name == EVIL[:100] and tm.card["trained_on"] == EVIL  # kept as text, escaped where shown
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["user_models"] = OrderedDict({tm.name: tm})
    at.query_params["model"] = tm.name
    if page == "views/compare.py":
        at.query_params["models"] = f"{tm.name},gru-rt"
    at.session_state["play.x.card"] = True  # the Playground's model card, opened
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    shown = _shown(at)
    hits = [s for s in shown if "example" in s or "onerror" in s]
    assert hits, shown  # the model is on the page: its name (and, in the Playground, its card) is shown
    if page == "views/playground.py":
        assert any("trained on" in s and "example" in s for s in hits), hits
    for s in shown:
        _assert_escaped(s)


def test_hostile_words_in_the_word_picker_are_escaped():
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["s"] = "the _film_ was *good* `ok`"
    at.run()
    at.switch_page("views/playground.py").run()
    assert not at.exception, at.exception
    words = [s for s in at.get("button_group") if s.key == "play.token"]  # the word picker (pills)
    assert words
    for s in words:
        labels = [str(o.content) if hasattr(o, "content") else str(o) for o in s.options]  # as format_func made them
        assert any("\\_film\\_" in x for x in labels), labels
        assert not any(re.search(r"(?<!\\)_film", x) for x in labels), labels


def test_a_deployment_never_shows_a_traceback():
    import tomllib

    config = tomllib.loads((Path(APP).parent / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
    deploy = (Path(APP).parent / "docs" / "deploy.md").read_text()
    deploying = deploy[deploy.index("# Deploying"):]
    assert 'showErrorDetails = "none"' in deploying[:deploying.index("\n## ")]


# --- issue 29: a reader's own Keras model, uploaded, opens on every page ------------------------------------
KERAS = Path(__file__).resolve().parents[1] / "fixtures" / "keras"


def _script_keras_upload(kind, ext):
    import json as _json

    import streamlit as st

    from tests.app.test_hostile_files import KERAS
    from ui import catalog

    data = (KERAS / f"{kind}.{ext}").read_bytes()
    index = _json.loads((KERAS / "word_index.json").read_text())
    if "said" not in st.session_state:
        st.session_state["said"] = catalog.receive_upload(f"k-{kind}-{ext}", lambda: data, f"my {kind}.{ext}",
                                                          {"word_index": index, "index_from": 3, "maxlen": None,
                                                           "pad": True, "texts": "imdb"})
    st.session_state["left"] = list(catalog.session_models())


@pytest.mark.parametrize("kind,ext", [("lstm", "keras"), ("gru", "h5"), ("simplernn", "h5"), ("lstm2", "keras"),
                                      ("gru_v1", "h5")])
def test_an_uploaded_keras_model_opens_on_every_page(kind, ext):
    """Parsed once by the Train page's upload handling, named after its file, then every page reads with it."""
    at = AppTest.from_function(_script_keras_upload, args=(kind, ext), default_timeout=90).run()
    assert not at.exception, at.exception
    said = at.session_state["said"]
    assert said[-1][0] == "success" and f"my {kind}" in said[-1][1].replace("\\", ""), said
    assert "at maxlen" in said[-1][1] and "upload it again" in said[-1][1]  # the settings it was read with
    assert not any(k == "warning" for k, _ in said)  # a word index was given
    tm = at.session_state["user_models"][f"my {kind}"]
    assert tm.source == "keras" and tm.card["source_format"] == ext
    assert tm.dataset == "imdb" and not tm.heldout  # its statistics over IMDB TEST texts, never its accuracy
    assert any("trained elsewhere" in t for _, t in said), said
    models = at.session_state["user_models"]
    text = "the film was a wonderful masterpiece but the plot was boring"
    for page, query in (("views/playground.py", {"model": f"my {kind}", "s": text}),
                        ("views/compare.py", {"models": f"my {kind},lstm-imdb", "s": text}),
                        ("views/gates.py", {"model": f"my {kind}"}),
                        ("views/space.py", {"model": f"my {kind}", "s": text})):
        app = AppTest.from_file(APP, default_timeout=90)
        app.session_state["user_models"] = models
        for k, v in query.items():
            app.query_params[k] = v
        app.run()
        app.switch_page(page).run()
        settle(app)  # the statistics over IMDB TEST texts are computed once for this model
        assert not app.exception, (page, app.exception)
        captions = " ".join(c.value for c in app.caption)
        if page == "views/space.py":  # the plane over IMDB TEST texts, with the caveat beside it
            assert "trained elsewhere" in captions and "No state space" not in " ".join(i.value for i in app.info)
        if page == "views/compare.py":  # no accuracy on texts it has read
            assert "no TEST split here is held out" in captions.replace("\\", ""), captions


def _script_keras_no_index():
    import streamlit as st

    from tests.app.test_hostile_files import KERAS
    from ui import catalog

    data = (KERAS / "lstm.keras").read_bytes()
    if "said" not in st.session_state:
        st.session_state["said"] = catalog.receive_upload("k-no-index", lambda: data, "bare.keras",
                                                          {"word_index": None, "index_from": 3, "maxlen": 500,
                                                           "pad": True, "texts": "imdb"})


def test_a_keras_model_without_its_word_index_is_kept_with_a_warning_first():
    at = AppTest.from_function(_script_keras_no_index, default_timeout=60).run()
    assert not at.exception, at.exception
    said = at.session_state["said"]
    kinds = [k for k, _ in said]
    assert kinds.index("warning") < kinds.index("success"), said
    assert "No word index was given" in dict(said)["warning"].replace("\\", "")
    assert "at maxlen 500, pre" in said[-1][1].replace("\\", "")
