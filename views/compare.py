"""Compare: one sentence through several models at once (a dataset's SimpleRNN, LSTM and GRU, or
any two or three models of this session), every chart and sentence by position in the full text.
The first screen answers "how do the three cells read this sentence differently?": the verdicts, the
curves, and at the word the visitor picks each cell's keep gate side by side (LSTM f, GRU z; a
SimpleRNN has none) for its units to watch; the exact accounts, hidden states and word importance sit
behind expanders computed only when opened."""
import dataclasses
import functools
import html
from collections import Counter

import numpy as np
import streamlit as st

from playground.core.data import DATASET_SHORT, DATASET_TITLES
from playground.core.trace import trace, verdict_word
from playground.evaluation import stats
from playground.evaluation.heldout import correct_on_test
from playground.explain import narrate
from playground.explain.account import account as exact_account
from playground.explain.account import units_at
from playground.explain.alignment import (
    biggest_position,
    disagreement_summary,
    keeps_at,
    read_start,
    reading_note,
    text_axis,
)
from playground.explain.attribution import attribute
from playground.explain.lesson import WATCH, WHY
from playground.figures import lesson_plots, plots
from ui import catalog, serving, textio, wellformed
from ui.state import Field, PageState, bool_str, one_of, parse_bool, parse_int

MAX_MODELS = 3
MAX_PILLS = 40  # a text of up to this many words is picked from pills; a longer one from a slider


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
    # the chosen word by position in the full text (from 0); defaults to the biggest move of any model
    Field("compare.word", "word", None, parse=parse_int, valid=lambda v: v is None or 0 <= v < 100_000),
)
# a shared link naming models this session does not have: say so (ui.state falls back silently)
asked = st.query_params.get("models") if "compare.models" not in st.session_state else None
STATE.sync()
ss = st.session_state

picked = list(ss.get("compare.models") or [])  # models chosen under "Other models" (none: a dataset's three)
st.title("⚖️ Compare " + ("SimpleRNN, LSTM and GRU" if len(picked) < 2 else f"{len(picked)} models"))
st.caption("One sentence, several networks. Where do they agree, and where not?"
           + (" These are the models picked under “Other models”; a dataset button goes back to its three bundled "
              "models." if len(picked) >= 2 else ""))
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


def _back_to_dataset():  # the unlit buttons shown beside picked models: back to a dataset's three
    back = st.session_state.get("compare.dataset_back")
    if back in DATASET_TITLES:
        st.session_state["compare.dataset"] = back
        st.session_state["compare.models"] = []
    st.session_state["compare.dataset_back"] = None


c1, c2, c3 = st.columns([6, 4, 2], vertical_alignment="bottom")
with c1:
    st.text_input("Sentence", key="compare.sentence", max_chars=textio.MAX_INPUT_CHARS,
                  placeholder="Type a sentence and press Enter")
with c2:
    if len(picked) >= 2:  # no dataset button lit while picked models are shown; a click goes back to its three
        ds = ss["compare.dataset"] or "rt"
        st.segmented_control("Or the bundled models trained on", list(DATASET_TITLES), key="compare.dataset_back",
                             format_func=DATASET_SHORT.get, on_change=_back_to_dataset)
    else:
        ds = st.segmented_control("Bundled models trained on", list(DATASET_TITLES), key="compare.dataset",
                                  format_func=DATASET_SHORT.get, on_change=_use_dataset) or "rt"
with c3:
    with st.popover("Other models", help="Any two or three models: bundled, or trained in this session"):
        st.multiselect("Pick any two or three models (bundled, or trained in this session)", available,
                       key="compare.models", max_selections=MAX_MODELS,
                       placeholder="the dataset's SimpleRNN, LSTM and GRU",
                       help="Each model reads the text with its own vocabulary and maximum length. "
                            "Clear this to go back to the bundled models of the dataset.")
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
shared_axis = axis if axis.same_text else None  # models that split the text differently: each its own tokens
cut = [(lab, tr) for lab, tr in traces.items() if tr.truncated]
if cut:
    who = "; ".join(f"{lab} {reading_note(tr)}" for lab, tr in cut)
    st.warning(textio.md_escape(f"The text has {axis.n_total:,} tokens. {who}. Every chart puts a word at its "
                                "position in the full text; a shaded band marks what a model did not read, and "
                                "the summary compares only words every model read."))

verdicts = " · ".join(f"{'😊' if verdict_word(traces[label[n]].prob) == 'positive' else '☹️'} {label[n]}"
                     f"{'' if label[n] == n else f' ({n})'} {traces[label[n]].prob:.1%}" for n in names)
st.info(textio.md_escape(f"{disagreement_summary(traces, ranges=False)} P(positive): {verdicts}"))
serving.paint_now()  # the verdicts are on screen before the charts are drawn

