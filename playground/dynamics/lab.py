"""The long-range lab: can a cell LEARN to connect a signal to a label k tokens later?

The task. Every sequence is exactly k tokens long. Its first token is the signal, A or B (each
with probability 1/2); the k - 1 tokens after it are distractors drawn uniformly, with
replacement, from N_DISTRACTORS other tokens. The label is 1 when the signal is A and 0 when it
is B, so it is decided by the signal alone, which sits exactly k positions before the end (the
model reads k - 1 distractors after it, then answers from its last state). Token ids: 0 padding
(never used), 1 A, 2 B, 3 .. 2 + N_DISTRACTORS the distractors. Chance is 50%.

Why this variant: a cell must carry one bit across k - 1 steps of noise, and the only way to
learn that is for the loss gradient to reach the signal token back through those steps. For a
given k, every cell sees the same number of sequences of the same length (steps x batch training
sequences, drawn from one seeded stream, so all cells read the very same batches) and is scored
on the same held-out TEST set, drawn from a different seed. Across k only the distance (and with
it the length) changes. For short k the held-out set is not disjoint from training (k = 5 has
only 2 x 8^4 distinct sequences); the label is a function of the signal alone, so a model that
remembered sequences could not do better than one that learned the rule.

Training: for every cell (SimpleRNN, LSTM, GRU), k and seed, one `models.build` network (its
Keras-style init) of the same sizes and the same init seed, Adam with clipping, a fixed number of
optimizer steps (never a wall-clock budget, so a run is reproducible). Every step records the
loss and the gradient reaching the signal token: |d loss_i / d x_i,signal| for each sequence i
(x is the embedding output, loss_i that sequence's loss, so the number does not depend on the
batch size), averaged over the batch; the same at the last token, for scale. A run's curve keeps
window means at POINTS evenly spaced steps, and step 1 alone: the gradient at initialisation.
Denormals are flushed (as in train.py), so a gradient below float32's smallest normal number
(1.2e-38) is recorded as 0.

Defaults (LabSettings): embedding 8, hidden 32, batch 32, Adam lr 3e-3, clip 1 per sequence, 400
steps, 1,000 TEST sequences per k and seed. One seed of the default grid (18 runs) took 48 s
(median of 3: 45-54 s) with one torch thread on the project's 2-core machine, quiet-ish (load
1.3-2.2), and 54-78 s while it was busy (load 3-5); the budget is 90 s. The GRU takes about 60%
of it: torch's CPU GRU costs 3-5x an LSTM's time per step at this size. Every cell learns k = 5
to 100% TEST accuracy on every seed. What was tried before choosing (hidden 32, batch 32
unless said; "learns" = TEST accuracy 1.0, the others were at chance, 0.48-0.53):
- 300 steps, lr 1e-2, seeds 0-2 at k = 20, 50, 100 (seed 0 also 5, 10, 200): the SimpleRNN learns
  up to 100 (seed 1: chance at 100), the LSTM up to 50, the GRU up to 20; at 200 none learns.
  Hidden 16, batch 64: the same on seed 0.
- 600 steps, lr 1e-2: the same, but the GRU learns k = 50 and k = 100 on one seed in three.
  1,000 steps (seed 0, gated cells only): the LSTM learns 50 not 100, the GRU 100 not 50.
- 600 steps, lr 3e-3: the SimpleRNN learns up to 100 on every seed, the LSTM 100 on two seeds in
  three, the GRU not 50. 400 steps, lr 3e-3 gives the same at 50 and 100, and fits the time
  budget (600 steps take 1.5 times as long), so it is the default: of the settings tried it
  gives the LSTM its longest distances (the GRU learned 50 and 100 on one seed in three only
  at 600 steps, lr 1e-2).
- A check, not an option: torch's default init of the recurrent layer instead of the Keras one
  (300 steps, lr 1e-2, seeds 0-2): the SimpleRNN learns k = 10, 20, 50; the LSTM fails from 20,
  the GRU from 50.
In none of these did the SimpleRNN fall to chance at a shorter distance than the gated cells;
the settings were not tuned to make it. What the runs do show is the gradient reaching the
signal token at step 1, as a share of the one at the last token: in the shipped results it
falls slowest in the SimpleRNN (orthogonal recurrent weights; about 0.1 at k = 200), slower in
the LSTM (forget-gate bias 1; about 0.01 at 200) and exponentially in the GRU (zero gate
biases, so its update gate starts near 0.5: about 3e-7 at 50, 0 at 200). Within each cell
accuracy falls as that share falls with k; across cells the share alone does not decide (the
GRU learned k = 20 at about 2e-3, the LSTM failed at k = 200 at about 9e-3).

API: `iter_lab(settings, should_stop)` yields `LabEvent`s and ends with one whose `result` is
the aggregated dict; `run_lab` drains it with an `on_progress` callback; `aggregate` turns runs
into `k`, `accuracy`, `spread`, `chance_distance`, curves, settings and timings; `load_shipped`
reads playground/results/lab.json (rebuilt by SHIPPED_COMMAND).
"""
from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn.utils import clip_grad_norm_

