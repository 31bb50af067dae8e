"""The Why gates page's Streamlit pieces: the gradient through time of the dataset's three bundled
cells (cached per model and text), the distance probe, and the long-range lab (shipped results, and
a live run beside the page). The numbers come from playground.memory, playground.probe and
playground.lab."""
from __future__ import annotations

import numpy as np
import streamlit as st

from playground.core import models, zoo
from playground.core.cells import cell
from playground.core.data import DATASET_TITLES
from playground.core.models import ARCHS
from playground.dynamics import lab, memory, probe, why
from playground.figures import distance_plots, plots
from playground.training.timing import load_slowdown
from ui import lab_run, per_model, takeaway
from ui.state import Field, link_query

from . import catalog, textio


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _csv(values) -> str:
    return ",".join(str(v) for v in values)


LAB_FIELDS = (
    Field("why.lab_k", "labk", list(lab.DEFAULT_K), parse=_ints, to_str=_csv,
          valid=lambda v: isinstance(v, list) and all(k in lab.DEFAULT_K for k in v)),
    Field("why.lab_cells", "labcells", list(ARCHS), parse=lambda t: [c for c in t.split(",") if c], to_str=_csv,
          valid=lambda v: isinstance(v, list) and all(c in ARCHS for c in v)),
    Field("why.lab_seed", "labseed", 0, parse=int, valid=lambda v: isinstance(v, int) and 0 <= v <= 1000),
    Field("why.lab_init", "labinit", "keras", valid=lambda v: v in lab.SHIPPED_BY_INIT),
)
INIT_TITLES = {"keras": "Keras' start", "textbook": "The textbook's start"}


@st.cache_data(max_entries=64, show_spinner=False)
def _bundled_gradients(name: str, text: str) -> tuple[tuple[str, ...], list[float]]:
    tm = catalog.bundled(name)
    enc = tm.vocab.encode(text, tm.config.max_len)
    return enc.tokens, memory.token_gradients(tm.model, enc.ids).tolist()


def gradient_series(tm: zoo.TrainedModel, dataset: str, text: str) -> tuple[dict, list[dict]]:
    """For the dataset's bundled SimpleRNN, LSTM and GRU (and `tm` when it is none of them):
    name -> (|d logit / d e_t| per word, tokens, colour, half-distance), and a table row per model."""
    names = [f"{arch}-{dataset}" for arch in ARCHS if f"{arch}-{dataset}" in zoo.BUNDLED]
    if tm.name not in names:
        names.append(tm.name)
    series, rows = {}, []
    for k, name in enumerate(names):
        if name == tm.name and tm.source != "bundled":
            enc = tm.vocab.encode(text, tm.config.max_len)
            tokens, grads = enc.tokens, memory.token_gradients(tm.model, enc.ids)
            arch = tm.arch
        else:
            tokens, g = _bundled_gradients(name, text)
            grads, arch = np.asarray(g), catalog.bundled(name).arch
        color = cell(arch).color if name != tm.name or tm.source == "bundled" else plots.EXTRA_COLORS[k % 4]
        row = memory.gradient_row(name, cell(arch).title, tokens, grads)
        series[f"{name} ({cell(arch).title})"] = (grads, tokens, color, row["half-distance"])
        rows.append(row)
    return series, rows


@st.cache_resource(show_spinner=False, max_entries=16)
def _bundled_probe(name: str):
    return probe.bundled_probe(name)


def _probes(tm: zoo.TrainedModel, dataset: str) -> list:
    """The dataset's three bundled models' probes (cached for everyone), and `tm`'s if it is a session
    model (kept in this session, by name and identity)."""
    names = [f"{arch}-{dataset}" for arch in ARCHS if f"{arch}-{dataset}" in zoo.BUNDLED]
    out = [_bundled_probe(n) for n in names]
    if tm.source != "bundled" or tm.name not in zoo.BUNDLED:
        store = st.session_state.setdefault("why.probes", {})
        kept = store.get(tm.name)
        if kept is None or kept[0] is not tm.model:
            kept = store[tm.name] = (tm.model, probe.probe(tm.model, tm.vocab, tm.name))
        for n in [n for n in store if n not in catalog.session_models()]:
            store.pop(n, None)
        out.append(kept[1])
    return out


