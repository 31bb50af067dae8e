"""A training run (one model, or a race of several cells) on a worker thread owned by a browser
session. No Streamlit here: the worker never touches st.*; the page reads `snapshot()` from a
fragment on a timer and, once `done`, registers `models` in the script thread.

    run = TrainingRun.single(recipe, "my-gru", probe="not bad at all", alive=alive)
    claim(session_state, RUN_KEY, run)   # starts it, unless this session already trains
    ...
    run.stop()                           # asks the trainer to stop between two batches
    run.snapshot()                       # phase, last Progress, curves so far (copies)
    run.done, run.result, run.models     # once finished: what the result section shows

The time cap (recipe.train.max_seconds) holds end to end: it starts when the run gets its slot
on the server (see `Queue`: at most MAX_TRAININGS runs train at once across every visitor, the
rest wait in line) and covers reading the data, training with its validations, and the TEST
measurement, which reads a random sample until the cap if time runs short. The result says how
long each phase took and which one the cap cut.

Stopping: the trainer's `should_stop` hook (checked before every batch) reads a flag set by
`stop()`, and `alive()` (is the browser session still connected?): a session that stays gone for
`grace` seconds stops its run, which then skips the TEST evaluation nobody would see. Stopped or
not, the trainer keeps its best weights (see playground.train.Trainer).
"""
from __future__ import annotations

import gc
import logging
import os
import threading
import time
from dataclasses import replace
from typing import Callable, MutableMapping

from playground.core import data
from playground.core.trace import trace
from playground.training import timing
from playground.training.recipes import Finished, Job, Race, RaceTally, Recipe, cut_sentences

from . import heap

THREAD_NAME = "rnn-train"  # the worker's OS thread name (see /proc/<pid>/task/*/comm)
RUN_KEY = "train.run"  # session_state key of the session's one TrainingRun
GRACE_S = 2.0  # a session disconnected this long stops its training (a reload or a closed tab)
ALIVE_EVERY_S = 0.25  # how often the trainer asks whether the session is still there
TRIM_EVERY_S = 1.0  # how often the worker gives freed heap pages back (batches of changing shapes fragment it)
PROBE_CHARS = 500
FINISH_S = 1.0  # of the cap, kept for what follows the TEST measurement (the report, the probe's last reading)
_LOG = logging.getLogger(__name__)
_CLAIM = threading.Lock()  # makes "is this session training? if not, start" one step


