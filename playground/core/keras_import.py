"""A reader's own Keras model, opened exactly (issue 29): the tutorials' Embedding -> SimpleRNN | LSTM | GRU
(one or two) -> Dense(1, sigmoid), from a Keras 3 `.keras` file or a legacy `.h5` file, as this project's
model, reading text the way keras.datasets.imdb and the tutorials do.

Files. A `.keras` file is a zip of config.json, metadata.json and model.weights.h5, whose weights sit at
layers/<snake_case class>[_N]/[cell/]vars/0..2 (the N-th layer of a class in the model, from 0, unnumbered
for the first). A legacy `.h5` file holds the config in the `model_config` attribute and the weights in
`model_weights/<layer name>`, listed by its `layer_names` attribute, each layer's datasets by its
`weight_names` attribute (their paths differ by writer, so they are read from the attributes, never
guessed). Nothing is deserialised as code: the config is JSON, only the layer classes in ALLOWED are
accepted, with the settings the mapping below is exact for; anything else gets one sentence.

Weights (Keras kernel (in, k*U), recurrent_kernel (U, k*U), bias):
- SimpleRNN and LSTM: torch's weight_ih = kernel.T, weight_hh = recurrent_kernel.T, bias_ih = bias,
  bias_hh = 0 (Keras' LSTM gate order i, f, c, o is PyTorch's i, f, g, o).
- GRU, reset_after=True (Keras 3's and tf-keras 2's default): kernel blocks z, r, h become PyTorch's r, z,
  n; bias (2, 3U) is bias_ih (row 0) and bias_hh (row 1). reset_after=False (standalone Keras 2.2-2.3's
  default) applies the reset before the recurrent product, which torch.nn.GRU cannot express: it gets its
  own cell description (cells.GRU_RESET_BEFORE, arch "gru_rb", with its own torch layer), bias (3U,) in the
  input part.
- Dense(1, sigmoid): the readout.

Text (KerasText): lower-cased, Keras' punctuation filter, split on spaces; the start token, then each
word's rank in the reader's word index plus `index_from` (ranks at or beyond num_words become the OOV
id), the last `maxlen` ids kept and, as in the tutorials, pre-padded with zeros that the model reads.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import torch

from playground.core.cells import CELLS, cell
from playground.core.data import DATASET_TITLES
from playground.core.models import LIMITS, ModelConfig, SentimentRNN
from playground.core.text import KerasText
from playground.core.zoo import MAX_FILE_BYTES, ModelFileError, TrainedModel

MAX_UNPACKED = 256 * 2**20  # a .keras zip may unpack to at most this much
MAX_RATIO = 200  # and compress at most this well (a zip bomb compresses far better)
MAX_CONFIG_BYTES = 4 * 2**20
RNN = ("SimpleRNN", "LSTM", "GRU")  # Keras' recurrent layer classes; each maps onto a cell's KerasLayout
ALLOWED = ("InputLayer", "Embedding", *RNN, "Dense", "Dropout", "SpatialDropout1D")
ZIP_MAGIC, HDF5_MAGIC = b"PK\x03\x04", b"\x89HDF\r\n\x1a\n"
# what this project's models can hold (models.LIMITS): a larger Keras model is refused in one sentence
MAX_VOCAB, MAX_UNITS, MAX_EMBED, MAX_MAXLEN = (LIMITS[k][1] for k in ("vocab_size", "hidden_size", "embed_dim",
                                                                       "max_len"))


class KerasFileError(ModelFileError):
    """A Keras file this project cannot open exactly; the message says why, in one sentence."""


def load_word_index(data: bytes) -> dict:
    """A word index file ({word: rank}, keras.datasets.imdb's imdb_word_index.json), checked."""
    if len(data) > 64 * 2**20:
        raise KerasFileError("The word index is larger than 64 MiB; imdb_word_index.json is 1.6 MiB.")
    try:
        d = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise KerasFileError("The word index is not a JSON file of {word: rank}.") from None
    if not isinstance(d, dict) or not all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
                                          and v > 0 for k, v in d.items()):
        raise KerasFileError("The word index must map words to whole numbers from 1 (their frequency rank).")
    return d


# --- the file -----------------------------------------------------------------------------------------
def _h5():
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a runtime dependency
        raise KerasFileError("Reading Keras files needs h5py (pip install h5py).") from None
    return h5py


