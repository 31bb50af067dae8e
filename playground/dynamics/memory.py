"""The memory lens: how much of what each word wrote into a network's memory survives to the end,
how long each unit remembers, and how strongly the verdict still depends on each word.

Gated cells carry a state that a gate keeps a fraction of at every step (cells.Keep): an LSTM's
cell c_t = f_t c_(t-1) + i_t g_t, a GRU's state h_t = z_t h_(t-1) + (1 - z_t) n_t (PyTorch's GRU:
z near 1 keeps). From the zero state this unrolls exactly into

    carrier_T = sum_t written_t * S_t,    S_t = prod_(s>t) keep_s   (per unit; S_(T-1) = 1),

so `survival` S (units x tokens) says how much of what word t wrote is still there after the last
word, and `kept` = written * S splits the final carried state over the words exactly. Averaged over
units, and weighted by each unit's share of the verdict |w_u h_(u,T)| (account.py), it says how
much of a word the verdict could still be reading.

A unit's time constant tau = 1 / (1 - mean keep gate) over a fixed sample of TEST texts
(typical.py): a gate that always kept the same fraction k would leave k^n = e^(-n/tau) after n words
(for k near 1), so tau is roughly the number of words it remembers. It uses the mean gate, an
approximation, and says so.

A SimpleRNN has no gate: its memory is the Jacobian of the state, d h_T / d h_t = J_T ... J_(t+1)
with J_s = diag(1 - h_s^2) U (cells.Cell.state_jacobian); `jacobian_gain` is its root-mean-square
singular value for every t, `readout_sensitivity` the size of w . d h_T / d h_t (how much a nudge of
the state after word t still moves the final logit). Both are exact.

`token_gradients` is |d logit / d embedding(word t)|, by autograd in float64 through the fused layer,
for every cell alike: the gradient through time the training of the network followed.
Shapes: T tokens, H units of the last layer.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from playground.core.models import SentimentRNN
from playground.core.trace import Trace
from playground.explain.account import account

# tau bins of the histogram (words); the last bin is "HOLD_WORDS or more"
TAU_EDGES = (1, 2, 3, 5, 10, 20, 50, 100, 200, 500)
HOLD_WORDS = 100  # "holds for 100+ words"


@dataclass(frozen=True)
class Lens:
    arch: str
    tokens: tuple[str, ...]
    gate: str | None  # the keep gate's name ("f", "z"); None for a cell without one
    carrier: str | None  # the state it keeps ("c", "h")
    shares: np.ndarray  # (H,) each unit's share of the verdict, w_u h_(u,T) (its sign says which way)
    survival: np.ndarray | None  # (H, T) prod_(s>t) keep_s
    written: np.ndarray | None  # (H, T) what word t wrote into the carrier
    kept: np.ndarray | None  # (H, T) written * survival; rows sum to the carrier after the last word
    carrier_T: np.ndarray | None  # (H,) the carrier after the last word, from the trace
    jacobian_gain: np.ndarray | None  # (T,) ||d h_T / d h_t||_F / sqrt(H) (a cell with a state Jacobian, no keep)
    readout_sensitivity: np.ndarray | None  # (T,) |w . d h_T / d h_t|

    @property
    def gated(self) -> bool:
        return self.gate is not None

    @property
    def weights(self) -> np.ndarray:
        """(H,) |share| normalised to sum 1 (equal weights when every share is 0)."""
        a = np.abs(self.shares)
        return a / a.sum() if a.sum() > 0 else np.full(len(a), 1.0 / max(1, len(a)))

    @property
    def mean_survival(self) -> np.ndarray | None:
        """(T,) survival averaged over units."""
        return None if self.survival is None else self.survival.mean(axis=0)

    @property
    def weighted_survival(self) -> np.ndarray | None:
        """(T,) survival weighted by each unit's share of the verdict."""
        return None if self.survival is None else self.weights @ self.survival


def survival(keep: np.ndarray) -> np.ndarray:
    """keep (T, H) -> S (H, T) with S[:, t] = prod_(s>t) keep[s] (the last word's is 1)."""
    T, H = keep.shape
    s = np.ones((T, H))
    if T > 1:
        s[:-1] = np.cumprod(keep[:0:-1], axis=0)[::-1]  # products of keep[t+1 .. T-1]
    return s.T


def _jacobians(tr: Trace, w_hh: np.ndarray) -> np.ndarray:
    """(T, H, H) d h_t / d h_(t-1) of the last layer at every step."""
    lt = tr.last
    jac = tr.cell.state_jacobian
    return np.stack([jac({**{q: v[t] for q, v in lt.gates.items()}, "h": lt.h[t]}, w_hh) for t in range(tr.n_steps)])


