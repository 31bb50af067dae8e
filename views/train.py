"""Train: set up a small SimpleRNN/LSTM/GRU, train it in this browser session beside the page (a
worker thread, ui.training), watch its curves and a probe sentence's reading live, and use the
result on every page. The settings are in the URL; their defaults are playground.options'."""
import streamlit as st

from playground.core import keras_import, zoo
from playground.core.data import DATASET_SHORT, DATASET_TITLES
from playground.core.models import ARCH_TITLES, ARCHS, SUMMARY_CONVENTIONS, layer_summary
from playground.evaluation import stats
from playground.figures import plots
from playground.training import budget, timing
from playground.training.options import TRAIN_ROWS, build_recipe, train_defaults
from playground.training.train import OPTIMIZERS
from ui import catalog, takeaway, textio, wellformed
from ui.state import (
    Field,
    PageState,
    bool_str,
    float_in,
    float_str,
    int_in,
    link_query,
    one_of,
    parse_bool,
    parse_float,
    parse_int,
)
from ui.training import QUEUE, RUN_KEY, TrainingRun, claim, race_recipe

TIME_CAP_S = 120  # a shared hosted demo: no run may hold a worker longer than this (a race: a third each)
TRAIN_THREADS = 1  # below the core count, so one visitor's training never freezes the others
# The live view's redraw interval while a run is going. Every fragment rerun costs the server about
# 50 ms of Python (measured on a fragment that only writes a number), on top of the training thread,
# so other visitors wait longer. The browser tests' 8 visitors beside a training one saw a median
# verdict of 1.9-2.4 s with a 1 s interval (three runs), 1.76 s with 2 s, 1.45 s with 3 s, and
# 1.29-1.38 s when training ran inside the page script: a shared demo redraws every 3 s.
LIVE_EVERY_S = 3.0
STOP_WAIT_S = 5.0  # Stop waits this long for the run to end before the page reruns (see _stop)
RT_ROWS, IMDB_ROWS = TRAIN_ROWS["rt"], TRAIN_ROWS["imdb"]  # TRAIN rows of each dataset
LRS = [1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 1e-2, 3e-2, 0.1, 1.0, 10.0]
VOCABS = [1000, 2000, 5000, 10000, 20000, 30000]
EMBEDS = [8, 16, 32, 64, 100, 128, 256]
HIDDENS = [4, 8, 16, 32, 64, 100, 128, 256]
BATCHES = [8, 16, 32, 64, 128, 256]
PROBE = "I expected to hate it but I loved it"
RT, IMDB = train_defaults("rt"), train_defaults("imdb")


def _bundled_size_note(arch: str, ds: str) -> str:
    """The hidden units' help: how big the bundled model of this cell and dataset is, and why the
    default here is smaller (a student comparing the two would otherwise wonder)."""
    name = f"{arch}-{ds}"
    if name not in zoo.bundled_names():
        return ""
    size = catalog.bundled(name).model.config.hidden_size
    return (f"The bundled {name} has {size} units. It was trained in two runs, the second learning from "
            "teacher models, with no time cap (docs/models.md says how). A smaller network trains sooner "
            "here; the estimate below says how long these settings take.")


def _step_of(step: float, lo: float, hi: float):
    return lambda v: float_in(lo, hi)(v) and abs(v / step - round(v / step)) < 1e-6


# The page's settings, each a widget and a query parameter named like the command line's option.
STATE = PageState(
    Field("train.dataset", "dataset", RT["dataset"], valid=one_of(["rt", "imdb"])),
    Field("train.rt_rows", "rt_rows", RT["limit"] or RT_ROWS, parse=parse_int, valid=int_in(200, RT_ROWS)),
    Field("train.imdb_rows", "imdb_rows", IMDB["limit"] or IMDB_ROWS, parse=parse_int,
          valid=lambda v: int_in(500, IMDB_ROWS)(v) and v % 500 == 0),
    Field("train.mix_rows", "mix_limit", (RT["mix_limit"] or 20000) if RT["mix"] else 0, parse=parse_int,
          valid=lambda v: int_in(0, 20000)(v) and v % 1000 == 0),
    Field("train.vocab_size", "vocab_size", RT["vocab_size"], parse=parse_int, valid=one_of(VOCABS)),
    Field("train.max_len", "max_len", RT["max_len"], parse=parse_int,
          valid=lambda v: int_in(10, 400)(v) and v % 10 == 0),
    Field("train.arch", "arch", RT["arch"], valid=one_of(ARCHS)),
    Field("train.embed_dim", "embed_dim", RT["embed_dim"], parse=parse_int, valid=one_of(EMBEDS)),
    Field("train.hidden_size", "hidden_size", RT["hidden_size"], parse=parse_int, valid=one_of(HIDDENS)),
    Field("train.layers", "layers", RT["layers"], parse=parse_int, valid=one_of([1, 2])),
    Field("train.dropout", "dropout", RT["dropout"], parse=parse_float, valid=_step_of(0.05, 0.0, 0.8),
          to_str=float_str),
    Field("train.optimizer", "optimizer", RT["optimizer"], valid=one_of(OPTIMIZERS)),
    Field("train.lr", "lr", RT["lr"], parse=parse_float, valid=one_of(LRS), to_str=float_str),
    Field("train.batch_size", "batch_size", RT["batch_size"], parse=parse_int, valid=one_of(BATCHES)),
    Field("train.epochs", "epochs", RT["epochs"], parse=parse_int, valid=int_in(1, 20)),
    Field("train.seed", "seed", RT["seed"], parse=parse_int, valid=int_in(0, 1_000_000)),
    Field("train.ema", "ema", RT["ema"] > 0, parse=parse_bool, valid=lambda v: isinstance(v, bool), to_str=bool_str),
    Field("train.name", "name", "", valid=lambda v: isinstance(v, str) and len(v) <= 40),
    Field("train.probe", "probe", PROBE, parse=textio.clean_input,
          valid=lambda v: isinstance(v, str) and len(v) <= textio.MAX_INPUT_CHARS, long_text=True,
          label="probe sentence"),
    Field("train.units", None, "torch", valid=one_of(SUMMARY_CONVENTIONS)),
)
STATE.sync()
ss = st.session_state


