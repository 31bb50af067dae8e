"""Word importance: how much each token pushes the prediction towards positive (+) or negative (-).

Methods (all signed, one value per token read):
- "occlusion"  leave-one-out: P(text) - P(text without this token), fused forward, one batch.
- "ig"         integrated gradients on the embedding layer, in logit units. The baseline is the
               model reading a run of padding tokens (id 0) as long as the text, so the scores sum
               to logit(text) - logit(baseline) up to a reported gap (Captum's convergence delta).
               The path integral is Gauss-Legendre on pieces of the path, halving the pieces whose
               own gap is too large, until the gap is within IG_REL_TOL of |logit(text) -
               logit(baseline)| or IG_ABS_TOL logit, whichever is larger (or the step budget ends).
- "grad_x_input" gradient x embedding (Captum's LayerGradientXActivation), in logit units.
- "step"       the change of the traced probability at each step: p_t - p_(t-1). Free, and what
               the prediction-after-each-word chart shows; sums to P(text) - the prior before any
               token. ("delta" is its former name and still accepted.)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from playground.core.models import SentimentRNN
from playground.core.trace import Trace

METHODS = {
    "occlusion": "Leave one out: the change in P(positive) when the word is removed",
    "ig": "Integrated gradients, in logit units: each word's share of logit(text) minus logit(baseline), "
          "where the baseline is the model reading a run of padding tokens as long as the text. That is not "
          "the prior where the prediction curve starts (the readout before any token is read): reading "
          "padding still moves the state through the cell's weights and biases",
    "grad_x_input": "Gradient x input (Captum), logit units: the gradient of the logit times each word's "
                    "embedding; a local slope, it need not add up to anything",
    "step": "Step change: P(positive) after the word minus P(positive) before it, as on the prediction "
            "curve; the steps sum to P(text) minus the prior before any token",
}
SHORT_NAMES = {"occlusion": "Leave one out", "ig": "Integrated gradients",
               "grad_x_input": "Gradient x input", "step": "Step change"}
UNIT_WORDS = {"probability": "change in P(positive)", "logit": "logit"}  # what a score of each unit measures
ALIASES = {"delta": "step"}  # former names still accepted (old links say method=delta)

IG_REL_TOL, IG_ABS_TOL = 0.01, 0.01  # the gap may be 1% of |logit(text) - logit(baseline)| or 0.01 logit
IG_NODES = 16  # Gauss-Legendre nodes per piece of the path
IG_FIRST_PIECES = 2  # the first try: 2 pieces x 16 nodes = 32 gradient evaluations
# budget: gradient evaluations x tokens (512 evaluations of a 400-token text); the six bundled
# models needed at most 192 evaluations on 60 long IMDB TEST reviews at their max_len
IG_BUDGET = 512 * 400
IG_BATCH = 64  # path points per backward pass (bounds memory)


def ig_tolerance(logit: float, baseline_logit: float) -> float:
    """The largest gap integrated gradients may leave: 1% of the difference or 0.01 logit."""
    return max(IG_REL_TOL * abs(logit - baseline_logit), IG_ABS_TOL)


@dataclass(frozen=True)
class Attribution:
    method: str
    tokens: tuple[str, ...]
    scores: np.ndarray  # (T,) signed raw scores in `unit`; > 0 pushes towards positive
    unit: str  # "probability" (a change in P(positive)) or "logit"
    # integrated gradients only (None for the other methods):
    logit: float | None = None  # the model's logit for the text
    baseline_logit: float | None = None  # its logit for T padding tokens
    gap: float | None = None  # sum(scores) - (logit - baseline_logit)
    steps: int | None = None  # gradient evaluations on the path the scores use
    tolerance: float | None = None  # the largest gap allowed (ig_tolerance)
    pieces: "tuple[GapPiece, ...] | None" = None  # the pieces of the path the integral used, in order

    @property
    def complete(self) -> bool | None:
        """Integrated gradients: do the scores add up within the tolerance? (None: other methods)"""
        if self.gap is None or self.tolerance is None:
            return None
        return abs(self.gap) <= self.tolerance

    @property
    def worst(self) -> "GapPiece | None":
        """Integrated gradients: the piece of the path with the largest gap (None: other methods)."""
        return _largest_gap(self.pieces)

    def normalised(self) -> np.ndarray:
        """Scores scaled to [-1, 1] by the largest magnitude (all zeros stays zeros)."""
        m = float(np.max(np.abs(self.scores))) if len(self.scores) else 0.0
        return self.scores / m if m > 0 else np.zeros_like(self.scores)


class _LogitOf(torch.nn.Module):
    """Adapter so Captum sees forward(ids) -> logit (B,)."""

    def __init__(self, model: SentimentRNN):
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model(ids)


@torch.no_grad()
def _occlusion(model: SentimentRNN, ids: list[int]) -> np.ndarray:
    T = len(ids)
    full = torch.tensor([ids], dtype=torch.long)
    p_full = torch.sigmoid(model(full))[0]
    if T == 1:
        return np.array([float(p_full) - float(torch.sigmoid(torch.tensor(model.empty_logit())))])
    variants = torch.tensor([ids[:t] + ids[t + 1:] for t in range(T)], dtype=torch.long)  # (T, T-1)
    p = torch.sigmoid(model(variants))  # (T,)
    return (p_full - p).double().numpy()


def _logit_from_embedded(model: SentimentRNN, x: torch.Tensor) -> torch.Tensor:
    """SentimentRNN.forward from the embedding layer's output on (eval mode: no dropout)."""
    out, _ = model.rnn(x)  # (B, T, H)
    return model.readout(out[:, -1]).squeeze(-1)  # (B,)


