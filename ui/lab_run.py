"""A live long-range lab run (playground.lab) on a worker thread owned by a browser session. No
Streamlit here: the worker never touches st.*; the Why gates page reads `snapshot()` from a fragment
on a timer and shows `result` once `done`.

It shares the server's training slots with the Train page (ui.training.QUEUE: at most N trainings
at once across every visitor, the rest wait in line with their place shown), stops between two
optimizer steps when asked, when its browser session has been gone for GRACE_S seconds, or at its
time cap (CAP_S from getting a slot), and keeps every run that finished: a stopped lab shows the
distances it reached.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from playground.dynamics import lab
from playground.training.timing import load_slowdown

from .training import GRACE_S, QUEUE, Queue, SessionWorker

THREAD_NAME = "rnn-lab"
RUN_KEY = "lab.run"
CAP_S = 150.0  # one seed of the default grid: about 62 s estimated on a quiet 2-core machine (lab.estimate_seconds)
_LOG = logging.getLogger(__name__)
_CLAIM = threading.Lock()


class LabRun(SessionWorker):
    THREAD_NAME = THREAD_NAME

    def __init__(self, settings: lab.LabSettings, alive: Callable[[], bool] | None = None, grace: float = GRACE_S,
                 cap: float | None = CAP_S, queue: Queue | None = None):
        self._init_worker(alive, grace)
        self.settings, self.cap = settings, cap
        # what the page promises at the click: the grid's quiet-machine estimate times the load's slowdown
        self.quiet_seconds = lab.estimate_seconds(settings)
        self.slowdown = load_slowdown()
        self.queue = QUEUE if queue is None else queue
        self.phase = "waiting"  # waiting | training | done
        self.event: lab.LabEvent | None = None  # the latest step or run event
        self.finished: list[lab.LabEvent] = []  # one "run" event per finished run
        self.result: dict | None = None  # lab.aggregate's dict (+ "status", "cut"), or {"error": ...}
        self.began = None  # time.monotonic() when it got a training slot (its cap counts from here)
        self._thread = threading.Thread(target=self._work, daemon=True, name="lab-run")

    # --- the page's side ---------------------------------------------------------------------------
    def snapshot(self) -> dict:
        ev = self.event
        return {"phase": self.phase, "event": ev, "finished": list(self.finished), "stopping": self.stopping,
                "queue_position": self.queue.position(self) if self.phase == "waiting" else 0,
                "since_slot": time.monotonic() - self.began if self.began else 0.0, "cap": self.cap,
                "runs": len(self.settings.cells) * len(self.settings.k) * self.settings.seeds,
                "promised": self.promised, "left": self.left(ev)}

    @property
    def promised(self) -> float:
        """Seconds promised at the click (at most the cap)."""
        s = self.quiet_seconds * self.slowdown
        return s if self.cap is None else min(self.cap, s)

    def left(self, ev=None) -> tuple[float, float]:
        """(seconds left, measured pace as a multiple of the estimate), from the runs finished and the
        time since the run got its slot; before a tenth of the work is done, the promise's own pace."""
        ev = ev if ev is not None else self.event
        current = (ev.cell, ev.k, ev.step) if ev is not None and ev.kind == "step" else None
        since = time.monotonic() - self.began if self.began else 0.0
        left, ratio = lab.remaining(self.settings, [(e.cell, e.k) for e in self.finished], current, since)
        if ratio == 1.0 and self.slowdown > 1:  # not measured yet: the load's guess
            left, ratio = left * self.slowdown, self.slowdown
        return left, ratio

    # --- the worker's side -------------------------------------------------------------------------
    def should_stop(self) -> bool:
        """Asked after every optimizer step: Stop, the time cap, or the session gone."""
        if self.cap is not None and self.began is not None and time.monotonic() - self.began >= self.cap:
            self.stop("cap")
        return self.session_gone()

    def _never_began(self) -> None:
        self.result = {"error": "Stopped while waiting for the server: the lab never began."}

    def _in_slot(self) -> None:
        self.phase = "training"
        for ev in lab.iter_lab(self.settings, self.should_stop, threads=1):
            if ev.kind == "run":
                self.finished = self.finished + [ev]
            if ev.kind == "end":
                self.result = {**ev.result, "cut": self.stop_reason}
            else:
                self.event = ev

    def _failed(self, e: Exception) -> None:
        _LOG.exception("lab run failed")
        reason = str(e) if isinstance(e, ValueError) else "an internal error (it is in the server's log)"
        self.result = {"error": f"The lab failed: {reason}."}


def claim(store, run: LabRun, key: str = RUN_KEY) -> bool:
    """Start `run` as this session's lab unless one is going (a double click starts one run)."""
    with _CLAIM:
        old = store.get(key)
        if isinstance(old, LabRun) and old.active:
            return False
        store[key] = run.start()
        return True
