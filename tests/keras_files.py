"""Tutorial-sized Keras files for the tests, made from the real ones Keras wrote (tests/fixtures/keras):
the same zip / HDF5 layout, attributes and config, with the sizes of the tutorials (Embedding(10000, 32),
32 units) and seeded random weights. Parity is tested on the real files; these test size and the pages."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import h5py
import numpy as np

FIX = Path(__file__).resolve().parent / "fixtures" / "keras"
SMALL_V, SMALL = 300, 8  # the real fixtures' vocabulary and sizes (embedding = units = 8)


def _shape(path: str, old: tuple, V: int, E: int, U: int, first_rnn: str) -> tuple:
    """The tutorial-sized shape of a weight at `path` (Keras 3 or legacy names) with the real `old` shape."""
    p = path.lower()
    if "embedding" in p:
        return (V, E)
    if "dense" in p:
        return (U, 1) if len(old) == 2 else (1,)
    k = old[-1] // SMALL  # blocks: 1, 3 or 4
    if "recurrent" in p or p.endswith("vars/1"):
        return (U, k * U)
    if "bias" in p or p.endswith("vars/2"):
        return (k * U,) if len(old) == 1 else (2, k * U)
    return (E if first_rnn in p else U, k * U)  # the kernel: input size E for the first layer, U after


def _resize_h5(data: bytes, V: int, E: int, U: int, first_rnn: str, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    src = h5py.File(io.BytesIO(data), "r")
    buf = io.BytesIO()
    with h5py.File(buf, "w") as dst:
        for k, v in src.attrs.items():
            dst.attrs[k] = v

        def copy(name, obj):
            if isinstance(obj, h5py.Group):
                g = dst.require_group(name)
                for k, v in obj.attrs.items():
                    g.attrs[k] = v
            else:
                shape = _shape(name, obj.shape, V, E, U, first_rnn)
                dst.create_dataset(name, data=rng.normal(0.0, 0.3, shape).astype("float32"))
        src.visititems(copy)
    return buf.getvalue()


def _resize_config(cfg: dict, V: int, E: int, U: int) -> dict:
    for layer in cfg["config"]["layers"]:
        c = layer["config"]
        if layer["class_name"] == "Embedding":
            c["input_dim"], c["output_dim"] = V, E
        elif "units" in c and layer["class_name"] != "Dense":
            c["units"] = U
    return cfg


def tutorial_sized(kind: str, ext: str, V: int = 10000, E: int = 32, U: int = 32, seed: int = 0) -> bytes:
    """The real fixture `kind`.`ext` at the tutorials' sizes."""
    data = (FIX / f"{kind}.{ext}").read_bytes()
    if ext == "keras":
        z = zipfile.ZipFile(io.BytesIO(data))
        cfg = _resize_config(json.loads(z.read("config.json")), V, E, U)
        first = "layers/" + {"simplernn": "simple_rnn", "lstm": "lstm", "lstm2": "lstm/", "gru": "gru",
                             "gru_v1": "gru"}[kind]
        weights = _resize_h5(z.read("model.weights.h5"), V, E, U, first, seed)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as w:
            w.writestr("metadata.json", z.read("metadata.json"))
            w.writestr("config.json", json.dumps(cfg))
            w.writestr("model.weights.h5", weights)
        return out.getvalue()
    src = h5py.File(io.BytesIO(data), "r")
    cfg = _resize_config(json.loads(src.attrs["model_config"]), V, E, U)
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in src["model_weights"].attrs["layer_names"]]
    first = next(n for n in names if not n.startswith(("embedding", "dense")))
    buf = io.BytesIO(_resize_h5(data, V, E, U, first + "/", seed))
    with h5py.File(buf, "r+") as g:  # the config attribute, resized
        g.attrs["model_config"] = json.dumps(cfg)
    return buf.getvalue()
