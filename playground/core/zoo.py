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
from safetensors.torch import save as st_save

from playground.core.cards import MAX_CARD_CHARS, check_card
from playground.core.data import DATASET_TITLES
from playground.core.models import ModelConfig, SentimentRNN, count_parameters, layer_summary
from playground.core.text import KerasText, Vocab

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
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
    notes: list = field(default_factory=list)  # what loading dropped from its file's card

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
    def heldout(self) -> bool:
        """Whether the dataset's TEST texts are held out from this model's training. False for a model trained
        elsewhere (a Keras file: keras.datasets.imdb's training set holds this app's IMDB reviews), whose
        statistics over them still describe how it reads, but whose accuracy on them would mean nothing."""
        return self.card.get("texts_heldout") is not False

    @property
    def texts_caveat(self) -> str | None:
        """One sentence for a model whose statistics are over texts it may have trained on, else None."""
        if self.heldout or self.dataset not in DATASET_TITLES:
            return None
        if self.dataset == "imdb":
            return (f"“{self.name}” was trained elsewhere: its statistics here are over the IMDB reviews this app "
                    "keeps apart from its own models' training (its TEST split), but keras.datasets.imdb trains on "
                    "those very reviews, so for this model they are not new: they describe how it reads, not how "
                    "well it does on unseen text.")
        return (f"“{self.name}” was trained elsewhere, on data this app cannot see: its statistics here are over "
                f"this app's {DATASET_TITLES[self.dataset]} (TEST split) and describe how it reads them, not how "
                "well it does on unseen text.")

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
    """Serialise to the model-file format (embedding in float16, everything else float32; a Keras model's
    embedding stays float32, so that the file still gives Keras' own predictions exactly)."""
    half = () if "keras_index_from" in tm.card else HALF_TENSORS
    tensors = {k: (v.detach().half() if k in half else v.detach()).contiguous().clone()
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


MAX_HEADER_BYTES = 4 * 1024 * 1024  # config, a 100,000-word vocabulary (~1.4 MB as JSON) and the card
# At most as many parameters as a file of float32 weights at MAX_FILE_BYTES holds (16.8 M, 64 MiB
# loaded): the Train page's largest model (vocabulary 30,000 x 256, LSTM 256 x 2) has 8.8 M.
MAX_PARAMS = MAX_FILE_BYTES // 4
MAX_WORD_CHARS = 100  # the tokenizer's keys are far shorter
DTYPES = {"F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2), "F32": (torch.float32, 4)}


def _header(data) -> tuple[dict, int]:
    """The safetensors header (JSON) and where the tensor bytes start."""
    if len(data) < 8:
        raise ModelFileError("This is not a model file: it is empty or far too short.")
    n = int.from_bytes(data[:8], "little")
    if n <= 0 or n > len(data) - 8 or n > MAX_HEADER_BYTES:
        raise ModelFileError("This is not a model file (no safetensors header of at most "
                             f"{MAX_HEADER_BYTES // 2**20} MiB); it may be truncated, or a pickle/other format, "
                             "which is never loaded.")
    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ModelFileError("This is not a model file: its header is not valid JSON (or is nested too deeply).") \
            from None
    if not isinstance(header, dict):
        raise ModelFileError("This is not a model file: its header is not a JSON object.")
    return header, 8 + n


def _meta_json(meta: dict, key: str, max_chars: int | None = None):
    value = meta.get(key)
    if value is None:
        raise ModelFileError(f"The model file has no {key!r} entry in its metadata.")
    if not isinstance(value, str):
        raise ModelFileError(f"The model file's {key!r} entry is not valid JSON text.")
    if max_chars is not None and len(value) > max_chars:
        raise ModelFileError(f"The model file's {key!r} entry is {len(value):,} characters long; at most "
                             f"{max_chars:,} are allowed.")
    try:
        return json.loads(value)
    except (json.JSONDecodeError, RecursionError):
        raise ModelFileError(f"The model file's {key!r} entry is not valid JSON (or is nested too deeply).") from None


def expected_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Each weight's name and shape for a config, computed without allocating it (meta device)."""
    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in SentimentRNN(config).state_dict().items()}


def _tensor_table(header: dict, config: ModelConfig, n_data: int) -> dict[str, tuple]:
    """name -> (torch dtype, shape, start, end) for every weight, checked against the config
    (names, shapes, dtypes, offsets inside the data, not overlapping) before any is read."""
    expected = expected_shapes(config)
    entries = {k: v for k, v in header.items() if k != "__metadata__"}
    missing, extra = sorted(set(expected) - set(entries)), sorted(set(entries) - set(expected))
    if missing or extra:
        extra_s = ", ".join(repr(e[:40]) for e in extra[:5]) + (" …" if len(extra) > 5 else "")
        raise ModelFileError(f"The weights do not fit a {config.title} with this config "
                             f"(missing: {', '.join(missing) or 'none'}; unexpected: {extra_s or 'none'}).")
    table = {}
    for k, shape in expected.items():
        e = entries[k]
        if not isinstance(e, dict) or e.get("dtype") not in DTYPES:
            raise ModelFileError(f"Weight {k} is not stored as float16, bfloat16 or float32.")
        dtype, size = DTYPES[e["dtype"]]
        got, offs = e.get("shape"), e.get("data_offsets")
        if not isinstance(got, list) or any(isinstance(d, bool) or not isinstance(d, int) for d in got) \
                or tuple(got) != shape:
            raise ModelFileError(f"Weight {k} has shape {str(got)[:60]}, expected {shape}.")
        if (not isinstance(offs, list) or len(offs) != 2
                or any(isinstance(o, bool) or not isinstance(o, int) for o in offs)
                or not 0 <= offs[0] <= offs[1] <= n_data or offs[1] - offs[0] != math.prod(shape) * size):
            raise ModelFileError(f"Weight {k}'s data offsets do not match its shape or lie outside the file; "
                                 "it may be truncated or corrupt.")
        table[k] = (dtype, shape, offs[0], offs[1])
    spans = sorted((s, e) for _, _, s, e in table.values() if e > s)
    if any(b[0] < a[1] for a, b in zip(spans, spans[1:])):
        raise ModelFileError("The model file's weights overlap each other; it is corrupt.")
    return table


def _read_tensor(data, base: int, dtype, shape, start: int, end: int) -> torch.Tensor:
    """One weight as an owned float32 tensor: a view of the file's bytes (no copy), then one
    conversion (safetensors and this machine are little-endian)."""
    import warnings

    if not shape or math.prod(shape) == 0:
        return torch.zeros(shape, dtype=torch.float32)
    buf, offset = data, base + start
    if offset % torch.empty((), dtype=dtype).element_size():  # unaligned: copy just this tensor
        buf, offset = bytearray(memoryview(data)[base + start:base + end]), 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the buffer is read-only; it is only read
        view = torch.frombuffer(buf, dtype=dtype, count=math.prod(shape), offset=offset).reshape(shape)
    return view.to(torch.float32, copy=True)


def _model_name(meta: dict, name: str | None) -> str:
    raw = name if name is not None else meta.get("name")
    if not isinstance(raw, str) or not raw.strip():
        return "uploaded model"
    clean = " ".join("".join(ch for ch in raw if ch.isprintable() or ch.isspace()).split())
    if len(clean) > 100:
        raise ModelFileError(f"The model's name is {len(clean):,} characters long; names are at most 100.")
    return clean or "uploaded model"


def from_bytes(data, name: str | None = None, source: str = "file") -> TrainedModel:
    """Parse and check a model file. Raises ModelFileError, never anything else.

    Everything is checked before a weight is allocated: header size, config, parameter budget
    (MAX_PARAMS), each weight's name, dtype, shape and byte range, vocabulary and card
    (playground.cards: a wrong type in a field the app reads refuses the file; unknown oversized
    fields are dropped, listed in the model's `notes`). Then each weight is read once from the
    file's bytes straight into the model (built on the meta device: no initialisation)."""
    try:
        return _from_bytes(data, name, source)
    except ModelFileError:
        raise
    except Exception as e:  # noqa: BLE001 - the promise: a hostile file never raises anything else
        raise ModelFileError(f"The model file cannot be read ({type(e).__name__}); it may be corrupt.") from None


def _from_bytes(data, name: str | None, source: str) -> TrainedModel:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ModelFileError("Expected the bytes of a model file.")
    if len(data) > MAX_FILE_BYTES:
        raise ModelFileError(f"The file is {len(data) / 1e6:.0f} MB; model files are at most "
                             f"{MAX_FILE_BYTES // 2**20} MiB.")
    header, base = _header(data)
    meta = header.get("__metadata__")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError("This safetensors file is not an RNN Playground model file "
                             "(its metadata has no 'format: rnn-playground/1').")
    try:
        config = ModelConfig.from_dict(_meta_json(meta, "config", 4096))
    except (TypeError, ValueError) as e:
        if isinstance(e, ModelFileError):
            raise
        raise ModelFileError(f"The model file's config is invalid: {e}") from None
    n_params = sum(math.prod(s) for s in expected_shapes(config).values())
    if n_params > MAX_PARAMS:
        raise ModelFileError(f"The config asks for {n_params:,} parameters; model files here have at most "
                             f"{MAX_PARAMS:,}.")
    table = _tensor_table(header, config, len(data) - base)
    itos = _meta_json(meta, "vocab")
    if not isinstance(itos, list) or not all(isinstance(w, str) and len(w) <= MAX_WORD_CHARS for w in itos):
        raise ModelFileError(f"The model file's vocabulary is not a list of words (of at most {MAX_WORD_CHARS} "
                             "characters).")
    if len(itos) != config.vocab_size:
        raise ModelFileError(f"The vocabulary has {len(itos)} words but the config says {config.vocab_size}.")
    try:
        card, notes = check_card(_meta_json(meta, "card", MAX_CARD_CHARS))
    except ValueError as e:
        if isinstance(e, ModelFileError):
            raise
        raise ModelFileError(str(e)) from None
    try:  # a Keras model exported from here reads text the tutorials' way (text.KerasText, its card fields)
        vocab = KerasText.from_card(itos, card) if "keras_index_from" in card else Vocab(itos)
    except (ValueError, TypeError, KeyError) as e:
        raise ModelFileError(f"The model file's vocabulary is invalid: {e}") from None
    model_name = _model_name(meta, name)
    tensors = {}
    for k, (dtype, shape, start, end) in table.items():
        t = tensors[k] = _read_tensor(data, base, dtype, shape, start, end)
        if not all(bool(torch.isfinite(c).all()) for c in t.reshape(-1).split(1 << 20)):  # chunks: no big temporaries
            raise ModelFileError(f"Weight {k} contains NaN or infinite values.")
    with torch.device("meta"):
        model = SentimentRNN(config)
    model.load_state_dict(tensors, assign=True)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return TrainedModel(name=model_name, model=model, vocab=vocab, card=card, source=source, notes=notes)


def nbytes(tm: TrainedModel) -> int:
    """Bytes a loaded model holds: its parameters, plus an estimate of its vocabulary (list and
    lookup dict: ~140 bytes a word beside its characters, measured with tracemalloc)."""
    params = sum(p.numel() * p.element_size() for p in tm.model.parameters())
    return params + _vocab_nbytes(tm.vocab.itos)


def _vocab_nbytes(itos) -> int:
    return sum(140 + len(w) for w in itos)


def config_nbytes(config: ModelConfig) -> int:
    """Estimated bytes a model of this config will hold once loaded or trained (float32 weights
    and a vocabulary of short words): for the session budget before a model exists."""
    return sum(math.prod(s) for s in expected_shapes(config).values()) * 4 + config.vocab_size * 150


def session_drops(held, new, max_models: int, max_bytes: int) -> list[str]:
    """Which of the `held` models ((name, bytes), oldest first) adding the `new` ones ((name,
    bytes), in order) drops: a held name that comes again is replaced, not dropped; then the
    oldest go until at most `max_models` are left and their bytes fit `max_bytes`. New models
    are never dropped here (a model alone over the budget is refused before it is added)."""
    new = dict(new)
    keep = [(n, b) for n, b in held if n not in new]
    total = sum(b for _, b in keep) + sum(new.values())
    dropped = []
    while keep and (len(keep) + len(new) > max_models or total > max_bytes):
        name, b = keep.pop(0)
        dropped.append(name)
        total -= b
    return dropped


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


# Other formats' openers by file suffix (playground/core/keras_import.py adds .keras and .h5 when imported):
# they import this module, never the other way round.
OPENERS: dict = {}


def resolve(name_or_path: str) -> TrainedModel:
    """A bundled model by name, or a model file by path (this project's, or a format in OPENERS)."""
    if name_or_path in BUNDLED:
        return load_bundled(name_or_path)
    p = Path(name_or_path)
    if p.suffix.lower() in OPENERS:
        return OPENERS[p.suffix.lower()](p)
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
