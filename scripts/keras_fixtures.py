"""Record the Keras parity fixtures of tests/fixtures/keras/ (issue 29). Keras is never a dependency of
the project: run this once, in a throwaway virtual environment, and commit what it writes.

    python3 -m venv /tmp/kvenv && /tmp/kvenv/bin/pip install torch==2.13.0 keras==3.15.1 h5py numpy
    KERAS_BACKEND=torch /tmp/kvenv/bin/python scripts/keras_fixtures.py --out tests/fixtures/keras
    # and the tf-keras 2.x files (the Keras 2 API; its .h5 names its weights "...:0"):
    python3 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu==2.21.0 tf-keras==2.21.0 h5py
    /tmp/tfvenv/bin/python scripts/keras_fixtures.py --tf-keras --out tests/fixtures/keras

It builds small tutorial-shaped models, Embedding -> SimpleRNN | LSTM | GRU (reset_after True and
False) | two LSTMs -> Dense(1, sigmoid), sets every weight from a seeded normal draw (so every gate
does something), saves each as .keras (Keras 3's zip) and .h5 (Keras' legacy HDF5), and writes
`parity.json`: the word index, the encoding settings (keras.datasets.imdb's: index_from 3, start 1,
OOV 2, num_words, maxlen, pre-padding with zeros that the model reads), 60 texts, their padded ids and
Keras' own `model.predict` on them, per model.
"""
import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

if "--tf-keras" in sys.argv:  # tf-keras 2.x: the Keras 2 API on TensorFlow
    import tf_keras as keras  # noqa: E402
else:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras  # noqa: E402

V, E, U, MAXLEN = 300, 8, 8, 24
INDEX_FROM, START, OOV = 3, 1, 2
WORDS = ("the a and of to is in it this that was as for with movie film but on not you are his have be one all "
         "at they by who so from like her or just about out if has what some good can more when very up no time "
         "even she my which would story only really see their had were me well than much get bad been people "
         "will do other also into first great because how him most made its then way make them could too any "
         "after movies characters think character watch two films seen many being plot never love acting life "
         "best did know where little over off ever does man your better end here still say scene why while "
         "scenes such something go through back should those real now watching thing though doesn years actors "
         "director work another before funny nothing new actually going same lot every few again part cast "
         "down us things want pretty world horror young quite seems around got take however fact big thought "
         "enough long both between series give may original own action right without must always times comedy "
         "point gets role interesting saw whole come guess almost done minutes bit far least script music "
         "feel making might anything last since family probably performance tv kind away yet worst girl "
         "fun sure hard rather anyone played found each day woman especially our believe course making trying "
         "although goes looking ending shows dvd place comes set worth looks different put main sense three "
         "wonderful awful boring brilliant dull moving masterpiece waste terrible excellent").split()


def word_index() -> dict:
    """{word: rank from 1}, as keras.datasets.imdb.get_word_index() gives (most frequent first)."""
    return {w: i + 1 for i, w in enumerate(dict.fromkeys(WORDS))}


def texts(n: int = 60, seed: int = 7) -> list[str]:
    """n texts of 3 to 40 words, some with words the index lacks (OOV) and some longer than maxlen."""
    rng = np.random.default_rng(seed)
    vocab = list(dict.fromkeys(WORDS)) + ["zyzzyva", "quux", "frobnicate"]
    return [" ".join(rng.choice(vocab, int(rng.integers(3, 41)))) for _ in range(n)]


def encode(text: str, index: dict, num_words: int) -> list[int]:
    """keras.datasets.imdb's ids: the start token, then rank + index_from, OOV at or beyond num_words;
    pre-padded with zeros / cut from the front to maxlen (keras.utils.pad_sequences' defaults)."""
    ids = [START] + [(index[w] + INDEX_FROM) if w in index and index[w] + INDEX_FROM < num_words else OOV
                     for w in text.lower().split()]
    ids = ids[-MAXLEN:]
    return [0] * (MAXLEN - len(ids)) + ids


def build(kind: str) -> keras.Model:
    L = keras.layers
    rnn = {"simplernn": [L.SimpleRNN(U)], "lstm": [L.LSTM(U)], "gru": [L.GRU(U)],
           "gru_v1": [L.GRU(U, reset_after=False)], "lstm2": [L.LSTM(U, return_sequences=True), L.LSTM(U)]}[kind]
    model = keras.Sequential([keras.Input((MAXLEN,), dtype="int32"), L.Embedding(V, E), *rnn,
                              L.Dense(1, activation="sigmoid")])
    model.build((None, MAXLEN))
    rng = np.random.default_rng(sum(map(ord, kind)))  # the same weights on every run
    model.set_weights([rng.normal(0.0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    return model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/keras")
    ap.add_argument("--tf-keras", action="store_true", help="write tf-keras 2.x .h5 files (tfk_*.h5) instead")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    index = word_index()
    ts = texts()
    ids = [encode(t, index, V) for t in ts]
    x = np.array(ids, dtype="int32")
    preds = {}
    prefix = "tfk_" if args.tf_keras else ""
    for kind in ("simplernn", "lstm", "gru", "gru_v1", "lstm2"):
        model = build(kind)
        exts = ("h5",) if args.tf_keras else ("keras", "h5")
        for ext in exts:
            model.save(out / f"{prefix}{kind}.{ext}")
        preds[kind] = [float(p) for p in model.predict(x, verbose=0).ravel()]
    name = "parity_tf_keras.json" if args.tf_keras else "parity.json"
    if not args.tf_keras:
        (out / "word_index.json").write_text(json.dumps(index) + "\n")
    doc = {"keras": keras.__version__, "backend": keras.backend.backend(), "word_index": "word_index.json",
           "files": f"{prefix}<kind>.{'h5' if args.tf_keras else 'keras|h5'}",
           "index_from": INDEX_FROM, "start": START, "oov": OOV, "num_words": V, "maxlen": MAXLEN,
           "embedding": [V, E], "units": U, "texts": ts, "ids": ids, "predictions": preds,
           "command": "python scripts/keras_fixtures.py" + (" --tf-keras" if args.tf_keras else "")
                      + " --out tests/fixtures/keras"}
    (out / name).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out / name}: {len(ts)} texts, models {', '.join(preds)}")


if __name__ == "__main__":
    main()