def _unzip(data: bytes) -> tuple[dict, bytes]:
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        infos = {i.filename: i for i in z.infolist()}
    except (zipfile.BadZipFile, ValueError, OSError):
        raise KerasFileError("This .keras file is not a readable zip archive.") from None
    total = sum(i.file_size for i in infos.values())
    packed = max(1, sum(i.compress_size for i in infos.values()))
    if total > MAX_UNPACKED or total / packed > MAX_RATIO:
        raise KerasFileError(f"This .keras file would unpack to {total:,} bytes ({total / packed:.0f} times its "
                             "packed size): refused as a possible zip bomb.")
    for name in ("config.json", "model.weights.h5"):
        if name not in infos:
            raise KerasFileError(f"This .keras file has no {name}; it is not a Keras 3 model file.")
    if infos["config.json"].file_size > MAX_CONFIG_BYTES:
        raise KerasFileError("This .keras file's config.json is larger than 4 MiB.")
    try:
        config = json.loads(z.read("config.json").decode("utf-8"))
        weights = z.read("model.weights.h5")
    except (UnicodeDecodeError, ValueError, zipfile.BadZipFile, OSError, RuntimeError, EOFError):
        raise KerasFileError("This .keras file's config.json or weights cannot be read.") from None
    return config, weights


def _layers(config) -> list[dict]:
    """The model's layers in order, each {"class": ..., "config": {...}}; a Sequential or a one-chain
    Functional model; anything else (nested models, branches) is refused."""
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise KerasFileError("The model's config is not a Keras model config.")
    cls = config.get("class_name")
    if cls not in ("Sequential", "Functional", "Model"):
        raise KerasFileError(f"The model is a {str(cls)[:40]!r}; only Sequential models and one-chain "
                             "Functional models can be opened.")
    raw = config["config"].get("layers")
    if not isinstance(raw, list) or not raw or len(raw) > 20:
        raise KerasFileError("The model's config lists no layers (or more than 20).")
    out = []
    for layer in raw:
        if not isinstance(layer, dict) or not isinstance(layer.get("config"), dict):
            raise KerasFileError("A layer of the model's config is malformed.")
        name = layer.get("class_name")
        if name not in ALLOWED:
            raise KerasFileError(f"The model has a {str(name)[:40]!r} layer; only {', '.join(ALLOWED)} can be "
                                 "opened (a Lambda, a custom layer or any other code is never run).")
        out.append({"class": name, "config": layer["config"]})
    return out


def _check(layers: list[dict]) -> tuple[dict, list[dict], dict]:
    """(the Embedding, the recurrent layers, the Dense) with every setting the mapping needs, or one sentence."""
    core = [lay for lay in layers if lay["class"] not in ("InputLayer", "Dropout", "SpatialDropout1D")]
    kinds = [lay["class"] for lay in core]
    if len(core) < 3 or kinds[0] != "Embedding" or kinds[-1] != "Dense" or not all(k in RNN for k in kinds[1:-1]) \
            or len(core) > 4:
        raise KerasFileError(f"The layers are {' -> '.join(kinds)}; this opens Embedding -> one or two "
                             "SimpleRNN, LSTM or GRU layers -> Dense(1, sigmoid).")
    emb, rnns, dense = core[0], core[1:-1], core[-1]
    if len({lay["class"] for lay in rnns}) != 1:
        raise KerasFileError("The two recurrent layers are of different kinds; both must be the same cell.")
    units = [lay["config"].get("units") for lay in rnns]
    if not all(isinstance(u, int) and 0 < u <= MAX_UNITS for u in units) or len(set(units)) != 1:
        raise KerasFileError(f"The recurrent layers have {units} units; they must have the same number, at most "
                             f"{MAX_UNITS}.")
    for i, lay in enumerate(rnns):
        c, cls = lay["config"], lay["class"]
        if c.get("go_backwards") or c.get("stateful") or c.get("return_state"):
            raise KerasFileError(f"The {cls} layer reads backwards, keeps state or returns it; not supported.")
        if c.get("activation", "tanh") != "tanh":
            raise KerasFileError(f"The {cls} layer's activation is {str(c.get('activation'))[:20]!r}; only tanh is "
                                 "supported.")
        if cls != "SimpleRNN" and c.get("recurrent_activation", "sigmoid") != "sigmoid":
            raise KerasFileError(f"The {cls} layer's recurrent activation is "
                                 f"{str(c.get('recurrent_activation'))[:20]!r} (Keras 2.2's default was "
                                 "hard_sigmoid); only sigmoid is supported.")
        if c.get("use_bias", True) is not True:
            raise KerasFileError(f"The {cls} layer has no bias; not supported.")
        last = i == len(rnns) - 1
        if bool(c.get("return_sequences", False)) != (not last):
            raise KerasFileError("Every recurrent layer but the last must return sequences, and the last must not.")
    d = dense["config"]
    if d.get("units") != 1 or d.get("activation") != "sigmoid" or d.get("use_bias", True) is not True:
        raise KerasFileError("The last layer must be Dense(1, activation='sigmoid') with a bias.")
    e = emb["config"]
    if not (isinstance(e.get("input_dim"), int) and 1 < e["input_dim"] <= MAX_VOCAB
            and isinstance(e.get("output_dim"), int) and 0 < e["output_dim"] <= MAX_EMBED):
        raise KerasFileError(f"The Embedding must have 2 to {MAX_VOCAB:,} rows and 1 to {MAX_EMBED} columns.")
    return emb, rnns, dense


