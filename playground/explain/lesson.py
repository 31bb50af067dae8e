"""The Playground's first screen: what each gate did at the word the visitor picks.

One set of "units to watch" per word, used by every picture, table and sentence that names units:
the units of the last layer that moved the logit most at that word (largest |C[u, t]|, the exact
account's column, playground/explain/account.py) and then the units that moved the verdict most
(largest |share|, its rows' sums), WATCH in all. For each of the cell's quantities (its gates, its
candidate, its states) the lesson holds those units' values at the word and one sentence that says
what they show, every number in it taken from the values: their range and mean, and for the unit
that moved the word most, what its value did in the cell's own words (cells.Quantity.reading).

"Biggest move" means one thing everywhere in the app: the largest change of P(positive) from one
word to the next (narrate.curve_story); the default word is that word.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from playground.core.cells import GATE
from playground.core.trace import Trace
from playground.explain.account import Account, account
from playground.explain.narrate import curve_story, pct, side

WATCH = 6  # units to watch per word: half that moved the word most, then those that moved the verdict most
WHY = {"word": "moved this word most", "verdict": "moved the verdict most"}


def default_word(tr: Trace) -> int | None:
    """The word with the biggest move of P(positive) (the first of equals); None when nothing was read."""
    b = curve_story(tr).biggest
    return None if b is None else b.t


def units_to_watch(acc: Account, t: int, k: int = WATCH) -> tuple[tuple[int, str], ...]:
    """(unit, why) pairs: the ceil(k/2) units with the largest |C[u, t]| at word `t` ("word"), then
    the largest |share| of the verdict not yet listed ("verdict"), k in all (fewer when the layer
    has fewer units). Ties keep the lower unit number first."""
    C = acc.contributions  # (H, T)
    H = C.shape[0]
    if not 0 <= t < C.shape[1]:
        raise IndexError("token out of range")
    k = max(0, min(k, H))
    at_word = [int(u) for u in np.argsort(-np.abs(C[:, t]), kind="stable")]
    picks: list[tuple[int, str]] = [(u, "word") for u in at_word[:(k + 1) // 2]]
    taken = {u for u, _ in picks}
    for u in (int(u) for u in acc.ranking("verdict")):
        if len(picks) >= k:
            break
        if u not in taken:
            picks.append((u, "verdict"))
            taken.add(u)
    return tuple(picks)


@dataclass(frozen=True)
class QuantityAt:
    """One quantity of the cell at the word, for the units to watch (in their order)."""

    name: str  # "f"
    title: str  # "forget gate f"
    kind: str  # cells.GATE, SIGNED or UNBOUNDED
    meaning: str  # what it does, one line
    color: str  # its colour in every per-unit chart (cells.Quantity.color)
    values: tuple[float, ...]  # one per unit to watch
    sentence: str
    told: bool  # its sentence says what the value did (the cell's words for it), not only its range

    def as_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "kind": self.kind, "values": list(self.values),
                "sentence": self.sentence, "told": self.told}


@dataclass(frozen=True)
class WordLesson:
    t: int
    token: str
    oov: bool
    n_steps: int
    p_before: float  # P(positive) before the word (the prior for the first)
    p_after: float
    biggest: int  # the word with the biggest move of P(positive)
    units: tuple[int, ...]  # the units to watch, last layer
    why: tuple[str, ...]  # "word" or "verdict", one per unit
    contributions: tuple[float, ...]  # C[u, t] of each, logit
    shares: tuple[float, ...]  # each one's share of the final logit
    quantities: tuple[QuantityAt, ...]  # the cell's quantities in its display order, then h
    headline: str

    @property
    def delta(self) -> float:
        return self.p_after - self.p_before

    def as_dict(self) -> dict:
        return {"t": self.t, "token": self.token, "oov": self.oov, "p_before": self.p_before,
                "p_after": self.p_after, "delta": self.delta, "biggest": self.biggest,
                "units": [{"unit": u, "why": w, "contribution": c, "share": s}
                          for u, w, c, s in zip(self.units, self.why, self.contributions, self.shares)],
                "quantities": [q.as_dict() for q in self.quantities], "headline": self.headline}


def _headline(t: int, token: str, oov: bool, n: int, before: float, after: float, biggest: int, escape,
              tr: Trace | None = None) -> str:
    at = f"At “{escape(token)}”{'°' if oov else ''}"
    if tr is None or not tr.first_word:
        where = f"{at} (word {t + 1} of {n})"
    elif tr.lead:  # a Keras model's padding and start token: counted apart from the words
        where = f"{at} ({tr.where(t)} of {tr.n_words}, after {tr.lead:,} padding zeros)" if t >= tr.first_word \
            else f"{at} ({tr.where(t)}, before the {tr.n_words} words)"
    else:
        where = f"{at} ({tr.where(t)}" + (f" of {tr.n_words})" if t >= tr.first_word else ")")
    d = 100 * (after - before)
    if pct(before) == pct(after):
        said = f"P(positive) stayed at {pct(after)}"
    else:
        said = (f"P(positive) {'rose' if after > before else 'fell'} from {pct(before)} to {pct(after)} "
                f"({d:+.1f} points)")
        if side(before) != side(after):
            said += f", crossing 0.5 to {side(after)}"
    return f"{where} {said}" + (": the biggest move in the text." if t == biggest else ".")


def _sentence(q, values: np.ndarray, units: tuple[int, ...], top_fields: dict) -> str:
    """Range and mean over the units to watch; then the first unit (the one that moved the word most)
    in the cell's own words when the quantity has them."""
    lo, hi, mean = float(values.min()), float(values.max()), float(values.mean())
    n = len(values)
    spread = (f"{q.show(lo)} to {q.show(hi)} over these {n} units (mean {q.show(mean)})" if n > 1
              else f"{q.show(lo)}")
    out = f"{q.title[0].upper()}{q.title[1:]}: {spread}."
    if q.reading is not None:
        clause = q.reading.clause(values[0], top_fields)
        out += f" Unit {units[0]}, which moved this word most: {q.show(values[0])}, {clause}."
    return out