# --- the chosen word: every model's keep gate there -----------------------------------------------------
readable = [lab for lab, tr in traces.items() if tr.n_steps]
if len(readable) < len(traces) or axis.common >= axis.n_total or not axis.same_text:
    st.caption("Each model's curve under its own words. The word picker and the gates side by side are left out: "
               "they need a word that every model read, split into the same words ("
               + ("these models split the text differently: a Keras model reads it as the tutorials do)."
                  if not axis.same_text else "here some read none)."))
    st.plotly_chart(plots.compare_curves(traces, height=260), key="compare.curves")
    keeps = None
else:
    positions = list(range(axis.common, axis.n_total))
    reading = (tuple(names), tuple(id(tm.model) for tm in models.values()), axis.tokens)
    if ss.get("compare.word_for") != reading and ss.get("compare.word_for") is not None:
        ss["compare.word"] = None  # a new sentence or new models: back to the biggest move
    ss["compare.word_for"] = reading
    if ss.get("compare.word") not in positions:
        ss["compare.word"] = biggest_position(traces)
    STATE.sync()
    at = int(ss["compare.word"])

    def _pick_on_curve() -> None:
        p = plots.picked_word(ss.get("compare.curves"))
        if p is not None and p in positions:
            ss["compare.word"] = p

    st.plotly_chart(plots.compare_curves(traces, height=260, selected_position=at,
                                         title="Prediction after each word<br><sup>orange band: the chosen word · "
                                               "click a point to choose</sup>"),
                    key="compare.curves", on_select=_pick_on_curve, selection_mode="points")
    repeated = {w for w, c in Counter(axis.tokens[p] for p in positions).items() if c > 1}

    def fmt(p: int) -> str:
        tok = axis.tokens[p]
        return f"{textio.label_escape(tok)}{f' ({p + 1})' if tok in repeated else ''}"

    pick_label = "Pick a word: the gates below follow it"
    if len(positions) <= MAX_PILLS:
        st.pills(pick_label, positions, key="compare.word", format_func=fmt,
                 help="Opens on the word where one of the models moved P(positive) most.")
    else:
        st.select_slider(pick_label, options=positions, key="compare.word",
                         format_func=lambda p: f"{p + 1}: {fmt(p)}")
    at = int(ss["compare.word"]) if ss.get("compare.word") in positions else at
    keeps = keeps_at(traces, at, escape=textio.md_escape)
    colors = plots.curve_colors(traces)
    st.markdown(f"**{keeps.headline}**")
    cols = st.columns(len(keeps.models))
    for col, m in zip(cols, keeps.models):
        with col:
            if m.gate is None:
                st.markdown(f"**{textio.md_escape(m.name)}: no keep gate**")
                st.caption("At every word h = tanh(W x + U h + b) is computed anew from the word and the old h: "
                           "nothing decides what to keep, so old words fade unless U happens to carry them.")
                continue
            # each model's bars in its curve's colour: in a gate's own colour the LSTM's f was the GRU's orange
            q = dataclasses.replace(m.gate, color=colors.get(m.name, m.gate.color))
            fig = lesson_plots.quantity_bars(q, m.units, m.why)
            fig.layout.title.text = f"{html.escape(m.name)}: {html.escape(q.title)} (keeps {m.carrier})"
            st.plotly_chart(fig, key=f"compare.keep.{m.name}", config={"displayModeBar": False})
            st.caption(m.sentence)
    marks = ", ".join(f"{lesson_plots.MARKS[w]} {WHY[w]}" for w in ("word", "verdict"))
    st.caption(f"Each model's {WATCH} units to watch at this word ({marks}); its units are its own. "
               "1 keeps all of the old memory, 0 drops it (dotted line: 0.5).")

# --- one click below: the exact machinery, computed only when opened ---------------------------------------
st.subheader("The machinery, one click away")
accounts = {lab: exact_account(tr) for lab, tr in traces.items() if tr.n_steps}
with st.expander("Which units moved each verdict, at which word (the exact account)", key="compare.x.account",
                 on_change="rerun") as box:
    if box.open:
        st.caption(f"Bars: each word's move of the logit. Rows: each model's top {plots.CONTRIB_TOP} units by share "
                   "of its verdict, C = w_u (h after the word − h before it); a column adds up (over all units) to "
                   "its bar. Each model has its own colour scale and its own units.")
        cols = st.columns(len(names))
        for col, (lab, tr) in zip(cols, traces.items()):
            with col:
                if tr.n_steps == 0:
                    st.caption(textio.md_escape(f"{lab} read nothing."))
                    continue
                st.plotly_chart(plots.contributions(tr, text_axis=shared_axis, narrow=True, acc=accounts[lab],
                                                    title=f"{html.escape(lab)}: word moves,<br>top units' parts (C)"),
                                key=f"compare.contrib.{lab}")
                st.caption(f"**{textio.md_escape(lab)}**: "
                           f"{narrate.account_story(tr, accounts[lab]).short(escape=textio.md_escape)}")

