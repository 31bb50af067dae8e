"""State space: "where is the network's memory of the verdict?" The first screen: the sentence's path
through the hidden state (a PCA plane fitted on TEST texts; key words labelled, points coloured by
P(positive), the start a diamond), two sentences on where the verdict is held, and the intervention that
shows it (silencing the fewest top units that flips the verdict, chosen from the exact account). Behind
expanders, computed only when opened: the fixed points, what-if edits, interventions of your own, the
ablation over TEST texts and the unit explorer. Layout only: numbers from playground.statespace, whatif,
intervene, ablate, units."""
import numpy as np
import streamlit as st

from playground.core.cells import cell
from playground.core.trace import trace
from playground.dynamics import ablate, statespace, units, whatif
from playground.dynamics import intervene as iv
from playground.figures import space_plots
from ui import catalog, per_model, takeaway, textio
from ui.state import Field, PageState, one_of, parse_int

KINDS = {"clamp": "clamp a unit", "gate": "force a gate", "zero_top": "zero top units"}
STATE = PageState(
    Field("space.sentence", "s", textio.SPACE_SENTENCE,
          parse=textio.clean_input, long_text=True, label="sentence"),
    catalog.model_field("model", "model"),
    Field("space.edit", "edit", "", parse=textio.clean_input, label="edited sentence"),
    Field("space.kind", "do", "clamp", valid=one_of(tuple(KINDS))),
    Field("space.token", "tok", None, parse=parse_int, valid=lambda v: v is None or 0 <= v < 100_000),
    Field("space.unit", "unit", None, parse=parse_int, valid=lambda v: v is None or 0 <= v < 4096),
    Field("space.value", "value", 1.0, parse=float, valid=lambda v: isinstance(v, (int, float)) and -5 <= v <= 5),
    Field("space.gate_value", "gv", 1.0, parse=float, valid=one_of((0.0, 1.0))),
    Field("space.topk", "k", 5, parse=parse_int, valid=lambda v: isinstance(v, int) and 1 <= v <= 64),
)
STATE.sync()

st.title("🧭 State space")
st.caption("Where is the network's memory of the verdict? Its hidden state's path while it reads, in the plane of "
           "the two directions the state varies most.")
tm = catalog.sentence_and_model("space.sentence", "Type a sentence…")
text = textio.read_sentence("space.sentence", STATE.notes)  # link notes; unreadable characters
c = cell(tm.arch)


tr = trace(tm.model, tm.vocab, text) if text.strip() else None
if tr is not None and tr.n_steps == 0:
    tr = None
if tr is None:
    st.info("Type a sentence above to see its path, edit it and intervene (the fixed points below need none).")

# --- what-if edit (read first: section 1's picture draws the branch) ---------------------------------
edited_text = textio.clean_input(st.session_state["space.edit"]).strip()
branch = None
if tr is not None and edited_text and edited_text != text:
    enc = tm.vocab.encode(edited_text, tm.config.max_len)
    if enc.ids:
        branch = whatif.branch_trace(tm.model, tr, enc)

# --- the first screen: the path, where the verdict is held, and the units that hold it ---------------------
space, why_not = per_model.get("space", tm, f"Fitting the plane and finding fixed points over {statespace.N_TEXTS} "
                                           "TEST texts")
ss = st.session_state
suggestion = iv.suggest(tm.model, tr) if tr is not None else None
if space is None:
    if why_not:
        st.info(f"No state space for this model: {textio.md_escape(why_not)}.")
else:
    p = statespace.path(space, tr) if tr is not None else None
    pe = statespace.path(space, branch.edited) if branch is not None and not branch.identical else None
    st.plotly_chart(space_plots.plane(space, p, pe, branch.branch if branch else 0, model=tm.name, height=400),
                    key="space.plane")
    for line in [*statespace.where_story(space, p), *([tm.texts_caveat] if tm.texts_caveat else [])]:
        st.caption(textio.md_escape(line))  # a caption each: one of 60+ words is a wall on a phone
