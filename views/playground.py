"""Playground: one sentence, one model; the verdict, the prediction after each word, word
importance, every gate, the hidden state, and one unit's equations with real numbers."""
import functools

import streamlit as st

from playground.core.data import DATASET_TITLES
from playground.core.trace import trace, verdict_word
from playground.explain import narrate
from playground.explain.account import RANKINGS, units_at
from playground.explain.account import account as exact_account
from playground.explain.attribution import ALIASES, METHODS, SHORT_NAMES, account, attribute, ig_path, path_story
from playground.explain.equations import latex_lines, unit_step
from playground.figures import plots
from ui import catalog, per_model, serving, textio
from ui.state import Field, PageState, bool_str, one_of, parse_bool, parse_int

# Everything a copied link reopens; `layer` defaults to the last layer, `unit` and `tok` to the most
# decisive unit of the verdict at its most decisive word (playground/explain/account.py).
STATE = PageState(
    Field("play.sentence", "s", textio.DEFAULT_SENTENCE, parse=textio.clean_input, long_text=True, label="sentence"),
    catalog.model_field("model", "model"),
    Field("play.method", "method", "occlusion", parse=lambda v: ALIASES.get(v, v), valid=one_of(METHODS)),
    Field("play.layer", "layer", None, parse=parse_int, valid=lambda v: v is None or 0 <= v < 8),
    Field("play.unit", "unit", None, parse=parse_int, valid=lambda v: v is None or 0 <= v < 4096),
    Field("play.token", "tok", None, parse=parse_int, valid=lambda v: v is None or 0 <= v < 100_000),
    Field("play.rank", "rank", "verdict", valid=one_of(RANKINGS)),
    Field("play.allunits", "allunits", False, parse=parse_bool, valid=lambda v: isinstance(v, bool), to_str=bool_str),
    Field("play.show", "show", "values", valid=one_of(("values", "change"))),
    Field("play.igpath", "igpath", False, parse=parse_bool, valid=lambda v: isinstance(v, bool), to_str=bool_str),
)
STATE.sync()

st.title("🔬 Playground")
st.caption("Type a sentence, pick a model, and watch it read. Press Enter to update.")


def _use_example():
    ex = st.session_state.get("play.example")
    if ex:
        st.session_state["play.sentence"] = ex
    st.session_state["play.example"] = None


tm = catalog.sentence_and_model("play.sentence", "Type a sentence about a film, a meal, a product…")
st.pills("Examples", textio.EXAMPLES, key="play.example", on_change=_use_example,
         help="One click puts the example in the box above.")
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
if n_oov == tr.n_steps:
    st.warning("None of these words are in the model's vocabulary (marked °), so it reads only "
               "‘unknown word’ tokens and its verdict says little. Try English words.")
elif n_oov:
    st.caption(f"{n_oov} of {tr.n_steps} tokens are not in the model's vocabulary (marked °); "
               "the model reads them all as the same ‘unknown word’.")

# --- the drill-down's unit and token -------------------------------------------------------------
# A new sentence or model opens on its most decisive unit at that unit's largest move; a unit or
# token from the URL or chosen by the visitor holds while the sentence and model stay the same.
acc = exact_account(tr)  # contributions (H, T) of the last layer to the verdict
H = tr.hidden_size
dec_unit, dec_tok = acc.decisive()
reading = (tm.name, id(tm.model), tr.tokens)
if st.session_state.get("play.drill_for") not in (None, reading):  # (a unit of the last layer: the readout's)
    st.session_state["play.unit"], st.session_state["play.token"] = dec_unit, dec_tok
    st.session_state["play.layer"] = len(tr.layers) - 1
st.session_state["play.drill_for"] = reading
if st.session_state["play.unit"] is None or not 0 <= int(st.session_state["play.unit"]) < H:
    st.session_state["play.unit"] = dec_unit
