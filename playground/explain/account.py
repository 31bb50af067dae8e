"""An exact account of the verdict: which units of the last layer moved the logit at which word.

The readout reads the last layer's state after every token: logit_t = b + w . h_t, and the state
starts at h_(-1) = 0, so the logit before reading is b (the prior). Every change of the logit
therefore splits exactly over units:

    logit_t - logit_(t-1) = sum_u w_u (h_(u,t) - h_(u,t-1)),    logit_T - b = sum_(u,t) C[u, t]

with C[u, t] = w_u (h_(u,t) - h_(u,t-1)). Columns of C sum to each word's change in logit, rows to
each unit's share w_u h_(u,T) of the final logit. No approximation, for every cell kind.

`units_at(tr, acc, t)` lists the units that moved the logit most at one word with the last layer's
gates there (the numbers the Playground's table puts beside each contribution); `units_for_half`
counts how many of the largest parts make up half of their total size (how concentrated it is).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from playground.core.trace import Trace

RANKINGS = {
    "verdict": "share of the final logit, |w_u h_u,T|",
    "moves": "total size of its moves, sum over words of |C[u, t]|",
}


@dataclass(frozen=True)
class Account:
    tokens: tuple[str, ...]
    prior_logit: float  # b: the logit before reading anything (the readout on the zero state)
    step_logits: np.ndarray  # (T,) logit after each token
    contributions: np.ndarray  # (H, T) C[u, t] = w_u (h_(u,t) - h_(u,t-1)), last layer

    @property
    def word_moves(self) -> np.ndarray:
        """(T,) each word's change in logit (the columns' sums)."""
        return np.diff(np.concatenate([[self.prior_logit], self.step_logits]))

    @property
    def unit_shares(self) -> np.ndarray:
        """(H,) each unit's share of the final logit minus the prior (the rows' sums)."""
        return self.contributions.sum(axis=1)

    @property
    def logit(self) -> float:
        return float(self.step_logits[-1]) if len(self.step_logits) else self.prior_logit

    def ranking(self, by: str = "verdict") -> np.ndarray:
        """Unit indices, most decisive first (ties keep the lower index first)."""
        if by == "verdict":
            key = np.abs(self.unit_shares)
        elif by == "moves":
            key = np.abs(self.contributions).sum(axis=1)
        else:
            raise ValueError(f"unknown ranking {by!r}; choose one of {', '.join(RANKINGS)}")
        return np.argsort(-key, kind="stable")

    def decisive(self) -> tuple[int, int] | None:
        """(unit, token) of the most decisive unit at its largest single move; None for no tokens."""
        if not self.tokens:
            return None
        unit = int(self.ranking("verdict")[0])
        return unit, int(np.argmax(np.abs(self.contributions[unit])))


def units_for_half(values: np.ndarray) -> int:
    """How many of the largest |values| make up at least half of sum |values| (0 when all are 0)."""
    size = np.sort(np.abs(np.asarray(values, dtype=np.float64)))[::-1]
    total = size.sum()
    if total <= 0:
        return 0
    return int(np.searchsorted(np.cumsum(size), 0.5 * total - 1e-15 * total) + 1)


@dataclass(frozen=True)
class UnitAt:
    """One unit of the last layer at one word: its contribution there and its values."""

    unit: int
    contribution: float  # C[unit, t], logit
    share: float  # the unit's share of the final logit minus the prior (its row's sum), logit
    h_prev: float  # h before the word (0 before the first)
    values: dict  # quantity name -> value at t, in the cell's display order (cells.py), then "h"

    def as_dict(self) -> dict:
        return {"unit": self.unit, "contribution": self.contribution, "share": self.share, "h_prev": self.h_prev,
                "values": dict(self.values)}


def units_at(tr: Trace, acc: Account, t: int, k: int = 8, include: int | None = None) -> list[UnitAt]:
    """The `k` units of the last layer that moved the logit most at token `t` (largest |C[u, t]|
    first; ties keep the lower index), and unit `include` after them if it is not among them."""
    if not 0 <= t < len(acc.tokens):
        raise IndexError("token out of range")
    order = [int(u) for u in np.argsort(-np.abs(acc.contributions[:, t]), kind="stable")[:max(0, k)]]
    if include is not None and 0 <= include < acc.contributions.shape[0] and include not in order:
        order.append(int(include))
    last = tr.last
    rows = []
    for u in order:
        values = {name: float(v[t, u]) for name, v in last.gates.items()}
        values["h"] = float(last.h[t, u])
        rows.append(UnitAt(u, float(acc.contributions[u, t]), float(acc.unit_shares[u]),
                           float(last.h[t - 1, u]) if t > 0 else 0.0, values))
    return rows


def account(tr: Trace) -> Account:
    """The units x tokens account of `tr`'s verdict (its last layer and readout)."""
    if tr.readout_w is None:
        raise ValueError("this trace has no readout weights (made by an old version?)")
    h = tr.last.h  # (T, H)
    w = np.asarray(tr.readout_w, dtype=np.float64)
    prev = np.vstack([np.zeros((1, h.shape[1])), h[:-1]]) if len(h) else h
    contributions = (w[None, :] * (h - prev)).T  # (H, T)
    step_logits = tr.readout_b + h @ w
    return Account(tr.tokens, float(tr.readout_b), step_logits, contributions)
