"""Interventions: reach into the recurrence at one token, change one thing, and re-run the rest.

At token K (0-based) of a sentence, in one layer (default: the last), an `Intervention` can
- clamp a unit's carried state (h, and an LSTM's c: whatever the cell carries, `Cell.state`) to a
  value: the value the step computed after reading token K is replaced, at K only (the network then
  runs freely from the changed state: does it recover?) or, with `hold`, after every token from K
  on. A clamped h is what the readout and the next step read; an LSTM's h at a token is computed
  from that token's c before a c clamp replaces it, so a c clamp shows in h from the next token;
- force a gate (any GATE-kind quantity of the cell that is one of its weight blocks: LSTM i, f, o;
  GRU r, z) to a value in [0, 1], for one unit or all units, at every token from K on;
- zero the top k: hold h = 0 from K on for the k units of the last layer with the largest share of
  the original sentence's verdict |w_u h_u,T| (the account's ranking, account.py).
Several interventions can be applied together.

A gate is forced without knowing the cell's equations: a gate block is σ(input part + recurrent
part), so the step is handed input part logit(v) and recurrent part 0 for the forced units (±inf
for 0 and 1, which σ maps to exactly 0 and 1); its output is then checked to be v (exactly for 0
and 1, within 1e-12 otherwise) and every output finite, and a cell that computes the gate another
way is refused. So a forget gate forced to 1 keeps the cell exactly: c_t = c_(t-1) + i_t g_t.

Every step before K is copied from the original trace (bitwise identical, readout included); from
K on, this layer and every layer above re-run with the cell's own step in float64 as trace.py
does. The recorded parts (W x + b, U h + b) stay what the weights computed; a forced gate ignores
them. `resume` is the same loop for a sentence whose token ids change from some point on (whatif.py).
Shapes: T tokens, H units, G blocks.
"""
from __future__ import annotations

import dataclasses
import math
import operator
from dataclasses import dataclass, field

import numpy as np
import torch

from playground.core.cells import GATE, Cell, sigmoid
from playground.core.models import SentimentRNN
from playground.core.text import Encoded, Vocab
from playground.core.trace import LayerTrace, Trace, _frozen, _weights, run_layer, trace
from playground.explain.account import account

KINDS = ("clamp", "gate", "zero_top")


@dataclass(frozen=True)
class Intervention:
    kind: str  # "clamp", "gate" or "zero_top"
    token: int  # K: the first token it acts on (0-based)
    value: float = 0.0  # clamp: the state's value; gate: the gate's value in [0, 1]; zero_top: 0
    unit: int | None = None  # clamp: the unit; gate: one unit, or None for all; zero_top: None
    name: str = "h"  # clamp: the state ("h", "c"); gate: the gate ("f", "z", ...)
    hold: bool = False  # clamp: hold from K on (True) or replace at K only; gate and zero_top always hold
    layer: int = -1  # which layer (0-based; -1: the last); zero_top always acts on the last layer
    k: int = 0  # zero_top: how many units
    units: tuple[int, ...] = ()  # zero_top: the units it zeroed (filled in by `intervene`)

    def describe(self) -> str:
        where = f"from token {self.token} on" if self.kind != "clamp" or self.hold else f"at token {self.token}"
        if self.kind == "clamp":
            return f"clamp {self.name} of unit {self.unit} to {self.value:g} {where}"
        if self.kind == "gate":
            who = "every unit" if self.unit is None else f"unit {self.unit}"
            return f"force gate {self.name} of {who} to {self.value:g} {where}"
        shown = f" (units {', '.join(map(str, self.units))})" if self.units else ""
        return f"zero h of the top {self.k} units by share of the verdict{shown} {where}"

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "units": list(self.units), "description": self.describe()}


def clamp(token: int, unit: int, value: float, state: str = "h", hold: bool = False, layer: int = -1) -> Intervention:
    return Intervention("clamp", token, float(value), unit, state, hold, layer)


def force_gate(token: int, gate: str, value: float, unit: int | None = None, layer: int = -1) -> Intervention:
    return Intervention("gate", token, float(value), unit, gate, True, layer)


def zero_top(token: int, k: int) -> Intervention:
    return Intervention("zero_top", token, 0.0, None, "h", True, -1, int(k))


def forceable_gates(c: Cell) -> tuple[str, ...]:
    """The gates `force_gate` can set: GATE-kind quantities that are weight blocks of the cell."""
    return tuple(q.name for q in c.quantities if q.kind == GATE and q.name in c.blocks)