def _values() -> dict:
    """The widgets' values as playground.options values (the command line's names)."""
    ds = ss["train.dataset"]
    d = train_defaults(ds)
    v = {k: ss[f"train.{k}"] for k in ("arch", "vocab_size", "max_len", "embed_dim", "hidden_size", "layers",
                                        "dropout", "optimizer", "lr", "batch_size", "epochs", "seed")}
    v.update(dataset=ds, ema=(d["ema"] or 0.99) if ss["train.ema"] else 0.0, threads=TRAIN_THREADS,
             max_seconds=float(TIME_CAP_S))
    if ds == "imdb":
        rows = int(ss["train.imdb_rows"])
        v.update(limit=rows, mix=None, mix_limit=None)  # build_recipe reads "every row" as no limit
    else:
        rows, mix = int(ss["train.rt_rows"]), int(ss["train.mix_rows"])
        v.update(limit=rows, mix="imdb" if mix else None, mix_limit=mix or None)
    return v


def _model_name() -> str:
    return ss["train.name"].strip() or f"my-{ss['train.arch']}-{ss['train.dataset']}"


def _start(kind: str) -> None:
    """on_click of Train and Race: runs before the page script, so the buttons it draws next
    already know a run is going. Never starts a second run in this session."""
    run = ss.get(RUN_KEY)
    if isinstance(run, TrainingRun) and not run.done:
        ss["train.notice"] = "A training run is already going in this session, so that press was ignored."
        return
    try:
        recipe = build_recipe(_values())
    except ValueError as e:
        ss["train.notice"] = f"These settings cannot be used: {e}"
        return
    too_big = _memory_refusal(recipe, race=kind == "race")
    if too_big:
        ss["train.notice"] = too_big
        return
    ds = recipe.dataset
    kw = dict(alive=catalog.session_alive(), test_limit=_test_limit(ds))
    if kind == "race":
        names = {a: f"race-{a}-{ds}" for a in ARCHS}
        new = TrainingRun.race(race_recipe(recipe, len(names), TIME_CAP_S), names,
                               command="Train page race (in the browser session)", **kw)
    else:
        new = TrainingRun.single(recipe, _model_name(), probe=textio.clean_input(ss["train.probe"]),
                                 command="Train page (in the browser session)",
                                 promise=timing.promise(recipe, TIME_CAP_S, test_limit=kw["test_limit"]), **kw)
    if claim(ss, new):
        ss["train.result"] = ss["race.result"] = None
    else:
        ss["train.notice"] = "A training run is already going in this session, so that press was ignored."


def _memory_refusal(recipe, race: bool = False) -> str | None:
    """Why these settings are refused for a run (or a race): their memory estimate exceeds one
    run's budget; or None."""
    mem = timing.race_memory(recipe, ARCHS) if race else timing.recipe_memory(recipe)
    if mem.fits:
        return None
    what = "A race with these settings" if race else "These settings"
    return (f"{what} would need about {budget.mb(mem.total)} while training ({mem.parts()}), more than "
            f"the {budget.mb(mem.budget)} one training may use on this shared server: "
            f"{budget.advice(mem, recipe.model, recipe.train.batch_size)}.")


def _stop() -> None:
    """on_click of Stop: asks the run to stop between two batches, then waits a little for it to keep
    its best weights and measure them, so the rerun this click starts shows the result itself (on a
    quiet server 0.3 s). A slower end is picked up by the live view's timer, as a finished run is."""
    run = ss.get(RUN_KEY)
    if isinstance(run, TrainingRun):
        run.stop()
        run.wait(STOP_WAIT_S)


