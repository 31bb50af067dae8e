"""Why gates' first screen: why a plain RNN forgets and how gates fix it, in sentences computed from the
numbers on the page, and the causes of the results that go against the textbook.

The answer reads the gradient through time on one long text (memory.token_gradients: |d logit / d e_t| per
word): what reaches the word k words before the end, as a share of what reaches the last word, and the
geometric mean kept per step, share ** (1 / k). A cell without gates passes its memory through
tanh(W x + U h) at every word, so each step back multiplies the gradient by diag(1 - h^2) U; a gated cell
multiplies its carried state by a gate that training can hold near 1. Whether the numbers show that is
checked, never assumed: when the plain cell keeps more than a gated one, the sentence says so.

The causes (each a sentence of numbers, or nothing when its numbers are missing):
- initialisation: the long-range lab's gradient reaching the signal at the first training step and where
  each cell falls to chance, from Keras' start (orthogonal recurrent weights, LSTM forget bias 1) and the
  textbook's (Gaussian recurrent weights, every bias 0), both shipped (lab.SHIPPED_BY_INIT);
- the GRU's update gate at the start: its mean over a lab batch at step 1 (lab.initial_keep), about 0.5
  with zero biases, and the per-step factor the gradient shrank by;
- trained forget gates: a trained LSTM's mean forget gate over the TEST words of its dataset, its units'
  median time constant, and how long that dataset's texts are.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from playground.core.models import ARCH_TITLES
from playground.dynamics import memory

K_BACK = 99  # "100 words back": the word 99 words before the last one


@dataclass(frozen=True)
class Reach:
    """What of the last word's gradient reaches the word k words back, for one model on one text."""

    model: str
    cell: str  # "SimpleRNN"
    gated: bool
    words: int  # words read
    k: int  # words back from the last one
    share: float | None  # |grad| at word T-1-k over |grad| at the last word; None when undefined
    per_step: float | None  # share ** (1 / k): the mean fraction kept per step back

    def as_dict(self) -> dict:
        return {"model": self.model, "cell": self.cell, "gated": self.gated, "words": self.words, "k": self.k,
                "share": self.share, "per_step": self.per_step}


def reach(model: str, cell_title: str, gated: bool, grads: Sequence[float], k: int) -> Reach:
    g = np.asarray(grads, dtype=np.float64)
    T = len(g)
    k = min(k, T - 1)
    if k < 1 or not g[-1] > 0:
        return Reach(model, cell_title, gated, T, max(k, 0), None, None)
    share = float(g[T - 1 - k] / g[-1])
    per_step = share ** (1.0 / k) if share > 0 else 0.0
    return Reach(model, cell_title, gated, T, k, share, per_step)


def _fold(x: float) -> str:
    """1.2e6 -> "1.2 million-fold less"; 19.4 -> "19-fold less"."""
    if not math.isfinite(x):
        return "nothing left"
    if x >= 1e6:
        return f"{x / 1e6:,.1f} million-fold less"
    return f"{float(f'{x:.2g}'):,.0f}-fold less"


def _g(x: float) -> str:
    """A share in plain digits: 0.053, 8.3e-07 (two significant digits)."""
    return f"{x:.2g}"


@dataclass(frozen=True)
class Answer:
    reaches: tuple[Reach, ...]
    k: int
    headline: str  # the numbers
    because: str  # what they mean, in plain words
    textbook: bool  # the plain cell kept the least of all (the textbook's lesson holds here)

    def as_dict(self) -> dict:
        return {"k": self.k, "headline": self.headline, "because": self.because, "textbook": self.textbook,
                "models": [r.as_dict() for r in self.reaches]}