def _check(iv: Intervention, tr: Trace) -> Intervention:
    """`iv` with its layer resolved, or ValueError with one line a person can act on."""
    c, T, H, L = tr.cell, tr.n_steps, tr.hidden_size, len(tr.layers)
    if iv.kind not in KINDS:
        raise ValueError(f"unknown intervention {iv.kind!r}; choose one of {', '.join(KINDS)}")
    if T == 0:
        raise ValueError("the text has no tokens the model reads, so there is nothing to intervene on")
    try:  # whole numbers only (numpy's too), never a bool or a float
        iv = dataclasses.replace(iv, token=_whole(iv.token), layer=_whole(iv.layer), k=_whole(iv.k),
                                 unit=None if iv.unit is None else _whole(iv.unit), value=float(iv.value))
    except (TypeError, ValueError):
        raise ValueError("token, unit, layer and k must be whole numbers, and the value a number") from None
    if not 0 <= iv.token < T:
        raise ValueError(f"token {iv.token} is out of range: the model reads {T} tokens here (0 to {T - 1})")
    if not -L <= iv.layer < L:
        raise ValueError(f"layer {iv.layer} is out of range: the model has {L} layer{'s' if L > 1 else ''} "
                         f"(0 to {L - 1})")
    layer = iv.layer % L
    if iv.unit is not None and not 0 <= iv.unit < H:
        raise ValueError(f"unit {iv.unit} is out of range: each layer has {H} units (0 to {H - 1})")
    if not math.isfinite(iv.value):
        raise ValueError(f"the value must be a finite number, not {iv.value}")
    if iv.kind == "clamp":
        if iv.unit is None:
            raise ValueError("a clamp needs a unit")
        if iv.name not in c.state:
            raise ValueError(f"the {c.title} cell carries {', '.join(c.state)}; it has no state {iv.name!r} to clamp")
        lo, hi = c.quantity(iv.name).bounds or (-math.inf, math.inf)
        if not lo <= iv.value <= hi:
            raise ValueError(f"{c.quantity(iv.name).title} lies in [{lo:g}, {hi:g}]; {iv.value:g} is outside")
    elif iv.kind == "gate":
        gates = forceable_gates(c)
        if iv.name not in gates:
            have = f"its gates are {', '.join(gates)}" if gates else "it has no gates"
            raise ValueError(f"the {c.title} cell has no gate {iv.name!r} to force; {have}")
        if not 0.0 <= iv.value <= 1.0:
            raise ValueError(f"a gate lies in [0, 1]; {iv.value:g} is outside")
    elif not 1 <= iv.k <= H:
        raise ValueError(f"top-k must be between 1 and {H} (the units of the last layer), not {iv.k}")
    if iv.kind == "zero_top":
        layer = L - 1
    return dataclasses.replace(iv, layer=layer, hold=iv.hold or iv.kind != "clamp")


def _whole(x) -> int:
    if isinstance(x, bool):
        raise TypeError("a bool is not a position")
    return operator.index(x)


def _logit(v: float) -> float:
    """The input that σ maps to v: ±inf for 1 and 0 (exact), log(v / (1 - v)) otherwise."""
    return math.inf if v == 1.0 else -math.inf if v == 0.0 else math.log(v) - math.log1p(-v)


@dataclass
class _Plan:
    """What to do in one layer: forced gates (name, units, σ input, value, from t) and clamped states
    (name, units, value, from t, to t inclusive)."""

    forces: list = field(default_factory=list)
    clamps: list = field(default_factory=list)


def _plans(ivs: list[Intervention], T: int, H: int) -> dict[int, _Plan]:
    plans: dict[int, _Plan] = {}
    for iv in ivs:
        plan = plans.setdefault(iv.layer, _Plan())
        if iv.kind == "gate":
            units = np.arange(H) if iv.unit is None else np.array([iv.unit])
            plan.forces.append((iv.name, units, _logit(iv.value), iv.value, iv.token))
        else:
            units = np.array(iv.units if iv.kind == "zero_top" else [iv.unit])
            plan.clamps.append((iv.name, units, iv.value, iv.token, T - 1 if iv.hold else iv.token))
    return plans


def _stacked(lt: LayerTrace, c: Cell, which: int) -> np.ndarray:
    """(T, G*H) the layer's input parts (which=0) or recurrent parts (which=1), blocks side by side."""
    return np.concatenate([lt.parts[b][which] for b in c.blocks], axis=1)