def _cell_for(layer: dict):
    """The registered cell whose KerasLayout is this Keras layer (its class, and for a GRU its reset_after)."""
    cls = layer["class"]
    reset_after = bool(layer["config"].get("reset_after", True))
    for c in CELLS.values():
        if c.keras is not None and c.keras.layer == cls and c.keras.reset_after in (None, reset_after):
            return c
    raise KerasFileError(f"No cell here reads Keras' {cls[:40]} with reset_after={reset_after}.")


def _keras3_weights(h5file, layers: list[dict]) -> list[list[np.ndarray]]:
    """Per layer of `layers` (config order) its variables, from a Keras 3 weights file."""
    seen: dict = {}
    out = []
    for lay in layers:
        base = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru", "Embedding": "embedding",
                "Dense": "dense"}.get(lay["class"])
        if base is None:
            continue
        k = seen.get(base, 0)
        seen[base] = k + 1
        group = f"layers/{base}" if k == 0 else f"layers/{base}_{k}"
        vars_ = f"{group}/cell/vars" if lay["class"] in RNN else f"{group}/vars"
        if vars_ not in h5file:
            raise KerasFileError(f"The weights file has no {vars_}; it does not match the model's config.")
        g = h5file[vars_]
        out.append([_array(g[str(i)]) for i in range(len(g)) if str(i) in g])
    return out


def _legacy_weights(h5file, layers: list[dict]) -> list[list[np.ndarray]]:
    """The same from a legacy .h5 file: model_weights/<layer name> and its weight_names attribute."""
    if "model_weights" not in h5file:
        raise KerasFileError("This .h5 file has no model_weights group; it is not a saved Keras model.")
    mw = h5file["model_weights"]
    out = []
    for lay in layers:
        if lay["class"] not in ("Embedding", "Dense", *RNN):
            continue
        name = lay["config"].get("name")
        if not isinstance(name, str) or name not in mw:
            raise KerasFileError(f"The .h5 file has no weights for layer {str(name)[:40]!r}.")
        g = mw[name]
        names = [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n)
                 for n in g.attrs.get("weight_names", [])]
        if not names or len(names) > 3:
            raise KerasFileError(f"Layer {name[:40]!r} lists {len(names)} weights in the .h5 file.")
        try:
            out.append([_array(g[n]) for n in names])
        except KeyError:
            raise KerasFileError(f"Layer {name[:40]!r}'s weights are not where its weight_names say.") from None
    return out


def _array(ds) -> np.ndarray:
    if not hasattr(ds, "shape") or ds.dtype.kind != "f" or ds.size > 64 * 2**20:
        raise KerasFileError("A weight in the file is not an array of floats of a sensible size.")
    return np.asarray(ds[()], dtype=np.float32)  # Keras keeps float32: no wider copy of a large embedding


