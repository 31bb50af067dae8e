"""Playground: one sentence, one model. The first screen answers "what did each gate do at the word I
pick?" (the verdict, the sentence's words to pick from, and the gates' values at that word for the
units to watch, with a sentence each); below, the prediction curve and the words that mattered;
behind expanders, computed only when opened, the exact account, every gate over every word, one unit's
equations, the step-through and the model card."""
import functools
from collections import Counter

import streamlit as st

from playground.core.data import DATASET_TITLES
from playground.core.models import layer_summary
from playground.core.trace import trace, verdict_word
from playground.explain import narrate
from playground.explain.account import RANKINGS, units_at
from playground.explain.account import account as exact_account
from playground.explain.attribution import (
    ALIASES,
    METHODS,
    SHORT_NAMES,
    account,
    attribute,
    ig_path,
    path_story,
    sign_note,
)
from playground.explain.equations import latex_lines, unit_step
from playground.explain.lesson import WHY, word_lesson
from playground.figures import lesson_plots, plots
from ui import catalog, per_model, serving, takeaway, textio
from ui.state import Field, PageState, bool_str, one_of, parse_bool, parse_int

BARS_PER_ROW = 3  # the first screen's bar charts per row when there are more than four
MAX_PILLS = 40  # a text of up to this many words is picked from pills; a longer one from a slider
ORDERED_METHODS = ["ig"] + [m for m in METHODS if m != "ig"]  # integrated gradients first: they add up

# Everything a copied link reopens; `tok` defaults to the word with the biggest move of P(positive),
# `unit` to the first unit to watch at that word (playground/explain/lesson.py), `layer` to the last.
STATE = PageState(
    Field("play.sentence", "s", textio.DEFAULT_SENTENCE, parse=textio.clean_input, long_text=True, label="sentence"),
    catalog.model_field("model", "model"),
    Field("play.method", "method", "ig", parse=lambda v: ALIASES.get(v, v), valid=one_of(METHODS)),
    Field("play.layer", "layer", None, parse=parse_int, valid=lambda v: v is None or 0 <= v < 8),
    Field("play.unit", "unit", None, parse=parse_int, valid=lambda v: v is None or 0 <= v < 4096),
    Field("play.token", "tok", None, parse=parse_int, valid=lambda v: v is None or 0 <= v < 100_000),
    Field("play.rank", "rank", "verdict", valid=one_of(RANKINGS)),
    Field("play.allunits", "allunits", False, parse=parse_bool, valid=lambda v: isinstance(v, bool), to_str=bool_str),
    Field("play.show", "show", "values", valid=one_of(("values", "change"))),
    Field("play.igpath", "igpath", False, parse=parse_bool, valid=lambda v: isinstance(v, bool), to_str=bool_str),
)
STATE.sync()
ss = st.session_state

st.title("🔬 Playground")


def _use_example():
    ex = ss.get("play.example")
    if ex:
        ss["play.sentence"] = ex
    ss["play.example"] = None


about, examples = st.columns([5, 1], vertical_alignment="center")  # one row: the page's line and the examples
with about:
    st.caption("Type a sentence, pick a word, and see what every gate of the network did there.")
with examples:
    with st.popover("Examples", help="One click puts an example in the sentence box."):
        st.pills("Examples", textio.EXAMPLES, key="play.example", on_change=_use_example,
                 label_visibility="collapsed")
tm = catalog.sentence_and_model("play.sentence", "Type a sentence about a film, a meal, a product…")
text = textio.read_sentence("play.sentence", STATE.notes)  # link notes; unreadable characters

if not text.strip():
    st.info("Type a sentence above (or pick an example) to see the network read it.")
    st.stop()

tr = trace(tm.model, tm.vocab, text)
if tr.n_steps == 0:
    st.warning("There is nothing here the model can read: no words, only punctuation or spaces.")
    st.stop()
if tr.truncated:
    st.warning(f"Your text has {tr.n_tokens_total:,} tokens; this model reads at most "
               f"{tm.config.max_len}, so it read only the last {tr.n_steps} (the first "
               f"{tr.n_tokens_total - tr.n_steps:,} were cut).")