def word_lesson(tr: Trace, t: int | None = None, acc: Account | None = None, k: int = WATCH,
                escape=str) -> WordLesson:
    """What the last layer's gates did at word `t` (default: the biggest move), for its units to watch."""
    if tr.n_steps == 0:
        raise ValueError("nothing was read: type a sentence")
    acc = account(tr) if acc is None else acc
    biggest = default_word(tr)
    t = biggest if t is None else int(t)
    if not 0 <= t < tr.n_steps:
        raise IndexError(f"word {t + 1} is outside 1..{tr.n_steps}")
    watch = units_to_watch(acc, t, k)
    units = tuple(u for u, _ in watch)
    last = tr.last
    series = {**last.gates, "h": last.h}
    idx = np.asarray(units, dtype=int)
    u0 = units[0]
    top_fields = {name: float(v[t, u0]) for name, v in series.items()}
    top_fields.update({f"{s}_prev": float(series[s][t - 1, u0]) if t else 0.0 for s in tr.cell.state})
    quantities = []
    for name in list(tr.gate_names) + ["h"]:
        q = tr.cell.quantity(name)
        vals = np.asarray(series[name][t, idx], dtype=float)
        quantities.append(QuantityAt(q.name, q.title, q.kind, q.meaning, q.color, tuple(float(v) for v in vals),
                                     _sentence(q, vals, units, top_fields), q.reading is not None))
    probs = np.concatenate([[tr.prob0], np.asarray(tr.step_probs, dtype=float)])
    before, after = float(probs[t]), float(probs[t + 1])
    return WordLesson(
        t=t, token=tr.tokens[t], oov=bool(tr.oov[t]), n_steps=tr.n_steps, p_before=before, p_after=after,
        biggest=int(biggest), units=units, why=tuple(w for _, w in watch),
        contributions=tuple(float(acc.contributions[u, t]) for u in units),
        shares=tuple(float(acc.unit_shares[u]) for u in units), quantities=tuple(quantities),
        headline=_headline(t, tr.tokens[t], bool(tr.oov[t]), tr.n_steps, before, after, int(biggest), escape, tr))


def gates_only(lesson: WordLesson) -> tuple[QuantityAt, ...]:
    """The lesson's [0, 1] gates (what "what did each gate do" asks about)."""
    return tuple(q for q in lesson.quantities if q.kind == GATE)