if suggestion is not None:
    o = suggestion
    k = o.interventions[0].k
    flipped = (o.changed.prob >= 0.5) != (o.original.prob >= 0.5)
    us = o.interventions[0].units
    shown = ", ".join(map(str, us[:5])) + (", …" if len(us) > 5 else "")
    st.markdown(textio.md_escape(
        f"Silence the {'unit' if k == 1 else f'{k} units'} of {tr.hidden_size} that "
        f"{'carries' if k == 1 else 'carry'} the verdict most (by "
        f"their share of it: {shown}) for the whole reading, and P(positive) goes from {o.original.prob:.2f} to "
        f"{o.changed.prob:.2f}: " + ("the verdict flips. That is where it is held." if flipped else
                                     "the verdict holds, but moves: it is spread wider than that.")))

if suggestion is not None:  # a new sentence or model: "Reach in" opens on the suggestion, unless a link set one
    reading = (tm.name, id(tm.model), tr.tokens)
    if ss.get("space.iv_for") != reading:
        if ss.get("space.iv_for") is not None or not any(q in st.query_params for q in ("do", "tok", "k", "unit")):
            ss["space.kind"], ss["space.token"], ss["space.topk"] = "zero_top", 0, suggestion.interventions[0].k
        ss["space.iv_for"] = reading
        STATE.sync()

if space is not None:
    with st.expander("How is the plane computed?", key="space.x.how", on_change="rerun") as box:
        if box.open:
            story = statespace.story(space)
            st.caption(textio.md_escape(" ".join(story[:2] + (statespace.path_story(space, p) if p is not None
                                                                 else []))))

    # --- 2. the line attractor -------------------------------------------------------------------------
    fx = space.fixed
    with st.expander("Where the memory rests: the points the network stays at", key="space.x.fixed",
                     on_change="rerun") as box:
        if box.open:
            st.markdown(textio.md_escape(" ".join(statespace.rest_summary(space))))
            st.markdown("Give the network a neutral input (x = 0, the padding token's embedding) and look for states "
                        "it would stay in: minimise |F(h, x) − h|² from many states it visited. A sentiment network "
                        "that counts evidence can keep its count on a line of such points (Maheswaranathan et al. "
                        "2019, a *line attractor*), with the readout along the line.")
            st.latex(r"q(h) = \tfrac12\,\lVert F(h, x_{\text{neutral}}) - h \rVert^2 \to \min")
            m1, m2, m3, m4 = st.columns(4)
            m1.metric("fixed points found", f"{fx.n_found} of {fx.n_starts}")
            m2.metric("along one line (PC1 share)", "–" if fx.pc1_share is None else f"{fx.pc1_share:.1%}")
            m3.metric("readout's angle to the line", "–" if fx.readout_angle_deg is None else
                      f"{fx.readout_angle_deg:.0f}°")
            m4.metric("top |eigenvalue| (median)", "–" if fx.top_eigenvalue is None else f"{fx.top_eigenvalue:.3f}")
            st.caption(textio.md_escape(" ".join(statespace.story(space)[2:])) + " Command line: `python -m "
                       f"playground statespace --model {textio.md_escape(tm.name)}`.")

