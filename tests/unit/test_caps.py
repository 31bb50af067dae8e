"""Time caps that hold end to end (issue 26): the command line's train and lab, and a Train-page run.

Each cap test uses settings whose TEST measurement or grid is large against its cap: before the caps
counted every phase, `train --max-seconds` bounded only the training loop (reading all 5,000 IMDB
TEST reviews afterwards took as long as it took), `lab` had no cap at all, and a page run whose
TEST set was large kept all its time for TEST and trained nothing.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from playground.cli.main import main
from playground.dynamics import lab
from playground.evaluation import stats
from playground.training import timing, train
from playground.training.options import build_recipe
from playground.training.train import EncodedSet, predict_sample

ROOT = Path(__file__).resolve().parents[2]
SLACK = 1.10  # the bound: the cap plus 10%
# A network and texts for which reading 5,000 IMDB TEST reviews takes far longer than the caps below.
HEAVY = ["--dataset", "imdb", "--limit", "300", "--max-len", "400", "--arch", "lstm", "--layers", "2",
         "--hidden-size", "128", "--embed-dim", "64", "--epochs", "50", "--batch-size", "16"]


def _cli(args: list[str], timeout: float = 240, slowdown: str = "1") -> tuple[subprocess.CompletedProcess, float]:
    """Run the command line; the slowdown its plan assumes is pinned (the cap itself must hold whatever
    the machine does: that is what these tests check)."""
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PLAYGROUND_SLOWDOWN": slowdown}
    p = subprocess.run([sys.executable, "-m", "playground", *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL, env=env)
    return p, time.perf_counter() - t0


@pytest.mark.slow
def test_cli_train_cap_holds_end_to_end(tmp_path):
    """All 20,000 IMDB TRAIN reviews: reading them takes about 10 s, which the cap now counts."""
    cap = 25.0
    out = tmp_path / "m.safetensors"
    p, wall = _cli(["train", "--dataset", "imdb", "--limit", "all", "--max-len", "400", "--epochs", "50",
                    "--max-seconds", str(cap), "--out", str(out)])
    assert p.returncode == 0, p.stderr
    assert wall <= cap * SLACK, f"{wall:.1f} s against a {cap:g} s cap\n{p.stdout}"
    assert out.exists() and "timeout" in p.stdout
    line = next(x for x in p.stdout.splitlines() if x.startswith("TEST accuracy"))
    assert "5,000 TEST rows" in line and ("on all" in line or ("±" in line and "points (95%)" in line)), line


@pytest.mark.slow
def test_cli_train_cap_leaves_time_to_train_beside_a_large_test_set(tmp_path):
    """5,000 IMDB TEST reviews at 400 tokens for a 2-layer LSTM: TEST gets at most a quarter of the cap
    and is then a sample, said as one with its interval."""
    cap = 14.0
    out = tmp_path / "m.safetensors"
    p, wall = _cli(["train", *HEAVY, "--max-seconds", str(cap), "--out", str(out)])
    assert p.returncode == 0, p.stderr
    assert wall <= cap * SLACK, f"{wall:.1f} s against a {cap:g} s cap\n{p.stdout}"
    line = next(x for x in p.stdout.splitlines() if x.startswith("TEST accuracy"))
    assert "of 5,000 TEST rows, ±" in line and "points (95%)" in line, line


@pytest.mark.slow
def test_cli_train_refuses_a_cap_too_short_before_starting(tmp_path):
    out = tmp_path / "m.safetensors"
    p, wall = _cli(["train", "--dataset", "imdb", "--limit", "all", "--max-len", "400", "--max-seconds", "4",
                    "--out", str(out)])
    assert p.returncode == 2
    assert "too short for these settings" in p.stderr and "--max-seconds at least" in p.stderr
    assert "reading the data" in p.stderr  # the part that does not fit, named
    assert not out.exists() and wall < 15  # refused before reading the data


@pytest.fixture(autouse=True)
def _quiet_machine(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_SLOWDOWN", "1")  # in-process plans and promises: a quiet machine's


def test_load_slowdown_is_measured_and_pinned_by_the_environment(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_SLOWDOWN", "2.5")
    assert timing.load_slowdown() == 2.5
    monkeypatch.delenv("PLAYGROUND_SLOWDOWN")
    monkeypatch.setattr(timing, "_PACES", [])  # no run of an earlier test in this process counts
    timing._SLOWDOWN.clear()
    measured = timing.load_slowdown()
    assert measured >= 1.0 and timing._SLOWDOWN["value"] == measured  # cached for the next reruns
    monkeypatch.setattr(timing, "_PACES", [])
    timing.record_pace(3.0)
    timing.record_pace(5.0)
    timing.record_pace(4.0)
    assert timing.load_slowdown() == 4.0  # the median of this process's recent runs comes first


def test_lab_cli_refuses_a_grid_estimated_past_its_cap(capsys):
    assert main(["lab", "--k", "5,200", "--steps", "3000", "--max-seconds", "5"]) == 2
    err = capsys.readouterr().err
    assert "more than the 5 s cap" in err and "--max-seconds" in err


@pytest.mark.slow
def test_lab_cli_cap_holds_when_the_estimate_is_wrong(monkeypatch, capsys):
    """The estimate says it fits (costs made 100x too small); the deadline still ends it, keeping the
    runs that finished."""
    monkeypatch.setattr(lab, "SPEED", 0.01)
    monkeypatch.setattr(lab, "RUN_FIXED_S", 0.0)
    cap = 4.0
    t0 = time.perf_counter()
    rc = main(["lab", "--k", "5,100", "--steps", "400", "--max-seconds", str(cap), "--json"])
    took = time.perf_counter() - t0
    assert rc == 0
    assert took <= cap * SLACK, f"{took:.1f} s against a {cap:g} s cap"
    assert "cap ended the lab after" in capsys.readouterr().err


@pytest.mark.slow
def test_iter_lab_stops_at_its_deadline():
    s = lab.LabSettings(k=(50,), steps=5000, cells=("gru",))
    t0 = time.perf_counter()
    end = [ev for ev in lab.iter_lab(s, deadline=time.perf_counter() + 1.0) if ev.kind == "end"][0]
    assert time.perf_counter() - t0 < 2.0
    assert end.result["status"] == "cut" and end.result["runs"] == []


def test_lab_estimate_adds_up_and_live_remaining_uses_the_measured_pace():
    s = lab.LabSettings(k=(5, 50), cells=("rnn", "gru"))
    runs = [(c, k) for k in s.k for c in s.cells]
    total = lab.estimate_seconds(s)
    assert total == pytest.approx(sum(lab.run_seconds(c, k, s) for c, k in runs))
    assert lab.run_seconds("gru", 50, s) > lab.run_seconds("gru", 5, s)
    # half the work done in twice its estimated time: the rest is promised at that pace
    half = runs[:2]
    done = sum(lab.run_seconds(c, k, s) for c, k in half)
    left, ratio = lab.remaining(s, half, None, 2 * done)
    assert ratio == pytest.approx(2.0) and left == pytest.approx(2 * (total - done))
    assert lab.remaining(s, [], None, 5.0) == (pytest.approx(total), 1.0)  # too little done to judge yet


def test_page_run_whose_cap_the_data_alone_would_overrun_is_refused_at_once():
    """Reading all 20,000 IMDB reviews takes about 10 s: a 6 s cap is refused when the run gets its
    slot, in a sentence saying what to change, instead of overrunning the cap."""
    from ui.training import Queue, TrainingRun

    recipe = build_recipe({"dataset": "imdb", "limit": None, "max_len": 400, "max_seconds": 6.0})
    run = TrainingRun.single(recipe, "capped", queue=Queue(1), test_limit=2000).start()
    assert run.wait(30)
    assert run.ended - run.started < 3.0
    err = run.result["error"]
    assert err.startswith("Not started: a 6 s cap is too short") and "fewer training rows" in err, err
    assert "--" not in err  # the page's words, not the command line's flags


@pytest.mark.slow
def test_page_run_with_a_large_test_set_trains_and_holds_its_cap():
    from ui.training import Queue, TrainingRun

    values = {"dataset": "imdb", "limit": 300, "max_len": 400, "arch": "lstm", "layers": 2, "hidden_size": 128,
              "embed_dim": 64, "epochs": 50, "batch_size": 16, "max_seconds": 12.0, "threads": 1}
    recipe = build_recipe(values)
    run = TrainingRun.single(recipe, "capped", queue=Queue(1), test_limit=2000).start()
    assert run.wait(60)
    res = run.result
    assert "error" not in res, res.get("error")
    assert res["batch_history"], "it trained"
    assert res["times"]["total"] <= 12.0 * SLACK
    card = res["card"]
    assert card["test_of"] == 5000 and card["test_n"] <= 2000
    assert card["test_margin"] > 0  # a sample of the 5,000 (all 2,000 asked for, or fewer), said with its interval


def test_predict_sample_leaves_out_a_chunk_the_deadline_interrupts(tiny_trained):
    rng = np.random.default_rng(0)
    data = EncodedSet([rng.integers(2, 16, rng.integers(1, 40)) for _ in range(350)], np.zeros(350, np.float32))
    full = predict_sample(tiny_trained.model, data, None)
    assert not np.isnan(full).any()
    past = predict_sample(tiny_trained.model, data, time.perf_counter() - 1)  # the first chunk only, whole
    read = ~np.isnan(past)
    assert read.sum() == 25 and np.allclose(past[read], full[read])
    # a deadline during the third chunk (rows 125-224): the first two are kept, the third left out whole
    calls = []
    real = train.predict_probs

    def counting(model, d, deadline=None):
        calls.append(len(d))
        return real(model, d, time.perf_counter() - 1 if len(calls) == 3 else None)

    import unittest.mock
    with unittest.mock.patch.object(train, "predict_probs", counting):
        cut = predict_sample(tiny_trained.model, data, time.perf_counter() + 60)
    assert calls[:3] == [25, 100, 100] and (~np.isnan(cut)).sum() == 125


def test_accuracy_phrase_gives_the_sample_and_its_interval():
    assert stats.accuracy_phrase(0.776, 250, 1706, "TEST sentences") == \
        "77.6% on 250 of 1,706 TEST sentences, ±4.8 points (95%)"
    assert stats.accuracy_phrase(0.776, 1706, 1706, "TEST sentences") == "77.6% on all 1,706 TEST sentences"
    # without replacement: the interval shrinks to 0 as the sample becomes the whole set
    assert stats.accuracy_margin(0.7, 1000, 1001) < stats.accuracy_margin(0.7, 1000, 100_000)
    assert stats.accuracy_margin(0.7, 5, 5) == 0.0
    assert "not measured" in stats.accuracy_phrase(float("nan"), 0, 100)


def test_plan_prices_the_fixed_parts_and_says_what_to_change():
    recipe = build_recipe({"dataset": "imdb", "limit": None, "max_len": 400})
    p = timing.plan(recipe, 4.0, startup=1.0, slowdown=1.0)
    assert p.data > 5 and not p.fits
    assert "reading the data" in p.refusal() and "--max-seconds at least" in p.refusal()
    assert timing.plan(recipe, 600.0, startup=1.0, slowdown=1.0).refusal() is None
    busy = timing.plan(recipe, 600.0, startup=1.0, slowdown=3.0)
    assert busy.fixed == pytest.approx(1.0 + 3 * (p.data + p.validation + p.test_first))


def test_promise_fits_fewer_epochs_on_a_busier_machine():
    recipe = build_recipe({})
    quiet = timing.promise(recipe, 120.0, slowdown=1.0)
    assert quiet.epochs_fit == recipe.train.epochs and quiet.seconds == pytest.approx(quiet.quiet_seconds)
    slow = timing.promise(recipe, 120.0, slowdown=20.0)
    assert slow.seconds == 120.0 and slow.epochs_fit < recipe.train.epochs
    assert timing.pace_ratio(10.0, 0.01, 5.0) is None and timing.pace_ratio(10.0, 1.0, 5.0) == 2.0
    # a plan the caller already has (made at another slowdown) gives the same promise
    busy_plan = timing.plan(recipe, 120.0, startup=0.0, slowdown=3.0)
    assert timing.promise(recipe, 120.0, slowdown=20.0, priced=busy_plan) == slow
