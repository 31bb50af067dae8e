"""The long-range lab (playground/dynamics/lab.py): the task, training runs, stopping, aggregation, the
shipped results and the `lab` command."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from playground.cli.main import build_parser, main
from playground.dynamics import lab
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[2]
DISTRACTORS = set(range(3, 3 + lab.N_DISTRACTORS))


# --- the task -----------------------------------------------------------------------------------
def test_the_task_is_the_same_for_a_seed_and_different_for_another():
    a_ids, a_y = lab.make_task(12, 200, 3)
    b_ids, b_y = lab.make_task(12, 200, 3)
    c_ids, _ = lab.make_task(12, 200, 4)
    assert np.array_equal(a_ids, b_ids) and np.array_equal(a_y, b_y)
    assert not np.array_equal(a_ids, c_ids)
    train, test = lab.make_task(12, 200, lab.train_seed(0, 12))[0], lab.make_task(12, 200, lab.heldout_seed(0, 12))[0]
    assert not np.array_equal(train, test)  # the held-out set comes from another seed


@pytest.mark.parametrize("k", [1, 2, 5, 50])
def test_the_signal_sits_exactly_k_positions_before_the_end_among_distractors(k):
    ids, y = lab.make_task(k, 300, 0)
    assert ids.shape == (300, k) and ids.dtype == np.int64 and y.shape == (300,)
    assert set(np.unique(ids[:, -k])) == {lab.SIGNAL_A, lab.SIGNAL_B}  # both signals occur, at position T - k
    assert set(np.unique(ids[:, 1:])) <= DISTRACTORS  # everything after it is a distractor
    assert np.array_equal(y, (ids[:, -k] == lab.SIGNAL_A).astype(np.float32))
    assert 0.4 < y.mean() < 0.6  # balanced: chance is 50%


def test_the_label_is_decided_by_the_signal_alone():
    ids, y = lab.make_task(20, 100, 1)
    swapped = ids.copy()
    swapped[:, 0] = np.where(ids[:, 0] == lab.SIGNAL_A, lab.SIGNAL_B, lab.SIGNAL_A)
    assert np.array_equal(lab.label_of(swapped), 1 - y)  # swapping the signal flips every label
    rng = np.random.default_rng(9)
    for _ in range(20):  # changing any distractors never changes a label
        other = ids.copy()
        pos = rng.integers(1, 20, 5)
        other[:, pos] = rng.integers(3, 3 + lab.N_DISTRACTORS, (100, 5))
        assert np.array_equal(lab.label_of(other), y)


# --- training -----------------------------------------------------------------------------------
TINY = lab.LabSettings(k=(3,), steps=30, batch_size=16, hidden_size=8, n_test=200)


@pytest.mark.parametrize("cell", lab.ARCHS)
def test_a_tiny_run_of_each_cell_gives_an_accuracy_and_finite_gradients(cell):
    r = lab.train_run(cell, 3, 0, TINY)
    assert 0.0 <= r.test_accuracy <= 1.0 and r.steps == 30 and r.n_test == 200
    c = r.curve
    assert c["step"][0] == 1 and c["step"][-1] == 30 and c["step"] == sorted(set(c["step"]))
    assert all(len(c[key]) == len(c["step"]) for key in ("loss", "grad_signal", "grad_last"))
    assert all(math.isfinite(v) and v >= 0 for key in ("loss", "grad_signal", "grad_last") for v in c[key])
    assert c["grad_signal"][0] > 0  # at initialisation, three steps are not enough to lose the gradient


def test_the_recorded_gradient_is_d_loss_of_each_sequence_by_the_signal_embedding():
    """Step 1's curve point is that step's value alone: recompute it independently of the hook."""
    s = lab.LabSettings(k=(6,), steps=1, batch_size=8, hidden_size=8, n_test=10)
    r = lab.train_run("lstm", 6, 2, s)
    model = lab._model("lstm", 6, s, 2)  # the same weights the run started from
    ids, y = lab.sample(np.random.default_rng(lab.train_seed(2, 6)), 6, 8)  # its first batch
    x = model.embedding(torch.from_numpy(ids)).detach().requires_grad_(True)  # (B, k, E)
    out, _ = model.rnn(x)
    logit = model.readout(out[:, -1]).squeeze(-1)  # (B,)
    per_seq = torch.nn.functional.binary_cross_entropy_with_logits(logit, torch.from_numpy(y), reduction="none")
    (g,) = torch.autograd.grad(per_seq.sum(), x)  # row i: d loss_i / d x_i
    assert r.curve["grad_signal"][0] == pytest.approx(float(g[:, 0].norm(dim=-1).mean()), rel=1e-5)
    assert r.curve["grad_last"][0] == pytest.approx(float(g[:, -1].norm(dim=-1).mean()), rel=1e-5)
    assert r.curve["loss"][0] == pytest.approx(float(per_seq.detach().mean()), rel=1e-5)


def test_a_run_is_reproducible_from_its_seed():
    a, b = lab.train_run("gru", 3, 1, TINY), lab.train_run("gru", 3, 1, TINY)
    assert a.test_accuracy == b.test_accuracy and a.curve == b.curve


def test_a_gated_cell_learns_a_short_distance():
    s = lab.LabSettings(k=(3,), steps=60, batch_size=32, hidden_size=8, n_test=500)
    assert lab.train_run("lstm", 3, 0, s).test_accuracy > 0.9


def test_stopping_between_steps_stops_and_keeps_only_finished_runs():
    s = lab.LabSettings(k=(2, 3), steps=10, batch_size=8, hidden_size=4, n_test=20)
    events = []
    for ev in lab.iter_lab(s, should_stop=lambda: sum(e.kind == "step" for e in events) >= 25, threads=None):
        events.append(ev)
    steps = [ev for ev in events if ev.kind == "step"]
    # asked after every step: 25 steps = two finished runs and five steps of the third, then nothing
    assert len(steps) == 25 and [ev.kind for ev in events].count("run") == 2
    end = events[-1]
    assert end.kind == "end" and end.result["status"] == "stopped" and end.run == 2 and end.runs == 6
    assert len(end.result["runs"]) == 2
    assert (steps[-1].cell, steps[-1].k, steps[-1].step, steps[-1].steps) == ("gru", 2, 5, 10)


def test_closing_the_generator_stops_the_lab():
    s = lab.LabSettings(k=(2,), steps=1000, batch_size=8, hidden_size=4, n_test=20)
    before = torch.get_num_threads()  # 1 in the tests (conftest)
    it = lab.iter_lab(s, threads=before + 1)
    for ev in it:
        assert torch.get_num_threads() == before + 1
        if ev.step == 3:
            break
    it.close()  # what the page's worker does when its session goes: the run ends and the threads come back
    assert ev.kind == "step" and ev.run == 0 and torch.get_num_threads() == before
    with pytest.raises(StopIteration):
        next(it)


def test_a_full_lab_run_reports_every_cell_and_k_and_restores_the_threads():
    s = lab.LabSettings(k=(2, 3), steps=5, batch_size=8, hidden_size=4, n_test=20, seeds=2)
    seen = []
    before = torch.get_num_threads()
    result = lab.run_lab(s, on_progress=seen.append, threads=1)
    assert torch.get_num_threads() == before
    assert result["status"] == "done" and result["k"] == [2, 3] and result["seeds"] == [0, 1]
    assert [ev.kind for ev in seen].count("step") == 3 * 2 * 2 * 5 and seen[-1].kind == "end"
    assert len(result["runs"]) == 12 and len(result["timings"]["per_seed"]) == 2
    json.dumps(result, allow_nan=False)  # plain JSON


def test_settings_are_bounded():
    with pytest.raises(ValueError, match="k must be"):
        lab.LabSettings(k=(0, 5))
    with pytest.raises(ValueError, match="at most"):
        lab.LabSettings(k=(500,), seeds=10, steps=5000, batch_size=256)
    with pytest.raises(ValueError, match="cells"):
        lab.LabSettings(cells=("cnn",))
    with pytest.raises(ValueError, match="k must be"):
        lab.LabSettings(k=(5.5,))
    with pytest.raises(ValueError, match="lr must be"):
        lab.LabSettings(lr=float("nan"))
    with pytest.raises(ValueError, match="unknown lab settings: bogus"):
        lab.LabSettings.from_dict({"bogus": 1})
    assert lab.LabSettings(k=(20, 5, 20)).k == (5, 20)
    assert lab.LabSettings.from_dict(lab.LabSettings().to_dict()) == lab.LabSettings()


# --- aggregation --------------------------------------------------------------------------------
def _run(cell, k, seed, acc, grad=1.0):
    return {"cell": cell, "k": k, "seed": seed, "test_accuracy": acc, "n_test": 100, "steps": 2, "seconds": 1.5,
            "curve": {"step": [1, 2], "loss": [0.7, 0.5], "grad_signal": [grad, grad / 10], "grad_last": [1.0, 1.0]}}


def test_aggregation_by_hand():
    runs = [_run("rnn", 5, 0, 1.0, 1e-1), _run("rnn", 5, 1, 0.9, 1e-3), _run("rnn", 5, 2, 0.8, 1e-9),
            _run("rnn", 20, 0, 0.6), _run("rnn", 20, 1, 0.5), _run("rnn", 20, 2, 0.7),
            _run("rnn", 50, 0, 0.9), _run("rnn", 50, 1, 0.9), _run("rnn", 50, 2, 0.9),
            _run("gru", 20, 1, 0.62), _run("gru", 5, 0, 1.0), _run("gru", 50, 0, 0.5)]
    out = lab.aggregate(runs, lab.LabSettings())
    assert out["k"] == [5, 20, 50] and out["cells"] == ["rnn", "gru"] and out["seeds"] == [0, 1, 2]
    assert out["accuracy"]["rnn"] == pytest.approx([0.9, 0.6, 0.9])
    assert out["spread"]["rnn"] == [[0.8, 1.0], [0.5, 0.7], [0.9, 0.9]]
    assert out["per_seed"]["rnn"][1] == [0.6, 0.5, 0.7]
    assert out["chance_distance"] == {"rnn": 20, "gru": 50}  # the smallest k at or below 0.6; 0.62 is not
    assert out["accuracy"]["gru"] == [1.0, 0.62, 0.5] and out["spread"]["gru"][1] == [0.62, 0.62]
    curve = out["curves"]["rnn"][0]
    assert curve["grad_signal"] == pytest.approx([1e-3, 1e-4])  # the median over seeds
    assert curve["grad_signal_min"] == pytest.approx([1e-9, 1e-10]) and curve["grad_signal_max"][0] == 1e-1
    assert out["timings"]["per_seed"] == [7.5, 6.0, 4.5] and out["timings"]["total"] == 18.0
    assert lab.chance_distance([5, 20], [0.9, 0.61]) is None


def test_the_summary_says_where_each_cell_falls_to_chance_from_the_numbers():
    runs = [_run("rnn", 5, 0, 1.0), _run("rnn", 50, 0, 0.55), _run("lstm", 5, 0, 0.9), _run("lstm", 50, 0, 0.61)]
    lines = lab.summary(lab.aggregate(runs))
    assert lines == ["SimpleRNN: falls to chance at k = 50, TEST accuracy 0.550 (mean over 1 seed; <= 0.6 counts "
                     "as chance).",
                     "LSTM: above 0.6 TEST accuracy at every k up to 50 (mean over 1 seed)."]


def test_missing_distances_are_none_not_errors():
    out = lab.aggregate([_run("lstm", 5, 0, 1.0), _run("gru", 10, 0, 0.5)])
    assert out["accuracy"]["lstm"] == [1.0, None] and out["spread"]["lstm"][1] is None
    assert out["chance_distance"] == {"lstm": None, "gru": 10}
    assert out["curves"]["lstm"][1] is None


# --- the shipped results ------------------------------------------------------------------------
@pytest.mark.parametrize("init", list(lab.SHIPPED_BY_INIT))
def test_the_shipped_results_cover_the_default_grid_with_three_seeds(init):
    d = lab.load_shipped(lab.SHIPPED_BY_INIT[init])
    assert d is not None, f"{lab.SHIPPED_BY_INIT[init]} is missing; build it with {lab.SHIPPED_COMMANDS[init]}"
    assert d["command"] == lab.SHIPPED_COMMANDS[init]
    assert d["k"] == list(lab.DEFAULT_K) and d["cells"] == list(lab.ARCHS) and len(d["seeds"]) >= 3
    for c in lab.ARCHS:
        assert all(len(a) == len(d["seeds"]) for a in d["per_seed"][c])
        for i, (lo, hi) in enumerate(d["spread"][c]):
            assert lo <= d["accuracy"][c][i] <= hi
        assert d["chance_distance"][c] == lab.chance_distance(d["k"], d["accuracy"][c])
        assert [cv["step"][-1] for cv in d["curves"][c]] == [d["settings"]["steps"]] * len(d["k"])
    assert lab.LabSettings.from_dict(d["settings"]) == lab.LabSettings(seeds=len(d["seeds"]), init=init)
    assert lab.SHIPPED_BY_INIT[init].stat().st_size < 1_000_000


@pytest.mark.slow
def test_the_shipped_results_agree_with_a_fresh_run():
    """One finished run of the shipped file, retrained now: the same TEST accuracy (reproducible)."""
    d = lab.load_shipped()
    s = lab.LabSettings.from_dict(d["settings"])
    r = next(r for r in d["runs"] if r["cell"] == "lstm" and r["k"] == 5 and r["seed"] == 1)
    assert lab.train_run("lstm", 5, 1, s).test_accuracy == r["test_accuracy"]


@pytest.mark.parametrize("content", [None, b"", b"not json", b"[1, 2]", b'{"k": [5]}', b"\xff\xfe",
                                     b'{"k": "5", "accuracy": {}, "spread": {}, "chance_distance": {}, '
                                     b'"curves": {}, "settings": {}, "cells": []}'])
def test_a_missing_or_corrupt_results_file_loads_as_none(tmp_path, content):
    f = tmp_path / "lab.json"
    if content is not None:
        f.write_bytes(content)
    assert lab.load_shipped(f) is None


# --- the command line ---------------------------------------------------------------------------
def cli(*args):
    return run_cli(*args)


def test_lab_json_prints_accuracy_spread_and_chance_distance(tmp_path):
    out = tmp_path / "lab.json"
    r = cli("lab", "--k", "3,4", "--seeds", "1", "--steps", "20", "--json", "--out", str(out))
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["k"] == [3, 4] and set(d["accuracy"]) == set(lab.ARCHS) == set(d["chance_distance"])
    assert all(len(d["accuracy"][c]) == 2 and len(d["spread"][c]) == 2 for c in lab.ARCHS)
    assert all(0 <= a <= 1 for c in lab.ARCHS for a in d["accuracy"][c])
    assert d["command"] == f"python -m playground lab --k 3,4 --seeds 1 --steps 20 --json --out {out}"
    assert lab.load_shipped(out) == d  # --out writes the same result, and it loads
    assert r.stderr.count("TEST accuracy") == 6  # one progress line per finished run


def test_lab_prints_a_table_and_where_each_cell_falls_to_chance():
    r = cli("lab", "--k", "2,3", "--seeds", "1", "--steps", "5")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[1].split() == ["k", "SimpleRNN", "LSTM", "GRU"]
    assert [ln.split()[0] for ln in lines[2:4]] == ["2", "3"]
    assert sum(ln.startswith(("SimpleRNN:", "LSTM:", "GRU:")) for ln in lines) == 3


@pytest.mark.parametrize("args,pattern", [(["--k", "5,x"], "--k takes whole numbers"),
                                          (["--k", "0"], "k must be a whole number between 1 and 500"),
                                          (["--seeds", "11"], "seeds must be"),
                                          (["--k", "500", "--seeds", "10", "--steps", "5000"], "at most"),
                                          (["--out", "/no/such/dir/lab.json"], "no such directory")])
def test_lab_errors_are_one_line(args, pattern, capsys):
    assert main(["lab", *args]) == 2  # in process: fast
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and pattern in lines[0]


def test_the_textbook_start_draws_gaussian_recurrent_weights_and_zero_biases():
    from playground.core.models import ModelConfig, build

    cfg = ModelConfig(arch="lstm", vocab_size=11, embed_dim=8, hidden_size=64, num_layers=1, dropout=0.0, max_len=10)
    keras, book = build(cfg, seed=0), build(cfg, seed=0, init="textbook")
    w = book.rnn.weight_hh_l0.detach()  # (4H, H)
    assert abs(float(w.std()) - 1 / 8) < 0.01 and abs(float(w.mean())) < 0.01
    block = keras.rnn.weight_hh_l0.detach()[:64]  # Keras': each block orthogonal
    assert torch.allclose(block @ block.T, torch.eye(64), atol=1e-5)
    assert float(keras.rnn.bias_ih_l0.detach()[64:128].min()) == 1.0  # the forget gate's bias 1 ...
    biases = (book.rnn.bias_ih_l0.detach(), book.rnn.bias_hh_l0.detach())
    assert float(biases[0].abs().max()) == 0.0 == float(biases[1].abs().max())  # ... or 0
    assert torch.equal(keras.rnn.weight_ih_l0, book.rnn.weight_ih_l0)  # the input weights are the same
    with pytest.raises(ValueError, match="init must be one of"):
        build(cfg, init="torch")
    with pytest.raises(ValueError, match="init must be one of"):
        lab.LabSettings(init="nope")


def test_the_keep_gates_start_where_their_biases_put_them():
    s = lab.LabSettings()
    assert lab.initial_keep("rnn") is None
    assert lab.initial_keep("lstm", s) == pytest.approx(1 / (1 + math.exp(-1)), abs=0.02)  # sigmoid(1) = 0.73
    assert lab.initial_keep("lstm", lab.LabSettings(init="textbook")) == pytest.approx(0.5, abs=0.02)
    assert lab.initial_keep("gru", s) == pytest.approx(0.5, abs=0.02)


def test_lab_init_textbook_is_recorded_in_the_command_and_settings():
    r = cli("lab", "--k", "3", "--seeds", "1", "--steps", "3", "--init", "textbook", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["settings"]["init"] == "textbook" and "--init textbook" in d["command"]


def test_the_commands_defaults_are_the_labs():
    args = build_parser().parse_args(["lab"])
    s = lab.LabSettings()
    assert tuple(int(k) for k in args.k.split(",")) == s.k and args.steps == s.steps and args.seeds == s.seeds