@dataclass(frozen=True)
class GapPiece:
    """A stretch [start, end] of the path from the baseline (0) to the text (1): the logit changes by
    `change` over it, and the scores on it sum to `gap` logit more than that."""
    start: float
    end: float
    gap: float
    change: float


def _largest_gap(pieces) -> GapPiece | None:
    return max(pieces, key=lambda q: abs(q.gap)) if pieces else None


@dataclass(frozen=True)
class IGResult:
    scores: np.ndarray  # (T,) logit units
    logit: float
    baseline_logit: float
    gap: float  # sum(scores) - (logit - baseline_logit)
    steps: int  # gradient evaluations the scores are made of
    evaluations: int  # all gradient evaluations, counting pieces later halved
    tolerance: float
    pieces: tuple[GapPiece, ...]  # the pieces the scores are made of, along the path

    @property
    def worst(self) -> GapPiece:
        """The piece with the largest gap when the halving stopped."""
        return _largest_gap(self.pieces)


def integrated_gradients(model: SentimentRNN, ids: list[int], tolerance: float | None = None,
                         first_pieces: int = IG_FIRST_PIECES, max_evaluations: int | None = None) -> IGResult:
    """Integrated gradients from a run of padding tokens to `ids`, along the straight path in
    embedding space, x(a) = e0 + a (e - e0) for a in [0, 1]:

        score_t = sum_d (e_td - e0_td) * integral_0^1 dF/dx_td(x(a)) da,  F = the logit.

    The integral is Gauss-Legendre with IG_NODES nodes on each piece of [0, 1]. A piece [a, b]
    has its own gap, sum of its scores - (F(x(b)) - F(x(a))), and the pieces' gaps add up to the
    whole gap. Pieces whose gap exceeds tolerance * (b - a) are halved, largest gap first, until
    the whole gap is within `tolerance` (default ig_tolerance) or the next halving would pass
    `max_evaluations` (default IG_BUDGET // T). The result says how far it got; it never hides a gap."""
    T = len(ids)
    if max_evaluations is None:
        max_evaluations = max(IG_NODES * first_pieces, IG_BUDGET // max(T, 1))
    nodes, weights = np.polynomial.legendre.leggauss(IG_NODES)  # on [-1, 1]
    e0, diff = _path_ends(model, ids)

    def logits_at(alphas: list[float]) -> list[float]:
        return path_logits(model, ids, alphas, ends=(e0, diff)).tolist()

    def pieces_scores(pieces: list[tuple[float, float]]) -> list[np.ndarray]:
        alphas = [a + (b - a) * (x + 1) / 2 for a, b in pieces for x in nodes]
        w = torch.tensor([(b - a) / 2 * wk for a, b in pieces for wk in weights], dtype=torch.float64)
        rows = []
        for s in range(0, len(alphas), IG_BATCH):
            a = torch.tensor(alphas[s:s + IG_BATCH], dtype=torch.float32)[:, None, None]
            x = (e0 + a * diff).requires_grad_(True)  # (B, T, E)
            with torch.enable_grad():
                (g,) = torch.autograd.grad(_logit_from_embedded(model, x).sum(), x)
            rows.append((g * diff).sum(-1).double() * w[s:s + IG_BATCH, None])  # (B, T)
        per_point = torch.cat(rows).numpy()  # (pieces * nodes, T)
        return [per_point[k * IG_NODES:(k + 1) * IG_NODES].sum(0) for k in range(len(pieces))]

    edges = [k / first_pieces for k in range(first_pieces + 1)]
    F = dict(zip(edges, logits_at(edges)))
    logit, base = F[1.0], F[0.0]
    tol = ig_tolerance(logit, base) if tolerance is None else float(tolerance)
    pieces = [(edges[k], edges[k + 1]) for k in range(first_pieces)]
    scores = dict(zip(pieces, pieces_scores(pieces)))
    used = IG_NODES * first_pieces
    while True:
        gaps = {p: float(scores[p].sum()) - (F[p[1]] - F[p[0]]) for p in scores}
        if abs(sum(gaps.values())) <= tol:
            break
        bad = sorted((p for p in scores if abs(gaps[p]) > tol * (p[1] - p[0])), key=lambda p: -abs(gaps[p]))
        bad = bad[:(max_evaluations - used) // (2 * IG_NODES)]  # what the budget allows
        if not bad:
            break
        halves = []
        for a, b in bad:
            m = (a + b) / 2
            halves += [(a, m), (m, b)]
            del scores[(a, b)]
        mids = [h[1] for h in halves[::2]]
        F.update(zip(mids, logits_at(mids)))
        scores.update(zip(halves, pieces_scores(halves)))
        used += IG_NODES * len(halves)
    total = np.sum([scores[p] for p in sorted(scores)], axis=0)  # (T,)
    return IGResult(scores=total, logit=logit, baseline_logit=base, gap=float(total.sum()) - (logit - base),
                    steps=IG_NODES * len(scores), evaluations=used, tolerance=tol,
                    pieces=tuple(GapPiece(a, b, gaps[a, b], F[b] - F[a]) for a, b in sorted(scores)))


@torch.no_grad()
def _path_ends(model: SentimentRNN, ids: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The path's start (padding's embedding at every position) and its direction (words minus padding)."""
    e = model.embedding(torch.tensor(ids, dtype=torch.long))  # (T, E)
    e0 = model.embedding(torch.zeros(len(ids), dtype=torch.long))  # (T, E) padding
    return e0, e - e0


@torch.no_grad()
def path_logits(model: SentimentRNN, ids: list[int], alphas, ends=None) -> np.ndarray:
    """The model's logit at points of the path: every embedding `alpha` of the way from padding's
    (0, the baseline) to the word's (1, the text). Exact forward passes, IG_BATCH points at a time."""
    e0, diff = _path_ends(model, ids) if ends is None else ends
    out = []
    alphas = [float(a) for a in alphas]
    for s in range(0, len(alphas), IG_BATCH):
        a = torch.tensor(alphas[s:s + IG_BATCH], dtype=torch.float32)[:, None, None]
        out.append(_logit_from_embedded(model, e0 + a * diff).double())
    return torch.cat(out).numpy() if out else np.zeros(0)


@dataclass(frozen=True)
class IGPath:
    """What integrated gradients integrate, beside what they got: `logit` is the model's own logit at
    each `alpha` of the path (0 = the baseline, 1 = the text); `running` is the baseline's logit plus
    the scores of the path up to each `edge` (the ends of the pieces the integral was taken on). With
    no gap, `running` lies on the curve at every edge; a jump of the curve is where they part.
    `stretches`: when the scores do not add up, the pieces that hold most of the gap (see ig_path)."""
    alpha: np.ndarray
    logit: np.ndarray
    edges: np.ndarray
    running: np.ndarray
    stretches: tuple[GapPiece, ...] = ()


MAX_STRETCHES = 4  # pieces a path names and shades at most
IG_PATH_POINTS = 101  # evenly spaced points of the curve, besides the pieces' edges


def ig_path(model: SentimentRNN, att: Attribution, ids: list[int], points: int = IG_PATH_POINTS) -> IGPath:
    """The curve of an integrated-gradients attribution `att` of `ids` (its pieces' edges included)."""
    if att.method != "ig" or not att.pieces:
        raise ValueError("the path of integrated gradients needs their result (method 'ig', a text of 1+ tokens)")
    edges = np.array([att.pieces[0].start] + [q.end for q in att.pieces])
    running = att.baseline_logit + np.concatenate([[0.0], np.cumsum([q.change + q.gap for q in att.pieces])])
    alpha = np.union1d(np.linspace(0.0, 1.0, points), edges)
    stretches: tuple[GapPiece, ...] = ()
    if not att.complete:  # the pieces with the largest own gaps, largest first
        top = abs(att.worst.gap)
        stretches = tuple(q for q in sorted(att.pieces, key=lambda q: -abs(q.gap))
                          if abs(q.gap) > att.tolerance and abs(q.gap) >= 0.25 * top)[:MAX_STRETCHES]
    return IGPath(alpha=alpha, logit=path_logits(model, ids, alpha), edges=edges, running=running,
                  stretches=stretches)


def _grad_x_input(model: SentimentRNN, ids: list[int]) -> np.ndarray:
    from captum.attr import LayerGradientXActivation

    inp = torch.tensor([ids], dtype=torch.long)
    with torch.enable_grad():  # eval mode (no dropout); CPU RNNs backpropagate in eval mode
        attr = LayerGradientXActivation(_LogitOf(model), model.embedding).attribute(inp)
    return attr.detach().sum(-1)[0].double().numpy()  # (T,) summed over embedding dims


def attribute(model: SentimentRNN, tr: Trace, method: str = "occlusion") -> Attribution:
    """Importance of each token in `tr` (the trace fixes which tokens were read)."""
    method = ALIASES.get(method, method)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    ids = list(tr.ids)
    unit = "logit" if method in ("ig", "grad_x_input") else "probability"
    if not ids:
        return Attribution(method, (), np.zeros(0), unit)
    was = model.training
    model.eval()
    try:
        if method == "step":
            prev = np.concatenate([[tr.prob0], tr.step_probs[:-1]])
            return Attribution(method, tr.tokens, np.asarray(tr.step_probs - prev, dtype=np.float64), unit)
        if method == "occlusion":
            return Attribution(method, tr.tokens, _occlusion(model, ids), unit)
        if method == "grad_x_input":
            return Attribution(method, tr.tokens, _grad_x_input(model, ids), unit)
        r = integrated_gradients(model, ids)
        return Attribution(method, tr.tokens, r.scores, unit, logit=r.logit, baseline_logit=r.baseline_logit,
                           gap=r.gap, steps=r.steps, tolerance=r.tolerance, pieces=r.pieces)
    finally:
        model.train(was)


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def path_story(att: Attribution, path: IGPath) -> str:
    """The sentences under the path's chart, from its numbers."""
    k = len(path.edges) - 1
    out = (f"As every word fades in from padding (0) to itself (1), the model's logit (grey) goes from "
           f"{att.baseline_logit:+.3f} to {att.logit:+.3f}. Integrated gradients add up its slope: the baseline's "
           f"logit plus the scores so far (blue) is marked at the ends of the {k} piece{'s' if k != 1 else ''} "
           "the integral was taken on. ")
    if att.complete:
        return out + (f"They end at {path.running[-1]:+.3f}, on the curve's end within the allowed "
                      f"{att.tolerance:.3f} (gap {att.gap:+.4f}).")
    out += f"They end at {path.running[-1]:+.3f}, {att.gap:+.3f} away from the curve's end."
    if path.stretches:
        parts = [f"from {w.start:.6g} to {w.end:.6g} of the way, {w.gap:+.3f} of the gap where the logit changes "
                 f"by {w.change:+.3f}" for w in path.stretches]
        one = len(parts) == 1
        out += (f" The shaded stretch{'' if one else 'es'}, where the pieces' own gaps are largest, hold"
                f"{'s' if one else ''}: " + "; ".join(parts) + ".")
    return out


def sign_note(att: Attribution, ig: Attribution, tr: Trace, escape=str) -> str | None:
    """Why a word can score with opposite signs under `att`'s method and integrated gradients, from
    the numbers: the word whose signs differ with the largest |score| under `att`, what each method
    measured for it. None when the methods agree in sign on every word (or `att` is IG itself)."""
    if att.method == "ig" or ig.method != "ig" or len(att.scores) != len(ig.scores) or not len(att.scores):
        return None
    a, g = np.asarray(att.scores, dtype=float), np.asarray(ig.scores, dtype=float)
    differ = np.flatnonzero((np.sign(a) * np.sign(g)) < 0)
    if not len(differ):
        return None
    t = int(differ[np.argmax(np.abs(a[differ]))])
    word = f"“{escape(tr.tokens[t])}”"
    n = int(len(differ))
    lead = (f"{n} word{'s' if n != 1 else ''} score{'s' if n == 1 else ''} with the opposite sign under "
            f"integrated gradients. Take {word}: ")
    ig_part = (f"integrated gradients, which fade every word in together from padding and add up to the whole "
               f"logit change, give it {g[t]:+.3f} logit")
    if att.method == "occlusion":
        without = tr.prob - a[t]
        return (lead + f"without it the model reads the text at {100 * without:.1f}% positive against "
                f"{100 * tr.prob:.1f}% with it, so leaving it out scores it {100 * a[t]:+.1f} points; " + ig_part
                + ". One asks what the text is without the word, the other how much the word adds beside all the "
                  "others.")
    if att.method == "step":
        before = tr.prob0 if t == 0 else float(tr.step_probs[t - 1])
        return (lead + f"when it was read, P(positive) went from {100 * before:.1f}% to "
                f"{100 * float(tr.step_probs[t]):.1f}% ({100 * a[t]:+.1f} points, knowing only the words before "
                f"it); " + ig_part + ", knowing the whole text.")
    return (lead + f"its gradient x input is {a[t]:+.3f} logit, the logit's slope at the text itself; " + ig_part
            + ", the slope averaged along the whole way there.")


def _where_the_gap_is(att: Attribution) -> str:
    """Where on the path the largest gap sits, and how steep the logit is there (numbers only)."""
    w = att.worst
    if w is None or abs(w.gap) < 0.5 * abs(att.gap):
        return ""
    return (f" Most of it ({w.gap:+.3f}) lies on one short stretch of the path from the baseline to the "
            f"text, from {w.start:.6g} to {w.end:.6g} of the way, where the logit changes by {w.change:+.3f}: "
            "too steep there for the steps the page takes. Leave one out and step change need no path, "
            "so they have no such gap.")


def account(att: Attribution, tr: Trace, escape=str) -> list[tuple[str, bool]]:
    """The sentences a page shows under the word chips, each computed from `att` and `tr`, with a
    flag that says "this is a warning" (integrated gradients that do not add up). `escape` makes
    a token safe for the page (tokens are visitor text)."""
    if not len(att.scores):
        return []
    unit = UNIT_WORDS[att.unit]
    k = int(np.argmax(np.abs(att.scores)))
    top = float(att.scores[k])
    out = []
    if top == 0:
        out.append(("Every score is 0, so every chip is white.", False))
    else:
        out.append((f"Colours are scaled per sentence: the darkest chip, “{escape(att.tokens[k])}”, scores "
                     f"{top:+.4f} {unit}; hover a word for its score.", False))
    if att.method == "ig" and att.gap is not None:
        diff = att.logit - att.baseline_logit
        if att.complete:
            out.append((f"The scores sum to {float(att.scores.sum()):+.3f} logit; the text's logit minus the "
                        f"baseline's is {diff:+.3f} (gap {att.gap:+.4f}, within the allowed "
                        f"{att.tolerance:.3f}; {att.steps} steps).", False))
        else:
            out.append((f"These scores do not add up: they sum to {float(att.scores.sum()):+.3f} logit, but the "
                        f"text's logit minus the baseline's is {diff:+.3f} (gap {att.gap:+.4f}, more than the "
                        f"allowed {att.tolerance:.3f} after {att.steps} steps, the most this page computes). "
                        "Read them with care." + _where_the_gap_is(att), True))
        p_base, p0 = _sigmoid(att.baseline_logit), tr.prob0
        same = f"{100 * p_base:.1f}" == f"{100 * p0:.1f}"
        out.append((f"Baseline: {len(att.scores)} padding tokens, logit {att.baseline_logit:+.3f} "
                    f"(P(positive) {p_base:.1%}). The prediction curve starts at the prior, P(positive) "
                    f"{p0:.1%}, the readout before any token is read"
                    + (", the same to one decimal." if same else
                       "; reading the padding moved the state, so they differ."), False))
    elif att.method == "step":
        out.append((f"The steps sum to {float(att.scores.sum()):+.4f}: P(positive) after the last word "
                    f"({tr.prob:.1%}) minus the prior before any word ({tr.prob0:.1%}).", False))
    return out