run = catalog.training_run()  # collects a run that has finished (its models join the session)
active = run is not None and not run.done

st.title("🏋️ Train a model")
st.caption("Set up a small recurrent network, press Train, and watch it learn. The result is kept in "
           "this browser session only and appears in the model picker of every page. Have a model already, "
           "this app's file or your own Keras model from the tutorials? [Upload it below](#use-a-model-file).")

# --- setup ------------------------------------------------------------------------------------
s1, s2, s3 = st.columns(3)
with s1:
    st.markdown("**Data**")
    ds = st.segmented_control("Dataset", ["rt", "imdb"], key="train.dataset",
                              format_func=DATASET_SHORT.get) or "rt"
    if ds == "imdb":
        st.slider("IMDB reviews to train on", 500, IMDB_ROWS, step=500, key="train.imdb_rows",
                  help="A seeded random sample of IMDB TRAIN; 10% of it is held out for validation.")
    else:
        st.slider("Sentences to train on", 200, RT_ROWS, step=1, key="train.rt_rows",
                  help=f"All {RT_ROWS:,} Rotten Tomatoes TRAIN sentences, or a seeded random sample; "
                       "10% is held out for validation.")
        st.slider("Also learn from IMDB reviews (their last 100 tokens each)", 0, 20000, step=1000,
                  key="train.mix_rows",
                  help=f"{RT_ROWS:,} short sentences teach few words; a few thousand IMDB reviews add many. "
                       "0 = Rotten Tomatoes only. Each review is cut to its last 100 tokens whatever the maximum "
                       "below, which is for the sentences and for what the model reads later.")
    st.select_slider("Vocabulary size", VOCABS, key="train.vocab_size")
    st.slider("Maximum tokens per text (the end is kept)", 10, 400, step=10, key="train.max_len",
              help="Longer texts are cut to their last tokens, in training and whenever the model reads later"
                   + (" (the IMDB reviews mixed in keep their last 100)." if ds == "rt" else "."))
with s2:
    st.markdown("**Network**")
    arch = st.segmented_control("Cell", list(ARCHS), key="train.arch", format_func=ARCH_TITLES.get) or "gru"
    st.select_slider("Embedding size", EMBEDS, key="train.embed_dim")
    st.select_slider("Hidden units", HIDDENS, key="train.hidden_size", help=_bundled_size_note(arch, ds))
    st.segmented_control("Layers", [1, 2], key="train.layers")
    st.slider("Dropout", 0.0, 0.8, step=0.05, key="train.dropout")
with s3:
    st.markdown("**Training**")
    st.selectbox("Optimizer", list(OPTIMIZERS), key="train.optimizer",
                 format_func={"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD with momentum 0.9"}.get)
    st.select_slider("Learning rate", LRS, key="train.lr", format_func=lambda v: f"{v:g}")
    st.select_slider("Batch size", BATCHES, key="train.batch_size")
    st.slider("Epochs", 1, 20, key="train.epochs")
    st.number_input("Seed", 0, 1_000_000, step=1, key="train.seed")
    st.checkbox("Keep a moving average of the weights", key="train.ema",
                help="Validates and keeps an exponential moving average (0.99) of the weights: "
                     "smoother curves and usually a point or two more accuracy on small data.")

try:
    recipe = build_recipe(_values())
except ValueError as e:  # the widgets are bounded, but the library checks again
    recipe = None
    st.error(f"These settings cannot be used: {textio.md_escape(e)}")

if recipe is not None:
    with st.expander("Model summary (Keras style)", expanded=False):
        units = st.segmented_control("Count parameters as", list(SUMMARY_CONVENTIONS), key="train.units",
                                     format_func={"torch": "PyTorch (trained here)", "keras": "Keras"}.get) or "torch"
        rows = layer_summary(recipe.model, units)
        takeaway.table(rows, "The model's layers and parameters", "train-layers", hide_index=True, column_config={
            "params": st.column_config.NumberColumn("parameters", format="localized")})
        st.caption(f"{SUMMARY_CONVENTIONS[units]} Total: {sum(r['params'] for r in rows):,} parameters (at most; "
                   "the vocabulary built from the data may be smaller than the size chosen).")

n1, n2 = st.columns([2, 3])
with n1:
    st.text_input("Name for the model", key="train.name", max_chars=40,
                  placeholder=f"my-{arch}-{ds} (leave empty for this name)")
with n2:
    st.text_input("Probe sentence (its reading is redrawn after every epoch)", key="train.probe",
                  max_chars=textio.MAX_INPUT_CHARS)
    for note in STATE.notes:  # a probe too long for a link (ui/state.py)
        st.info(note)
    if wellformed.note(ss["train.probe"]):
        st.warning(wellformed.note(ss["train.probe"]))

