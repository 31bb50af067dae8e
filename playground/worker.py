"""Training in a separate, short-lived process, for a server that serves many visitors.

A training run allocates a lot for a little while: the data, its tokenised copies, torch's
autograd buffers and optimiser state (about 170 MB for the Train page's defaults). Inside a web
server that memory stays resident after the run (freed heap is rarely handed back), and a
crashing or runaway run would take every visitor with it. `TrainingProcess` therefore runs one
`recipes.Job` in a child process (`python -m playground.worker`) and streams what happens:

    parent -> child (stdin):  one JSON line, the job; later "stop" (or EOF: stop as well)
    child -> parent (stdout): JSON lines, {"type": ...}:
        "prepared"  n_train, n_val
        "progress"  event (a `train.Progress` as a dict), new batch_history rows, history
        "probe"     label, tokens, oov, step_probs (the probe sentence read after an epoch)
        "result"    model_path (a model file the parent loads with the safe loader), report,
                    status, message, history, batch_history
        "error"     message (a diverged run with nothing to keep, bad settings, a crash)

When the child exits, all of its memory goes back to the operating system. At most
`MAX_PROCESSES` runs at once per server (two cores; each run takes one).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

MAX_PROCESSES = 2
PROGRESS_EVERY_S = 0.25  # the child reports batch progress at most this often
_slots = threading.BoundedSemaphore(MAX_PROCESSES)


class Busy(RuntimeError):
    """Too many training runs at once on this server."""


@dataclass(frozen=True)
class Reading:
    """How the model read the probe sentence at one moment: what `plots.probe_curves` draws."""

    tokens: tuple[str, ...]
    oov: tuple[bool, ...]
    step_probs: np.ndarray

    @property
    def n_steps(self) -> int:
        return len(self.tokens)


# --- the parent side ---------------------------------------------------------------------------


class TrainingProcess:
    """One training run in a child process. Iterate `messages()`; `stop()` asks it to end between
    two batches (keeping the best weights); `close()` always, e.g. in a `finally`."""

    def __init__(self, recipe, name: str, command: str = "", probe: str = "",
                 report_limit: int | None = None):
        from .recipes import recipe_to_dict

        if not _slots.acquire(blocking=False):
            raise Busy(f"{MAX_PROCESSES} models are being trained on this server right now; "
                       "please try again in a minute.")
        self._released = False
        self.result: dict | None = None
        self.error: str | None = None
        self.error_history: tuple[list, list] = ([], [])  # the curves of a run that failed
        self.hard_timeout = (recipe.train.max_seconds or 3600) + 120  # the child's own cap + finishing
        self.t0 = time.monotonic()
        job = {"recipe": recipe_to_dict(recipe), "name": name, "command": command, "probe": probe,
               "report_limit": report_limit}
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "playground.worker"], cwd=root, env=env,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None,
                                         text=True, encoding="utf-8", bufsize=1)
            self.proc.stdin.write(json.dumps(job) + "\n")
            self.proc.stdin.flush()
        except BaseException:
            self._release()
            raise

    def messages(self) -> Iterator[dict]:
        """The child's messages as they come, until its result or error (then it has exited)."""
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                continue  # not ours (the child's stdout is reserved, but be lenient)
            if msg.get("type") == "result":
                self.result = msg
            elif msg.get("type") == "error":
                self.error = msg.get("message") or "Training failed."
                self.error_history = (msg.get("history") or [], msg.get("batch_history") or [])
            yield msg
            if self.result is not None or self.error is not None:
                break
            if time.monotonic() - self.t0 > self.hard_timeout:
                self.kill()
                break
        if self.result is None and self.error is None:
            self.proc.wait(timeout=10)
            self.error = f"The training process ended unexpectedly (exit code {self.proc.returncode})."

    def stop(self) -> None:
        """Ask the child to stop between two batches; it still sends its result."""
        try:
            self.proc.stdin.write("stop\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def finish(self, timeout: float = 60.0) -> None:
        """Stop, then wait (at most `timeout` s) for the result. Uses no UI: safe in a `finally`."""
        if self.result is None and self.error is None and self.proc.poll() is None:
            self.stop()
            deadline = time.monotonic() + timeout
            timer = threading.Timer(timeout, self.kill)  # readline blocks; this unblocks it
            timer.start()
            try:
                for _ in self.messages():
                    if time.monotonic() > deadline:
                        break
            finally:
                timer.cancel()
        elif self.result is None and self.error is None:
            for _ in self.messages():  # it has exited: read what it left in the pipe
                pass

    def model(self):
        """The trained model, read from the file the child wrote (safe loader), or None."""
        from .zoo import load_path

        if not self.result or not self.result.get("model_path"):
            return None
        path = Path(self.result["model_path"])
        try:
            return load_path(path, source="session")
        finally:
            path.unlink(missing_ok=True)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()

    def close(self) -> None:
        try:
            self.finish()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
                self.proc.wait(timeout=10)
            for f in (self.proc.stdin, self.proc.stdout):
                try:
                    f.close()
                except (BrokenPipeError, OSError):
                    pass
            if self.result and self.result.get("model_path"):  # never collected: do not leave it behind
                Path(self.result["model_path"]).unlink(missing_ok=True)
        finally:
            self._release()

    def _release(self) -> None:
        if not self._released:
            self._released = True
            _slots.release()

    def __enter__(self) -> "TrainingProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def report_from_dict(d: dict):
    from .recipes import HeldoutReport

    return HeldoutReport(**{**d, "confidently_wrong": tuple(tuple(r) for r in d["confidently_wrong"])})


def reading_from_dict(d: dict) -> Reading:
    return Reading(tokens=tuple(d["tokens"]), oov=tuple(bool(o) for o in d["oov"]),
                   step_probs=np.asarray(d["step_probs"], dtype=np.float64))


# --- the child side ----------------------------------------------------------------------------


def _child() -> int:
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    sys.stdout = sys.stderr  # stray prints must not corrupt the message stream

    def send(msg: dict) -> None:
        out.write(json.dumps(msg, allow_nan=False, default=_jsonable) + "\n")
        out.flush()

    try:
        job = json.loads(sys.stdin.readline() or "null")
        if not isinstance(job, dict):
            raise ValueError("no job was given")
        return _run_job(job, send)
    except BrokenPipeError:  # the parent went away: nothing to tell anyone
        return 1
    except Exception as e:  # noqa: BLE001 - reported to the parent as one clear message
        try:
            send({"type": "error", "message": f"Training failed: {type(e).__name__}: {e}"})
        except (BrokenPipeError, OSError, ValueError):
            pass
        return 1


def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"cannot send {type(v).__name__}")


