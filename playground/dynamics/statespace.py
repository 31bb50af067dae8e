"""Inside the state space: a sentence's path in a PCA plane, and the fixed points of the update.

The path. A PCA is fitted on the last layer's hidden state h after every token of a fixed sample of
the model's TEST texts (`typical.sample_indices`, each cut to max_len as the model reads it): the
exact covariance of all those states, accumulated text chunk by text chunk (Chan's update, so memory
stays O(H^2)), then its eigendecomposition. `variance` is each component's share of the states'
total variance; what PC1 and PC2 leave out is the plane's error. A sentence's states, and the start
h_0 = 0, are projected onto PC1/PC2 (`path`); the sample's final states are kept, projected, with
their labels and exact P, to draw faintly behind. Components are signed so that w . v >= 0: moving
right or up along a component raises the logit.

The decision line. The readout's logit w . h + b is linear, so on the plane's own points
h = mean + x v1 + y v2 it is (w . mean + b) + x (w . v1) + y (w . v2): the line `line` = (A, B, C),
A x + B y + C = 0 (None when w is orthogonal to the plane). It is the boundary for points OF the
plane only. A state is not a point of the plane: its projection can fall on one side of the line
while its real verdict is on the other. So every point carries its exact P (the readout on the full
state), and `side_agrees` says where the drawing's side and the real verdict agree.

The line attractor (Maheswaranathan et al. 2019; the search is in fixedpoints.py). From one state
visited on each sample text (after a random number of its tokens, seeded), search for approximate
fixed points of the update under a neutral input (x = 0 by default) and keep those that move less
than TOLERANCE_SHARE (2%) of the median size of a word's move |s_t - s_(t-1)| on the sample: fifty
neutral tokens move a kept point less than one typical word does. The paper's signature of a line
attractor: fixed points along one direction, one eigenvalue near 1 at them (a direction that neither
grows nor fades: a memory), and the readout aligned with the line. `story` says which of these a model
shows, from the numbers (LINE_SHARE, NEAR_ONE, ALIGNED_DEG are its thresholds).

Sizes: the cached `StateSpace` keeps N_SHOWN axes, the sample's final states projected, and the fixed
points (a few hundred KB), never the states the PCA was fitted on.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from playground.core import clock
from playground.core.cells import sigmoid
from playground.core.clock import Budget
from playground.core.data import load
from playground.core.models import SentimentRNN
from playground.core.text import Vocab
from playground.core.trace import Trace
from playground.dynamics.fixedpoints import (
    NEUTRAL,
    SLOW,
    STEPS,
    FixedPoints,
    Progress,
    StateUpdate,
    find_fixed_points,
    neutral_input,
)
from playground.dynamics.typical import sample_indices
from playground.training.train import torch_threads

N_TEXTS = 200  # TEST texts the PCA is fitted on; each also gives one starting state for the fixed points
N_SHOWN = 10  # components whose variance shares are kept and reported
CHUNK = 50  # texts per batched forward pass
READ_SHARE = 0.5  # of a time budget, for reading the texts; the fixed points get the rest
# a fixed point: |F(s, x) - s| (Euclidean, whole state) below TOLERANCE_SHARE x the median size of a word's
# move |s_t - s_(t-1)| on the sample: fifty neutral steps move it less than one typical word does
TOLERANCE_SHARE = 0.02
SEED = 0
# the paper's three signs of a line attractor, as `story` tests them
LINE_SHARE = 0.9  # first component's share of the fixed points' spread
NEAR_ONE = 0.05  # median top |eigenvalue| within this of 1
ALIGNED_DEG = 30.0  # readout within this angle of the line
PAPER_SIGNS = (f"a first component with at least {LINE_SHARE:.0%} of the fixed points' spread, a median top "
               f"|eigenvalue| within {NEAR_ONE} of 1, the readout within {ALIGNED_DEG:.0f}° of the line")

@torch.no_grad()
def _read(upd: StateUpdate, ids: list, rng: np.random.Generator, progress: Progress, budget: Budget | None = None):
    """Every state of the texts, folded into (n, mean (H,), M2 (H, H)) for the PCA; each text's final state
    (N, S); one state after a random number c of its tokens (N, S), a starting point for the fixed-point
    search; and the size of that c-th token's step |s_c - s_(c-1)| (N,), the scale of a word's move; and the
    positions of the texts read (all, or fewer when the budget's READ_SHARE ran out), ascending.

    The texts are read in a seeded shuffled order, so the ones read before a cut are a random part of the
    sample (TEST splits are sorted by label: a prefix would be one class)."""
    n, mean, m2 = 0, torch.zeros(upd.H, dtype=torch.float64), torch.zeros((upd.H, upd.H), dtype=torch.float64)
    cuts_all = [int(rng.integers(1, len(i) + 1)) for i in ids]  # 1..len: the start is s after c tokens
    order = np.random.default_rng(SEED + 1).permutation(len(ids))
    finals, starts, moves, read = [], [], [], []
    for lo in range(0, len(ids), CHUNK):
        if lo and clock.over(budget, READ_SHARE):
            break
        rows = order[lo:lo + CHUNK]
        chunk, cuts = [ids[r] for r in rows], [cuts_all[r] for r in rows]
        before = torch.zeros(len(chunk), upd.S, dtype=torch.float64)  # s_(c-1)
        hs = []
        head = [k for k, c in enumerate(cuts) if c > 1]
        if head:
            out, before[head] = upd.run([chunk[k][:cuts[k] - 1] for k in head])
            hs += [out[j, :cuts[k] - 1] for j, k in enumerate(head)]
        out, end = upd.run([i[c - 1:] for i, c in zip(chunk, cuts)], before)  # from token c to the end
        hs += [out[k, :len(i) - c + 1] for k, (i, c) in enumerate(zip(chunk, cuts))]
        at_cut = upd(before, upd.emb[[i[c - 1] for i, c in zip(chunk, cuts)]])  # s_c, one step: (B, S)
        h = torch.cat(hs)  # (tokens of the chunk, H)
        mb, nb = h.mean(0), len(h)
        d = mb - mean
        m2 += (h - mb).T @ (h - mb) + torch.outer(d, d) * (n * nb / (n + nb))  # Chan's pairwise update
        mean += d * nb / (n + nb)
        n += nb
        finals.append(end.numpy())
        starts.append(at_cut.numpy())
        moves.append(torch.linalg.vector_norm(at_cut - before, dim=1).numpy())
        read.append(rows)
        progress(0.4 * min(1.0, (lo + CHUNK) / len(ids)), f"reading {len(ids)} texts")
    rows = np.concatenate(read)
    back = np.argsort(rows)  # the texts read, in the sample's order
    cat = np.concatenate
    return n, mean.numpy(), m2.numpy(), cat(finals)[back], cat(starts)[back], cat(moves)[back], rows[back]


def _pca(m2: np.ndarray, n: int, w: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Covariance M2 / n -> (first k axes (k, H), each's share of the total variance (k,)), signed w . v >= 0."""
    evals, evecs = (a.numpy() for a in torch.linalg.eigh(torch.from_numpy(m2 / max(n, 1))))  # torch: one thread
    order = np.argsort(evals)[::-1][:k]
    total = float(np.clip(evals, 0, None).sum())
    comps = evecs[:, order].T.copy()  # (k, H)
    for v in comps:
        ref = float(w @ v) if abs(float(w @ v)) > 1e-12 * np.linalg.norm(w) else float(v[np.argmax(np.abs(v))])
        if ref < 0:
            v *= -1
    shares = np.clip(evals[order], 0, None) / total if total > 0 else np.zeros(len(order))
    return comps, shares


@dataclass(frozen=True)
class StateSpace:
    """What the state-space view draws for one model, computed once (`fit`) and small enough to cache."""

    arch: str
    dataset: str
    n_texts: int  # TEST texts read
    n_states: int  # states the PCA is fitted on (every token of those texts)
    mean: np.ndarray  # (H,) their mean
    components: np.ndarray  # (N_SHOWN, H) principal axes, unit length, each signed w . v >= 0
    variance: np.ndarray  # (N_SHOWN,) each axis's share of the states' total variance
    readout_w: np.ndarray  # (H,)
    readout_b: float
    final_xy: np.ndarray  # (n_texts, 2) each text's final state on PC1/PC2
    final_labels: np.ndarray  # (n_texts,) its TEST label, 1 = positive
    final_probs: np.ndarray  # (n_texts,) the model's exact P there
    word_move: float  # median |s_t - s_(t-1)| of a word's step on the sample (whole state)
    fixed: FixedPoints
    fixed_xy: np.ndarray  # (n_found, 2) the fixed points' h on PC1/PC2
    seconds: float  # how long `fit` took
    cut: str = ""  # "" when complete; else what a time budget or a stop left undone, as a phrase

    def project(self, h: np.ndarray) -> np.ndarray:
        """(..., H) states -> (..., 2) their PC1/PC2 coordinates."""
        return (np.asarray(h) - self.mean) @ self.components[:2].T

    def plane_logit(self, xy: np.ndarray) -> np.ndarray:
        """(..., 2) -> the readout's logit at the plane's points mean + x v1 + y v2 (exact for them only)."""
        a, b, c = self._coef
        xy = np.asarray(xy, dtype=np.float64)
        return c + a * xy[..., 0] + b * xy[..., 1]

    @property
    def _coef(self) -> tuple[float, float, float]:
        w = self.readout_w
        return float(w @ self.components[0]), float(w @ self.components[1]), float(w @ self.mean + self.readout_b)

    @property
    def line(self) -> tuple[float, float, float] | None:
        """(A, B, C): A x + B y + C = 0 is where the plane's points have logit 0; None when w is orthogonal to it."""
        a, b, c = self._coef
        return None if np.hypot(a, b) <= 1e-12 * np.linalg.norm(self.readout_w) else (a, b, c)

    def line_segment(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> np.ndarray | None:
        """The decision line's two ends (2, 2) inside a box (None: no line, or it misses the box)."""
        if self.line is None:
            return None
        a, b, c = self.line
        (x0, x1), (y0, y1) = x_range, y_range
        pts = []
        if abs(b) > 0:
            pts += [(x, -(c + a * x) / b) for x in (x0, x1)]
        if abs(a) > 0:
            pts += [(-(c + b * y) / a, y) for y in (y0, y1)]
        eps = 1e-9 * max(1.0, x1 - x0, y1 - y0)
        inside = sorted({p for p in pts if x0 - eps <= p[0] <= x1 + eps and y0 - eps <= p[1] <= y1 + eps})
        return np.array([inside[0], inside[-1]]) if len(inside) >= 2 and inside[0] != inside[-1] else None

    @property
    def readout_in_plane(self) -> float:
        """Share of the readout's length |w| that lies in the plane (1: the plane holds w entirely)."""
        a, b, _ = self._coef
        n = float(np.linalg.norm(self.readout_w))
        return float(np.hypot(a, b) / n) if n > 0 else 0.0

    @property
    def final_side_agrees(self) -> np.ndarray:
        """(n_texts,) does each final state's projection fall on the side of the line of its real verdict?"""
        return (self.plane_logit(self.final_xy) >= 0) == (self.final_probs >= 0.5)


@dataclass(frozen=True)
class Path:
    """A sentence's states on the plane: row 0 is the start h_0 = 0, row t the state after token t."""

    tokens: tuple[str, ...]  # (T,)
    xy: np.ndarray  # (T + 1, 2)
    probs: np.ndarray  # (T + 1,) the exact P there (the readout on the whole state; row 0: before reading)
    captured: np.ndarray  # (T + 1,) share of |h - mean|^2 the plane keeps (1: the point lies in the plane)
    side_agrees: np.ndarray  # (T + 1,) the projection's side of the line is the real verdict's
    lead: int = 0  # the padding read before the words (a Keras tutorial model pre-pads): rows 1..lead

    @property
    def n_words(self) -> int:
        """Tokens read after the padding, less a Keras start token."""
        after = self.tokens[self.lead:]
        return len(after) - (1 if after[:1] == ("<start>",) else 0)


def path(space: StateSpace, tr: Trace) -> Path:
    """Project a trace's last-layer states (and the start) onto the space's PC1/PC2 plane; `lead` counts
    the padding the model read before the words (all of the text when it is all padding: lead 0)."""
    if tr.hidden_size != len(space.mean):
        raise ValueError(f"the trace has {tr.hidden_size} hidden units, the state space {len(space.mean)}")
    h = np.vstack([np.zeros((1, tr.hidden_size)), tr.last.h])  # (T + 1, H)
    xy = space.project(h)  # (T + 1, 2)
    dev = ((h - space.mean) ** 2).sum(1)
    captured = np.divide((xy ** 2).sum(1), dev, out=np.ones(len(h)), where=dev > 0)
    probs = np.concatenate([[tr.prob0], tr.step_probs])
    return Path(tokens=tr.tokens, xy=xy, probs=probs, captured=captured,
                side_agrees=(space.plane_logit(xy) >= 0) == (probs >= 0.5), lead=tr.lead)


def fit(model: SentimentRNN, vocab: Vocab, dataset: str, n_texts: int = N_TEXTS, neutral: str = "zero",
        steps: int = STEPS, on_progress: Progress | None = None, threads: int | None = 1,
        budget: Budget | None = None) -> StateSpace:
    """The PCA plane and the fixed points of a model, from `n_texts` of its dataset's TEST texts (each cut to the
    model's max_len). `on_progress(fraction, message)` hears of every stage (fractions rise to 1.0); torch runs
    on `threads` threads meanwhile (None: unchanged). Bundled models take 2 to 10 s on one thread. With a
    `budget` (clock.Budget) it reads texts for the first READ_SHARE of it and searches fixed points in the
    rest, and says in `cut` what it left out."""
    split = load(dataset, "test")
    rows = [(list(vocab.encode(split.texts[i], model.config.max_len).ids), int(split.labels[i]))
            for i in sample_indices(dataset, n_texts)]
    rows = [r for r in rows if r[0]]
    if not rows:
        raise ValueError(f"no TEST text of {dataset!r} has a token this model reads")
    return fit_ids(model, [r[0] for r in rows], np.array([r[1] for r in rows]), dataset, vocab, neutral, steps,
                   on_progress, threads, budget)


def fit_ids(model: SentimentRNN, ids: list, labels: np.ndarray, dataset: str = "", vocab: Vocab | None = None,
            neutral: str = "zero", steps: int = STEPS, on_progress: Progress | None = None,
            threads: int | None = 1, budget: Budget | None = None) -> StateSpace:
    """`fit` on given id sequences (each non-empty) and their labels."""
    if model.config.hidden_size < 2:
        raise ValueError("a PCA plane needs at least 2 hidden units")
    neutral_input(model, vocab, neutral)  # an unknown neutral input fails before the work
    progress = on_progress or (lambda f, m: None)
    progress(0.0, f"reading {len(ids)} texts")
    t0 = time.perf_counter()
    with torch_threads(threads):
        upd = StateUpdate(model)
        n, mean, m2, finals, starts, moves, read = _read(upd, ids, np.random.default_rng(SEED), progress, budget)
        cut = clock.cut_note(len(read), len(ids), "read {done} of {total} texts", budget)
        w = model.readout.weight.detach().double().numpy()[0]  # (H,)
        b = float(model.readout.bias.detach().double()[0])
        comps, shares = _pca(m2, n, w, min(N_SHOWN, upd.H))
        word_move = float(np.median(moves))
        fixed = find_fixed_points(model, starts, TOLERANCE_SHARE * word_move, vocab, neutral, steps,
                                  lambda f, m: progress(0.4 + 0.6 * f, m), budget)
    h_end = finals[:, upd.h_part]  # (N, H)
    return StateSpace(
        arch=model.config.arch, dataset=dataset, n_texts=len(read), n_states=n, mean=mean, components=comps,
        variance=shares, readout_w=w, readout_b=b, final_xy=(h_end - mean) @ comps[:2].T,
        final_labels=np.asarray(labels)[read], final_probs=sigmoid(h_end @ w + b), word_move=word_move, fixed=fixed,
        fixed_xy=(fixed.h - mean) @ comps[:2].T, seconds=time.perf_counter() - t0,
        cut=clock.join(cut, fixed.cut))


def _pct(x: float) -> str:
    """A share in whole percent, with two decimals where whole percent would round it to 0% or 100%."""
    x = float(x)
    return f"{100 * x:.2f}%" if (0 < x < 0.005 or 0.995 <= x < 1) else f"{100 * x:.0f}%"


def story(space: StateSpace) -> list[str]:
    """What the plane and the fixed points show, in sentences computed from the numbers."""
    v, f, H = space.variance, space.fixed, len(space.mean)
    out = [f"PC1 holds {_pct(v[0])} of the variance of the {space.n_states:,} hidden states of {space.n_texts} TEST "
           f"texts and PC2 {_pct(v[1])} (together {_pct(v[:2].sum())}; the first {len(v)} components "
           f"{_pct(v.sum())})."]
    agree = space.final_side_agrees
    if space.line is None:
        out.append("The readout is orthogonal to this plane, so it has no decision line in it.")
    else:
        out.append(f"The plane holds {_pct(space.readout_in_plane)} of the readout's length. The dashed line is where "
                   "the plane's own points have logit 0; a state lies off the plane, so the side its projection "
                   f"falls on is not necessarily its verdict: {agree.sum()} of the sample's {len(agree)} final states "
                   "fall on the side of their real verdict.")
    near = f"less than {f.tolerance:.2g} per token ({_pct(TOLERANCE_SHARE)} of a typical word's move, " \
           f"{space.word_move:.2f})"
    words = f" ({', '.join(f.neutral_words)})" if f.neutral_words else ""
    def searches(k) -> str:  # no str.format: the words come from the model's vocabulary
        return f"With the neutral input {NEUTRAL[f.neutral]}{words}, {k} of {f.n_starts} searches from states visited"

    if f.n_found == 0:
        out.append(searches("none") + f" on the sample ended at a point that moves {near}; the slowest moves "
                   f"{f.speeds_all.min():.2g}.")
        return out
    out.append(searches(f.n_found) + f" on the sample ended at an approximate fixed point: one that moves {near}.")
    signs = {}
    if f.pc1_share is None and f.n_found >= 2:
        signs["fixed points along one line"] = False
        out.append(f"They all lie within {f.tolerance:.2g} of one point (P = {float(np.median(f.probs)):.2f}): a "
                   "single fixed point, not a line.")
    elif f.pc1_share is not None:
        signs["fixed points along one line"] = f.pc1_share >= LINE_SHARE
        p0, p1 = float(f.probs.min()), float(f.probs.max())
        reach = ("spans both verdicts" if p0 < 0.5 <= p1 else
                 f"stays on the {'positive' if p0 >= 0.5 else 'negative'} side")
        out.append(f"Their first principal component holds {_pct(f.pc1_share)} of their spread, so they "
                   f"{'lie along one line' if f.pc1_share >= LINE_SHARE else 'do not lie along a single line'}; "
                   f"the readout's P at them runs from {p0:.2f} to {p1:.2f}: the set {reach}.")
    med, (lo, hi) = f.top_eigenvalue, f.top_eigenvalue_range
    k = int(np.median(f.n_slow))
    signs["a top eigenvalue near 1"] = abs(med - 1) <= NEAR_ONE
    unstable = int((f.eigen[:, 0] > 1 + 1e-3).sum())
    out.append(f"The Jacobian's largest |eigenvalue| at them is {med:.3f} (median; {lo:.3f} to {hi:.3f}), "
               + (f"within {NEAR_ONE} of 1: a direction that barely grows or fades, where the state can hold a value"
                  if abs(med - 1) <= NEAR_ONE else f"not within {NEAR_ONE} of 1: no direction holds its value") +
               f"; the median count of eigenvalues with |λ| ≥ {SLOW} is {k}, "
               + ("one slow direction, as a line attractor has." if k == 1 else
                  f"{k} slow directions, where a line attractor has one.")
               + (f" At {unstable} of them the largest exceeds 1 (locally unstable)." if unstable else ""))
    if f.readout_angle_deg is not None:
        a = f.readout_angle_deg
        rand = float(np.degrees(np.arccos(np.sqrt(1 / H))))
        signs["the readout aligned with the line"] = a <= ALIGNED_DEG
        band = ("nearly along the line" if a <= 15 else "partly aligned with it" if a <= ALIGNED_DEG else
                "much closer than chance, but not aligned with it" if a < rand - 10 else "no closer than chance")
        out.append(f"The readout is {a:.0f}° from the line (a random direction in {H} dimensions: about "
                   f"{rand:.0f}°): {band}.")
    yes = [s for s, ok in signs.items() if ok]
    no = [s for s, ok in signs.items() if not ok]
    out.append(f"Of the paper's signs of a line attractor ({PAPER_SIGNS}), this model shows {len(yes)} of {len(signs)}"
               + (f": like the paper, {', '.join(yes)}" if yes else "")
               + (f"; unlike it, not {' nor '.join(no)}" if no else "") + ".")
    return out


def path_story(space: StateSpace, p: Path) -> list[str]:
    """What the plane keeps of a sentence's path, computed from it."""
    n = len(p.probs)
    if n == 1:
        return [f"Nothing was read: the path is its start h_0 = 0, where P = {p.probs[0]:.4f}."]
    return [f"The plane keeps {_pct(float(np.median(p.captured)))} (median over the {n} points, start included) of "
            f"each state's squared distance from the sample's mean; {int(p.side_agrees.sum())} of the {n} points fall "
            "on the side of the line of their real verdict (the hover gives each point's exact P)."]


def key_points(p: Path, n: int = 3) -> tuple[int, ...]:
    """Rows of the path worth a label: the start (0), where the words begin after padding (`lead`, if
    any), the end (T) and the n largest |moves| of P(positive) among the words (row t + 1 is the state
    after token t), ascending."""
    T = len(p.probs) - 1
    if T <= 0:
        return (0,)
    moves = np.abs(np.diff(p.probs))[p.lead:]  # (T - lead,): the move of each word
    top = [int(t) + 1 + p.lead for t in np.argsort(-moves, kind="stable")[:n]]
    return tuple(sorted({0, p.lead, T, *top}))


def where_story(space: StateSpace, p: Path | None = None) -> list[str]:
    """The first screen's answer to "where is the network's memory of the verdict?", two sentences from the
    numbers: how well the final states' place along PC1 tells their logit, and the sentence's path."""
    logit = np.log(np.clip(space.final_probs, 1e-12, 1 - 1e-12)) - np.log(np.clip(1 - space.final_probs, 1e-12, 1))
    x = space.final_xy[:, 0]
    r = float(np.corrcoef(x, logit)[0, 1]) if len(x) > 2 and x.std() > 0 and logit.std() > 0 else 0.0
    if abs(r) >= 0.5:
        out = [f"The verdict is held as a place: over {space.n_texts} TEST texts, where a final state sits along PC1 "
               f"(the direction the states vary most, {_pct(space.variance[0])}) correlates {r:+.2f} with the "
               "model's final logit."]
    else:
        out = [f"PC1 (the direction the states vary most, {_pct(space.variance[0])}) tells little about the verdict "
               f"here: over {space.n_texts} TEST texts its correlation with the final logit is {r:+.2f}."]
    if p is not None and len(p.probs) > 1:
        T, n = len(p.probs) - 1, p.n_words
        big = [t for t in key_points(p) if p.lead < t]
        big = sorted(big, key=lambda t: -abs(p.probs[t] - p.probs[t - 1]))  # every move labelled on the path
        said = p.tokens[p.lead:]

        def move(t: int) -> str:  # a repeated word with its position, as on the path's label
            where = f"word {t - p.lead}, " if said.count(p.tokens[t - 1]) > 1 else ""
            return f"“{p.tokens[t - 1]}” ({where}{p.probs[t] - p.probs[t - 1]:+.2f})"

        parts = [move(t) for t in big]
        words = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        start = f"Your sentence starts at P(positive) = {p.probs[0]:.2f} (◆)"
        words_n = f"{n} word{'s' if n != 1 else ''}"
        if p.lead:  # the padding first, in reading order: where it took P, then the words from there
            out.append(f"{start}; the {p.lead} padding zeros it reads first take it to {p.probs[p.lead]:.2f} (the grey "
                       f"dots: this model pads every text to {T} ids, as the Keras tutorials do). After its {words_n} "
                       f"it ends at {p.probs[T]:.2f}; its biggest moves, labelled on its path: {words}.")
        else:
            out.append(f"{start} and ends at {p.probs[T]:.2f} after {words_n}; its biggest moves, labelled on its "
                       f"path: {words}.")
    return out


def rest_summary(space: StateSpace) -> list[str]:
    """Two plain sentences over the fixed points (the long account is `story`): where the network rests when
    it reads a neutral word, and how long a value held there lasts."""
    f = space.fixed
    if f.n_found == 0:
        return [f"Fed a neutral word over and over, the network found no state to rest in ({f.n_starts} searches): "
                "its memory keeps drifting.", "So nothing here holds a verdict still without new words."]
    shape = ("along one line" if f.pc1_share is not None and f.pc1_share >= LINE_SHARE else
             "at one point" if f.pc1_share is None else "in a cloud, not along one line")
    p0, p1 = float(f.probs.min()), float(f.probs.max())
    first = (f"Fed a neutral word over and over, the network comes to rest at {f.n_found} of {f.n_starts} searches, "
             f"{shape}, with P(positive) there from {p0:.2f} to {p1:.2f}.")
    lam = f.top_eigenvalue
    left = lam ** 10
    second = (f"The slowest direction there keeps {lam:.2f} of a nudge per word ({left:.2f} after 10 words): "
              + ("a value placed along it is held for many words." if left >= 0.5 else
                 "a value placed there fades within a few words."))
    return [first, second]


def _r(a, digits: int = 6) -> list:
    return np.round(np.asarray(a, dtype=np.float64), digits).tolist()


def to_json(space: StateSpace, p: Path | None = None) -> dict:
    """The numbers the page draws, for `python -m playground statespace --json`."""
    f = space.fixed
    out = {
        "arch": space.arch, "dataset": space.dataset, "n_texts": space.n_texts, "n_states": space.n_states,
        "pc_variance": _r(space.variance, 9), "readout_in_plane": round(space.readout_in_plane, 9),
        "decision_line": None if space.line is None else dict(zip(("a", "b", "c"), _r(space.line, 12))),
        "final_states": {"pc1": _r(space.final_xy[:, 0]), "pc2": _r(space.final_xy[:, 1]),
                         "label": space.final_labels.tolist(), "prob": _r(space.final_probs)},
        "neutral": f.neutral, "neutral_words": list(f.neutral_words), "word_move": space.word_move,
        "tolerance": f.tolerance, "n_starts": f.n_starts, "n_fixed_points": f.n_found,
        "fixed_point_pc1_share": f.pc1_share, "readout_angle_deg": f.readout_angle_deg,
        "top_eigenvalue": f.top_eigenvalue, "top_eigenvalue_range": f.top_eigenvalue_range,
        "fixed_points": {"pc1": _r(space.fixed_xy[:, 0]), "pc2": _r(space.fixed_xy[:, 1]), "prob": _r(f.probs),
                         "speed": _r(f.speeds, 12), "top_eigenvalue": _r(f.eigen[:, 0]),
                         "n_slow": f.n_slow.tolist()},
        "seconds": round(space.seconds, 3), "cut": space.cut, "sentences": story(space),
    }
    if p is not None:
        out["path"] = {"tokens": list(p.tokens), "start": {"pc1": float(p.xy[0, 0]), "pc2": float(p.xy[0, 1]),
                                                          "prob": float(p.probs[0])},
                       "pc1": _r(p.xy[1:, 0]), "pc2": _r(p.xy[1:, 1]), "prob": _r(p.probs[1:], 9),
                       "captured": _r(p.captured[1:]), "side_agrees": p.side_agrees[1:].tolist(),
                       "padding_first": p.lead,
                       "sentences": path_story(space, p)}
    return out
