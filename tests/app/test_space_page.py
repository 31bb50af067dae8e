"""AppTest of the State space page: the path and the fixed points, a what-if suggestion draws a branch,
every kind of intervention changes the curve it should, the ablation table, the unit explorer, hostile
input, and a model without a dataset."""
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground.core import zoo
from tests.conftest import HOSTILE_TEXTS, keep_pickers, open_page, settle

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGE = "views/space.py"

pytestmark = pytest.mark.skipif(not zoo.bundled_names(), reason="no bundled models")


@pytest.fixture(autouse=True)
def _fresh_caches(fresh_caches):
    yield


BOXES = ("space.x.how", "space.x.fixed", "space.x.whatif", "space.x.reach", "space.x.ablate", "space.x.units")


def _at(query: dict | None = None, opened: tuple[str, ...] = BOXES) -> AppTest:
    """The page with every expander open unless said otherwise (what is inside is computed only when open)."""
    return open_page(PAGE, query, 180, opened)


def _charts(at) -> dict:
    out = {}
    for el in at.get("plotly_chart"):
        spec = json.loads(el.proto.spec)
        title = spec.get("layout", {}).get("title", {})
        out[title.get("text", "") if isinstance(title, dict) else str(title)] = spec
    return out


def _arr(v) -> list:
    """A figure array as the browser gets it: a list, or plotly's base64 'bdata'."""
    if isinstance(v, dict) and "bdata" in v:
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).tolist()
    return list(v)


def _captions(at) -> str:
    return "\n".join(c.value for c in at.caption).replace("\\", "")


def test_the_path_the_fixed_points_and_their_numbers():
    at = _at({"model": "gru-rt", "s": "a fine film"})
    plane = _charts(at)["The hidden state on PC1 and PC2"]
    names = [d.get("name") for d in plane["data"]]
    assert "approximate fixed points (neutral input)" in names and "gru-rt reading your sentence" in names
    path = next(d for d in plane["data"] if d.get("name") == "gru-rt reading your sentence")
    assert len(_arr(path["x"])) == 4  # the start and three words
    caps = _captions(at)
    assert "PC1 holds" in caps and "approximate fixed point" in caps
    assert any(m.value.startswith("Fed a neutral word over and over") for m in at.markdown)
    labels = [m.label for m in at.metric]
    assert "readout's angle to the line" in labels and "top |eigenvalue| (median)" in labels


def test_the_first_screen_says_where_the_verdict_is_held_and_shows_the_units_that_hold_it():
    """Issue 28: the path with its key words labelled and points coloured by P, two sentences from the numbers,
    and the default intervention (the fewest top units that flip the verdict, else the biggest move), drawn
    without opening anything; the fixed points' figures wait behind their expander."""
    from playground.core.trace import trace
    from playground.dynamics import intervene, precomputed, statespace

    text = "The food was cold and the waiter was rude, but the dessert was wonderful"
    at = _at({"model": "lstm-rt", "s": text}, opened=())
    tm = zoo.load_bundled("lstm-rt")
    tr = trace(tm.model, tm.vocab, text)
    space = precomputed.load("space", tm)
    p = statespace.path(space, tr)
    plane = _charts(at)["The hidden state on PC1 and PC2"]
    path = next(d for d in plane["data"] if d.get("name") == "lstm-rt reading your sentence")
    keys = statespace.key_points(p)
    assert [i for i, t in enumerate(path["text"]) if t] == list(keys) and path["text"][0] == "start"
    assert len(keys) <= 5 < len(path["text"])  # only the key words are labelled
    assert _arr(path["marker"]["color"]) == pytest.approx(p.probs.tolist(), abs=1e-9)  # coloured by exact P
    assert path["marker"]["symbol"][0] == "diamond"
    assert all(line in _captions(at) for line in statespace.where_story(space, p))
    o = intervene.suggest(tm.model, tr)
    said = next(m.value for m in at.markdown if m.value.startswith("Silence the")).replace("\\", "")
    assert f"goes from {o.original.prob:.2f} to {o.changed.prob:.2f}" in said
    assert abs(o.final_change) > 0.2  # visibly, not 0.003
    assert not at.metric  # the fixed points' numbers are one click away
    assert at.session_state["space.kind"] == "zero_top" and at.session_state["space.topk"] == o.interventions[0].k


def test_a_suggestion_draws_the_edited_branch_and_both_curves():
    at = _at({"model": "lstm-rt", "s": "not bad at all"})
    at.button(key="space.sugg.0").click().run()
    assert not at.exception
    edited = at.text_input(key="space.edit").value
    assert edited and edited != "not bad at all"
    charts = _charts(at)
    plane = charts["The hidden state on PC1 and PC2"]
    assert any(d.get("name") == "the edited sentence" for d in plane["data"])
    assert "Prediction after each word" in charts
    assert "P(positive) after the last token goes from" in _captions(at)


@pytest.mark.parametrize("kind", ["clamp", "gate", "zero_top"])
def test_every_intervention_redraws_the_curve(kind):
    at = _at({"model": "lstm-rt", "s": "The food was cold and the waiter was rude", "do": kind, "tok": "2",
              "unit": "3", "value": "1"})
    caps = _captions(at)
    start = {"clamp": "Clamp h of unit 3 to 1 at token 2", "gate": "Force gate i of unit 3 to 1 from token 2 on",
             "zero_top": "Zero h of the top 5 units"}[kind]
    assert start in caps, caps
    curves = [s for t, s in _charts(at).items() if t == "Prediction after each word"]
    original, changed = _arr(curves[-1]["data"][0]["y"]), _arr(curves[-1]["data"][1]["y"])
    assert original[:2] == changed[:2]  # the words before the intervention are read alike
    assert max(abs(a - b) for a, b in zip(original[2:], changed[2:])) > 1e-6  # and it changes what follows


