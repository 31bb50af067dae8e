"""A training run (one model, or a race of several cells) on a worker thread owned by a browser
session. No Streamlit here: the worker never touches st.*; the page reads `snapshot()` from a
fragment on a timer and, once `done`, registers `models` in the script thread.

    run = TrainingRun.single(recipe, "my-gru", probe="not bad at all", alive=alive)
    claim(session_state, RUN_KEY, run)   # starts it, unless this session already trains
    ...
    run.stop()                           # asks the trainer to stop between two batches
    run.snapshot()                       # phase, last Progress, curves so far (copies)
    run.done, run.result, run.models     # once finished: what the result section shows

Stopping: the trainer's `should_stop` hook (checked before every batch) reads a flag set by
`stop()`, and `alive()` (is the browser session still connected?): a session that stays gone for
`grace` seconds stops its run, which then skips the TEST evaluation nobody would see. Stopped or
not, the trainer keeps its best weights (see playground.train.Trainer).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Callable, MutableMapping

from playground import data, stats
from playground.models import ARCH_TITLES
from playground.recipes import Job, Race, Recipe, heldout_report
from playground.trace import trace

from . import heap

THREAD_NAME = "rnn-train"  # the worker's OS thread name (see /proc/<pid>/task/*/comm)
RUN_KEY = "train.run"  # session_state key of the session's one TrainingRun
GRACE_S = 2.0  # a session disconnected this long stops its training (a reload or a closed tab)
ALIVE_EVERY_S = 0.25  # how often the trainer asks whether the session is still there
PROBE_CHARS = 500
_LOG = logging.getLogger(__name__)
_CLAIM = threading.Lock()  # makes "is this session training? if not, start" one step


class TrainingRun:
    """One run on its own daemon thread; see the module docstring. Attributes the page reads
    are replaced whole by the worker (never half-written); lists are copied by `snapshot()`."""

    def __init__(self, kind: str, recipe: Recipe, names: dict[str, str], probe: str = "",
                 alive: Callable[[], bool] | None = None, command: str = "", grace: float = GRACE_S,
                 test_limit: int | None = None):
        if kind not in ("single", "race"):
            raise ValueError("kind is 'single' or 'race'")
        self.kind, self.recipe, self.names = kind, recipe, dict(names)
        self.probe = (probe or "")[:PROBE_CHARS] if kind == "single" else ""
        self.alive, self.command, self.grace, self.test_limit = alive, command, grace, test_limit
        self.phase = "waiting"  # waiting | preparing | training | finishing | done
        self.event = None  # the latest playground.train.Progress
        self.index = 0  # which cell of a race trains now (0-based)
        self.arch = recipe.model.arch
        self.histories: dict[str, list] = {}  # arch -> the trainer's live validation history
        self.trainers: dict = {}  # arch -> its playground.train.Trainer (best_at: the kept checkpoint)
        self.batch_history: list = []  # the current trainer's live per-batch losses
        self.probe_snaps: list = []  # (label, Trace) after every epoch
        self.result: dict | None = None  # what the result section shows
        self.models: list = []  # TrainedModels to register in the session
        self.stop_reason: str | None = None  # "button" | "session"
        self.started = self.ended = None  # time.monotonic()
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._lost_since: float | None = None
        self._checked = 0.0
        self._collected = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, daemon=True, name=f"training-{kind}")

    @classmethod
    def single(cls, recipe: Recipe, name: str, **kw) -> "TrainingRun":
        return cls("single", recipe, {recipe.model.arch: name}, **kw)

    @classmethod
    def race(cls, recipe: Recipe, names: dict[str, str], **kw) -> "TrainingRun":
        return cls("race", recipe, names, **kw)

    # --- the page's side -------------------------------------------------------------------
    def start(self) -> "TrainingRun":
        self.started = time.monotonic()
        self._thread.start()
        return self

    def stop(self, reason: str = "button") -> None:
        if not self._stop.is_set():
            self.stop_reason = reason
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    @property
    def active(self) -> bool:
        return self.started is not None and not self.done

    def wait(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)

    def take_models(self) -> list | None:
        """The finished run's models, exactly once (None before it ends and after the first
        call): two script threads of one session may ask at the same time."""
        with self._lock:
            if not self.done or self._collected:
                return None
            self._collected = True
            models, self.models = self.models, []
            return models

    @property
    def collected(self) -> bool:
        return self._collected

    def snapshot(self) -> dict:
        """Copies of everything the live view draws."""
        hist = {a: list(h) for a, h in list(self.histories.items())}
        best = {a: t.best_at for a, t in list(self.trainers.items())}
        return {"phase": self.phase, "event": self.event, "index": self.index, "n_cells": len(self.names),
                "arch": self.arch, "history": hist.get(self.arch, []), "histories": hist,
                "best_at": best.get(self.arch), "kept": best, "averaged": self.recipe.train.ema > 0,
                "cap": self.recipe.train.max_seconds,
                "batch_history": list(self.batch_history), "probe": list(self.probe_snaps),
                "stopping": self.stopping, "epochs": self.recipe.train.epochs,
                "seconds": time.monotonic() - self.started if self.started else 0.0}

    # --- the worker's side -----------------------------------------------------------------
    def should_stop(self) -> bool:
        """The trainer's hook, called before every batch (and between the cells of a race)."""
        if self._stop.is_set():
            return True
        if self.alive is None:
            return False
        now = time.monotonic()
        if now - self._checked < ALIVE_EVERY_S:
            return False
        self._checked = now
        try:
            alive = self.alive()
        except Exception:  # noqa: BLE001 - a failing check must not end a visitor's run
            alive = True
        if alive:
            self._lost_since = None
            return False
        if self._lost_since is None:
            self._lost_since = now
        if now - self._lost_since >= self.grace:
            self.stop("session")
            return True
        return False

    def _abandoned(self) -> bool:
        return self.stop_reason == "session"

    def _abandoned_result(self) -> dict:
        """Shown only if the same session comes back (a connection that returned too late)."""
        return {"error": f"Training stopped because this page lost its connection for more than {self.grace:g} s.",
                "history": [], "batch_history": []}

    def _work(self) -> None:
        heap.name_thread(THREAD_NAME)
        try:
            if self.kind == "single":
                self._single()
            else:
                self._race()
        except Exception as e:  # noqa: BLE001 - shown as a sentence, never a traceback
            _LOG.exception("training run failed")
            reason = str(e) if isinstance(e, ValueError) else "an internal error (it is in the server's log)"
            self.models = []
            self.result = {"error": f"Training failed: {reason}.", "history": [], "batch_history": []}
        finally:
            # the trainer, the weight copies and the encoded data were locals of the method above
            data.clear_cache()
            heap.release_memory()
            self.ended = time.monotonic()
            self.phase = "done"
            self._finished.set()

    def _single(self) -> None:
        name = next(iter(self.names.values()))
        self.phase = "preparing"
        job = Job(self.recipe, name=name, command=self.command, should_stop=self.should_stop).prepare()
        self.histories = {self.arch: job.trainer.history}
        self.trainers = {self.arch: job.trainer}
        self.batch_history = job.trainer.batch_history
        self.phase = "training"
        probe = self.probe if self.probe.strip() else ""
        for ev in job.events():
            self.event = ev
            if ev.kind == "epoch" and probe:  # the weights validation scores (the moving average, when on)
                snap = (f"epoch {ev.epoch}", trace(job.trainer.scored_model, job.vocab, probe))
                self.probe_snaps = self.probe_snaps + [snap]
        job.close()
        if self._abandoned():  # nobody is left to see a result: skip the TEST evaluation
            self.result = self._abandoned_result()
            return
        self.phase = "finishing"
        trainer = job.trainer
        base = {"history": list(trainer.history), "batch_history": list(trainer.batch_history),
                "status": trainer.status, "message": trainer.message}
        if trainer.best_state is None:  # diverged (or stopped) before anything was worth keeping
            msg = trainer.message if trainer.status == "diverged" else "Training was stopped before it began."
            self.result = {**base, "error": msg}
            return
        tm = job.finish()
        report = heldout_report(tm.model, tm.vocab, tm.dataset, tm.config.max_len, limit=self.test_limit)
        if probe:  # last: the very weights registered in the session (after finish() rounded them for storage)
            kept = (f"kept model (epoch {trainer.best_at:.2f})", trace(tm.model, tm.vocab, probe))
            self.probe_snaps = self.probe_snaps + [kept]
        self.models = [tm]
        self.result = {**base, "name": tm.name, "card": tm.card, "report": report, "probe": list(self.probe_snaps),
                       "best_at": trainer.best_at, "averaged": trainer.averaged}

    def _race(self) -> None:
        self.phase = "preparing"
        race = Race(self.recipe, self.names, command=self.command, should_stop=self.should_stop).prepare()
        finished, failures, notes, correct = [], [], [], {}
        job = None
        self.phase = "training"
        for i, job in enumerate(race.jobs()):
            arch = job.config.arch
            self.index, self.arch = i, arch
            self.histories = {**self.histories, arch: job.trainer.history}
            self.trainers = {**self.trainers, arch: job.trainer}
            self.batch_history = job.trainer.batch_history
            for ev in job.events():
                self.event = ev
            job.close()
            if self._abandoned():
                self.result = self._abandoned_result()
                return
            if job.trainer.best_state is not None:
                self.phase = "finishing"
                finished.append(job.finish())
                correct[ARCH_TITLES[arch]] = job.test_correct
                self.phase = "training"
                if job.trainer.status in ("diverged", "timeout"):
                    notes.append(f"{ARCH_TITLES[arch]}: {job.trainer.message} Its best weights before that are kept.")
            elif job.trainer.status == "diverged":
                failures.append((arch, job.trainer.message))
            if self.stopping:  # the rest of the race is not run
                break
        tried = {tm.arch for tm in finished} | {a for a, _ in failures}
        self.models = finished
        self.result = {"histories": {a: list(h) for a, h in self.histories.items()},
                       "kept": {tm.arch: tm.card.get("best_at") for tm in finished},
                       "averaged": self.recipe.train.ema > 0,
                       "rows": [race_row(tm) for tm in finished],
                       "failures": [f"{ARCH_TITLES[a]}: {m}" for a, m in failures], "notes": notes,
                       "not_trained": [ARCH_TITLES[a] for a in self.names if a not in tried],
                       "stopped": self.stopping, "verdict": stats.race_verdict(correct)}


def race_row(tm) -> dict:
    c = tm.card
    return {"cell": ARCH_TITLES[tm.arch], "model": tm.name, "TEST accuracy": c["test_accuracy"],
            "best validation accuracy": c["val_accuracy"],
            "kept at epoch": c["best_at"] if c.get("best_at") is not None else c["best_epoch"],  # the star
            "training time (s)": c["train_seconds"], "parameters": tm.n_params, "status": c["status"]}


def claim(store: MutableMapping, run: TrainingRun, key: str = RUN_KEY) -> bool:
    """Start `run` as the session's run unless the session already has one going (a double
    click, or Train pressed in a second script thread of the same session: Streamlit's fast
    reruns start the new script run before the old one has stopped). True if it started."""
    with _CLAIM:
        current = store.get(key)
        if isinstance(current, TrainingRun) and not current.done:
            return False
        store[key] = run
        run.start()
        return True


def race_recipe(recipe: Recipe, n_cells: int, cap_s: float) -> Recipe:
    """A race gives each cell an equal share of the time cap."""
    return replace(recipe, train=replace(recipe.train, max_seconds=cap_s / n_cells))
