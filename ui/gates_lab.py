"""The Why gates page's Streamlit pieces: the gradient through time of the dataset's three bundled
cells (cached per model and text), the distance probe, and the long-range lab (shipped results, and
a live run beside the page). The numbers come from playground.memory, playground.probe and
playground.lab."""
from __future__ import annotations

import streamlit as st

from playground import memory, plots, zoo
from playground.cells import CELLS, cell
from ui import common


@st.cache_data(max_entries=64, show_spinner=False)
def _bundled_gradients(name: str, text: str) -> tuple[tuple[str, ...], list[float]]:
    tm = common.bundled(name)
    enc = tm.vocab.encode(text, tm.config.max_len)
    return enc.tokens, memory.token_gradients(tm.model, enc.ids).tolist()


def gradient_series(tm: zoo.TrainedModel, dataset: str, text: str) -> tuple[dict, list[dict]]:
    """For the dataset's bundled SimpleRNN, LSTM and GRU (and `tm` when it is none of them):
    name -> (|d logit / d e_t| per word, tokens, colour, half-distance), and a table row per model."""
    import numpy as np

    names = [f"{arch}-{dataset}" for arch in CELLS if f"{arch}-{dataset}" in zoo.BUNDLED]
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
            grads, arch = np.asarray(g), common.bundled(name).arch
        color = cell(arch).color if name != tm.name or tm.source == "bundled" else plots.EXTRA_COLORS[k % 4]
        half = memory.half_distance(grads)
        series[f"{name} ({cell(arch).title})"] = (grads, tokens, color, half)
        rows.append({"model": name, "cell": cell(arch).title, "words read": len(tokens),
                     "|grad| last word": float(grads[-1]) if len(grads) else None,
                     "first / last": float(grads[0] / grads[-1]) if len(grads) and grads[-1] > 0 else None,
                     "half-distance": half if half is not None else "none in this text"})
    return series, rows


def probe_section(tm: zoo.TrainedModel) -> None:
    st.subheader("3 · The distance probe: does a trained model still hear a phrase many words later?")
    st.info("The distance probe is being built.")


def lab_section() -> None:
    st.subheader("4 · The long-range lab: can each cell learn to connect over distance?")
    st.info("The long-range lab is being built.")
