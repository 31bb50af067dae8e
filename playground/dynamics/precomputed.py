"""Heavy per-model results of the bundled models, built by a command and shipped, so no visitor pays
for them: the state space with its fixed points (statespace.fit), the ablation (ablate.ablation), each
unit's typical values (typical.typical_values) and the unit explorer's statistics (units.compute).

    python -m playground precompute            # all six; playground/weights/rebuild.sh runs it last

One file per model, `playground/results/models/<name>.json.gz`, holding the key of the weights it was
computed from (`weights_key`: config, every weight, vocabulary). `load(kind, tm)` returns a shipped
result only for a bundled model whose weights have that key, so a retrained model never shows a stale
result (it computes its own, and tests/test_precomputed.py fails until the files are rebuilt).

The files are JSON, never pickle: numpy arrays, tuples, dicts with integer keys and the four result
dataclasses are written with a tag (`encode`) and rebuilt from a whitelist of classes (`decode`).
"""
from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from playground.core.models import hash_model

FORMAT = "rnn-playground/precomputed/1"
DIR = Path(__file__).resolve().parents[1] / "results" / "models"
KINDS = ("space", "ablation", "typical", "units")
COMMAND = "python -m playground precompute"
MAX_FILE_BYTES = 32 << 20  # a shipped file larger than this is not read


def _classes() -> dict[str, type]:
    from playground.dynamics.ablate import Ablation
    from playground.dynamics.fixedpoints import FixedPoints
    from playground.dynamics.statespace import StateSpace
    from playground.dynamics.typical import Typical

    return {c.__name__: c for c in (StateSpace, FixedPoints, Ablation, Typical)}


# --- encoding -----------------------------------------------------------------------------------------
def encode(x):
    """A result as plain JSON values, with tags for what JSON has no type for."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        if type(x).__name__ not in _classes():
            raise TypeError(f"cannot encode {type(x).__name__}")
        return {"__class__": type(x).__name__, **{f.name: encode(getattr(x, f.name)) for f in dataclasses.fields(x)}}
    if isinstance(x, np.ndarray):
        return {"__array__": str(x.dtype), "shape": list(x.shape), "data": x.ravel().tolist()}
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return x.item()
    if isinstance(x, tuple):
        return {"__tuple__": [encode(v) for v in x]}
    if isinstance(x, list):
        return [encode(v) for v in x]
    if isinstance(x, dict):
        if all(isinstance(k, str) for k in x):
            return {k: encode(v) for k, v in x.items()} if "__class__" not in x else {"__dict__": [
                [k, encode(v)] for k, v in x.items()]}
        return {"__dict__": [[k, encode(v)] for k, v in x.items()]}
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    raise TypeError(f"cannot encode {type(x).__name__}")


ARRAY_DTYPES = {"float64", "float32", "int64", "int32", "bool", "complex128"}


def decode(x):
    """`encode`'s inverse; ValueError for anything it did not write (an unknown class or dtype)."""
    if isinstance(x, list):
        return [decode(v) for v in x]
    if not isinstance(x, dict):
        return x
    if "__array__" in x:
        if x["__array__"] not in ARRAY_DTYPES:
            raise ValueError(f"unknown array type {x['__array__']!r}")
        return np.asarray(x["data"], dtype=x["__array__"]).reshape(x["shape"])
    if "__tuple__" in x:
        return tuple(decode(v) for v in x["__tuple__"])
    if "__dict__" in x:
        return {k: decode(v) for k, v in x["__dict__"]}
    if "__class__" in x:
        cls = _classes().get(x["__class__"])
        if cls is None:
            raise ValueError(f"unknown result class {x['__class__']!r}")
        # a field added since the file was written (with a default, like `cut`) takes its default
        return cls(**{f.name: decode(x[f.name]) for f in dataclasses.fields(cls) if f.name in x})
    return {k: decode(v) for k, v in x.items()}


# --- which weights ------------------------------------------------------------------------------------
def weights_key(model, vocab) -> str:
    """Hash of a model's config, every weight and its vocabulary."""
    return hash_model(hashlib.sha256(json.dumps(model.config.to_dict(), sort_keys=True).encode()), model,
                      vocab).hexdigest()[:32]


def path_of(name: str, folder: Path | None = None) -> Path:
    return Path(folder or DIR) / f"{name}.json.gz"