def answer(rows: Sequence[tuple[str, str, bool, Sequence[float]]], text_words: int, k: int = K_BACK) -> Answer:
    """rows: (model, cell title, has gates, |d logit / d e_t| per word read) -> the first screen's answer at
    k words back (fewer when a model read fewer words: the largest k every model has)."""
    if not rows:
        raise ValueError("no models")
    k = max(1, min([k] + [len(g) - 1 for *_, g in rows]))
    rs = tuple(reach(m, c, gated, g, k) for m, c, gated, g in rows)
    known = [r for r in rs if r.share is not None]
    parts = ", ".join(f"{r.cell} ({r.model}) {_g(r.share)}" for r in known)
    headline = (f"On a {text_words:,}-word review, the gradient that reaches the word {k} words before the end, as a "
                f"share of what reaches the last word: {parts}.")
    plain = [r for r in known if not r.gated]
    gated = [r for r in known if r.gated]
    if not plain or not gated:
        return Answer(rs, k, headline, "", False)
    worst_plain = min(plain, key=lambda r: r.share)
    best_gate = min(gated, key=lambda r: r.share)
    titles = [r.cell for r in known]

    def who(r: Reach) -> str:  # a cell's title, with its model's name when two models share it (a reader's own)
        return f"{r.cell} ({r.model})" if titles.count(r.cell) > 1 else r.cell

    steps = ", ".join(f"{who(r)} {r.per_step:.2f}" for r in gated)
    if worst_plain.share < best_gate.share:
        fold = 1 / worst_plain.share if worst_plain.share > 0 else math.inf
        because = (f"The {worst_plain.cell} forgets: at every word its memory is rewritten as tanh(W\u00a0x\u00a0+"
                   f"\u00a0U\u00a0h), so each step back multiplies the gradient by diag(1\u00a0−\u00a0h²)\u00a0U. "
                   f"On average each step kept {worst_plain.per_step:.2f} of it; {k} steps leave "
                   f"{_g(worst_plain.share)} ({_fold(fold)}), so training can hardly teach it what that word meant. "
                   "Gated cells carry memory through a multiplication by a gate instead, and their gradient kept "
                   f"more per step: {steps}.")
        return Answer(rs, k, headline, because, True)
    kept_less = [who(r) for r in gated if r.share > worst_plain.share]  # gated cells that kept more than it
    than = (f"vanished faster than the {' and the '.join(kept_less)}'s but not than the "
            f"{' and the '.join(who(r) for r in gated if r.share <= worst_plain.share)}'s" if kept_less else
            "did not vanish faster than the gated cells'")
    because = (f"Here the {who(worst_plain)}'s gradient {than} (per step: {who(worst_plain)} "
               f"{worst_plain.per_step:.2f}, {steps}): a trained network can learn to keep its "
               "gradient alive. The causes below say when and why a plain RNN forgets.")
    return Answer(rs, k, headline, because, False)


# --- causes ------------------------------------------------------------------------------------------
def _k_index(result: Mapping, k: int) -> int | None:
    ks = list(result.get("k", []))
    return ks.index(k) if k in ks else None


def _falls(result: Mapping, c: str) -> str:
    kc = result["chance_distance"].get(c)
    return f"never falls to chance up to k = {max(result['k'])}" if kc is None else f"falls to chance at k = {kc}"


Cause = tuple[str, str]  # (a bold title, the sentences of numbers after it); plain text, no Markdown


def _seed_failures(result: Mapping, c: str, chance: float) -> list[str]:
    """'one seed in 3 at k = 50' for every k where some seed, not the mean, fell to chance."""
    out = []
    for k, accs in zip(result["k"], result["per_seed"][c]):
        bad = sum(1 for a in accs if a <= chance)
        if 0 < bad and sum(accs) / len(accs) > chance:
            out.append(f"{bad} of {len(accs)} at k = {k}")
    return out


def _k_learned(result: Mapping, c: str) -> int | None:
    """The largest distance below where the cell falls to chance (all of them when it never does)."""
    ks, kc = list(result["k"]), result["chance_distance"].get(c)
    below = [k for k in ks if kc is None or k < kc]
    return below[-1] if below else None


def init_table(keras: Mapping | None, textbook: Mapping | None, shares_of,
               keep0: Mapping[str, Mapping[str, float | None]] | None = None) -> list[dict]:
    """One row per cell, Keras' start → the textbook's: the keep gate before training, the first step's
    gradient reaching the signal at the largest k as a share of the last token's, the largest k learned."""
    if not keras or not textbook:
        return []
    k = max(set(keras["k"]) & set(textbook["k"]), default=None)
    cells = [c for c in keras["cells"] if c in textbook["cells"]]
    if k is None:
        return []
    sk, st_ = shares_of(keras), shares_of(textbook)
    ik, it = _k_index(keras, k), _k_index(textbook, k)
    keep0 = keep0 or {}

    def g(x):
        return _g(x) if x is not None else "0"

    def kl(r, c):
        v = _k_learned(r, c)
        return "none" if v is None else str(v)

    rows = []
    for c in cells:
        a, b = keep0.get("keras", {}).get(c), keep0.get("textbook", {}).get(c)
        rows.append({"cell": ARCH_TITLES[c],  # the result second: it stays on a phone's screen
                     "largest k learned": f"{kl(keras, c)} → {kl(textbook, c)}",
                     "keep gate at the start": "no gate" if a is None or b is None else f"{a:.2f} → {b:.2f}",
                     f"gradient reaching {k} tokens back, untrained": f"{g(sk[c][ik])} → {g(st_[c][it])}"})
    return rows