n_oov = sum(tr.oov)
n_read = tr.n_steps - tr.lead  # a Keras model's padding zeros are never out of vocabulary: not counted
if n_oov == n_read:
    st.warning("None of these words are in the model's vocabulary (marked °), so it reads only "
               "‘unknown word’ tokens and its verdict says little. Try English words.")
elif n_oov:
    st.caption(f"{n_oov} of {n_read} tokens are not in the model's vocabulary (marked °); "
               "the model reads them all as the same ‘unknown word’.")

if "keras_index_from" in tm.card:  # a reader's own Keras model: what it read, as Keras' ids
    pads = tr.lead
    rest = tr.ids[pads:]
    ids = " ".join(map(str, rest if len(rest) <= 80 else rest[-80:]))
    st.caption(textio.md_escape(
        f"Read as the Keras tutorials do (index_from {tm.card.get('keras_index_from')}, start "
        f"{tm.card.get('keras_start')}, out of vocabulary {tm.card.get('keras_oov')}): "
        + (f"{pads} padding zeros first, which the model reads too, then the ids" if pads else "Its ids")
        + f"{'' if len(rest) <= 80 else ' (the last 80)'}: {ids}."))

# --- the chosen word and unit --------------------------------------------------------------------
# A new sentence or model opens on the word with the biggest move of P(positive); a new word opens the
# first of its units to watch in the drill-down. A word or unit from the URL, a click or a widget holds
# while the sentence and model (and, for the unit, the word) stay the same.
acc = exact_account(tr)  # contributions (H, T) of the last layer to the verdict
H, T = tr.hidden_size, tr.n_steps
LEAD = tr.lead  # a Keras model's padding before the words: read, drawn as one run, never a word to pick
reading = (tm.name, id(tm.model), tr.tokens)
if ss.get("play.drill_for") not in (None, reading):
    ss["play.token"], ss["play.unit"] = None, None
    ss["play.layer"] = len(tr.layers) - 1
ss["play.drill_for"] = reading
if ss["play.token"] is None or not LEAD <= int(ss["play.token"]) < T:
    ss["play.token"] = narrate.curve_story(tr).biggest.t
at_tok = int(ss["play.token"])
lesson = word_lesson(tr, at_tok, acc, escape=textio.md_escape)
watch = list(lesson.units)
if ss.get("play.unit_for") not in (None, (reading, at_tok)) or ss["play.unit"] is None \
        or not 0 <= int(ss["play.unit"]) < H:
    ss["play.unit"] = watch[0]
ss["play.unit_for"] = (reading, at_tok)
STATE.sync()  # again: a copied link reopens the word and unit drawn below, not the ones before the fix-ups


def _choose(token: int, unit: int | None = None, layer: int | None = None) -> None:
    """A click on a word (or a cell): every view follows it."""
    ss["play.token"] = int(token)
    if unit is not None:
        ss["play.unit"] = int(unit)
        ss["play.unit_for"] = (reading, int(token))  # the clicked unit holds for its word
    if layer is not None:
        ss["play.layer"] = int(layer)


# --- the first screen: the verdict, the word picker, what each gate did there -----------------------
word = verdict_word(tr.prob)
v1, v2 = st.columns([1, 3], vertical_alignment="center")  # the metric's label whole at 1366 px
with v1:
    st.metric("P(positive) after the last word", f"{tr.prob:.1%}", help="The readout's verdict on the whole text.")
with v2:
    st.markdown(f"### {'😊' if word == 'positive' else '☹️'} {word.capitalize()}\n{tm.config.title} · "
                + (f"{tr.n_words} words read after {LEAD:,} padding zeros"
                   + (" and a start token" if tr.first_word > LEAD else "") if LEAD else f"{T} words read"))
serving.paint_now()  # the verdict is on screen before the charts are drawn


REPEATED = {w for w, n in Counter(tr.tokens[LEAD:]).items() if n > 1}


