"""The bundled models' shipped per-model results (playground/dynamics/precomputed.py): files that match the
shipped weights, a JSON encoding that round-trips every result and refuses anything else."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from playground.core import zoo
from playground.dynamics import ablate, precomputed, statespace, typical


def _same(a, b) -> bool:
    """Equal, field by field, arrays by value (NaN equal to NaN)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if hasattr(a, "__dataclass_fields__"):
        return type(a) is type(b) and all(_same(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a):
        return np.isnan(b)
    return a == b


def test_every_result_round_trips_through_json(tiny_trained):
    m, v = tiny_trained.model, tiny_trained.vocab
    results = [typical.typical_values(m, v, "rt", n_texts=6),
               ablate.ablation(m, v, "rt", n_texts=12, top=2),
               statespace.fit(m, v, "rt", n_texts=4, steps=20)]
    for r in results:
        text = json.dumps(precomputed.encode(r))
        back = precomputed.decode(json.loads(text))
        assert _same(r, back), type(r).__name__


def test_decode_refuses_what_it_did_not_write():
    with pytest.raises(ValueError):
        precomputed.decode({"__class__": "Popen", "args": "rm"})
    with pytest.raises(ValueError):
        precomputed.decode({"__array__": "object", "shape": [1], "data": [1]})
    with pytest.raises(TypeError):
        precomputed.encode(object())


@pytest.mark.slow
def test_shipped_files_match_the_shipped_weights():
    """Fails when a bundled model is retrained without `python -m playground precompute`."""
    for name in zoo.bundled_names():
        tm = zoo.load_bundled(name)
        assert precomputed.shipped_key(name) == precomputed.weights_key(tm.model, tm.vocab), (
            f"{name}: playground/results/models/{name}.json.gz is stale; run {precomputed.COMMAND}")
        for kind in precomputed.KINDS:
            assert precomputed.load(kind, tm) is not None, (name, kind)


def test_a_shipped_result_is_used_only_for_the_weights_it_was_computed_from(tmp_path):
    tm = zoo.load_bundled("rnn-rt")
    fake = {"format": precomputed.FORMAT, "model": "rnn-rt", "key": "0" * 32,
            "results": {"typical": precomputed.encode(typical.Typical("rt", 1, 1, (), ()))}}
    precomputed.path_of("rnn-rt", tmp_path).write_bytes(gzip.compress(json.dumps(fake).encode()))
    precomputed.clear_cache()
    assert precomputed.load("typical", tm, tmp_path) is None  # another key: not these weights
    fake["key"] = precomputed.weights_key(tm.model, tm.vocab)
    precomputed.path_of("rnn-rt", tmp_path).write_bytes(gzip.compress(json.dumps(fake).encode()))
    precomputed.clear_cache()
    assert precomputed.load("typical", tm, tmp_path).n_texts == 1
    precomputed.path_of("rnn-rt", tmp_path).write_bytes(b"\x1f\x8b not gzip")  # corrupt: ignored
    precomputed.clear_cache()
    assert precomputed.load("typical", tm, tmp_path) is None
    session = zoo.TrainedModel(name="rnn-rt", model=tm.model, vocab=tm.vocab, card=tm.card, source="session")
    assert precomputed.load("typical", session) is None  # only bundled models read shipped results
