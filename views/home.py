"""Home: what this is, a live mini-example, the three cells' equations, the bundled models."""
import streamlit as st

from playground import plots
from playground.data import DATASET_TITLES
from playground.trace import trace
from ui import common

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

st.subheader("A network reading, live")
EXAMPLE = "I expected to hate it but I loved it"
names = common.model_names()
name = "lstm-rt" if "lstm-rt" in names else (names[0] if names else None)
if name is None:
    st.error("No bundled models found (playground/weights/ is empty).")
else:
    tm = common.bundled(name) if name in common.zoo.BUNDLED else common.get_model(name)
    tr = trace(tm.model, tm.vocab, EXAMPLE)
    st.caption(f"“{EXAMPLE}” read by {name} ({tm.config.title}). Each point is the model's "
               "opinion after that word: watch it change its mind at “but”.")
    st.plotly_chart(plots.prediction_curve(tr, title=f"{name}: P(positive) after each word", height=300),
                    key="home.curve")

st.subheader("Three cells, side by side")
st.caption("x_t is the word read at step t, h_{t-1} the state after the previous word; "
           "σ squashes to (0, 1) (a gate), tanh to (-1, 1); ⊙ multiplies element by element.")
e1, e2, e3 = st.columns(3)
with e1:
    st.markdown("**SimpleRNN**")
    st.latex(r"h_t = \tanh(W x_t + U h_{t-1} + b)")
    st.caption("One tanh of the input and the previous state. The gradient shrinks a little at "
               "every step, so early words fade (vanishing gradients).")
with e2:
    st.markdown("**LSTM**")
    st.latex(r"""\small\begin{aligned}
i_t, f_t, o_t &= \sigma(W x_t + U h_{t-1} + b)\\
g_t &= \tanh(W_g x_t + U_g h_{t-1} + b_g)\\
c_t &= f_t \odot c_{t-1} + i_t \odot g_t\\
h_t &= o_t \odot \tanh(c_t)
\end{aligned}""")
    st.caption("i lets new content g in, f keeps old memory, o decides what to show; the cell c "
               "carries information (and gradients) across many words.")
with e3:
    st.markdown("**GRU**")
    st.latex(r"""\small\begin{aligned}
r_t, z_t &= \sigma(W x_t + U h_{t-1} + b)\\
n_t &= \tanh(W_n x_t + b_n\\ &\qquad + r_t \odot (U_n h_{t-1} + b_{hn}))\\
h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
\end{aligned}""")
    st.caption("r decides how much of the past feeds the candidate n; z mixes the old state with "
               "the candidate. Fewer parameters than an LSTM, similar memory.")

st.subheader("The bundled models")
rows = []
for n in common.zoo.bundled_names():
    tm = common.bundled(n)
    rows.append({"model": n, "cell": tm.config.title, "trained for": DATASET_TITLES.get(tm.dataset, tm.dataset),
                 "hidden units": tm.config.hidden_size, "parameters": tm.n_params,
                 "TEST accuracy": tm.test_accuracy})
st.dataframe(rows, hide_index=True, column_config={
    "parameters": st.column_config.NumberColumn(format="localized"),
    "TEST accuracy": st.column_config.NumberColumn(format="percent"),
})
st.caption("TEST accuracy on each dataset's held-out TEST split (every 5th row). For reference, the "
           "classic Keras tutorials report on IMDB: GRU(100) 88.39%, LSTM(32) about 88.5%, "
           "SimpleRNN(32) about 85%.")
