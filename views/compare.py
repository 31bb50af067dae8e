"""Compare: one sentence through several models at once (a dataset's SimpleRNN, LSTM and GRU, or
any two or three models of this session), every chart and sentence by position in the full text."""
import functools
import html

import numpy as np
import streamlit as st

from playground.core.data import DATASET_TITLES
from playground.core.trace import trace, verdict_word
from playground.evaluation import stats
from playground.evaluation.heldout import correct_on_test
from playground.explain import narrate
from playground.explain.account import account as exact_account
from playground.explain.account import units_at
from playground.explain.alignment import disagreement_summary, read_start, reading_note, text_axis
from playground.explain.attribution import attribute
from playground.figures import plots
from ui import catalog, textio, wellformed
from ui.state import Field, PageState, bool_str, one_of, parse_bool

MAX_MODELS = 3


def _parse_models(text: str) -> list[str]:
    if len(text) > 400:
        raise ValueError("too long")
    return [n.strip() for n in text.split(",") if n.strip()]


available = catalog.model_names()


def _valid_models(v) -> bool:
    return (isinstance(v, list) and len(v) <= MAX_MODELS and len(set(v)) == len(v)
            and all(isinstance(n, str) and n in available for n in v))


MODELS = Field("compare.models", "models", [], parse=_parse_models, valid=_valid_models, to_str=",".join)
STATE = PageState(
    Field("compare.sentence", "s", textio.COMPARE_SENTENCE,
          parse=textio.clean_input, long_text=True, label="sentence"),
    Field("compare.dataset", "dataset", "rt", valid=one_of(DATASET_TITLES)),
    MODELS,
    Field("compare.allunits", "allunits", False, parse=parse_bool, valid=lambda v: isinstance(v, bool),
          to_str=bool_str),
)
# a shared link naming models this session does not have: say so (ui.state falls back silently)
asked = st.query_params.get("models") if "compare.models" not in st.session_state else None
STATE.sync()

st.title("⚖️ Compare SimpleRNN, LSTM and GRU")
st.caption("One sentence, several networks. Where do they agree, and where not?")
if asked is not None:
    wanted = _parse_models(asked[:400])
    missing = [n for n in wanted if n not in available]
    if missing:
        st.warning(f"Not available in this session: {textio.md_escape(', '.join(missing))}. Models trained on the "
                   "Train page live only in the browser tab that trained them (and at most "
                   f"{catalog.MAX_SESSION_MODELS} at a time), so the models below are shown instead.")
    elif len(wanted) > MAX_MODELS or len(set(wanted)) != len(wanted):
        st.warning(f"Compare shows two or three different models at once; the link named {len(wanted)}.")


def _use_dataset():  # a dataset button means its three bundled models
    st.session_state["compare.models"] = []


c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
with c1:
    st.text_input("Sentence", key="compare.sentence", max_chars=textio.MAX_INPUT_CHARS,
                  placeholder="Type a sentence and press Enter")
with c2:
    ds = st.segmented_control("Bundled models trained on", list(DATASET_TITLES), key="compare.dataset",
                              format_func=lambda d: DATASET_TITLES[d], on_change=_use_dataset) or "rt"
with st.expander("Or pick any two or three models (bundled, or trained in this session)",
                 expanded=bool(st.session_state["compare.models"])):
    st.multiselect("Models", available, key="compare.models", max_selections=MAX_MODELS,
                   placeholder="the dataset's SimpleRNN, LSTM and GRU",
                   help="Each model reads the text with its own vocabulary and maximum length. "
                        "Clear this to go back to the bundled models of the dataset above.")
text = textio.clean_input(st.session_state["compare.sentence"])
for note in STATE.notes:  # a text too long for a link (ui/state.py)
    st.info(note)
if wellformed.note(text):
    st.warning(wellformed.note(text))

chosen = list(st.session_state["compare.models"])
if len(chosen) == 1:
    st.info("Pick one more model to compare with, or clear the choice to see the bundled models.")
    st.stop()
names = chosen or [n for n in (f"rnn-{ds}", f"lstm-{ds}", f"gru-{ds}") if n in available]
if not names:
    st.error("The bundled models for this dataset are missing.")
    st.stop()
if not text.strip():
    st.info("Type a sentence above to compare the networks.")
    st.stop()

models = {n: catalog.get_model(n) for n in names}
titles = [tm.config.title for tm in models.values()]
label = {n: tm.config.title if len(set(titles)) == len(titles) else n for n, tm in models.items()}
traces = {label[n]: trace(tm.model, tm.vocab, text) for n, tm in models.items()}
if all(tr.n_steps == 0 for tr in traces.values()):
    st.warning("There is nothing here the models can read: no words, only punctuation or spaces.")
    st.stop()