def _finite(v):
    return None if v is None or not np.isfinite(v) else float(v)


def _run_job(job: dict, send) -> int:
    import torch

    from .recipes import Job, heldout_report, recipe_from_dict
    from .trace import trace
    from .zoo import save

    torch.set_flush_denormal(True)
    stop = threading.Event()

    def watch_stdin() -> None:  # "stop", or EOF (the parent is gone): stop between two batches
        for line in sys.stdin:
            if line.strip() == "stop":
                break
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    recipe = recipe_from_dict(job["recipe"])
    probe = str(job.get("probe") or "")
    job_obj = Job(recipe, name=str(job["name"]), command=str(job.get("command", "")), should_stop=stop.is_set)
    job_obj.prepare()
    send({"type": "prepared", "n_train": job_obj.n_train, "n_val": job_obj.n_val})
    trainer = job_obj.trainer
    sent_batches, last = 0, 0.0
    for ev in job_obj.events():
        now = time.monotonic()
        if ev.kind == "batch" and now - last < PROGRESS_EVERY_S:
            continue
        last = now
        ev_d = {k: (_finite(v) if isinstance(v, float) else v) for k, v in asdict(ev).items()}
        new = trainer.batch_history[sent_batches:]
        sent_batches = len(trainer.batch_history)
        send({"type": "progress", "event": ev_d, "batch_history": _clean_rows(new),
              "history": _clean_rows(trainer.history)})
        if ev.kind == "epoch" and probe.strip():
            tr = trace(job_obj.model, job_obj.vocab, probe)
            send({"type": "probe", "label": f"epoch {ev.epoch}", "tokens": list(tr.tokens),
                  "oov": [bool(o) for o in tr.oov], "step_probs": [float(p) for p in tr.step_probs]})
    if trainer.best_state is None:  # diverged before anything was worth keeping
        send({"type": "error", "message": trainer.message or "Training ended before any weights were kept.",
              "history": _clean_rows(trainer.history), "batch_history": _clean_rows(trainer.batch_history)})
        return 0
    tm = job_obj.finish()
    report = heldout_report(tm.model, tm.vocab, tm.dataset, tm.config.max_len, limit=job.get("report_limit"))
    fd, path = tempfile.mkstemp(prefix="rnn-playground-", suffix=".safetensors")
    os.close(fd)
    save(tm, path)
    send({"type": "result", "model_path": path, "report": asdict(report), "status": trainer.status,
          "message": trainer.message, "history": _clean_rows(trainer.history),
          "batch_history": _clean_rows(trainer.batch_history)})
    return 0


def _clean_rows(rows) -> list[dict]:
    return [{k: (_finite(v) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]


if __name__ == "__main__":
    sys.exit(_child())
