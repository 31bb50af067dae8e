"""Model files: round trip, and every kind of bad file refused with a clear message."""
import json
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save as st_save

from playground.core import zoo
from playground.core.trace import trace
from playground.core.zoo import ModelFileError, from_bytes, to_bytes


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


# --- issue 12: hostile files never raise anything but ModelFileError, and allocate nothing first ------
def _file(tm, card_data=None, tensors=None, **meta_changes):
    tensors = tensors if tensors is not None else {k: v.clone() for k, v in tm.model.state_dict().items()}
    meta = {"format": zoo.FORMAT, "name": "x", "config": json.dumps(tm.config.to_dict()),
            "vocab": json.dumps(tm.vocab.itos), "card": json.dumps(card_data if card_data is not None else {})}
    meta.update(meta_changes)
    return st_save(tensors, metadata=meta)


def _raw_file(header: dict, data: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data


def test_deeply_nested_json_is_refused_not_a_recursion_error(tiny_trained):
    deep = "[" * 2000 + "]" * 2000  # past the parser's recursion limit, within every size limit
    for key in ("card", "config", "vocab"):
        with pytest.raises(ModelFileError, match="nested too deeply"):
            from_bytes(_file(tiny_trained, **{key: deep}))
    text = ('{"__metadata__": ' + "[" * 200_000 + "]" * 200_000 + "}").encode()
    with pytest.raises(ModelFileError, match="nested too deeply"):
        from_bytes(len(text).to_bytes(8, "little") + text)


def test_mutated_and_truncated_files_raise_only_model_file_errors(tiny_trained):
    """A fuzz: byte flips, truncations and header edits of a good file either load or raise
    ModelFileError, nothing else."""
    good = to_bytes(tiny_trained)
    n = int.from_bytes(good[:8], "little")
    rng = np.random.default_rng(12)
    blobs = [good[:k] for k in range(0, len(good), max(1, len(good) // 97))]
    for _ in range(300):
        b = bytearray(good)
        for pos in rng.integers(0, 8 + n if rng.random() < 0.8 else len(b), rng.integers(1, 6)):
            b[pos] = int(rng.integers(0, 256))
        blobs.append(bytes(b))
    header = json.loads(good[8:8 + n])
    for k in [k for k in header if k != "__metadata__"]:
        for change in ({"dtype": "I64"}, {"dtype": "F64"}, {"shape": [10**9, 10**9]}, {"shape": "x"},
                       {"data_offsets": [0, 10**12]}, {"data_offsets": [-4, 0]}, {"data_offsets": [True, 4]},
                       {"data_offsets": [0, 4]}, {"shape": [1e3]}):
            blobs.append(_raw_file(dict(header, **{k: dict(header[k], **change)}), good[8 + n:]))
    blobs.append(_raw_file(dict(header, **{k: "x" for k in header if k != "__metadata__"}), good[8 + n:]))
    blobs += [_file(tiny_trained, **{key: "[" * 2000 + "]" * 2000}) for key in ("card", "config", "vocab")]
    for blob in blobs:
        try:
            from_bytes(blob)
        except ModelFileError:
            pass


def test_weights_are_checked_before_the_model_is_built(tiny_trained, monkeypatch):
    """Bad shapes, dtypes, offsets and over-budget configs are refused from the header alone:
    no model is ever built on a real device (only on `meta`, which allocates nothing)."""
    built = []
    real = zoo.SentimentRNN

    def spy(config):
        m = real(config)
        built.append(m.embedding.weight.device.type)
        return m

    monkeypatch.setattr(zoo, "SentimentRNN", spy)
    sd = {k: v.clone() for k, v in tiny_trained.model.state_dict().items()}
    huge = dict(tiny_trained.config.to_dict(), vocab_size=100_000, embed_dim=512)
    bad = {
        "shape": (_file(tiny_trained, tensors=dict(sd, **{"readout.weight": torch.zeros(1, 99)})), "shape"),
        "int dtype": (_file(tiny_trained, tensors=dict(sd, **{"readout.bias": torch.zeros(1, dtype=torch.int32)})),
                      "float16"),
        "float64": (_file(tiny_trained, tensors=dict(sd, **{"readout.bias": torch.zeros(1, dtype=torch.float64)})),
                    "float16"),
        "budget": (_file(tiny_trained, config=json.dumps(huge),
                         vocab=json.dumps(["<pad>", "<unk>"] + [f"w{i}" for i in range(99_998)])), "parameters"),
    }
    n = int.from_bytes(bad["shape"][0][:8], "little")
    header = json.loads(bad["shape"][0][8:8 + n])
    header["readout.weight"] = dict(header["readout.weight"], shape=[1, tiny_trained.config.hidden_size])
    header["embedding.weight"] = dict(header["embedding.weight"], data_offsets=[0, header["embedding.weight"]
                                                                                ["data_offsets"][1]])
    bad["overlap"] = (_raw_file(header, bad["shape"][0][8 + n:]), "overlap|offsets")
    for label, (blob, pattern) in bad.items():
        with pytest.raises(ModelFileError, match=f"(?i){pattern}"):
            from_bytes(blob)
        assert "cpu" not in built, label
    assert from_bytes(to_bytes(tiny_trained)).n_params == tiny_trained.n_params and built[-1] == "meta"


@pytest.mark.slow
def test_a_refused_crafted_file_costs_little_memory(tmp_path, tiny_trained):
    """A 1.2 MB file whose config claims vocabulary 100,000 x 512 (51 M parameters) with tiny
    tensors: refused with under 30 MB peak memory growth (it used to cost ~210 MB)."""
    import subprocess
    import sys

    huge = dict(tiny_trained.config.to_dict(), vocab_size=100_000, embed_dim=512)
    words = ["<pad>", "<unk>"] + [f"w{i}" for i in range(99_998)]
    for name, cfg, vocab in (("over_budget", huge, words),
                             ("mid", dict(huge, vocab_size=30_000, embed_dim=256), words[:30_000])):
        (tmp_path / f"{name}.safetensors").write_bytes(_file(tiny_trained, config=json.dumps(cfg),
                                                               vocab=json.dumps(vocab),
                                                               tensors={"embedding.weight": torch.zeros(2, 2)}))
    script = """
import sys
from pathlib import Path
from playground.core import zoo
def hwm():
    return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) / 1024
zoo.from_bytes(Path(sys.argv[2]).read_bytes())  # warm up torch (the first module costs ~75 MB once)
for p in sys.argv[1:]:
    blob = Path(p).read_bytes()
    before = hwm()
    try:
        zoo.from_bytes(blob)
    except zoo.ModelFileError:
        print(hwm() - before)
"""
    warm = zoo.save(tiny_trained, tmp_path / "warm.safetensors")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "over_budget.safetensors"), str(warm)],
                         capture_output=True, text=True, timeout=120, cwd=str(zoo.WEIGHTS_DIR.parents[1]))
    grown = [float(x) for x in out.stdout.split()]
    assert len(grown) == 1 and grown[0] < 30, (out.stdout, out.stderr)
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "mid.safetensors"), str(warm)],
                         capture_output=True, text=True, timeout=120, cwd=str(zoo.WEIGHTS_DIR.parents[1]))
    grown = [float(x) for x in out.stdout.split()]
    assert len(grown) == 1 and grown[0] < 15, (out.stdout, out.stderr)