def probe_section(tm: zoo.TrainedModel) -> None:
    st.markdown("A strongly positive or negative phrase, then k words that the model itself reads as neutral "
                "(its own filler: alone, it keeps every prefix within 0.05 of the model's prior). How much does the "
                "phrase still move the final verdict? This measures what a *trained* network retains.")
    st.latex(r"\text{effect}(k) = P(\text{filler} + \text{positive phrase} + k \text{ filler words}) - "
             r"P(\text{filler} + \text{negative phrase} + k \text{ filler words})")
    dataset = tm.dataset if tm.dataset in DATASET_TITLES else "imdb"
    try:
        with st.spinner("Finding each model's neutral filler and reading 300 distances (once per model)…"):
            probes = _probes(tm, dataset)
    except ValueError as e:
        st.warning(f"No probe for this model: {textio.md_escape(str(e))}")
        return
    colors = {p.model: (cell(p.arch).color if p.model in zoo.BUNDLED else plots.EXTRA_COLORS[0]) for p in probes}
    st.plotly_chart(distance_plots.probe_effects(probes, colors), key="why.probe")
    st.caption("Each line: the positive phrase's final P(positive) minus the negative phrase's, after k neutral words "
               "(log scale); × marks where it falls to half its value at k = 1; a line ends where the model no longer "
               "reads the phrase whole (the RT models read their last 100 tokens, rnn-imdb 200).")
    st.caption(textio.md_escape(probe.compare_story(probes)))
    mine = next((p for p in probes if p.model == tm.name), probes[-1])
    st.plotly_chart(distance_plots.probe_curves(mine), key="why.probe_curves")
    st.caption(textio.md_escape(mine.story()))
    k = min(50, mine.k_read) if mine.k_read else 1
    c1, c2 = st.columns(2)
    c1.page_link("views/playground.py", label=f"Open the positive text at k = {k} in the Playground", icon="🔬",
                 query_params=link_query("s", mine.text(k, "positive"), model=mine.model))
    c2.page_link("views/playground.py", label=f"Open the filler alone at k = {k}", icon="🔬",
                 query_params=link_query("s", mine.text(k, "filler"), model=mine.model))
    st.caption(f"Phrases: “{textio.md_escape(probe.POSITIVE)}” and “{textio.md_escape(probe.NEGATIVE)}”, after "
               f"{probe.LEAD} filler words. Each model is probed on its own filler, so the curves compare how each "
               "keeps a phrase among words it ignores, not the same text. Command line: `python -m playground probe "
               f"--dataset {dataset}`.")


# --- the first screen's causes (playground/dynamics/why.py) -------------------------------------------
@st.cache_resource(show_spinner=False)
def _initial_keeps() -> dict:
    """init -> cell -> its keep gate before training in the lab (about 0.1 s, once per server)."""
    return {init: {c: lab.initial_keep(c, lab.LabSettings(init=init)) for c in ARCHS} for init in ("keras", "textbook")}


def init_cause() -> why.Cause | None:
    return why.init_cause(_shipped("keras"), _shipped("textbook"), lab.init_gradient_shares)


def init_table() -> list[dict]:
    return why.init_table(_shipped("keras"), _shipped("textbook"), lab.init_gradient_shares, _initial_keeps())


def gru_cause() -> why.Cause | None:
    return why.gru_cause(_initial_keeps()["keras"].get("gru"), _shipped("keras"), lab.init_gradient_shares)


def forget_cause(dataset: str, review: str | None = None, answer: why.Answer | None = None) -> why.Cause | None:
    """From the dataset's bundled LSTM's typical values (shipped): its mean forget gate over TEST words; with
    the long review and the first screen's answer, what its cell's own path explains of the share measured."""
    name = f"lstm-{dataset}"
    if name not in zoo.BUNDLED:
        return None
    tm = catalog.bundled(name)
    typ, _ = per_model.typical(tm)
    path = _keep_path(name, review, answer) if review is not None and answer is not None else ""
    return why.forget_of(name, typ, cell(tm.arch), path)


@st.cache_data(max_entries=16, show_spinner=False, hash_funcs={why.Answer: lambda a: (a.k, a.headline)})
def _keep_path(name: str, review: str, answer: why.Answer) -> str:
    """why.keep_path, once per model and review (its trace took 8-12 ms, on every rerun of the page)."""
    return why.keep_path(name, catalog.bundled(name), review, answer)


# --- the long-range lab -----------------------------------------------------------------------------
@st.cache_data(show_spinner=False)
def _shipped(init: str = "keras") -> dict | None:
    return lab.load_shipped(lab.SHIPPED_BY_INIT[init])