from playground.core.models import ARCH_TITLES, ARCHS, INITS, ModelConfig, build
from playground.training.optim import Optimizer
from playground.training.train import torch_threads

SIGNAL_A, SIGNAL_B = 1, 2  # token ids; the distractors follow
N_DISTRACTORS = 8
DEFAULT_K = (5, 10, 20, 50, 100, 200)
CHANCE_ACCURACY = 0.6  # a cell "falls to chance" at the smallest k whose mean TEST accuracy is <= this
POINTS = 20  # curve points per run (plus step 1)
SHIPPED = Path(__file__).resolve().parents[1] / "results" / "lab.json"
SHIPPED_COMMAND = "python -m playground lab --seeds 3 --out playground/results/lab.json"
# the same grid from the textbook's initialisation (models.INITS): the lab's second factor
SHIPPED_BY_INIT = {"keras": SHIPPED, "textbook": SHIPPED.with_name("lab_textbook.json")}
SHIPPED_COMMANDS = {"keras": SHIPPED_COMMAND,
                    "textbook": "python -m playground lab --seeds 3 --init textbook --out "
                                "playground/results/lab_textbook.json"}
# Bounds for anything a visitor or the command line sets. MAX_WORK bounds a whole run: sequence
# tokens read in training, over every cell, k and seed (the default grid: 3 x 385 x 400 x 32 = 14.8 M
# per seed, so 10 seeds of it fit).
LIMITS = {"k": (1, 500), "seeds": (1, 10), "first_seed": (0, 1_000_000), "steps": (1, 5000), "batch_size": (1, 256),
          "embed_dim": (2, 64), "hidden_size": (1, 128), "n_test": (10, 5000)}
MAX_WORK = 200_000_000