with st.expander("Hidden states side by side", key="compare.x.hidden", on_change="rerun") as box:
    if box.open:
        if shared_axis is not None and (axis.start > 0 or axis.common > axis.start):
            st.caption(textio.md_escape(f"Columns are words {axis.start + 1:,}–{axis.n_total:,} of the text, the "
                                        "same in every chart; grey columns are words a model did not read."))
        all_units = st.toggle("All units", key="compare.allunits",
                              help=f"Off: each model's top {plots.TOP_UNITS} units by share of its verdict.")
        pick = ss.get("compare.pick")  # {"model", "unit", "token", "tokens"}: the last clicked cell

        def _pick(key: str, lab: str, tokens: tuple) -> None:
            """A click on a cell of a model's picture: that model, unit and word, shown under the pictures."""
            got = plots.picked_cell(ss.get(key))
            if got is not None:
                ss["compare.pick"] = {"model": lab, "unit": got[0], "token": got[1], "tokens": tokens}

        def _picked(lab: str, tr) -> tuple[int, int] | None:
            """The clicked (unit, token) if it belongs to this model's reading of this text."""
            if not pick or pick.get("model") != lab or tuple(pick.get("tokens", ())) != tr.tokens:
                return None
            unit, tok = pick["unit"], pick["token"]
            return (unit, tok) if 0 <= unit < tr.hidden_size and 0 <= tok < tr.n_steps else None

        cols = st.columns(len(names))
        for col, (lab, tr) in zip(cols, traces.items()):
            with col:
                if not tr.n_steps:
                    continue
                chosen = _picked(lab, tr)
                unit, tok = chosen if chosen else (None, None)
                rows = plots.shown_units(accounts[lab].ranking("verdict"), None if all_units else plots.TOP_UNITS,
                                         unit)
                key = f"compare.h.{lab}"
                st.plotly_chart(plots.heatmap(tr, "h", title=f"{html.escape(lab)}: hidden state h", narrow=True,
                                              text_axis=shared_axis, rows=rows, clickable=True, selected_unit=unit,
                                              selected_token=tok),
                                key=key, on_select=functools.partial(_pick, key, lab, tr.tokens),
                                selection_mode="points")
        st.caption(f"Rows are each model's {'units' if all_units else f'top {plots.TOP_UNITS} units'} by share of "
                   "its own verdict (unit numbers are its own). **Click a cell** to see that model's unit at that "
                   "word here.")
        picked = next(((lab, tr) for lab, tr in traces.items() if tr.n_steps and _picked(lab, tr)), None)
        if picked is not None:
            lab, tr = picked
            unit, tok = _picked(lab, tr)
            at_u = units_at(tr, accounts[lab], tok, k=0, include=unit)[0]
            gates = ", ".join(f"{tr.cell.quantity(n).title} {v:+.3f}" for n, v in at_u.values.items() if n != "h")
            st.markdown(f"**{textio.md_escape(lab)}, unit {unit} at word {read_start(tr) + tok + 1:,} "
                        f"(“{textio.md_escape(tr.tokens[tok])}”)**: " + textio.md_escape(
                            f"h went from {at_u.h_prev:+.3f} to {at_u.values['h']:+.3f}; {gates}. Its part of the "
                            f"verdict at this word: C = {at_u.contribution:+.4f} logit (over all words, its share: "
                            f"{at_u.share:+.4f})."))

with st.expander("Which words mattered to each", key="compare.x.words", on_change="rerun") as box:
    if box.open:
        atts = {n: attribute(tm.model, traces[label[n]], "occlusion") for n, tm in models.items()}
        shared = max((float(np.max(np.abs(a.scores))) for a in atts.values() if len(a.scores)), default=0.0)
        for n, att in atts.items():
            tr = traces[label[n]]
            note = f" — {reading_note(tr)}" if tr.truncated else ""
            st.markdown(f"**{textio.md_escape(label[n])}**{textio.md_escape(note)}")
            st.html(textio.trace_chips_html(tr, att.scores, att.unit, scale=shared))
        st.caption(f"Leave-one-out importance: blue words push towards positive, red towards negative. One colour "
                   f"scale for all {len(atts)} models (the darkest chip is the largest change anywhere, {shared:.3f} "
                   "in P(positive)), so a model that barely reacts looks pale; hover a word for its exact change.")

# --- which model is more accurate: only what a paired test on the same TEST sentences says ----------
st.subheader("Which is more accurate?")
datasets = {tm.dataset for tm in models.values()}
if len(datasets) != 1 or None in datasets:
    st.caption(textio.md_escape("These models were trained on different data ("
                                + ", ".join(f"{n}: {tm.dataset or 'unknown'}" for n, tm in models.items())
                                + "), so there is no one TEST split to compare their accuracy on."))
    st.stop()
elsewhere = [n for n, tm in models.items() if not tm.heldout]
if elsewhere:
    st.caption(textio.md_escape(f"{', '.join(elsewhere)} {'was' if len(elsewhere) == 1 else 'were'} trained "
                                "elsewhere (a Keras file: keras.datasets.imdb trains on this app's IMDB reviews), so "
                                "no TEST split here is held out from "
                                + ("it" if len(elsewhere) == 1 else "them") + " to compare accuracy on."))
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
