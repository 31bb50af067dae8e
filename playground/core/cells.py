"""One description per cell kind (SimpleRNN, LSTM, GRU): everything the rest of the project
needs to know about a cell lives here, and nothing outside this module branches on a cell's name.

A `Cell` says:
- `blocks`: the order of the row blocks of PyTorch's stacked weights (LSTM i, f, g, o; GRU r, z, n;
  SimpleRNN one block, the pre-activation);
- `quantities`: every value the trace records per unit and token, with its title, one-line
  meaning, range kind ([0, 1] gate, [-1, 1] signed, unbounded) and colour, plus the hidden state h;
- `step`: the numpy update of one time step, given each block's input part (W x + b_ih) and
  recurrent part (U h + b_hh), returning every named intermediate and the new state;
- the equations: the Home page's LaTeX, and the unit drill-down's LaTeX with one unit's numbers;
- parameter counts per layer in PyTorch's terms and in Keras' terms (PyTorch keeps two bias
  vectors per block, b_ih and b_hh; Keras' SimpleRNN and LSTM keep one, its GRU two with
  reset_after=True, the default since TensorFlow 2);
- `torch_layer` and the Keras-style initial biases (LSTM forget gate 1).

Adding a fourth cell means writing one more `Cell` and calling `register` (tests do so with a
ReLU RNN). Shapes: x (T, E), every recorded quantity (T, H), a block's part (H,) per step.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
import torch
from torch import nn

GATE, SIGNED, UNBOUNDED = "gate", "signed", "unbounded"  # value ranges [0, 1], [-1, 1], any


DIGITS = 2  # values in step stories are printed with two decimals, and read in bands as printed


@dataclass(frozen=True)
class Reading:
    """What a value of a quantity did, in words: the step-through ("Read it with me") says "its forget
    gate f was 0.08, so it dropped almost all of what it held". The value as printed (DIGITS
    decimals) falls in band k = the number of `cuts` it reaches (value >= cut); `clauses[k]` is the
    words for that band, a str.format template that may name the unit's values at that token (any
    quantity of the cell and "h") and its previous state ("h_prev", "c_prev"). Bands are chosen so
    that each clause is true of every value printed in it (e.g. "kept most" only from 0.56, so above
    0.5 even before rounding; 0.45 to 0.55 is "about half")."""

    cuts: tuple[float, ...]  # increasing
    clauses: tuple[str, ...]  # len(cuts) + 1, lowest band first

    def __post_init__(self):
        if len(self.clauses) != len(self.cuts) + 1 or list(self.cuts) != sorted(self.cuts):
            raise ValueError("a Reading needs increasing cuts and one clause more than cuts")

    def band(self, value: float) -> int:
        v = round(float(value), DIGITS)
        return sum(v >= c for c in self.cuts)

    def clause(self, value: float, fields: Mapping[str, float]) -> str:
        return self.clauses[self.band(value)].format(**fields)


# Bands of a [0, 1] gate as printed: < 0.10, 0.10-0.44, 0.45-0.55 (about half), 0.56-0.89, >= 0.90.
GATE_CUTS = (0.10, 0.45, 0.56, 0.90)


@dataclass(frozen=True)
class Quantity:
    """One recorded value per unit and token (a gate, a candidate, a state)."""

    name: str  # short name used in traces and JSON: "f"
    title: str  # full name for colour bars and legends: "forget gate f"
    kind: str  # GATE, SIGNED or UNBOUNDED
    meaning: str  # one line a student can read
    color: str = "#7570b3"  # its line colour in per-unit charts
    reading: Reading | None = None  # what its value did, for the step-through (see Reading)

    def show(self, value: float) -> str:
        """The value as step stories print it: 0.08 for a gate, +0.83 / -1.20 for anything signed."""
        return f"{value:.{DIGITS}f}" if self.kind == GATE else f"{value:+.{DIGITS}f}"

    @property
    def bounds(self) -> tuple[float, float] | None:
        """The value range, or None when unbounded."""
        return {GATE: (0.0, 1.0), SIGNED: (-1.0, 1.0)}.get(self.kind)


HIDDEN = Quantity("h", "hidden state h", SIGNED, "what the cell passes on to the next word and to the readout",
                  "#111111")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # the logistic function without overflow


@dataclass(frozen=True)
class UnitStep:
    """Everything that went into unit `unit` of layer `layer` at token `t`, read from a trace."""

    arch: str
    layer: int
    unit: int
    t: int
    token: str
    values: dict  # quantity name -> value at t (including "h")
    previous: dict  # state name -> value at t - 1 (0 before the first token)
    parts: dict  # block -> (input part W x + b_ih, recurrent part U h + b_hh)

    @property
    def h(self) -> float:
        return self.values["h"]

    @property
    def h_prev(self) -> float:
        return self.previous["h"]


StepFn = Callable[[Mapping[str, np.ndarray], Mapping[str, np.ndarray], Mapping[str, np.ndarray]], dict]


@dataclass(frozen=True)
class Keep:
    """How a gated cell carries memory: at every step a gate keeps a fraction of the carried state
    and the step writes something new into it, carrier_t = keep_t * carrier_(t-1) + written_t. From
    the zero state, carrier_T = sum_t written_t * prod_(s>t) keep_s exactly (playground/dynamics/memory.py)."""

    gate: str  # the recorded gate that keeps the carried state ("f", "z")
    carrier: str  # the recorded state it keeps ("c", "h")
    written: Callable[[Mapping[str, np.ndarray]], np.ndarray]  # recorded values (T, H) -> what each step wrote
    written_title: str  # "i_t g_t": what a word writes, in the equations' symbols
    latex: str  # carrier_T as a sum over words of what each wrote times what survived of it


StateJacobian = Callable[[Mapping[str, np.ndarray], np.ndarray], np.ndarray]


@dataclass(frozen=True)
class KerasLayout:
    """How Keras stores this cell (playground/core/keras_import.py): its layer class, its weight blocks in
    Keras' order (named as this cell names them), and its bias: 1 row (Keras' one vector, the input part's;
    b_hh = 0) or 2 rows (b_ih, b_hh). `reset_after`: which of Keras' two GRUs this is (None: not a GRU)."""

    layer: str  # "LSTM"
    blocks: tuple[str, ...]  # Keras' order: LSTM i, f, c(=g), o; GRU z, r, h(=n)
    bias_rows: int = 1
    reset_after: bool | None = None

    def order(self, blocks: tuple[str, ...]) -> tuple[int, ...]:
        """For each of the cell's blocks (PyTorch's order), its index among Keras' blocks."""
        return tuple(self.blocks.index(b) for b in blocks)


