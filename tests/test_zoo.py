"""Model files: round trip, and every kind of bad file refused with a clear message."""
import json
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save as st_save

from playground import zoo
from playground.trace import trace
from playground.zoo import ModelFileError, from_bytes, to_bytes


def test_round_trip(tiny_trained, tmp_path):
    zoo.quantize_for_storage(tiny_trained.model)  # what training does before it measures TEST
    path = zoo.save(tiny_trained, tmp_path / "m.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        assert f.get_tensor("embedding.weight").dtype == torch.float16
        assert f.get_tensor("readout.weight").dtype == torch.float32
    back = zoo.load_path(path)
    assert back.vocab.itos == tiny_trained.vocab.itos and back.config == tiny_trained.config
    assert back.card == tiny_trained.card and back.name == "tiny"
    a, b = trace(tiny_trained.model, tiny_trained.vocab, "good film"), trace(back.model, back.vocab, "good film")
    assert np.array_equal(a.step_probs, b.step_probs)
    assert not any(p.requires_grad for p in back.model.parameters()) and not back.model.training


def _with_meta(tm, **changes):
    tensors = {k: v.clone() for k, v in tm.model.state_dict().items()}
    meta = {"format": zoo.FORMAT, "name": "x", "config": json.dumps(tm.config.to_dict()),
            "vocab": json.dumps(tm.vocab.itos), "card": "{}"}
    for k, v in changes.items():
        if v is None:
            meta.pop(k)
        else:
            meta[k] = v
    return st_save(tensors, metadata=meta)


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def _bad_files(tm):
    good = to_bytes(tm)
    cfg = tm.config.to_dict()
    tensors = {k: v.clone() for k, v in tm.model.state_dict().items()}
    wrong = dict(tensors, **{"readout.weight": torch.zeros(1, 99)})
    nan = dict(tensors, **{"readout.bias": torch.tensor([float("nan")])})
    meta = {"format": zoo.FORMAT, "config": json.dumps(cfg), "vocab": json.dumps(tm.vocab.itos), "card": "{}"}
    yield "empty", b"", "empty"
    yield "truncated", good[: len(good) // 2], "truncated|corrupt"
    yield "pickle", pickle.dumps(_Evil()), "not a model file"
    yield "torch.save", _torch_save_bytes(tm), "not a model file"
    yield "random", bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)), "not a model file"
    yield "huge header", (10**9).to_bytes(8, "little") + b"{}", "not a model file"
    yield "json list", len(b"[1]").to_bytes(8, "little") + b"[1]", "not a JSON object"
    yield "foreign safetensors", st_save(tensors), "not an RNN Playground"
    yield "wrong shape", st_save(wrong, metadata=meta), "shape"
    yield "nan weights", st_save(nan, metadata=meta), "NaN"
    yield "missing config", _with_meta(tm, config=None), "config"
    yield "bad config json", _with_meta(tm, config="{nope"), "not valid JSON"
    yield "config out of bounds", _with_meta(tm, config=json.dumps(dict(cfg, hidden_size=10**6))), "hidden_size"
    yield "config extra key", _with_meta(tm, config=json.dumps(dict(cfg, __class__="os.system"))), "unknown"
    yield "vocab not list", _with_meta(tm, vocab=json.dumps({"a": 1})), "vocabulary"
    yield "vocab size mismatch", _with_meta(tm, vocab=json.dumps(tm.vocab.itos[:-1])), "vocabulary has"
    yield "card not object", _with_meta(tm, card="[1, 2]"), "card"
    yield "missing tensor", st_save({k: v for k, v in tensors.items() if k != "readout.bias"}, metadata=meta), "missing"


def _torch_save_bytes(tm):
    import io

    buf = io.BytesIO()
    torch.save(tm.model.state_dict(), buf)
    return buf.getvalue()


def test_bad_files_are_refused_clearly(tiny_trained, capsys):
    for _label, blob, pattern in _bad_files(tiny_trained):
        with pytest.raises(ModelFileError, match=f"(?i){pattern}"):
            from_bytes(blob)
    assert "pwned" not in capsys.readouterr().out  # the pickle payload never ran


def test_resolve_unknown_and_missing(tmp_path):
    with pytest.raises(ModelFileError, match="Unknown model"):
        zoo.resolve("no-such-model")
    with pytest.raises(ModelFileError, match="No model file"):
        zoo.resolve(str(tmp_path / "gone.safetensors"))


def test_bundled_models_ship_with_cards():
    names = zoo.bundled_names()
    assert names == list(zoo.BUNDLED), "all six bundled models must ship"
    total = sum((zoo.WEIGHTS_DIR / f"{n}.safetensors").stat().st_size for n in names)
    assert total <= 30 * 1000 * 1000
    for n in names:
        card = zoo.load_bundled(n).card
        for key in ("config", "layers", "test_accuracy", "train_seconds", "seed", "command", "dataset"):
            assert key in card, (n, key)
        assert card["command"].startswith("python -m playground train")
