"""Re-run a model's recurrence one step at a time and record everything it computes.

The fused torch layers cannot be hooked inside, so `trace` recomputes them in float64 numpy from
the same weights, with the step each cell describes in `cells.py` (PyTorch's gate order and
equations), and records every named quantity, each block's input part (W x + b_ih) and recurrent
part (U h + b_hh), the hidden state, and the readout's probability σ(w·h_t + b) after every token.
The final state and probability equal the fused forward's to 1e-5 (tests/test_trace.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from playground.core.cells import Cell, cell, sigmoid
from playground.core.models import SentimentRNN
from playground.core.text import Encoded, Vocab


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


@dataclass(frozen=True)
class LayerTrace:
    gates: dict  # quantity name -> (T, H) float64, in the cell's display order (cells.py)
    h: np.ndarray  # (T, H) hidden state after each token
    parts: dict  # block -> (input part (T, H) W x + b_ih, recurrent part (T, H) U h_{t-1} + b_hh)


def leading_padding(ids) -> int:
    """How many padding ids (0) come before the first other id."""
    n = 0
    for i in ids:
        if i != 0:
            break
        n += 1
    return n


@dataclass(frozen=True)
class Trace:
    arch: str
    tokens: tuple[str, ...]  # surface tokens actually read (after cutting to max_len)
    ids: tuple[int, ...]
    oov: tuple[bool, ...]
    n_tokens_total: int  # tokens in the input before cutting
    layers: tuple[LayerTrace, ...]
    step_probs: np.ndarray  # (T,) P(positive) read from the state after each token
    prob0: float  # P(positive) before reading anything (readout on the zero state)
    prob: float  # final P(positive) (= prob0 when there are no tokens)
    hidden_size: int
    readout_w: np.ndarray | None = None  # (H,) the readout's weights: logit_t = readout_b + readout_w . h_t
    readout_b: float = 0.0  # the readout's bias: the logit before reading anything

    @property
    def label(self) -> int:
        return int(self.prob >= 0.5)

    @property
    def n_steps(self) -> int:
        return len(self.tokens)

    @property
    def first_word(self) -> int:
        """The first token that is a word of the text: after the padding and a Keras start token (the app's
        own vocabularies split a typed "<start>" into plain words, so only a Keras encoding gives one)."""
        lead = self.lead
        return lead + (1 if lead < len(self.tokens) and self.tokens[lead] == "<start>" else 0)

    @property
    def n_words(self) -> int:
        return len(self.tokens) - self.first_word

    def where(self, t: int) -> str:
        """Token t as a reader counts it: "word k" among the text's words (after a Keras model's padding
        and start token), or what it is when it is not a word."""
        f = self.first_word
        if t >= f:
            return f"word {t + 1 - f}"
        return "the start token" if t == self.lead and t < f else f"padding zero {t + 1} of {self.lead:,}"

    @property
    def lead(self) -> int:
        """The padding read before the first word (a Keras tutorial model pre-pads every text to maxlen;
        the app's own vocabularies never give id 0 to a typed word): 0 when there is none, or nothing else."""
        n = leading_padding(self.ids)
        return n if n < len(self.ids) else 0

    @property
    def truncated(self) -> bool:
        return self.n_tokens_total > len(self.tokens)

    @property
    def cell(self) -> Cell:
        return cell(self.arch)

    @property
    def gate_names(self) -> tuple[str, ...]:
        return self.cell.names

    @property
    def last(self) -> LayerTrace:
        return self.layers[-1]


@torch.no_grad()
def _weights(model: SentimentRNN, layer: int) -> tuple[np.ndarray, ...]:
    rnn = model.rnn
    get = lambda n: getattr(rnn, f"{n}_l{layer}").detach().double().numpy()  # noqa: E731
    return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")


def run_layer(c: Cell, xw: np.ndarray, w_hh, b_hh, orig: LayerTrace | None = None, start: int = 0,
              before: Callable | None = None, after: Callable | None = None) -> LayerTrace:
    """The one recurrence loop (trace, interventions and what-if edits all run it). xw (T, G*H): the
    layer's input parts of every step -> every quantity (T, H), h (T, H) and each block's two parts.
    From the zero state; or, with `orig` and `start`, steps before `start` copied from `orig` and the rest
    run from orig's state after token start - 1. Hook points: `before(t, inp, rp)` may change step t's
    input and recurrent parts (dicts block -> (H,), copy before writing); `after(t, out)` returns the
    step's outputs, changed or not."""
    T, H = xw.shape[0], w_hh.shape[1]
    hw = np.empty_like(xw)  # (T, G*H) recurrent parts, filled step by step
    hs = np.empty((T, H))
    rec = {n: np.empty((T, H)) for n in c.names}
    blocks = [(b, slice(k * H, (k + 1) * H)) for k, b in enumerate(c.blocks)]
    if start > 0:
        hw[:start] = np.concatenate([orig.parts[b][1] for b in c.blocks], axis=1)[:start]
        hs[:start] = orig.h[:start]
        for n in c.names:
            rec[n][:start] = orig.gates[n][:start]
    state = {s: (orig.h if s == "h" else orig.gates[s])[start - 1].copy() if start > 0 else np.zeros(H)
             for s in c.state}
    for t in range(start, T):
        hw[t] = w_hh @ state["h"] + b_hh
        inp = {b: xw[t, sl] for b, sl in blocks}
        rp = {b: hw[t, sl] for b, sl in blocks}
        if before is not None:
            before(t, inp, rp)
        if c.recurrent is not None:  # a recurrent part that needs this step's gates (the reset-before GRU)
            for b, part in c.recurrent(w_hh, b_hh, state["h"], inp, rp).items():
                rp[b] = part
                hw[t, dict(blocks)[b]] = part
        out = c.step(inp, rp, state)
        if after is not None:
            out = after(t, out)
        for n in c.names:
            rec[n][t] = out[n]
        hs[t] = out["h"]
        state = {name: out[name] for name in c.state}
    xw, hw = _frozen(xw), _frozen(hw)
    return LayerTrace(gates={k: _frozen(v) for k, v in rec.items()}, h=_frozen(hs),
                      parts={b: (xw[:, sl], hw[:, sl]) for b, sl in blocks})


@torch.no_grad()
def trace_ids(model: SentimentRNN, enc: Encoded) -> Trace:
    """Trace an already encoded text."""
    cfg = model.config
    ids = np.asarray(enc.ids, dtype=np.int64)
    x = model.embedding.weight.detach()[torch.from_numpy(ids)].double().numpy()  # (T, E)
    w_out = model.readout.weight.detach().double().numpy()[0]  # (H,)
    b_out = float(model.readout.bias.detach().double()[0])
    layers = []
    for layer in range(cfg.num_layers):
        w_ih, w_hh, b_ih, b_hh = _weights(model, layer)
        lt = run_layer(cell(cfg.arch), x @ w_ih.T + b_ih, w_hh, b_hh)  # (T, G*H) input parts in one product
        layers.append(lt)
        x = lt.h
    step_probs = sigmoid(layers[-1].h @ w_out + b_out)  # (T,)
    prob0 = float(sigmoid(np.float64(b_out)))
    return Trace(
        arch=cfg.arch, tokens=enc.tokens, ids=enc.ids, oov=enc.oov, n_tokens_total=enc.n_tokens_total,
        layers=tuple(layers), step_probs=_frozen(step_probs), prob0=prob0,
        prob=float(step_probs[-1]) if len(step_probs) else prob0, hidden_size=cfg.hidden_size,
        readout_w=_frozen(w_out), readout_b=b_out,
    )


def trace(model: SentimentRNN, vocab: Vocab, text: str) -> Trace:
    """Tokenise `text` (keeping its last max_len tokens) and trace the model reading it."""
    return trace_ids(model, vocab.encode(text, model.config.max_len))


@torch.no_grad()
def fused_prob(model: SentimentRNN, ids) -> float:
    """P(positive) from the fused torch forward (the number `trace` must reproduce)."""
    ids = list(ids)
    if not ids:
        return float(torch.sigmoid(torch.tensor(model.empty_logit())))
    was = model.training
    model.eval()
    p = float(torch.sigmoid(model(torch.tensor([ids], dtype=torch.long))[0]))
    model.train(was)
    return p


def verdict_word(p: float) -> str:
    """The label a probability of "positive" means, in a word (0.5 counts as positive)."""
    return "positive" if p >= 0.5 else "negative"