def _config_of(data: bytes) -> tuple[dict, str, object]:
    """(config, format, an open h5 weights file)."""
    h5py = _h5()
    if data[:4] == ZIP_MAGIC:
        config, weights = _unzip(data)
        try:
            return config, "keras", h5py.File(io.BytesIO(weights), "r")
        except (OSError, ValueError):
            raise KerasFileError("This .keras file's model.weights.h5 is not a readable HDF5 file.") from None
    if data[:8] == HDF5_MAGIC:
        try:
            f = h5py.File(io.BytesIO(data), "r")
            raw = f.attrs.get("model_config")
        except (OSError, ValueError):
            raise KerasFileError("This .h5 file is not a readable HDF5 file.") from None
        if raw is None:
            raise KerasFileError("This .h5 file has no model_config: it holds weights only, not a saved model.")
        raw = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        if len(raw) > MAX_CONFIG_BYTES:
            raise KerasFileError("This .h5 file's model_config is larger than 4 MiB.")
        try:
            return json.loads(raw), "h5", f
        except ValueError:
            raise KerasFileError("This .h5 file's model_config is not JSON.") from None
    raise KerasFileError("This is neither a .keras file (a zip) nor a Keras .h5 file (HDF5).")


def is_keras(data: bytes) -> bool:
    return data[:4] == ZIP_MAGIC or data[:8] == HDF5_MAGIC


def read(data: bytes, name: str = "keras-model", word_index: dict | None = None, maxlen: int | None = None,
         index_from: int = 3, pad: bool = True, texts: str | None = "imdb") -> TrainedModel:
    """A Keras model file's bytes -> this project's model (source "keras"), reading text with `word_index`
    (without one, every word is OOV: the page asks for the index); maxlen from the file's input shape
    unless given. `texts`: the dataset whose TEST texts its statistics (state space, typical values, units)
    are measured over, or None. They are never held out from it (card `texts_heldout` False): the tutorials
    train on keras.datasets.imdb, whose training set is this app's 25,000 IMDB reviews (docs/data.md), so no
    accuracy is measured for it. Never raises anything but KerasFileError."""
    if not isinstance(data, (bytes, bytearray)) or len(data) > MAX_FILE_BYTES:
        raise KerasFileError(f"A Keras model file must be at most {MAX_FILE_BYTES // 2**20} MiB.")
    try:
        return _read(bytes(data), name, word_index, maxlen, index_from, pad, texts)
    except KerasFileError:
        raise
    except Exception as e:  # noqa: BLE001 - a hostile file must never surface as a traceback
        raise KerasFileError(f"This Keras file cannot be read ({type(e).__name__}).") from None


def _read(data: bytes, name: str, word_index: dict | None, maxlen: int | None, index_from: int,
          pad: bool, texts: str | None) -> TrainedModel:
    config, fmt, h5 = _config_of(data)
    with h5:
        layers = _layers(config)
        emb, rnns, dense = _check(layers)
        weights = (_keras3_weights if fmt == "keras" else _legacy_weights)(h5, layers)
    arch = _cell_for(rnns[0]).key
    V, E = emb["config"]["input_dim"], emb["config"]["output_dim"]
    U = rnns[0]["config"]["units"]
    if maxlen is None:
        shape = next((lay["config"].get("batch_shape") or lay["config"].get("batch_input_shape")
                      for lay in layers if lay["class"] == "InputLayer"), None)
        shape = shape or emb["config"].get("batch_input_shape") or (emb["config"].get("build_config") or {})
        maxlen = shape[1] if isinstance(shape, list) and len(shape) == 2 and isinstance(shape[1], int) else None
    if maxlen is not None and not 0 < maxlen <= MAX_MAXLEN:
        raise KerasFileError(f"maxlen must be 1 to {MAX_MAXLEN:,}, not {maxlen}.")
    try:
        cfg = ModelConfig(arch=arch, vocab_size=V, embed_dim=E, hidden_size=U, num_layers=len(rnns), dropout=0.0,
                          max_len=maxlen or MAX_MAXLEN)
    except ValueError as e:
        raise KerasFileError(f"This model is larger than the models here can be: {e}.") from None
    model = SentimentRNN(cfg)
    _load(model, arch, weights, V, E, U)
    model.eval()
    text = KerasText(word_index or {}, num_words=V, maxlen=maxlen, index_from=index_from, pad=pad)
    card = {"source_format": fmt, "keras_layers": " -> ".join(lay["class"] for lay in layers),
            "word_index_words": len(word_index or {}), "mask_zero": bool(emb["config"].get("mask_zero", False)),
            "trained_on": "data this app cannot see (a Keras file trained elsewhere)", "texts_heldout": False,
            **text.card_fields()}
    if texts in DATASET_TITLES:
        card["dataset"] = texts
    return TrainedModel(name=name, model=model, vocab=text, card=card, source="keras")


