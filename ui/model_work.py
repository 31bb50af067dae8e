"""A model's heavy first-use result (state space with fixed points, ablation, unit statistics, typical
values) computed on a worker thread in the server's training slots, for a model the app does not ship
results for (trained or uploaded in a session). No Streamlit here: the page reads `snapshot()` from a
fragment on a timer (ui.per_model) and takes `value` once `done`.

It waits in line with the trainings and lab runs (ui.training.QUEUE: a 2-core server computes one at a
time, so the pages of every visitor stay quick), then works within a time budget of BUDGET_S seconds from
getting its slot (playground.clock.Budget): the work stops early and keeps what it finished, saying so in
the result's `cut`. Stop (the page's button) does the same at once; a session gone for GRACE_S seconds
stops it too, and nobody is left to see the result.

    run = ModelWork("space", tm, alive=alive).start()
    run.snapshot()          # phase, fraction, note, place in line, seconds since the slot
    run.done, run.value     # the result (its `cut` says if it is partial), or run.error, a sentence
"""
from __future__ import annotations

import logging
import math
import os
import threading
import time
from typing import Callable

from playground.core.clock import Budget
from playground.dynamics import precomputed

from .training import GRACE_S, QUEUE, Queue, SessionWorker

THREAD_NAME = "rnn-model-work"


def _budget_from_env(default: float = 60.0) -> float:
    """RNN_PLAYGROUND_MODEL_BUDGET (seconds, > 0) when set to a number, else `default`."""
    try:
        v = float(os.environ.get("RNN_PLAYGROUND_MODEL_BUDGET", ""))
    except ValueError:
        return default
    return v if math.isfinite(v) and v > 0 else default


# seconds from getting a slot; the bundled models' slowest kind takes about 10 s on one quiet thread
BUDGET_S = _budget_from_env()
_LOG = logging.getLogger(__name__)

Work = Callable  # (tm, progress(fraction, note), budget) -> value


def default_work(kind: str) -> Work:
    """precomputed.compute: the same code that builds the shipped results (units through their disk cache)."""
    return lambda tm, progress, budget: precomputed.compute(kind, tm, progress, budget, disk_cache=True)


class ModelWork(SessionWorker):
    THREAD_NAME = THREAD_NAME

    def __init__(self, kind: str, tm, work: Work | None = None, budget: float | None = BUDGET_S,
                 alive: Callable[[], bool] | None = None, grace: float = GRACE_S, queue: Queue | None = None):
        self._init_worker(alive, grace)
        self.kind, self.tm, self.budget = kind, tm, budget
        self.work = work or default_work(kind)
        self.queue = QUEUE if queue is None else queue
        self.phase = "waiting"  # waiting | working | done
        self.fraction, self.note = 0.0, ""
        self.value = None
        self.error: str | None = None  # a sentence for the visitor when the work failed
        self.began = None  # time.monotonic() when it got its slot (the budget counts from here)
        self.seconds: float | None = None  # how long the work took once it had its slot
        self._thread = threading.Thread(target=self._work, daemon=True, name=f"model-work-{kind}")

    def for_model(self, tm) -> bool:
        return self.tm.model is tm.model and self.tm.name == tm.name

    # --- the page's side ---------------------------------------------------------------------------
    def snapshot(self) -> dict:
        return {"phase": self.phase, "fraction": self.fraction, "note": self.note, "budget": self.budget,
                "queue_position": self.queue.position(self) if self.phase == "waiting" else 0,
                "since_slot": time.monotonic() - self.began if self.began else 0.0, "stopping": self.stopping}

    # --- the worker's side -------------------------------------------------------------------------
    def should_stop(self) -> bool:
        """The work's outside stop: Stop, or the session gone (the Queue asks it while waiting too)."""
        return self.session_gone()

    def _progress(self, fraction: float, note: str = "") -> None:
        self.fraction, self.note = min(1.0, max(0.0, float(fraction))), str(note)[:160]

    def _never_began(self) -> None:
        self.error = "Stopped while waiting for the server: nothing was computed."

    def _in_slot(self) -> None:
        self.phase = "working"
        self.value = self.work(self.tm, self._progress, Budget(self.budget, stop=self.should_stop))
        self.seconds = time.monotonic() - self.began

    def _failed(self, e: Exception) -> None:
        if isinstance(e, ValueError):  # the model cannot have this result (no TEST text it reads, one unit...)
            self.error = str(e)
            return
        _LOG.exception("%s for %s failed", self.kind, self.tm.name)
        self.error = "an internal error stopped it (it is in the server's log)"


def cut_of(value) -> str:
    """A result's `cut` ("" when complete): a dataclass field, or a key of the unit statistics' dict."""
    if isinstance(value, dict):
        return str(value.get("cut") or "")
    return str(getattr(value, "cut", "") or "")
