"""How long a recipe's training will take, said before it starts, and what a time cap allows.

`workload(recipe)` counts the work of one epoch exactly as the trainer will meet it: the rows
(the seeded TRAIN sample, minus validation, repeated, plus the mixed-in rows), their token
counts at `max_len`, the length-bucketed batches (`train.make_batches` without the jitter) with
their padded tokens and sequential steps, and the validation passes. `estimate(recipe, cap)`
prices that work with per-cell costs fitted to measured training runs (see COSTS) and says how
many epochs fit in `cap` seconds of training (reading the data is not counted there).

A capped run holds its cap end to end (recipes.Job with a deadline: reading the data, training, TEST).
`plan(recipe, cap)` prices the parts that do not shrink with the cap (reading the data, a validation
pass, the first TEST rows) so that a cap too short is refused before the run starts, and
`promise(recipe, cap)` says at the click how long the whole run should take and how many epochs fit,
times the slowdown the machine's load implies now (`load_slowdown`); while it runs, `pace_ratio` and
`remaining_seconds` correct that from the measured pace.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import asdict, dataclass

import numpy as np

from playground.core import data
from playground.core.cells import cell
from playground.core.text import tokenize
from playground.evaluation.heldout import sample_rows
from playground.training.augment import token_counts as augmented_counts
from playground.training.budget import RUN_BYTES, Memory, run_memory
from playground.training.recipes import VAL_SEED_OFFSET, Recipe
from playground.training.train import FIRST_SAMPLE_ROWS

VAL_BATCH = 256  # train.evaluate's batch size
# Seconds, fitted by non-negative least squares (each run weighted by 1 / its time) to 24 training
# runs of the real Trainer on the real data with one torch thread, on the project's shared 2-core
# machine, taking each setting's fastest of one to two runs (a quiet machine's pace): the fit is
# within 0.89-1.24x of every run. Per batch: one cost per parameter (the optimizer's update; twice
# with the moving average). Per padded token: one per embedding dimension (look-up, dropout, the
# embedding's gradient) and one per recurrent weight (W = blocks * hidden * (inputs + hidden),
# summed over layers). Per sequential step of a batch and layer: the fused layer's own overhead.
# The two per-cell costs ("step", "token_weight") live in each cell's description
# (cells.Cell.train_costs); a cell without fitted costs is priced as the slowest of the three.
COSTS = {
    "batch": 0.0,
    "param": 1.39e-9,
    "token_embed": 3.81e-8,
}
# The same setting measured again while the other engineers' work loaded the machine took up to
# 2.1x as long (an IMDB GRU: 3.1 s and 6.6 s per epoch), and whole runs of the Train page's recipe
# under that load 1.4-1.95x as long as estimated: a busy server may be about twice as slow.
BUSY_FACTOR = 2.0


@functools.lru_cache(maxsize=2)
def token_counts(dataset: str) -> np.ndarray:
    """Tokens in every TRAIN row of `dataset`, in file order (an empty text reads one padding
    token). Tokenising IMDB TRAIN takes a few seconds once per process; the parsed file is
    forgotten again if it was not loaded before."""
    was_loaded = data.load.cache_info().currsize > 0
    counts = np.array([max(1, len(tokenize(t))) for t in data.load(dataset, "train").texts], dtype=np.int64)
    if not was_loaded:
        data.clear_cache()
    return counts


def _batches(lengths: np.ndarray, batch_size: int) -> tuple[int, int, int]:
    """(batches, sequential steps, padded tokens) of length-bucketed batches."""
    s = np.sort(lengths)
    if not len(s):
        return 0, 0, 0
    maxes = s[np.minimum(np.arange(batch_size, len(s) + batch_size, batch_size), len(s)) - 1]
    sizes = np.diff(np.minimum(np.arange(0, len(s) + batch_size, batch_size), len(s)))
    sizes = sizes[sizes > 0]
    return len(maxes), int(maxes.sum()), int((maxes * sizes).sum())


@dataclass(frozen=True)
class Workload:
    rows: int  # training rows per epoch
    batches: int
    steps: int  # sum over batches of the longest row: the recurrence's sequential steps
    padded_tokens: int  # sum over batches of rows * longest row
    tokens: int  # tokens of the training rows (no padding)
    val_rows: int
    val_tokens: int  # tokens of the validation rows
    val_steps: int  # per validation pass
    val_padded_tokens: int
    evals_per_epoch: int
    params: int  # every trained parameter (the vocabulary at its maximum size)
    recurrent_weights: int  # W: blocks * hidden * (inputs + hidden), summed over layers
    layers: int
    embed_dim: int
    ema: bool

    def to_dict(self) -> dict:
        return asdict(self)


def workload(recipe: Recipe) -> Workload:
    """One epoch's work for `recipe` (ValueError for a recipe starting from another model)."""
    if recipe.init_from:
        raise ValueError("no estimate for a run that starts from another model")
    cfg, tc = recipe.model, recipe.train
    counts = token_counts(recipe.dataset)
    if recipe.train_limit:
        counts = counts[sample_rows(len(counts), recipe.train_limit, tc.seed)]
    tr_idx, val_idx = data.train_val_split(len(counts), recipe.val_fraction, tc.seed)
    primary = np.minimum(counts, cfg.max_len)
    train = np.tile(primary[tr_idx], max(1, recipe.primary_repeat))
    if recipe.mix:
        mix = token_counts(recipe.mix)
        if recipe.mix_limit:
            mix = mix[sample_rows(len(mix), recipe.mix_limit, tc.seed + 1)]
        train = np.concatenate([train, np.minimum(mix, recipe.mix_max_len or cfg.max_len)])
    if recipe.augment:
        train = np.concatenate([train, np.minimum(augmented_counts(recipe.augment, tc.seed), cfg.max_len)])
    val = primary[val_idx]
    if recipe.val_augment and len(val):
        val = np.concatenate([val, np.minimum(augmented_counts(recipe.val_augment, tc.seed + VAL_SEED_OFFSET),
                                              cfg.max_len)])
    n_b, steps, padded = _batches(train, tc.batch_size)
    _, val_steps, val_padded = _batches(val, VAL_BATCH)
    c = cfg.cell
    w, n_in, params = recurrent_weights(cfg), cfg.embed_dim, cfg.vocab_size * cfg.embed_dim + cfg.hidden_size + 1
    for _ in range(cfg.num_layers):
        params += c.params_per_layer(n_in, cfg.hidden_size)
        n_in = cfg.hidden_size
    return Workload(rows=len(train), batches=n_b, steps=steps, padded_tokens=padded, tokens=int(train.sum()),
                    val_rows=len(val), val_tokens=int(val.sum()),
                    val_steps=val_steps, val_padded_tokens=val_padded, evals_per_epoch=tc.evals_per_epoch,
                    params=params, recurrent_weights=w, layers=cfg.num_layers, embed_dim=cfg.embed_dim,
                    ema=tc.ema > 0)


