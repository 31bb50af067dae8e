"""Results computed once per model and kept: for a bundled model in the process (every visitor shares
it), for a session model in its session only (by name and identity, so a retrained model of the same
name gets its own, and forgotten when the model is dropped). A progress bar shows the first use.

    space = per_model.get("space", tm, lambda tm, progress: statespace.fit(..., on_progress=progress),
                          "Fitting the state space")

Returns (value, None) or (None, a sentence why not) when the model has no dataset or the work fails
with a ValueError; anything else is a bug and is raised.
"""
from __future__ import annotations

import threading
from typing import Callable

import streamlit as st

from playground import precomputed, zoo
from playground.data import DATASET_TITLES

from . import common

_SHARED: dict = {}  # (kind, bundled model name) -> value
_LOCK = threading.Lock()
NO_DATASET = ("this model's card names no dataset this app has, so there is no sample of TEST texts to compute "
              "it on")


def get(kind: str, tm: zoo.TrainedModel, work: Callable, message: str, needs_dataset: bool = True):
    if needs_dataset and tm.dataset not in DATASET_TITLES:
        return None, NO_DATASET
    shared = tm.source == "bundled" and tm.name in zoo.BUNDLED
    if shared and (kind, tm.name) in _SHARED:
        return _SHARED[kind, tm.name], None
    if shared:  # built by `python -m playground precompute` and shipped: no visitor computes it
        value = precomputed.load(kind, tm)
        if value is not None:
            with _LOCK:
                _SHARED[kind, tm.name] = value
            return value, None
    store = st.session_state.setdefault(f"per_model.{kind}", {})  # name -> (model, value)
    for name in [n for n in store if n not in common.session_models()]:
        store.pop(name, None)
    kept = None if shared else store.get(tm.name)
    if kept is not None and kept[0] is tm.model:
        return kept[1], None
    bar = st.progress(0.0, text=f"{message} (once per model)…")

    def progress(fraction: float, note: str = "") -> None:
        bar.progress(min(1.0, max(0.0, float(fraction))), text=f"{message} (once per model): {note}"[:200])

    try:
        value = work(tm, progress)
    except ValueError as e:
        bar.empty()
        return None, str(e)
    bar.empty()
    if shared:
        with _LOCK:
            _SHARED[kind, tm.name] = value
    else:
        store[tm.name] = (tm.model, value)
    return value, None


def known(kind: str, tm: zoo.TrainedModel) -> bool:
    """Whether `kind` was computed for this model already, or ships with it (so the page shows it
    without a new click)."""
    if tm.source == "bundled" and tm.name in zoo.BUNDLED:
        return (kind, tm.name) in _SHARED or precomputed.load(kind, tm) is not None
    kept = st.session_state.get(f"per_model.{kind}", {}).get(tm.name)
    return kept is not None and kept[0] is tm.model