axis = text_axis(traces)
cut = [(lab, tr) for lab, tr in traces.items() if tr.truncated]
if cut:
    who = "; ".join(f"{lab} {reading_note(tr)}" for lab, tr in cut)
    st.warning(textio.md_escape(f"The text has {axis.n_total:,} tokens. {who}. Every chart puts a word at its "
                                "position in the full text; a shaded band marks what a model did not read, and "
                                "the summary compares only words every model read."))

st.info(textio.md_escape(disagreement_summary(traces)))
cols = st.columns(len(names))
for col, (n, tm) in zip(cols, models.items()):
    tr = traces[label[n]]
    with col:
        word = verdict_word(tr.prob)
        st.metric(f"{tm.config.title} ({textio.label_escape(n)})", f"{'😊' if word == 'positive' else '☹️'} {word}")
        st.caption(f"P(positive) = {tr.prob:.1%}")
        note = reading_note(tr)
        limit = "" if tr.truncated else f" (reads at most {tm.config.max_len:,})"
        st.caption(textio.md_escape(f"{note[0].upper()}{note[1:]}{limit}."))

st.plotly_chart(plots.compare_curves(traces), key="compare.curves")

st.subheader("Which units moved each verdict, at which word")
st.caption(f"Each model's exact account of its verdict: the bars are each word's move of the logit, and each row one "
           f"of its top {plots.CONTRIB_TOP} units by share of the verdict, C = w_u (h after the word − h before it), "
           "so the colours in a column add up (over all units) to the bar above, and the whole picture to the logit's "
           "change from the prior. Each model has its own colour scale (said above its picture), and its units are its "
           "own: unit 5 of one model has nothing to do with unit 5 of another. Columns are words by position in the "
           "full text, the same in every picture.")
cols = st.columns(len(names))
for col, (lab, tr) in zip(cols, traces.items()):
    with col:
        if tr.n_steps == 0:
            st.caption(textio.md_escape(f"{lab} read nothing."))
            continue
        st.plotly_chart(plots.contributions(tr, text_axis=axis, narrow=True,
                                            title=f"{html.escape(lab)}: word moves,<br>top units' parts (C)"),
                        key=f"compare.contrib.{lab}")
        st.caption(f"**{textio.md_escape(lab)}**: {narrate.account_story(tr).short(escape=textio.md_escape)}")

st.subheader("Hidden states side by side")
if axis.start > 0 or axis.common > axis.start:
    st.caption(textio.md_escape(f"Columns are words {axis.start + 1:,}–{axis.n_total:,} of the text, the same "
                                "in every chart; grey columns are words a model did not read."))
all_units = st.toggle("All units", key="compare.allunits",
                      help=f"Off: each model's top {plots.TOP_UNITS} units by share of its verdict.")
pick = st.session_state.get("compare.pick")  # {"model", "unit", "token", "tokens"}: the last clicked cell


def _pick(key: str, lab: str, tokens: tuple) -> None:
    """A click on a cell of a model's picture: that model, unit and word, shown under the pictures."""
    got = plots.picked_cell(st.session_state.get(key))
    if got is not None:
        st.session_state["compare.pick"] = {"model": lab, "unit": got[0], "token": got[1], "tokens": tokens}


def _picked(lab: str, tr) -> tuple[int, int] | None:
    """The clicked (unit, token) if it belongs to this model's reading of this text."""
    if not pick or pick.get("model") != lab or tuple(pick.get("tokens", ())) != tr.tokens:
        return None
    unit, tok = pick["unit"], pick["token"]
    return (unit, tok) if 0 <= unit < tr.hidden_size and 0 <= tok < tr.n_steps else None


accounts = {lab: exact_account(tr) for lab, tr in traces.items() if tr.n_steps}
cols = st.columns(len(names))
for col, (lab, tr) in zip(cols, traces.items()):
    with col:
        if not tr.n_steps:
            continue
        chosen = _picked(lab, tr)
        unit, tok = chosen if chosen else (None, None)
        rows = plots.shown_units(accounts[lab].ranking("verdict"), None if all_units else plots.TOP_UNITS, unit)
        key = f"compare.h.{lab}"
        st.plotly_chart(plots.heatmap(tr, "h", title=f"{html.escape(lab)}: hidden state h", narrow=True,
                                      text_axis=axis, rows=rows, clickable=True, selected_unit=unit,
                                      selected_token=tok),
                        key=key, on_select=functools.partial(_pick, key, lab, tr.tokens), selection_mode="points")