def recurrent_weights(cfg) -> int:
    """W: blocks * hidden * (inputs + hidden), summed over the layers (what COSTS' token_weight prices)."""
    w, n_in = 0, cfg.embed_dim
    for _ in range(cfg.num_layers):
        w += cfg.cell.n_blocks * cfg.hidden_size * (n_in + cfg.hidden_size)
        n_in = cfg.hidden_size
    return w


def features(w: Workload, arch: str) -> dict[str, float]:
    """The quantities COSTS prices, for one epoch. Validation reads forward only: a third of a
    training step's work per step and token."""
    val = w.evals_per_epoch * (w.val_rows > 0) / 3
    return {"batch": w.batches, "param": w.batches * w.params * (2 if w.ema else 1),
            "token_embed": (w.padded_tokens + val * w.val_padded_tokens) * w.embed_dim,
            "step": (w.steps + val * w.val_steps) * w.layers,
            "token_weight": (w.padded_tokens + val * w.val_padded_tokens) * w.recurrent_weights}


def epoch_seconds(w: Workload, arch: str, costs: dict = COSTS) -> float:
    prices = {**costs, **cell(arch).train_costs}
    return sum(x * prices[name] for name, x in features(w, arch).items())


@dataclass(frozen=True)
class Estimate:
    epochs: int
    epoch_seconds: float  # estimated training seconds per epoch (validation included)
    seconds: float  # for every epoch asked for, ignoring the cap
    cap: float | None  # the time cap in seconds (None: no cap)
    epochs_in_cap: float  # epochs that fit in the cap at the estimated pace (= epochs if all fit)
    fits: bool  # every epoch fits in the cap at the estimated (quiet server's) pace
    fits_when_busy: bool  # ... even BUSY_FACTOR times slower
    busy_factor: float

    @property
    def epochs_in_cap_when_busy(self) -> float:
        """Epochs that fit in the cap at BUSY_FACTOR times the estimated time per epoch."""
        if self.cap is None or self.epoch_seconds <= 0:
            return float(self.epochs)
        return min(float(self.epochs), self.cap / (self.epoch_seconds * self.busy_factor))

    @property
    def capped_seconds(self) -> float:
        """What the run will take at most: the estimate, never more than the cap."""
        return self.seconds if self.cap is None else min(self.seconds, self.cap)

    def to_dict(self) -> dict:
        return {**asdict(self), "capped_seconds": self.capped_seconds,
                "epochs_in_cap_when_busy": self.epochs_in_cap_when_busy}