def test_the_ablation_table_and_the_unit_explorer():
    at = _at({"model": "rnn-rt", "s": "a dull and lifeless film"})
    at.button(key="space.ablate").click().run()
    assert not at.exception
    assert "the model is right on" in _captions(at), _captions(at)
    at.number_input(key="space.explore").set_value(5).run()
    assert not at.exception
    assert any(m.value.replace("\\", "").startswith("Unit 5: over") for m in at.markdown)
    assert "Unit 5: its h over every token of the sample" in _charts(at)


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=range(len(HOSTILE_TEXTS)))
def test_hostile_text_in_both_boxes(text):
    at = _at({"model": "gru-rt"})
    at.text_input(key="space.sentence").input(text).run()
    assert not at.exception, at.exception
    if text.strip():  # the edit box comes with a sentence to edit
        at.text_input(key="space.edit").input(text).run()
        assert not at.exception, at.exception
    else:
        assert any("Type a sentence" in i.value for i in at.info)


def test_out_of_range_settings_from_a_link_are_repaired():
    at = _at({"model": "gru-rt", "s": "a fine film", "tok": "999", "unit": "4000", "do": "<b>", "k": "-3",
              "value": "nan"})
    assert not at.exception, at.exception
    assert at.select_slider(key="space.token").value == 0
    assert 0 <= at.number_input(key="space.unit").value < 128
    # every other field of the link falls back to its default: the kind of intervention, the value, k
    assert at.session_state["space.kind"] == "clamp"
    assert at.session_state["space.value"] == 1.0 and at.slider(key="space.value").value == 1.0
    assert at.session_state["space.topk"] == 5
    # and the page's own link says what it shows now, not what it was given
    qp = {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    assert qp.get("do", "clamp") == "clamp" and qp.get("k", "5") == "5" and qp.get("value", "1.0") in ("1.0", "1")
    assert qp.get("tok", "0") == "0" and qp.get("unit") != "4000"


def test_a_bundled_model_reads_its_shipped_results_and_computes_none(monkeypatch):
    """The state space, fixed points, ablation, unit statistics and typical values of a bundled model come
    from playground/results/models (python -m playground precompute): no visitor pays for them."""
    from playground.dynamics import ablate, statespace, typical, units

    def never(*a, **k):
        raise AssertionError("a bundled model's result was computed on the page")

    for mod, name in ((statespace, "fit"), (ablate, "ablation"), (units, "compute"), (typical, "typical_values")):
        monkeypatch.setattr(mod, name, never)
    from ui.model_work import ModelWork
    from ui.per_model import RUNS

    at = _at({"model": "lstm-imdb", "s": "The first half dragged, but the ending made it worth it."})
    assert not at.exception, at.exception
    started = [k for k, r in (at.session_state[RUNS] if RUNS in at.session_state else {}).items()
               if isinstance(r, ModelWork)]
    assert not started, f"a worker computed {started} for a bundled model"  # (a worker would catch `never`)
    assert "The hidden state on PC1 and PC2" in _charts(at)  # drawn on the first run, nothing awaited
    assert any(m.value.replace("\\", "").startswith("Unit ") for m in at.markdown)
    assert any("ablated alone" in str(r) or "alone" in str(r) for df in at.dataframe for r in df.value.iloc[:, 0])
    assert not any("No state space" in i.value or "No unit statistics" in i.value for i in at.info)


def _session_page(tm, query: dict) -> AppTest:
    from collections import OrderedDict

    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user_models"] = OrderedDict({tm.name: tm})
    for k, v in {"model": tm.name, **query}.items():
        at.query_params[k] = v
    for key in BOXES:
        at.session_state[key] = True
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def test_a_session_model_computes_in_the_servers_slot_then_shows_everything(tiny_trained):
    """A model the app ships nothing for: the page draws a progress box per result at once (the work runs
    on a worker in the server's training slots), then the results once they are done."""
    from ui.model_work import ModelWork
    from ui.per_model import RUNS

    at = _session_page(tiny_trained, {"s": "a fine film"})
    runs = at.session_state[RUNS]
    assert {k for k, r in runs.items() if isinstance(r, ModelWork)} >= {"space", "units"}
    assert not any("No state space" in i.value for i in at.info)
    settle(at)
    assert "The hidden state on PC1 and PC2" in _charts(at)
    assert any(m.value.replace("\\", "").startswith("Unit ") for m in at.markdown)
    kept = at.session_state["per_model.space"]["tiny"]
    assert kept[0] is tiny_trained.model and kept[1].cut == "" and kept[2] is None
    keep_pickers(at).button(key="space.ablate").click().run()
    settle(at)
    assert "the model is right on" in _captions(at), _captions(at)
    assert not any(b.key and b.key.startswith("per_model.again") for b in at.button)


def test_a_result_the_budget_cut_says_what_it_left_out_and_can_be_computed_again(tiny_trained, monkeypatch):
    from ui import model_work

    monkeypatch.setattr(model_work, "BUDGET_S", 0.0)
    at = settle(_session_page(tiny_trained, {"s": "a fine film"}))
    said = "\n".join(w.value for w in at.warning).replace("\\", "")
    assert "Part of the result only: read 50 of 200 texts; the search ran 10 of 400 steps (the time budget of 0 s " \
           "ran out)" in said, said
    assert "The hidden state on PC1 and PC2" in _charts(at)  # drawn from what it read
    monkeypatch.setattr(model_work, "BUDGET_S", 60.0)
    keep_pickers(at).button(key="per_model.again.space").click().run()
    settle(at)
    assert not any("Part of the result only: read 50" in w.value for w in at.warning)
    assert at.session_state["per_model.space"]["tiny"][1].n_texts == 200
