"""Train: set up a small SimpleRNN/LSTM/GRU, train it live in this browser session, watch a probe
sentence's reading change every epoch, and use the result on every page."""
import time
from dataclasses import replace

import streamlit as st

from playground import data, plots, zoo
from playground.data import DATASET_TITLES
from playground.models import ARCH_TITLES, ARCHS, ModelConfig, layer_summary
from playground.recipes import Job, Race, Recipe, heldout_report
from playground.trace import trace
from playground.train import OPTIMIZERS, TrainConfig
from ui import common

TIME_CAP_S = 120  # a shared hosted demo: no run may hold a worker longer than this
TRAIN_THREADS = 1  # below the core count, so one visitor's training never freezes the others
LRS = [1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 1e-2, 3e-2, 0.1, 1.0, 10.0]
# Defaults measured on the 2-core machine with one thread: about 0.75-0.76 TEST in about 22 s
DEFAULTS = {"train.dataset": "rt", "train.imdb_rows": 2000, "train.rt_rows": 6824, "train.mix_rows": 6000,
            "train.arch": "gru", "train.embed": 64, "train.hidden": 64, "train.layers": 1, "train.dropout": 0.5,
            "train.optimizer": "adam", "train.lr": 2e-3, "train.batch": 64, "train.epochs": 4, "train.vocab": 20000,
            "train.max_len": 60, "train.seed": 0, "train.ema": True,
            "train.probe": "I expected to hate it but I loved it"}

st.title("🏋️ Train a model")
st.caption("Set up a small recurrent network, press Train, and watch it learn. The result is kept in "
           "this browser session only and appears in the model picker of every page.")

for k, v in DEFAULTS.items():
    common.keep(k, v)

# --- setup ------------------------------------------------------------------------------------
s1, s2, s3 = st.columns(3)
with s1:
    st.markdown("**Data**")
    ds = st.segmented_control("Dataset", ["rt", "imdb"], key="train.dataset",
                              format_func={"rt": "Rotten Tomatoes", "imdb": "IMDB"}.get) or "rt"
    if ds == "imdb":
        st.slider("IMDB reviews to train on", 500, 20000, step=500, key="train.imdb_rows",
                  help="A seeded random sample of IMDB TRAIN; 10% of it is held out for validation.")
    else:
        st.slider("Sentences to train on", 200, 6824, step=1, key="train.rt_rows",
                  help="All 6,824 Rotten Tomatoes TRAIN sentences, or a seeded random sample; "
                       "10% is held out for validation.")
        st.slider("Also learn from IMDB reviews (their last 100 words)", 0, 20000, step=1000, key="train.mix_rows",
                  help="6,824 short sentences teach few words; a few thousand IMDB reviews add many. "
                       "0 = Rotten Tomatoes only.")
    st.select_slider("Vocabulary size", [1000, 2000, 5000, 10000, 20000, 30000], key="train.vocab")
    st.slider("Maximum tokens per text (the end is kept)", 10, 400, step=10, key="train.max_len")
with s2:
    st.markdown("**Network**")
    arch = st.segmented_control("Cell", list(ARCHS), key="train.arch", format_func=ARCH_TITLES.get) or "gru"
    st.select_slider("Embedding size", [8, 16, 32, 64, 100, 128, 256], key="train.embed")
    st.select_slider("Hidden units", [4, 8, 16, 32, 64, 100, 128, 256], key="train.hidden")
    st.segmented_control("Layers", [1, 2], key="train.layers")
    st.slider("Dropout", 0.0, 0.8, step=0.05, key="train.dropout")
with s3:
    st.markdown("**Training**")
    st.selectbox("Optimizer", list(OPTIMIZERS), key="train.optimizer",
                 format_func={"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD with momentum 0.9"}.get)
    st.select_slider("Learning rate", LRS, key="train.lr", format_func=lambda v: f"{v:g}")
    st.select_slider("Batch size", [8, 16, 32, 64, 128, 256], key="train.batch")
    st.slider("Epochs", 1, 20, key="train.epochs")
    st.number_input("Seed", 0, 1_000_000, step=1, key="train.seed")
    st.checkbox("Keep a moving average of the weights", key="train.ema",
                help="Validates and keeps an exponential moving average (0.99) of the weights: "
                     "smoother curves and usually a point or two more accuracy on small data.")

