"""The training loop shared by the command line and the Train page. No UI inside.

`Trainer.run()` is a generator of `Progress` events (per batch, per validation, per epoch, end).
It can be stopped between batches (a `should_stop` callable, a time cap, or simply closing the
generator), always leaves the model holding the best weights seen on validation (or, with no
validation set, the final weights; with `ema` > 0 their moving average), stops a diverging run
(NaN/inf loss) with a clear message, and is reproducible from a seed. The update rules are in
`optim.py`; clipping and weight averaging are torch's own (`clip_grad_norm_`, `AveragedModel`).
Batches are bucketed by length and right-padded, so little work is spent on padding.
"""
from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn.utils import clip_grad_norm_
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from playground.core.text import PAD_ID, UNK_ID, Vocab
from playground.training.budget import EVAL_MAX_ROWS, eval_rows
from playground.training.optim import OPTIMIZERS, Optimizer

# A run is diverging when its loss is not finite, or when the mean of the last DIVERGE_WINDOW
# batch losses exceeds DIVERGE_LOSS: about 7x what always answering 50/50 costs (ln 2 = 0.69).
DIVERGE_LOSS = 5.0
DIVERGE_WINDOW = 5
# Under a time limit, at most this share of it is kept for reading TEST after training: a large TEST set
# (5,000 IMDB reviews for a big network) would otherwise leave little time to train.
TEST_SHARE = 0.25
TRAIN_LIMITS = {
    "epochs": (1, 100),
    "batch_size": (1, 1024),
    "lr": (1e-6, 10.0),
    "weight_decay": (0.0, 1.0),
    "clip": (0.0, 100.0),
    "recurrent_norm": (0.0, 100.0),
    "recurrent_radius": (0.0, 100.0),
    "seed": (0, 2**31 - 1),
}


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 5
    batch_size: int = 64
    lr: float = 2e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    clip: float = 5.0  # gradient-norm clipping; 0 = off
    seed: int = 0
    threads: int | None = None  # torch threads while training; None = leave as is
    max_seconds: float | None = None  # time cap; best weights are kept
    evals_per_epoch: int = 1  # validation passes per epoch (>1: curves move within an epoch)
    word_dropout: float = 0.0  # while training, each token is read as <unk> with this probability
    ema: float = 0.0  # > 0: validate and keep an exponential moving average of the weights
    recurrent_norm: float = 0.0  # > 0: caps (cap_recurrent, after every step); 0 = off
    recurrent_radius: float = 0.0

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}")
        for name, (lo, hi) in TRAIN_LIMITS.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v) or not lo <= v <= hi:
                raise ValueError(f"{name} must be between {lo:g} and {hi:g}, not {v!r}")
        if self.threads is not None and not 1 <= self.threads <= 64:
            raise ValueError("threads must be between 1 and 64")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ValueError("max_seconds must be positive")
        if not 1 <= self.evals_per_epoch <= 100:
            raise ValueError("evals_per_epoch must be between 1 and 100")
        if not 0.0 <= self.word_dropout <= 0.5:
            raise ValueError("word_dropout must be between 0 and 0.5")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError("ema must be in [0, 1)")

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("recurrent_norm", "recurrent_radius"):
            if not d[k]:  # off: recorded as cards written before the option had it
                del d[k]
        return d


@dataclass
class EncodedSet:
    """Token-id sequences (each 1..max_len long) and their 0/1 labels."""

    ids: list[np.ndarray]
    labels: np.ndarray  # (N,) float32

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_texts(cls, vocab: Vocab, texts: Sequence[str], labels, max_len: int) -> "EncodedSet":
        return cls([encode_row(vocab, t, max_len) for t in texts], np.asarray(labels, dtype=np.float32))

    def tokens(self, mask=None) -> int:
        """Tokens of every row (or of the rows where the bool array `mask` is True)."""
        return int(sum(len(s) for s, keep in zip(self.ids, np.ones(len(self.ids), bool) if mask is None else mask)
                       if keep))

    def subset(self, idx) -> "EncodedSet":
        return EncodedSet([self.ids[i] for i in idx], self.labels[np.asarray(idx, dtype=np.int64)])

    def __add__(self, other: "EncodedSet") -> "EncodedSet":
        return EncodedSet(self.ids + other.ids, np.concatenate([self.labels, other.labels]))


def encode_row(vocab: Vocab, text: str, max_len: int) -> np.ndarray:
    """One text's ids as a model reads them (an empty text reads one padding token)."""
    return np.asarray(vocab.encode_ids(text, max_len) or [0], dtype=np.int64)


