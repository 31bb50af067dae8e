"""Model files and the bundled models.

A model file is one `.safetensors` file: the weights as tensors, and in its text metadata the
config, the vocabulary and the card (JSON). Loading parses only that format: no pickle, no code
from the file ever runs. A corrupt, truncated, wrong-shaped or hostile file raises
`ModelFileError` with a message a person can act on.
"""
from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from .models import ModelConfig, SentimentRNN, count_parameters, layer_summary
from .text import Vocab

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
FORMAT = "rnn-playground/1"
MAX_FILE_BYTES = 64 * 1024 * 1024
BUNDLED = ("rnn-rt", "lstm-rt", "gru-rt", "rnn-imdb", "lstm-imdb", "gru-imdb")
# TEST accuracy each bundled model is meant to reach (issue 2; the tutorials report IMDB figures)
TARGETS = {"gru-imdb": 0.885, "lstm-imdb": 0.885, "rnn-imdb": 0.85, "gru-rt": 0.77, "lstm-rt": 0.77, "rnn-rt": 0.72}


class ModelFileError(ValueError):
    """A model file that cannot be used; the message says why."""


@dataclass
class TrainedModel:
    """A model ready to read text: network (eval mode), vocabulary and card."""

    name: str
    model: SentimentRNN
    vocab: Vocab
    card: dict = field(default_factory=dict)
    source: str = "bundled"  # bundled | session | file

    @property
    def config(self) -> ModelConfig:
        return self.model.config

    @property
    def arch(self) -> str:
        return self.config.arch

    @property
    def dataset(self) -> str | None:
        return self.card.get("dataset")

    @property
    def n_params(self) -> int:
        return count_parameters(self.model)

    @property
    def test_accuracy(self) -> float | None:
        acc = self.card.get("test_accuracy")
        return float(acc) if isinstance(acc, (int, float)) else None

    def encode(self, text: str):
        return self.vocab.encode(text, self.config.max_len)


HALF_TENSORS = ("embedding.weight",)  # stored as float16: half the file, no measurable accuracy change


@torch.no_grad()
def quantize_for_storage(model: SentimentRNN) -> None:
    """Round the tensors that files store in float16, in place, so that what is evaluated (and
    written on the card) is exactly what a saved file will load."""
    for name, p in model.named_parameters():
        if name in HALF_TENSORS:
            p.copy_(p.half().float())


def to_bytes(tm: TrainedModel) -> bytes:
    """Serialise to the model-file format (embedding in float16, everything else float32)."""
    tensors = {k: (v.detach().half() if k in HALF_TENSORS else v.detach()).contiguous().clone()
               for k, v in tm.model.state_dict().items()}
    meta = {
        "format": FORMAT,
        "name": tm.name,
        "config": json.dumps(tm.config.to_dict()),
        "vocab": json.dumps(tm.vocab.itos, ensure_ascii=False),
        "card": json.dumps(tm.card, ensure_ascii=False),
    }
    return st_save(tensors, metadata=meta)


def save(tm: TrainedModel, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_bytes(tm))
    return path


def _header(data: bytes) -> dict:
    if len(data) < 8:
        raise ModelFileError("This is not a model file: it is empty or far too short.")
    n = int.from_bytes(data[:8], "little")
    if n <= 0 or n > len(data) - 8 or n > 16 * 1024 * 1024:
        raise ModelFileError("This is not a model file (no safetensors header); it may be truncated, "
                             "or a pickle/other format, which is never loaded.")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError("This is not a model file: its header is not valid JSON.") from None
    if not isinstance(header, dict):
        raise ModelFileError("This is not a model file: its header is not a JSON object.")
    return header


def _meta_json(meta: dict, key: str):
    try:
        return json.loads(meta[key])
    except KeyError:
        raise ModelFileError(f"The model file has no {key!r} entry in its metadata.") from None
    except (TypeError, json.JSONDecodeError):
        raise ModelFileError(f"The model file's {key!r} entry is not valid JSON.") from None