def fmt(i: int) -> str:
    """A word's pill: a word the text has twice carries its position ("I (8)"): pills with the same label
    are one option to the browser, so a click on the first "I" would choose the last."""
    where = f" ({i + 1 - tr.first_word if tr.first_word else i + 1})" if tr.tokens[i] in REPEATED else ""
    return f"{textio.label_escape(tr.tokens[i])}{'°' if tr.oov[i] else ''}{where}"


label = "Pick a word: every view below follows it"
if T - LEAD <= MAX_PILLS:
    st.pills(label, list(range(LEAD, T)), key="play.token", format_func=fmt,
             help="Opens on the word that moved P(positive) most. A click on the curve below picks a word too.")
else:
    st.select_slider(label, options=list(range(LEAD, T)), key="play.token",
                     format_func=lambda i: f"{i + 1 - tr.first_word}: {fmt(i)}",
                     help="Opens on the word that moved P(positive) most.")

st.markdown(f"**{lesson.headline}**")
quantities = lesson.quantities
# rows of at most BARS_PER_ROW charts (an LSTM's six in two rows of three): a chart narrower than about
# 150 px is drawn wider than its column and loses its values on the right; a phone stacks the columns
per_row = len(quantities) if len(quantities) <= BARS_PER_ROW + 1 else BARS_PER_ROW
for first in range(0, len(quantities), per_row):
    for col, q in zip(st.columns(per_row), quantities[first:first + per_row]):
        with col:
            st.plotly_chart(lesson_plots.quantity_bars(q, watch, lesson.why, highlight=ss["play.unit"]),
                            key=f"play.bars.{q.name}", config={"displayModeBar": False})
marks = ", ".join(f"{lesson_plots.MARKS[w]} {WHY[w]}" for w in ("word", "verdict") if w in lesson.why)
st.caption(f"The {len(watch)} of the last layer's {H} units to watch at this word ({marks}). "
           + ("Gates run from 0 to 1 (dotted line: 0.5); " if tr.cell.has_gates else "")
           + "orange outline: the unit in “One unit, up close” below.")
st.markdown("\n".join(f"- {q.sentence}" for q in quantities if q.told))

# --- the whole sentence: the curve and the words that mattered ---------------------------------------
st.subheader("The whole sentence")


def _pick_on_curve() -> None:
    t = plots.picked_word(ss.get("play.curve"))
    if t is not None and LEAD <= t < T:  # the prior's and the padding's points are not words
        _choose(t)


curve_fig = plots.prediction_curve(tr, title="Prediction after each word<br>"
                                             "<sup>orange: the chosen word · click a point to choose</sup>",
                                  selected_token=at_tok)
st.plotly_chart(curve_fig, key="play.curve", on_select=_pick_on_curve, selection_mode="points")
st.caption(narrate.curve_story(tr).brief(escape=textio.md_escape))

method = st.segmented_control("Which words mattered", ORDERED_METHODS, key="play.method",
                              format_func=lambda m: SHORT_NAMES[m], help="\n\n".join(
                                  f"**{SHORT_NAMES[m]}**: {METHODS[m]}" for m in ORDERED_METHODS)) or "ig"
att = attribute(tm.model, tr, method)
st.html(textio.trace_chips_html(tr, att.scores, att.unit))  # a Keras model's padding: one chip, its scores' sum
said = account(att, tr, escape=textio.md_escape)
for sentence in (s for s, warn in said if warn):  # integrated gradients that do not add up: in red
    st.markdown(f":red[**{sentence}**]")
st.caption(f"Blue pushes towards positive, red towards negative; darker = stronger. {SHORT_NAMES[method]}: "
           + ("each word's share of the logit change; they add up. " if method == "ig" else "")
           + "Hover a word for its score; “how is this computed?” below says more.")
if method != "ig":
    note = sign_note(att, attribute(tm.model, tr, "ig"), tr, escape=textio.md_escape)
    if note:
        st.caption(note)