ss = st.session_state
try:
    mcfg = ModelConfig(arch=arch, vocab_size=int(ss["train.vocab"]), embed_dim=int(ss["train.embed"]),
                       hidden_size=int(ss["train.hidden"]), num_layers=int(ss["train.layers"] or 1),
                       dropout=float(ss["train.dropout"]), max_len=int(ss["train.max_len"]))
    tcfg = TrainConfig(epochs=int(ss["train.epochs"]), batch_size=int(ss["train.batch"]), lr=float(ss["train.lr"]),
                       optimizer=ss["train.optimizer"], seed=int(ss["train.seed"]), threads=TRAIN_THREADS,
                       max_seconds=TIME_CAP_S, evals_per_epoch=4, ema=0.99 if ss["train.ema"] else 0.0)
except ValueError as e:  # the widgets are bounded, but the library checks again
    st.error(f"These settings cannot be used: {e}")
    st.stop()

with st.expander("Model summary (Keras style)", expanded=False):
    rows = layer_summary(mcfg)
    st.dataframe(rows, hide_index=True, column_config={"params": st.column_config.NumberColumn("parameters",
                                                                                                  format="localized")})
    st.caption(f"Total: {sum(r['params'] for r in rows):,} parameters (at most; the vocabulary built from the "
               "data may be smaller than the size chosen).")

default_name = f"my-{arch}-{ds}"
n1, n2 = st.columns([2, 3])
with n1:
    name = st.text_input("Name for the model", value=default_name, max_chars=40, key="train.name").strip()
with n2:
    st.text_input("Probe sentence (its reading is redrawn after every epoch)", key="train.probe",
                  max_chars=common.MAX_INPUT_CHARS)
common.remember("train.probe")
for k in DEFAULTS:
    common.remember(k)

bad_name = not name or name in zoo.BUNDLED
if bad_name:
    st.warning("Give the model a name that is not one of the bundled models' names.")
b1, b2, b3, _ = st.columns([1, 1, 3, 4], gap="small")
start = b1.button("Train", type="primary", disabled=bad_name, key="train.start")
b2.button("Stop", key="train.stop", help="Ends training between two batches and keeps the best weights so far.")
race_start = b3.button("Race SimpleRNN, LSTM and GRU", key="train.race",
                       help="Trains all three cells one after another on the same data with these settings "
                            f"and seed (at most {TIME_CAP_S // 3} s each) and draws their curves on one chart.")

st.caption("Training runs in this session with one CPU thread and stops after "
           f"{TIME_CAP_S} s at the latest. Changing any setting while it trains stops it too; "
           "the best weights so far are kept.")
progress_box = st.empty()
curves_box = st.empty()
probe_box = st.empty()


_DRAWS = [0]


def _draw(job, ev, probe_snaps) -> None:
    _DRAWS[0] += 1
    n = _DRAWS[0]
    frac = max(0.0, min(1.0, ev.fraction / tcfg.epochs))
    left = ev.elapsed / frac - ev.elapsed if frac > 0 else None
    eta = f" · about {left:.0f} s left" if left is not None and ev.kind != "end" else ""
    progress_box.progress(frac, text=f"Epoch {ev.epoch}/{tcfg.epochs} · batch {ev.batch}/{ev.n_batches} · "
                                     f"loss {ev.loss:.3f} · accuracy {ev.acc:.1%} · {ev.elapsed:.0f} s{eta}")
    with curves_box.container():
        st.markdown("**Training curves**")
        st.plotly_chart(plots.training_curves(job.trainer.history, job.trainer.batch_history),
                        key=f"train.live.curves.{n}")
    if probe_snaps:
        with probe_box.container():
            st.markdown("**How it reads the probe sentence, epoch by epoch**")
            st.plotly_chart(plots.probe_curves(probe_snaps), key=f"train.live.probe.{n}")