def from_bytes(data: bytes, name: str | None = None, source: str = "file") -> TrainedModel:
    """Parse and check a model file. Raises ModelFileError, never anything else."""
    if not isinstance(data, (bytes, bytearray)):
        raise ModelFileError("Expected the bytes of a model file.")
    if len(data) > MAX_FILE_BYTES:
        raise ModelFileError(f"The file is {len(data) / 1e6:.0f} MB; model files are at most "
                             f"{MAX_FILE_BYTES // 2**20} MiB.")
    meta = _header(bytes(data)).get("__metadata__")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError("This safetensors file is not an RNN Playground model file "
                             "(its metadata has no 'format: rnn-playground/1').")
    try:
        config = ModelConfig.from_dict(_meta_json(meta, "config"))
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"The model file's config is invalid: {e}") from None
    itos = _meta_json(meta, "vocab")
    if not isinstance(itos, list) or not all(isinstance(w, str) for w in itos):
        raise ModelFileError("The model file's vocabulary is not a list of words.")
    try:
        vocab = Vocab(itos)
    except ValueError as e:
        raise ModelFileError(f"The model file's vocabulary is invalid: {e}") from None
    if len(vocab) != config.vocab_size:
        raise ModelFileError(f"The vocabulary has {len(vocab)} words but the config says {config.vocab_size}.")
    card = _meta_json(meta, "card")
    if not isinstance(card, dict):
        raise ModelFileError("The model file's card is not a JSON object.")
    try:
        tensors = st_load(bytes(data))
    except Exception as e:  # safetensors raises its own error types for broken files
        raise ModelFileError(f"The model file's weights cannot be read ({type(e).__name__}); "
                             "it may be truncated or corrupt.") from None
    model = SentimentRNN(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ModelFileError(f"The weights do not fit a {config.title} with this config "
                             f"(missing: {', '.join(missing) or 'none'}; unexpected: {', '.join(extra) or 'none'}).")
    for k, v in expected.items():
        t = tensors[k]
        if tuple(t.shape) != tuple(v.shape):
            raise ModelFileError(f"Weight {k} has shape {tuple(t.shape)}, expected {tuple(v.shape)}.")
        if not t.is_floating_point():
            raise ModelFileError(f"Weight {k} is not a floating-point tensor.")
        if not bool(torch.isfinite(t).all()):
            raise ModelFileError(f"Weight {k} contains NaN or infinite values.")
    model.load_state_dict({k: t.to(torch.float32) for k, t in tensors.items()})
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    model_name = name or str(meta.get("name") or "uploaded model")
    return TrainedModel(name=model_name, model=model, vocab=vocab, card=card, source=source)


def load_path(path: str | Path, source: str = "file") -> TrainedModel:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"No model file at {path}.")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ModelFileError(f"{path} is larger than {MAX_FILE_BYTES // 2**20} MiB; not a model file.")
    return from_bytes(path.read_bytes(), source=source)


def bundled_names() -> list[str]:
    """Bundled models present on disk, in the canonical order."""
    return [n for n in BUNDLED if (WEIGHTS_DIR / f"{n}.safetensors").is_file()]


@functools.lru_cache(maxsize=None)
def load_bundled(name: str) -> TrainedModel:
    """A bundled model, loaded once per process (read-only: never mutate it)."""
    if name not in BUNDLED:
        raise ModelFileError(f"Unknown model {name!r}; bundled models: {', '.join(BUNDLED)}.")
    tm = load_path(WEIGHTS_DIR / f"{name}.safetensors", source="bundled")
    tm.name = name
    return tm


def resolve(name_or_path: str) -> TrainedModel:
    """A bundled model by name, or a model file by path."""
    if name_or_path in BUNDLED:
        return load_bundled(name_or_path)
    p = Path(name_or_path)
    if p.suffix == ".safetensors" or p.exists():
        return load_path(p)
    raise ModelFileError(f"Unknown model {name_or_path!r}: not a bundled model "
                         f"({', '.join(BUNDLED)}) and not a model file.")


def make_card(tm_config: ModelConfig, **fields) -> dict:
    """A model card: config, Keras-style per-layer parameter counts, plus the given fields."""
    rows = layer_summary(tm_config)
    card = {"config": tm_config.to_dict(), "layers": rows, "total_params": sum(r["params"] for r in rows)}
    card.update({k: v for k, v in fields.items() if not (isinstance(v, float) and math.isnan(v))})
    return card