@dataclass(frozen=True)
class Cell:
    key: str  # "lstm": model configs, file cards, URLs
    title: str  # "LSTM"
    torch_layer: Callable[..., nn.Module]  # nn.LSTM (input_size, hidden_size, num_layers=..., ...)
    blocks: tuple[str, ...]  # row blocks of weight_ih / weight_hh / biases, in PyTorch's order
    quantities: tuple[Quantity, ...]  # recorded per step, in display order (h not included)
    state: tuple[str, ...]  # what is carried from one step to the next ("h", and "c" for an LSTM)
    step: StepFn  # (input parts, recurrent parts, previous state) -> every quantity, "h" and state
    unit_latex: Callable[[UnitStep], list[str]]  # one unit's update with its numbers
    equations: str  # the Home page's LaTeX
    summary: str  # one or two sentences under the equations
    caption: str  # what its gates do, above the gate heatmaps
    keras_bias_vectors: int  # bias vectors per block in Keras (PyTorch always has 2)
    init_bias: Mapping[str, float] = field(default_factory=dict)  # block -> Keras' initial b_ih
    color: str = "#666666"  # this cell's colour wherever cells are compared
    # training time per sequential step of a batch and layer ("step") and per padded token and
    # recurrent weight ("token_weight"), in seconds: fitted to measured runs (playground/training/timing.py)
    train_costs: Mapping[str, float] = field(default_factory=lambda: {"step": 1.31e-4, "token_weight": 1.28e-10})
    # the long-range lab's seconds per optimizer step, a + b * k (playground.lab.run_seconds); default: the slowest
    lab_step_costs: tuple[float, float] = (1.4e-3, 2.0e-4)
    story: tuple[str, ...] = ()  # quantities (each with a Reading) the step-through explains a unit's move with
    keep: Keep | None = None  # a gated cell's memory (the memory lens); None: no gate keeps the state
    # a cell without `keep`: d h_t / d h_(t-1) (H, H) from one step's recorded values (each (H,), and "h")
    # and the layer's recurrent weights W_hh (blocks x H, H); None: the memory lens has no Jacobian for it
    state_jacobian: StateJacobian | None = None
    # a cell whose recurrent part of some block depends on the step's own gates (Keras' GRU with
    # reset_after=False: U_n (r * h)): given the layer's W_hh, b_hh, the previous h and the step's input and
    # recurrent parts (after any forcing), it returns those blocks' recurrent parts; None: U h + b for all
    recurrent: Callable[[np.ndarray, np.ndarray, np.ndarray, Mapping, Mapping], Mapping] | None = None
    trainable: bool = True  # False: only for models imported from elsewhere (not offered by Train, races, lab)
    keras: KerasLayout | None = None  # how Keras stores it; None: no Keras layer maps onto it

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the recorded quantities, in display order."""
        return tuple(q.name for q in self.quantities)

    @property
    def has_gates(self) -> bool:
        return any(q.kind == GATE for q in self.quantities)

    def quantity(self, name: str) -> Quantity:
        if name == "h":
            return HIDDEN
        for q in self.quantities:
            if q.name == name:
                return q
        raise KeyError(f"{self.title} has no quantity {name!r} (it has {', '.join(self.names)}, h)")

    def params_per_layer(self, n_in: int, hidden: int, convention: str = "torch") -> int:
        """Parameters of one recurrent layer: PyTorch (two bias vectors per block) or Keras."""
        biases = {"torch": 2, "keras": self.keras_bias_vectors}[convention]
        return self.n_blocks * (n_in * hidden + hidden * hidden + biases * hidden)


# --- numbers in equations ---------------------------------------------------------------------
def _n(x: float) -> str:
    """A number for an equation: 0.735, -0.029."""
    return f"{x:.3f}"


def _p(x: float) -> str:
    """A factor in a product: negative numbers in parentheses."""
    return f"({x:.3f})" if x < 0 else f"{x:.3f}"


# The unit drill-down's equations put one step per line (the result on a line of its own), so that
# a phone (390 px) shows each whole line even with negative numbers in parentheses.
def _gate_line(s: UnitStep, g: str, fn: str) -> str:
    """g_t = fn(input part + recurrent part), each part under its matrix and its own bias (torch's b_ih, b_hh)."""
    inp, rec = s.parts[g]
    return (rf"\begin{{aligned}}{g}_t &= {fn}(\underbrace{{{_n(inp)}}}_{{W_{{x{g}}}x_t+b_{{x{g}}}}} + "
            rf"\underbrace{{{_p(rec)}}}_{{W_{{h{g}}}h_{{t-1}}+b_{{h{g}}}}})\\ &= {_n(s.values[g])}\end{{aligned}}")


# --- SimpleRNN --------------------------------------------------------------------------------
def _rnn_step(inp, rec, prev) -> dict:
    pre = inp["pre"] + rec["pre"]
    return {"pre": pre, "h": np.tanh(pre)}


def _rnn_latex(s: UnitStep) -> list[str]:
    i, r = s.parts["pre"]
    a = s.values["pre"]
    return [
        rf"\begin{{aligned}}a_t &= \underbrace{{{_n(i)}}}_{{W_{{x}}x_t+b_x}} + "
        rf"\underbrace{{{_p(r)}}}_{{W_{{h}}h_{{t-1}}+b_h}}\\ &= {_n(a)}\end{{aligned}}",
        rf"\begin{{aligned}}h_t &= \tanh(a_t) = \tanh({_n(a)})\\ &= {_n(s.h)}\end{{aligned}}",
    ]


SIMPLE_RNN = Cell(
    key="rnn", title="SimpleRNN", torch_layer=nn.RNN, blocks=("pre",), keras=KerasLayout("SimpleRNN", ("pre",)),
    quantities=(Quantity("pre", "pre-activation a", UNBOUNDED,
                         "W x + U h + b before tanh; large |a| saturates tanh, where gradients vanish",
                         reading=Reading((-1.99, -0.5, 0.51, 2.0), (  # printed a <= -2.00, ..., >= +2.00
                             "so h = tanh(a) = {h:+.2f} is saturated near -1 (tanh's slope 1 - h² is below 0.08 "
                             "there, so little gradient flows back through this step)",
                             "so h = tanh(a) = {h:+.2f} sits on tanh's bend, between its straight middle and "
                             "saturation",
                             "so h = tanh(a) = {h:+.2f} sits in tanh's nearly straight middle (slope above 0.78)",
                             "so h = tanh(a) = {h:+.2f} sits on tanh's bend, between its straight middle and "
                             "saturation",
                             "so h = tanh(a) = {h:+.2f} is saturated near +1 (tanh's slope 1 - h² is below 0.08 "
                             "there, so little gradient flows back through this step)"))),),
    state=("h",), step=_rnn_step, unit_latex=_rnn_latex, story=("pre",),
    equations=r"h_t = \tanh(W x_t + U h_{t-1} + b)",
    summary="One tanh of the input and the previous state. The gradient shrinks a little at every "
            "step, so early words fade (vanishing gradients).",
    caption="A SimpleRNN has no gates: the pre-activation a = W x + U h + b goes through tanh to "
            "give h. Large |a| saturates tanh, which is where gradients vanish.",
    keras_bias_vectors=1, color="#7b3294", train_costs={"step": 0.0, "token_weight": 1.28e-10},
    lab_step_costs=(1.4e-3, 6.5e-5),
    state_jacobian=lambda v, w_hh: (1.0 - v["h"] ** 2)[:, None] * w_hh,  # diag(tanh'(a)) U
)


# --- LSTM -------------------------------------------------------------------------------------
def _lstm_step(inp, rec, prev) -> dict:
    i = sigmoid(inp["i"] + rec["i"])
    f = sigmoid(inp["f"] + rec["f"])
    g = np.tanh(inp["g"] + rec["g"])
    o = sigmoid(inp["o"] + rec["o"])
    c = f * prev["c"] + i * g
    return {"i": i, "f": f, "g": g, "o": o, "c": c, "h": o * np.tanh(c)}


def _lstm_latex(s: UnitStep) -> list[str]:
    v = s.values
    lines = [_gate_line(s, g, fn) for g, fn in (("i", r"\sigma"), ("f", r"\sigma"), ("g", r"\tanh"),
                                                ("o", r"\sigma"))]
    lines.append(rf"\begin{{aligned}}c_t &= f_t c_{{t-1}} + i_t g_t\\ &= {_n(v['f'])}\cdot{_p(s.previous['c'])} + "
                 rf"{_n(v['i'])}\cdot{_p(v['g'])}\\ &= {_n(v['c'])}\end{{aligned}}")
    lines.append(rf"\begin{{aligned}}h_t &= o_t \tanh(c_t)\\ &= {_n(v['o'])}\cdot\tanh({_n(v['c'])})\\ "
                 rf"&= {_n(s.h)}\end{{aligned}}")
    return lines


LSTM = Cell(
    key="lstm", title="LSTM", torch_layer=nn.LSTM, blocks=("i", "f", "g", "o"),
    keras=KerasLayout("LSTM", ("i", "f", "g", "o")),
    quantities=(
        Quantity("i", "input gate i", GATE, "how much of the candidate g enters the cell", "#1b9e77",
                 Reading(GATE_CUTS, tuple(f"so {x} the candidate g ({{g:+.2f}}) got in, and c became {{c:+.2f}}"
                                          for x in ("almost none of", "less than half of", "about half of",
                                                    "more than half of", "almost all of")))),
        Quantity("f", "forget gate f", GATE, "how much of the old cell state is kept (1 keeps all)", "#d95f02",
                 Reading(GATE_CUTS, tuple(f"so it {x} of what its cell held (c was {{c_prev:+.2f}})"
                                          for x in ("dropped almost all", "dropped most", "kept about half",
                                                    "kept most", "kept almost all")))),
        Quantity("g", "candidate g", SIGNED, "the new content offered to the cell", "#7570b3"),
        Quantity("o", "output gate o", GATE, "how much of the cell is shown as h", "#e7298a",
                 Reading(GATE_CUTS, tuple(f"so h = o tanh(c) showed {x} tanh(c) ({{h:+.2f}})"
                                          for x in ("almost none of", "less than half of", "about half of",
                                                    "more than half of", "almost all of")))),
        Quantity("c", "cell state c", UNBOUNDED, "the LSTM's memory: f c + i g, carried from word to word",
                 "#66a61e"),
    ),
    state=("h", "c"), step=_lstm_step, unit_latex=_lstm_latex, story=("f", "i", "o"),
    equations=r"""\small\begin{aligned}
i_t, f_t, o_t &= \sigma(W x_t + U h_{t-1} + b)\\
g_t &= \tanh(W_g x_t + U_g h_{t-1} + b_g)\\
c_t &= f_t \odot c_{t-1} + i_t \odot g_t\\
h_t &= o_t \odot \tanh(c_t)
\end{aligned}""",
    summary="i lets new content g in, f keeps old memory, o decides what to show; the cell c "
            "carries information (and gradients) across many words.",
    caption="i decides how much new information enters the cell, f how much of the old cell is kept, "
            "g is the candidate content, o how much of the cell is shown as h; c is the cell state "
            "(the LSTM's memory).",
    keras_bias_vectors=1, init_bias={"f": 1.0}, color="#008837",
    train_costs={"step": 4.51e-5, "token_weight": 8.28e-11}, lab_step_costs=(1.7e-3, 3.7e-5),
    keep=Keep(gate="f", carrier="c", written=lambda v: v["i"] * v["g"], written_title="i_t g_t",
              latex=r"c_T = \sum_t \underbrace{i_t \odot g_t}_{\text{word } t \text{ wrote}} \odot "
                    r"\underbrace{\textstyle\prod_{s>t} f_s}_{\text{survived}}"),
)


# --- GRU --------------------------------------------------------------------------------------
def _gru_step(inp, rec, prev) -> dict:
    r = sigmoid(inp["r"] + rec["r"])
    z = sigmoid(inp["z"] + rec["z"])
    n = np.tanh(inp["n"] + r * rec["n"])  # b_hn stays inside r * (U_n h + b_hn)
    return {"r": r, "z": z, "n": n, "h": (1.0 - z) * n + z * prev["h"]}


def _gru_h_line(s: UnitStep) -> str:
    """h_t = (1 - z) n + z h_(t-1) with its numbers: both GRUs end with it."""
    v = s.values
    return (rf"\begin{{aligned}}h_t &= (1-z_t)\,n_t + z_t\,h_{{t-1}}\\ &= {_n(1 - v['z'])}\cdot{_p(v['n'])} + "
            rf"{_n(v['z'])}\cdot{_p(s.h_prev)}\\ &= {_n(s.h)}\end{{aligned}}")


def _gru_latex(s: UnitStep) -> list[str]:
    v = s.values
    n_in, n_rec = s.parts["n"]
    return [
        _gate_line(s, "r", r"\sigma"),
        _gate_line(s, "z", r"\sigma"),
        rf"\begin{{aligned}}n_t &= \tanh(\underbrace{{{_n(n_in)}}}_{{W_{{xn}}x_t+b_{{xn}}}} + r_t\cdot"
        rf"\underbrace{{{_p(n_rec)}}}_{{W_{{hn}}h_{{t-1}}+b_{{hn}}}})\\ &= \tanh({_n(n_in)} + {_n(v['r'])}\cdot"
        rf"{_p(n_rec)})\\ &= {_n(v['n'])}\end{{aligned}}",
        _gru_h_line(s),
    ]


GRU = Cell(
    key="gru", title="GRU", torch_layer=nn.GRU, blocks=("r", "z", "n"),
    keras=KerasLayout("GRU", ("z", "r", "n"), bias_rows=2, reset_after=True),
    quantities=(
        Quantity("r", "reset gate r", GATE, "how much of the previous state feeds the candidate n", "#1b9e77",
                 Reading(GATE_CUTS, tuple(f"so the candidate n ({{n:+.2f}}) used {x} the previous state's term "
                                          "U h + b_hn" for x in ("almost none of", "less than half of", "about half of",
                                                              "more than half of", "almost all of")))),
        # PyTorch's GRU: h_t = (1 - z) n + z h_(t-1), so z near 1 KEEPS the old state (Keras' docs say the same)
        Quantity("z", "update gate z", GATE, "how much of the previous state is kept (1 keeps all)", "#d95f02",
                 Reading(GATE_CUTS, (
                     "so h = (1 - z) n + z h became almost entirely the candidate n ({n:+.2f})",
                     "so h = (1 - z) n + z h took more from the candidate n ({n:+.2f}) than from its old value "
                     "({h_prev:+.2f})",
                     "so h = (1 - z) n + z h took about half from the candidate n ({n:+.2f}) and half from its old "
                     "value ({h_prev:+.2f})",
                     "so h = (1 - z) n + z h kept more of its old value ({h_prev:+.2f}) than it took from the "
                     "candidate n ({n:+.2f})",
                     "so h = (1 - z) n + z h kept almost all of its old value ({h_prev:+.2f})"))),
        Quantity("n", "candidate n", SIGNED, "the new content that replaces the state where z is low", "#7570b3"),
    ),
    state=("h",), step=_gru_step, unit_latex=_gru_latex, story=("z", "r"),
    equations=r"""\small\begin{aligned}
r_t, z_t &= \sigma(W x_t + U h_{t-1} + b)\\
n_t &= \tanh(W_n x_t + b_n\\ &\qquad + r_t \odot (U_n h_{t-1} + b_{hn}))\\
h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
\end{aligned}""",
    summary="r decides how much of the past feeds the candidate n; z mixes the old state with the "
            "candidate. Fewer parameters than an LSTM, similar memory.",
    caption="r decides how much of the previous state feeds the candidate n; z decides how much of "
            "the previous state is kept (z near 1) versus replaced by n.",
    keras_bias_vectors=2, color="#e66101", train_costs={"step": 1.31e-4, "token_weight": 9.58e-11},
    lab_step_costs=(1.1e-3, 2.0e-4),
    keep=Keep(gate="z", carrier="h", written=lambda v: (1.0 - v["z"]) * v["n"], written_title="(1 - z_t) n_t",
              latex=r"h_T = \sum_t \underbrace{(1 - z_t) \odot n_t}_{\text{word } t \text{ wrote}} \odot "
                    r"\underbrace{\textstyle\prod_{s>t} z_s}_{\text{survived}}"),
)

# --- Keras' GRU with reset_after=False (standalone Keras 2.2-2.3's default): the reset gate acts BEFORE the
# recurrent product, n = tanh(W_n x + b_n + U_n (r * h)), which torch.nn.GRU cannot express. Only for models
# imported from Keras (playground/core/keras_import.py); its own torch layer below; never trained here.
class GRUResetBefore(nn.Module):
    """torch.nn.GRU's interface and parameter names (blocks r, z, n), with the reset applied before U_n."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, batch_first: bool = True,
                 dropout: float = 0.0, **_):
        super().__init__()
        if not batch_first:
            raise ValueError("GRUResetBefore reads batch-first input only")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.batch_first, self.dropout = True, float(dropout)
        H = hidden_size
        for k in range(num_layers):
            n_in = input_size if k == 0 else H
            self.register_parameter(f"weight_ih_l{k}", nn.Parameter(torch.empty(3 * H, n_in)))
            self.register_parameter(f"weight_hh_l{k}", nn.Parameter(torch.empty(3 * H, H)))
            self.register_parameter(f"bias_ih_l{k}", nn.Parameter(torch.zeros(3 * H)))
            self.register_parameter(f"bias_hh_l{k}", nn.Parameter(torch.zeros(3 * H)))
        for name, p in self.named_parameters():
            if name.startswith("weight"):
                nn.init.uniform_(p, -1 / H ** 0.5, 1 / H ** 0.5)

    def forward(self, x, h0: torch.Tensor | None = None):  # x (B, T, E), or a PackedSequence of them
        packed = isinstance(x, nn.utils.rnn.PackedSequence)
        lengths = None
        if packed:  # as torch's layers: each sequence stops at its own length (original batch order throughout)
            x, lengths = nn.utils.rnn.pad_packed_sequence(x, batch_first=True)
        B, T, _ = x.shape
        H = self.hidden_size
        alive = None if lengths is None else torch.arange(T)[None, :] < lengths[:, None]  # (B, T)
        finals = []
        for k in range(self.num_layers):
            w_ih, w_hh = getattr(self, f"weight_ih_l{k}"), getattr(self, f"weight_hh_l{k}")
            b_ih, b_hh = getattr(self, f"bias_ih_l{k}"), getattr(self, f"bias_hh_l{k}")
            gi = x @ w_ih.T + b_ih  # (B, T, 3H) input parts, blocks r, z, n
            h = x.new_zeros(B, H) if h0 is None else h0[k]
            outs = []
            for t in range(T):
                rz = h @ w_hh[:2 * H].T + b_hh[:2 * H]  # (B, 2H)
                r = torch.sigmoid(gi[:, t, :H] + rz[:, :H])
                z = torch.sigmoid(gi[:, t, H:2 * H] + rz[:, H:])
                n = torch.tanh(gi[:, t, 2 * H:] + (r * h) @ w_hh[2 * H:].T + b_hh[2 * H:])
                h_new = (1.0 - z) * n + z * h
                h = h_new if alive is None else torch.where(alive[:, t, None], h_new, h)
                outs.append(h_new)
            x = torch.stack(outs, dim=1)  # (B, T, H)
            finals.append(h)
        if packed:
            x = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        return x, torch.stack(finals, dim=0)


def _gru_rb_recurrent(w_hh, b_hh, h, inp, rp) -> dict:
    """The recurrent part of n: U_n (r * h) + b_hn, with r from this step's (possibly forced) parts."""
    H = len(h)
    r = sigmoid(inp["r"] + rp["r"])
    return {"n": w_hh[2 * H:] @ (r * h) + b_hh[2 * H:]}


def _gru_rb_step(inp, rec, prev) -> dict:
    r = sigmoid(inp["r"] + rec["r"])
    z = sigmoid(inp["z"] + rec["z"])
    n = np.tanh(inp["n"] + rec["n"])  # rec["n"] = U_n (r * h) + b_hn: the reset already inside
    return {"r": r, "z": z, "n": n, "h": (1.0 - z) * n + z * prev["h"]}


def _gru_rb_latex(s: UnitStep) -> list[str]:
    v = s.values
    n_in, n_rec = s.parts["n"]
    return [
        _gate_line(s, "r", r"\sigma"),
        _gate_line(s, "z", r"\sigma"),
        rf"\begin{{aligned}}n_t &= \tanh(\underbrace{{{_n(n_in)}}}_{{W_{{xn}}x_t+b_{{xn}}}} + "
        rf"\underbrace{{{_p(n_rec)}}}_{{U_{{n}}(r_t\odot h_{{t-1}})}})\\ &= {_n(v['n'])}\end{{aligned}}",
        _gru_h_line(s),
    ]


GRU_RESET_BEFORE = dataclasses.replace(
    GRU, key="gru_rb", title="GRU (reset before)", torch_layer=GRUResetBefore, step=_gru_rb_step,
    unit_latex=_gru_rb_latex, recurrent=_gru_rb_recurrent, trainable=False, keras_bias_vectors=1,
    keras=KerasLayout("GRU", ("z", "r", "n"), bias_rows=1, reset_after=False),
    equations=r"""\small\begin{aligned}
r_t, z_t &= \sigma(W x_t + U h_{t-1} + b)\\
n_t &= \tanh(W_n x_t + b_n + U_n (r_t \odot h_{t-1}))\\
h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
\end{aligned}""",
    summary="Keras' GRU with reset_after=False: the reset gate acts on h before the recurrent product, "
            "n = tanh(W_n x + b_n + U_n (r ⊙ h)).",
    color="#b35806")

CELLS: dict[str, Cell] = {}


def register(cell: Cell) -> Cell:
    """Make a cell known to models, traces, plots and pages (in display order of registration)."""
    if set(cell.names) & {"h"} or not set(cell.state) <= set(cell.names) | {"h"}:
        raise ValueError(f"{cell.title}: 'h' is implicit, and every state must be a recorded quantity")
    if any(n not in cell.names or cell.quantity(n).reading is None for n in cell.story):
        raise ValueError(f"{cell.title}: every quantity in `story` must be recorded and have a Reading")
    CELLS[cell.key] = cell
    return cell


for _cell in (SIMPLE_RNN, LSTM, GRU, GRU_RESET_BEFORE):
    register(_cell)


def cell(key: str) -> Cell:
    try:
        return CELLS[key]
    except KeyError:
        raise ValueError(f"unknown cell {key!r}: choose one of {', '.join(CELLS)}") from None


def archs() -> tuple[str, ...]:
    """The cells this project trains (Train, races, the lab): imported-only cells are left out."""
    return tuple(k for k, c in CELLS.items() if c.trainable)


def titles() -> dict[str, str]:
    return {k: c.title for k, c in CELLS.items()}