@dataclass(frozen=True)
class LabSettings:
    k: tuple[int, ...] = DEFAULT_K
    seeds: int = 1  # seeds first_seed .. first_seed + seeds - 1
    steps: int = 400  # optimizer steps per run
    batch_size: int = 32
    embed_dim: int = 8
    hidden_size: int = 32
    lr: float = 3e-3
    clip: float = 1.0  # gradient-norm clipping
    n_test: int = 1000  # held-out TEST sequences per k and seed
    cells: tuple[str, ...] = ARCHS
    first_seed: int = 0
    init: str = "keras"  # how every network starts (models.INITS)

    def __post_init__(self) -> None:
        if self.init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}, not {self.init!r}")
        for name, (lo, hi) in LIMITS.items():
            for v in (tuple(self.k) if name == "k" else (getattr(self, name),)):
                if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                    raise ValueError(f"{name} must be a whole number between {lo} and {hi}, not {v!r}")
        object.__setattr__(self, "k", tuple(sorted(set(self.k))))
        object.__setattr__(self, "cells", tuple(self.cells))
        if not self.k:
            raise ValueError("k needs at least one distance")
        for name in ("lr", "clip"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= (1 if name == "lr" else 100):
                raise ValueError(f"{name} must be a number in (0, {1 if name == 'lr' else 100}], not {v!r}")
        bad = [c for c in self.cells if c not in ARCHS]
        if bad or not self.cells:
            raise ValueError(f"cells must be some of {', '.join(ARCHS)}, not {', '.join(map(str, bad)) or 'none'}")
        if self.work > MAX_WORK:
            raise ValueError(f"this run would read {self.work:,} training tokens; at most {MAX_WORK:,} "
                             "(fewer seeds, steps, distances or a smaller batch)")

    @property
    def work(self) -> int:
        """Training tokens read by the whole run (every cell, k and seed)."""
        return len(self.cells) * self.seeds * sum(self.k) * self.steps * self.batch_size

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "LabSettings":
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown lab settings: {', '.join(sorted(unknown))}")
        return cls(**{**d, **{key: tuple(d[key]) for key in ("k", "cells") if key in d}})


# --- how long a lab takes ------------------------------------------------------------------------
# Seconds per optimizer step of one run (embedding 8, hidden 32, batch 32) as a + b * k, fitted to the
# shipped 3-seed results' mean time per run (playground/results/lab.json, one torch thread on the
# project's shared 2-core machine): within 0.45-1.23x of each cell's six distances, the k = 5 runs
# (which include a first call's warm-up) the furthest off. Larger batches and hidden sizes scale b.
# Each cell's (a, b) is in its description (cells.Cell.lab_step_costs); SPEED scales them all.
SPEED = 1.0
RUN_FIXED_S = 0.25  # building the model and the first steps' warm-up: short runs measured 0.2-0.4 s more


def run_seconds(cell_name: str, k: int, s: "LabSettings") -> float:
    """Estimated seconds of one run (training and its TEST) on a quiet machine."""
    from playground.core.cells import cell

    a, b = (SPEED * x for x in cell(cell_name).lab_step_costs)
    scale = (s.batch_size / 32) * max(1.0, s.hidden_size / 32) * max(1.0, s.embed_dim / 8) ** 0.5
    test = b * k * s.n_test / 32 / 3  # a forward pass over n_test sequences: a third of a step per sequence
    return RUN_FIXED_S + s.steps * (a + b * k * scale) + test


def estimate_seconds(s: "LabSettings") -> float:
    """Estimated seconds of the whole grid (every cell, k and seed) on a quiet machine."""
    return s.seeds * sum(run_seconds(c, k, s) for k in s.k for c in s.cells)


def remaining(s: "LabSettings", finished: Sequence[tuple[str, int]], current: tuple[str, int, int] | None,
              elapsed: float) -> tuple[float, float]:
    """Live: (seconds left, measured pace as a multiple of the estimate), from the runs finished so far
    ((cell, k) pairs), the run going ((cell, k, steps done) or None) and the seconds elapsed. The pace
    is 1 until a tenth of the estimated work is done."""
    total = estimate_seconds(s)
    done = sum(run_seconds(c, k, s) for c, k in finished)
    if current is not None:
        c, k, step = current
        done += run_seconds(c, k, s) * min(1.0, step / max(1, s.steps))
    ratio = elapsed / done if done >= 0.1 * total and elapsed > 0 else 1.0
    return max(0.0, (total - done) * ratio), ratio


# --- the task ---------------------------------------------------------------------------------
def sample(rng: np.random.Generator, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n sequences of length k from rng: ids (n, k) int64, signal first; labels (n,) float32."""
    signal = rng.integers(0, 2, n)  # (n,) 0 = A, 1 = B
    ids = np.empty((n, k), dtype=np.int64)
    ids[:, 0] = np.where(signal == 0, SIGNAL_A, SIGNAL_B)
    ids[:, 1:] = rng.integers(3, 3 + N_DISTRACTORS, (n, k - 1))
    return ids, label_of(ids)


def label_of(ids: np.ndarray) -> np.ndarray:
    """The rule: label 1 when the signal, k positions before the end (the first token), is A."""
    return (ids[:, 0] == SIGNAL_A).astype(np.float32)


def make_task(k: int, n: int, seed) -> tuple[np.ndarray, np.ndarray]:
    """n sequences for distance k, the same for the same seed (an int or a list of ints)."""
    return sample(np.random.default_rng(seed), k, n)


def train_seed(seed: int, k: int) -> list[int]:
    """The seed of the training stream of (seed, k): every cell reads the same batches."""
    return [seed, k, 0]


def heldout_seed(seed: int, k: int) -> list[int]:
    """The seed of the held-out TEST set of (seed, k): another stream than training's."""
    return [seed, k, 1]


def token_names() -> list[str]:
    """Display names by token id."""
    return ["<pad>", "A", "B"] + [f"d{i + 1}" for i in range(N_DISTRACTORS)]


# --- one training run ---------------------------------------------------------------------------
@dataclass(frozen=True)
class LabEvent:
    kind: str  # "step" (every optimizer step) | "run" (a run finished) | "end" (everything, or stopped)
    cell: str
    k: int
    seed: int
    step: int  # optimizer steps done in this run
    steps: int  # of how many
    run: int  # runs finished before this one (0-based index of this run)
    runs: int  # of how many: cells x k x seeds
    loss: float | None  # "step": this step's mean training loss; "run": the last curve point's; "end": None
    grad_signal: float | None  # the same for the mean |d loss_i / d x_i| at the signal token
    elapsed: float  # seconds since the lab started
    test_accuracy: float | None = None  # at "run"
    result: dict | None = None  # at "end": aggregate() of the runs finished


@dataclass
class RunResult:
    cell: str
    k: int
    seed: int
    test_accuracy: float
    n_test: int
    steps: int  # steps done
    seconds: float
    curve: dict = field(default_factory=dict)  # step, loss, grad_signal, grad_last: lists of equal length

    def to_dict(self) -> dict:
        return asdict(self)


def _model(cell: str, k: int, s: LabSettings, seed: int) -> nn.Module:
    cfg = ModelConfig(arch=cell, vocab_size=3 + N_DISTRACTORS, embed_dim=s.embed_dim, hidden_size=s.hidden_size,
                      num_layers=1, dropout=0.0, max_len=max(k, 1))
    return build(cfg, seed=seed, init=s.init)


@torch.no_grad()
def accuracy_on(model: nn.Module, ids: np.ndarray, labels: np.ndarray, chunk: int = 500) -> float:
    """Share of sequences (ids (n, k)) whose verdict (logit > 0) matches the label, in chunks."""
    model.eval()
    right = 0
    for a in range(0, len(ids), chunk):
        logit = model(torch.from_numpy(ids[a:a + chunk]))  # (n,)
        right += int(((logit > 0).numpy() == (labels[a:a + chunk] > 0.5)).sum())
    return right / len(ids)


def iter_run(cell: str, k: int, seed: int, s: LabSettings) -> Iterator[tuple[int, float, float] | RunResult]:
    """Train one cell at distance k from seed: yields (step, loss, grad_signal) after every
    optimizer step, then the RunResult. Closing the generator between steps stops the run."""
    t0 = time.perf_counter()
    torch.set_flush_denormal(True)  # vanishing gradients make denormals, which are slow (as train.py)
    model = _model(cell, k, s, seed)
    opt = Optimizer("adam", model.parameters(), s.lr)
    # summed, so d loss / d x_i is sequence i's own; Adam's steps do not depend on that scale (but for its eps)
    loss_fn = nn.BCEWithLogitsLoss(reduction="sum")
    rng = np.random.default_rng(train_seed(seed, k))
    emb: dict = {}

    def keep(_module, _inp, out):  # out: (B, k, E), the embedding output the cell reads
        out.retain_grad()
        emb["x"] = out

    hook = model.embedding.register_forward_hook(keep)
    marks = sorted({1, *(round(s.steps * (j + 1) / POINTS) for j in range(POINTS))} - {0})
    curve = {"step": [], "loss": [], "grad_signal": [], "grad_last": []}
    window = np.zeros(3)  # sums of loss, grad_signal, grad_last since the last mark
    n_window = 0
    model.train()
    try:
        for step in range(1, s.steps + 1):
            ids, y = sample(rng, k, s.batch_size)  # (B, k), (B,)
            logit = model(torch.from_numpy(ids))  # (B,)
            loss = loss_fn(logit, torch.from_numpy(y))
            opt.zero_grad()
            loss.backward()
            g = emb["x"].grad  # (B, k, E)
            g_signal = float(g[:, 0].norm(dim=-1).mean())
            g_last = float(g[:, -1].norm(dim=-1).mean())
            clip_grad_norm_(opt.params, s.clip * s.batch_size)  # per sequence, as the loss is summed
            opt.step()
            mean_loss = float(loss.detach()) / s.batch_size
            if not math.isfinite(mean_loss):
                raise FloatingPointError(f"{cell} at k={k}, seed {seed}: the loss is not finite at step {step}")
            window += (mean_loss, g_signal, g_last)
            n_window += 1
            if step in marks:
                for key, v in zip(("loss", "grad_signal", "grad_last"), window / n_window):
                    curve[key].append(float(v))
                curve["step"].append(step)
                window[:] = 0
                n_window = 0
            yield step, mean_loss, g_signal
    finally:
        hook.remove()
    ids, y = make_task(k, s.n_test, heldout_seed(seed, k))
    yield RunResult(cell, k, seed, accuracy_on(model, ids, y), s.n_test, s.steps, time.perf_counter() - t0, curve)


def train_run(cell: str, k: int, seed: int, s: LabSettings) -> RunResult:
    """iter_run drained: one finished run."""
    for item in iter_run(cell, k, seed, s):
        if isinstance(item, RunResult):
            return item
    raise AssertionError("iter_run ends with its RunResult")


# --- the whole lab ------------------------------------------------------------------------------
def iter_lab(s: LabSettings, should_stop: Callable[[], bool] | None = None,
             threads: int | None = 1, deadline: float | None = None) -> Iterator[LabEvent]:
    """Every cell at every k for seeds 0 .. s.seeds - 1, seed-major (one seed's whole grid before
    the next seed). Yields a "step" event after every optimizer step, a "run" event when a run
    finishes and, last, an "end" event whose `result` aggregates the finished runs, with status
    "stopped" if should_stop() returned True (asked after every step) and "done" otherwise. A run
    cut short is left out. Closing the generator also stops it (then there is no "end" event).
    threads: torch threads while it runs (restored after; None leaves them as they are).
    deadline: time.perf_counter() seconds; the lab stops there like should_stop (status "cut")."""
    t0 = time.perf_counter()
    plan = [(seed, k, cell) for seed in range(s.first_seed, s.first_seed + s.seeds) for k in s.k for cell in s.cells]
    runs: list[RunResult] = []
    stopped = cut = False
    with torch_threads(threads):
        for i, (seed, k, cell) in enumerate(plan):
            for item in iter_run(cell, k, seed, s):
                if isinstance(item, RunResult):
                    runs.append(item)
                    yield LabEvent("run", cell, k, seed, item.steps, s.steps, i, len(plan), item.curve["loss"][-1],
                                   item.curve["grad_signal"][-1], time.perf_counter() - t0,
                                   test_accuracy=item.test_accuracy)
                    continue
                step, loss, g = item
                yield LabEvent("step", cell, k, seed, step, s.steps, i, len(plan), loss, g, time.perf_counter() - t0)
                if deadline is not None and time.perf_counter() >= deadline:
                    stopped = cut = True
                    break
                if should_stop is not None and should_stop():
                    stopped = True
                    break
            if stopped:
                break
        result = aggregate([r.to_dict() for r in runs], s)
        result["timings"]["machine"] = machine()  # with the lab's torch threads
    result["status"] = "cut" if cut else "stopped" if stopped else "done"
    result["timings"]["seconds"] = time.perf_counter() - t0
    ev = runs[-1] if runs else None
    yield LabEvent("end", ev.cell if ev else "", ev.k if ev else 0, ev.seed if ev else 0, ev.steps if ev else 0,
                   s.steps, len(runs), len(plan), None, None, time.perf_counter() - t0, result=result)


def run_lab(s: LabSettings, should_stop: Callable[[], bool] | None = None,
            on_progress: Callable[[LabEvent], None] | None = None, threads: int | None = 1) -> dict:
    """iter_lab drained: on_progress(event) for every event; returns the aggregated result."""
    result = {}
    for ev in iter_lab(s, should_stop, threads):
        if on_progress is not None:
            on_progress(ev)
        if ev.kind == "end":
            result = ev.result
    return result


# --- aggregation --------------------------------------------------------------------------------
def chance_distance(ks: Sequence[int], accuracy: Sequence[float | None]) -> int | None:
    """The smallest k whose mean TEST accuracy is <= CHANCE_ACCURACY, or None."""
    for k, a in zip(ks, accuracy):
        if a is not None and a <= CHANCE_ACCURACY:
            return k
    return None


def aggregate(runs: Sequence[dict], settings: LabSettings | dict | None = None) -> dict:
    """Per-run dicts (RunResult.to_dict()) -> the lab's result, plain JSON-ready:
    k: the distances found, ascending; cells: in ARCHS order; seeds: the seeds found;
    accuracy: cell -> per k the mean TEST accuracy over seeds (None where no run);
    spread: cell -> per k [min, max] over seeds; per_seed: cell -> per k the accuracies, seed order;
    chance_distance: cell -> the smallest k whose mean is <= CHANCE_ACCURACY, or None;
    curves: cell -> per k {step, loss, grad_signal, grad_last: the median over seeds at each
    point; grad_signal_min, grad_signal_max: over seeds} (the gradients of different seeds can be
    orders of magnitude apart, so a mean would show one seed);
    timings: per_run (cell -> per k mean seconds), per_seed (seconds of each seed's runs), total;
    settings; runs: every run with its own curve."""
    s = settings.to_dict() if isinstance(settings, LabSettings) else dict(settings or {})
    ks = sorted({int(r["k"]) for r in runs})
    seeds = sorted({int(r["seed"]) for r in runs})
    cells = [c for c in ARCHS if any(r["cell"] == c for r in runs)]
    by: dict[tuple[str, int], list[dict]] = {}
    for r in sorted(runs, key=lambda r: r["seed"]):
        by.setdefault((r["cell"], int(r["k"])), []).append(r)
    out = {"k": ks, "cells": cells, "seeds": seeds, "chance_accuracy": CHANCE_ACCURACY, "accuracy": {},
           "spread": {}, "per_seed": {}, "chance_distance": {}, "curves": {}}
    per_run = {}
    for c in cells:
        acc, spread, per_seed, curves, secs = [], [], [], [], []
        for k in ks:
            rs = by.get((c, k), [])
            a = [float(r["test_accuracy"]) for r in rs]
            acc.append(float(np.mean(a)) if a else None)
            spread.append([min(a), max(a)] if a else None)
            per_seed.append(a)
            secs.append(float(np.mean([r["seconds"] for r in rs])) if rs else None)
            curves.append(_median_curve([r.get("curve") for r in rs]))
        out["accuracy"][c], out["spread"][c], out["per_seed"][c] = acc, spread, per_seed
        out["chance_distance"][c] = chance_distance(ks, acc)
        out["curves"][c], per_run[c] = curves, secs
    out["timings"] = {"per_run": per_run,
                      "per_seed": [float(sum(r["seconds"] for r in runs if r["seed"] == sd)) for sd in seeds],
                      "total": float(sum(r["seconds"] for r in runs))}
    out["settings"] = s
    out["runs"] = [dict(r) for r in runs]
    return out


def _median_curve(curves: list[dict | None]) -> dict | None:
    curves = [c for c in curves if c and c.get("step")]
    if not curves:
        return None
    n = min(len(c["step"]) for c in curves)
    out = {"step": list(curves[0]["step"][:n])}
    for key in ("loss", "grad_signal", "grad_last"):
        out[key] = np.median([c[key][:n] for c in curves], axis=0).tolist()  # (n,)
    g = np.array([c["grad_signal"][:n] for c in curves])  # (seeds, n)
    out["grad_signal_min"], out["grad_signal_max"] = g.min(axis=0).tolist(), g.max(axis=0).tolist()
    return out


def summary(result: dict) -> list[str]:
    """One sentence per cell, computed from the result: where its mean TEST accuracy first falls to
    chance (<= CHANCE_ACCURACY), or that it never does on these distances."""
    lines = []
    n = len(result.get("seeds", []))
    over = f"mean over {n} seed{'s' if n != 1 else ''}"
    for c in result["cells"]:
        title = ARCH_TITLES[c]
        kc = result["chance_distance"][c]
        if kc is None:
            lines.append(f"{title}: above {CHANCE_ACCURACY:g} TEST accuracy at every k up to {max(result['k'])} "
                         f"({over}).")
        else:
            i = result["k"].index(kc)
            lines.append(f"{title}: falls to chance at k = {kc}, TEST accuracy {result['accuracy'][c][i]:.3f} "
                         f"({over}; <= {CHANCE_ACCURACY:g} counts as chance).")
    return lines


def init_gradient_shares(result: dict) -> dict[str, list[float | None]]:
    """cell -> per k the gradient reaching the signal token at the first step as a share of the one at
    the last token (medians over seeds); None where it was 0 (below float32's range) or not run."""
    out = {}
    for c in result["cells"]:
        row = []
        for cv in result["curves"][c]:
            if not cv or not cv.get("grad_last") or not cv["grad_last"][0]:
                row.append(None)
                continue
            share = cv["grad_signal"][0] / cv["grad_last"][0]
            row.append(share if share > 0 else None)
        out[c] = row
    return out


def lesson(result: dict) -> str:
    """What the lab's numbers say about the textbook lesson (a cell without gates fails first), from the
    numbers: which cell falls to chance first, whether that is the textbook order, and how much gradient
    reached the signal at the first step at a middle distance."""
    from playground.core.cells import cell

    cd, ks = result["chance_distance"], list(result["k"])
    if not ks:
        return ""
    inf = float("inf")
    at = {c: inf if cd[c] is None else cd[c] for c in result["cells"]}
    plain = [c for c in result["cells"] if not cell(c).has_gates]
    gated = [c for c in result["cells"] if cell(c).has_gates]
    falls = sorted((c for c in result["cells"] if cd[c] is not None), key=lambda c: at[c])
    words = []
    if not falls:
        words.append(f"No cell falls to chance at any k up to {max(ks)}.")
    else:
        first = [c for c in falls if cd[c] == cd[falls[0]]]
        names = " and the ".join(ARCH_TITLES[c] for c in first)
        words.append(f"Here the first {'cell' if len(first) == 1 else 'cells'} to fall to chance "
                     f"{'is' if len(first) == 1 else 'are'} the {names} (at k = {cd[first[0]]}).")
    if plain and gated and falls:
        textbook = max(at[c] for c in plain) < min(at[c] for c in gated)
        words.append("That is the textbook order: the cell without gates fails first." if textbook else
                     "That is not the textbook order, in which the cell without gates fails first; these are the "
                     "runs as measured.")
    shares = init_gradient_shares(result)
    mid = next((k for k in (50, 20, 100) if k in ks), ks[len(ks) // 2])
    i = ks.index(mid)
    parts = [f"{ARCH_TITLES[c]} {shares[c][i]:.2g}" if shares[c][i] is not None else f"{ARCH_TITLES[c]} 0"
             for c in result["cells"]]
    words.append(f"At k = {mid}, the gradient reaching the signal at the first step is, as a share of the last "
                 f"token's: {', '.join(parts)}.")
    known = {c: shares[c][i] for c in result["cells"] if shares[c][i] is not None}
    if plain and gated and falls and not textbook and known and max(known, key=known.get) in plain:
        start = (" (Keras' orthogonal recurrent weights)"
                 if result.get("settings", {}).get("init", "keras") == "keras" else "")
        words.append(f"The cell without gates starts with the most of it{start}, so it does not have to learn "
                     "against a vanishing gradient here.")
    return " ".join(words)


def initial_keep(cell_name: str, s: LabSettings | None = None, k: int = 50, n: int = 32, seed: int = 0) -> float | None:
    """The cell's keep gate (cells.Keep: LSTM f, GRU z) before any training: its mean over every unit, step and
    sequence of one batch of n lab sequences of length k, the network built as a lab run builds it (seed 0,
    s.init). None for a cell without a keep gate."""
    from playground.core.cells import cell
    from playground.core.text import Encoded
    from playground.core.trace import trace_ids

    keep = cell(cell_name).keep
    if keep is None:
        return None
    s = s or LabSettings()
    model = _model(cell_name, k, s, seed)
    ids, _ = make_task(k, n, train_seed(seed, k))  # (n, k)
    names = token_names()
    vals = [trace_ids(model, Encoded(tuple(int(i) for i in row), tuple(names[i] for i in row), (False,) * k, k))
            .last.gates[keep.gate].mean() for row in ids]
    return float(np.mean(vals))


def machine() -> dict:
    return {"torch": torch.__version__, "python": platform.python_version(), "machine": platform.machine(),
            "torch_threads": torch.get_num_threads()}


def load_shipped(path: Path | str = SHIPPED) -> dict | None:
    """The shipped results (SHIPPED_COMMAND), or None, never an exception, if the file is missing,
    not JSON or not shaped like a lab result."""
    try:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        ks = d["k"]
        ok = (isinstance(ks, list) and ks and all(isinstance(k, int) for k in ks)
              and isinstance(d["settings"], dict) and isinstance(d["curves"], dict)
              and all(len(d[key][c]) == len(ks) for key in ("accuracy", "spread") for c in d["cells"])
              and set(d["chance_distance"]) == set(d["cells"]))
    except (OSError, ValueError, UnicodeDecodeError, KeyError, TypeError):
        return None
    return d if ok else None
