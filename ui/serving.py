"""The serving process's setup (threads, heap arenas, the GIL's switch interval) and the pause that lets a
page's first result paint before its charts."""
from __future__ import annotations

import sys
import time

import streamlit as st
import torch

from ui import heap

SERVE_THREADS = 1  # see `python -m playground bench`: 2-core machine, several visitors at once


release_memory = heap.release_memory


# How long a thread may hold the GIL while another waits for it (Python's default is 5 ms). Every
# visitor's script is a thread of one process, and a script that reads a sentence hands the GIL back
# at each torch call; with the default it then waited up to 5 ms, each time, behind another visitor's
# pure-Python figure building (a convoy). Measured with the concurrency test's 8 visitors on this
# 2-core machine (2026-12-03): from a rerun's start to its verdict on the server, median 98 ms -> 26
# ms; the verdict in the browser 1.17 s -> 0.51 s (one run each); see the README.
SWITCH_INTERVAL_S = 0.001


@st.cache_resource
def _process_setup() -> bool:
    heap.limit_arenas(2)
    heap.fixed_mmap_threshold()
    return True


def setup() -> None:
    """Once per process: heap arenas, torch thread count for serving, denormal flushing, the GIL's
    switch interval (SWITCH_INTERVAL_S)."""
    _process_setup()
    if sys.getswitchinterval() != SWITCH_INTERVAL_S:
        sys.setswitchinterval(SWITCH_INTERVAL_S)
    if torch.get_num_threads() != SERVE_THREADS:
        torch.set_num_threads(SERVE_THREADS)
    torch.set_flush_denormal(True)


PAINT_PAUSE_S = 0.05


def paint_now(seconds: float = PAINT_PAUSE_S) -> None:
    """Let what the page has shown so far (the verdict) reach the browser and paint before the charts
    that follow. Streamlit sends its messages every 10 ms and the browser draws the elements that
    arrive together in one pass, in which Plotly's drawing of the next chart comes before anything is
    painted; with the figures built in a millisecond (issue 12) the verdict waited for the gauge.
    A pause of the script thread (no CPU) puts them in separate passes. Measured with the concurrency
    test's visitors: one visitor alone, verdict median 0.23 -> 0.13 s; the full redraw unchanged."""
    if seconds > 0:
        time.sleep(seconds)
