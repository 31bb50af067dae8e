"""Home: what this is, a live mini-example, the three cells' equations, the bundled models."""
import streamlit as st

from playground.core import zoo
from playground.core.cells import CELLS
from playground.core.data import DATASET_TITLES
from playground.core.trace import trace
from playground.explain import narrate, tours
from playground.figures import plots
from ui import catalog, classmode, takeaway, textio

classmode.apply()  # a lesson link's hidden controls and projector mode
classmode.builder()
st.title("🔁 RNN Playground")
st.markdown(
    "**See a recurrent network read.** Type a sentence, pick a trained **SimpleRNN**, **LSTM** or "
    "**GRU** sentiment model, and watch every gate at every word, the hidden state as a heatmap, "
    "and the prediction rising and falling word by word."
)
c1, c2 = st.columns(2)
with c1:
    st.page_link("views/playground.py", label="Open the Playground: your sentence, every gate", icon="🔬")
with c2:
    st.page_link("views/compare.py", label="Compare SimpleRNN, LSTM and GRU on one sentence", icon="⚖️")
t1, t2 = st.columns(2)  # the guided tours (playground/explain/tours.py): ?tour=<id>&step=<n> reopens a step
for col, tour in zip((t1, t2), tours.TOURS.values()):
    col.page_link("views/playground.py", label=f"Guided tour: {tour.title}", icon="🧭",
                  query_params={"tour": tour.id, "step": "1"}, help=tour.about)
st.page_link("views/train.py", label="Your own Keras model from the tutorials (.keras or .h5): open it on every page",
             icon="📦", help="The Train page's upload box takes it with its word index, and reads text as the "
                            "tutorials do; nothing in the file is run as code.")

st.subheader("A network reading, live")
EXAMPLE = textio.HOME_EXAMPLE
names = catalog.model_names()
name = "lstm-rt" if "lstm-rt" in names else (names[0] if names else None)
if name is None:
    st.error("No bundled models found (playground/weights/ is empty).")
else:
    tm = catalog.bundled(name) if name in zoo.BUNDLED else catalog.get_model(name)
    tr = trace(tm.model, tm.vocab, EXAMPLE)
    st.caption(f"“{EXAMPLE}” read by {textio.md_escape(name)} ({tm.config.title}): each point is its "
               "opinion after that word, the first one (◆) before it has read anything.")
    st.plotly_chart(plots.prediction_curve(tr, title=f"{name}: P(positive) after each word", height=300),
                    key="home.curve")
    # every claim about the curve is read from it when the page renders, never written by hand
    st.markdown(narrate.curve_story(tr).sentence(escape=textio.md_escape))

st.subheader("Three cells, side by side")
st.caption("x_t is the word read at step t, h_{t-1} the state after the previous word; "
           "σ squashes to (0, 1) (a gate), tanh to (-1, 1); ⊙ multiplies element by element.")
trained = [c for c in CELLS.values() if c.trainable]  # the cells this app trains (not imported-only ones)
for col, c in zip(st.columns(len(trained)), trained):
    with col:
        st.markdown(f"**{c.title}**")
        st.latex(c.equations)
        st.caption(c.summary)

st.subheader("The bundled models")
rows = []
for n in zoo.bundled_names():
    tm = catalog.bundled(n)
    # the accuracy third, so a phone's 390 px shows it without scrolling the table sideways
    rows.append({"model": n, "cell": tm.config.title, "TEST accuracy": tm.test_accuracy,
                 "trained for": DATASET_TITLES.get(tm.dataset, tm.dataset),
                 "hidden units": tm.config.hidden_size, "parameters": tm.n_params})
takeaway.table(rows, "The bundled models: TEST accuracy on each dataset's held-out TEST split", "home-models",
               hide_index=True, column_config={
    "parameters": st.column_config.NumberColumn(format="localized"),
    "TEST accuracy": st.column_config.NumberColumn(format="percent"),
})
st.caption("TEST accuracy on each dataset's held-out TEST split (every 5th row). For reference, the "
           "classic Keras tutorials report on IMDB: GRU(100) 88.39%, LSTM(32) about 88.5%, "
           "SimpleRNN(32) about 85%.")