def jacobian_decay(tr: Trace, w_hh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(gain, sensitivity), both (T,), for a cell with a state Jacobian: P_t = d h_T / d h_t =
    P_(t+1) J_(t+1), P_(T-1) = I; gain_t = ||P_t||_F / sqrt(H), the root-mean-square of its singular
    values (how much a nudge of the state after word t, in a random direction, still moves the last
    state; 1 at the last word), and sensitivity_t = |w . P_t| = |d logit_T / d h_t| (how much it still
    moves the verdict). The products run in torch, float64 (numpy's 128 x 128 products took 10-30 ms
    each on this busy 2-core machine, torch's about 1 ms); the largest singular value would need an SVD
    per word, seconds for a long review, so the page shows the root-mean-square instead."""
    T, H = tr.n_steps, tr.hidden_size
    if T == 0:
        return np.zeros(0), np.zeros(0)
    J = torch.from_numpy(_jacobians(tr, w_hh))  # (T, H, H)
    w = torch.tensor(tr.readout_w, dtype=torch.float64)  # (H,)
    gain, sens = np.empty(T), np.empty(T)
    P = torch.eye(H, dtype=torch.float64)
    for t in range(T - 1, -1, -1):
        gain[t] = float(torch.linalg.matrix_norm(P)) / math.sqrt(H)
        sens[t] = float(torch.linalg.vector_norm(w @ P))
        if t > 0:
            P = P @ J[t]
    return gain, sens


def lens(tr: Trace, model: SentimentRNN | None = None) -> Lens:
    """The memory lens of a traced text (its last layer). `model` gives the recurrent weights a
    cell without a keep gate needs for its Jacobian."""
    c = tr.cell
    acc = account(tr)
    shares = acc.unit_shares if tr.n_steps else np.zeros(tr.hidden_size)
    base = dict(arch=tr.arch, tokens=tr.tokens, shares=shares)
    if c.keep is not None:
        lt = tr.last
        S = survival(lt.gates[c.keep.gate])
        written = c.keep.written(lt.gates).T  # (H, T)
        carrier = lt.gates[c.keep.carrier] if c.keep.carrier in lt.gates else lt.h
        return Lens(**base, gate=c.keep.gate, carrier=c.keep.carrier, survival=S, written=written,
                    kept=written * S, carrier_T=carrier[-1] if tr.n_steps else np.zeros(tr.hidden_size),
                    jacobian_gain=None, readout_sensitivity=None)
    gain = sens = None
    if c.state_jacobian is not None and model is not None:
        layer = model.config.num_layers - 1
        w_hh = getattr(model.rnn, f"weight_hh_l{layer}").detach().double().numpy()
        gain, sens = jacobian_decay(tr, w_hh)
    return Lens(**base, gate=None, carrier=None, survival=None, written=None, kept=None, carrier_T=None,
                jacobian_gain=gain, readout_sensitivity=sens)


# --- time constants -------------------------------------------------------------------------------
def time_constants(mean_keep: np.ndarray) -> np.ndarray:
    """(H,) tau = 1 / (1 - mean keep gate); a gate that keeps everything gives inf."""
    gap = 1.0 - np.asarray(mean_keep, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(gap > 0, 1.0 / np.maximum(gap, 1e-300), np.inf)


def taus_of(typical, cell) -> np.ndarray | None:
    """Time constants of the last layer's units from a typical.Typical, or None without a keep gate."""
    if cell.keep is None:
        return None
    return time_constants(typical.mean[-1][cell.keep.gate])


def tau_histogram(taus: np.ndarray) -> list[dict]:
    """Counts of units per tau bin, low <= tau < high: [{"low": 1, "high": 2, "label": "1-2", "count":
    n}, ..., {"low": 500, "high": None, "label": "500+", ...}] (the last bin holds inf, a gate at 1)."""
    edges = list(TAU_EDGES) + [None]
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (taus >= lo) & (taus < hi) if hi is not None else taus >= lo
        out.append({"low": lo, "high": hi, "label": f"{lo}+" if hi is None else f"{lo}-{hi}",
                    "count": int(inside.sum())})
    return out


def tau_story(taus: np.ndarray, title: str) -> str:
    """One sentence from the numbers: the median, the share below 3 words and the units at 100+."""
    n = len(taus)
    if n == 0:
        return ""
    med = float(np.median(taus))
    short = int((taus < 3).sum())
    hold = int((taus >= HOLD_WORDS).sum())
    longest = float(np.max(taus))
    longest_s = "never forgets on average (its keep gate is 1)" if math.isinf(longest) else f"{longest:,.0f} words"
    return (f"Half of this {title}'s {n} units forget within {med:.1f} words (the median time constant); "
            f"{short} of {n} have a time constant under 3 words and {hold} hold for {HOLD_WORDS}+ words. "
            f"The longest: {longest_s}.")


# --- gradient through time ------------------------------------------------------------------------
def token_gradients(model: SentimentRNN, ids) -> np.ndarray:
    """(T,) |d logit / d e_t|_2: the gradient of the final logit with respect to the embedding of
    each word read, by autograd in float64 through a copy of the fused layer and the readout (eval
    mode; the embedding table is not copied, only the rows read)."""
    ids = list(ids)
    if not ids:
        return np.zeros(0)
    rnn = copy.deepcopy(model.rnn).double().eval()
    readout = copy.deepcopy(model.readout).double()
    with torch.enable_grad():
        x = model.embedding.weight.detach()[torch.tensor(ids, dtype=torch.long)].double()[None]  # (1, T, E)
        x.requires_grad_(True)
        out, _ = rnn(x)  # (1, T, H)
        (g,) = torch.autograd.grad(readout(out[:, -1]).sum(), x)
    return g[0].norm(dim=1).numpy()


LONG_TOKENS = 300


@lru_cache(maxsize=2)
def long_review(min_tokens: int = LONG_TOKENS, max_tokens: int = 400) -> tuple[int, str]:
    """(index, text) of the first IMDB TEST review, in file order, with `min_tokens` to `max_tokens`
    tokens: the long text the gradient through time is also shown on (the same on every machine;
    the IMDB LSTM and GRU read all of it, the others its end)."""
    from playground.core.data import load
    from playground.core.text import tokenize

    split = load("imdb", "test")
    for i, text in enumerate(split.texts):
        if min_tokens <= len(tokenize(text)) <= max_tokens:
            return i, text
    raise ValueError(f"no IMDB TEST review has {min_tokens} to {max_tokens} tokens")


def half_distance(grads: np.ndarray) -> int | None:
    """Words back from the last at which |gradient| first falls to half of the last word's, or None
    when no earlier word's does (or there is one word, or the last word's gradient is 0)."""
    g = np.asarray(grads, dtype=np.float64)
    T = len(g)
    if T < 2 or not g[-1] > 0:
        return None
    back = g[::-1]  # back[d]: d words before the last
    hit = np.nonzero(back[1:] <= 0.5 * back[0])[0]
    return int(hit[0] + 1) if len(hit) else None


def gradient_row(model: str, cell_title: str, tokens, grads) -> dict:
    """One row of the Why gates page's gradient table: the words read, |d logit / d e| at the last word, the
    first word's as a multiple of it, and the half-distance (None where undefined)."""
    g = np.asarray(grads, dtype=np.float64)
    return {"model": model, "cell": cell_title, "words read": len(tokens),
            "|grad| last word": float(g[-1]) if len(g) else None,
            "first / last": float(g[0] / g[-1]) if len(g) and g[-1] > 0 else None,
            "half-distance": half_distance(g)}


# --- everything at once, as plain numbers (the command line's JSON) --------------------------------
def _list(a, digits: int = 6):
    if a is None:
        return None
    return [None if not np.isfinite(x) else round(float(x), digits) for x in np.asarray(a).ravel()] \
        if np.ndim(a) == 1 else [_list(row, digits) for row in a]


def report(tm, text: str, typical=None) -> dict:
    """The memory lens, time constants and gradient through time of `tm` (a zoo.TrainedModel)
    reading `text`, as JSON-ready numbers. `typical` (typical.Typical of the model's dataset) gives
    the time constants; without it, or for a cell without a keep gate, `taus` is None and
    `taus_note` says why."""
    from playground.core.trace import trace

    tr = trace(tm.model, tm.vocab, text)
    lz = lens(tr, tm.model)
    grads = token_gradients(tm.model, tr.ids)
    cell = tr.cell
    taus, note = None, None
    if cell.keep is None:
        note = f"A {cell.title} has no gate that keeps its state, so it has no time constants; see jacobian_gain."
    elif typical is None:
        note = "No TEST texts to average the keep gate over (the model has no dataset on its card)."
    else:
        taus = taus_of(typical, cell)
    out = {
        "model": tm.name, "arch": tr.arch, "tokens": list(tr.tokens), "truncated": tr.truncated,
        "keep_gate": lz.gate, "carrier": lz.carrier,
        "unit_shares": _list(lz.shares),
        "mean_survival": _list(lz.mean_survival), "weighted_survival": _list(lz.weighted_survival),
        "survival": _list(lz.survival), "written": _list(lz.written),
        "jacobian_gain": _list(lz.jacobian_gain), "readout_sensitivity": _list(lz.readout_sensitivity),
        "taus": _list(taus, 4), "taus_note": note,
        "tau_histogram": None if taus is None else tau_histogram(taus),
        "tau_story": None if taus is None else tau_story(taus, cell.title),
        "taus_from": None if taus is None else typical.describe(),
        "grad_norms": _list(grads, 8), "half_distance": half_distance(grads),
    }
    return out


# --- sentences computed from the numbers -----------------------------------------------------------
def _quote(token: str) -> str:
    return f"“{token}”"


def pct(x: float) -> str:
    """A share as a percentage that never rounds a small non-zero share to 0.0%: 12.3%, 0.42%, 3.1e-05%."""
    x = float(x)
    if x == 0 or x >= 0.001:
        return f"{x:.1%}"
    return f"{100 * x:.2g}%"


def survival_story(lz: Lens) -> str:
    """What the survival curves say, from their numbers."""
    T = len(lz.tokens)
    if not lz.gated or T == 0:
        return ""
    ms, ws = lz.mean_survival, lz.weighted_survival
    if T == 1:
        return "One word: everything it wrote is still there after it (nothing came later to forget it)."
    below = np.nonzero(ws[::-1] < 0.5)[0]  # words back from the last where the weighted share is under half
    half = (f"What was written {int(below[0])} word{'s' if below[0] != 1 else ''} before the end keeps less than "
            "half (weighted)" if len(below) else "Every word keeps at least half of what it wrote (weighted)")
    return (f"Of what the first word, {_quote(lz.tokens[0])}, wrote, {pct(ms[0])} is still there after the last word "
            f"on average over units ({float(ms[0]) ** (1.0 / (T - 1)):.2f} per word, as if each of the {T - 1} later "
            f"words had kept that fraction in every unit), and {pct(ws[0])} weighted by each unit's share of the "
            f"verdict. {half}.")


def fade_story(tr, lz: Lens, t: int) -> str:
    """How the prediction moved from word t (an opinion) to the end of the text, and what the memory
    kept of what word t wrote: why a text that one early word decides can end the other way.
    `tr` is the trace the lens was made from."""
    T = tr.n_steps
    if not 0 <= t < T:
        return ""
    rest = T - t - 1
    word = _quote(lz.tokens[t])
    if not rest:
        return f"{word} is the last word: the model ends at {pct(tr.prob)} positive right after it."
    out = (f"Right after {word} (word {t + 1}) the model was at {pct(tr.step_probs[t])} positive; after the "
           f"{rest} word{'s' if rest != 1 else ''} that follow{'s' if rest == 1 else ''} it, at {pct(tr.prob)}.")
    if lz.gated:
        out += (f" By the last word its memory keeps {pct(lz.weighted_survival[t])} of what {word} wrote "
                "(weighted by each unit's share of the verdict); the rest of the final state was written by the "
                "words after it.")
    elif lz.jacobian_gain is not None:
        out += (f" The state Jacobian from {word} to the end has an rms gain of {float(lz.jacobian_gain[t]):.3g} "
                "(how much a change to the state at that word still changes the final state).")
    return out


def jacobian_story(lz: Lens) -> str:
    T = len(lz.tokens)
    if lz.jacobian_gain is None or T == 0:
        return ""
    if T == 1:
        return "One word: nothing came after it, so nothing shrank or grew its state."
    g0, s0, sT = float(lz.jacobian_gain[0]), float(lz.readout_sensitivity[0]), float(lz.readout_sensitivity[-1])
    per_word = g0 ** (1.0 / (T - 1)) if g0 > 0 else 0.0
    trend = "shrank" if g0 < 1 else "grew"
    return (f"A nudge of the state after the first word, {_quote(lz.tokens[0])}, reaches the last state with "
            f"{g0:.3g} of its size (root-mean-square over directions) and moves the final logit by {s0:.3g} per unit "
            f"of nudge; after the last word, {_quote(lz.tokens[-1])}, by 1 and {sT:.3g}. Over these {T - 1} steps the "
            f"state's gain {trend} by a factor of {per_word:.3f} per word on average.")


def gradient_story(rows: list[dict]) -> str:
    """One sentence per model from the gradient table's rows (see ui.gates_lab.gradient_series):
    keys "model", "words read", "first / last", "half-distance"."""
    parts = []
    for r in rows:
        half = r["half-distance"]
        ratio = r["first / last"]
        parts.append(f"{r['model']}: " + (f"half of its last word's gradient {half} words back" if half is not None
                                          else "no earlier word's gradient falls to half of the last word's")
                     + (f", the first of its {r['words read']} words gets {ratio:.3g} times the last word's"
                        if ratio is not None else ""))
    known = [r for r in rows if r["half-distance"] is not None]
    tail = ""
    if len(known) >= 2:
        best = max(known, key=lambda r: r["half-distance"])
        tail = (f" On this text the gradient stays above half longest in {best['model']} "
                f"({best['half-distance']} words); one text, not a test of the cells.")
    return "; ".join(parts) + "." + tail if parts else ""
