"""Words computed from a trace: what a page may say about a model's output is derived here from
that output, never written by hand ("say only what the numbers say").

`curve_story(tr)` reads the prediction curve: the prior (P(positive) before any word, the readout
on the zero state), every token's step change measured from the point before it (the prior for
the first token), the token with the largest move, and every token where the verdict crosses 0.5.
`CurveStory.sentence()` says that in one paragraph; `as_dict()` is the command line's JSON.
`follow_token` keeps the unit drill-down's token on the same word when the sentence changes.

Pure functions, no Streamlit. Token text goes through the caller's `escape` (Markdown on a page).
Verdicts use the same rule as everywhere: positive when P(positive) >= 0.5.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .trace import Trace

MAX_LISTED = 3  # crossings named one by one; the rest are counted
TIMES = ("no times", "once", "twice", "three times", "four times", "five times", "six times", "seven times",
         "eight times", "nine times", "ten times")  # "crosses 0.5 three times", not "0.5 3 times"


def side(p: float) -> str:
    """The verdict a probability stands for (positive from 0.5 up)."""
    return "positive" if p >= 0.5 else "negative"


def pct(p: float) -> str:
    return f"{100 * p:.1f}%"


@dataclass(frozen=True)
class Move:
    """What reading token `t` did to P(positive)."""

    t: int  # 0-based position in the tokens read
    token: str
    before: float  # P(positive) before this token (the prior for t = 0)
    after: float  # P(positive) after it

    @property
    def delta(self) -> float:
        return self.after - self.before

    @property
    def crosses(self) -> bool:
        return side(self.before) != side(self.after)

    def as_dict(self) -> dict:
        return {"t": self.t, "token": self.token, "before": self.before, "after": self.after, "delta": self.delta,
                "crosses": self.crosses, "to": side(self.after)}


def moves(tr: Trace) -> list[Move]:
    """One Move per token read: the curve's step changes, the first measured from the prior."""
    curve = np.concatenate([[tr.prob0], np.asarray(tr.step_probs, dtype=float)])  # (T + 1,)
    return [Move(t, tr.tokens[t], float(curve[t]), float(curve[t + 1])) for t in range(tr.n_steps)]


@dataclass(frozen=True)
class CurveStory:
    prior: float  # P(positive) before reading
    final: float  # P(positive) after the last token (the prior when nothing was read)
    n_tokens: int
    biggest: Move | None  # the largest |step change| (the first of equals); None without tokens
    crossings: tuple[Move, ...]  # every token after which the verdict is on the other side of 0.5

    def sentence(self, escape: Callable[[str], str] = str) -> str:
        """One paragraph, every number and word in it taken from the curve. `escape` is applied
        to token text (pass a Markdown escaper on a page)."""
        def q(m: Move) -> str:
            return f"“{escape(m.token)}” (token {m.t + 1})"

        parts = [f"Before reading a word it stands at {pct(self.prior)} positive (its prior)."]
        b = self.biggest
        if b is None:
            parts.append("It has read nothing, so the prior is its verdict.")
            return " ".join(parts)
        if b.delta == 0:
            parts.append(f"No token moves it: P(positive) stays at {pct(b.after)}.")
        else:
            verb = "rises" if b.delta > 0 else "falls"
            parts.append(f"The biggest move is at {q(b)}: P(positive) {verb} by {100 * abs(b.delta):.1f} "
                         f"points, from {pct(b.before)} to {pct(b.after)}.")
        n = len(self.crossings)
        if n == 0:
            parts.append(f"It never crosses 0.5: it stays {side(self.prior)} from the prior to the last token.")
        else:
            listed = [f"to {side(m.after)} at {q(m)}" for m in self.crossings[:MAX_LISTED]]
            more = f", and {n - MAX_LISTED} more" if n > MAX_LISTED else ""
            times = TIMES[n] if n < len(TIMES) else f"{n:,} times"
            parts.append(f"Its verdict crosses 0.5 {times}: {', '.join(listed)}{more}.")
        parts.append(f"It ends {side(self.final)} at {pct(self.final)}.")
        return " ".join(parts)

    def as_dict(self) -> dict:
        return {"prior": self.prior, "final": self.final, "n_tokens": self.n_tokens,
                "biggest": self.biggest.as_dict() if self.biggest else None,
                "crossings": [m.as_dict() for m in self.crossings], "sentence": self.sentence()}


def curve_story(tr: Trace) -> CurveStory:
    """The prediction curve in numbers a sentence can name (see the module docstring)."""
    ms = moves(tr)
    biggest = max(ms, key=lambda m: abs(m.delta)) if ms else None  # max keeps the first of equals
    return CurveStory(prior=float(tr.prob0), final=float(tr.prob), n_tokens=tr.n_steps, biggest=biggest,
                      crossings=tuple(m for m in ms if m.crosses))


def follow_token(old_tokens: Sequence[str], old_t: int | None, new_tokens: Sequence[str]) -> int | None:
    """Where a drill-down pointing at `old_tokens[old_t]` should point in `new_tokens`: the same
    occurrence of the same word if the new text has it (the 2nd "it" stays the 2nd "it"), else its
    last occurrence, else the last token. None when there are no new tokens."""
    if not new_tokens:
        return None
    last = len(new_tokens) - 1
    if old_t is None or not 0 <= old_t < len(old_tokens):
        return last
    word = old_tokens[old_t]
    k = sum(1 for w in old_tokens[:old_t] if w == word)  # which occurrence of the word it was
    where = [i for i, w in enumerate(new_tokens) if w == word]
    if not where:
        return last
    return where[min(k, len(where) - 1)]
