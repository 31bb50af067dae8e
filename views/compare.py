"""Compare: one sentence through the SimpleRNN, LSTM and GRU of one dataset at once."""
import streamlit as st

from playground import plots
from playground.attribution import attribute
from playground.data import DATASET_TITLES
from playground.explain import disagreement_summary, verdict_word
from playground.trace import trace
from ui import common
from ui.state import Field, PageState, one_of

STATE = PageState(
    Field("compare.sentence", "s", "The acting was great, but the plot was boring and far too long",
          parse=common.clean_input),
    Field("compare.dataset", "dataset", "rt", valid=one_of(DATASET_TITLES)),
)
STATE.sync()

st.title("⚖️ Compare SimpleRNN, LSTM and GRU")
st.caption("One sentence, three cells trained on the same data. Where do they agree, and where not?")

c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
with c1:
    st.text_input("Sentence", key="compare.sentence", max_chars=common.MAX_INPUT_CHARS,
                  placeholder="Type a sentence and press Enter")
with c2:
    ds = st.segmented_control("Models trained on", list(DATASET_TITLES), key="compare.dataset",
                              format_func=lambda d: DATASET_TITLES[d]) or "rt"
text = common.clean_input(st.session_state["compare.sentence"])

names = [n for n in (f"rnn-{ds}", f"lstm-{ds}", f"gru-{ds}") if n in common.zoo.bundled_names()]
if not names:
    st.error("The bundled models for this dataset are missing.")
    st.stop()
if not text.strip():
    st.info("Type a sentence above to compare the three networks.")
    st.stop()

models = {n: common.bundled(n) for n in names}
traces = {n: trace(tm.model, tm.vocab, text) for n, tm in models.items()}
if all(tr.n_steps == 0 for tr in traces.values()):
    st.warning("There is nothing here the models can read: no words, only punctuation or spaces.")
    st.stop()
if any(tr.truncated for tr in traces.values()):
    st.warning("The text was cut to the models' maximum length; they read only its end.")

st.info(common.md_escape(disagreement_summary({models[n].config.title: tr for n, tr in traces.items()})))
cols = st.columns(len(names))
for col, (n, tr) in zip(cols, traces.items()):
    with col:
        word = verdict_word(tr.prob)
        st.metric(f"{models[n].config.title} ({n})", f"{'😊' if word == 'positive' else '☹️'} {word}")
        st.caption(f"P(positive) = {tr.prob:.1%}")

st.plotly_chart(plots.compare_curves({models[n].config.title: tr for n, tr in traces.items()}),
                key="compare.curves")

st.subheader("Hidden states side by side")
cols = st.columns(len(names))
for col, (n, tr) in zip(cols, traces.items()):
    with col:
        st.plotly_chart(plots.heatmap(tr, "h", title=f"{models[n].config.title}: hidden state h", narrow=True),
                        key=f"compare.h.{n}")

st.subheader("Which words mattered to each")
for n, tr in traces.items():
    att = attribute(models[n].model, tr, "occlusion")
    st.markdown(f"**{models[n].config.title}**")
    st.html(common.chips_html(tr.tokens, tr.oov, att.scores, att.unit))
st.caption("Leave-one-out importance: blue words push towards positive, red towards negative.")
