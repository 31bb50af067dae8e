"""The time estimate counts the work the trainer will meet, and never promises more than the cap."""
import numpy as np
import pytest

from playground.training import timing
from playground.training.options import build_recipe
from playground.training.recipes import prepare
from playground.training.train import make_batches


def _totals(lengths, batch_size):
    batches = make_batches(np.asarray(lengths), batch_size, None)
    maxes = [max(lengths[i] for i in b) for b in batches]
    return len(batches), sum(maxes), sum(m * len(b) for m, b in zip(maxes, batches))


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_batches_count_the_steps_and_padded_tokens_of_the_trainers_batches(batch_size):
    lengths = list(np.random.default_rng(batch_size).integers(1, 90, 301))
    assert timing._batches(np.array(lengths), batch_size) == _totals(lengths, batch_size)


def test_workload_counts_the_rows_and_tokens_the_trainer_will_read():
    recipe = build_recipe({"limit": 500, "mix": "imdb", "mix_limit": 300, "max_len": 40, "batch_size": 32})
    vocab, train_set, val_set = prepare(recipe)
    w = timing.workload(recipe)
    train_lengths, val_lengths = [len(s) for s in train_set.ids], [len(s) for s in val_set.ids]
    assert (w.rows, w.val_rows) == (len(train_set), len(val_set)) == (450 + 300, 50)
    assert (w.batches, w.steps, w.padded_tokens) == _totals(train_lengths, 32)
    assert (w.val_steps, w.val_padded_tokens) == _totals(val_lengths, timing.VAL_BATCH)[1:]
    assert w.evals_per_epoch == recipe.train.evals_per_epoch and w.ema


def test_the_estimate_never_promises_more_than_the_cap():
    recipe = build_recipe({"limit": 500, "mix": None, "epochs": 10})
    per = timing.estimate(recipe).epoch_seconds
    assert per > 0
    roomy = timing.estimate(recipe, cap=per * 20)
    assert roomy.fits and roomy.epochs_in_cap == 10 and roomy.capped_seconds == pytest.approx(per * 10)
    tight = timing.estimate(recipe, cap=per * 2.5)
    assert not tight.fits and not tight.fits_when_busy
    assert tight.epochs_in_cap == pytest.approx(2.5) and tight.capped_seconds == pytest.approx(per * 2.5)
    assert tight.epochs_in_cap_when_busy == pytest.approx(2.5 / timing.BUSY_FACTOR)
    busy = timing.estimate(recipe, cap=per * 15)  # fits at the quiet pace, not at twice that
    assert busy.fits and not busy.fits_when_busy
    race = timing.race(recipe, ("rnn", "gru"), cap=per * 4)
    assert set(race) == {"rnn", "gru"} and all(e.cap == pytest.approx(per * 2) for e in race.values())


def test_the_live_time_left_never_runs_past_the_cap():
    assert timing.remaining_seconds(30.0, 1.0, 10, None) == (pytest.approx(270.0), False)
    assert timing.remaining_seconds(30.0, 1.0, 10, 120.0) == (pytest.approx(90.0), True)  # the cap ends it first
    assert timing.remaining_seconds(30.0, 1.0, 3, 120.0) == (pytest.approx(60.0), False)
    assert timing.remaining_seconds(130.0, 1.0, 10, 120.0) == (0.0, True)