def estimate(recipe: Recipe, cap: float | None = None) -> Estimate:
    """Estimated training time of `recipe` and what `cap` seconds allow (cap None: the
    recipe's own max_seconds)."""
    cap = recipe.train.max_seconds if cap is None else cap
    per = epoch_seconds(workload(recipe), recipe.model.arch)
    epochs = recipe.train.epochs
    total = per * epochs
    fit = epochs if cap is None or per <= 0 else min(float(epochs), cap / per)
    return Estimate(epochs=epochs, epoch_seconds=per, seconds=total, cap=cap, epochs_in_cap=fit,
                    fits=cap is None or total <= cap, fits_when_busy=cap is None or total * BUSY_FACTOR <= cap,
                    busy_factor=BUSY_FACTOR)


def remaining_seconds(elapsed: float, epochs_done: float, epochs: int, cap: float | None) -> tuple[float, bool]:
    """Live: (seconds left at the pace so far, whether the cap ends the run first), from the
    training seconds so far and the (fractional) epochs done. Never more than the cap allows."""
    left = math.inf if epochs_done <= 0 else elapsed / epochs_done * max(0.0, epochs - epochs_done)
    if cap is None or elapsed + left <= cap:
        return max(0.0, left), False
    return max(0.0, cap - elapsed), True


def race(recipe: Recipe, archs, cap: float | None) -> dict[str, Estimate]:
    """A race's estimates: every cell of `archs` on the same data, each with a third (1/len) of `cap`."""
    from dataclasses import replace

    share = None if cap is None else cap / len(archs)
    return {a: estimate(replace(recipe, model=replace(recipe.model, arch=a)), share) for a in archs}


# --- a capped run end to end: what must fit before training can start -------------------------------
# Reading the data (parsing the file, building the vocabulary, encoding every row read) took 1.2 s
# for 2,000 IMDB TRAIN reviews, 4.2 s for the Train page's default (RT plus 6,000 IMDB reviews) and
# 10.5 s for all 20,000 IMDB reviews (26.6 M characters) on the 2-core machine, quiet: 3.9-4.9e-7 s
# per character read. Starting `python -m playground` (torch and the library) took about 2 s.
# (2026-12-07: with the faster tokenizer, all 20,000 IMDB reviews read in 4.8-4.9 s quiet against 6.2-6.9 s
# before in the same run, about 1.8e-7 s per character; beside two busy processes reading took 22 s before.
# DATA_PER_CHAR stays: reading cannot be cut short by the deadline, so its estimate errs long.)
DATA_FIXED_S = 0.5
DATA_PER_CHAR = 5e-7
STARTUP_S = 2.5
CHARS_PER_TOKEN = {"imdb": 5.6, "rt": 6.0}  # measured on both splits of each dataset
MIN_TRAIN_SHARE = 0.2  # a capped run is refused when less than this share of the cap is left to train


SLOWDOWN_TTL_S = 10.0  # a measured slowdown is reused this long (the Train page asks on every rerun)
_SLOWDOWN: dict[str, float] = {}


