"""The distance probe (issue 13): does a strongly positive or negative phrase still move a trained
model's final prediction when k words of neutral filler follow it?

Definitions (all probabilities are P(positive) from the fused model, reading what it reads: the
last `max_len` tokens of a text):

- Filler: a sequence of real in-vocabulary words that this model itself reads as neutral. After
  every prefix of the filler alone, P stays within `TOLERANCE` (0.05) of the model's prior (P on
  the zero state, before reading anything). `neutral_filler` builds it by a deterministic
  depth-first search over a fixed list of everyday words (`NEUTRAL_WORDS`): the word that keeps P
  closest to the prior first, stepping back where no word keeps it within the tolerance.
  `Filler.check` is max |P(prefix) - prior| over all prefixes, measured again with the fused
  model; a model for which no such filler was found has `Filler.ok == False`, and every sentence
  about it says so.
- The texts: text_k = F[:lead] + PHRASE + F[lead:lead + k], and the filler-only text
  F[:lead + k] (the same text without the phrase). "k tokens before the end" = k, the number of
  filler tokens read after the phrase; k = 1 .. k_max (default 1 .. 300, every k).
- Effect at k = P(text_k with the positive phrase) - P(text_k with the negative phrase): how much
  the phrase still moves the final prediction.
- Not read: the model reads only the last max_len tokens, so a longer text first loses filler
  words from its start (the phrase is still read), and when k + len(phrase) > max_len some or all
  of the phrase is cut off. Those k are None, never "forgotten".
- Half-distance: the smallest k at which the effect is at most half its value at k = 1 (None when
  it stays above half over every k read, or when the effect at k = 1 is not positive).

Every filler differs per model (each model's own neutral words), so models are compared on their
own fillers; sentences say what the numbers say and name a model only where the numbers order it.

API: `probe(model, vocab, name, positive, negative, lead, k_max, filler)` -> `Probe` (curves as
tuples indexed by k - 1, `effect`, `k_read`, `half_distance`, `at(k)`, `text(k, which)`,
`story()`, `as_dict()`); `bundled_probe(name, ...)` and `bundled_filler(name)` are cached per
process; `neutral_filler(model, vocab, n)` -> `Filler` (`words`, `probs`, `check`, `within`,
`ok`); `half_distance(ks, effect)`; `probe_story(p)` and `compare_story(probes)` are the sentences;
`read_probs(model, ids, ends)` is P after each prefix as the fused model reads it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from playground.core.cells import sigmoid
from playground.core.models import SentimentRNN
from playground.core.text import Vocab, key
from playground.core.trace import _weights

K_MAX = 300  # the farthest distance probed
LEAD = 20  # filler words before the phrase, so that it is read in the middle of a text
TOLERANCE = 0.05  # the filler alone stays within this of the prior after every prefix
SEARCH_MARGIN = 0.9  # the search keeps within 0.9 x the tolerance, so the fused model's check has room
NO_REPEAT = 4  # a word does not come back within this many positions of the filler
STALL, BUDGET = 64, 3  # the search gives up after STALL positions without progress or BUDGET x n in all
STRONG = 0.9  # a phrase read alone counts as strongly positive from P >= 0.9 (negative to P <= 0.1)
POSITIVE, NEGATIVE = "a wonderful , moving masterpiece", "an awful , boring mess"
MAX_PHRASE_CHARS = 300  # a phrase, not a review: bounds what a visitor's phrase costs and caches
SHOWN_K = (1, 5, 10, 20, 50, 100, 200, 300)  # the distances the command line's table and sentences name

# Everyday words with no sentiment of their own (function words, people, places, things, plain
# verbs). Each model keeps only those in its vocabulary; its own readings decide what is neutral.
NEUTRAL_WORDS = tuple("""
the a an of and to in on at by for from with as into over under about after before then there
here this that these those it its he she they them his her their we you was is were are be been
had has have did said went came took made saw put left turned walked sat stood opened looked moved
called asked told man woman people house room door table street city town car train station road
day night morning evening week year time water window wall floor chair letter phone office school
bank shop hotel river bridge park garden kitchen box bag map paper book name number part side place
home work family father mother brother sister friend police doctor two three four first second
""".split())


# --- reading what the model reads ---------------------------------------------------------------
@torch.no_grad()
def read_probs(model: SentimentRNN, ids: Sequence[int], ends: Sequence[int]) -> np.ndarray:
    """(len(ends),) P(positive) after reading ids[:e] for each e in `ends`, as the fused model reads
    that text: only its last max_len tokens. Prefixes that fit are read in one pass (the state after
    each token); longer ones as windows of exactly max_len tokens, in batches of bounded memory."""
    L, H = model.config.max_len, model.config.hidden_size
    ids = [int(i) for i in ids]
    ends = [int(e) for e in ends]
    if any(e < 0 or e > len(ids) for e in ends):
        raise ValueError("every end must be between 0 and the number of ids")
    was = model.training
    model.eval()
    out = np.empty(len(ends))
    try:
        logit0 = model.empty_logit()
        short = [e for e in ends if 0 < e <= L]
        if short:
            x = model.embedding(torch.tensor([ids[:max(short)]]))  # (1, T, E)
            h, _ = model.rnn(x)  # (1, T, H)
            steps = torch.sigmoid(model.readout(h[0]).squeeze(-1)).double().numpy()  # (T,)
        long = [e for e in ends if e > L]
        last = {}
        chunk = max(1, (1 << 22) // (L * H))  # <= 4 M floats of outputs per batch
        for s in range(0, len(long), chunk):
            part = long[s:s + chunk]
            x = model.embedding(torch.tensor([ids[e - L:e] for e in part]))  # (B, L, E)
            h, _ = model.rnn(x)  # (B, L, H)
            p = torch.sigmoid(model.readout(h[:, -1]).squeeze(-1)).double().numpy()  # (B,)
            last.update(zip(part, p))
        for j, e in enumerate(ends):
            out[j] = float(sigmoid(np.float64(logit0))) if e == 0 else steps[e - 1] if e <= L else last[e]
    finally:
        model.train(was)
    return out


# --- the neutral filler ---------------------------------------------------------------------
@dataclass(frozen=True, eq=False)  # eq=False: it holds an array; two fillers are the same only if identical
class Filler:
    """A filler the model reads as neutral (or the closest the search found)."""

    words: tuple[str, ...]  # (N,)
    ids: tuple[int, ...]  # (N,)
    probs: np.ndarray  # (N,) P(positive) after the first n words, n = 1..N, as the model reads them
    prior: float  # P(positive) before reading anything
    tolerance: float

    @property
    def deviation(self) -> np.ndarray:
        """(N,) P(prefix) - prior."""
        return self.probs - self.prior

    @property
    def check(self) -> float:
        """max |P(prefix) - prior| over every prefix (0 for an empty filler)."""
        return float(np.abs(self.deviation).max()) if len(self.probs) else 0.0

    @property
    def worst(self) -> int:
        """The prefix length (1-based) where the deviation is largest (0 for an empty filler)."""
        return int(np.argmax(np.abs(self.deviation))) + 1 if len(self.probs) else 0

    @property
    def ok(self) -> bool:
        return self.check <= self.tolerance

    @property
    def within(self) -> int:
        """How many words it has before the first prefix that strays more than the tolerance (all: N)."""
        out = np.flatnonzero(np.abs(self.deviation) > self.tolerance)
        return int(out[0]) if len(out) else len(self.probs)

    def sentence(self, lead: int = 0) -> str:
        """Its check in words; with `lead` (the probe's filler words before the phrase), from which
        distance k on the filler alone strays more than the tolerance."""
        n = len(self.words)
        if self.ok:
            return (f"The filler alone ({n} words) keeps P(positive) within {self.check:.3f} of the prior "
                    f"{self.prior:.3f} after every word (the check asks for {self.tolerance:g}).")
        w = self.within
        first = float(np.abs(self.deviation[:w]).max()) if w else 0.0
        k = w - lead + 1
        return (("No filler this model reads as neutral was found: " if w == 0 else
                 f"The filler alone keeps P(positive) within {first:.3f} of the prior {self.prior:.3f} for its first "
                 f"{w} words, but ") + f"it strays up to {self.check:.3f} (after {self.worst} words), more than "
                f"{self.tolerance:g}, so " + (f"from k = {k} on " if k > 1 else "") +
                "part of what these curves show may be the filler's own effect.")

    def as_dict(self) -> dict:
        return {"words": list(self.words), "check": self.check, "worst": self.worst, "ok": self.ok,
                "within": self.within,
                "prior": self.prior, "tolerance": self.tolerance, "probs": self.probs.tolist()}


class _Net:
    """The model's weights in float64 numpy, stepped with the cell's own equations (cells.py), for
    the filler search: it scores every candidate word in one step and never depends on torch's
    threads, so the words chosen are the same in every process."""

    def __init__(self, model: SentimentRNN, cand: Sequence[int]):
        cfg = model.config
        self.cell, self.H = cfg.cell, cfg.hidden_size
        self.blocks = [(b, slice(k * self.H, (k + 1) * self.H)) for k, b in enumerate(self.cell.blocks)]
        self.weights = [_weights(model, layer) for layer in range(cfg.num_layers)]  # (w_ih, w_hh, b_ih, b_hh)
        self.cand = np.asarray(cand)  # (C,)
        emb = model.embedding.weight.detach()[torch.from_numpy(self.cand)].double().numpy()  # (C, E)
        w_ih, _, b_ih, _ = self.weights[0]
        self.xw_cand = emb @ w_ih.T + b_ih  # (C, G*H): each candidate's input part, once
        self.xw_pos = {int(i): row for i, row in zip(self.cand, self.xw_cand)}  # the filler only uses candidates
        self.w_out = model.readout.weight.detach().double().numpy()[0]  # (H,)
        self.b_out = float(model.readout.bias.detach().double()[0])

    def _step(self, layer: int, xw: np.ndarray, state: dict) -> dict:
        """One step of one layer: input parts xw (..., G*H), previous state {name: (1, H)}."""
        _, w_hh, _, b_hh = self.weights[layer]
        hw = state["h"] @ w_hh.T + b_hh  # (1, G*H)
        return self.cell.step({b: xw[..., sl] for b, sl in self.blocks}, {b: hw[..., sl] for b, sl in self.blocks},
                              state)

    def states(self, ids: Sequence[int]) -> list[dict]:
        """Per layer, the state {name: (1, H)} after reading `ids` (filler words) from the zero state."""
        zero = [{s: np.zeros((1, self.H)) for s in self.cell.state} for _ in self.weights]
        for i in ids:
            zero = self.extend(zero, self.xw_pos[int(i)][None])[0]
            zero = [{s: v[0] for s, v in layer.items()} for layer in zero]
        return zero

    def extend(self, states: list[dict], xw0: np.ndarray) -> tuple[list[dict], np.ndarray]:
        """Every word with first-layer input parts xw0 (C, G*H) read after `states` (per layer
        {name: (1, H)}): the new states per layer {name: (1, C, H)} and P(positive) (1, C)."""
        new, x = [], None
        for layer, (w_ih, _, b_ih, _) in enumerate(self.weights):
            xw = xw0[None] if layer == 0 else x @ w_ih.T + b_ih  # (1, C, G*H)
            out = self._step(layer, xw, {s: v[:, None] for s, v in states[layer].items()})
            new.append({s: out[s] for s in self.cell.state})
            x = out["h"]  # (1, C, H)
        return new, sigmoid(x @ self.w_out + self.b_out)


@torch.no_grad()
def neutral_filler(model: SentimentRNN, vocab: Vocab, n: int = LEAD + K_MAX, words: Sequence[str] = NEUTRAL_WORDS,
                   tolerance: float = TOLERANCE, no_repeat: int = NO_REPEAT) -> Filler:
    """`n` filler words from `words` (those in the vocabulary) that keep this model's P(positive)
    within `tolerance` of its prior after every prefix, as the model reads it (its last max_len
    tokens; a longer prefix is read from the middle of the filler, from the zero state).

    Depth-first search: at each position try the words in order of |P - prior| (closest first, no
    word again within `no_repeat` positions); where no word stays within SEARCH_MARGIN * tolerance,
    go back one position and take its next word. When STALL positions in a row bring it no further
    (or after BUDGET x n in all), it keeps the longest sequence found and extends it with the closest
    word each time, without a bound; `Filler.check` then says how far it strays. No randomness:
    ties go to the earlier word."""
    cand = [i for i in dict.fromkeys(vocab.stoi.get(key(w), -1) for w in words) if 1 < i < model.config.vocab_size]
    if not cand:
        raise ValueError("none of the filler words is in this model's vocabulary")
    net, L = _Net(model, cand), model.config.max_len
    prior = float(sigmoid(np.float64(model.empty_logit())))
    bound = SEARCH_MARGIN * tolerance
    seq: list[int] = []
    tried: list[list] = []  # per position: [the words within the bound, closest first; how many taken]
    after = [net.states([])]  # after[d]: the states after seq[:d] (while the model reads it all)
    best: list[int] = []
    budget, stall = BUDGET * n, 0
    while len(seq) < n and budget > 0 and stall < STALL:
        d = len(seq)
        start = max(0, d + 1 - L)  # the model reads seq[start:] + the next word
        if d == len(tried):  # a new position: every candidate's P after it, one step from the state read
            _, p = net.extend(net.states(seq[start:]) if start else after[d], net.xw_cand)
            dev = np.abs(p[0] - prior)  # (C,)
            if no_repeat > 0 and seq:
                dev[np.isin(net.cand, seq[-no_repeat:])] = np.inf
            order = np.argsort(dev, kind="stable")
            tried.append([order[dev[order] <= bound], 0])
            budget, stall = budget - 1, stall + 1
        entry = tried[d]
        if entry[1] < len(entry[0]):
            j = int(entry[0][entry[1]])
            entry[1] += 1
            seq.append(cand[j])
            if not start:  # the state after this word (needed while the model still reads from the start)
                new, _ = net.extend(after[d], net.xw_cand[j:j + 1])  # (1, 1, H) per state
                del after[d + 1:]
                after.append([{s: v[0] for s, v in layer.items()} for layer in new])
            if len(seq) > len(best):
                best, stall = list(seq), 0
        else:  # no word keeps it within the bound here: go back one position
            tried.pop()
            if not seq:
                break
            seq.pop()
    seq = best
    while len(seq) < n:  # the search gave up: extend the longest sequence found, closest word first
        _, p = net.extend(net.states(seq[max(0, len(seq) + 1 - L):]), net.xw_cand)
        dev = np.abs(p[0] - prior)  # (C,)
        if no_repeat > 0 and seq:
            dev[np.isin(net.cand, seq[-no_repeat:])] = np.inf
        seq.append(cand[int(np.argmin(dev))])
    ids = tuple(int(i) for i in seq)
    probs = read_probs(model, ids, range(1, n + 1))  # the check, measured again with the fused model
    return Filler(words=tuple(vocab.itos[i] for i in ids), ids=ids, probs=probs, prior=prior, tolerance=tolerance)


@functools.lru_cache(maxsize=None)
def bundled_filler(name: str, n: int = LEAD + K_MAX) -> Filler:
    """The neutral filler of a bundled model (searched once per process)."""
    from playground.core import zoo

    tm = zoo.load_bundled(name)
    return neutral_filler(tm.model, tm.vocab, n)


# --- the probe --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Phrase:
    """A phrase as the model reads it, and its reading alone."""

    text: str
    words: tuple[str, ...]  # its tokens
    ids: tuple[int, ...]
    oov: tuple[str, ...]  # its words out of the vocabulary (read as <unk>)
    alone: float | None  # P(positive) after reading the phrase alone (None: longer than the model reads)

    def as_dict(self) -> dict:
        return {"text": self.text, "words": list(self.words), "oov": list(self.oov), "alone": self.alone}


def read_phrase(model: SentimentRNN, vocab: Vocab, text: str) -> Phrase:
    """The phrase's tokens (all of them: whether it is read is decided per k) and P reading it alone."""
    if len(text) > MAX_PHRASE_CHARS:
        raise ValueError(f"a phrase may have at most {MAX_PHRASE_CHARS} characters")
    enc = vocab.encode(text)
    ids = tuple(int(i) for i in enc.ids)
    if not ids:
        raise ValueError("a phrase needs at least one word")
    alone = float(read_probs(model, ids, [len(ids)])[0]) if len(ids) <= model.config.max_len else None
    return Phrase(text=text, words=enc.tokens, ids=ids, oov=tuple(t for t, o in zip(enc.tokens, enc.oov) if o),
                  alone=alone)


def half_distance(ks: Sequence[int], effect: Sequence[float | None]) -> int | None:
    """The smallest k at which the effect is at most half its value at the first k (k = 1); None when
    it never falls that far over the k read (None entries: not read), or when the first is not > 0."""
    if not len(ks) or effect[0] is None or not effect[0] > 0:
        return None
    half = effect[0] / 2
    return next((int(k) for k, e in zip(ks, effect) if e is not None and e <= half), None)


@dataclass(frozen=True, eq=False)
class Probe:
    """The probe's curves for one model: index i is k = i + 1 (ks = 1 .. k_max); None where the
    phrase is not read whole."""

    model: str
    arch: str
    max_len: int
    lead: int  # filler words before the phrase
    ks: tuple[int, ...]  # (K,) 1 .. k_max
    p_positive: tuple[float | None, ...]  # (K,) P after F[:lead] + positive phrase + F[lead:lead+k]
    p_negative: tuple[float | None, ...]  # (K,) the same with the negative phrase
    p_filler: tuple[float, ...]  # (K,) P after F[:lead + k] (the text without the phrase)
    positive: Phrase
    negative: Phrase
    filler: Filler

    @property
    def prior(self) -> float:
        return self.filler.prior

    @property
    def effect(self) -> tuple[float | None, ...]:
        """(K,) P(positive phrase) - P(negative phrase); None where either is not read."""
        return tuple(None if p is None or q is None else p - q for p, q in zip(self.p_positive, self.p_negative))

    @property
    def k_read(self) -> int:
        """The largest k at which the model still reads both phrases whole (0: never)."""
        return max(0, min(self.ks[-1], self.max_len - max(len(self.positive.ids), len(self.negative.ids))))

    @property
    def half_distance(self) -> int | None:
        return half_distance(self.ks, self.effect)

    def at(self, k: int) -> dict:
        """Every number of the probe at distance k (None where the phrase is not read)."""
        i = self.ks.index(k)
        return {"k": k, "p_positive": self.p_positive[i], "p_negative": self.p_negative[i],
                "p_filler": self.p_filler[i], "effect": self.effect[i]}

    def text(self, k: int, which: str = "positive") -> str:
        """The text probed at distance k: with the "positive" or "negative" phrase, or the "filler" alone
        (the whole text; the model reads its last max_len tokens)."""
        w = self.filler.words
        if which == "filler":
            return " ".join(w[:self.lead + k])
        ph = {"positive": self.positive, "negative": self.negative}[which]
        return " ".join([*w[:self.lead], ph.text, *w[self.lead:self.lead + k]])

    def story(self, escape: Callable[[str], str] = str) -> str:
        return probe_story(self, escape)

    def as_dict(self) -> dict:
        """Every curve and summary number, JSON-ready (None where the phrase is not read)."""
        phrases = {side: {**ph.as_dict(), "strong": is_strong(ph, side)}
                   for side, ph in (("positive", self.positive), ("negative", self.negative))}
        return {"model": self.model, "arch": self.arch, "max_len": self.max_len, "lead": self.lead,
                "k": list(self.ks), "p_positive": list(self.p_positive), "p_negative": list(self.p_negative),
                "p_filler": list(self.p_filler), "effect": list(self.effect), "effect_1": self.effect[0],
                "k_read": self.k_read, "half_distance": self.half_distance, "prior": self.prior,
                "filler_check": self.filler.check, "filler_within": self.filler.within, "filler_ok": self.filler.ok,
                "tolerance": self.filler.tolerance, "filler": list(self.filler.words), "phrases": phrases,
                "story": self.story()}


def probe(model: SentimentRNN, vocab: Vocab, name: str = "model", positive: str = POSITIVE,
          negative: str = NEGATIVE, lead: int = LEAD, k_max: int = K_MAX, filler: Filler | None = None) -> Probe:
    """The distance probe for any model and vocabulary (see the module docstring). `filler`: a
    filler of at least lead + k_max words (default: `neutral_filler` for this model)."""
    if lead < 0 or k_max < 1:
        raise ValueError("lead must be >= 0 and k_max >= 1")
    phrases = [read_phrase(model, vocab, text) for text in (positive, negative)]
    if filler is None:
        filler = neutral_filler(model, vocab, lead + k_max)
    if len(filler.ids) < lead + k_max:
        raise ValueError(f"the filler has {len(filler.ids)} words; the probe needs lead + k_max = {lead + k_max}")
    F = list(filler.ids)
    ks = tuple(range(1, k_max + 1))
    L = model.config.max_len
    curves = []
    for ph in phrases:
        m = len(ph.ids)
        seq = F[:lead] + list(ph.ids) + F[lead:lead + k_max]  # text_k = seq[:lead + m + k]
        read = [k for k in ks if k + m <= L]  # the phrase is read whole (a longer text loses its start first)
        probs = dict(zip(read, read_probs(model, seq, [lead + m + k for k in read]).tolist()))
        curves.append(tuple(probs.get(k) for k in ks))
    p_filler = tuple(float(filler.probs[lead + k - 1]) for k in ks)  # F[:lead + k], as the model reads it
    return Probe(model=name, arch=model.config.arch, max_len=L, lead=lead, ks=ks, p_positive=curves[0],
                 p_negative=curves[1], p_filler=p_filler, positive=phrases[0], negative=phrases[1], filler=filler)


@functools.lru_cache(maxsize=32)
def bundled_probe(name: str, positive: str = POSITIVE, negative: str = NEGATIVE, lead: int = LEAD,
                  k_max: int = K_MAX) -> Probe:
    """The probe of a bundled model (its filler and curves computed once per process)."""
    from playground.core import zoo

    tm = zoo.load_bundled(name)
    for text in (positive, negative):  # a phrase without words fails now, before the filler search
        read_phrase(tm.model, tm.vocab, text)
    return probe(tm.model, tm.vocab, name, positive, negative, lead, k_max, bundled_filler(name, lead + k_max))


# --- what the curves say ----------------------------------------------------------------------
REBOUND = 0.05  # a rise of the effect by this much above its lowest so far is called out
CLEAR = 0.05  # the comparison names one model only when its effect is ahead by at least this much
MIDDLE_K = (10, 50)  # distances a model's sentence names between k = 1 and the farthest it reads


def _f(x: float) -> str:
    return f"{x:.2f}"


def _words(n: int) -> str:
    return f"{n} filler word" + ("" if n == 1 else "s")


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def is_strong(ph: Phrase, side: str) -> bool:
    """Does the model read the phrase alone as strongly `side` ("positive" or "negative")?"""
    if ph.alone is None:
        return False
    return ph.alone >= STRONG if side == "positive" else ph.alone <= 1 - STRONG


def probe_story(p: Probe, escape: Callable[[str], str] = str) -> str:
    """The curves of one model in a few sentences, every number taken from `p`. `escape` is applied to
    the model's name and the phrases' text (pass a Markdown escaper on a page)."""
    out = []
    for ph, word in ((p.positive, "positive"), (p.negative, "negative")):
        if not is_strong(ph, word):
            alone = "is longer than it reads" if ph.alone is None else f"gives P(positive) = {_f(ph.alone)}"
            out.append(f"Read alone, the {word} phrase “{escape(ph.text)}” {alone}, so it is not strongly {word} "
                       f"for {escape(p.model)}.")
    K = p.k_read
    if K < 1:
        out.insert(0, f"{escape(p.model)} reads only its last {p.max_len} tokens, so the phrase followed by even one "
                      "filler word is never read whole: nothing here can be said about distance.")
        return " ".join(out)
    e = p.effect  # (K,), index k - 1
    e1 = e[0]
    head = (f"{escape(p.model)}: with one filler word after it, the phrase moves P(positive) by {_f(e1)} "
            f"({_f(p.p_positive[0])} with the positive phrase against {_f(p.p_negative[0])} with the negative)")
    middle = [f"after {_words(k)} by {_f(e[k - 1])}" for k in MIDDLE_K if 1 < k < K]
    last = [f"after {_words(K)}, the farthest it reads both phrases whole, by {_f(e[K - 1])}"] if K > 1 else []
    out.insert(0, "; ".join([head, *middle, *last]) + ".")
    if e1 <= 0:
        out.append("The positive phrase does not leave P(positive) above the negative one even right after it, so "
                   "there is no half-distance.")
    else:
        h = p.half_distance
        if h is None:
            out.append(f"It never falls to half ({_f(e1 / 2)}) over the {K} distances it reads; "
                       f"at k = {K} it keeps {100 * e[K - 1] / e1:.0f}% of it.")
        else:
            out.append(f"It falls to half ({_f(e1 / 2)}) at k = {h}.")
        read = np.asarray(e[:K], dtype=float)  # (K,)
        low = np.minimum.accumulate(read)
        k_up = int(np.argmax(read - low))
        if read[k_up] - low[k_up] >= REBOUND:
            k_low = int(np.argmin(read[:k_up + 1]))
            out.append(f"It does not fall steadily: from {_f(read[k_low])} at k = {k_low + 1} it is back up to "
                       f"{_f(read[k_up])} at k = {k_up + 1}.")
    i = K - 1
    out.append(f"At k = {K} the positive phrase leaves P(positive) at {_f(p.p_positive[i])} and the negative at "
               f"{_f(p.p_negative[i])}, against {_f(p.p_filler[i])} for the filler alone.")
    cut = p.max_len - p.lead - max(len(p.positive.ids), len(p.negative.ids)) + 1  # the first k a text loses words
    if cut <= K:
        out.append(f"It reads only its last {p.max_len} tokens: from k = {max(cut, 1)} the texts lose filler words "
                   "from their start (the phrase is still read whole)"
                   + (f", and from k = {K + 1} the phrase is not read: those distances are left out, not counted "
                      "as forgetting." if K < p.ks[-1] else "."))
    out.append(p.filler.sentence(p.lead))
    return " ".join(out)


def _longer(a: Probe, b: Probe) -> bool:
    """Do the numbers say `a` keeps the phrase longer than `b` (by half-distance)?"""
    hb, ha = b.half_distance, a.half_distance
    if hb is None:
        return False
    if ha is None:
        return a.effect[0] is not None and a.effect[0] > 0 and a.k_read >= hb
    return ha > hb


def compare_story(probes: Sequence[Probe], escape: Callable[[str], str] = str) -> str:
    """Which of several models keeps the phrase longest, named only where the numbers order them:
    by half-distance, then (among models it does not order) by the effect at the farthest k all of
    them read, if one is ahead by at least CLEAR. Models the phrase does not move are left out.
    `escape` is applied to the models' names."""
    name = {id(p): escape(p.model) for p in probes}
    moved = [p for p in probes if p.k_read >= 1 and p.effect[0] is not None and p.effect[0] > 0]
    left_out = [name[id(p)] for p in probes if p not in moved]
    note = (f" ({_join(left_out)} left out: the phrase, read whole, does not move "
            f"{'it' if len(left_out) == 1 else 'them'} the expected way.)" if left_out else "")
    if len(moved) < 2:
        return note.strip(" ()") + "." if note else ""
    parts = [f"{name[id(p)]}'s effect falls to half at k = {p.half_distance}" for p in moved if p.half_distance]
    for K in sorted({p.k_read for p in moved if p.half_distance is None}):
        group = [p for p in moved if p.half_distance is None and p.k_read == K]
        one = len(group) == 1
        parts.append(f"{_join([name[id(p)] + chr(39) + 's' for p in group])} {'stays' if one else 'stay'} above half "
                     f"over the {K} distances {'it reads' if one else 'they read'}")
    out = ["Each on its own neutral filler: " + "; ".join(parts) + "." + note]
    K = min(p.k_read for p in moved)
    out.append(f"At k = {K}, the farthest {_all(moved)} read, the effect is "
               + _join([f"{_f(p.effect[K - 1])} for {name[id(p)]}" for p in moved]) + ".")
    top = [p for p in moved if not any(_longer(q, p) for q in moved if q is not p)]
    if len(top) == 1:
        out.append(f"By half-distance {name[id(top[0])]} keeps the phrase longest.")
        return " ".join(out)
    K = min(p.k_read for p in top)
    first, second = sorted(top, key=lambda p: -p.effect[K - 1])[:2]
    ahead = first.effect[K - 1] - second.effect[K - 1]
    names = _join([name[id(p)] for p in top])
    beaten = [p for p in moved if p not in top]
    if beaten and all(_longer(t, b) for t in top for b in beaten):
        head = (f"By half-distance {names} keep the phrase longer than {_join([name[id(p)] for p in beaten])} but "
                "are not ordered among themselves")
    else:
        head = f"Half-distance does not order {names}"
    if ahead >= CLEAR:
        out.append(f"{head}; at k = {K}, the farthest {_all(top)} read, {name[id(first)]} keeps the most "
                   f"({_f(first.effect[K - 1])} against {_f(second.effect[K - 1])}), so it keeps the phrase longest "
                   "by these numbers.")
    else:
        out.append(f"{head}; at k = {K} the largest of their effects is ahead of the next by {ahead:.3f}, less than "
                   f"{CLEAR:g}, so the numbers single out none of them.")
    return " ".join(out)


def _all(probes: Sequence[Probe]) -> str:
    return "both" if len(probes) == 2 else "all of them"