if tr is not None:
    with st.expander("What if the sentence were different? (edit it; the path branches off above)",
                     key="space.x.whatif", on_change="rerun") as box:
        if box.open:
            st.markdown("Edit the sentence and the network re-reads it from the first word that differs: everything "
                        "before is the same computation. Its path branches off in the picture above (dotted).")
            suggestions = whatif.suggest(tm.model, tm.vocab, text, tr)

            def _use(edit_text: str) -> None:
                st.session_state["space.edit"] = edit_text

            if suggestions:
                row = st.container(horizontal=True, gap="small")
                for k, e in enumerate(suggestions):
                    row.button(e.label, key=f"space.sugg.{k}", on_click=_use, args=(e.text,), help=e.reason)
            st.text_input("Edited sentence", key="space.edit", max_chars=textio.MAX_INPUT_CHARS,
                          placeholder="Change a word, remove one, add “not”… or pick a suggestion")
            if branch is not None:
                xo, xe = branch.positions()
                st.plotly_chart(space_plots.two_curves(branch.original.step_probs, branch.edited.step_probs,
                                                       branch.original.tokens, branch.edited.tokens, xo, xe,
                                                       names=("your sentence", "edited")), key="space.branch_curves")
                st.caption(textio.md_escape(branch.sentence()))
                takeaway.table([{"unit": r["unit"], "share before": round(r["before"], 4),
                                 "share after": round(r["after"], 4), "change": round(r["change"], 4)}
                                for r in branch.top_units(8)],
                               "What if: the units whose share of the verdict moved most", "space-whatif-units",
                               hide_index=True)
            elif edited_text == text.strip() and edited_text:
                st.caption("The edited sentence is the same as yours.")

    with st.expander("Reach in mid-sentence: set a unit, force a gate, silence units", key="space.x.reach",
                     on_change="rerun") as box:
        if box.open:
            st.markdown("At a word you choose, set a unit's state, force a gate open or shut, or silence the units "
                        "that carry the verdict, and let the network read the rest of the sentence from there.")
            T, H = tr.n_steps, tr.hidden_size
            ss = st.session_state
            if ss["space.token"] is None or not 0 <= ss["space.token"] < T:
                ss["space.token"] = 0
            if ss["space.unit"] is None or not 0 <= ss["space.unit"] < H:
                ss["space.unit"] = int(np.argsort(-np.abs(tr.readout_w * tr.last.h[-1]))[0])
            STATE.sync()
            labels = {t: f"{t}: {tok}" for t, tok in enumerate(tr.tokens)}
            a, b = st.columns([3, 2])
            a.select_slider("From the word", list(range(T)), key="space.token", format_func=lambda t: labels[t])
            b.segmented_control("Do", list(KINDS), key="space.kind", format_func=KINDS.get)
            kind = ss["space.kind"] or "clamp"
            gates = iv.forceable_gates(c)
            d1, d2 = st.columns(2)
            try:
                if kind == "clamp":
                    d1.number_input("Unit", 0, H - 1, key="space.unit")
                    d2.slider("Its h after that word", -1.0, 1.0, step=0.05, key="space.value")
                    ivn = iv.clamp(ss["space.token"], ss["space.unit"], ss["space.value"])
                elif kind == "gate":
                    if not gates:
                        st.info(f"A {c.title} has no gate to force.")
                        ivn = None
                    else:
                        gate = st.selectbox("Gate", gates, key="space.gate", format_func=lambda g: c.quantity(g).title)
                        d1.number_input("Unit", 0, H - 1, key="space.unit")
                        d2.segmented_control("Value", [0.0, 1.0], key="space.gate_value",
                                             format_func=lambda v: f"{v:g} (shut)" if v == 0 else f"{v:g} (open)")
                        all_units = st.toggle("Every unit", key="space.gate_all")
                        ivn = iv.force_gate(ss["space.token"], gate, ss["space.gate_value"] if ss["space.gate_value"]
                                            is not None else 1.0, None if all_units else ss["space.unit"])
                else:
                    d1.number_input("How many top units (by share of the verdict)", 1, min(64, H), key="space.topk")
                    ivn = iv.zero_top(ss["space.token"], ss["space.topk"])
                out = iv.intervene_trace(tm.model, tr, ivn) if ivn is not None else None
            except ValueError as e:
                st.warning(textio.md_escape(str(e)))
                out = None
            if out is not None:
                st.plotly_chart(space_plots.two_curves(out.original.step_probs, out.changed.step_probs, tr.tokens,
                                                       tr.tokens, names=("as read", "with the intervention")),
                                key="space.iv_curves")
                st.caption(textio.md_escape(out.interventions[0].describe().capitalize() + ". " + out.sentence()))

