"""How much accuracy falls when the most decisive units are silenced, over a sample of TEST texts.

Ablating a unit of the last layer means holding its h at 0 at every token (the intervention "clamp
h to 0 from token 0 on, held", intervene.py): then nothing reads it, neither the readout nor the
recurrence. That is exactly the network whose recurrent weights W_hh (every block) have the unit's
column set to 0 and whose readout weight for it is 0, so the sample runs through the fused torch
layer (float32, one batch per length band) of a copy of those weights; the embeddings are looked up
once for all runs. Tests check it against the step-by-step intervention and the plain forward.

The sample: `typical.sample_texts(dataset, n)` (a fixed, evenly spaced sample of the TEST split),
each with its label from `data.load(dataset, "test")`. Which units: one ranking for the whole
sample, by mean |share of the verdict| |w_u h_u,T| over its texts (account.py's "verdict" ranking,
averaged) in the unablated run; the top N are ablated one at a time and the top k together for
k in `TOGETHER`. Every accuracy comes with McNemar's exact test against the unablated model on the
same texts (stats.py); a fall is called beyond noise only below 0.05 / (number of ablations).
Deterministic: no randomness anywhere. Shapes: N texts, T tokens, H units, E embedding.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from playground.core import clock
from playground.core.clock import Budget
from playground.core.data import load
from playground.core.models import SentimentRNN
from playground.core.text import Vocab
from playground.dynamics.typical import sample_texts
from playground.evaluation.stats import ALPHA, mcnemar

DEFAULT_TEXTS = 300  # gru-imdb, the slowest bundled model, takes about 4 s with one torch thread
DEFAULT_TOP = 10
TOGETHER = (1, 5, 10, 25, 50)  # the top k ablated together (k at most the units there are)
BATCH = 50


def labelled_sample(dataset: str, n_texts: int) -> tuple[tuple[str, ...], np.ndarray]:
    """`typical.sample_texts(dataset, n_texts)` and their labels, matched by text in the TEST split."""
    texts = sample_texts(dataset, n_texts)
    split = load(dataset, "test")
    labels: dict[str, set] = {}
    for t, y in zip(split.texts, split.labels):
        labels.setdefault(t, set()).add(int(y))
    if any(len(labels[t]) != 1 for t in texts):
        raise ValueError(f"a sampled TEST text of {dataset!r} appears with both labels")
    return texts, np.array([next(iter(labels[t])) for t in texts], dtype=np.int64)


@dataclass(frozen=True)
class Ablation:
    dataset: str
    n_texts: int
    accuracy: float  # the model as it is, on the sample
    ranking: tuple[int, ...]  # every unit of the last layer, most decisive first
    mean_share: tuple[float, ...]  # their mean |w_u h_u,T| over the sample (logit), in that order
    single: tuple[float, ...]  # accuracy with each of the top N units ablated alone (N = len(single))
    single_p: tuple[float, ...]  # McNemar's exact p against the unablated model
    together: dict  # k -> accuracy with the top k ablated together
    together_p: dict  # k -> McNemar's p
    seconds: float
    cut: str = ""  # "" when complete; else which ablations a time budget or a stop left undone

    @property
    def level(self) -> float:
        """A fall is beyond noise below this p (Bonferroni over every ablation reported)."""
        return ALPHA / max(1, len(self.single) + len(self.together))

    def sentences(self) -> list[str]:
        """What the numbers say, one sentence per finding."""
        out = [f"On {self.n_texts} TEST texts of {self.dataset}, the model is right on {self.accuracy:.1%}."]
        n = len(self.single)
        if n:
            worst = int(np.argmin(self.single))
            if self.single[worst] < self.accuracy:
                out.append(f"Of the top {n} units one at a time, ablating unit {self.ranking[worst]} costs the most: "
                           f"{self.single[worst]:.1%} ({100 * (self.single[worst] - self.accuracy):+.1f} points, "
                           f"{_beyond(self.single_p[worst], self.level)}).")
            else:
                out.append(f"None of the top {n} units alone lowers the accuracy.")
        for k, acc in self.together.items():
            if k > 1:
                out.append(f"The top {k} together: {acc:.1%} ({100 * (acc - self.accuracy):+.1f} points, "
                           f"{_beyond(self.together_p[k], self.level)}).")
        return out

    def as_dict(self) -> dict:
        return {"dataset": self.dataset, "n_texts": self.n_texts, "accuracy": self.accuracy,
                "ranking": list(self.ranking),
                "mean_share": list(self.mean_share), "single": list(self.single), "single_p": list(self.single_p),
                "together": {str(k): v for k, v in self.together.items()},
                "together_p": {str(k): v for k, v in self.together_p.items()}, "level": self.level,
                "seconds": self.seconds, "cut": self.cut, "sentences": self.sentences()}


def _beyond(p: float, level: float) -> str:
    shown = "p < 0.0001" if p < 1e-4 else f"p = {p:.2g}"
    return f"McNemar {shown}, {'beyond noise' if p < level else 'within noise'}"


class _Runner:
    """The sample as length-sorted padded batches (right padding never reaches a text's last token),
    embedded once; runs a copy of the recurrent layers with chosen units of the last layer silenced."""

    @torch.no_grad()
    def __init__(self, model: SentimentRNN, vocab: Vocab, texts):
        self.model = model
        enc = [vocab.encode(t, model.config.max_len).ids for t in texts]
        self.n = len(enc)
        order = sorted(range(self.n), key=lambda i: len(enc[i]))
        self.empty = [i for i in order if not enc[i]]  # read as the zero state: the readout's bias
        order = [i for i in order if enc[i]]
        self.batches = []  # (text indices, embeddings (B, T, E), lengths (B,))
        for s in range(0, len(order), BATCH):
            idx = order[s:s + BATCH]
            ids = torch.zeros(len(idx), len(enc[idx[-1]]), dtype=torch.long)
            for r, i in enumerate(idx):
                ids[r, :len(enc[i])] = torch.tensor(enc[i])
            self.batches.append((idx, model.embedding(ids), torch.tensor([len(enc[i]) for i in idx])))
        self.rnn = type(model.rnn)(model.rnn.input_size, model.rnn.hidden_size, num_layers=model.rnn.num_layers,
                                   batch_first=True).eval()
        self.rnn.load_state_dict(model.rnn.state_dict())
        self.w_hh = getattr(self.rnn, f"weight_hh_l{model.config.num_layers - 1}")  # (G*H, H): the last layer's U
        self.u_hh = self.w_hh.detach().clone()
        self.w_out = model.readout.weight.detach().clone()  # (1, H)

    @torch.no_grad()
    def run(self, silenced=()) -> tuple[np.ndarray, np.ndarray]:
        """(logits (N,), last states (N, H)) with the units in `silenced` ablated."""
        m, units = self.model, list(silenced)
        self.w_hh.copy_(self.u_hh)
        self.w_hh[:, units] = 0.0  # nothing reads h_u in the recurrence ...
        w_out = self.w_out.clone()
        w_out[:, units] = 0.0  # ... nor in the readout
        H = m.config.hidden_size
        logits, states = np.empty(self.n), np.zeros((self.n, H))
        b = float(m.readout.bias[0])
        for idx, x, lengths in self.batches:
            out, _ = self.rnn(x)  # (B, T, H)
            last = out[torch.arange(len(idx)), lengths - 1]  # (B, H)
            states[idx] = last.double().numpy()
            logits[idx] = (last @ w_out.T).squeeze(1).double().numpy() + b
        logits[self.empty] = b
        return logits, states


def ablation(model: SentimentRNN, vocab: Vocab, dataset: str, n_texts: int = DEFAULT_TEXTS,
             top: int = DEFAULT_TOP, progress: Callable[[float], None] | None = None,
             budget: Budget | None = None) -> Ablation:
    """Accuracy on the sample, with each of the top `top` units ablated alone, and the top k together;
    `progress(fraction done)` is called after each run through the sample. With a `budget` (clock.Budget)
    it stops between two runs once the budget is over: the top k together come first (the bigger
    question), then the units one at a time; `cut` says how many ablations were left undone."""
    t0 = time.perf_counter()
    texts, labels = labelled_sample(dataset, n_texts)
    if not len(texts):
        raise ValueError(f"no TEST texts of {dataset!r}")
    top = max(0, min(top, model.config.hidden_size))
    runner = _Runner(model, vocab, texts)
    groups = [k for k in TOGETHER if 1 < k <= model.config.hidden_size]
    n_runs = 1 + top + len(groups) + (top == 0 and 1 <= model.config.hidden_size)
    done = [0]

    def run(silenced=()):
        out = runner.run(silenced)
        done[0] += 1
        if progress is not None:
            progress(min(1.0, done[0] / n_runs))
        return out

    logits, states = run()
    right = (logits >= 0) == (labels == 1)
    share = np.abs(states * runner.w_out.double().numpy()[0]).mean(axis=0)  # (H,) mean |w_u h_u,T|
    ranking = tuple(int(u) for u in np.argsort(-share, kind="stable"))

    def score(silenced):
        r = (run(silenced)[0] >= 0) == (labels == 1)
        return float(r.mean()), mcnemar(right, r).p_value

    together = {}
    for k in groups:
        if clock.over(budget):
            break
        together[k] = score(ranking[:k])
    single = []
    for u in ranking[:top]:
        if clock.over(budget):
            break
        single.append(score([u]))
    if 1 in TOGETHER and ranking and (single or not clock.over(budget)):
        together = {1: single[0] if single else score(ranking[:1]), **together}
    cut = clock.cut_note(done[0] - 1, n_runs - 1, "{done} of {total} ablations done", budget)
    return Ablation(dataset, len(texts), float(right.mean()), ranking, tuple(float(share[u]) for u in ranking),
                    tuple(a for a, _ in single), tuple(p for _, p in single),
                    {k: a for k, (a, _) in together.items()}, {k: p for k, (_, p) in together.items()},
                    time.perf_counter() - t0, cut)