def _run_from(c: Cell, xw: np.ndarray, w_hh, b_hh, orig: LayerTrace, start: int, plan: _Plan | None) -> LayerTrace:
    """xw (T, G*H) input parts -> the layer's trace (trace.run_layer, the one recurrence loop): steps before
    `start` copied from `orig`, the rest re-run from orig's state after token start - 1 (the zero state when
    start is 0), with `plan`'s forced gates (before each step) and clamped states (after it)."""
    plan = plan or _Plan()

    def before(t: int, inp: dict, rp: dict) -> None:
        for name, units, lg, _, _ in (f for f in plan.forces if t >= f[4]):
            inp[name], rp[name] = inp[name].copy(), rp[name].copy()
            inp[name][units], rp[name][units] = lg, 0.0

    def after(t: int, out: dict) -> dict:
        for name, units, _, v, _ in (f for f in plan.forces if t >= f[4]):
            got = out[name][units]
            if not (np.all(got == v) if v in (0.0, 1.0) else np.all(np.abs(got - v) <= 1e-12)) or not all(
                    np.all(np.isfinite(a)) for a in out.values()):
                raise ValueError(f"cannot force {name} of the {c.title} cell: its step does not compute it as "
                                 "σ(input part + recurrent part)")
        for name, units, v, t0, t1 in plan.clamps:
            if t0 <= t <= t1:
                out[name] = np.array(out[name], dtype=np.float64, copy=True)
                out[name][units] = v
        return out

    return run_layer(c, xw, w_hh, b_hh, orig, start, before if plan.forces else None,
                     after if plan.forces or plan.clamps else None)


@torch.no_grad()
def resume(model: SentimentRNN, tr: Trace, enc: Encoded, start: int, plans: dict[int, _Plan] | None = None) -> Trace:
    """The trace of `enc`, whose first `start` token ids are tr's, computed from tr's states after
    token start - 1: every layer re-runs from `start` on where its input changed (new ids, a layer
    below changed) or `plans` act on it; everything before `start` is tr's, bitwise."""
    plans = plans or {}
    c, T = tr.cell, len(enc.ids)
    start = max(0, min(start, T, tr.n_steps))
    if tuple(enc.ids[:start]) != tuple(tr.ids[:start]):
        raise ValueError("the new token ids must share the first `start` ids with the trace")
    x_new = None  # (T - start, n_in) this layer's input from `start` on, when it differs from tr's
    if tuple(enc.ids) != tuple(tr.ids):
        x_new = model.embedding.weight.detach()[torch.tensor(enc.ids[start:], dtype=torch.long)].double().numpy()
    layers = []
    for layer, orig in enumerate(tr.layers):
        if x_new is None and layer not in plans:
            layers.append(orig)
            continue
        w_ih, w_hh, b_ih, b_hh = _weights(model, layer)
        old = _stacked(orig, c, 0)  # (T_orig, G*H)
        xw = np.empty((T, old.shape[1]))
        xw[:start] = old[:start]
        xw[start:] = old[start:] if x_new is None else x_new @ w_ih.T + b_ih
        lt = _run_from(c, xw, w_hh, b_hh, orig, start, plans.get(layer))
        layers.append(lt)
        x_new = lt.h[start:]
    probs = np.empty(T)  # (T,)
    probs[:start] = tr.step_probs[:start]
    probs[start:] = sigmoid(layers[-1].h[start:] @ tr.readout_w + tr.readout_b)
    return dataclasses.replace(tr, tokens=enc.tokens, ids=enc.ids, oov=enc.oov, n_tokens_total=enc.n_tokens_total,
                               layers=tuple(layers), step_probs=_frozen(probs),
                               prob=float(probs[-1]) if T else tr.prob0)


def share_change(before: Trace, after: Trace) -> np.ndarray:
    """(H,) each last-layer unit's change of its share of the verdict, w_u (h'_u,T' - h_u,T): the parts
    of the change of the final logit, which they sum to exactly (account.py)."""
    h0 = before.last.h[-1] if before.n_steps else np.zeros(before.hidden_size)
    h1 = after.last.h[-1] if after.n_steps else np.zeros(after.hidden_size)
    return np.asarray(before.readout_w) * (h1 - h0)


@dataclass(frozen=True)
class Outcome:
    original: Trace
    changed: Trace  # the same tokens, read with the interventions
    interventions: tuple[Intervention, ...]  # as applied (layers resolved, zero_top's units filled in)

    @property
    def start(self) -> int:
        """The first token any intervention acts on; every step before it is unchanged."""
        return min(iv.token for iv in self.interventions)

    @property
    def delta(self) -> np.ndarray:
        """(T,) changed minus original P(positive) after each token."""
        return self.changed.step_probs - self.original.step_probs

    @property
    def final_change(self) -> float:
        return self.changed.prob - self.original.prob

    @property
    def max_change_token(self) -> int:
        return int(np.argmax(np.abs(self.delta)))

    @property
    def max_change(self) -> float:
        """The largest |change| of P(positive) over all tokens."""
        return float(np.abs(self.delta).max())

    def sentence(self) -> str:
        """What the intervention did to the curve, computed from the numbers."""
        o, n, t = self.original.prob, self.changed.prob, self.max_change_token
        before = f"tokens before {self.start} are unchanged" if self.start else "it acts from the first token"
        if self.max_change == 0:
            return f"P(positive) is the same after every token ({before}): nothing the readout sees changed."
        side = lambda p: "positive" if p >= 0.5 else "negative"  # noqa: E731
        flip = (f"the verdict flips from {side(o)} to {side(n)}" if side(o) != side(n)
                else "the verdict stays on the same side of 0.5")
        return (f"P(positive) after the last token moves from {o:.3f} to {n:.3f} ({n - o:+.3f}); {flip}. The largest "
                f"change is {self.delta[t]:+.3f} at token {t} ({self.changed.tokens[t]!r}); {before}.")

    def as_dict(self) -> dict:
        return {"tokens": list(self.original.tokens), "original_step_probs": self.original.step_probs.tolist(),
                "step_probs": self.changed.step_probs.tolist(), "original_prob": self.original.prob,
                "prob": self.changed.prob, "final_change": self.final_change, "max_change": self.max_change,
                "max_change_token": self.max_change_token, "unchanged_before": self.start,
                "intervention": [iv.as_dict() for iv in self.interventions],
                "share_change": share_change(self.original, self.changed).tolist(), "sentence": self.sentence()}


