"""Memory budgets, said before anything is allocated: one training run, one evaluation batch.

A hosted demo must not let one visitor's settings take the server's memory. Everything a run
holds is priced here from its settings alone, with bytes per token measured on this machine's
torch (see TOKEN_FLOATS), and the Train page refuses settings whose estimate exceeds RUN_BYTES:

- the network: weights, their gradients, the optimizer's state (Adam two tensors per weight,
  RMSprop and SGD with momentum one), the kept best weights, and the moving average when on;
- one training batch: batch size x maximum length x bytes per token of a forward and backward
  pass (autograd keeps every step's gates for the backward pass);
- one evaluation batch: at most EVAL_BYTES, because evaluation picks its batch size from the
  budget (`eval_rows`), not a fixed 256 rows (256 x 400 tokens of a 2-layer LSTM(256) held 540 MB);
- the data: the parsed dataset file and the encoded token ids.

Measured peaks stay under these estimates (tests/test_budget.py measures a forward and backward
pass and an evaluation in a fresh process and compares).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from playground.core.models import ModelConfig

MiB = 2**20
FLOAT = 4  # bytes of a float32
EVAL_BYTES = 48 * MiB  # activations of one evaluation batch, whatever the model
EVAL_MAX_ROWS = 256
RUN_BYTES = 320 * MiB  # one training run on the Train page, everything above included
# A whole run holds more than one fresh training step's peak: the allocator keeps the per-step tensors
# of batches of changing shapes. Whole runs on IMDB (the Train page's worker, one thread, glibc with
# 2 arenas and a fixed 4 MB mmap threshold) peaked up to 1.9x the one-step figure; counted twice.
STEADY = 2
OPTIMIZER_SLOTS = {"adam": 2, "rmsprop": 1, "sgd": 1}  # state tensors per weight (optim.py)
# The parsed CSV (both datasets, ~33,500 texts) and the vocabulary's word counts while it is built.
# Reading 20,000 IMDB TRAIN reviews at 400 tokens (4.6 M tokens) raised a worker's resident memory
# by 81 MB; this prices it at 108 MB.
DATA_FIXED = 48 * MiB
DATA_PER_TOKEN = 12  # bytes per token read for training: its int64 id, plus its share of tokenising
DATA_PER_ROW = 240  # bytes per row: the numpy array object and list entries


def _floats_per_token(cfg: ModelConfig, train: bool) -> int:
    """Activation floats per token (batch x time) of one pass, an upper bound of what was measured
    with one torch thread (VmHWM of a fresh process; E embedding, H hidden, L layers, k gate
    blocks: SimpleRNN 1, GRU 3, LSTM 4). Forward only: the input projection of every step and the
    layer's outputs, 2E + 2kH + 2HL; measured 129-2,060 floats, the estimate 1.1-3.9x that. A
    training pass keeps every step's gates for the backward pass and the embedding's gradients,
    6E + 4kH + 4H for one layer and 2kH + 2H for each further one (their peaks do not add up:
    the backward pass frees a layer's saved steps as it goes); measured 244-6,377 floats, the
    estimate 1.1-2.0x that."""
    e, h, layers, k = cfg.embed_dim, cfg.hidden_size, cfg.num_layers, cfg.cell.n_blocks
    if train:
        return 6 * e + 4 * k * h + 4 * h + (layers - 1) * (2 * k * h + 2 * h) + 256
    return 2 * e + 2 * k * h + 2 * h * layers + 64


def token_bytes(cfg: ModelConfig, train: bool = False) -> int:
    return FLOAT * _floats_per_token(cfg, train)


def eval_rows(cfg: ModelConfig, longest: int, budget: int = EVAL_BYTES, cap: int = EVAL_MAX_ROWS) -> int:
    """Rows of one evaluation batch whose longest row has `longest` tokens: as many as fit in
    `budget` bytes of activations, at least 1, at most `cap`."""
    return max(1, min(cap, budget // max(1, token_bytes(cfg) * max(1, longest))))


def n_params(cfg: ModelConfig) -> int:
    from playground.core.models import layer_summary

    return sum(r["params"] for r in layer_summary(cfg))


@dataclass(frozen=True)
class Memory:
    """Estimated peak bytes of one training run, by part; `total` is what the budget checks."""

    network: int  # weights, gradients, optimizer state, kept copies
    batch: int  # one training batch's activations
    evaluation: int  # one evaluation batch's activations
    data: int  # the parsed file and the encoded rows
    budget: int = RUN_BYTES
    factor: float = 1.0  # a race's later cells hold more (see RACE_FACTOR)

    @property
    def total(self) -> int:
        return int(self.factor * (self.network + max(self.batch, self.evaluation) + self.data))

    @property
    def fits(self) -> bool:
        return self.total <= self.budget

    def to_dict(self) -> dict:
        return {**asdict(self), "total": self.total, "fits": self.fits}

    def parts(self) -> str:
        """'the network 175 MB, one batch 82 MB, the data 150 MB'."""
        return (f"the network and its optimizer {mb(self.network)}, one training batch {mb(self.batch)}, "
                f"the data {mb(self.data)}")


def mb(n: float) -> str:
    return f"{n / MiB:,.0f} MB"


def run_memory(cfg: ModelConfig, optimizer: str, ema: bool, batch_size: int, rows: int, tokens: int,
               budget: int = RUN_BYTES) -> Memory:
    """A run of `cfg` on `rows` training rows holding `tokens` tokens in all (after cutting to the
    maximum length), at `batch_size` rows per batch of at most cfg.max_len tokens."""
    copies = 2 + OPTIMIZER_SLOTS[optimizer] + 1 + (1 if ema else 0)  # weights, grads, state, best, average
    network = copies * FLOAT * n_params(cfg)
    batch = STEADY * batch_size * cfg.max_len * token_bytes(cfg, train=True)
    evaluation = EVAL_BYTES
    data = DATA_FIXED + DATA_PER_TOKEN * tokens + DATA_PER_ROW * rows
    return Memory(network=network, batch=batch, evaluation=evaluation, data=data, budget=budget)


def advice(m: Memory, cfg: ModelConfig, batch_size: int) -> str:
    """What to change so that a run that does not fit would fit: each big part, the biggest first."""
    tips = {
        m.network: (f"a smaller vocabulary or embedding (the embedding table holds {cfg.vocab_size:,} x "
                    f"{cfg.embed_dim} weights, and the optimizer keeps copies of each)"),
        m.batch: (f"a smaller batch or maximum length (a batch of {batch_size} x {cfg.max_len} tokens holds "
                  f"about {mb(m.batch)} while it trains)"),
        m.data: "fewer reviews or sentences to train on",
    }
    big = [tip for size, tip in sorted(tips.items(), key=lambda kv: -kv[0]) if size >= m.budget / 4]
    return "try " + ", or ".join(big + ["fewer hidden units or one layer"])
