"""Why gates: "why does a plain RNN forget, and how do gates fix it?" The first screen answers on a long IMDB
review read by the dataset's three bundled cells (the gradient through time, as a share of the last word's,
with a sentence computed from it) and gives the causes of what goes against the textbook (initialisation,
the GRU's start, trained forget gates), each from its numbers (playground/dynamics/why.py). Behind
expanders, computed only when opened: the visitor's own sentence (memory lens, gradient), the distance probe
and the long-range lab (shipped 3-seed results from two starts, and a live run)."""
import numpy as np
import streamlit as st

from playground.core.cells import cell
from playground.core.data import DATASET_TITLES
from playground.core.trace import trace
from playground.dynamics import memory, why
from playground.figures import memory_plots
from ui import catalog, gates_lab, per_model, serving, takeaway, textio
from ui.state import Field, PageState, bool_str, link_query, parse_bool

DEFAULT_SENTENCE = ("This film was wonderful. Afterwards we walked to the station, bought two tickets, waited for "
                    "the train and talked about the weather on the way home")
TOP = 16
STATE = PageState(
    Field("why.sentence", "s", DEFAULT_SENTENCE, parse=textio.clean_input, long_text=True, label="sentence"),
    catalog.model_field("model", "model"),
    Field("why.allunits", "allunits", False, parse=parse_bool, valid=lambda v: isinstance(v, bool), to_str=bool_str),
    *gates_lab.LAB_FIELDS,  # the lab's own grid: a link reopens it
)
STATE.sync()
ss = st.session_state

st.title("🧠 Why gates")
about, pick = st.columns([3, 2], vertical_alignment="bottom")
with about:
    st.markdown("**Why does a plain RNN forget, and how do gates fix it?** Measured on this app's own trained "
                "models, on a long review.")
with pick:
    tm = catalog.model_picker("Model (its dataset's three cells are compared)")
dataset = tm.dataset if tm.dataset in DATASET_TITLES else "imdb"

# --- the first screen: the gradient through time on a long review, and what it means ------------------
idx, review = memory.long_review()
series, rows = gates_lab.gradient_series(tm, dataset, review)
archs = {r["model"]: catalog.get_model(r["model"]).arch for r in rows}
answer = why.answer([(r["model"], r["cell"], cell(archs[r["model"]]).has_gates, s[0])
                     for r, s in zip(rows, series.values())], len(review.split()))
st.markdown(f"**{textio.md_escape(answer.headline)}**")
st.markdown(textio.md_escape(answer.because))
serving.paint_now()  # the answer is on screen before the chart is drawn
first = {name: (g, tokens, color, None) for name, (g, tokens, color, _) in series.items()}  # no half marks here
st.plotly_chart(memory_plots.gradient_lines(first, relative=True, mark=answer.k, height=320,
                                            title="What reaches each word of the review<br><sup>as a share "
                                                  "of what reaches the last word</sup>"),
                key="why.answer_chart", config={"displayModeBar": False})
short = sorted({r["words read"] for r in rows if r["words read"] < len(review.split())})
st.caption(f"IMDB TEST review #{idx}, read by each model in the chart: |∂ logit / ∂ embedding| of each word "
           "divided by the last word's. Training changes what a word means only through this gradient."
           + (f" Models that read at most {short[0]} words read its end." if short else ""))

st.subheader("Why the measurements can go against the textbook")
for cause in (gates_lab.init_cause(), gates_lab.gru_cause(), gates_lab.forget_cause(dataset, review, answer)):
    if cause:
        st.markdown(f"- **{textio.md_escape(cause[0])}** {textio.md_escape(cause[1])}")
        if cause[0].startswith("The start"):
            takeaway.table(gates_lab.init_table(), "Why gates: Keras' start and the textbook's, cell by cell",
                           "why-starts", hide_index=True, width="stretch")
            st.caption("Each cell: Keras' start → the textbook's. 0: below float32's smallest number. The lab below "
                       "shows both results in full.")