HOSTILE_CARDS = {
    "dataset list": ({"dataset": ["rt"]}, "dataset"),
    "dataset object": ({"dataset": {"a": 1}}, "dataset"),
    "layers string": ({"layers": "embedding"}, "layers"),
    "layers of lists": ({"layers": [[1, 2]]}, "layers"),
    "layers too many": ({"layers": [{"layer": "x"}] * 1000}, "layers"),
    "accuracy out of range": ({"test_accuracy": 5}, "test_accuracy"),
    "accuracy string": ({"test_accuracy": "99%"}, "test_accuracy"),
    "accuracy NaN": ({"test_accuracy": float("nan")}, "test_accuracy"),
    "trained_on object": ({"trained_on": {"x": 1}}, "trained_on"),
    "trained_on huge": ({"trained_on": "x" * 10_000}, "trained_on"),
    "test_split list": ({"test_split": [1]}, "test_split"),
    "train_seconds string": ({"train_seconds": "long"}, "train_seconds"),
    "history strings": ({"history": [{"epoch": "one"}]}, "history"),
    "history nested": ({"history": [{"epoch": [1]}]}, "history"),
    "config nested": ({"config": {"a": {"b": 1}}}, "config"),
    "card too big": ({"x": "y" * 300_000}, "characters"),
}


def test_card_fields_of_the_wrong_type_or_size_are_refused(tiny_trained):
    for label, (card, pattern) in HOSTILE_CARDS.items():
        with pytest.raises(ModelFileError, match=pattern):
            from_bytes(_file(tiny_trained, card_data=card))
            pytest.fail(label)


def test_card_unknown_fields_are_kept_if_scalar_else_dropped_with_a_note(tiny_trained):
    card = {"dataset": "rt", "test_accuracy": 0.8, "layers": [{"layer": "gru", "params": 3}], "note": "hi",
            "blob": {"deep": [1, 2, 3]}, "long": "z" * 5000, "history": [{"epoch": 1, "val_loss": None}]}
    tm = from_bytes(_file(tiny_trained, card_data=card))
    assert tm.card == {"dataset": "rt", "test_accuracy": 0.8, "layers": [{"layer": "gru", "params": 3}],
                       "note": "hi", "history": [{"epoch": 1, "val_loss": None}]}
    assert tm.notes == ["2 unknown or oversized card fields were dropped"]
    other = from_bytes(_file(tiny_trained, card_data={"dataset": "sst2"}))
    assert other.card == {} and other.dataset is None and "dataset this app does not have" in other.notes[0]


def test_names_are_cleaned_and_bounded(tiny_trained):
    assert from_bytes(_file(tiny_trained, name="  a\x00b\n\tc\u202e ")).name == "ab c"
    assert from_bytes(_file(tiny_trained, name="")).name == "uploaded model"
    with pytest.raises(ModelFileError, match="at most 100"):
        from_bytes(_file(tiny_trained, name="n" * 500))


def test_bundled_cards_pass_the_card_check_unchanged():
    for n in zoo.bundled_names():
        tm = zoo.load_bundled(n)
        assert tm.notes == [] and tm.dataset in ("rt", "imdb")


def test_nbytes_counts_parameters_and_vocabulary(tiny_trained):
    params = sum(p.numel() for p in tiny_trained.model.parameters()) * 4
    assert params < zoo.nbytes(tiny_trained) < params + 200 * len(tiny_trained.vocab)
    assert zoo.config_nbytes(tiny_trained.config) == pytest.approx(zoo.nbytes(tiny_trained), rel=0.1)
