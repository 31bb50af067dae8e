"""Playground: one sentence, one model; the verdict, the prediction after each word, word
importance, every gate, the hidden state, and one unit's equations with real numbers."""
import streamlit as st

from playground import narrate, plots
from playground.attribution import ALIASES, METHODS, SHORT_NAMES, account, attribute
from playground.explain import latex_lines, unit_step, verdict_word
from playground.trace import trace
from ui import common
from ui.state import Field, PageState, one_of, parse_int

# Everything a copied link reopens; `tok` and `layer` default to the last token and layer.
STATE = PageState(
    Field("play.sentence", "s", common.DEFAULT_SENTENCE, parse=common.clean_input),
    common.model_field("model", "model"),
    Field("play.method", "method", "occlusion", parse=lambda v: ALIASES.get(v, v), valid=one_of(METHODS)),
    Field("play.layer", "layer", None, parse=parse_int, valid=lambda v: v is None or 0 <= v < 8),
    Field("play.unit", "unit", 0, parse=parse_int, valid=lambda v: 0 <= v < 4096),
    Field("play.token", "tok", None, parse=parse_int, valid=lambda v: v is None or 0 <= v < 100_000),
)
STATE.sync()

st.title("🔬 Playground")
st.caption("Type a sentence, pick a model, and watch it read. Press Enter to update.")


def _use_example():
    ex = st.session_state.get("play.example")
    if ex:
        st.session_state["play.sentence"] = ex
    st.session_state["play.example"] = None


top = st.columns([3, 2], vertical_alignment="bottom")
with top[0]:
    st.text_input("Sentence", key="play.sentence", max_chars=common.MAX_INPUT_CHARS,
                  placeholder="Type a sentence about a film, a meal, a product…")
with top[1]:
    tm = common.model_picker("Model", key="model")
st.pills("Examples", common.EXAMPLES, key="play.example", on_change=_use_example,
         help="One click puts the example in the box above.")
text = common.clean_input(st.session_state["play.sentence"])

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

# --- verdict ---------------------------------------------------------------------------------
word = verdict_word(tr.prob)
v1, v2 = st.columns([1, 2], vertical_alignment="center")
with v1:
    emoji = "😊" if word == "positive" else "☹️"
    conf = tr.prob if word == "positive" else 1 - tr.prob
    st.markdown(f"### {emoji} {word.capitalize()}")
    st.metric("P(positive)", f"{tr.prob:.1%}", help="The readout's probability after the last word.")
    st.caption(f"{conf:.0%} confident · {tm.config.title} · {tr.n_steps} tokens")
with v2:
    st.plotly_chart(plots.confidence_gauge(tr.prob), key="play.gauge", config={"displayModeBar": False})

st.plotly_chart(plots.prediction_curve(tr, title="Prediction after each word"), key="play.curve")
st.caption(narrate.curve_story(tr).sentence(escape=common.md_escape))

# --- word importance -------------------------------------------------------------------------
st.subheader("Which words mattered")
method = st.segmented_control("Importance method", list(METHODS), key="play.method",
                              format_func=lambda m: SHORT_NAMES[m], help="\n\n".join(
                                  f"**{SHORT_NAMES[m]}**: {d}" for m, d in METHODS.items())) or "occlusion"
att = attribute(tm.model, tr, method)
st.html(common.chips_html(tr.tokens, tr.oov, att.scores, att.unit))
st.caption(f"Blue words push towards positive, red towards negative; darker = stronger. {METHODS[method]}. "
           "Dashed chips with ° are out of vocabulary.")
said = account(att, tr, escape=common.md_escape)
for sentence in (s for s, warn in said if warn):  # integrated gradients that do not add up: in red
    st.markdown(f":red[**{sentence}**]")
if any(not warn for _, warn in said):
    st.caption("  \n".join(s for s, warn in said if not warn))  # one block, a line per fact

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
H = tr.hidden_size
seen = st.session_state.get("play.token_tokens")  # the tokens the drill-down's token points into
if seen is not None and tuple(seen) != tr.tokens:  # a new sentence (or cut): follow the word, else the last
    st.session_state["play.token"] = narrate.follow_token(seen, st.session_state["play.token"], tr.tokens)
st.session_state["play.token_tokens"] = tr.tokens
if st.session_state["play.token"] is None:
    st.session_state["play.token"] = tr.n_steps - 1
st.session_state["play.unit"] = min(max(0, int(st.session_state["play.unit"])), H - 1)
st.session_state["play.token"] = min(max(0, int(st.session_state["play.token"])), tr.n_steps - 1)
STATE.sync()  # again: a copied link reopens the token and unit drawn below, not the ones before the fix-ups


# rows of two, filled row by row: a phone stacks the columns, so the charts keep the cell's order
charts = [(f"play.heat.{name}", plots.heatmap(tr, name, layer=layer, selected_unit=st.session_state["play.unit"]))
          for name in names] + [("play.means", plots.gate_means(tr, layer=layer))]
for row in range(0, len(charts), 2):
    for col, (key, fig) in zip(st.columns(2), charts[row:row + 2]):
        with col:
            st.plotly_chart(fig, key=key)

st.subheader("Hidden state")
hcols = st.columns(n_layers)
for li in range(n_layers):
    with hcols[li]:
        st.plotly_chart(plots.heatmap(tr, "h", layer=li, selected_unit=st.session_state["play.unit"],
                                      title=f"Hidden state h — layer {li + 1}" if n_layers > 1 else "Hidden state h"),
                        key=f"play.heat.h{li}")
st.caption("Rows are units, columns are tokens; hover a cell for its exact value. The unit chosen "
           "below is outlined in orange.")

# --- one unit ---------------------------------------------------------------------------------
st.subheader("One unit, up close")
d1, d2 = st.columns([1, 3])
with d1:
    unit = st.selectbox("Unit", list(range(H)), key="play.unit")
with d2:
    tok = st.select_slider("Token", options=list(range(tr.n_steps)), key="play.token",
                           format_func=lambda i: f"{i + 1}: {tr.tokens[i]}")
st.plotly_chart(plots.unit_lines(tr, unit, layer=layer, token=tok), key="play.unitlines")
step = unit_step(tr, layer, unit, tok)
st.markdown(f"**Unit {unit} at token {tok + 1} (“{common.md_escape(tr.tokens[tok])}”)**, layer {layer + 1}: "
            f"h went from {step.h_prev:+.3f} to {step.h:+.3f}.")
for line in latex_lines(step):
    st.latex(line)

with st.expander("Model card"):
    card = tm.card
    st.markdown(f"**{common.md_escape(tm.name)}** — {tm.config.title}, {tm.n_params:,} parameters; "
                f"trained on {common.md_escape(card.get('trained_on', 'unknown data'))}.")
    if tm.test_accuracy is not None:
        st.markdown(f"TEST accuracy: **{tm.test_accuracy:.2%}** ({common.md_escape(card.get('test_split', ''))})")
    st.dataframe(card.get("layers", []), hide_index=True,
                 column_config={"params": st.column_config.NumberColumn("parameters", format="localized")})
    st.json({k: v for k, v in card.items() if k not in ("layers", "history")}, expanded=False)
