"""One config dataclass and one nn.Module for SimpleRNN, LSTM and GRU sentiment models.

Embedding -> fused torch recurrent layer(s) -> readout (linear + sigmoid) on the last state.
Training and prediction use the fused layers; `trace.py` recomputes them step by step.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

from playground.core import cells

ARCHS = cells.archs()  # ("rnn", "lstm", "gru"): the registered cells, in display order
ARCH_TITLES = cells.titles()
# How a new network's weights start (the long-range lab's initialisation factor; training always uses Keras'):
INITS = {
    "keras": "Keras defaults: orthogonal recurrent weights, LSTM forget-gate bias 1",
    "textbook": "textbook: Gaussian recurrent weights (variance 1/H), every bias 0 (LSTM forget-gate bias 0)",
}
# (low, high) inclusive bounds, checked for every config (widgets, command line, model files)
LIMITS = {
    "vocab_size": (3, 100_000),
    "embed_dim": (2, 512),
    "hidden_size": (1, 512),
    "num_layers": (1, 2),
    "dropout": (0.0, 0.9),
    "max_len": (1, 2_000),
}


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "gru"
    vocab_size: int = 20_000
    embed_dim: int = 64
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    max_len: int = 400

    def __post_init__(self) -> None:
        if self.arch not in cells.CELLS:
            raise ValueError(f"arch must be one of {', '.join(cells.CELLS)}, not {self.arch!r}")
        for name, (lo, hi) in LIMITS.items():
            value = getattr(self, name)
            kind = float if name == "dropout" else int
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number, not {value!r}")
            if kind is int and value != int(value):
                raise ValueError(f"{name} must be a whole number, not {value!r}")
            if not (lo <= value <= hi) or (isinstance(value, float) and math.isnan(value)):
                raise ValueError(f"{name} must be between {lo} and {hi}, not {value!r}")
            object.__setattr__(self, name, kind(value))

    @property
    def cell(self) -> cells.Cell:
        return cells.cell(self.arch)

    @property
    def title(self) -> str:
        return self.cell.title

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        if not isinstance(d, dict):
            raise ValueError("model config must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {', '.join(sorted(unknown))}")
        return cls(**d)


class SentimentRNN(nn.Module):
    """ids (B, T) -> logit (B,) of the positive class, read from the state after the last token."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embed_dim, padding_idx=0)
        self.rnn = c.cell.torch_layer(
            c.embed_dim, c.hidden_size, num_layers=c.num_layers, batch_first=True,
            dropout=c.dropout if c.num_layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(c.dropout)
        self.readout = nn.Linear(c.hidden_size, 1)
        self.reset_parameters_keras()

    @torch.no_grad()
    def reset_parameters_keras(self) -> None:
        """Keras' defaults: Glorot-uniform input weights, orthogonal recurrent weights, zero
        biases but where the cell says otherwise (LSTM forget gate 1). They learn markedly faster
        than torch's defaults."""
        H = self.config.hidden_size
        cell = self.config.cell
        nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
        self.embedding.weight[0].zero_()
        for name, p in self.rnn.named_parameters():
            if name.startswith("weight_ih"):
                for k in range(cell.n_blocks):
                    nn.init.xavier_uniform_(p[k * H:(k + 1) * H])
            elif name.startswith("weight_hh"):
                for k in range(cell.n_blocks):
                    nn.init.orthogonal_(p[k * H:(k + 1) * H])
            elif name.startswith("bias"):
                p.zero_()
                if name.startswith("bias_ih"):
                    for block, value in cell.init_bias.items():
                        k = cell.blocks.index(block)
                        p[k * H:(k + 1) * H] = value
        nn.init.xavier_uniform_(self.readout.weight)
        self.readout.bias.zero_()

    @torch.no_grad()
    def reset_parameters_textbook(self) -> None:
        """The textbook's start, for the long-range lab: Keras' defaults, but each block's recurrent
        weights drawn from N(0, 1/H) (Xavier's variance for an H x H matrix, so the spectral radius is
        about 1 but the matrix is not orthogonal) and every bias 0 (the LSTM's forget gate starts at
        sigmoid(0) = 0.5 instead of sigmoid(1) = 0.73). Called on a network Keras' start just built, so for the
        same seed the embedding, input and readout weights are Keras' own: only U and the biases differ."""
        H = self.config.hidden_size
        for name, p in self.rnn.named_parameters():
            if name.startswith("weight_hh"):
                nn.init.normal_(p, 0.0, 1.0 / math.sqrt(H))
            elif name.startswith("bias"):
                p.zero_()

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        x = self.drop(self.embedding(ids))  # (B, T, E)
        out, _ = self.rnn(x)  # (B, T, H); right padding never reaches position length-1
        if lengths is None:
            last = out[:, -1]
        else:
            last = out[torch.arange(out.shape[0]), lengths.clamp(min=1) - 1]  # (B, H)
        return self.readout(self.drop(last)).squeeze(-1)  # (B,)

    @torch.no_grad()
    def empty_logit(self) -> float:
        """The readout on the zero initial state: the model's view before reading any token."""
        return float(self.readout.bias[0])


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


SUMMARY_CONVENTIONS = {
    "torch": "PyTorch's count (what this app trains): two bias vectors per gate, b_ih and b_hh.",
    "keras": "Keras' count: its SimpleRNN and LSTM keep one bias vector per gate, its GRU two "
             "(reset_after=True, the default since TensorFlow 2), so a Keras LSTM or SimpleRNN of the "
             "same size has fewer parameters.",
}


def layer_summary(config: ModelConfig, convention: str = "torch") -> list[dict]:
    """Keras-style summary rows: layer, type, output shape, parameters, counted in PyTorch's terms
    (the default) or Keras' (see SUMMARY_CONVENTIONS). Shapes use None for the batch and T for
    the sentence length."""
    if convention not in SUMMARY_CONVENTIONS:
        raise ValueError(f"convention must be one of {', '.join(SUMMARY_CONVENTIONS)}, not {convention!r}")
    c = config
    rows = [{"layer": "embedding", "type": "Embedding", "output": f"(None, T, {c.embed_dim})",
             "params": c.vocab_size * c.embed_dim}]
    n_in = c.embed_dim
    for layer in range(c.num_layers):
        last = layer == c.num_layers - 1
        params = c.cell.params_per_layer(n_in, c.hidden_size, convention)
        rows.append({"layer": f"{c.arch}_{layer + 1}" if c.num_layers > 1 else c.arch,
                     "type": c.title,
                     "output": f"(None, {c.hidden_size})" if last else f"(None, T, {c.hidden_size})",
                     "params": params})
        n_in = c.hidden_size
    if c.dropout > 0:
        rows.append({"layer": "dropout", "type": "Dropout", "output": f"(None, {c.hidden_size})", "params": 0})
    rows.append({"layer": "readout", "type": "Dense (sigmoid)", "output": "(None, 1)",
                 "params": c.hidden_size + 1})
    return rows


def build(config: ModelConfig, seed: int | None = None, init: str = "keras") -> SentimentRNN:
    """A new network; `init` one of INITS (the textbook start draws its own weights after Keras')."""
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, not {init!r}")
    if seed is not None:
        torch.manual_seed(seed)
    model = SentimentRNN(config)
    if init == "textbook":
        model.reset_parameters_textbook()
    return model


@torch.no_grad()
def hash_model(d, model, vocab):
    """Feed every weight (name, type, shape, bytes) and the vocabulary to the hash `d`; returns d."""
    for k, v in model.state_dict().items():
        t = v.detach().contiguous().cpu()
        d.update(f"{k}|{t.dtype}|{tuple(t.shape)}".encode())
        d.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    d.update("\x00".join(vocab.itos).encode("utf-8", "surrogatepass"))
    return d