name = _model_name()
bad_name = name in zoo.BUNDLED
if bad_name:
    st.warning("Give the model a name that is not one of the bundled models' names.")


def _quote(names) -> str:
    return " and ".join(f"“{textio.md_escape(n)}”" for n in names)


def _secs(x: float) -> str:
    return "under 1 s" if x < 1 else f"{x:.0f} s"


def _estimate_notes(recipe) -> None:
    """Before Train or Race is pressed: how long the run should take from the click to the result
    (playground.timing: phases priced from measured runs, times the slowdown the server's load
    implies now) and how many epochs that leaves in the time cap; never a time above the cap."""
    with st.spinner("Counting the data's tokens (once per server)…"):
        plan = timing.plan(recipe, TIME_CAP_S, startup=0.0, test_limit=_test_limit(recipe.dataset))
        pr = timing.promise(recipe, TIME_CAP_S, test_limit=_test_limit(recipe.dataset), priced=plan)
        race = timing.race(recipe, ARCHS, TIME_CAP_S)
    if not plan.fits:  # the run would be refused when it starts: say so now
        st.warning(textio.md_escape(plan.refusal(cli=False)))
        return
    n = pr.epochs
    epochs = f"{n} epoch{'s' if n > 1 else ''}"
    load = (f"the server is busy now, about {pr.slowdown:.1f}x slower than when quiet" if pr.slowdown > 1.15
            else "the server is quiet now")
    if pr.epochs_fit < n:
        st.warning(f"**{epochs} will not fit in the {TIME_CAP_S} s time cap**: {load}, so about "
                   f"{pr.epochs_fit:.1f} of them do; training then stops and keeps the best weights so far. To "
                   "finish every epoch: fewer epochs or rows, a shorter maximum length, a smaller network or a "
                   "larger batch. Once it runs, the estimate is corrected from its measured pace.")
    else:
        st.caption(f"Expected: about {_secs(pr.seconds)} from start to result for {epochs} ({load}; "
                   f"{_secs(pr.quiet_seconds)} on a quiet server), within the {TIME_CAP_S} s time cap. Once it "
                   "runs, the estimate is corrected from its measured pace.")
    cut = {ARCH_TITLES[a]: e for a, e in race.items() if not e.fits}
    if cut:
        share = TIME_CAP_S // len(race)
        st.caption(f"A race gives each cell {share} s, so it would cut "
                   + ", ".join(f"{t} short (about {e.epochs_in_cap:.1f} of {n} epochs)" for t, e in cut.items())
                   + ".")


def _test_limit(dataset: str) -> int | None:
    """TEST rows a page run reads: a seeded sample of 2,000 of IMDB's 5,000 reviews, all 1,706 RT sentences."""
    return 2000 if dataset == "imdb" else None


refused = race_refused = None
if recipe is not None:
    _estimate_notes(recipe)
    refused, race_refused = _memory_refusal(recipe), _memory_refusal(recipe, race=True)
    if refused or race_refused:
        st.error(refused or race_refused)
    if not refused:
        mem = timing.recipe_memory(recipe)
        st.caption(f"Memory: about {budget.mb(mem.total)} of the {budget.mb(mem.budget)} one training may use "
                   f"({mem.parts()}).")
have = list(catalog.session_models())
drops = {what: catalog.dropped_by(have, new) for what, new in
         (("Training", [name]), ("a race", [f"race-{a}-{ds}" for a in ARCHS]))}
if any(drops.values()) and not active:
    said = [f"{what} will drop {_quote(gone)}" for what, gone in drops.items() if gone]
    said = "; ".join(said)
    st.warning(said[0].upper() + said[1:] + f". This session keeps at most {catalog.MAX_SESSION_MODELS} models, "
               "the oldest going first: to choose which goes, remove a model under “Models in this session” at "
               "the bottom of the page first.")
busy = "A run is going: wait for it or press Stop first."
buttons = st.container(horizontal=True, gap="small")  # one row that wraps on a phone
buttons.button("Train", type="primary", key="train.start", on_click=_start, args=("single",),
          disabled=bad_name or recipe is None or bool(refused) or active, help=busy if active else None)
buttons.button("Stop", key="train.stop", on_click=_stop, disabled=not active or run.stopping,
          help="Ends training between two batches and keeps the best weights so far.")
buttons.button("Race SimpleRNN, LSTM and GRU", key="train.race", on_click=_start, args=("race",),
          disabled=recipe is None or bool(race_refused) or active,
          help=busy if active else "Trains all three cells one after another on the same data with these settings "
                                   f"and seed (at most {TIME_CAP_S // 3} s each) and draws their curves on one chart.")
notice = ss.pop("train.notice", None)
if notice:
    st.info(textio.md_escape(notice))
