"""Each unit's typical values: the mean (and spread) of every gate and state over the tokens of a
fixed sample of TEST texts of the model's dataset. A gate drawn as its difference from this shows
what a sentence changed, not what the unit always does (lstm-imdb's output gates sit at 0.49 +-
0.03 whatever they read). Computed once per model by the caller's cache (about a second or two).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from playground.core import clock
from playground.core.clock import Budget
from playground.core.data import load
from playground.core.models import SentimentRNN
from playground.core.text import Vocab
from playground.core.trace import trace

DEFAULT_TEXTS = 64


@dataclass(frozen=True)
class Typical:
    dataset: str
    n_texts: int
    n_tokens: int
    mean: tuple[dict, ...]  # per layer: quantity name (gates and "h") -> (H,) mean over all tokens read
    std: tuple[dict, ...]  # the same, standard deviation
    cut: str = ""  # "" when complete; else how much of the sample a time budget or a stop left unread

    def describe(self) -> str:
        return (f"the mean over all {self.n_tokens:,} tokens of {self.n_texts} TEST texts of this "
                f"model's dataset" + (f" (a part of the sample: {self.cut})" if self.cut else ""))


def sample_indices(dataset: str, n_texts: int = DEFAULT_TEXTS) -> np.ndarray:
    """Row numbers (within the TEST split) of `sample_texts`: evenly spaced, the same on every machine."""
    n = len(load(dataset, "test"))
    if n_texts <= 0 or not n:
        return np.zeros(0, dtype=int)
    return np.linspace(0, n - 1, min(n_texts, n)).round().astype(int)


def sample_texts(dataset: str, n_texts: int = DEFAULT_TEXTS) -> tuple[str, ...]:
    """A fixed, evenly spaced sample of the dataset's TEST texts (the same on every machine)."""
    split = load(dataset, "test")
    return tuple(split.texts[i] for i in sample_indices(dataset, n_texts))


def typical_values(model: SentimentRNN, vocab: Vocab, dataset: str, n_texts: int = DEFAULT_TEXTS,
                   budget: Budget | None = None, on_progress: Callable[[float, str], None] | None = None) -> Typical:
    """Mean and standard deviation of every traced quantity per unit over a TEST sample. The texts are
    read in a seeded shuffled order (the TEST split is sorted by label), so with a `budget` (clock.Budget)
    that runs out the texts read are a random part of the sample, and `cut` says how many."""
    sums: list[dict] = []
    squares: list[dict] = []
    n_tokens, n_read = 0, 0
    texts = sample_texts(dataset, n_texts)
    order = np.random.default_rng(0).permutation(len(texts))
    visited = 0
    for i in order:
        if n_read and clock.over(budget):
            break
        visited += 1
        if on_progress is not None:
            on_progress(visited / len(order), f"read {visited} of {len(order)} texts")
        text = texts[i]
        tr = trace(model, vocab, text)
        if tr.n_steps == 0:
            continue
        n_read += 1
        n_tokens += tr.n_steps
        for k, lt in enumerate(tr.layers):
            series = {**lt.gates, "h": lt.h}
            if len(sums) <= k:
                sums.append({q: np.zeros(v.shape[1]) for q, v in series.items()})
                squares.append({q: np.zeros(v.shape[1]) for q, v in series.items()})
            for q, v in series.items():
                sums[k][q] += v.sum(axis=0)
                squares[k][q] += (v * v).sum(axis=0)
    if n_tokens == 0:
        raise ValueError(f"no TEST text of {dataset!r} could be read by this model")
    mean = tuple({q: s / n_tokens for q, s in layer.items()} for layer in sums)
    std = tuple({q: np.sqrt(np.maximum(squares[k][q] / n_tokens - mean[k][q] ** 2, 0.0)) for q in layer}
                for k, layer in enumerate(sums))
    cut = clock.cut_note(visited, len(order), "read {done} of {total} texts", budget)
    return Typical(dataset, n_read, n_tokens, mean, std, cut)