with st.expander("Over TEST texts: how much accuracy falls when the top units are silenced", key="space.x.ablate",
                 on_change="rerun") as box:
    if box.open:
        if st.button("Measure it (a few seconds, once per model)", key="space.ablate") or \
                per_model.known("ablation", tm):
            abl, why = per_model.get("ablation", tm, f"Ablating the top units over {ablate.DEFAULT_TEXTS} TEST texts")
            if abl is None:
                if why:
                    st.info(f"Not available for this model: {textio.md_escape(why)}.")
            else:
                takeaway.table([{"units silenced": f"unit {abl.ranking[i]} alone", "accuracy": f"{acc:.1%}",
                               "change (points)": f"{100 * (acc - abl.accuracy):+.1f}",
                               "McNemar p": f"{abl.single_p[i]:.3g}"} for i, acc in enumerate(abl.single)] +
                             [{"units silenced": f"top {k} together", "accuracy": f"{acc:.1%}",
                               "change (points)": f"{100 * (acc - abl.accuracy):+.1f}",
                               "McNemar p": f"{abl.together_p[k]:.3g}"} for k, acc in abl.together.items()],
                               f"Accuracy over {abl.n_texts} TEST texts with the top units silenced", "space-ablation",
                               hide_index=True)
                st.caption(textio.md_escape(" ".join(abl.sentences())) + f" A fall counts as beyond noise below p = "
                           f"{abl.level:.2g} (0.05 over the {len(abl.single) + len(abl.together)} ablations)."
                           + ("" if tm.heldout else " This model was trained elsewhere, likely on these very texts: "
                                                    "read the falls, not the accuracy itself."))

with st.expander("What does a unit respond to?", key="space.x.units", on_change="rerun") as box:
    if box.open:
        stats, why = per_model.get("units", tm, "Reading TEST texts for every unit")
        if stats is None:
            if why:
                st.info(f"No unit statistics for this model: {textio.md_escape(why)}.")
        else:
            if st.session_state.get("space.explore_for") != tm.name:  # a new model opens on its most decisive unit
                st.session_state["space.explore_for"] = tm.name
                st.session_state["space.explore"] = int(stats["order"][0])
            u = st.number_input("Unit", 0, tr.hidden_size - 1 if tr is not None else tm.config.hidden_size - 1,
                                key="space.explore")
            st.markdown(textio.md_escape(units.describe(stats, int(u))))
            r = stats["units"][int(u)]
            st.plotly_chart(space_plots.histogram(stats["edges"], r["histogram"],
                                                  f"Unit {int(u)}: its h over every token of the sample"),
                            key="space.hist")

            def _rows(contexts: list) -> list[dict]:  # words from the model's vocabulary: plain text in a table
                return [{"h": round(x["value"], 3),
                         "in context": " ".join(x["left"] + [f"⟨{x['token']}⟩"] + x["right"]),
                         "TEST text": x["test_index"]} for x in contexts]

            c1, c2 = st.columns(2)
            c1.markdown("**Where it is highest** (one word per text, ⟨marked⟩)")
            c1.dataframe(_rows(r["top"]["value"]["high"]), hide_index=True)
            c2.markdown("**Where it is lowest**")
            c2.dataframe(_rows(r["top"]["value"]["low"]), hide_index=True)
            if tr is not None:
                vals, lead = tr.last.h[:, int(u)], tr.lead  # a Keras model's padding zeros are left out
                st.html(textio.chips_html(tr.tokens[lead:], tr.oov[lead:], vals[lead:], unit="h", scale=1.0))
                st.caption(f"Your sentence coloured by unit {int(u)}'s h after each word (blue positive, red negative, "
                           "full colour at ±1).")