if st.session_state["play.token"] is None or not 0 <= int(st.session_state["play.token"]) < tr.n_steps:
    st.session_state["play.token"] = int(abs(acc.contributions[st.session_state["play.unit"]]).argmax())
STATE.sync()  # again: a copied link reopens the token and unit drawn below, not the ones before the fix-ups

# --- verdict ---------------------------------------------------------------------------------
word = verdict_word(tr.prob)
v1, v2 = st.columns([1, 2], vertical_alignment="center")
with v1:
    emoji = "😊" if word == "positive" else "☹️"
    conf = tr.prob if word == "positive" else 1 - tr.prob
    st.markdown(f"### {emoji} {word.capitalize()}")
    st.metric("P(positive)", f"{tr.prob:.1%}", help="The readout's probability after the last word.")
    st.caption(f"{conf:.0%} confident · {tm.config.title} · {tr.n_steps} tokens")
serving.paint_now()  # the verdict is on screen before the gauge and the charts are drawn
with v2:
    st.plotly_chart(plots.confidence_gauge(tr.prob), key="play.gauge", config={"displayModeBar": False})

curve_fig = plots.prediction_curve(tr, title="Prediction after each word")  # also the step-through's base, below
st.plotly_chart(curve_fig, key="play.curve")
st.caption(narrate.curve_story(tr).sentence(escape=textio.md_escape))

# --- the exact account of the verdict: units x words -----------------------------------------------
st.subheader("Which units moved the verdict, at which word")
st.caption("The readout reads the last layer's state after every word, logit = b + w · h, and the state starts "
           "at 0, so the logit before reading is b (the prior). Every word's change of the logit therefore splits "
           "exactly over the units: unit u moved it by C = w_u (h after the word − h before it). The bars are each "
           "word's total move (the column's sum); each row is one unit, and its colours add up to that unit's share "
           "of the final logit. Blue pushes towards positive, red towards negative.")
st.latex(r"\text{logit}_T - b = \sum_{u}\sum_{t} \underbrace{w_u\,(h_{u,t} - h_{u,t-1})}_{C[u,\,t]}")
r1, r2 = st.columns([3, 2], vertical_alignment="bottom")
with r1:
    rank = st.segmented_control("Rank units by", list(RANKINGS), key="play.rank",
                                format_func=lambda r: {"verdict": "share of the verdict", "moves": "size of moves"}[r],
                                help="\n\n".join(f"**{k}**: {v}" for k, v in RANKINGS.items())) or "verdict"
with r2:
    show_all = st.toggle(f"Show all {H} units", key="play.allunits",
                         help=f"Off: the top {plots.CONTRIB_TOP} units in the chosen order, and the "
                              "drill-down's unit after them if it is not among them.")


def _pick_contribution() -> None:
    """A click on a contribution: that unit (of the last layer) at that word opens in the drill-down."""
    got = plots.picked_cell(st.session_state.get("play.contrib"))
    if got is not None:
        st.session_state["play.unit"], st.session_state["play.token"] = got
        st.session_state["play.layer"] = len(tr.layers) - 1


contrib_rows = plots.shown_units(acc.ranking(rank), None if show_all else plots.CONTRIB_TOP,
                                 st.session_state["play.unit"])  # the drill-down's unit stays in the picture
st.plotly_chart(plots.contributions(tr, rows=contrib_rows, acc=acc, clickable=True,
                                    selected_unit=st.session_state["play.unit"],
                                    selected_token=st.session_state["play.token"]),
                key="play.contrib", on_select=_pick_contribution, selection_mode="points")
st.caption(narrate.account_story(tr, acc, top=plots.CONTRIB_TOP).sentence(escape=textio.md_escape)
           + " The drill-down's unit is outlined in orange, its word in black; click a cell to open that unit at "
             "that word in the drill-down and the table below.")

at_tok = st.session_state["play.token"]
cell_qs = [tr.cell.quantity(n) for n in tr.last.gates]
st.markdown(f"**The units that moved it most at “{textio.md_escape(tr.tokens[at_tok])}” (token {at_tok + 1}), "
            "with their values there**")