def _start_decides(keras: Mapping, textbook: Mapping, cells: Sequence[str], shares_of) -> str:
    """When one cell passes the most gradient back at the largest k before training under both starts and also
    learns the longest distance from both: say so, with the table's numbers (else nothing)."""
    k = max(set(keras["k"]) & set(textbook["k"]), default=None)
    if k is None or shares_of is None:
        return ""
    sk, sb = shares_of(keras), shares_of(textbook)
    ik, ib = _k_index(keras, k), _k_index(textbook, k)

    def best(values: dict) -> str | None:  # the one cell strictly ahead of every other, or None
        known = {c: v for c, v in values.items() if v is not None}
        if not known:
            return None
        top = max(known.values())
        ahead = [c for c, v in known.items() if v == top]
        return ahead[0] if len(ahead) == 1 else None

    passes = {best({c: sk[c][ik] for c in cells}), best({c: sb[c][ib] for c in cells})}
    learns = {best({c: _k_learned(keras, c) for c in cells}), best({c: _k_learned(textbook, c) for c in cells})}
    if len(passes) != 1 or passes != learns or None in passes:
        return ""
    c = passes.pop()
    t = ARCH_TITLES[c]
    others = " and ".join(f"{ARCH_TITLES[o]} {_g(sk[o][ik]) if sk[o][ik] is not None else '0'}"
                          for o in cells if o != c)
    return (f" Before any training the {t}'s gradient reaching the signal {k} tokens back was the largest of the "
            f"cells' ({_g(sk[c][ik])} of the last token's from Keras' start, {_g(sb[c][ib])} from the textbook's; "
            f"{others} from Keras'), and the {t} is the cell that learned the longest distance from both starts.")


def init_cause(keras: Mapping | None, textbook: Mapping | None, shares_of=None) -> Cause | None:
    """The initialisation, from the two shipped labs: what changed for each cell, in words; with `shares_of`
    (lab.init_gradient_shares), which cell's start passed the most gradient back, when that explains the lab."""
    if not keras or not textbook:
        return None
    cells = [c for c in keras["cells"] if c in textbook["cells"]]
    if not cells:
        return None
    parts = []
    for c in cells:
        a, b = _k_learned(keras, c), _k_learned(textbook, c)
        t = ARCH_TITLES[c]
        if a == b:
            parts.append(f"the {t} learns the same distances from both (up to k = {a})" if a is not None else
                         f"the {t} learns no distance from either")
        else:
            parts.append(f"the {t} learns up to k = {b if b is not None else 'none'} from the textbook's start "
                         f"instead of {a if a is not None else 'none'}")
    chance = float(textbook.get("chance_accuracy", 0.6))
    fails = [f"{ARCH_TITLES[c]} {', '.join(_seed_failures(r, c, chance))} ({name})"
             for name, r in (("Keras", keras), ("textbook", textbook)) for c in cells if _seed_failures(r, c, chance)]
    n = len(keras.get("seeds", []))
    return ("The start decides a lot.",
            "Keras starts the recurrent weights U orthogonal (a rotation: it keeps the gradient's length) and the "
            "LSTM's forget bias at 1; the textbook draws U at random and sets every bias to 0. Trained from both in "
            f"the long-range lab ({n} seeds each): " + "; ".join(parts) + "."
            + (f" Single seeds failed where the mean did not: {'; '.join(fails)}." if fails else "")
            + _start_decides(keras, textbook, cells, shares_of))


def gru_cause(z0: float | None, keras: Mapping | None, shares_of) -> Cause | None:
    """The GRU's update gate at the start (lab.initial_keep) and the per-step shrink in the lab."""
    if z0 is None or not keras or "gru" not in keras.get("cells", []):
        return None
    sh = shares_of(keras)["gru"]
    pairs = [(k, s) for k, s in zip(keras["k"], sh) if s is not None and k > 1]
    if not pairs:
        return None
    k, s = max(pairs)
    per = s ** (1 / (k - 1))
    return (f"The GRU starts with its update gate at z = {z0:.2f}.",
            "With zero biases the gate is sigmoid of a sum near 0, so only about half of h passes straight on at "
            f"each step. In the lab at the first step, the gradient reaching the signal {k} tokens back was {_g(s)} "
            f"of the last token's, a factor {per:.2f} per step; the GRU {_falls(keras, 'gru')}.")


@dataclass(frozen=True)
class CellPath:
    """Along a gated cell's carried state alone (an LSTM's c_t = f_t c_t-1 + ..., a GRU's h_t = z_t h_t-1 + ...),
    a word's gradient is multiplied by the keep gate at every step: the unit whose gate keeps most over the last
    `k` steps of a text, and that product (float64)."""

    unit: int
    product: float
    k: int


def cell_path(keep: np.ndarray, k: int) -> CellPath | None:
    """keep: (T, H) the last layer's keep gate over a text read; k: steps back (at most T - 1)."""
    f = np.asarray(keep, dtype=np.float64)
    k = min(int(k), f.shape[0] - 1) if f.ndim == 2 else 0
    if k < 1:
        return None
    prods = np.prod(f[-k:], axis=0)
    u = int(np.argmax(prods))
    return CellPath(u, float(prods[u]), k)