st.caption(f"Training runs beside this page on one CPU thread and stops within {TIME_CAP_S} s, TEST included (a race "
           f"shares the time). The server trains {QUEUE.n} model{'s' if QUEUE.n > 1 else ''} at a time; yours may "
           "wait in line. You can visit other pages meanwhile; closing the tab stops it, and Stop keeps the best "
           "weights so far.")
with st.expander("How does a run share the server?", key="train.x.how"):
    st.caption("The time starts when your run begins, not while it waits. Settings changed during a run apply to the "
               "next one; this one keeps the settings it started with. Closing or reloading the tab stops it.")


# --- live view: redrawn on a timer while a run is going ---------------------------------------
def _progress_text(snap: dict) -> tuple[float, str]:
    ev, epochs = snap["event"], snap["epochs"]
    race = snap["n_cells"] > 1
    who = f"Race: {ARCH_TITLES[snap['arch']]} ({snap['index'] + 1} of {snap['n_cells']}) · " if race else ""
    if snap["phase"] == "waiting" and snap["queue_position"]:
        n, ahead = snap["queue_slots"], snap["queue_position"] - 1
        return 0.0, (f"{who}Waiting for the server, which trains {n} model{'s' if n > 1 else ''} at a time: another "
                     f"visitor's run is going" + (f" and {ahead} more wait{'s' if ahead == 1 else ''} ahead of yours"
                                                  if ahead else "") +
                     f" ({snap['seconds']:.0f} s so far). Your time cap starts when your run begins.")
    if snap["phase"] in ("waiting", "preparing") or ev is None:
        what = "once, for all three cells" if race else "the sentences and their vocabulary"
        return 0.0, f"{who}Reading and tokenising the data ({what})… {snap['seconds']:.0f} s"
    frac = max(0.0, min(1.0, ev.fraction / epochs))
    if race:
        frac = (snap["index"] + frac) / snap["n_cells"]
    text = (f"{who}Epoch {ev.epoch}/{epochs} · batch {ev.batch}/{ev.n_batches} · loss {ev.loss:.3f} · "
            f"accuracy {ev.acc:.1%} · {ev.elapsed:.0f} s")
    if snap["stopping"]:
        text += " · stopping after this batch, keeping the best weights…"
    elif snap["phase"] == "finishing":
        text += " · measuring the best weights on TEST…"
    elif ev.fraction > 0 and ev.kind != "end":
        limit = snap.get("train_limit") or snap["cap"]  # what reading the data left of the cap for training
        left, capped = timing.remaining_seconds(ev.elapsed, ev.fraction, epochs, limit)
        at = min(float(epochs), ev.fraction * limit / ev.elapsed) if capped and ev.elapsed > 0 else epochs
        text += (f" · at the pace so far the {snap['cap']:g} s time cap stops it in about {left:.0f} s, near epoch "
                 f"{at:.1f} of {epochs}" if capped else f" · about {left:.0f} s left at the pace so far")
        pr = snap.get("promise")
        ratio = timing.pace_ratio(ev.elapsed, ev.fraction, pr.epoch) if pr is not None else None
        if ratio is not None:
            text += f" ({ratio:.1f}x the quiet-server estimate per epoch)"
    return frac, text


@st.fragment(run_every=LIVE_EVERY_S if active else None)
def _live() -> None:
    run = ss.get(RUN_KEY)
    if not isinstance(run, TrainingRun) or run.collected:
        return
    if run.done:  # one full rerun: the result section, and the model registered in this session
        st.rerun(scope="app")
    snap = run.snapshot()
    st.progress(*_progress_text(snap))
    if snap["n_cells"] > 1:
        if any(snap["histories"].values()):
            st.markdown("**The race: same data, settings and seed for each cell**")
            st.plotly_chart(plots.race_curves(snap["histories"], averaged=snap["averaged"], kept=snap["kept"],
                                              live=True), key="race.live")
        return
    if snap["history"] or snap["batch_history"]:
        st.markdown("**Training curves**")
        st.plotly_chart(plots.training_curves(snap["history"], snap["batch_history"], averaged=snap["averaged"],
                                              kept_at=snap["best_at"], live=True), key="train.live.curves")
    if snap["probe"]:
        st.markdown("**How it reads the probe sentence, epoch by epoch**" +
                    (" (the moving-average weights, as validated)" if snap["averaged"] else ""))
        st.plotly_chart(plots.probe_curves(snap["probe"]), key="train.live.probe")


_live()

# --- result -----------------------------------------------------------------------------------
PHASE_WORDS = {"waiting": "waiting in line", "data": "reading the data", "training": "training",
               "TEST": "measuring on TEST"}