st.caption(narrate.word_story(tr, at_tok, acc, escape=textio.md_escape))
table = [{"unit": f"{r.unit} ★" if r.unit == st.session_state["play.unit"] else str(r.unit),
          "C at this word": r.contribution, "share of the verdict": r.share, "h before": r.h_prev,
          "h after": r.values["h"], **{q.title: r.values[q.name] for q in cell_qs}}
         for r in units_at(tr, acc, at_tok, k=8, include=st.session_state["play.unit"])]
st.dataframe(table, hide_index=True, column_config={
    "C at this word": st.column_config.NumberColumn(format="%+.4f", help="C[u, t] in logit"),
    "share of the verdict": st.column_config.NumberColumn(format="%+.4f", help="the unit's row sum, in logit"),
    **{k: st.column_config.NumberColumn(format="%+.3f") for k in ["h before", "h after"] + [q.title for q in cell_qs]}})
st.caption("Last layer. ★ marks the drill-down's unit; the word is the drill-down's too (below: pick another word "
           "or unit there).")

# --- word importance -------------------------------------------------------------------------
st.subheader("Which words mattered")
method = st.segmented_control("Importance method", list(METHODS), key="play.method",
                              format_func=lambda m: SHORT_NAMES[m], help="\n\n".join(
                                  f"**{SHORT_NAMES[m]}**: {d}" for m, d in METHODS.items())) or "occlusion"
att = attribute(tm.model, tr, method)
st.html(textio.chips_html(tr.tokens, tr.oov, att.scores, att.unit))
st.caption(f"Blue words push towards positive, red towards negative; darker = stronger. {METHODS[method]}. "
           "Dashed chips with ° are out of vocabulary.")
said = account(att, tr, escape=textio.md_escape)
for sentence in (s for s, warn in said if warn):  # integrated gradients that do not add up: in red
    st.markdown(f":red[**{sentence}**]")
if any(not warn for _, warn in said):
    st.caption("  \n".join(s for s, warn in said if not warn))  # one block, a line per fact
if att.pieces:  # integrated gradients: the curve they integrate, on request (always when they fall short)
    if att.complete:
        st.toggle("Show the path integrated gradients follow", key="play.igpath",
                  help="The model's logit as the words fade in from padding, and what the scores add up to along it")
    if not att.complete or st.session_state["play.igpath"]:
        path = ig_path(tm.model, att, list(tr.ids))
        st.plotly_chart(plots.ig_path_figure(path), key="play.igpath_fig",
                        config={"displayModeBar": False})
        st.caption(path_story(att, path))

# --- read it with me: the sentence one word at a time -------------------------------------------
st.subheader("Read it with me")
st.caption("The model reads one word at a time. Pick a word (or press ▶ Play under the chart, which steps through "
           "the words in your browser): you see P(positive) before and after it, how far the word moved the logit "
           "(log of P / (1 − P); the curve's step), and which units of the last layer made that move. A unit's part "
           "is its readout weight times its change of state, C = w_u (h after − h before); the parts of all units "
           "add up exactly to the word's move. The last sentence opens the unit with the largest part: what its "
           "gates did at this word, with their values. Gate words follow the values as printed: \"most\" is 0.56 "
           "and up, \"about half\" 0.45 to 0.55, \"almost all\" 0.90 and up (or 0.09 and below for \"almost none\").")
stories = narrate.step_stories(tr, escape=textio.md_escape)  # one per token: numbers and sentences
if st.session_state.get("play.step_for") != (tm.name, id(tm.model), tr.tokens):  # a new reading: its biggest move
    st.session_state["play.step"] = narrate.curve_story(tr).biggest.t
    st.session_state["play.step_for"] = (tm.name, id(tm.model), tr.tokens)