with st.expander("How is this computed?", key="play.x.method", on_change="rerun") as how:
    if how.open:
        st.markdown(f"**{SHORT_NAMES[method]}**: {METHODS[method]}.")
        if any(not warn for _, warn in said):
            st.caption("  \n".join(s for s, warn in said if not warn))  # one block, a line per fact
        if att.pieces:  # integrated gradients: the curve they integrate, on request (always when they fall short)
            if att.complete:
                st.toggle("Show the path integrated gradients follow", key="play.igpath",
                          help="The model's logit as the words fade in from padding, and what the scores add up to "
                               "along it")
            if not att.complete or ss["play.igpath"]:
                path = ig_path(tm.model, att, list(tr.ids))
                st.plotly_chart(plots.ig_path_figure(path), key="play.igpath_fig",
                                config={"displayModeBar": False})
                st.caption(path_story(att, path))

# --- one click below: the exact machinery, computed only when opened ---------------------------------
st.subheader("The machinery, one click away")


def _contrib_rows(rank: str, show_all: bool) -> list[int]:
    """The contribution picture's rows: all units in the ranking's order, or the units to watch (and the
    drill-down's unit after them)."""
    if show_all:
        return [int(u) for u in acc.ranking(rank)]
    unit = ss["play.unit"]
    return watch + ([int(unit)] if unit is not None and int(unit) not in watch else [])


with st.expander("Which units moved the verdict, at which word (the exact account)", key="play.x.account",
                 on_change="rerun") as box:
    if box.open:
        st.caption("The readout reads the last layer: logit = b + w · h, from h = 0. So each word's change of "
                   "the logit splits exactly over units: unit u moved it by C = w_u (h after − h before).")
        st.latex(r"\text{logit}_T - b = \sum_{u}\sum_{t} \underbrace{w_u\,(h_{u,t} - h_{u,t-1})}_{C[u,\,t]}")
        r1, r2 = st.columns([3, 2], vertical_alignment="bottom")
        with r1:
            rank = st.segmented_control("Rank all units by", list(RANKINGS), key="play.rank",
                                        format_func=lambda r: {"verdict": "share of the verdict",
                                                               "moves": "size of moves"}[r],
                                        help="\n\n".join(f"**{k}**: {v}" for k, v in RANKINGS.items())) or "verdict"
        with r2:
            show_all = st.toggle(f"Show all {H} units", key="play.allunits",
                                 help="Off: the units to watch at the chosen word (and the unit opened below).")

        def _pick_contribution() -> None:
            got = plots.picked_cell(ss.get("play.contrib"))
            if got is not None:
                _choose(got[1], got[0], len(tr.layers) - 1)

        st.plotly_chart(plots.contributions(tr, rows=_contrib_rows(rank, show_all), acc=acc, clickable=True,
                                            selected_unit=ss["play.unit"], selected_token=at_tok),
                        key="play.contrib", on_select=_pick_contribution, selection_mode="points")
        st.caption(narrate.account_story(tr, acc, top=plots.CONTRIB_TOP).sentence(escape=textio.md_escape)
                   + " Click a cell to choose its unit and word.")
        cell_qs = [tr.cell.quantity(n) for n in tr.last.gates]
        st.markdown(f"**The units that moved it most at “{textio.md_escape(tr.tokens[at_tok])}” "
                    f"({tr.where(at_tok) if tr.first_word else f'token {at_tok + 1}'}), with their values there**")
        st.caption(narrate.word_story(tr, at_tok, acc, escape=textio.md_escape))
        table = [{"unit": f"{r.unit} ★" if r.unit == ss["play.unit"] else str(r.unit),
                  "C at this word": r.contribution, "share of the verdict": r.share, "h before": r.h_prev,
                  "h after": r.values["h"], **{q.title: r.values[q.name] for q in cell_qs}}
                 for r in units_at(tr, acc, at_tok, k=8, include=ss["play.unit"])]
        takeaway.table(table, f"Units at “{tr.tokens[at_tok]}” ({tr.where(at_tok)}), last layer", "play-units",
                       hide_index=True, column_config={
            "C at this word": st.column_config.NumberColumn(format="%+.4f", help="C[u, t] in logit"),
            "share of the verdict": st.column_config.NumberColumn(format="%+.4f", help="the unit's row sum, in logit"),
            **{k: st.column_config.NumberColumn(format="%+.3f")
               for k in ["h before", "h after"] + [q.title for q in cell_qs]}})
        st.caption("Last layer. ★ marks the unit opened below.")