def _lab_views(result: dict, key: str) -> None:
    """The lab's pictures, table and sentences for a result (shipped or the visitor's)."""
    st.plotly_chart(distance_plots.lab_accuracy(result), key=f"{key}.acc")
    n = len(result.get("seeds", []))
    chance = result.get("chance_accuracy", 0.6)
    st.caption(f"Each point is the mean TEST accuracy over {n} seed{'s' if n != 1 else ''}, whiskers from the lowest "
               f"to the highest seed; the grey band is chance (at most {chance:g} counts as chance). k is the number "
               "of tokens from the signal to the end, on a log scale.")
    takeaway.table(distance_plots.lab_table(result), "The long-range lab: mean TEST accuracy at each distance k",
                   f"{key}-table", hide_index=True, width="stretch")
    st.caption(textio.md_escape(" ".join(lab.summary(result)) + " " + lab.lesson(result)))
    st.plotly_chart(distance_plots.lab_init_gradient(result), key=f"{key}.init")
    st.caption("At the first step of training, before the network has learned anything: the gradient of the loss "
               "reaching the signal token, as a share of the gradient at the last token. A share near 0 means the "
               "training signal cannot reach the token that decides the label: the vanishing gradient. Missing "
               "points were 0 in float32.")
    ks = list(result["k"])
    k = st.select_slider("Distance k for the training curves", ks, value=ks[len(ks) // 2] if ks else None,
                         key=f"{key}.k")
    if k is not None:
        st.plotly_chart(distance_plots.lab_gradient_curves(result, k), key=f"{key}.curves")


def lab_section() -> None:
    st.markdown("The lesson trained live: a sequence of k tokens whose first token, A or B, decides the label; the "
                "k − 1 tokens after it are random distractors. To learn the rule a cell must carry one bit across "
                "k − 1 steps of noise, and the gradient must reach the first token back through them.")
    st.latex(r"x_1 \in \{A, B\},\quad x_2, \dots, x_k \in \{d_1, \dots, d_8\}\ \text{(random)},\quad "
             r"y = [\,x_1 = A\,]")
    init = st.segmented_control("Start the networks from", list(lab.SHIPPED_BY_INIT), key="why.lab_init",
                                format_func=INIT_TITLES.get, help="\n\n".join(
                                    f"**{INIT_TITLES[k]}**: {models.INITS[k]}" for k in lab.SHIPPED_BY_INIT)) or "keras"
    shipped = _shipped(init)
    if shipped is None:
        st.warning(f"The shipped results ({lab.SHIPPED_BY_INIT[init].name}) are missing or unreadable; run them "
                   f"yourself below, or rebuild them with `{lab.SHIPPED_COMMANDS[init]}`.")
    else:
        s = shipped["settings"]
        st.caption(f"Shipped results, {models.INITS[init]}: SimpleRNN, LSTM and GRU of {s['hidden_size']} units "
                   f"(embedding {s['embed_dim']}), {s['steps']} Adam steps of {s['batch_size']} sequences, learning "
                   f"rate {s['lr']:g}, {len(shipped['seeds'])} seeds, TEST on {s['n_test']:,} held-out sequences per "
                   f"k and seed. Built by `{lab.SHIPPED_COMMANDS[init]}`.")
        _lab_views(shipped, f"why.lab.{init}")
    _lab_live()


# --- run it yourself --------------------------------------------------------------------------------
def _start_lab() -> None:
    ss = st.session_state
    if not ss.get("why.lab_k") or not ss.get("why.lab_cells"):
        ss["why.lab_notice"] = "Choose at least one distance and one cell."
        return
    try:
        settings = lab.LabSettings(k=tuple(ss["why.lab_k"]), seeds=1, cells=tuple(ss["why.lab_cells"]),
                                   first_seed=int(ss.get("why.lab_seed") or 0),
                                   init=ss.get("why.lab_init") or "keras")
    except (ValueError, TypeError) as e:
        ss["why.lab_notice"] = f"These settings cannot be used: {e}"
        return
    run = lab_run.LabRun(settings, alive=catalog.session_alive())
    if not lab_run.claim(ss, run):
        ss["why.lab_notice"] = "A lab run is already going in this session, so that press was ignored."


def _stop_lab() -> None:
    run = st.session_state.get(lab_run.RUN_KEY)
    if isinstance(run, lab_run.LabRun):
        run.stop()


def _lab_promise() -> str:
    """What a run of the chosen distances and cells should take here, now: the grid's estimate on a
    quiet server times the slowdown the server's load implies (playground.lab, playground.timing)."""
    try:
        s = lab.LabSettings(k=tuple(st.session_state.get("why.lab_k") or lab.DEFAULT_K), seeds=1,
                            cells=tuple(st.session_state.get("why.lab_cells") or ARCHS))
    except (ValueError, TypeError):
        return ""
    quiet, slow = lab.estimate_seconds(s), load_slowdown()
    now = quiet * slow
    busy = f"; the server is busy, about {slow:.1f}x slower than when quiet" if slow > 1.15 else ""
    n = len(s.k) * len(s.cells)
    if now > lab_run.CAP_S:
        return (f"These {n} runs would take about {now:.0f} s here now ({quiet:.0f} s on a quiet server{busy}), more "
                f"than the {lab_run.CAP_S:.0f} s cap: it will stop there and keep the distances it finished.")
    return (f"These {n} runs should take about {now:.0f} s here now ({quiet:.0f} s on a quiet server{busy}); the run "
            f"stops at {lab_run.CAP_S:.0f} s and keeps the distances it finished.")


def _lab_live() -> None:
    st.markdown("**Run it yourself**: one seed, the distances and cells you choose, the same settings and start as "
                "above. It shares the server's training slots with the Train page.")
    c1, c2, c3 = st.columns([3, 2, 1], vertical_alignment="bottom")
    c1.multiselect("Distances k", lab.DEFAULT_K, key="why.lab_k")
    c2.multiselect("Cells", list(ARCHS), key="why.lab_cells", format_func=lambda c: cell(c).title)
    c3.number_input("Seed", 0, 1000, key="why.lab_seed")
    run = st.session_state.get(lab_run.RUN_KEY)
    active = isinstance(run, lab_run.LabRun) and run.active
    b = st.container(horizontal=True, gap="small")
    b.button("Run the lab", type="primary", key="why.lab_start", on_click=_start_lab, disabled=active)
    b.button("Stop", key="why.lab_stop", on_click=_stop_lab, disabled=not active)
    if not active:
        st.caption(_lab_promise())
    notice = st.session_state.pop("why.lab_notice", None)
    if notice:
        st.warning(textio.md_escape(notice))
    if isinstance(run, lab_run.LabRun):
        _lab_progress()


@st.fragment(run_every=2.0)
def _lab_progress() -> None:
    run = st.session_state.get(lab_run.RUN_KEY)
    if not isinstance(run, lab_run.LabRun):
        return
    snap = run.snapshot()
    if not run.done:
        if snap["phase"] == "waiting":
            st.info(f"Waiting for the server: place {snap['queue_position']} in line (the server trains one model "
                    "at a time).")
            return
        ev = snap["event"]
        done_runs = len(snap["finished"])
        frac = (done_runs + (ev.step / ev.steps if ev is not None and ev.kind == "step" else 0)) / max(1, snap["runs"])
        left, ratio = snap["left"]
        pace = f" ({ratio:.1f}x the quiet-server estimate)" if abs(ratio - 1) > 0.05 else ""
        late = snap["cap"] is not None and snap["since_slot"] + left > snap["cap"]
        eta = (f" · at this pace the {snap['cap']:.0f} s cap stops it in about {snap['cap'] - snap['since_slot']:.0f} s"
               if late else f" · about {left:.0f} s left at this pace") + pace
        label = (f"{cell(ev.cell).title}, k = {ev.k}: step {ev.step}/{ev.steps} · run {ev.run + 1} of {ev.runs} · "
                 f"{snap['since_slot']:.0f} s{eta}" if ev is not None else "starting…")
        st.progress(min(1.0, frac), text=label)
        if snap["finished"]:
            st.caption(" · ".join(f"{cell(e.cell).title} k = {e.k}: {e.test_accuracy:.3f}" for e in snap["finished"]))
        return
    if st.session_state.get("why.lab_shown") is not run:  # one full rerun draws the finished result
        st.session_state["why.lab_shown"] = run
        st.rerun()


def lab_result() -> None:
    """The visitor's finished lab, if any (drawn in the page script, not the fragment)."""
    run = st.session_state.get(lab_run.RUN_KEY)
    if not isinstance(run, lab_run.LabRun) or not run.done or run.result is None:
        return
    res = run.result
    if "error" in res:
        st.error(textio.md_escape(res["error"]))
        return
    cut = {"button": "You stopped it", "cap": f"The {lab_run.CAP_S:.0f} s cap stopped it",
           "session": "It stopped when the page lost its connection"}.get(res.get("cut") or "")
    n = sum(len([a for a in row if a is not None]) for row in res["accuracy"].values())
    promised = (f" (expected at the start: about {run.promised:.0f} s)" if run.promised else "")
    st.success(f"Your lab: {n} runs in {res['timings']['seconds']:.0f} s{promised}" +
               (f". {cut}; the distances it finished are shown." if cut else "."))
    if res["k"]:
        _lab_views(res, "why.mylab")