def _time_notes(res: dict) -> None:
    """Where the time went, phase by phase, and what the time cap cut (playground numbers only)."""
    t = res.get("times") or {}
    if not t:
        return
    parts = [f"{PHASE_WORDS[k]} {t[k]:.0f} s" for k in PHASE_WORDS if k in t and (k != "waiting" or t[k] >= 1)]
    cap = f" of the {t['cap']:g} s cap" if t.get("cap") else ""
    promised = (f" Expected at the start: about {t['promised']:.0f} s (the server {t['slowdown']:.1f}x slower than "
                "when quiet)." if t.get("promised") is not None else "")
    st.caption("Time: " + " · ".join(parts) + f" · {t.get('total', 0):.0f} s in all{cap} (waiting not counted)."
               + promised)
    if res.get("cut"):
        st.info("The time cap cut this run short: " + "; ".join(res["cut"]) + ".")


res = ss.get("train.result")
if res:
    if "error" in res:
        st.error(textio.md_escape(res["error"]) + " Nothing was kept.")
        if res.get("history") or res.get("batch_history"):
            st.plotly_chart(plots.training_curves(res["history"], res["batch_history"]), key="train.curves.failed")
    else:
        card, rep = res["card"], res["report"]
        status = {"done": "Training finished.", "stopped": "Training was stopped; the best weights so far are kept.",
                  "timeout": f"Training reached the {TIME_CAP_S} s time cap; the best weights so far are kept.",
                  "diverged": res["message"] + " The best weights before that are kept."}.get(res["status"], "")
        (st.warning if res["status"] in ("diverged", "timeout") else st.success)(
            f"{status} “{textio.md_escape(res['name'])}” is ready in every page's model picker.")
        if res.get("notice"):
            st.info(textio.md_escape(res["notice"]))
        _time_notes(res)
        m1, m2, m3 = st.columns(3)
        of = card.get("test_of") or rep.n
        m1.metric("TEST accuracy", f"{rep.accuracy:.1%}" + ("" if rep.n >= of else
                                                             f" ± {100 * card.get('test_margin', 0):.1f}"),
                  help="Measured on " + stats.accuracy_phrase(rep.accuracy, rep.n, of,
                                                              f"TEST {DATASET_TITLES[card['dataset']]}"))
        m1.caption((f"on all {of:,}" if rep.n >= of else f"on a random sample: {rep.n:,} of {of:,}") + " TEST "
                   f"{DATASET_TITLES[card['dataset']]}" + ("" if rep.n >= of else " (95% interval)"))
        weights = "moving-average weights" if res.get("averaged") else "weights"
        if card.get("val_accuracy") is not None:
            m2.metric("Validation accuracy of the kept weights", f"{card['val_accuracy']:.1%}",
                      help=f"The best validation score, of the {weights} at epoch {res.get('best_at') or 0:.2f}: "
                           "those weights are kept (the star on the curves).")
        else:
            m2.metric("Validation accuracy", "none held out", help=f"The final {weights} are kept.")
        m3.metric("Training time", f"{card['train_seconds']:.0f} s")
        r1, r2 = st.columns([2, 3])
        with r1:
            st.markdown("**Confusion matrix (TEST)**")
            st.plotly_chart(plots.confusion_matrix(rep.tn, rep.fp, rep.fn, rep.tp), key="train.confusion")
        with r2:
            st.markdown("**Training curves**")
            st.plotly_chart(plots.training_curves(res["history"], res["batch_history"], averaged=res.get("averaged"),
                                                  kept_at=res.get("best_at")), key="train.curves.done")
        if res.get("probe"):
            st.markdown("**How it read the probe sentence, epoch by epoch**")
            st.plotly_chart(plots.probe_curves(res["probe"]), key="train.probe.done")
            last = res["probe"][-1][0]
            if last.startswith("kept model"):
                st.caption(f"The green curve, “{textio.md_escape(last)}”, is the model now in your model picker "
                           f"(its weights rounded for storage, as in the file); the orange ones are the "
                           f"{'moving-average ' if res.get('averaged') else ''}weights after each epoch.")
        st.markdown("**Most confidently wrong TEST sentences** (open one in the Playground to see why)")
        for text, label, p in rep.confidently_wrong:
            with st.container(border=True):
                st.markdown(f"Labelled **{'positive' if label else 'negative'}**; the model reads it as "
                            f"**{p:.0%} positive**")
                shown = text if len(text) <= 600 else "…" + text[-600:]  # the end is what the model read last
                st.markdown(textio.md_escape(shown))
                st.page_link("views/playground.py", label="Open it in the Playground", icon="🔎",
                             query_params=link_query("s", text, model=res["name"]))
        tm = catalog.session_models().get(res["name"])
        if tm is not None:
            st.download_button("Download the model file", zoo.to_bytes(tm), file_name=f"{res['name']}.safetensors",
                               mime="application/octet-stream", key="train.download")
            st.caption("Models trained here live in this browser tab only: closing or reloading the tab loses "
                       "them. Download the file to keep it; upload it below to use it again.")