def _draw_race(i: int, n: int, arch: str, ev, histories: dict) -> None:
    _DRAWS[0] += 1
    frac = max(0.0, min(1.0, (i + ev.fraction / tcfg.epochs) / n))
    progress_box.progress(frac, text=f"Race: {ARCH_TITLES[arch]} ({i + 1} of {n}) · epoch {ev.epoch}/{tcfg.epochs} · "
                                     f"batch {ev.batch}/{ev.n_batches} · loss {ev.loss:.3f} · "
                                     f"accuracy {ev.acc:.1%} · {ev.elapsed:.0f} s")
    with curves_box.container():
        st.markdown("**The race: same data, settings and seed for each cell**")
        st.plotly_chart(plots.race_curves(histories), key=f"race.live.{_DRAWS[0]}")


def _race_row(tm) -> dict:
    c = tm.card
    return {"cell": ARCH_TITLES[tm.arch], "model": tm.name, "TEST accuracy": c["test_accuracy"],
            "best validation accuracy": c["val_accuracy"], "best epoch": c["best_epoch"],
            "training time (s)": c["train_seconds"], "parameters": tm.n_params, "status": c["status"]}


def _finish(job, probe_snaps, pending: dict) -> None:
    """Finish the model (best weights) and what the result section shows, into `pending`, a plain
    dict. No Streamlit call here: this also runs while Streamlit is stopping the script because
    Stop (or another widget) was pressed, and then any st.* call, st.session_state included,
    raises again. The next run registers the model (`_collect`)."""
    job.close()  # a stopped run: the trainer keeps the best weights so far
    if job.trainer.status == "diverged" and job.trainer.best_state is None:
        pending["result"] = {"error": job.trainer.message, "history": list(job.trainer.history),
                             "batch_history": list(job.trainer.batch_history)}
        return
    tm = job.finish()
    report = heldout_report(tm.model, tm.vocab, tm.dataset, tm.config.max_len,
                            limit=2000 if tm.dataset == "imdb" else None)
    pending["models"] = [tm]
    pending["result"] = {"name": tm.name, "card": tm.card, "report": report,
                         "history": list(job.trainer.history), "batch_history": list(job.trainer.batch_history),
                         "probe": probe_snaps, "message": job.trainer.message, "status": job.trainer.status}


def _collect(key: str = "train") -> None:
    """Register what a finished or stopped training run (or race) left in its pending dict. A
    click while training stops that run and starts this one at once (fast reruns), so the stopped
    run may still be evaluating its best weights: wait for it."""
    pending = ss.get(f"{key}.pending")
    if pending and pending.get("busy"):
        with st.spinner("Stopping: keeping the best weights so far and measuring them on TEST…"):
            deadline = time.perf_counter() + 30
            while pending.get("busy") and time.perf_counter() < deadline:
                time.sleep(0.1)
    if pending and "result" in pending:
        result = pending.pop("result")
        notices = [common.add_session_model(tm) for tm in pending.pop("models", [])]
        result["notice"] = " ".join(n for n in notices if n) or None
        ss[f"{key}.result"] = result


def _recipe(train_cfg: TrainConfig) -> Recipe:
    rows = int(ss["train.imdb_rows"]) if ds == "imdb" else int(ss["train.rt_rows"])
    mix_rows = int(ss["train.mix_rows"]) if ds == "rt" else 0
    return Recipe(dataset=ds, model=mcfg, train=train_cfg, eval_other=False,
                  train_limit=rows if rows < (20000 if ds == "imdb" else 6824) else None,
                  mix="imdb" if mix_rows else None, mix_limit=mix_rows or None, mix_max_len=100)


_collect()  # a run stopped by a click left its model here
_collect("race")
if start:
    ss["train.result"] = ss["race.result"] = None
    pending = ss.setdefault("train.pending", {})
    job = Job(_recipe(tcfg), name=name, command="Train page (in the browser session)")
    probe = common.clean_input(ss.get("train.probe", ""))[:500]
    probe_snaps: list = []
    with st.spinner("Reading and tokenising the data…"):
        job.prepare()
    pending["busy"] = True  # until the finally below has kept the model
    try:
        last = 0.0
        for ev in job.events():
            if ev.kind == "epoch" and probe.strip():
                probe_snaps.append((f"epoch {ev.epoch}", trace(job.model, job.vocab, probe)))
            if ev.kind != "batch" or time.perf_counter() - last > 0.4:
                last = time.perf_counter()
                _draw(job, ev, probe_snaps)
        for box in (progress_box, curves_box, probe_box):  # the result section shows them now
            box.empty()
    finally:
        try:
            _finish(job, probe_snaps, pending)
        finally:
            pending["busy"] = False
        del job  # the training data and weight copies go; hand the freed pages back to the OS
        data.clear_cache()
        common.release_memory()