step_t = st.select_slider("Word", options=list(range(tr.n_steps)), key="play.step",
                          format_func=lambda i: (f"{i + 1}: {textio.label_escape(tr.tokens[i])}"
                                                 f"{'°' if tr.oov[i] else ''}"),
                          help="Opens on the word that moved P(positive) most.")
story = stories[step_t]
st.markdown(f"**{story.sentences[0]}**\n\n" + "\n\n".join(story.sentences[1:]))
st.plotly_chart(plots.step_through(tr, stories, start=step_t, title="P(positive) word by word: press ▶ Play or drag",
                                   base=curve_fig), key="play.steps", config={"displayModeBar": False})

# --- gates and hidden state ------------------------------------------------------------------
n_layers = len(tr.layers)
layer = 0
if n_layers > 1:
    if st.session_state["play.layer"] is None or st.session_state["play.layer"] >= n_layers:
        st.session_state["play.layer"] = n_layers - 1
    layer = st.segmented_control("Layer", list(range(n_layers)), key="play.layer",
                                 format_func=lambda i: f"Layer {i + 1}") or 0

st.subheader("Gates")
st.caption(tr.cell.caption)
names = list(tr.gate_names)


# Every units x tokens picture shows the same rows: the last layer's units in the account's order
# (the top TOP_UNITS unless "all units" is on, the drill-down's unit kept), other layers' units by index.
# "Change from typical" draws value - the unit's mean over a TEST sample; a click on a cell opens that
# unit at that word in the drill-down below.
SHOW = {"values": "values", "change": "change from typical"}
show = st.segmented_control("Show", list(SHOW), key="play.show", format_func=SHOW.get,
                            help="**values**: each gate and state as it is. **change from typical**: minus that "
                                 "unit's typical value (its mean over a sample of TEST texts), so what this "
                                 "sentence changed stands out from what the unit always does.") or "values"
typ = None
if show == "change":
    typ, no_typ = per_model.typical(tm)
    if typ is None:
        if no_typ:
            st.info(f"There are no typical values for this model: {textio.md_escape(no_typ)}. The values are "
                    "shown.")
        else:
            st.caption("The values are shown until the typical values are worked out.")
    else:
        st.caption(f"**Change from typical**: each cell is the unit's value at that word minus its typical value, "
                   f"{textio.md_escape(typ.describe())} ({DATASET_TITLES[typ.dataset]}), e.g. "
                   "Δf = f(unit, word) − mean f(unit). Blue: higher than usual; red: lower; white: as usual. "
                   + ("Shipped with the app." if tm.source == "bundled" else "Worked out once for this model.")
                   + (f" The same numbers: `python -m playground typical --model {tm.name} --json \"…\"`."
                      if tm.source == "bundled" else ""))


def _rows(li: int):
    """The units a layer's pictures show, top to bottom (None: all, in index order)."""
    if li != n_layers - 1:
        return None
    top = None if st.session_state.get("play.allunits") else plots.TOP_UNITS
    return plots.shown_units(acc.ranking(st.session_state.get("play.rank") or "verdict"), top,
                             st.session_state["play.unit"])


def _pick(key: str, li: int, layered: bool) -> None:
    """A click on a cell: its unit and token (and layer) open in the drill-down."""
    got = plots.picked_cell(st.session_state.get(key))
    if got is not None:
        st.session_state["play.unit"], st.session_state["play.token"] = got
        if layered:
            st.session_state["play.layer"] = li


def _units_chart(name: str, li: int, key: str, title: str | None = None) -> None:
    ref = typ.mean[li][name] if typ is not None else None
    fig = plots.heatmap(tr, name, layer=li, rows=_rows(li), reference=ref, title=title, clickable=True,
                        selected_unit=st.session_state["play.unit"], selected_token=st.session_state["play.token"])
    st.plotly_chart(fig, key=key, on_select=functools.partial(_pick, key, li, n_layers > 1), selection_mode="points")


