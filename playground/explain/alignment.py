"""Several models reading one text, lined up: each model reads the last max_len tokens of it, so
positions are counted in the full text; which stretch each read, Compare's numbers as plain data,
one plain sentence on where their readings part ways, and Compare's first screen: what each cell's
keep gate did at one word (`keeps_at`: the LSTM's forget gate f on c, the GRU's update gate z on h, a
SimpleRNN has none), for each model's units to watch (the Playground's rule, explain/lesson.py)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from playground.core.trace import Trace
from playground.explain.account import Account
from playground.explain.lesson import QuantityAt, word_lesson

__all__ = ["read_start", "TextAxis", "text_axis", "reading_note", "comparison", "disagreement_summary",
           "biggest_position", "KeepAt", "KeepsAt", "keeps_at"]


def read_start(tr: Trace) -> int:
    """Index in the full text of the first token the model read (a model reads the LAST max_len
    tokens, so a cut text starts later; 0 when it read everything)."""
    return tr.n_tokens_total - tr.n_steps


@dataclass(frozen=True)
class TextAxis:
    """The stretch of one text that several models read, by position in the full text."""

    start: int  # full-text index of the first token any of them read
    n_total: int  # tokens in the full text
    tokens: tuple[str, ...]  # the full text's tokens; "" where none of them read (before `start`)
    common: int  # full-text index of the first token ALL of them read
    same_text: bool  # every model read the same tokens at the same positions


def text_axis(traces: Mapping[str, Trace]) -> TextAxis:
    """Line several traces of one text up by full-text position (tokenisation does not depend on
    the vocabulary, so position p is the same word for every model)."""
    trs = list(traces.values())
    n_total = max((tr.n_tokens_total for tr in trs), default=0)
    same = len({tr.n_tokens_total for tr in trs}) <= 1
    tokens: list[str | None] = [None] * n_total
    for tr in trs:
        s0 = read_start(tr)
        for t, tok in enumerate(tr.tokens):
            if tokens[s0 + t] is None:
                tokens[s0 + t] = tok
            elif tokens[s0 + t] != tok:
                same = False
    start = min((read_start(tr) for tr in trs), default=0)
    common = max((read_start(tr) for tr in trs), default=0)
    return TextAxis(start, n_total, tuple(t or "" for t in tokens), common, same)


def reading_note(tr: Trace) -> str:
    """Which stretch of the text a model read, in words."""
    if not tr.truncated:
        return f"read all {tr.n_steps:,} token{'s' if tr.n_steps != 1 else ''}"
    k = read_start(tr)
    return (f"read only the last {tr.n_steps:,} of {tr.n_tokens_total:,} tokens "
            f"(from word {k + 1:,}, “{tr.tokens[0]}”)")


def comparison(traces: Mapping[str, Trace]) -> dict:
    """Compare's numbers as plain data (`python -m playground compare --json`): for every model
    the stretch it read and its probability after each word, numbered by position in the full
    text (from 1), and the summary sentence."""
    axis = text_axis(traces)
    return {
        "n_tokens_total": axis.n_total, "summary": disagreement_summary(traces),
        "models": {name: {"arch": tr.arch, "read_from_word": read_start(tr) + 1, "n_read": tr.n_steps,
                          "note": reading_note(tr), "tokens": list(tr.tokens), "oov": list(tr.oov),
                          "words": list(range(read_start(tr) + 1, tr.n_tokens_total + 1)),
                          "step_probs": [round(float(p), 7) for p in tr.step_probs], "prob": tr.prob,
                          "label": tr.label} for name, tr in traces.items()},
    }


def disagreement_summary(traces: Mapping[str, Trace], ranges: bool = True) -> str:
    """One plain sentence: do the models agree, and where do their readings part ways? Positions
    are positions in the full text, and only positions that every model read are compared.
    `ranges`: say the span of P(positive) when they agree (Compare's page prints each model's instead)."""
    if not traces:
        return "No models to compare."
    items = list(traces.items())
    if all(tr.n_steps == 0 for _, tr in items):
        return "There is nothing to read yet: type a sentence."
    labels = {name: tr.label for name, tr in items}
    pos = [n for n, lab in labels.items() if lab == 1]
    neg = [n for n, lab in labels.items() if lab == 0]

    def names(ns):
        return " and ".join(ns) if len(ns) <= 2 else ", ".join(ns[:-1]) + " and " + ns[-1]

    if not pos or not neg:
        word = "positive" if pos else "negative"
        probs = [tr.prob for _, tr in items]
        span = f" (P(positive) from {min(probs):.2f} to {max(probs):.2f})" if ranges else ""
        return f"All {len(items)} read it as {word}{span}."
    verdicts = (f"{names(pos)} {'says' if len(pos) == 1 else 'say'} positive, {names(neg)} "
                f"{'says' if len(neg) == 1 else 'say'} negative.")
    axis = text_axis(traces)
    if not axis.same_text:  # different words at the same position: nothing to line up
        return verdicts
    # the first position (all of them read it) after which the models stop agreeing for good
    split_at = None
    for p in range(axis.n_total - 1, axis.common - 1, -1):
        lab_p = {int(tr.step_probs[p - read_start(tr)] >= 0.5) for _, tr in items}
        if len(lab_p) == 1:
            break
        split_at = p
    if split_at is None:
        return verdicts
    word = f"“{axis.tokens[split_at]}” (word {split_at + 1:,})"
    if split_at == axis.common and axis.common > axis.start:  # some read earlier words, others did not
        return (f"{verdicts} They disagree already at {word}, the first word all of them read, "
                "and at every word after it.")
    return f"{verdicts} Their readings part ways at {word}."



# --- Compare's first screen: the keep gates at one word, side by side ------------------------------------

def _shared(traces: Mapping[str, Trace]) -> tuple[int, int]:
    """[lo, hi): the full-text positions every model read (models that split the text into different tokens,
    a Keras model's among them, may end at different positions)."""
    trs = list(traces.values())
    return max((read_start(tr) for tr in trs), default=0), min((tr.n_tokens_total for tr in trs), default=0)


def biggest_position(traces: Mapping[str, Trace]) -> int | None:
    """The full-text position of the biggest move of P(positive) of any of the models ("biggest move"
    means one thing in the whole app: the largest change of P(positive) from one word to the next),
    among the words every model read; the first of equals. None when they share no word."""
    lo, hi = _shared(traces)
    best, where = -1.0, None
    for p in range(lo, hi):
        for tr in traces.values():
            t = p - read_start(tr)
            prev = tr.prob0 if t == 0 else tr.step_probs[t - 1]
            d = abs(float(tr.step_probs[t]) - float(prev))
            if d > best:
                best, where = d, p
    return where


@dataclass(frozen=True)
class KeepAt:
    """One model at the chosen word: how P(positive) moved and what its keep gate did there."""

    name: str
    cell: str  # the cell's title, "LSTM"
    t: int  # the word's index in this model's reading
    p_before: float
    p_after: float
    units: tuple[int, ...]  # its units to watch at the word (last layer)
    why: tuple[str, ...]
    gate: QuantityAt | None  # its keep gate's values for those units; None: the cell has no keep gate
    carrier: str | None  # the state the gate keeps ("c", "h")
    mean_all: float | None  # the keep gate's mean over all units of the last layer at the word
    sentence: str

    @property
    def delta(self) -> float:
        return self.p_after - self.p_before

    def as_dict(self) -> dict:
        return {"model": self.name, "cell": self.cell, "t": self.t, "p_before": self.p_before,
                "p_after": self.p_after, "delta": self.delta, "units": list(self.units), "why": list(self.why),
                "gate": None if self.gate is None else self.gate.name,
                "gate_values": None if self.gate is None else list(self.gate.values),
                "carrier": self.carrier, "mean_all_units": self.mean_all, "sentence": self.sentence}


@dataclass(frozen=True)
class KeepsAt:
    position: int  # in the full text, from 0
    token: str
    n_total: int
    models: tuple[KeepAt, ...]
    headline: str

    def as_dict(self) -> dict:
        return {"word": self.position + 1, "token": self.token, "n_tokens_total": self.n_total,
                "headline": self.headline, "models": [m.as_dict() for m in self.models]}


def _keep_sentence(name: str, tr: Trace, gate: QuantityAt | None, carrier: str | None, mean_all: float | None,
                   units: tuple[int, ...]) -> str:
    if gate is None:
        return (f"{name}: no gate keeps its memory; at every word h = tanh(W x + U h + b) is computed anew "
                "from the word and the old h.")
    vals = np.asarray(gate.values, dtype=float)
    n, H = len(vals), tr.hidden_size
    return (f"{name}: its {gate.title} kept {mean_all:.2f} of {carrier} on average over all {H} units "
            f"({vals.min():.2f} to {vals.max():.2f} over its {n} units to watch; unit {units[0]}, which moved "
            f"this word most: {vals[0]:.2f}).")


def keeps_at(traces: Mapping[str, Trace], position: int | None = None,
             accounts: Mapping[str, Account] | None = None, escape=str) -> KeepsAt:
    """What each model's keep gate did at the word at full-text `position` (default: the biggest move,
    `biggest_position`), for its own units to watch; every model must have read that word."""
    if not traces or all(tr.n_steps == 0 for tr in traces.values()):
        raise ValueError("nothing was read: type a sentence")
    axis = text_axis(traces)
    lo, hi = _shared(traces)
    position = biggest_position(traces) if position is None else int(position)
    if position is None or not lo <= position < hi:
        raise IndexError(f"word {'?' if position is None else position + 1} is not one every model read "
                         f"(words {lo + 1}..{hi})")
    out = []
    for name, tr in traces.items():
        t = position - read_start(tr)
        lesson = word_lesson(tr, t, None if accounts is None else accounts.get(name))
        keep = tr.cell.keep
        gate = None if keep is None else next(q for q in lesson.quantities if q.name == keep.gate)
        mean_all = None if keep is None else float(np.mean(tr.last.gates[keep.gate][t]))
        carrier = None if keep is None else keep.carrier
        out.append(KeepAt(name, tr.cell.title, t, lesson.p_before, lesson.p_after, lesson.units, lesson.why, gate,
                          carrier, mean_all, escape(_keep_sentence(name, tr, gate, carrier, mean_all, lesson.units))))
    token = axis.tokens[position]
    moves = ", ".join(f"{m.name} {100 * m.delta:+.1f}" for m in out)
    gated = [m for m in out if m.gate is not None]
    kept = "; ".join(f"{m.name}'s {m.gate.title.split(' ')[0]} gate kept {m.mean_all:.2f} of {m.carrier}"
                     for m in gated)
    none = [m.name for m in out if m.gate is None]
    if none:
        kept += ("; " if kept else "") + " and ".join(none) + (" has" if len(none) == 1 else " have") + " no keep gate"
    headline = (f"At “{token}” (word {position + 1} of {axis.n_total}), P(positive) moved {moves} points"
                + (f". On average over all units, {kept}." if kept else "."))
    return KeepsAt(position, token, axis.n_total, tuple(out), escape(headline))