def _race_acc(row: dict) -> str:
    pm = row.get("± points (95%)") or 0
    return f"{row['TEST accuracy']:.1%}" + (f" ± {pm:.1f} points (a sample of {row['TEST rows']:,} rows)" if pm else "")


res = ss.get("race.result")
if res:
    st.subheader("Race result")
    if "error" in res:
        st.error(textio.md_escape(res["error"]) + " Nothing was kept.")
    rows = res.get("rows", [])
    if rows:
        best = max(rows, key=lambda r: r["TEST accuracy"])
        where = f"The {'models are' if len(rows) > 1 else 'model is'} in every page's model picker."
        if res.get("stopped") or res["not_trained"] or any(r["status"] == "stopped" for r in rows):
            st.info(f"The race was stopped. Best so far: {best['cell']} with {_race_acc(best)} on TEST. "
                    f"{where}")
        elif all(r["status"] in ("diverged", "timeout") for r in rows):
            st.warning(f"No cell finished its training (see below); the best weights kept score up to "
                       f"{_race_acc(best)} on TEST ({best['cell']}). {where}")
        else:
            (st.warning if res["notes"] or res["failures"] else st.success)(f"{res['verdict']} {where}")
    for note in res.get("notes", []):
        st.warning(note)
    for failure in res.get("failures", []):
        st.error(failure + " Nothing was kept for this cell.")
    if res.get("not_trained"):
        st.warning("Not trained: " + ", ".join(res["not_trained"]) + " (the race was stopped first).")
    if res.get("notice"):
        st.info(textio.md_escape(res["notice"]))
    _time_notes(res)
    status_words = {"done": "finished", "timeout": "cut short by the time cap", "stopped": "stopped by you",
                    "diverged": "diverged"}
    if rows:
        shown = [{**r, "status": status_words.get(r["status"], r["status"])} for r in rows]
        takeaway.table(shown, "The race: each cell's TEST accuracy", "train-race", hide_index=True, column_config={
            "TEST accuracy": st.column_config.NumberColumn(format="percent"),
            "best validation accuracy": st.column_config.NumberColumn(format="percent"),
            "kept at epoch": st.column_config.NumberColumn(format="%.2f"),
            "parameters": st.column_config.NumberColumn(format="localized")})
    if res.get("histories"):
        cut = {a for a in res["histories"] for r in rows if r["cell"] == ARCH_TITLES[a] and r["status"] == "timeout"}
        st.plotly_chart(plots.race_curves(res["histories"], cut_short=cut, averaged=res.get("averaged", False),
                                          kept=res.get("kept")), key="race.curves.done")
        st.caption("Solid lines: validation" + (" (of the moving average of each cell's weights)"
                                                if res.get("averaged") else "") +
                   "; dotted: training (running mean over the epoch so far); a star: the weights each cell "
                   "keeps. The cells "
                   "read the same sentences in the same order from the same seed, so the differences come from "
                   "the cell; the verdict above says which gaps are beyond noise.")
    raced = [r["model"] for r in rows if r["model"] in catalog.session_models()]
    if len(raced) > 1:
        st.page_link("views/compare.py", label=f"Compare the {len(raced)} models on one sentence", icon="⚖️",
                     query_params={"models": ",".join(raced)})
    for r in rows:
        st.page_link("views/playground.py", label=f"Open {r['model']} in the Playground", icon="🔬",
                     query_params={"model": r["model"]})

# --- upload -----------------------------------------------------------------------------------
st.divider()
st.subheader("Use a model file", anchor="use-a-model-file")  # the page's top caption links here
mine = list(catalog.session_models())
held_mib = sum(catalog.model_bytes(m) for m in catalog.session_models().values()) / 2**20
budget_mib = catalog.SESSION_MODEL_BYTES / 2**20
if len(mine) >= catalog.MAX_SESSION_MODELS:
    st.warning(f"This session already holds {len(mine)} models, the most it keeps: an upload will drop "
               f"{_quote(catalog.dropped_by(mine, ['an uploaded model']))}. Remove a model below first to choose "
               "which goes.")
elif mine and held_mib > budget_mib / 2:
    st.info(f"This session's models hold {held_mib:.0f} of the {budget_mib:.0f} MiB it keeps: a large file may drop "
            f"the oldest, {_quote(mine[:1])} first. Remove a model below first to choose which goes.")