if race_start:
    ss["train.result"] = ss["race.result"] = None
    pending = ss.setdefault("race.pending", {})
    names = {a: f"race-{a}-{ds}" for a in ARCHS}
    race = Race(_recipe(replace(tcfg, max_seconds=TIME_CAP_S / len(names))), names,
                command="Train page race (in the browser session)")
    with st.spinner("Reading and tokenising the data (once, for all three cells)…"):
        race.prepare()
    pending["busy"] = True  # until the finally below has kept the models
    histories: dict = {}
    finished: list = []
    failures: list = []
    notes: list = []
    job = None
    try:
        for i, job in enumerate(race.jobs()):
            arch = job.config.arch
            histories[arch] = job.trainer.history  # the live list: the chart follows it
            last = 0.0
            for ev in job.events():
                if ev.kind != "batch" or time.perf_counter() - last > 0.4:
                    last = time.perf_counter()
                    _draw_race(i, len(names), arch, ev, histories)
            if job.trainer.best_state is not None:  # else it diverged before anything was worth keeping
                finished.append(job.finish())
                if job.trainer.status in ("diverged", "timeout"):
                    notes.append(f"{ARCH_TITLES[arch]}: {job.trainer.message} Its best weights before that are kept.")
            else:
                failures.append((arch, job.trainer.message))
            job = None
        for box in (progress_box, curves_box):
            box.empty()
    finally:
        try:  # no Streamlit calls in here (see _finish)
            if job is not None:  # stopped mid-cell: the trainer keeps its best weights so far
                job.close()
                if job.trainer.best_state is not None:
                    finished.append(job.finish())
            pending["models"] = finished
            pending["result"] = {"histories": {a: list(h) for a, h in histories.items()},
                                 "rows": [_race_row(tm) for tm in finished],
                                 "failures": [f"{ARCH_TITLES[a]}: {m}" for a, m in failures], "notes": notes,
                                 "not_trained": [ARCH_TITLES[a] for a in names if a not in
                                                 {tm.arch for tm in finished} | {a for a, _ in failures}]}
        finally:
            pending["busy"] = False
        del race, job
        data.clear_cache()
        common.release_memory()

# --- result -----------------------------------------------------------------------------------
_collect()
_collect("race")
res = ss.get("train.result")
if res:
    if "error" in res:
        st.error(res["error"] + " Nothing was kept.")
        st.plotly_chart(plots.training_curves(res["history"], res["batch_history"]), key="train.curves.failed")
    else:
        card, rep = res["card"], res["report"]
        status = {"done": "Training finished.", "stopped": "Training was stopped; the best weights so far are kept.",
                  "timeout": f"Training reached the {TIME_CAP_S} s time cap; the best weights so far are kept.",
                  "diverged": res["message"] + " The best weights before that are kept."}.get(res["status"], "")
        (st.warning if res["status"] in ("diverged", "timeout") else st.success)(
            f"{status} “{common.md_escape(res['name'])}” is ready in every page's model picker.")
        if res.get("notice"):
            st.info(res["notice"])
        m1, m2, m3 = st.columns(3)
        m1.metric(f"TEST accuracy ({rep.n:,} {DATASET_TITLES[card['dataset']]})", f"{rep.accuracy:.1%}")
        m2.metric("Best validation accuracy", f"{card['val_accuracy']:.1%}", help=f"at epoch {card['best_epoch']}")
        m3.metric("Training time", f"{card['train_seconds']:.0f} s")
        r1, r2 = st.columns([2, 3])
        with r1:
            st.markdown("**Confusion matrix (TEST)**")
            st.plotly_chart(plots.confusion_matrix(rep.tn, rep.fp, rep.fn, rep.tp), key="train.confusion")
        with r2:
            st.markdown("**Training curves**")
            st.plotly_chart(plots.training_curves(res["history"], res["batch_history"]), key="train.curves.done")
        if res.get("probe"):
            st.markdown("**How it read the probe sentence, epoch by epoch**")
            st.plotly_chart(plots.probe_curves(res["probe"]), key="train.probe.done")
        st.markdown("**Most confidently wrong TEST sentences** (open one in the Playground to see why)")
        for k, (text, label, p) in enumerate(rep.confidently_wrong):
            short = text if len(text) <= 160 else text[:157] + "…"
            st.page_link("views/playground.py", label=f"{'positive' if label else 'negative'} text read as "
                         f"{p:.0%} positive: {short}", icon="🔎", query_params={"s": text[:2000], "model": res["name"]})
        tm = common.session_models().get(res["name"])
        if tm is not None:
            st.download_button("Download the model file", zoo.to_bytes(tm), file_name=f"{res['name']}.safetensors",
                               mime="application/octet-stream", key="train.download")

