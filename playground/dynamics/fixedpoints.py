"""Approximate fixed points of a recurrent update under a neutral input, the way Maheswaranathan et al.
(2019) look for line attractors in sentiment RNNs.

F(s, x) is one step of the model's own fused torch layer (a float64 copy) on the full state the cell
carries, flattened to s (N, S): its `state` names in the cell's order ((h, c) for an LSTM, so S = 2H),
each for every layer. Nothing here branches on a cell's name. From each starting state, q(s) =
0.5 |F(s, x) - s|^2 is minimised with Adam (STEPS steps, LR decayed along a cosine to 1% of it), and the
end points whose speed |F(s, x) - s| is below the caller's tolerance are kept. A trained network's
line is only approximately fixed: along it the state drifts slowly toward a few exact fixed points,
so a longer search slides along it, and q can have local minima that are no fixed point (a random
LSTM in the tests stalls at one); the kept points are the paper's "slow points".

The neutral input: x = 0 by default, the update with no input (the paper's analysis of the
autonomous system), and exactly what our embedding gives the padding token; or "frequent", the mean
embedding of the 20 most frequent words (ids 2-21: vocabularies are ranked by frequency), closer to
what a model reads between opinions.

At each fixed point the Jacobian dF/ds (one backward pass over S copies of the point) and its
|eigenvalues| (torch.linalg.eigvals, on torch's threads): the largest, and how many are >= SLOW. Over
the fixed points: their first principal component's share of their spread (in the full state) and the
angle between that line's h part (the last layer's h, what the readout reads) and the readout w.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

from playground.core import clock
from playground.core.cells import sigmoid
from playground.core.clock import Budget
from playground.core.models import SentimentRNN
from playground.core.text import Vocab

STEPS = 400  # Adam steps of the search
SEARCH_SHARE = 0.85  # of a time budget, by when the search stops (the eigenvalues get the rest)
LR = 0.01  # Adam's first step size, decayed to 1% of it along a cosine
N_EIGEN = 3  # largest |eigenvalues| kept per fixed point
SLOW = 0.95  # an eigenvalue with |lambda| >= SLOW is a slow direction (it keeps 95% or more per token)
N_FREQUENT = 20
NEUTRAL = {"zero": "x = 0 (the padding token's embedding)",
           "frequent": f"x = the mean embedding of the {N_FREQUENT} most frequent words"}

Progress = Callable[[float, str], None]


class StateUpdate:
    """F(s, x): one step of the model's fused recurrent layer(s) in float64 on flat states s (N, S),
    S = (state names, in the cell's order) x layers x H. The readout reads the `h_part`."""

    def __init__(self, model: SentimentRNN):
        cfg = model.config
        self.rnn = copy.deepcopy(model.rnn).double().eval()
        self.rnn.requires_grad_(False)
        self.emb = model.embedding.weight.detach().double()  # (V, E)
        self.names, self.L, self.H = cfg.cell.state, cfg.num_layers, cfg.hidden_size
        self.S = len(self.names) * self.L * self.H
        k = self.names.index("h") * self.L + self.L - 1
        self.h_part = slice(k * self.H, (k + 1) * self.H)  # the last layer's h within s

    def hx(self, s: torch.Tensor):
        """(N, S) -> torch's state: (L, N, H), or a tuple of them (one per state name)."""
        v = s.reshape(len(s), len(self.names), self.L, self.H)
        parts = tuple(v[:, k].transpose(0, 1).contiguous() for k in range(len(self.names)))
        return parts if len(parts) > 1 else parts[0]

    def flat(self, hn) -> torch.Tensor:
        """torch's state -> (N, S)."""
        parts = hn if isinstance(hn, tuple) else (hn,)
        return torch.stack([p.transpose(0, 1) for p in parts], 1).reshape(parts[0].shape[1], self.S)

    def __call__(self, s: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """F(s, x) (N, S): x (E,) for every state, or (N, E) one each."""
        _, hn = self.rnn(x.reshape(-1, 1, x.shape[-1]).expand(len(s), 1, -1), self.hx(s))
        return self.flat(hn)

    def run(self, ids: list, s0: torch.Tensor | None = None):
        """Read id sequences (each non-empty) from s0 (zero): (last layer's h (B, T, H) padded, end states (B, S))."""
        lengths = torch.tensor([len(i) for i in ids])
        x = self.emb[pad_sequence([torch.as_tensor(i) for i in ids], batch_first=True)]  # (B, T, E)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, hn = self.rnn(packed, None if s0 is None else self.hx(s0))
        return pad_packed_sequence(out, batch_first=True)[0], self.flat(hn)


def neutral_input(model: SentimentRNN, vocab: Vocab | None, neutral: str = "zero") -> tuple[np.ndarray, tuple]:
    """The neutral input x (E,) and the words it averages (none for the zero input)."""
    emb = model.embedding.weight.detach().double().numpy()  # (V, E)
    if neutral == "zero":
        return np.zeros(emb.shape[1]), ()
    if neutral == "frequent":
        ids = list(range(2, min(2 + N_FREQUENT, len(emb))))
        words = tuple(vocab.itos[i] for i in ids) if vocab is not None else ()
        return emb[ids].mean(0), words
    raise ValueError(f"unknown neutral input {neutral!r}; choose one of {', '.join(NEUTRAL)}")


@dataclass(frozen=True)
class FixedPoints:
    neutral: str  # key of NEUTRAL
    neutral_words: tuple[str, ...]  # the words averaged into the neutral input ("frequent")
    tolerance: float
    speeds_all: np.ndarray  # (n_starts,) |F(s) - s| where each search ended
    speeds: np.ndarray  # (n,) the same at the fixed points kept (those below the tolerance)
    states: np.ndarray  # (n, S) the fixed points kept: full states (h, c for an LSTM; all layers)
    h: np.ndarray  # (n, H) their last layer's h, what the readout reads
    probs: np.ndarray  # (n,) the readout's exact P at each
    eigen: np.ndarray  # (n, N_EIGEN) the largest |eigenvalues| of dF/ds at each, descending
    n_slow: np.ndarray  # (n,) how many eigenvalues at each have |lambda| >= SLOW (complex pairs count twice)
    pc1_share: float | None  # first principal component's share of their spread (None: fewer than 2, or all
    #                          within the tolerance of their mean: one point)
    direction: np.ndarray | None  # (H,) that component's h part, unit length, signed w . d >= 0
    readout_angle_deg: float | None  # angle between `direction` and the readout w, 0-90
    cut: str = ""  # "" when complete; else what a time budget or a stop left undone, as a phrase

    @property
    def n_starts(self) -> int:
        return len(self.speeds_all)

    @property
    def n_found(self) -> int:
        return len(self.states)

    @property
    def top_eigenvalue(self) -> float | None:
        """Median over the fixed points of the largest |eigenvalue| of the Jacobian."""
        return float(np.median(self.eigen[:, 0])) if self.n_found else None

    @property
    def top_eigenvalue_range(self) -> tuple[float, float] | None:
        return (float(self.eigen[:, 0].min()), float(self.eigen[:, 0].max())) if self.n_found else None


def _eigen_magnitudes(upd: StateUpdate, x: torch.Tensor, pts: torch.Tensor, progress: Progress,
                      budget: Budget | None = None) -> np.ndarray:
    """|eigenvalues| (n, S) of dF/ds at each point, a few points at a time (each Jacobian is S x S); with a
    `budget`, only the first points' (m, S) once it is over. The
    Jacobian comes in one backward pass: S copies of a point in a batch, row k the gradient of F_k.
    torch's eigvals runs on torch's threads (LAPACK through numpy would take every core)."""
    S, out = upd.S, []
    for lo in range(0, len(pts), max(1, 4096 // S)):
        if lo and clock.over(budget):
            break
        chunk = pts[lo:lo + max(1, 4096 // S)]
        s = chunk.repeat_interleave(S, 0).requires_grad_(True)  # (m S, S)
        y = upd(s, x).reshape(len(chunk), S, S)  # y[p, k] = F(copy k of point p)
        y.diagonal(dim1=1, dim2=2).sum().backward()
        jac = s.grad.reshape(len(chunk), S, S)  # jac[p, k, j] = dF_k / ds_j at point p
        out.append(torch.linalg.eigvals(jac).abs().numpy())
        progress(0.4 + 0.6 * min(1.0, (lo + len(chunk)) / len(pts)), f"eigenvalues at {len(pts)} fixed points")
    return np.concatenate(out) if out else np.zeros((0, S))


def find_fixed_points(model: SentimentRNN, starts: np.ndarray, tolerance: float, vocab: Vocab | None = None,
                      neutral: str = "zero", steps: int = STEPS, on_progress: Progress | None = None,
                      budget: Budget | None = None) -> FixedPoints:
    """Minimise q(s) = 0.5 |F(s, x) - s|^2 from each starting state (n_starts, S) and keep the fixed points.
    `on_progress(fraction, message)` hears of the search and the eigenvalues (fractions 0 to 1). Gradients are
    on even inside a caller's torch.no_grad(). With a `budget` (clock.Budget) the search stops at its
    SEARCH_SHARE and the eigenvalues at its end; fixed points without eigenvalues are then left out, and
    `cut` says so."""
    with torch.enable_grad():
        return _find(model, starts, tolerance, vocab, neutral, steps, on_progress or (lambda f, m: None), budget)


def _find(model, starts, tolerance, vocab, neutral, steps, progress, budget=None) -> FixedPoints:
    upd = StateUpdate(model)
    xn, words = neutral_input(model, vocab, neutral)
    x = torch.from_numpy(xn)
    s = torch.tensor(np.asarray(starts, dtype=np.float64).reshape(-1, upd.S), requires_grad=True)
    opt = torch.optim.Adam([s], lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps), eta_min=LR / 100)
    done = steps
    for i in range(steps):
        if i and i % 10 == 0 and clock.over(budget, SEARCH_SHARE):
            done = i
            break
        opt.zero_grad()
        r = upd(s, x) - s  # (n_starts, S)
        (0.5 * (r * r).sum()).backward()  # sum of independent q's: each start has its own gradient
        opt.step()
        sched.step()
        if i % 100 == 0:
            progress(0.4 * i / steps, f"searching fixed points: step {i} of {steps}")
    s = s.detach()
    with torch.no_grad():
        speeds = torch.linalg.vector_norm(upd(s, x) - s, dim=1).numpy()  # (n_starts,)
    keep = np.flatnonzero(speeds < tolerance)
    mags = _eigen_magnitudes(upd, x, s[keep], progress, budget)  # (n, S)
    cuts = [clock.cut_note(done, steps, "the search ran {done} of {total} steps", budget),
            clock.cut_note(len(mags), len(keep), "eigenvalues at {done} of {total} fixed points found, the others "
                           "left out", budget)]
    keep = keep[:len(mags)]
    pts = s[keep]
    eigen = -np.sort(-mags, axis=1)[:, :N_EIGEN]  # (n, N_EIGEN) largest first
    n_slow = (mags >= SLOW).sum(1)  # (n,)
    states = pts.numpy()
    h = states[:, upd.h_part]
    w = model.readout.weight.detach().double().numpy()[0]  # (H,)
    b = float(model.readout.bias.detach().double()[0])
    share, direction, angle = fit_line(states, upd.h_part, w, tolerance)  # closer than the tolerance: one point
    progress(1.0, "done")
    return FixedPoints(neutral=neutral, neutral_words=words, tolerance=tolerance, speeds_all=speeds,
                       speeds=speeds[keep], states=states, h=h, probs=sigmoid(h @ w + b), eigen=eigen,
                       n_slow=n_slow, pc1_share=share, direction=direction,
                       readout_angle_deg=angle, cut=clock.join(*cuts))


def fit_line(states: np.ndarray, h_part: slice, w: np.ndarray, min_spread: float = 0.0):
    """(PC1's share of the points' spread, its h part (H,) unit, angle with w in degrees 0-90); Nones when
    there are fewer than 2 points or their rms distance from their mean is at most `min_spread` (one point)."""
    if len(states) < 2:
        return None, None, None
    centred = states - states.mean(0)  # (n, S)
    _, sv, vt = np.linalg.svd(centred, full_matrices=False)
    if np.sqrt((sv ** 2).sum() / len(states)) <= max(min_spread, 1e-12 * max(1.0, np.abs(states).max())):
        return None, None, None
    share = float(sv[0] ** 2 / (sv ** 2).sum())
    d = vt[0][h_part]
    if np.linalg.norm(d) <= 1e-12 or np.linalg.norm(w) == 0:
        return share, None, None
    d = d / np.linalg.norm(d)
    d = d if w @ d >= 0 else -d
    cos = min(1.0, abs(float(w @ d)) / float(np.linalg.norm(w)))
    return share, d, float(np.degrees(np.arccos(cos)))
