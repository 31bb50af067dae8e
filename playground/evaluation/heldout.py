"""Held-out evaluation: TEST rows (all, or a seeded sample) read by a model, possibly until a
deadline (the rows read are then a random sample), their accuracy, confusion matrix and most
confidently wrong sentences. Training (recipes.Job) measures its model here; so do the command
line's evaluate and paired, and the bundled models' quality tests."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from playground.core import data
from playground.core.text import Vocab
from playground.training.train import EncodedSet, LazyEncodedSet, loss_and_accuracy, predict_probs, predict_sample


def heldout_set(vocab: Vocab, dataset: str, max_len: int) -> EncodedSet:
    split = data.load(dataset, "test")
    return EncodedSet.from_texts(vocab, split.texts, split.labels, max_len)


@dataclass
class HeldoutSample:
    """TEST rows (all, or a seeded sample) and, once `read`, the probability of each row read
    (NaN for rows a deadline left unread: those read are a random sample of the rows)."""

    texts: list[str]
    labels: np.ndarray  # (n,) 0/1
    encoded: EncodedSet
    probs: np.ndarray | None = None  # (n,) float, NaN = not read
    cut: bool = False  # a deadline ended the reading

    @property
    def n(self) -> int:
        return len(self.texts)

    @property
    def done(self) -> np.ndarray:
        return np.zeros(self.n, bool) if self.probs is None else ~np.isnan(self.probs)

    @property
    def n_read(self) -> int:
        return int(self.done.sum())

    def read(self, model, deadline: float | None = None) -> "HeldoutSample":
        self.probs = predict_sample(model, self.encoded, deadline)
        self.cut = self.n_read < self.n
        return self

    def correct(self) -> np.ndarray:
        """(n,) right or wrong on each row; rows not read count as wrong: mask with `done`."""
        p = np.nan_to_num(self.probs if self.probs is not None else np.zeros(self.n), nan=-1.0)
        return np.where(self.done, (p >= 0.5) == (self.labels >= 0.5), False)

    def loss_and_accuracy(self) -> tuple[float, float]:
        d = self.done
        return loss_and_accuracy(self.probs[d], self.labels[d]) if d.any() else (float("nan"), float("nan"))

    def report(self, n_wrong: int = 5) -> "HeldoutReport":
        d = self.done
        return report_from([t for t, k in zip(self.texts, d) if k], self.labels[d], self.probs[d], n_wrong)


def heldout_sample(vocab: Vocab, dataset: str, max_len: int, limit: int | None = None,
                   seed: int = 0) -> HeldoutSample:
    split = data.load(dataset, "test")
    idx = sample_rows(len(split), limit, seed) if limit else np.arange(len(split))
    texts, labels = [split.texts[i] for i in idx], split.labels[idx]
    return HeldoutSample(texts, labels, LazyEncodedSet(vocab, texts, labels, max_len))  # encoded as read


def sample_rows(n: int, k: int, seed: int = 0) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).choice(n, size=min(n, k), replace=False))


@dataclass(frozen=True)
class HeldoutReport:
    accuracy: float
    n: int
    tn: int
    fp: int
    fn: int
    tp: int
    confidently_wrong: tuple  # ((text, true label, P(positive)), ...) most confident mistakes first


def heldout_report(model, vocab: Vocab, dataset: str, max_len: int, limit: int | None = None,
                n_wrong: int = 5, seed: int = 0) -> HeldoutReport:
    """Accuracy, confusion matrix and the most confidently wrong sentences on `dataset` TEST
    (all of it, or a seeded sample of `limit` rows)."""
    return heldout_sample(vocab, dataset, max_len, limit, seed).read(model).report(n_wrong)


def report_from(texts: list[str], y: np.ndarray, p: np.ndarray, n_wrong: int = 5) -> HeldoutReport:
    """Accuracy, confusion matrix and the most confidently wrong of `texts` (labels y, P(positive) p)."""
    y = np.asarray(y).astype(int)
    pred = (p >= 0.5).astype(int)
    wrong = np.where(pred != y)[0]
    worst = wrong[np.argsort(-np.abs(p[wrong] - 0.5))][:n_wrong]
    return HeldoutReport(
        accuracy=float((pred == y).mean()) if len(y) else float("nan"), n=len(y),
        tn=int(((pred == 0) & (y == 0)).sum()), fp=int(((pred == 1) & (y == 0)).sum()),
        fn=int(((pred == 0) & (y == 1)).sum()), tp=int(((pred == 1) & (y == 1)).sum()),
        confidently_wrong=tuple((texts[i], int(y[i]), float(p[i])) for i in worst),
    )


def correct_on_test(model, vocab, dataset: str) -> np.ndarray:
    """(N,) bool: which of `dataset`'s TEST rows the model gets right, reading its own last max_len
    tokens with its own vocabulary; the arrays `stats.race_verdict` / `python -m playground paired`
    compare sentence by sentence."""
    test = heldout_set(vocab, dataset, model.config.max_len)
    return (predict_probs(model, test) >= 0.5) == (test.labels >= 0.5)
