"""Why gates: what a network's memory keeps of each word, the gradient through time, the distance
probe on the bundled models, and the long-range lab trained live. Layout only: the numbers come
from playground.memory, playground.probe and playground.lab (each with a command-line twin)."""
import numpy as np
import streamlit as st

from playground.core.cells import cell
from playground.core.data import DATASET_TITLES
from playground.core.trace import trace
from playground.dynamics import memory
from playground.figures import memory_plots
from ui import catalog, gates_lab, per_model, textio
from ui.state import Field, PageState, bool_str, link_query, one_of, parse_bool

DEFAULT_SENTENCE = ("This film was wonderful. Afterwards we walked to the station, bought two tickets, waited for "
                    "the train and talked about the weather on the way home")
TOP = 16
STATE = PageState(
    Field("why.sentence", "s", DEFAULT_SENTENCE, parse=textio.clean_input, long_text=True, label="sentence"),
    catalog.model_field("model", "model"),
    Field("why.allunits", "allunits", False, parse=parse_bool, valid=lambda v: isinstance(v, bool), to_str=bool_str),
    Field("why.text", "grad", "sentence", valid=one_of(("sentence", "review"))),
    *gates_lab.LAB_FIELDS,  # the lab's own grid: a link reopens it
)
STATE.sync()

st.title("🧠 Why gates")
st.caption("Two lessons of the classic tutorials, measured on this app's own models: what a trained network's "
           "memory keeps of each word, and why a plain RNN struggles to *learn* long-range connections. "
           "Press Enter in the box to update.")

tm = catalog.sentence_and_model("why.sentence", "Type a sentence, or a good start followed by plain words…")
text = textio.read_sentence("why.sentence", STATE.notes)  # link notes; unreadable characters

c = cell(tm.arch)
tr = trace(tm.model, tm.vocab, text) if text.strip() else None
if tr is None or tr.n_steps == 0:
    st.info("Type a sentence above to see what the network's memory keeps of each word (sections 1 and 2); "
            "sections 3 and 4 below do not need one.")
else:
    if tr.truncated:
        st.warning(f"Your text has {tr.n_tokens_total:,} tokens; this model reads only the last {tr.n_steps}.")
    lz = memory.lens(tr, tm.model)
    st.caption(f"{textio.md_escape(tm.name)} reads this text as **{tr.prob:.1%} positive**.")
    if text == DEFAULT_SENTENCE and tr.prob < 0.5 and "wonderful" in tr.tokens:
        # the example is positive by design (one opinion, then plain words): say so when the model misses it
        st.warning(textio.md_escape(
            f"A hard one for {tm.name}: this example is positive (one opinion, “wonderful”, then only plain "
            f"words), but {tm.name} ends at {tr.prob:.1%} positive. "
            + memory.fade_story(tr, lz, tr.tokens.index("wonderful"))
            + " The sections below show where it went."))
    st.page_link("views/playground.py", label="Open this sentence in the Playground (every gate, every unit)",
                 icon="🔬", query_params=link_query("s", text, model=tm.name))

    # --- 1. the memory lens ---------------------------------------------------------------------
    st.subheader("1 · What the memory keeps of each word")
    if lz.gated:
        gate = c.quantity(lz.gate)
        st.markdown(f"At every word the {c.title} keeps a fraction of its memory {lz.carrier} (its "
                    f"**{textio.md_escape(gate.title)}**) and adds what the word writes. From an empty memory this "
                    "unrolls exactly into a sum: what each word wrote, times everything later gates kept of it.")
        st.latex(c.keep.latex)
        st.plotly_chart(memory_plots.survival_lines(lz, tr.oov), key="why.survival")
        st.caption(textio.md_escape(memory.survival_story(lz)))
        all_units = st.toggle("Show all units", key="why.allunits")
        order = np.argsort(-np.abs(lz.shares), kind="stable")
        rows = order if all_units else order[:TOP]
        st.plotly_chart(memory_plots.survival_heatmap(lz, rows, tr.oov), key="why.survival_units")
        st.caption(f"Each row is one unit (top {min(TOP, len(order))} of {len(order)} by their share of the verdict "
                   "unless all are shown); yellow keeps what the word wrote until the end, dark blue has forgotten "
                   "it. Hover for the exact product.")
        typ, why_not = per_model.typical(tm)
        if typ is None:
            if why_not:
                st.info(f"No time constants for this model: {textio.md_escape(why_not)}.")
        else:
            taus = memory.taus_of(typ, c)
            st.plotly_chart(memory_plots.tau_bars(memory.tau_histogram(taus),
                                                  f"How long each unit of {tm.name} remembers"), key="why.taus")
            st.caption(textio.md_escape(f"{memory.tau_story(taus, c.title)} A gate that always kept the fraction "
                                        f"k would leave k^n after n words, about e^(−n/τ); τ uses each unit's mean "
                                        f"{gate.title} over {typ.describe()}, so it is an average, not a promise."))
    elif lz.jacobian_gain is not None:
        st.markdown(f"A {c.title} has **no gate**: nothing decides to keep its state. What is left of a word is "
                    "whatever survives being multiplied by the recurrent weights and squashed by tanh at every later "
                    "step, the Jacobian ∂h_T/∂h_t, a product of one matrix per word.")
        st.latex(r"\frac{\partial h_T}{\partial h_t} = \prod_{s=T}^{t+1} \operatorname{diag}(1 - h_s^2)\, U")
        st.plotly_chart(memory_plots.jacobian_lines(lz, tr.oov), key="why.jacobian")
        st.caption(textio.md_escape(memory.jacobian_story(lz)))
    else:
        st.info(f"A {c.title} has no keep gate and no state Jacobian described, so there is no memory lens for it.")

    # --- 2. the gradient through time -----------------------------------------------------------
    st.subheader("2 · The gradient through time")
    st.markdown("Training nudges each word's embedding by the gradient of the verdict with respect to it. Where "
                "that gradient is tiny, the network cannot learn what the word should have meant for the verdict: "
                "this is the *vanishing gradient*. Here for the three bundled cells of the model's dataset.")
    st.latex(r"\left\lVert \frac{\partial\, \text{logit}}{\partial e_t} \right\rVert \quad\text{for every word } t")
    dataset = tm.dataset if tm.dataset in DATASET_TITLES else "imdb"
    st.segmented_control("Text", ["sentence", "review"], key="why.text",
                         format_func={"sentence": "Your sentence",
                                      "review": f"A {memory.LONG_TOKENS}+-word IMDB review"}.get)
    gtext = text
    if st.session_state["why.text"] == "review":
        idx, gtext = memory.long_review()
        st.caption(f"IMDB TEST review #{idx} ({len(gtext.split()):,} words), the first in the file with "
                   f"{memory.LONG_TOKENS} to 400 tokens.")
    series, rows_t = gates_lab.gradient_series(tm, dataset, gtext)
    st.plotly_chart(memory_plots.gradient_lines(series), key="why.gradients")
    st.dataframe([{**r, "half-distance": "none in this text" if r["half-distance"] is None else
                   f"{r['half-distance']} words"} for r in rows_t], hide_index=True, width="stretch")
    st.caption("× marks each model's half-distance: the nearest word back whose gradient is at most half the last "
               "word's. " + textio.md_escape(memory.gradient_story(rows_t)))

# --- 3 and 4: the distance probe and the long-range lab (no sentence needed) ----------------------
gates_lab.probe_section(tm)
gates_lab.lab_section()
gates_lab.lab_result()