n_layers = len(tr.layers)
with st.expander("Every gate at every word (units × words)", key="play.x.gates", on_change="rerun") as box:
    if box.open:
        layer = 0
        if n_layers > 1:
            if ss["play.layer"] is None or ss["play.layer"] >= n_layers:
                ss["play.layer"] = n_layers - 1
            layer = st.segmented_control("Layer", list(range(n_layers)), key="play.layer",
                                         format_func=lambda i: f"Layer {i + 1}") or 0
        st.caption(tr.cell.caption)
        SHOW = {"values": "values", "change": "change from typical"}
        show = st.segmented_control("Show", list(SHOW), key="play.show", format_func=SHOW.get,
                                    help="**values**: each gate and state as it is. **change from typical**: minus "
                                         "that unit's typical value (its mean over a sample of TEST texts), so what "
                                         "this sentence changed stands out from what the unit always does.") or "values"
        typ = None
        if show == "change":
            typ, no_typ = per_model.typical(tm)
            if typ is None:
                if no_typ:
                    st.info(f"There are no typical values for this model: {textio.md_escape(no_typ)}. The values "
                            "are shown.")
                else:
                    st.caption("The values are shown until the typical values are worked out.")
            else:
                st.caption(f"**Change from typical**: each cell is the unit's value at that word minus its typical "
                           f"value, {textio.md_escape(typ.describe())} ({DATASET_TITLES[typ.dataset]}). Blue: higher "
                           "than usual; red: lower; white: as usual. "
                           + ("Shipped with the app." if tm.source == "bundled" else "Worked out once for this model.")
                           + (f" The same numbers: `python -m playground typical --model {tm.name} --json \"…\"`."
                              if tm.source == "bundled" else "")
                           + (" " + textio.md_escape(tm.texts_caveat) if tm.texts_caveat else ""))

        def _rows(li: int):
            """A layer's rows, top to bottom: the last layer's units to watch (all on request, in the account's
            order), the drill-down's unit kept; other layers' units by index (None: all)."""
            if li != n_layers - 1:
                return None
            return _contrib_rows(ss.get("play.rank") or "verdict", bool(ss.get("play.allunits")))

        def _pick(key: str, li: int) -> None:
            got = plots.picked_cell(ss.get(key))
            if got is not None:
                _choose(got[1], got[0], li if n_layers > 1 else None)

        def _units_chart(name: str, li: int, key: str, title: str | None = None) -> None:
            ref = typ.mean[li][name] if typ is not None else None
            fig = plots.heatmap(tr, name, layer=li, rows=_rows(li), reference=ref, title=title, clickable=True,
                                selected_unit=ss["play.unit"], selected_token=at_tok)
            st.plotly_chart(fig, key=key, on_select=functools.partial(_pick, key, li), selection_mode="points")

        # rows of two, filled row by row: a phone stacks the columns, so the charts keep the cell's order
        charts = [(f"play.heat.{name}", name) for name in tr.gate_names] + [("play.means", None)]
        for row in range(0, len(charts), 2):
            for col, (key, name) in zip(st.columns(2), charts[row:row + 2]):
                with col:
                    if name is None:
                        st.plotly_chart(plots.gate_means(tr, layer=layer), key=key)
                    else:
                        _units_chart(name, layer, key)
        hcols = st.columns(n_layers)
        for li in range(n_layers):
            with hcols[li]:
                h_title = tr.cell.quantity("h").title + (" − typical" if typ is not None else "")
                _units_chart("h", li, f"play.heat.h{li}",
                             title=f"{h_title} — layer {li + 1}" if n_layers > 1 else h_title)
        last_rows = _rows(n_layers - 1)
        about = ["Rows are units, columns are words; hover a cell for its exact value. The last layer's rows are "
                 + ("all its units, in the account's order" if len(last_rows) >= H else
                    f"its {len(watch)} units to watch at the chosen word (the toggle in the exact account shows all)")]
        if n_layers > 1:
            about.append("the other layers' units are in index order")
        n_rows = len(_rows(layer) or range(H))
        if n_rows * T <= plots.MAX_CLICK_CELLS:
            about.append("**click a cell** to choose its unit and word")
        else:
            about.append(f"a click chooses a cell only on pictures of at most {plots.MAX_CLICK_CELLS:,} cells; the "
                         "word picker and the Unit box choose any cell")
        st.caption("; ".join(about) + ". The chosen unit is outlined in orange, its word dotted.")