st.caption(f"Rows are each model's {'units' if all_units else f'top {plots.TOP_UNITS} units'} by share of its own "
           "verdict (unit numbers are its own). **Click a cell** to see that model's unit at that word here.")
picked = next(((lab, tr) for lab, tr in traces.items() if tr.n_steps and _picked(lab, tr)), None)
if picked is not None:
    lab, tr = picked
    unit, tok = _picked(lab, tr)
    at = units_at(tr, accounts[lab], tok, k=0, include=unit)[0]
    gates = ", ".join(f"{tr.cell.quantity(n).title} {v:+.3f}" for n, v in at.values.items() if n != "h")
    st.markdown(f"**{textio.md_escape(lab)}, unit {unit} at word {read_start(tr) + tok + 1:,} "
                f"(“{textio.md_escape(tr.tokens[tok])}”)**: " + textio.md_escape(
                    f"h went from {at.h_prev:+.3f} to {at.values['h']:+.3f}; {gates}. Its part of the verdict at "
                    f"this word: C = {at.contribution:+.4f} logit (over all words, its share: {at.share:+.4f})."))

st.subheader("Which words mattered to each")
atts = {n: attribute(tm.model, traces[label[n]], "occlusion") for n, tm in models.items()}
shared = max((float(np.max(np.abs(a.scores))) for a in atts.values() if len(a.scores)), default=0.0)
for n, att in atts.items():
    tr = traces[label[n]]
    note = f" — {reading_note(tr)}" if tr.truncated else ""
    st.markdown(f"**{textio.md_escape(label[n])}**{textio.md_escape(note)}")
    st.html(textio.chips_html(tr.tokens, tr.oov, att.scores, att.unit, scale=shared))
st.caption(f"Leave-one-out importance: blue words push towards positive, red towards negative. One colour scale "
           f"for all {len(atts)} models (the darkest chip is the largest change anywhere, {shared:.3f} in "
           "P(positive)), so a model that barely reacts looks pale; hover a word for its exact change.")

# --- which model is more accurate: only what a paired test on the same TEST sentences says ----------
st.subheader("Which is more accurate?")
datasets = {tm.dataset for tm in models.values()}
if len(datasets) != 1 or None in datasets:
    st.caption(textio.md_escape("These models were trained on different data ("
                                + ", ".join(f"{n}: {tm.dataset or 'unknown'}" for n, tm in models.items())
                                + "), so there is no one TEST split to compare their accuracy on."))
    st.stop()
test_ds = datasets.pop()


@st.cache_resource
def _bundled_correct() -> dict:
    """Shared by all visitors: (bundled model, dataset) -> which TEST rows it gets right."""
    return {}


def _store(n: str, tm) -> tuple[dict, object]:
    if tm.source == "bundled":
        return _bundled_correct(), (n, test_ds)
    return st.session_state.setdefault("compare.correct", {}), (n, id(tm.model), test_ds)


pending = [n for n, tm in models.items() if _store(n, tm)[1] not in _store(n, tm)[0]]
if pending:
    slot = st.empty()  # the offer goes away once the numbers are here
    with slot.container():
        st.caption(f"Test the {len(models)} models on the same {DATASET_TITLES[test_ds]} TEST split and ask "
                   "McNemar's paired test whether their difference is beyond noise. "
                   + ("The IMDB reviews take about 20 seconds." if test_ds == "imdb" else "This takes a few seconds."))
        clicked = st.button("Test them on TEST", key="compare.test")
    if not clicked:
        st.stop()
    with st.spinner("Each model reads the whole TEST split…"):
        for n in pending:
            tm = models[n]
            store, key = _store(n, tm)
            store[key] = correct_on_test(tm.model, tm.vocab, test_ds)
    slot.empty()
correct = {n: _store(n, tm)[0][_store(n, tm)[1]] for n, tm in models.items()}
st.markdown(textio.md_escape(stats.race_verdict(correct)))
accs = ", ".join(f"{n} {v.mean():.1%}" for n, v in correct.items())
twin = (f" The same numbers: `python -m playground paired --models {','.join(names)} --dataset {test_ds}`."
        if all(tm.source == "bundled" for tm in models.values()) else "")
st.caption(f"TEST accuracy on {DATASET_TITLES[test_ds]} (n = {len(next(iter(correct.values()))):,} each): "
           f"{textio.md_escape(accs)}.{twin}")