def _keras_text_settings() -> dict:
    """How a Keras model reads text, as the tutorials' keras.datasets.imdb does: the reader's word index
    (imdb_word_index.json from ~/.keras/datasets; its MD5 is shown and checked), index_from, maxlen, pre-padding."""
    with st.expander("Your own Keras model: how it reads text (set before uploading it)", key="train.x.keras"):
        c1, c2, c3 = st.columns(3)
        c1.number_input("index_from", 0, 100, value=3, key="train.keras_from",
                        help="keras.datasets.imdb's default 3: id 0 pads, 1 starts, 2 is out of vocabulary.")
        c2.number_input("maxlen (0: the model's input length)", 0, 5000, value=0, key="train.keras_maxlen")
        c3.toggle("Pre-pad with zeros to maxlen", value=True, key="train.keras_pad",
                  help="The tutorials pad with pad_sequences; the model reads the zeros, so its verdict depends on "
                       "them.")
        st.segmented_control("Its statistics (state space, typical values, units) over", [*DATASET_TITLES, "none"],
                             key="train.keras_texts", default="imdb",
                             format_func=lambda d: "no texts" if d == "none" else f"this app's {DATASET_TITLES[d]}",
                             help="The texts the pages measure your model's statistics over. keras.datasets.imdb's "
                                  "training set is this app's 25,000 IMDB reviews, so your model has read them: no "
                                  "accuracy is shown for it on them.")
        wi = st.file_uploader("Word index (imdb_word_index.json)", type=["json"], key="train.keras_index",
                              max_upload_size=64)
        index = None
        if wi is not None:
            data = wi.getvalue()
            digest = keras_import.md5(data)
            try:
                index = keras_import.load_word_index(data)
            except keras_import.KerasFileError as e:
                st.error(textio.md_escape(str(e)))
            else:
                same = digest == keras_import.IMDB_WORD_INDEX_MD5
                st.caption(textio.md_escape(f"{len(index):,} words, MD5 {digest}"
                                            + (": keras.datasets.imdb's own index." if same else
                                               ": not keras.datasets.imdb's index (that one's MD5 is "
                                               f"{keras_import.IMDB_WORD_INDEX_MD5}).")))
    return {"word_index": index, "index_from": int(ss.get("train.keras_from", 3)),
            "maxlen": int(ss.get("train.keras_maxlen") or 0) or None, "pad": bool(ss.get("train.keras_pad", True)),
            "texts": ss.get("train.keras_texts") if ss.get("train.keras_texts") in DATASET_TITLES else None}



up_n = ss.get("train.upload_n", 0)
keras_text = _keras_text_settings()
up = st.file_uploader("Upload a model file: a .safetensors file saved from this app, or your own Keras model "
                      "(.keras or .h5)", type=["safetensors", "keras", "h5"],
                      key=f"train.upload.{up_n}", max_upload_size=64,
                      help=f"At most {zoo.MAX_FILE_BYTES // 2**20} MiB and {zoo.MAX_PARAMS / 1e6:.1f} M parameters; "
                           f"this session keeps {catalog.MAX_SESSION_MODELS} models and {budget_mib:.0f} MiB of them. "
                           "A Keras model: Embedding, one or two SimpleRNN, LSTM or GRU layers, Dense(1, sigmoid); "
                           "nothing in it is run as code.")
if up is not None:  # parsed once; then the uploader is emptied so the file cannot come back on a rerun
    before = set(catalog.session_models())
    ss["train.upload_said"] = catalog.receive_upload(up.file_id, up.getvalue, up.name, keras_text)
    ss["train.upload_new"] = next((n for n in catalog.session_models() if n not in before), None)
    catalog.forget_upload(up.file_id)
    ss["train.upload_n"] = up_n + 1
    st.rerun()
for kind, text in ss.pop("train.upload_said", []):  # said once, escaped by receive_upload
    getattr(st, kind)(text)
new = ss.pop("train.upload_new", None)
if new in catalog.session_models():  # where to look at it next
    tm_new = catalog.session_models()[new]
    st.page_link("views/playground.py", label=f"Open {new} in the Playground", icon="🔬",
                 query_params={"model": new})
    partner = f"lstm-{tm_new.dataset if tm_new.dataset in DATASET_TITLES else 'rt'}"  # its dataset's bundled LSTM
    st.page_link("views/compare.py", label=f"Compare {new} with {partner} on one sentence", icon="⚖️",
                 query_params={"models": f"{new},{partner}"})


def _remove(name: str) -> None:
    catalog.remove_session_model(name)


st.markdown(f"**Models in this session** (at most {catalog.MAX_SESSION_MODELS} and {budget_mib:.0f} MiB of weights; "
            "a new one beyond that drops the oldest; all of them are gone when the tab is closed or reloaded)")
mine = list(catalog.session_models())
if not mine:
    st.caption("None yet: train one above or upload a file.")
for i, n in enumerate(mine):
    size = catalog.model_bytes(catalog.session_models()[n]) / 2**20
    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    row.markdown(f"{i + 1}\\. {textio.md_escape(n)} · {size:.1f} MiB" + (" · the oldest, dropped first" if i == 0 and
                                                         len(mine) >= catalog.MAX_SESSION_MODELS else ""))
    row.button("Remove", key=f"train.remove.{n}", on_click=_remove, args=(n,), disabled=active,
               help="Forget this model now (download it first to keep it).")
