"""An exact account of the verdict: which units of the last layer moved the logit at which word.

The readout reads the last layer's state after every token: logit_t = b + w . h_t, and the state
starts at h_(-1) = 0, so the logit before reading is b (the prior). Every change of the logit
therefore splits exactly over units:

    logit_t - logit_(t-1) = sum_u w_u (h_(u,t) - h_(u,t-1)),    logit_T - b = sum_(u,t) C[u, t]

with C[u, t] = w_u (h_(u,t) - h_(u,t-1)). Columns of C sum to each word's change in logit, rows to
each unit's share w_u h_(u,T) of the final logit. No approximation, for every cell kind.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .trace import Trace

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
