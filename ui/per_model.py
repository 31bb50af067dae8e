"""Results computed once per model and kept: the state space with its fixed points, the ablation, the
unit statistics and the typical values.

- A bundled model's come shipped (`python -m playground precompute`, playground/results/models) and are
  shared by every visitor: nobody waits for them.
- Any other model's (trained or uploaded in this session) are computed on a worker thread in the
  server's training slots (ui.model_work.ModelWork: in line with the trainings, a time budget, Stop), with
  a progress box that follows it from a fragment and redraws the page when it is done. They are kept in
  the session only, by name and identity (a retrained model of the same name gets its own), and
  forgotten when the model is dropped. A result the budget or Stop cut short is shown with what it left
  out and a button to compute it again.

    space, why_not = per_model.get("space", tm, "Fitting the plane and finding fixed points")

Returns (value, None); (None, a sentence why not) when the model has no dataset or the work failed with a
ValueError; (None, None) while it is being computed (the progress box is drawn in its place).
"""
from __future__ import annotations

import threading

import streamlit as st

from playground.core import zoo
from playground.core.data import DATASET_TITLES, no_dataset
from playground.dynamics import precomputed
from playground.dynamics.typical import DEFAULT_TEXTS, Typical

from . import catalog, model_work, textio
from .model_work import ModelWork, cut_of

_SHARED: dict = {}  # (kind, bundled model name) -> value
_LOCK = threading.Lock()
RUNS = "per_model.runs"  # session_state: kind -> the session's ModelWork for it
NO_DATASET = no_dataset("compute it on")


def _store(kind: str) -> dict:
    """This session's results of `kind`: model name -> (model, value or None, error or None)."""
    store = st.session_state.setdefault(f"per_model.{kind}", {})
    keep = set(catalog.session_models()) | set(zoo.BUNDLED)
    for name in [n for n in store if n not in keep]:  # forget dropped models
        store.pop(name, None)
    return store


def _shared(kind: str, tm: zoo.TrainedModel):
    if not (tm.source == "bundled" and tm.name in zoo.BUNDLED):
        return None
    if (kind, tm.name) in _SHARED:
        return _SHARED[kind, tm.name]
    value = precomputed.load(kind, tm)  # built by `python -m playground precompute` and shipped
    if value is not None:
        with _LOCK:
            _SHARED[kind, tm.name] = value
    return value


def get(kind: str, tm: zoo.TrainedModel, message: str, needs_dataset: bool = True):
    if needs_dataset and tm.dataset not in DATASET_TITLES:
        return None, NO_DATASET
    value = _shared(kind, tm)
    if value is not None:
        return value, None
    store = _store(kind)
    kept = store.get(tm.name)
    if kept is not None and kept[0] is tm.model:
        _said(kind, tm, kept[1], kept[2])
        return kept[1], kept[2]
    runs = st.session_state.setdefault(RUNS, {})
    run = runs.get(kind)
    if isinstance(run, ModelWork) and not run.for_model(tm):
        run.stop()  # another model's: its slot goes to this one
        run = None
    if not isinstance(run, ModelWork):
        run = runs[kind] = ModelWork(kind, tm, budget=model_work.BUDGET_S, alive=catalog.session_alive()).start()
    if not run.done:
        _progress(kind, message)
        return None, None
    runs.pop(kind, None)
    value, error = run.value, run.error
    if value is not None and not cut_of(value) and tm.source == "bundled" and tm.name in zoo.BUNDLED:
        with _LOCK:
            _SHARED[kind, tm.name] = value
    else:
        store[tm.name] = (tm.model, value, error)
    _said(kind, tm, value, error)
    return value, error


def known(kind: str, tm: zoo.TrainedModel) -> bool:
    """Whether `kind` ships with this model, was computed for it, or is being computed (so the page
    shows it, or its progress, without a new click)."""
    if _shared(kind, tm) is not None:
        return True
    kept = st.session_state.get(f"per_model.{kind}", {}).get(tm.name)
    run = st.session_state.get(RUNS, {}).get(kind)
    return (kept is not None and kept[0] is tm.model) or (isinstance(run, ModelWork) and run.for_model(tm))


def _again(kind: str, name: str) -> None:
    st.session_state.get(f"per_model.{kind}", {}).pop(name, None)


def _said(kind: str, tm: zoo.TrainedModel, value, error: str | None) -> None:
    """Under a partial or stopped result: what was left out, and a button that computes it again."""
    cut = cut_of(value) if value is not None else ""
    if not cut and not (error or "").startswith("Stopped"):
        return
    if cut:
        st.warning(textio.md_escape(f"Part of the result only: {cut}. What is shown is computed from what was "
                                    "done."), icon="⏱️")
    st.button("Compute it again", key=f"per_model.again.{kind}", on_click=_again, args=(kind, tm.name),
              help="Start again with a fresh time budget (it waits for the server like a training does).")


@st.fragment(run_every=1.0)
def _progress(kind: str, message: str) -> None:
    """The work's progress, redrawn every second; the whole page reruns once it is done."""
    run = st.session_state.get(RUNS, {}).get(kind)
    if not isinstance(run, ModelWork):
        return
    if run.done:
        st.rerun()
    snap = run.snapshot()
    budget = f"at most {snap['budget']:.0f} s" if snap["budget"] else "no time limit"
    if snap["phase"] == "waiting":
        st.info(f"{message} (once for this model, {budget} once it starts): waiting for the server, place "
                f"{snap['queue_position']} in line. The server computes one thing at a time for every visitor "
                "(trainings, labs and this).")
    else:
        note = f": {snap['note']}" if snap["note"] else ""
        st.progress(snap["fraction"], text=f"{message}{note} · {snap['since_slot']:.0f} s of {budget} (once for "
                                           "this model)"[:300])
    st.button("Stop and keep what it has", key=f"per_model.stop.{kind}", on_click=run.stop,
              disabled=snap["stopping"])


# --- each unit's typical values (the "change from typical" pictures) ----------------------------------
def typical(tm: zoo.TrainedModel) -> tuple[Typical | None, str | None]:
    """(typical values, None); (None, why there are none); or (None, None) while they are being
    worked out (a progress box is drawn in their place). A bundled model's are shipped; another model's
    are computed once in the server's worker slots and kept in this session (ui.per_model). A model
    whose dataset is unknown (an uploaded file without one in its card) has no TEST sample to be
    typical of."""
    if tm.dataset not in DATASET_TITLES:
        return None, no_dataset("measure its units' typical values on")
    return get("typical", tm, f"Working out every unit's typical values over {DEFAULT_TEXTS} TEST texts")