# --- building -----------------------------------------------------------------------------------------
def compute(kind: str, tm, progress: Callable[[float, str], None] | None = None, budget=None,
            disk_cache: bool = False):
    """One kind of result for a TrainedModel, exactly as the pages compute it. With a `budget`
    (clock.Budget) the work stops early and says so in the result's `cut` (see clock.py); with
    `disk_cache`, unit statistics come from and go to units' cache (`units.unit_stats`)."""
    from playground.dynamics import ablate, statespace, typical, units

    say = progress or (lambda f, m="": None)
    if kind == "space":
        return statespace.fit(tm.model, tm.vocab, tm.dataset, on_progress=say, budget=budget)
    if kind == "ablation":
        return ablate.ablation(tm.model, tm.vocab, tm.dataset, progress=lambda f: say(f, ""), budget=budget)
    if kind == "typical":
        return typical.typical_values(tm.model, tm.vocab, tm.dataset, budget=budget, on_progress=say)
    if kind == "units":
        if disk_cache:
            return units.unit_stats(tm, on_progress=say, budget=budget)
        n = units.sample_size(tm.model.config, tm.dataset)
        out = units.compute(tm.model, tm.vocab, tm.dataset, n, say, tm.name, budget)
        out["key"] = units.cache_key(tm.model, tm.vocab, tm.dataset, n)
        return out
    raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")


def build(name: str, folder: Path | None = None, on_kind: Callable[[str, float], None] | None = None) -> dict:
    """Compute every kind for bundled model `name` and write its file; returns a summary."""
    from playground.core.zoo import load_bundled

    tm = load_bundled(name)
    results, seconds = {}, {}
    with torch.no_grad():
        for kind in KINDS:
            t0 = time.perf_counter()
            results[kind] = encode(compute(kind, tm))
            seconds[kind] = round(time.perf_counter() - t0, 1)
            if on_kind:
                on_kind(kind, seconds[kind])
    doc = {"format": FORMAT, "model": name, "key": weights_key(tm.model, tm.vocab), "command": COMMAND,
           "torch": torch.__version__, "seconds": seconds, "results": results}
    path = path_of(name, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(doc, separators=(",", ":"), allow_nan=True).encode()
    path.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))  # mtime 0: the same bytes for the same results
    clear_cache()
    return {"model": name, "key": doc["key"], "seconds": seconds, "bytes": path.stat().st_size}


# --- reading ------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def _document(path: str) -> dict | None:
    try:
        p = Path(path)
        if not p.is_file() or p.stat().st_size > MAX_FILE_BYTES:
            return None
        doc = json.loads(gzip.decompress(p.read_bytes()))
    except (OSError, ValueError, EOFError, gzip.BadGzipFile):
        return None
    return doc if isinstance(doc, dict) and doc.get("format") == FORMAT else None


def shipped_key(name: str, folder: Path | None = None) -> str | None:
    doc = _document(str(path_of(name, folder)))
    return doc.get("key") if doc else None


_DECODED: dict[tuple[str, str, str], object] = {}  # (path, kind, key) -> a decoded result (never None)


def clear_cache() -> None:
    """Forget the files read and the results decoded (after a file was rebuilt)."""
    _document.cache_clear()
    _DECODED.clear()


def _decoded(path: str, kind: str, key: str):
    if (path, kind, key) in _DECODED:
        return _DECODED[path, kind, key]
    doc = _document(path)
    if doc is None or doc.get("key") != key or kind not in doc.get("results", {}):
        return None
    try:
        value = decode(doc["results"][kind])
    except (ValueError, TypeError, KeyError):
        return None
    _DECODED[path, kind, key] = value
    return value


def load(kind: str, tm, folder: Path | None = None):
    """The shipped `kind` result of a bundled model, or None (not bundled, no file, or weights that
    are not the ones it was computed from). Shared and read-only: do not mutate it."""
    from playground.core.zoo import BUNDLED

    if getattr(tm, "source", None) != "bundled" or tm.name not in BUNDLED:
        return None
    path = path_of(tm.name, folder)
    if _document(str(path)) is None:
        return None
    return _decoded(str(path), kind, _key_of(tm))


def _key_of(tm) -> str:
    """weights_key, once per model object (bundled models are loaded once and never mutated)."""
    key = getattr(tm, "_weights_key", None)
    if key is None:
        key = weights_key(tm.model, tm.vocab)
        try:
            object.__setattr__(tm, "_weights_key", key)
        except (AttributeError, TypeError):
            pass
    return key