def load_slowdown(cache_s: float = SLOWDOWN_TTL_S) -> float:
    """How much slower training runs on this machine now than COSTS price it, measured: one small GRU
    training step (batch 64 x 25 tokens, embedding and hidden 64, Adam) on one torch thread, timed five
    times after a warm-up (the median, about 0.05-0.2 s in all), against the price the same cost model
    gives that step, or the load average's figure if larger (`_loadavg_slowdown`). The step sees what the
    load average cannot: other tenants of the host (on the project's shared machine the same step took
    10 ms one day and 37 ms another, with the machine idle inside). Once this process has finished runs,
    the median of their measured paces (`record_pace`) comes first. At least 1. PLAYGROUND_SLOWDOWN=x
    pins it (tests that must not depend on the machine's mood)."""
    import os

    pinned = os.environ.get("PLAYGROUND_SLOWDOWN")
    if pinned:
        try:
            return max(1.0, float(pinned))
        except ValueError:
            pass
    now = time.monotonic()
    recent = [r for at, r in _PACES if now - at < PACE_TTL_S]
    if recent:  # what this process's own runs measured lately is the best guess
        return max(1.0, float(np.median(recent)))
    if _SLOWDOWN and now - _SLOWDOWN["at"] < cache_s:
        return _SLOWDOWN["value"]
    value = max(1.0, _calibration_seconds() / _calibration_price(), _loadavg_slowdown())
    _SLOWDOWN.update(at=now, value=value)
    return value


def _loadavg_slowdown() -> float:
    """From the 1-minute load average: with L runnable tasks on C cores, one more gets about C / (L + 1)
    of a core. A short calibration step sees less of a steady load than a long run does (the scheduler
    favours a task that just woke up), so the larger of the two is taken."""
    import os

    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):
        return 1.0
    return max(1.0, (load + 1.0) / max(1, os.cpu_count() or 1))


PACE_TTL_S = 600.0  # a run's measured pace informs the next promises this long
_PACES: list[tuple[float, float]] = []  # (time.monotonic(), measured / estimated seconds per epoch)


def record_pace(ratio: float) -> None:
    """A finished run's measured training time per epoch over the estimate (pace_ratio): the next
    promises (load_slowdown) start from the median of the last ones, not from the calibration step."""
    if ratio and math.isfinite(ratio) and ratio > 0:
        _PACES.append((time.monotonic(), float(ratio)))
        del _PACES[:-8]


CALIBRATION = {"vocab": 2000, "embed": 64, "hidden": 64, "batch": 64, "tokens": 25}


