"""How long a recipe's training will take, said before it starts, and what a time cap allows.

`workload(recipe)` counts the work of one epoch exactly as the trainer will meet it: the rows
(the seeded TRAIN sample, minus validation, repeated, plus the mixed-in rows), their token
counts at `max_len`, the length-bucketed batches (`train.make_batches` without the jitter) with
their padded tokens and sequential steps, and the validation passes. `estimate(recipe, cap)`
prices that work with per-cell costs fitted to measured training runs (see COSTS) and says how
many epochs fit in `cap` seconds. The cap is checked by the trainer against its own clock,
which starts after the data is read: so is the estimate (reading the data is not counted).
"""
from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

import numpy as np

from . import data
from .augment import token_counts as augmented_counts
from .cells import cell
from .recipes import VAL_SEED_OFFSET, Recipe, sample_rows
from .text import tokenize

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
    w, n_in, params = 0, cfg.embed_dim, cfg.vocab_size * cfg.embed_dim + cfg.hidden_size + 1
    for _ in range(cfg.num_layers):
        w += c.n_blocks * cfg.hidden_size * (n_in + cfg.hidden_size)
        params += c.params_per_layer(n_in, cfg.hidden_size)
        n_in = cfg.hidden_size
    return Workload(rows=len(train), batches=n_b, steps=steps, padded_tokens=padded, tokens=int(train.sum()),
                    val_rows=len(val), val_tokens=int(val.sum()),
                    val_steps=val_steps, val_padded_tokens=val_padded, evals_per_epoch=tc.evals_per_epoch,
                    params=params, recurrent_weights=w, layers=cfg.num_layers, embed_dim=cfg.embed_dim,
                    ema=tc.ema > 0)


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