def _load(model: SentimentRNN, arch: str, weights: list[list[np.ndarray]], V: int, E: int, U: int) -> None:
    """Keras' weights into the model, block by block as the cell's KerasLayout says (order and bias rows)."""
    c = cell(arch)
    k, lay = c.n_blocks, c.keras
    order = lay.order(c.blocks)
    emb, *rnn, dense = weights

    def want(a: np.ndarray, shape: tuple, what: str) -> torch.Tensor:
        if a.shape != shape:
            raise KerasFileError(f"The {what} has shape {a.shape}; the config says {shape}.")
        if not np.all(np.isfinite(a)):
            raise KerasFileError(f"The {what} holds NaN or infinite values.")
        return torch.from_numpy(np.ascontiguousarray(a)).float()

    def torch_order(m: torch.Tensor) -> torch.Tensor:  # Keras' blocks (last axis) in PyTorch's order
        return torch.cat([m[..., j * U:(j + 1) * U] for j in order], dim=-1)

    with torch.no_grad():
        model.embedding.weight.copy_(want(emb[0], (V, E), "embedding"))
        for layer, w in enumerate(rnn):
            if len(w) != 3:
                raise KerasFileError(f"Recurrent layer {layer + 1} has {len(w)} weights, not kernel, recurrent kernel "
                                     "and bias.")
            fan_in = E if layer == 0 else U
            kernel = torch_order(want(w[0], (fan_in, k * U), f"layer {layer + 1}'s kernel"))
            rec = torch_order(want(w[1], (U, k * U), f"layer {layer + 1}'s recurrent kernel"))
            shape = (k * U,) if lay.bias_rows == 1 else (lay.bias_rows, k * U)
            bias = torch_order(want(w[2], shape, f"layer {layer + 1}'s bias ({lay.bias_rows} row"
                                                 f"{'s' if lay.bias_rows > 1 else ''})"))
            b_ih, b_hh = (bias, torch.zeros(k * U)) if lay.bias_rows == 1 else (bias[0], bias[1])
            getattr(model.rnn, f"weight_ih_l{layer}").copy_(kernel.T)
            getattr(model.rnn, f"weight_hh_l{layer}").copy_(rec.T)
            getattr(model.rnn, f"bias_ih_l{layer}").copy_(b_ih)
            getattr(model.rnn, f"bias_hh_l{layer}").copy_(b_hh)
        model.readout.weight.copy_(want(dense[0], (U, 1), "Dense kernel").T)
        model.readout.bias.copy_(want(dense[1], (1,), "Dense bias"))


WORD_INDEX_FILES = ("word_index.json", "imdb_word_index.json")  # looked for beside a model file
IMDB_WORD_INDEX_MD5 = "bfafd718b763782e994055a2d397834f"  # keras.datasets.imdb's imdb_word_index.json


def md5(data: bytes) -> str:
    import hashlib

    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def open_path(path: str | Path) -> TrainedModel:
    """A Keras model file by path (the command line's --model file.keras), reading text with the word index
    found beside it (WORD_INDEX_FILES), if any; its name is the file's stem."""
    path = Path(path)
    if not path.is_file():
        raise KerasFileError(f"No Keras model file at {path}.")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise KerasFileError(f"{path} is larger than {MAX_FILE_BYTES // 2**20} MiB; not a model file.")
    index = None
    for name in WORD_INDEX_FILES:
        f = path.with_name(name)
        if f.is_file():
            index = load_word_index(f.read_bytes())
            break
    tm = read(path.read_bytes(), name=path.stem, word_index=index)
    if index is None:
        tm.notes.append(f"No word index beside {path.name} ({' or '.join(WORD_INDEX_FILES)}): every word reads as "
                        "out of vocabulary.")
    return tm


def register() -> None:
    """Let zoo.resolve open .keras and .h5 files (the command line calls this when a path ends so; the module
    registers itself when imported, too)."""
    import sys

    sys.modules["playground.core.zoo"].OPENERS.update({".keras": open_path, ".h5": open_path})


register()