def _calibration_seconds() -> float:
    import torch

    from playground.core.models import ModelConfig, build
    from playground.training.optim import Optimizer
    from playground.training.train import torch_threads

    c = CALIBRATION
    cfg = ModelConfig(arch="gru", vocab_size=c["vocab"], embed_dim=c["embed"], hidden_size=c["hidden"],
                      num_layers=1, dropout=0.0, max_len=c["tokens"])
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(2, c["vocab"], (c["batch"], c["tokens"]), generator=g)
    y = (torch.rand(c["batch"], generator=g) > 0.5).float()
    took = []
    with torch_threads(1):
        model = build(cfg, seed=0)
        opt = Optimizer("adam", model.parameters(), 1e-3)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        for i in range(6):
            t0 = time.perf_counter()
            loss = loss_fn(model(ids), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i:  # the first is a warm-up
                took.append(time.perf_counter() - t0)
    return float(np.median(took))


def _calibration_price() -> float:
    """COSTS' price of one calibration step (a training batch: its parameters, tokens and steps)."""
    c = CALIBRATION
    h, e = c["hidden"], c["embed"]
    gru = cell("gru")
    prices = {**COSTS, **gru.train_costs}
    params = c["vocab"] * e + gru.params_per_layer(e, h) + h + 1
    tokens = c["batch"] * c["tokens"]
    return (prices["param"] * params + prices["token_embed"] * tokens * e
            + prices["token_weight"] * tokens * gru.n_blocks * h * (e + h) + prices["step"] * c["tokens"])


@functools.lru_cache(maxsize=4)
def char_counts(dataset: str, split: str) -> np.ndarray:
    """Characters of every row of a split, in file order (the parsed file is forgotten again if it
    was not loaded before, as in token_counts)."""
    was_loaded = data.load.cache_info().currsize > 0
    counts = np.array([len(t) for t in data.load(dataset, split).texts], dtype=np.int64)
    if not was_loaded:
        data.clear_cache()
    return counts


def _chars(dataset: str, split: str, limit: int | None, seed: int) -> np.ndarray:
    lengths = char_counts(dataset, split)
    return lengths[sample_rows(len(lengths), limit, seed)] if limit else lengths


def forward_seconds(recipe: Recipe, tokens: float, rows: int) -> float:
    """A forward pass over `rows` rows holding `tokens` tokens (read in batches of VAL_BATCH): a third
    of a training step's price per token and step, as `features` prices validation."""
    cfg = recipe.model
    c = cell(cfg.arch)
    prices = {**COSTS, **c.train_costs}
    per_token = prices["token_embed"] * cfg.embed_dim + prices["token_weight"] * recurrent_weights(cfg)
    steps = math.ceil(rows / VAL_BATCH) * cfg.max_len * cfg.num_layers
    return (tokens * per_token + steps * prices["step"]) / 3


@dataclass(frozen=True)
class Plan:
    """The parts of a capped run that do not shrink with the cap, priced before it starts: reading
    the data, one validation pass, the first TEST chunk, and (on the command line) starting Python.
    Times are a quiet machine's, then multiplied by `slowdown` (the load when it was made); `startup`
    is what the process already spent before the plan (measured, so not scaled)."""

    cap: float
    startup: float
    data: float
    validation: float
    test_first: float  # the first FIRST_SAMPLE_ROWS TEST rows, read whatever the cap
    test_all: float  # every TEST row the run would read, tokenising them included
    slowdown: float

    @property
    def fixed(self) -> float:
        return self.startup + (self.data + self.validation + self.test_first) * self.slowdown

    @property
    def fits(self) -> bool:
        return self.fixed <= (1 - MIN_TRAIN_SHARE) * self.cap

    def refusal(self, cli: bool = True) -> str | None:
        """None, or one sentence: why these settings cannot run in the cap, and what to change (in the
        command line's flags, or the Train page's words)."""
        if self.fits:
            return None
        parts = {"reading the data": self.data, "one validation pass": self.validation,
                 "the first TEST rows": self.test_first}
        big = max(parts, key=parts.get)
        tips = {"reading the data": ("train on fewer rows (--limit, --mix-limit)", "fewer training rows"),
                "one validation pass": ("a smaller --val-fraction, a shorter --max-len or a smaller network",
                                        "a shorter maximum length or a smaller network"),
                "the first TEST rows": ("a shorter --max-len or a smaller network",
                                        "a shorter maximum length or a smaller network")}[big][0 if cli else 1]
        busy = f" (the machine is busy: {self.slowdown:.1f}x a quiet one's time)" if self.slowdown > 1.05 else ""
        what = "starting, reading" if cli and self.startup > 0 else "reading"
        ask = (f"Give --max-seconds at least {math.ceil(self.fixed / (1 - MIN_TRAIN_SHARE))}, or {tips}" if cli
               else f"Try {tips}")
        return (f"a {self.cap:g} s cap is too short for these settings: about {self.fixed:.0f} s go to {what} "
                f"the data, validating and measuring on TEST{busy}, most of it to {big} "
                f"(about {parts[big] * self.slowdown:.0f} s), leaving less than {MIN_TRAIN_SHARE:.0%} of the cap "
                f"to train. {ask}.")

    def to_dict(self) -> dict:
        return {**asdict(self), "fixed": self.fixed, "fits": self.fits}


def plan(recipe: Recipe, cap: float, startup: float = STARTUP_S, slowdown: float | None = None,
         test_limit: int | None = None) -> Plan:
    """A capped run's fixed costs (see Plan), from the characters of the texts it will read (no
    tokenising: that would cost as much as reading the data)."""
    tc, cfg = recipe.train, recipe.model
    ds = recipe.dataset
    chars = _chars(ds, "train", recipe.train_limit, tc.seed)
    read = int(chars.sum())
    if recipe.mix:
        read += int(_chars(recipe.mix, "train", recipe.mix_limit, tc.seed + 1).sum())
    tokens = lambda c: float(np.minimum(c / CHARS_PER_TOKEN[ds] + 1, cfg.max_len).sum())  # noqa: E731
    n_val = int(round(len(chars) * recipe.val_fraction))
    val_chars = chars[:n_val]  # a sample's lengths stand for the validation rows'
    test = _chars(ds, "test", test_limit, 0)
    first = test[np.random.default_rng(0).permutation(len(test))[:FIRST_SAMPLE_ROWS]]
    return Plan(cap=float(cap), startup=startup,
                data=DATA_FIXED_S + DATA_PER_CHAR * read + 7e-5 * (recipe.augment + recipe.val_augment),
                validation=forward_seconds(recipe, tokens(val_chars), n_val),
                test_first=forward_seconds(recipe, tokens(first), len(first)),
                test_all=forward_seconds(recipe, tokens(test), len(test)) + DATA_PER_CHAR * int(test.sum()),
                slowdown=load_slowdown() if slowdown is None else slowdown)


@dataclass(frozen=True)
class Promise:
    """What a capped run promises when it starts: its phases on a quiet machine, the slowdown judged
    from the load at the click, and from those the seconds and epochs it expects under the cap."""

    cap: float
    data: float  # quiet-machine seconds
    epoch: float
    test: float
    epochs: int  # asked for
    slowdown: float

    @property
    def quiet_seconds(self) -> float:
        return self.data + self.epochs * self.epoch + self.test

    @property
    def epochs_fit(self) -> float:
        """Epochs that fit in the cap at the slowdown, after the data and TEST."""
        room = self.cap - (self.data + self.test) * self.slowdown
        return float(self.epochs) if self.epoch <= 0 else max(0.0, min(float(self.epochs),
                                                                     room / (self.epoch * self.slowdown)))

    @property
    def seconds(self) -> float:
        """Expected seconds from the start to the result, never more than the cap."""
        return min(self.cap, self.quiet_seconds * self.slowdown)

    def to_dict(self) -> dict:
        return {**asdict(self), "quiet_seconds": self.quiet_seconds, "epochs_fit": self.epochs_fit,
                "seconds": self.seconds}


def promise(recipe: Recipe, cap: float, test_limit: int | None = None, slowdown: float | None = None,
            priced: Plan | None = None) -> Promise:
    """The Promise of `recipe` under `cap` seconds, made now (slowdown: load_slowdown() unless given).
    `priced`: the recipe's Plan under this cap and test_limit when the caller has one (its quiet-machine
    phases are what the promise needs; pricing them again counts the data's tokens again)."""
    p = plan(recipe, cap, startup=0.0, slowdown=1.0, test_limit=test_limit) if priced is None else priced
    return Promise(cap=float(cap), data=p.data, epoch=epoch_seconds(workload(recipe), recipe.model.arch),
                   test=p.test_all, epochs=recipe.train.epochs,
                   slowdown=load_slowdown() if slowdown is None else slowdown)


def pace_ratio(elapsed: float, epochs_done: float, epoch: float) -> float | None:
    """Live: the measured time per epoch as a multiple of the estimate (None until a twentieth of an
    epoch is done: the first batches include warm-up)."""
    if epochs_done < 0.05 or epoch <= 0 or elapsed <= 0:
        return None
    return elapsed / epochs_done / epoch


# --- what a run will hold in memory (budget.py prices it) -------------------------------------------
def recipe_memory(recipe, budget: int = RUN_BYTES) -> Memory:
    """budget.run_memory for a Recipe, counting its rows and tokens as the trainer will meet them
    (`workload`: the seeded sample, the mixed-in rows, cut to max_len). It lives here, not in budget.py,
    because it needs the recipe's workload (recipes -> train -> budget must not lead back)."""
    w = workload(recipe)
    tokens = w.tokens + w.val_tokens
    return run_memory(recipe.model, recipe.train.optimizer, recipe.train.ema > 0, recipe.train.batch_size,
                      w.rows + w.val_rows, tokens, budget)


# A race of three cells on IMDB (SimpleRNN, LSTM, GRU one after another, each cell's Job freed before
# the next) peaked 1.17x above the estimate of its largest cell alone: counted as 1.25x.
RACE_FACTOR = 1.25


def race_memory(recipe, archs, budget: int = RUN_BYTES) -> Memory:
    """A race's estimate: its largest cell's, times RACE_FACTOR."""
    from dataclasses import replace

    cells = [recipe_memory(replace(recipe, model=replace(recipe.model, arch=a)), budget) for a in archs]
    return replace(max(cells, key=lambda m: m.total), factor=RACE_FACTOR)