class LazyEncodedSet(EncodedSet):
    """An EncodedSet whose rows are encoded when first asked for (`subset`, `tokens`): a reader that a
    deadline cuts short encodes only the rows it reads. (Encoding 5,000 IMDB TEST reviews up front took
    11 s of a 14 s cap on a loaded machine, before the deadline could be looked at.)"""

    def __init__(self, vocab: Vocab, texts: Sequence[str], labels, max_len: int):
        super().__init__([None] * len(texts), np.asarray(labels, dtype=np.float32))
        self._vocab, self._texts, self._max_len = vocab, list(texts), max_len

    def _row(self, i: int) -> np.ndarray:
        if self.ids[i] is None:
            self.ids[i] = encode_row(self._vocab, self._texts[i], self._max_len)
        return self.ids[i]

    def subset(self, idx) -> EncodedSet:
        return EncodedSet([self._row(int(i)) for i in idx], self.labels[np.asarray(idx, dtype=np.int64)])

    def tokens(self, mask=None) -> int:
        rows = range(len(self)) if mask is None else np.flatnonzero(mask)
        return int(sum(len(self._row(int(i))) for i in rows))

    def __add__(self, other: EncodedSet) -> EncodedSet:
        return self.subset(range(len(self))) + other


@dataclass(frozen=True)
class Progress:
    kind: str  # "batch" | "eval" | "epoch" | "end"
    epoch: int  # 1-based
    batch: int  # batches done in this epoch
    n_batches: int
    loss: float  # mean training loss over this epoch so far
    acc: float  # training accuracy over this epoch so far
    elapsed: float  # seconds since start
    val_loss: float | None = None
    val_acc: float | None = None
    status: str = "running"  # at "end": done | stopped | timeout | diverged
    message: str = ""

    @property
    def fraction(self) -> float:
        """Epochs done so far, fractional (2.5 = half way through the third epoch)."""
        return (self.epoch - 1) + self.batch / max(1, self.n_batches)


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Temporarily run torch with n intra-op threads (None: unchanged)."""
    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@torch.no_grad()
def cap_recurrent(model: torch.nn.Module, max_norm: float = 0.0, max_radius: float = 0.0) -> None:
    """Keep the recurrent weights small (Keras: recurrent_constraint); 0 = no cap.

    max_norm: every recurrent matrix (weight_hh_l*, all gates stacked) whose largest singular value
    exceeds it is scaled down to exactly max_norm. With tanh' <= 1, a SimpleRNN whose matrix has a
    norm below 1 cannot amplify a change in its input over a long text.
    max_radius: the same for the spectral radius (largest |eigenvalue|) of each gate's square H x H
    block. Below 1, the linearised dynamics of a state left alone decay, while a large singular value
    can still amplify a word for a few steps. Neither cap kept integrated gradients exact on an IMDB
    SimpleRNN that learnt negation (README, "rnn-imdb is trained again, in two stages")."""
    for name, p in model.named_parameters():
        if not name.split(".")[-1].startswith("weight_hh"):
            continue
        if max_norm > 0:
            sigma = float(torch.linalg.matrix_norm(p.double(), 2))
            if sigma > max_norm:
                p.mul_(max_norm / sigma)
        if max_radius > 0:
            h = p.shape[1]
            for k in range(p.shape[0] // h):
                block = p[k * h:(k + 1) * h]  # a view: scaling it scales p
                rho = float(torch.linalg.eigvals(block.double()).abs().max())
                if rho > max_radius:
                    block.mul_(max_radius / rho)


def make_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Index batches of similar lengths (bucketing); shuffled when rng is given."""
    n = len(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
    else:  # sort by length with jitter, so batches differ between epochs
        order = np.lexsort((rng.random(n), lengths + rng.integers(0, 3, n) if n else lengths))
    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


def pad_batch(data: EncodedSet, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    lens = np.array([len(data.ids[i]) for i in idx], dtype=np.int64)
    out = np.zeros((len(idx), int(lens.max())), dtype=np.int64)  # (B, T) right-padded
    for row, i in enumerate(idx):
        out[row, : lens[row]] = data.ids[i]
    return torch.from_numpy(out), torch.from_numpy(lens), torch.from_numpy(data.labels[idx])


def eval_batches(model: nn.Module, data: EncodedSet, cap: int = EVAL_MAX_ROWS) -> list[np.ndarray]:
    """Index batches for evaluation, shortest rows first, each as many rows as fit in the
    memory budget at its longest row (budget.eval_rows), at most `cap`: the activations of one
    batch stay under budget.EVAL_BYTES whatever the model and the texts' lengths."""
    cfg = getattr(model, "config", None)
    lengths = np.array([len(s) for s in data.ids], dtype=np.int64)
    order = np.argsort(lengths, kind="stable")  # ascending: each row is its batch's longest so far
    batches, current = [], []
    for i in order:
        room = cap if cfg is None else eval_rows(cfg, int(lengths[i]), cap=cap)
        if len(current) + 1 > room:
            batches.append(np.asarray(current, dtype=np.int64))
            current = []
        current.append(i)
    if current:
        batches.append(np.asarray(current, dtype=np.int64))
    return batches


@torch.no_grad()
def predict_probs(model: nn.Module, data: EncodedSet, deadline: float | None = None) -> np.ndarray:
    """Positive-class probability for every sequence (eval mode, order kept), in batches sized by
    the memory budget. With a `deadline` (time.perf_counter() seconds) rows not reached by then
    are NaN: callers that may be cut read a random order (`predict_sample`)."""
    was_training = model.training
    model.eval()
    probs = np.full(len(data), np.nan, dtype=np.float64)
    try:
        for idx in eval_batches(model, data):
            if deadline is not None and time.perf_counter() >= deadline:
                break
            ids, lens, _ = pad_batch(data, idx)
            probs[idx] = torch.sigmoid(model(ids, lens)).double().numpy()
    finally:
        model.train(was_training)
    return probs


FIRST_SAMPLE_ROWS = 25  # predict_sample's first chunk, read whole whatever the deadline (a busy machine's
# 100-row first chunk of 400-token reviews took 6 s, past a 14 s cap's share; 25 rows: the cap holds)
FIRST_THREADS = 1  # under a deadline that first chunk is read on one torch thread. It is the one read no deadline
# can stop, and two threads on a loaded 2-core machine wait on each other: 25 rows of a 2-layer LSTM at 400
# tokens took 0.62-0.90 s on two threads against 0.18-0.19 s on one beside three busy processes (quiet:
# 0.03-0.05 s either way). Later chunks keep the caller's threads (quiet, two read 300 rows 1.6x faster).


def predict_sample(model: nn.Module, data: EncodedSet, deadline: float | None, seed: int = 0,
                   chunk: int = 100, first: int = FIRST_SAMPLE_ROWS) -> np.ndarray:
    """`predict_probs` in a seeded random order of chunks of `chunk` rows, until `deadline` (the
    first `first` rows are always read whole): the rows read (not NaN) are a uniformly random sample
    of `data`, so an accuracy cut short by a time cap is an honest estimate on fewer rows. A later
    chunk the deadline interrupts is left out whole (its rows are read shortest first, so the part
    read would not be a random sample)."""
    probs = np.full(len(data), np.nan, dtype=np.float64)
    order = np.random.default_rng(seed).permutation(len(data))
    starts = [0] + list(range(min(first, len(order)), len(order), chunk))
    for k, (lo, hi) in enumerate(zip(starts, starts[1:] + [len(order)])):
        if hi <= lo:
            continue
        if k and deadline is not None and time.perf_counter() >= deadline:
            break
        idx = np.sort(order[lo:hi])
        with torch_threads(FIRST_THREADS if k == 0 and deadline is not None else None):
            got = predict_probs(model, data.subset(idx), deadline if k else None)
        if np.isnan(got).any():
            break
        probs[idx] = got
    return probs


def evaluate(model: nn.Module, data: EncodedSet) -> tuple[float, float]:
    """(mean binary cross-entropy, accuracy) on `data`."""
    if len(data) == 0:
        return float("nan"), float("nan")
    return loss_and_accuracy(predict_probs(model, data), data.labels)


def loss_and_accuracy(probs: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(mean binary cross-entropy, accuracy) of probabilities (n,) against 0/1 labels (n,)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-7, 1 - 1e-7)
    y = np.asarray(labels, dtype=np.float64)
    loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return loss, float(np.mean((p >= 0.5) == (y >= 0.5)))


@dataclass
class Trainer:
    model: nn.Module
    train_set: EncodedSet
    val_set: EncodedSet | None
    config: TrainConfig = field(default_factory=TrainConfig)
    should_stop: Callable[[], bool] | None = None
    reserve_rows: int = 0  # rows evaluated after training within the same time limit (the TEST sample)

    def __post_init__(self) -> None:
        if len(self.train_set) == 0:
            raise ValueError("nothing to train on: the training set is empty")
        self.history: list[dict] = []  # one row per validation pass and per epoch end
        self.batch_history: list[dict] = []
        self.best_state: dict | None = None  # what the model holds when the run ends
        self.best_val_acc: float | None = None  # None: no validation set
        self.best_epoch = 0
        self.best_at: float | None = None  # the kept weights' fractional epoch (a history row's "epoch")
        self.averaged = self.config.ema > 0  # validated and kept: the moving average, not the live weights
        self.scored_model: nn.Module = self.model  # the module validation scores (the average, when on)
        self.status = "not started"
        self.message = ""
        self.seconds = 0.0
        self.val_seconds: float | None = None  # the last validation pass took this long

    @property
    def validating(self) -> bool:
        return self.val_set is not None and len(self.val_set) > 0

    def _snapshot_if_best(self, weights: nn.Module, val_acc: float | None, epoch: int, at: float) -> None:
        """Keep a copy of `weights` if they are the best on validation so far; with no validation
        set, every checkpoint replaces the last, so a finished run keeps its final weights and a
        diverged one the last weights before it diverged."""
        if self.validating:
            if self.best_state is not None and not val_acc > self.best_val_acc:
                return
            self.best_val_acc = val_acc
        self.best_epoch, self.best_at = epoch, at
        self.best_state = copy.deepcopy(weights.state_dict())

    def run(self) -> Iterator[Progress]:
        cfg = self.config
        with torch_threads(cfg.threads):
            torch.set_flush_denormal(True)  # vanishing gradients make denormals: 4x slower
            yield from self._run(cfg)

    def _run(self, cfg: TrainConfig) -> Iterator[Progress]:
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        model = self.model
        opt = Optimizer(cfg.optimizer, model.parameters(), cfg.lr, cfg.weight_decay)
        loss_fn = nn.BCEWithLogitsLoss()
        lengths = np.array([len(s) for s in self.train_set.ids])
        start = time.perf_counter()
        self.status = "running"
        epoch, b, n_batches, tot_loss, tot_right, seen = 1, 0, 1, 0.0, 0, 0
        val_loss = val_acc = None

        def progress(kind: str, **kw) -> Progress:
            return Progress(kind, epoch, b, n_batches, tot_loss / max(1, seen), tot_right / max(1, seen),
                            time.perf_counter() - start, val_loss, val_acc, **kw)

        ema = None
        if cfg.ema > 0:  # a copy of the model holding the moving average; it starts at the initial weights
            ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema))
            ema.update_parameters(model)
        kept = model if ema is None else ema.module  # the weights validated and kept
        self.scored_model = kept

        val_tokens = sum(len(s) for s in self.val_set.ids) if self.validating else 0
        per_row = val_tokens / len(self.val_set) if val_tokens else float(np.mean(lengths))
        after = per_row * self.reserve_rows  # tokens read after training (TEST), within the limit
        pace: dict[str, float] = {}  # seconds per token of a forward pass, measured once when needed

        def reserve() -> float:
            """Seconds to keep, under a time limit, for what follows the last batch: the validation of
            the kept weights and `reserve_rows` more rows read forward (the TEST sample), the latter
            at most TEST_SHARE of the limit (TEST is then read in a random order until the deadline:
            a sample, said as one). Priced at the last validation's pace, or before the first one at
            a forward pass over a few rows timed at the start, with a quarter more to be safe."""
            if not val_tokens and not after:
                return 0.0
            if self.val_seconds is not None and val_tokens:
                per_token = self.val_seconds / val_tokens
            else:
                if "token" not in pace:
                    probe = self.val_set if self.validating else self.train_set
                    rows = probe.subset(np.random.default_rng(0).permutation(len(probe))[:32])
                    took = []
                    for _ in range(2):  # the first pass also warms up the allocator: the faster one counts
                        t0 = time.perf_counter()
                        predict_probs(kept, rows)
                        took.append(time.perf_counter() - t0)
                    pace["token"] = min(took) / max(1, len(rows) * max(len(x) for x in rows.ids))  # padded tokens
                    model.train()
                per_token = 1.25 * pace["token"]
            return per_token * val_tokens + min(per_token * after, TEST_SHARE * (cfg.max_seconds or math.inf))

        def validate() -> None:
            nonlocal val_loss, val_acc
            if self.validating:
                t0 = time.perf_counter()
                val_loss, val_acc = evaluate(kept, self.val_set)
                self.val_seconds = time.perf_counter() - t0
            at = epoch - 1 + b / n_batches
            self._snapshot_if_best(kept, val_acc, epoch, at)
            model.train()
            self.history.append({"epoch": at, "loss": tot_loss / max(1, seen),
                                 "acc": tot_right / max(1, seen), "val_loss": val_loss, "val_acc": val_acc,
                                 "elapsed": time.perf_counter() - start})

        def loop() -> Iterator[Progress]:
            nonlocal epoch, b, n_batches, tot_loss, tot_right, seen
            model.train()
            for epoch in range(1, cfg.epochs + 1):
                batches = make_batches(lengths, cfg.batch_size, rng)
                n_batches = len(batches)
                eval_at = {round(n_batches * k / cfg.evals_per_epoch) for k in range(1, cfg.evals_per_epoch + 1)}
                b, tot_loss, tot_right, seen = 0, 0.0, 0, 0
                for idx in batches:
                    if self.should_stop is not None and self.should_stop():
                        self.status, self.message = "stopped", "Stopped by request."
                        return
                    if cfg.max_seconds is not None and time.perf_counter() - start + reserve() > cfg.max_seconds:
                        self.status = "timeout"  # the validation after it still fits in the limit
                        self.message = (f"Stopped at the time cap ({cfg.max_seconds:.3g} s for training and "
                                        "validation; the rest kept for what follows).")
                        return
                    ids, lens, y = pad_batch(self.train_set, idx)
                    if cfg.word_dropout > 0:  # regulariser: forget some words, keep padding
                        drop = (torch.rand(ids.shape) < cfg.word_dropout) & (ids != PAD_ID)
                        ids = ids.masked_fill(drop, UNK_ID)
                    logits = model(ids, lens)
                    loss = loss_fn(logits, y)
                    if not torch.isfinite(loss):
                        self.status = "diverged"
                        self.message = (f"Training diverged at epoch {epoch}, batch {b + 1}: the loss became "
                                        f"{float(loss.detach())}. Try a smaller learning rate (now {cfg.lr:g}).")
                        return
                    recent = [h["loss"] for h in self.batch_history[-(DIVERGE_WINDOW - 1):]] + [float(loss.detach())]
                    if len(recent) >= DIVERGE_WINDOW and sum(recent) / len(recent) > DIVERGE_LOSS:
                        self.status = "diverged"
                        self.message = (f"Training diverged at epoch {epoch}, batch {b + 1}: the loss rose to "
                                        f"{sum(recent) / len(recent):.1f} (chance is 0.69). "
                                        f"Try a smaller learning rate (now {cfg.lr:g}).")
                        return
                    opt.zero_grad()
                    loss.backward()
                    if cfg.clip > 0:
                        clip_grad_norm_(opt.params, cfg.clip)
                    opt.step()
                    if cfg.recurrent_norm > 0 or cfg.recurrent_radius > 0:
                        cap_recurrent(model, cfg.recurrent_norm, cfg.recurrent_radius)
                    if ema is not None:
                        ema.update_parameters(model)
                    b += 1
                    seen += len(idx)
                    tot_loss += float(loss.detach()) * len(idx)
                    tot_right += int(((logits >= 0) == (y >= 0.5)).sum())
                    self.batch_history.append({"epoch": epoch - 1 + b / n_batches, "loss": float(loss.detach())})
                    if b in eval_at:
                        validate()
                        yield progress("epoch" if b == n_batches else "eval")
                    else:
                        yield progress("batch")
            self.status = "done"
            self.message = f"Finished {cfg.epochs} epoch(s)."

        initial_state = copy.deepcopy(model.state_dict())
        closed = True
        try:
            yield from loop()
            closed = False
        finally:
            self.seconds = time.perf_counter() - start
            if closed and self.status == "running":  # the caller closed the generator
                self.status, self.message = "stopped", "Stopped by request."
            validated_here = bool(self.history) and self.history[-1]["epoch"] == epoch - 1 + b / n_batches
            if self.status in ("stopped", "timeout") and seen and not validated_here:
                validate()  # the partial epoch may hold the best weights so far
            if self.best_state is not None:
                model.load_state_dict(self.best_state)
            else:  # diverged before any validation: put back the untrained weights, not NaNs
                model.load_state_dict(initial_state)
            model.eval()
        yield progress("end", status=self.status, message=self.message)