def path_sentence(model: str, path: CellPath | None, share: float | None, gate: str = "f",
                  carrier: str = "c") -> str:
    """What the carried state's own path explains of a measured share (`answer`'s, the same k), and what not."""
    if path is None or share is None or not share > 0:
        return ""
    head = (f" On the long review, along {model}'s {carrier} alone a word's gradient is multiplied by {gate} at every "
            f"step: over those {path.k} words the unit that keeps most (unit {path.unit}) multiplies it by "
            f"{_g(path.product)}.")
    if path.product > 0 and share > 10 * path.product:
        times = _fold(share / path.product).removesuffix("-fold less")  # "720", "30.0 million"
        other = ("through h, which feeds every gate and the candidate at the next word" if carrier != "h" else
                 "through the gates and the candidate, which read h too")
        return head + (f" The share measured, {_g(share)}, is {times} times that, so most of it came another way: "
                       f"{other}.")
    return head + f" The share measured is {_g(share)}."


def forget_cause(model: str, mean_f: float | None, median_tau: float | None,
                 tokens_per_text: float | None, path: str = "") -> Cause | None:
    """A trained LSTM's forget gates over its dataset's TEST words, and how long those texts are; `path`:
    path_sentence's, appended."""
    if mean_f is None or median_tau is None or tokens_per_text is None:
        return None
    return (f"Trained forget gates sit near {mean_f:.1f}, not 1.",
            f"Over its dataset's TEST words, {model}'s forget gate averages {mean_f:.2f} and half its units forget "
            f"within {median_tau:.1f} words; those texts are {tokens_per_text:.0f} words long on average. A forget "
            "gate can carry a word across many words; training holds it near 1 only where the task needs it."
            + path)


def forget_of(model: str, typical, c, path: str = "") -> Cause | None:
    """forget_cause from a trained gated model's typical values (typical.Typical) and its cell: the keep gate's
    mean over its dataset's TEST words, its units' median time constant, the texts' mean length."""
    if typical is None or c.keep is None:
        return None
    f = np.asarray(typical.mean[-1][c.keep.gate], dtype=float)  # (H,) each unit's mean over the same tokens
    return forget_cause(model, float(f.mean()), float(np.median(memory.taus_of(typical, c))),
                        typical.n_tokens / max(1, typical.n_texts), path)


def keep_path(model: str, tm, review: str, ans: "Answer") -> str:
    """path_sentence for a gated model `tm` on the long review, against its share in `ans` (same k)."""
    from playground.core.cells import cell
    from playground.core.trace import trace

    r = next((r for r in ans.reaches if r.model == model), None)
    keep = cell(tm.arch).keep if tm is not None else None
    if keep is None or r is None or r.share is None:
        return ""
    tr = trace(tm.model, tm.vocab, review)
    return path_sentence(model, cell_path(np.asarray(tr.layers[-1].gates[keep.gate]), ans.k), r.share, keep.gate,
                         keep.carrier)


def first_screen(dataset: str) -> dict:
    """Why gates' first screen as plain numbers (`python -m playground why --dataset D --json`): the answer on
    the long review for the dataset's bundled cells, the three causes and the two starts' table."""
    from playground.core import zoo
    from playground.core.cells import cell
    from playground.dynamics import lab, precomputed

    idx, review = memory.long_review()
    rows = []
    for name in (n for n in zoo.bundled_names() if n.endswith(f"-{dataset}")):
        tm = zoo.load_bundled(name)
        enc = tm.vocab.encode(review, tm.config.max_len)
        rows.append((name, tm.config.title, cell(tm.arch).has_gates, memory.token_gradients(tm.model, enc.ids)))
    ans = answer(rows, len(review.split()))
    keras, book = lab.load_shipped(lab.SHIPPED_BY_INIT["keras"]), lab.load_shipped(lab.SHIPPED_BY_INIT["textbook"])
    keep0 = {i: {c: lab.initial_keep(c, lab.LabSettings(init=i)) for c in lab.ARCHS} for i in ("keras", "textbook")}
    lstm = f"lstm-{dataset}"
    typ = precomputed.load("typical", zoo.load_bundled(lstm)) if lstm in zoo.bundled_names() else None
    path = keep_path(lstm, zoo.load_bundled(lstm), review, ans) if lstm in zoo.bundled_names() else ""
    causes = [init_cause(keras, book, lab.init_gradient_shares),
              gru_cause(keep0["keras"].get("gru"), keras, lab.init_gradient_shares),
              forget_of(lstm, typ, cell("lstm"), path)]
    return {"review": idx, **ans.as_dict(),
            "causes": [{"title": c[0], "text": c[1]} for c in causes if c],
            "starts": init_table(keras, book, lab.init_gradient_shares, keep0)}