res = ss.get("race.result")
if res:
    st.subheader("Race result")
    rows = res["rows"]
    if rows:
        best = max(rows, key=lambda r: r["TEST accuracy"])
        where = f"The {'models are' if len(rows) > 1 else 'model is'} in every page's model picker."
        if res["not_trained"] or any(r["status"] == "stopped" for r in rows):
            st.info(f"The race was stopped. Best so far: {best['cell']} with {best['TEST accuracy']:.1%} on TEST. {where}")
        elif all(r["status"] in ("diverged", "timeout") for r in rows):
            st.warning(f"No cell finished its training (see below); the best weights kept score up to "
                       f"{best['TEST accuracy']:.1%} on TEST ({best['cell']}). {where}")
        else:
            (st.warning if res["notes"] or res["failures"] else st.success)(
                f"{best['cell']} won this race with {best['TEST accuracy']:.1%} on TEST. {where}")
    for note in res["notes"]:
        st.warning(note)
    for failure in res["failures"]:
        st.error(failure + " Nothing was kept for this cell.")
    if res["not_trained"]:
        st.warning("Not trained: " + ", ".join(res["not_trained"]) + " (the race was stopped first).")
    if res.get("notice"):
        st.info(res["notice"])
    if rows:
        st.dataframe(rows, hide_index=True, column_config={
            "TEST accuracy": st.column_config.NumberColumn(format="percent"),
            "best validation accuracy": st.column_config.NumberColumn(format="percent"),
            "parameters": st.column_config.NumberColumn(format="localized")})
    if res["histories"]:
        st.plotly_chart(plots.race_curves(res["histories"]), key="race.curves.done")
    st.caption("Solid lines: validation; dotted: training (running mean over the epoch so far). The cells "
               "read the same sentences in the same order from the same seed, so the differences come from "
               "the cell. On long IMDB reviews the SimpleRNN usually falls behind: its gradient through many "
               "steps vanishes, which the LSTM's and GRU's gates were designed to avoid.")
    for r in rows:
        st.page_link("views/playground.py", label=f"Open {r['model']} in the Playground", icon="🔬",
                     query_params={"model": r["model"]})

# --- upload -----------------------------------------------------------------------------------
st.divider()
st.subheader("Use a model file")
up = st.file_uploader("Upload a .safetensors model file saved from this app", type=["safetensors"],
                      key="train.upload", max_upload_size=64)
if up is not None:
    try:
        tm = zoo.from_bytes(up.getvalue(), source="file")
    except zoo.ModelFileError as e:
        st.error(f"This file was refused: {e}")
    else:
        base = tm.name if tm.name not in zoo.BUNDLED else tm.name + " (uploaded)"
        tm.name = base
        if base not in common.session_models():
            notice = common.add_session_model(tm)
            if notice:
                st.info(notice)
        st.success(f"“{common.md_escape(tm.name)}” ({tm.config.title}) is ready in every page's model picker.")
mine = list(common.session_models())
st.caption("Models in this session: " + (", ".join(common.md_escape(n) for n in mine) if mine else "none yet") +
           f" (at most {common.MAX_SESSION_MODELS}; the oldest is dropped first).")