def max_trainings() -> int:
    """Trainings at once across the server: the RNN_PLAYGROUND_TRAININGS environment variable, or
    1 on a machine of up to 2 cores (one core trains, the other serves every visitor's pages),
    else half the cores."""
    try:
        n = int(os.environ.get("RNN_PLAYGROUND_TRAININGS", "0"))
    except ValueError:
        n = 0
    return n if n >= 1 else max(1, (os.cpu_count() or 1) // 2)


class Queue:
    """The server's training slots: at most `n` runs train at once; the others wait in line, first
    come first served, and leave the line when stopped or when their session goes."""

    def __init__(self, n: int):
        self.n = max(1, int(n))
        self._cond = threading.Condition()
        self._line: list = []  # waiting runs, in order
        self._running: list = []

    def enter(self, run: "TrainingRun") -> bool:
        """Block until `run` may train (True), or it was stopped while waiting (False)."""
        with self._cond:
            self._line.append(run)
            try:
                while True:
                    if self._line[0] is run and len(self._running) < self.n:
                        self._running.append(run)
                        return True
                    if run.should_stop():
                        return False
                    self._cond.wait(ALIVE_EVERY_S)
            finally:
                self._line.remove(run)
                self._cond.notify_all()

    def leave(self, run: "TrainingRun") -> None:
        with self._cond:
            if run in self._running:
                self._running.remove(run)
            self._cond.notify_all()

    def position(self, run: "TrainingRun") -> int:
        """0 while it trains (or is not waiting); k: runs ahead of it in line plus one."""
        with self._cond:
            return self._line.index(run) + 1 if run in self._line else 0

    def training(self) -> int:
        with self._cond:
            return len(self._running)


QUEUE = Queue(max_trainings())


class SessionWorker:
    """What a run on a worker thread owned by a browser session shares (a training run, a lab run):
    start, Stop, done/active, and `session_gone()`, the check its loop makes between steps: hands freed
    heap pages back every TRIM_EVERY_S, asks `alive()` every ALIVE_EVERY_S, and stops the run (reason
    "session") once the session has been gone for `grace` seconds. Subclasses set `self._thread`."""

    THREAD_NAME = "rnn-worker"  # the OS thread's name (heap.name_thread; /proc/<pid>/task/*/comm)

    def _init_worker(self, alive: Callable[[], bool] | None, grace: float) -> None:
        self.alive, self.grace = alive, grace
        self.stop_reason: str | None = None  # "button" | "session" (| "cap" for a lab)
        self.started = self.ended = None  # time.monotonic()
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._lost_since: float | None = None
        self._checked = self._trimmed = 0.0

    def start(self):
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

    def _work(self) -> None:
        """The worker thread: wait in line for one of the server's slots (`self.queue`), then run
        `_in_slot()`. A stop while waiting calls `_never_began()`; an exception `_failed(e)`, which
        turns it into a sentence (never a traceback); whatever happens the slot is left and freed
        memory handed back (`_end`). `waited`: seconds in line."""
        heap.name_thread(self.THREAD_NAME)
        slot = False
        try:
            t0 = time.perf_counter()
            slot = self.queue.enter(self)
            self.waited = time.perf_counter() - t0
            if not slot:
                self._never_began()
                return
            self.began = time.monotonic()
            self._in_slot()
        except Exception as e:  # noqa: BLE001 - shown as a sentence, never a traceback
            self._failed(e)
        finally:
            self._end(slot)

    def _in_slot(self) -> None:
        raise NotImplementedError

    def _never_began(self) -> None:
        raise NotImplementedError

    def _failed(self, e: Exception) -> None:
        raise NotImplementedError

    def _end(self, slot: bool) -> None:
        """The end of the worker's run, whatever happened: leave the server's slot (if it had one), hand
        freed memory back, and say done."""
        if slot:
            self.queue.leave(self)
        heap.release_memory()
        self.ended = time.monotonic()
        self.phase = "done"
        self._finished.set()

    def session_gone(self) -> bool:
        """True (and stopped) when the run was stopped or its session has been gone for `grace` s."""
        if self._stop.is_set():
            return True
        now = time.monotonic()
        if now - self._trimmed >= TRIM_EVERY_S:  # a few ms: keeps resident memory near what is in use
            self._trimmed = now
            heap.release_memory()
        if self.alive is None or now - self._checked < ALIVE_EVERY_S:
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


class TrainingRun(SessionWorker):
    """One run on its own daemon thread; see the module docstring. Attributes the page reads
    are replaced whole by the worker (never half-written); lists are copied by `snapshot()`."""

    THREAD_NAME = THREAD_NAME

    def __init__(self, kind: str, recipe: Recipe, names: dict[str, str], probe: str = "",
                 alive: Callable[[], bool] | None = None, command: str = "", grace: float = GRACE_S,
                 test_limit: int | None = None, queue: Queue | None = None, promise=None):
        if kind not in ("single", "race"):
            raise ValueError("kind is 'single' or 'race'")
        self.kind, self.recipe, self.names = kind, recipe, dict(names)
        self.probe = (probe or "")[:PROBE_CHARS] if kind == "single" else ""
        self._init_worker(alive, grace)
        self.command, self.test_limit = command, test_limit
        self.promise = promise  # playground.timing.Promise made at the click (None: none was made)
        self.queue = QUEUE if queue is None else queue
        self.cap = recipe.train.max_seconds  # seconds from getting a slot to the result (None: no cap)
        self.phase = "waiting"  # waiting (in the server's line) | preparing | training | finishing | done
        self.event = None  # the latest playground.train.Progress
        self.index = 0  # which cell of a race trains now (0-based)
        self.arch = recipe.model.arch
        self.histories: dict[str, list] = {}  # arch -> the trainer's live validation history
        self.trainers: dict = {}  # arch -> its playground.train.Trainer (best_at: the kept checkpoint)
        self.batch_history: list = []  # the current trainer's live per-batch losses
        self.probe_snaps: list = []  # (label, Trace) after every epoch
        self.result: dict | None = None  # what the result section shows
        self.models: list = []  # TrainedModels to register in the session
        self.began = None  # time.monotonic() when the run got its slot (its cap counts from here)
        self.times: dict[str, float] = {}  # seconds per phase: waiting, data, training, TEST
        self.deadline: float | None = None  # time.perf_counter() by which the result must be ready
        self.train_limit: float | None = None  # the current trainer's own limit: what the data left of the cap
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
                "cap": self.recipe.train.max_seconds, "train_limit": self.train_limit, "promise": self.promise,
                "batch_history": list(self.batch_history), "probe": list(self.probe_snaps),
                "stopping": self.stopping, "epochs": self.recipe.train.epochs,
                "queue_position": self.queue.position(self) if self.phase == "waiting" else 0,
                "queue_slots": self.queue.n,
                "seconds": time.monotonic() - self.started if self.started else 0.0,
                "since_slot": time.monotonic() - self.began if self.began else 0.0}

    # --- the worker's side -----------------------------------------------------------------
    def should_stop(self) -> bool:
        """The trainer's hook, called before every batch (and between the cells of a race)."""
        return self.session_gone()

    def _abandoned(self) -> bool:
        return self.stop_reason == "session"

    def _abandoned_result(self) -> dict:
        """Shown only if the same session comes back (a connection that returned too late)."""
        return {"error": f"Training stopped because this page lost its connection for more than {self.grace:g} s.",
                "history": [], "batch_history": []}

    def _never_began(self) -> None:
        self.times["waiting"] = self.waited
        self.result = (self._abandoned_result() if self._abandoned() else
                       {"error": "Stopped while waiting for the server: training never began.",
                        "history": [], "batch_history": []})

    def _in_slot(self) -> None:
        self.times["waiting"] = self.waited
        if self.cap is not None:
            self.deadline = time.perf_counter() + self.cap - FINISH_S
            if not self.recipe.init_from:  # a cap its fixed parts alone would overrun: refused now
                plan = timing.plan(self.recipe, self.cap, startup=0.0, test_limit=self.test_limit)
                if not plan.fits:
                    self.result = {"error": "Not started: " + plan.refusal(cli=False), "history": [],
                                   "batch_history": []}
                    return
        if self.kind == "single":
            self._single()
        else:
            self._race()

    def _failed(self, e: Exception) -> None:
        _LOG.exception("training run failed")
        reason = str(e) if isinstance(e, ValueError) else "an internal error (it is in the server's log)"
        self.models = []
        self.result = {"error": f"Training failed: {reason}.", "history": [], "batch_history": []}

    def _end(self, slot: bool) -> None:
        data.clear_cache()  # the trainer, the weight copies and the encoded data were locals of the run
        super()._end(slot)

    def _single(self) -> None:
        name = next(iter(self.names.values()))
        self.phase = "preparing"
        job = Job(self.recipe, name=name, command=self.command, should_stop=self.should_stop,
                  test_limit=self.test_limit, deadline=self.deadline).prepare()
        self.times["data"] = job.times["data"]
        self.train_limit = job.trainer.config.max_seconds
        self.histories = {self.arch: job.trainer.history}
        self.trainers = {self.arch: job.trainer}
        self.batch_history = job.trainer.batch_history
        self.phase = "training"
        probe = self.probe if self.probe.strip() else ""
        for ev in job.events():
            self.event = ev
            self.times["training"] = job.trainer.seconds or ev.elapsed
            if ev.kind == "epoch" and probe:  # the weights validation scores (the moving average, when on)
                snap = (f"epoch {ev.epoch}", trace(job.trainer.scored_model, job.vocab, probe))
                self.probe_snaps = self.probe_snaps + [snap]
        job.close()
        self.times["training"] = job.trainer.seconds
        if self.promise is not None and self.event is not None:  # the server's measured pace, for the next promise
            ratio = timing.pace_ratio(job.trainer.seconds, self.event.fraction, self.promise.epoch)
            if ratio is not None:
                timing.record_pace(ratio)
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
        self.times["TEST"] = job.times["TEST"]
        report = job.test.report()
        if probe:  # last: the very weights registered in the session (after finish() rounded them for storage)
            kept = (f"kept model (epoch {trainer.best_at:.2f})", trace(tm.model, tm.vocab, probe))
            self.probe_snaps = self.probe_snaps + [kept]
        self.models = [tm]
        self.result = {**base, "name": tm.name, "card": tm.card, "report": report, "probe": list(self.probe_snaps),
                       "best_at": trainer.best_at, "averaged": trainer.averaged,
                       "times": self._times(), "cut": self._cuts([job])}

    def _race(self) -> None:
        self.phase = "preparing"
        t0 = time.perf_counter()
        race = Race(self.recipe, self.names, command=self.command, should_stop=self.should_stop,
                    test_limit=self.test_limit).prepare()
        self.times["data"] = time.perf_counter() - t0
        tally = RaceTally(self.names, self.recipe.train.epochs, self.deadline)
        job = None
        self.phase = "training"
        for i, job in enumerate(race.jobs(tally.deadline)):
            arch = job.config.arch
            self.index, self.arch = i, arch
            self.histories = {**self.histories, arch: job.trainer.history}
            self.trainers = {**self.trainers, arch: job.trainer}
            self.batch_history = job.trainer.batch_history
            self.train_limit = job.trainer.config.max_seconds
            for ev in job.events():
                self.event = ev
            job.close()
            self.times["training"] = self.times.get("training", 0.0) + job.trainer.seconds
            if self._abandoned():
                self.result = self._abandoned_result()
                return
            if job.trainer.best_state is not None:
                self.phase = "finishing"
            if tally.add(job) is not None:
                self.times["TEST"] = self.times.get("TEST", 0.0) + job.times["TEST"]
            self.phase = "training"
            self.trainers[arch] = Finished(job)  # the live view needs only its kept epoch
            job = None
            gc.collect()  # the cell's optimizer state, weight copies and autograd buffers go before the next
            heap.release_memory()
            if self.stopping:  # the rest of the race is not run
                break
        finished = tally.finished
        self.models = finished
        race_result = tally.result(self.stopping)
        self.result = {"histories": {a: list(h) for a, h in self.histories.items()},
                       "kept": {tm.arch: tm.card.get("best_at") for tm in finished},
                       "averaged": self.recipe.train.ema > 0, **race_result.to_dict(), "times": self._times()}

    # --- the time cap, phase by phase ------------------------------------------------------
    def _times(self) -> dict:
        t = {k: round(v, 1) for k, v in self.times.items()}
        t["total"] = round(time.monotonic() - self.began, 1) if self.began else 0.0
        t["cap"] = self.cap
        if self.promise is not None:  # what was promised at the click, beside what happened
            t["promised"] = round(self.promise.seconds, 1)
            t["promised_epochs"] = round(self.promise.epochs_fit, 2)
            t["slowdown"] = round(self.promise.slowdown, 2)
        return t

    def _cuts(self, jobs) -> list[str]:
        """One sentence per phase the time cap cut short, for each job."""
        return cut_sentences(jobs, self.recipe.train.epochs, race=self.kind == "race")


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
    """A race's recipe: the cap is the whole race's; each cell gets an equal share of what is left
    of it when the cell starts (TrainingRun._race), so `n_cells` only documents the split."""
    return replace(recipe, train=replace(recipe.train, max_seconds=cap_s))
