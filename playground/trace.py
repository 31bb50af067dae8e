"""Re-run a model's recurrence one step at a time and record everything it computes.

The fused torch layers cannot be hooked inside, so `trace` recomputes them in float64 numpy from
the same weights (PyTorch's gate order and equations):

    SimpleRNN  pre = W_ih x + b_ih + W_hh h + b_hh;            h' = tanh(pre)
    LSTM       i, f, g, o = σ, σ, tanh, σ (W_i* x + b_i* + W_h* h + b_h*)
               c' = f * c + i * g;                             h' = o * tanh(c')
    GRU        r, z = σ(W_i* x + b_i* + W_h* h + b_h*)
               n = tanh(W_in x + b_in + r * (W_hn h + b_hn));  h' = (1 - z) * n + z * h

and the readout's probability σ(w·h_t + b) after every token. The final state and probability
equal the fused forward's to 1e-5 (tests/test_trace.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .models import SentimentRNN
from .text import Encoded, Vocab

GATES = {"rnn": ("pre",), "lstm": ("i", "f", "g", "o", "c"), "gru": ("r", "z", "n")}
GATE_TITLES = {
    "pre": "pre-activation", "i": "input gate i", "f": "forget gate f", "g": "candidate g",
    "o": "output gate o", "c": "cell state c", "r": "reset gate r", "z": "update gate z",
    "n": "candidate n", "h": "hidden state h",
}
# [0, 1] values (sigmoid gates) vs [-1, 1] values (tanh outputs, states; c and pre unbounded)
UNIT_INTERVAL = frozenset({"i", "f", "o", "r", "z"})


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


@dataclass(frozen=True)
class LayerTrace:
    gates: dict  # name -> (T, H) float64, names as in GATES[arch]
    h: np.ndarray  # (T, H) hidden state after each token


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

    @property
    def label(self) -> int:
        return int(self.prob >= 0.5)

    @property
    def n_steps(self) -> int:
        return len(self.tokens)

    @property
    def truncated(self) -> bool:
        return self.n_tokens_total > len(self.tokens)

    @property
    def gate_names(self) -> tuple[str, ...]:
        return GATES[self.arch]

    @property
    def last(self) -> LayerTrace:
        return self.layers[-1]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


@torch.no_grad()
def _weights(model: SentimentRNN, layer: int) -> tuple[np.ndarray, ...]:
    rnn = model.rnn
    get = lambda n: getattr(rnn, f"{n}_l{layer}").detach().double().numpy()  # noqa: E731
    return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")


def _run_layer(arch: str, x: np.ndarray, w_ih, w_hh, b_ih, b_hh) -> LayerTrace:
    """x (T, E) -> every gate (T, H) and h (T, H), starting from zero state."""
    T, H = x.shape[0], w_hh.shape[1]
    xw = x @ w_ih.T + b_ih  # (T, G*H) input contributions of all steps in one product
    h = np.zeros(H)
    hs = np.empty((T, H))
    names = GATES[arch]
    rec = {n: np.empty((T, H)) for n in names}
    if arch == "rnn":
        for t in range(T):
            pre = xw[t] + w_hh @ h + b_hh
            h = np.tanh(pre)
            rec["pre"][t], hs[t] = pre, h
    elif arch == "lstm":
        c = np.zeros(H)
        for t in range(T):
            a = xw[t] + w_hh @ h + b_hh  # (4H,) order i, f, g, o
            i, f, o = _sigmoid(a[:H]), _sigmoid(a[H:2 * H]), _sigmoid(a[3 * H:])
            g = np.tanh(a[2 * H:3 * H])
            c = f * c + i * g
            h = o * np.tanh(c)
            rec["i"][t], rec["f"][t], rec["g"][t], rec["o"][t], rec["c"][t], hs[t] = i, f, g, o, c, h
    else:  # gru
        for t in range(T):
            hw = w_hh @ h + b_hh  # (3H,) order r, z, n; b_hn stays inside r * (...)
            r = _sigmoid(xw[t, :H] + hw[:H])
            z = _sigmoid(xw[t, H:2 * H] + hw[H:2 * H])
            n = np.tanh(xw[t, 2 * H:] + r * hw[2 * H:])
            h = (1.0 - z) * n + z * h
            rec["r"][t], rec["z"][t], rec["n"][t], hs[t] = r, z, n, h
    return LayerTrace(gates={k: _frozen(v) for k, v in rec.items()}, h=_frozen(hs))


@torch.no_grad()
def trace_ids(model: SentimentRNN, enc: Encoded) -> Trace:
    """Trace an already encoded text."""
    cfg = model.config
    ids = np.asarray(enc.ids, dtype=np.int64)
    x = model.embedding.weight.detach()[torch.from_numpy(ids)].double().numpy()  # (T, E)
    w_out = model.readout.weight.detach().double().numpy()[0]  # (H,)
    b_out = float(model.readout.bias.detach()[0])
    layers = []
    for layer in range(cfg.num_layers):
        lt = _run_layer(cfg.arch, x, *_weights(model, layer))
        layers.append(lt)
        x = lt.h
    step_probs = _sigmoid(layers[-1].h @ w_out + b_out)  # (T,)
    prob0 = float(_sigmoid(np.float64(b_out)))
    return Trace(
        arch=cfg.arch, tokens=enc.tokens, ids=enc.ids, oov=enc.oov, n_tokens_total=enc.n_tokens_total,
        layers=tuple(layers), step_probs=_frozen(step_probs), prob0=prob0,
        prob=float(step_probs[-1]) if len(step_probs) else prob0, hidden_size=cfg.hidden_size,
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