# --- one click below: the visitor's sentence, the probe, the lab; computed only when opened -------------
st.subheader("Try it, one click away")
with st.expander("Your own sentence: what the memory keeps of each word, and its gradient", key="why.x.mine",
                 on_change="rerun") as box:
    if box.open:
        st.text_input("Sentence", key="why.sentence", max_chars=textio.MAX_INPUT_CHARS,
                      placeholder="Type a sentence, or a good start followed by plain words…")
        text = textio.read_sentence("why.sentence", STATE.notes)  # link notes; unreadable characters
        c = cell(tm.arch)
        tr = trace(tm.model, tm.vocab, text) if text.strip() else None
        if tr is None or tr.n_steps == 0:
            st.info("Type a sentence above to see what the network's memory keeps of each word.")
        else:
            if tr.truncated:
                st.warning(f"Your text has {tr.n_tokens_total:,} tokens; this model reads only the last "
                           f"{tr.n_steps}.")
            lz = memory.lens(tr, tm.model)
            st.caption(f"{textio.md_escape(tm.name)} reads this text as **{tr.prob:.1%} positive**.")
            if text == DEFAULT_SENTENCE and tr.prob < 0.5 and "wonderful" in tr.tokens:
                # the example is positive by design (one opinion, then plain words): say so when the model misses it
                st.warning(textio.md_escape(
                    f"A hard one for {tm.name}: this example is positive (one opinion, “wonderful”, then only plain "
                    f"words), but {tm.name} ends at {tr.prob:.1%} positive. "
                    + memory.fade_story(tr, lz, tr.tokens.index("wonderful"))))
            st.page_link("views/playground.py", label="Open this sentence in the Playground (every gate, every unit)",
                         icon="🔬", query_params=link_query("s", text, model=tm.name))
            if lz.gated:
                gate = c.quantity(lz.gate)
                st.markdown(f"At every word the {c.title} keeps a fraction of its memory {lz.carrier} (its "
                            f"**{textio.md_escape(gate.title)}**) and adds what the word writes. From an empty memory "
                            "this unrolls exactly into a sum: what each word wrote, times everything later gates "
                            "kept of it.")
                st.latex(c.keep.latex)
                st.plotly_chart(memory_plots.survival_lines(lz, tr.oov), key="why.survival")
                st.caption(textio.md_escape(memory.survival_story(lz)))
                all_units = st.toggle("Show all units", key="why.allunits")
                order = np.argsort(-np.abs(lz.shares), kind="stable")
                rows_shown = order if all_units else order[:TOP]
                st.plotly_chart(memory_plots.survival_heatmap(lz, rows_shown, tr.oov), key="why.survival_units")
                st.caption(f"Each row is one unit (top {min(TOP, len(order))} of {len(order)} by their share of the "
                           "verdict unless all are shown); yellow keeps what the word wrote until the end, dark blue "
                           "has forgotten it. Hover for the exact product.")
                typ, why_not = per_model.typical(tm)
                if typ is None:
                    if why_not:
                        st.info(f"No time constants for this model: {textio.md_escape(why_not)}.")
                else:
                    taus = memory.taus_of(typ, c)
                    st.plotly_chart(memory_plots.tau_bars(memory.tau_histogram(taus),
                                                          f"How long each unit of {tm.name} remembers"),
                                    key="why.taus")
                    st.caption(textio.md_escape(f"{memory.tau_story(taus, c.title)} τ: a gate that always kept k "
                                                f"leaves about e^(−n/τ) after n words, from each unit's mean "
                                                f"{gate.title} over {typ.describe()}."))
            elif lz.jacobian_gain is not None:
                st.markdown(f"A {c.title} has **no gate**: nothing decides to keep its state. What is left of a word "
                            "is whatever survives being multiplied by the recurrent weights and squashed by tanh at "
                            "every later step, the Jacobian ∂h_T/∂h_t, a product of one matrix per word.")
                st.latex(r"\frac{\partial h_T}{\partial h_t} = \prod_{s=T}^{t+1} \operatorname{diag}(1 - h_s^2)\, U")
                st.plotly_chart(memory_plots.jacobian_lines(lz, tr.oov), key="why.jacobian")
                st.caption(textio.md_escape(memory.jacobian_story(lz)))
            else:
                st.info(f"A {c.title} has no keep gate and no state Jacobian described, so there is no memory lens "
                        "for it.")
            mine, mine_rows = gates_lab.gradient_series(tm, dataset, text)
            st.plotly_chart(memory_plots.gradient_lines(mine), key="why.gradients")
            takeaway.table([{**r, "half-distance": "none in this text" if r["half-distance"] is None else
                           f"{r['half-distance']} words"} for r in mine_rows],
                           "The gradient through time on your sentence", "why-gradient-mine", hide_index=True,
                           width="stretch")
            st.caption("The gradient through time on your sentence, for the dataset's three cells. "
                       + textio.md_escape(memory.gradient_story(mine_rows)))

with st.expander("The distance probe: does a trained model still hear a phrase many words later?",
                 key="why.x.probe", on_change="rerun") as box:
    if box.open:
        gates_lab.probe_section(tm)

with st.expander("The long-range lab: can each cell learn to connect over distance? (shipped results from two "
                 "starts, or run it yourself)", key="why.x.lab", on_change="rerun") as box:
    if box.open:
        gates_lab.lab_section()
        gates_lab.lab_result()