with st.expander("One unit, up close (its update with these numbers)", key="play.x.unit", on_change="rerun") as box:
    if box.open:
        layer = ss["play.layer"] if n_layers > 1 and ss["play.layer"] is not None else n_layers - 1
        layer = min(int(layer), n_layers - 1)
        unit = st.selectbox("Unit", list(range(H)), key="play.unit",
                            help="Opens on the first unit to watch at the chosen word; the word is the picker's.")
        st.plotly_chart(plots.unit_lines(tr, unit, layer=layer, token=at_tok), key="play.unitlines")
        step = unit_step(tr, layer, unit, at_tok)
        st.markdown(f"**Unit {unit} at {tr.where(at_tok)} (“{textio.md_escape(tr.tokens[at_tok])}”)**, layer "
                    f"{layer + 1}: h went from {step.h_prev:+.3f} to {step.h:+.3f}.")
        for line in latex_lines(step):
            st.latex(line)
        st.caption("Each bias is stored in two parts, b_x beside the input's product and b_h beside the recurrent "
                   "one (PyTorch's b_ih and b_hh); the equations' b is their sum.")

with st.expander("Read it with me (the sentence word by word, animated)", key="play.x.read", on_change="rerun") as box:
    if box.open:
        story = narrate.step_story(tr, acc, at_tok, escape=textio.md_escape)
        st.markdown(f"**{story.sentences[0]}**\n\n" + "\n\n".join(story.sentences[1:]))
        stories = narrate.step_stories(tr, acc, escape=textio.md_escape)
        st.plotly_chart(plots.step_through(tr, stories, start=at_tok, title="P(positive) word by word: press ▶ Play",
                                           base=curve_fig), key="play.steps", config={"displayModeBar": False})
        st.caption("▶ Play steps through the words in your browser; each step says which units made the move. "
                   "Gate words follow the values as printed: \"most\" is 0.56 and up, \"about half\" 0.45 to 0.55.")

with st.expander("Model card", key="play.x.card", on_change="rerun") as box:
    if box.open:
        card = tm.card
        st.markdown(f"**{textio.md_escape(tm.name)}** — {tm.config.title}, {tm.n_params:,} parameters; "
                    f"trained on {textio.md_escape(card.get('trained_on', 'unknown data'))}.")
        if tm.test_accuracy is not None:
            st.markdown(f"TEST accuracy: **{tm.test_accuracy:.2%}** ({textio.md_escape(card.get('test_split', ''))})")
        elif tm.texts_caveat:
            st.caption(textio.md_escape(tm.texts_caveat))
        if "keras_index_from" in card:  # a reader's Keras model: how it reads text, and what the file held
            st.markdown(textio.md_escape(
                f"Read as the Keras tutorials do: maxlen {card.get('keras_maxlen') or 'none (each text whole)'}, "
                + ("pre-padded with zeros it reads" if card.get("keras_pad", True) else "no padding")
                + f", word ids from index_from {card.get('keras_index_from')} (start {card.get('keras_start')}, out of "
                f"vocabulary {card.get('keras_oov')}), {card.get('word_index_words', 0):,} words in the word index "
                f"given. The file's layers: {card.get('keras_layers', '?')}. To read with other settings, set them on "
                "the Train page and upload the file again."))
        layers = card.get("layers") or layer_summary(tm.config)  # an imported model's card has no layer rows
        takeaway.table(layers, f"{tm.name}: its layers", "play-card-layers", hide_index=True,
                       column_config={"params": st.column_config.NumberColumn("parameters", format="localized")})
        st.json({k: v for k, v in card.items() if k not in ("layers", "history")}, expanded=False)