# rows of two, filled row by row: a phone stacks the columns, so the charts keep the cell's order
charts = [(f"play.heat.{name}", name) for name in names] + [("play.means", None)]
for row in range(0, len(charts), 2):
    for col, (key, name) in zip(st.columns(2), charts[row:row + 2]):
        with col:
            if name is None:
                st.plotly_chart(plots.gate_means(tr, layer=layer), key=key)
            else:
                _units_chart(name, layer, key)

st.subheader("Hidden state")
hcols = st.columns(n_layers)
for li in range(n_layers):
    with hcols[li]:
        h_title = tr.cell.quantity("h").title + (" − typical" if typ is not None else "")
        _units_chart("h", li, f"play.heat.h{li}", title=f"{h_title} — layer {li + 1}" if n_layers > 1 else h_title)
last_rows = _rows(n_layers - 1)
order = {"verdict": "share of the verdict", "moves": "size of moves"}.get(st.session_state.get("play.rank"), "")
shown = "units" if len(last_rows) >= H else f"top {plots.TOP_UNITS} units"
if len(last_rows) > plots.TOP_UNITS and len(last_rows) < H:  # the drill-down's unit, kept after the top ones
    shown += f" (then unit {last_rows[-1]}, the one chosen below)"
about = [f"Rows are units, columns are tokens; hover a cell for its exact value. The last layer's rows are its {shown} "
         f"in order of their {order} (the ranking above; the toggle there shows all), labelled with their real numbers"]
if n_layers > 1:
    about.append("the other layers' units are in index order: the ranking comes from the readout, which reads only "
                 "the last layer")
n_rows = len(_rows(layer) or range(H))  # the gate pictures' layer
if n_rows * tr.n_steps <= plots.MAX_CLICK_CELLS:
    about.append("**click a cell** to open that unit at that word below")
else:
    hint = (" (or switch off all units)" if layer == n_layers - 1 and plots.TOP_UNITS * tr.n_steps
            <= plots.MAX_CLICK_CELLS else "")
    about.append(f"a click chooses a cell only on pictures of at most {plots.MAX_CLICK_CELLS:,} cells, here texts of "
                 f"up to {plots.MAX_CLICK_CELLS // n_rows:,} words{hint}; the Unit and Token controls below choose "
                 "any cell")
about.append("the drill-down's unit is outlined in orange, its word dotted.")
st.caption("; ".join(about))

# --- one unit ---------------------------------------------------------------------------------
st.subheader("One unit, up close")
d1, d2 = st.columns([1, 3])
with d1:
    unit = st.selectbox("Unit", list(range(H)), key="play.unit")
with d2:
    tok = st.select_slider("Token", options=list(range(tr.n_steps)), key="play.token",
                           format_func=lambda i: f"{i + 1}: {textio.label_escape(tr.tokens[i])}")
st.plotly_chart(plots.unit_lines(tr, unit, layer=layer, token=tok), key="play.unitlines")
step = unit_step(tr, layer, unit, tok)
st.markdown(f"**Unit {unit} at token {tok + 1} (“{textio.md_escape(tr.tokens[tok])}”)**, layer {layer + 1}: "
            f"h went from {step.h_prev:+.3f} to {step.h:+.3f}.")
for line in latex_lines(step):
    st.latex(line)

with st.expander("Model card"):
    card = tm.card
    st.markdown(f"**{textio.md_escape(tm.name)}** — {tm.config.title}, {tm.n_params:,} parameters; "
                f"trained on {textio.md_escape(card.get('trained_on', 'unknown data'))}.")
    if tm.test_accuracy is not None:
        st.markdown(f"TEST accuracy: **{tm.test_accuracy:.2%}** ({textio.md_escape(card.get('test_split', ''))})")
    st.dataframe(card.get("layers", []), hide_index=True,
                 column_config={"params": st.column_config.NumberColumn("parameters", format="localized")})
    st.json({k: v for k, v in card.items() if k not in ("layers", "history")}, expanded=False)