def intervene_trace(model: SentimentRNN, tr: Trace, *interventions: Intervention) -> Outcome:
    """Apply `interventions` together to the traced sentence `tr` and re-run it from the first one."""
    if not interventions:
        raise ValueError("give at least one intervention")
    ivs = [_check(iv, tr) for iv in interventions]
    if any(iv.kind == "zero_top" for iv in ivs):
        ranking = tuple(int(u) for u in account(tr).ranking("verdict"))
        ivs = [dataclasses.replace(iv, units=ranking[:iv.k]) if iv.kind == "zero_top" else iv for iv in ivs]
    enc = Encoded(tr.ids, tr.tokens, tr.oov, tr.n_tokens_total)
    start = min(iv.token for iv in ivs)
    changed = resume(model, tr, enc, start, _plans(ivs, tr.n_steps, tr.hidden_size))
    return Outcome(tr, changed, tuple(ivs))


SUGGEST_K = (1, 2, 3, 5, 10, 20, 32)


def suggest(model: SentimentRNN, tr: Trace, ks: tuple[int, ...] = SUGGEST_K) -> Outcome:
    """The State space page's default: silence the fewest top units (by share of the verdict, the exact
    account's ranking) for the whole reading that flips the verdict; when none of `ks` does, the k that
    moves the final P(positive) most (the smaller of equals). Where the memory of the verdict is, shown."""
    if tr.n_steps == 0:
        raise ValueError("nothing was read: type a sentence")
    best = None
    for k in (k for k in ks if k <= tr.hidden_size):
        out = intervene_trace(model, tr, zero_top(0, k))
        if (out.changed.prob >= 0.5) != (tr.prob >= 0.5):
            return out
        if best is None or abs(out.final_change) > abs(best.final_change):
            best = out
    return best


def intervene(model: SentimentRNN, vocab: Vocab, text: str, *interventions: Intervention) -> Outcome:
    """Trace `text`, then apply `interventions` (see the module's docstring)."""
    return intervene_trace(model, trace(model, vocab, text), *interventions)


def from_options(token: int, unit: int | None = None, value: float | None = None, state: str = "h",
                 hold: bool = False, gate: str | None = None, gate_value: float | None = None,
                 top_k: int | None = None, layer: int = -1) -> list[Intervention]:
    """The interventions a command line asks for: a clamp (unit, value), a forced gate (gate,
    gate_value, for `unit` or every unit), the top k zeroed, or several of them together."""
    ivs = []
    if value is not None:
        if unit is None:
            raise ValueError("--value clamps a unit: give --unit too")
        ivs.append(clamp(token, unit, value, state, hold, layer))
    if (gate is None) != (gate_value is None):
        raise ValueError("--gate and --gate-value go together")
    if gate is not None:
        ivs.append(force_gate(token, gate, gate_value, unit, layer))
    if top_k is not None:
        ivs.append(zero_top(token, top_k))
    if unit is not None and value is None and gate is None:
        raise ValueError("--unit needs --value (a clamp) or --gate (a forced gate)")
    if not ivs:
        raise ValueError("say what to do: --unit U --value V (clamp), --gate NAME --gate-value X, or --top-k N")
    return ivs


def lines(o: Outcome) -> list[str]:
    """The command line's table: each token's P(positive) before and after, and the sentence."""
    out = ["; ".join(f"{iv.describe()} in layer {iv.layer}" for iv in o.interventions),
           f"{'token':>5} {'word':<16} {'original':>8} {'changed':>8} {'change':>8}"]
    for t, (tok, a, b) in enumerate(zip(o.original.tokens, o.original.step_probs, o.changed.step_probs)):
        out.append(f"{t:>5} {tok[:16]:<16} {a:>8.4f} {b:>8.4f} {b - a:>+8.4f}")
    return out + [o.sentence()]
