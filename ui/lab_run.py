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

from playground import lab

from . import heap
from .training import GRACE_S, QUEUE, Queue, SessionWorker

THREAD_NAME = "rnn-lab"
RUN_KEY = "lab.run"
CAP_S = 150.0  # one seed of the default grid takes about a minute on the 2-core machine, 90 s at most
_LOG = logging.getLogger(__name__)
_CLAIM = threading.Lock()


class LabRun(SessionWorker):
    def __init__(self, settings: lab.LabSettings, alive: Callable[[], bool] | None = None, grace: float = GRACE_S,
                 cap: float | None = CAP_S, queue: Queue | None = None):
        self._init_worker(alive, grace)
        self.settings, self.cap = settings, cap
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
                "runs": len(self.settings.cells) * len(self.settings.k) * self.settings.seeds}

    # --- the worker's side -------------------------------------------------------------------------
    def should_stop(self) -> bool:
        """Asked after every optimizer step: Stop, the time cap, or the session gone."""
        if self.cap is not None and self.began is not None and time.monotonic() - self.began >= self.cap:
            self.stop("cap")
        return self.session_gone()

    def _work(self) -> None:
        heap.name_thread(THREAD_NAME)
        slot = False
        try:
            slot = self.queue.enter(self)
            if not slot:
                self.result = {"error": "Stopped while waiting for the server: the lab never began."}
                return
            self.began = time.monotonic()
            self.phase = "training"
            for ev in lab.iter_lab(self.settings, self.should_stop, threads=1):
                if ev.kind == "run":
                    self.finished = self.finished + [ev]
                if ev.kind == "end":
                    self.result = {**ev.result, "cut": self.stop_reason}
                else:
                    self.event = ev
        except Exception as e:  # noqa: BLE001 - shown as a sentence, never a traceback
            _LOG.exception("lab run failed")
            reason = str(e) if isinstance(e, ValueError) else "an internal error (it is in the server's log)"
            self.result = {"error": f"The lab failed: {reason}."}
        finally:
            if slot:
                self.queue.leave(self)
            heap.release_memory()
            self.ended = time.monotonic()
            self.phase = "done"
            self._finished.set()


def claim(store, run: LabRun, key: str = RUN_KEY) -> bool:
    """Start `run` as this session's lab unless one is going (a double click starts one run)."""
    with _CLAIM:
        old = store.get(key)
        if isinstance(old, LabRun) and old.active:
            return False
        store[key] = run.start()
        return True
