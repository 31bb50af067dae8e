import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from playground.core.models import ModelConfig, build
from playground.training.train import EncodedSet, TrainConfig, Trainer, evaluate, make_batches


def _toy(n=256, seed=0):
    """Label 1 iff token 2 ("good") appears more often than token 3 ("bad")."""
    rng = np.random.default_rng(seed)
    ids, labels = [], []
    for _ in range(n):
        seq = rng.integers(2, 10, rng.integers(3, 12))
        ids.append(seq)
        labels.append(float((seq == 2).sum() > (seq == 3).sum()))
    return EncodedSet(ids, np.array(labels, dtype=np.float32))


def _model(arch="gru"):
    return build(ModelConfig(arch=arch, vocab_size=10, embed_dim=8, hidden_size=16, max_len=20), seed=0)


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_learns_a_toy_task_and_reports(arch):
    train, val = _toy(512), _toy(128, seed=1)
    m = _model(arch)
    before = evaluate(m, val)[0]
    events = list(Trainer(m, train, val, TrainConfig(epochs=4, lr=1e-2, evals_per_epoch=2)).run())
    kinds = {e.kind for e in events}
    assert {"batch", "eval", "epoch", "end"} <= kinds
    assert events[-1].status == "done"
    assert evaluate(m, val)[0] < before
    assert all(e.elapsed >= 0 and 0 <= e.acc <= 1 for e in events)


def test_reproducible_from_seed():
    def run():
        m = _model()
        list(Trainer(m, _toy(), None, TrainConfig(epochs=1, seed=7)).run())
        return [p.detach().clone() for p in m.parameters()]

    assert all(torch.equal(a, b) for a, b in zip(run(), run()))


def test_stop_between_batches_keeps_best_weights():
    m = _model()
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] > 3

    tr = Trainer(m, _toy(), _toy(64, 1), TrainConfig(epochs=3, batch_size=16), should_stop=stop)
    events = list(tr.run())
    assert tr.status == "stopped" and events[-1].status == "stopped"
    assert len(tr.batch_history) == 3
    assert tr.best_state is not None  # the partial epoch was validated and kept
    for k, v in m.state_dict().items():
        assert torch.equal(v, tr.best_state[k])


def test_closing_the_generator_stops_cleanly():
    m = _model()
    tr = Trainer(m, _toy(), _toy(64, 1), TrainConfig(epochs=3, batch_size=16))
    gen = tr.run()
    for _ in range(5):
        next(gen)
    gen.close()
    assert tr.status == "stopped" and not m.training


def test_time_cap():
    tr = Trainer(_model(), _toy(), None, TrainConfig(epochs=100, max_seconds=0.2))
    events = list(tr.run())
    assert tr.status == "timeout" and "time cap" in events[-1].message


def test_learning_rate_10_diverges_with_a_clear_message():
    m = _model()
    tr = Trainer(m, _toy(), _toy(64, 1), TrainConfig(epochs=3, lr=10.0, optimizer="adam"))
    events = list(tr.run())
    assert tr.status == "diverged" and "smaller learning rate" in events[-1].message
    assert all(torch.isfinite(p).all() for p in m.parameters())


def test_nan_loss_diverges():
    m = _model()
    with torch.no_grad():
        m.embedding.weight[2:].fill_(float("nan"))
    tr = Trainer(m, _toy(), None, TrainConfig(epochs=1))
    list(tr.run())
    assert tr.status == "diverged" and "nan" in tr.message.lower()


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"lr": 0}, {"lr": 11}, {"lr": math.nan}, {"batch_size": 0},
                                 {"optimizer": "lbfgs"}, {"threads": 0}, {"max_seconds": -1},
                                 {"recurrent_norm": -1}, {"recurrent_norm": math.inf},
                                 {"recurrent_radius": -1}])
def test_train_config_bounds(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad)


def test_bucketing_groups_similar_lengths():
    lengths = np.array([1, 50, 2, 49, 3, 48, 4, 47])
    batches = make_batches(lengths, 4, None)
    assert sorted(lengths[batches[0]].tolist()) == [1, 2, 3, 4]
    shuffled = make_batches(lengths, 4, np.random.default_rng(0))
    assert sorted(np.concatenate(shuffled).tolist()) == list(range(8))


def test_empty_training_set_is_refused():
    with pytest.raises(ValueError, match="empty"):
        Trainer(_model(), EncodedSet([], np.zeros(0, dtype=np.float32)), None)


def test_moving_average_of_weights_is_what_is_kept():
    m = _model()
    tr = Trainer(m, _toy(512), _toy(128, 1), TrainConfig(epochs=2, lr=1e-2, ema=0.9, evals_per_epoch=2))
    events = list(tr.run())
    assert tr.status == "done" and events[-1].val_acc is not None
    for k, v in m.state_dict().items():  # the model holds the best (averaged) snapshot
        assert torch.equal(v, tr.best_state[k])
    assert evaluate(m, _toy(128, 1))[1] == pytest.approx(tr.best_val_acc)


def test_word_dropout_keeps_padding_and_trains():
    from playground.core.text import PAD_ID, UNK_ID

    m = _model()
    train, val = _toy(512), _toy(128, seed=1)  # real tokens are 2..9: never <pad> (0) or <unk> (1)
    seen = {"pad": 0, "pad_kept": 0, "real": 0, "unk": 0, "batches": 0}

    def look(module, args):
        if not module.training:  # validation reads the texts as they are
            return
        ids, lens = args
        pad = torch.arange(ids.shape[1])[None, :] >= lens[:, None]  # (B, T) right padding
        seen["batches"] += 1
        seen["pad"] += int(pad.sum())
        seen["pad_kept"] += int((ids[pad] == PAD_ID).sum())
        seen["real"] += int((~pad).sum())
        seen["unk"] += int((ids[~pad] == UNK_ID).sum())
        assert not (ids[~pad] == PAD_ID).any()  # a dropped word becomes <unk>, never <pad>

    m.register_forward_pre_hook(look)
    before = [p.detach().clone() for p in m.parameters()]
    loss_before = evaluate(m, val)[0]
    tr = Trainer(m, train, val, TrainConfig(epochs=3, lr=1e-2, word_dropout=0.3))
    list(tr.run())
    assert tr.status == "done" and seen["batches"] == len(tr.batch_history)
    assert seen["pad"] > 100 and seen["pad_kept"] == seen["pad"]  # padding is never read as <unk>
    assert 0.25 < seen["unk"] / seen["real"] < 0.35  # about 30% of the words were dropped
    assert any(not torch.equal(a, b) for a, b in zip(before, m.parameters()))
    assert evaluate(m, val)[0] < loss_before - 0.05  # and it still learned the task


def test_progress_fraction_counts_epochs():
    from playground.training.train import Progress

    assert Progress("batch", 3, 5, 10, 0.5, 0.5, 1.0).fraction == pytest.approx(2.5)


@pytest.mark.slow
def test_training_does_not_import_torch_dynamo():
    """torch.optim's optimizers would import torch._dynamo and sympy (~75 MB) into the serving
    process; the clipping and moving average used (ema, clip) must not."""
    code = ("import sys, numpy as np\n"
            "from playground.core.models import ModelConfig, build\n"
            "from playground.training.train import EncodedSet, TrainConfig, Trainer\n"
            "m = build(ModelConfig(arch='gru', vocab_size=50, embed_dim=8, hidden_size=8, max_len=10))\n"
            "d = EncodedSet([np.array([2, 3, 4]), np.array([5, 6])] * 8, np.array([1, 0] * 8, dtype=np.float32))\n"
            "for _ in Trainer(m, d, d, TrainConfig(epochs=1, batch_size=4, ema=0.9, clip=1.0)).run(): pass\n"
            "print('torch._dynamo' in sys.modules, 'sympy' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.split() == ["False", "False"], out.stderr[-2000:]


def _final_weights_run(ema: float):
    """Train without validation; return (model, the live weights after the last step, their EMA)."""
    m = _model()
    params = [p for p in m.parameters() if p.requires_grad]
    avg = [p.detach().clone() for p in params]  # h_0 of the average: the initial weights
    live = None
    for ev in Trainer(m, _toy(512), None, TrainConfig(epochs=4, lr=1e-2, ema=ema)).run():
        if ev.kind == "end":
            break
        # every event but "end" comes right after an optimizer step (and the EMA update)
        live = [p.detach().clone() for p in params]
        for a, p in zip(avg, live):
            a.lerp_(p, 1.0 - ema)
    return m, params, live, avg


def test_without_validation_the_final_weights_are_kept():
    """Issue 9 item 4: `--val-fraction 0` used to return the weights of the first checkpoint."""
    m, params, live, _ = _final_weights_run(ema=0.0)
    for p, q in zip(params, live):
        assert torch.equal(p.detach(), q)


def test_without_validation_the_final_moving_average_is_kept():
    m, params, live, avg = _final_weights_run(ema=0.9)
    for p, a in zip(params, avg):
        assert torch.allclose(p.detach(), a, atol=1e-6)
    assert any(not torch.equal(p.detach(), q) for p, q in zip(params, live))  # the average, not the live weights


def test_without_validation_there_is_no_validation_accuracy():
    tr = Trainer(_model(), _toy(), None, TrainConfig(epochs=2))
    events = list(tr.run())
    assert tr.status == "done" and tr.best_val_acc is None and events[-1].val_acc is None
    assert tr.best_epoch == 2


@pytest.mark.parametrize("ema", [0.0, 0.9])
def test_the_kept_checkpoint_is_named_by_its_history_row_and_scores_its_validation_accuracy(ema):
    """The Train page marks the kept weights on the curves at `best_at`: that must be the history
    row with the best validation accuracy (the first, on a tie), and the model left holding
    weights that score exactly that accuracy. With a moving average, validation scores the
    average (`scored_model`), not the live weights."""
    train, val = _toy(512), _toy(128, seed=1)
    m = _model()
    tr = Trainer(m, train, val, TrainConfig(epochs=3, lr=1e-2, evals_per_epoch=3, ema=ema))
    list(tr.run())
    accs = [h["val_acc"] for h in tr.history]
    best = int(np.argmax(accs))
    assert tr.best_at == pytest.approx(tr.history[best]["epoch"]) and tr.best_val_acc == accs[best]
    assert evaluate(m, val)[1] == pytest.approx(accs[best])
    assert tr.averaged is (ema > 0) and (tr.scored_model is not m) is (ema > 0)


def _largest(W: torch.Tensor, kind: str) -> list[float]:
    """The largest singular value of the whole matrix, or the spectral radius of each gate's block."""
    if kind == "recurrent_norm":
        return [float(torch.linalg.matrix_norm(W, 2))]
    h = W.shape[1]
    return [float(torch.linalg.eigvals(W[k * h:(k + 1) * h]).abs().max()) for k in range(W.shape[0] // h)]


@pytest.mark.parametrize("kind,cap", [("recurrent_norm", 0.5), ("recurrent_radius", 0.7)])
@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_recurrent_caps_hold_after_training_and_the_model_still_learns(arch, kind, cap):
    """--recurrent-norm / --recurrent-radius: after every step the recurrent matrix's largest singular
    value (all gates stacked) / each gate block's spectral radius is at most the cap; the other
    weights are left alone, and the model still learns."""
    train, val = _toy(512), _toy(128, seed=1)
    m = _model(arch)
    with torch.no_grad():
        m.rnn.weight_hh_l0.mul_(20.0)  # far above the cap to begin with
    assert max(_largest(m.rnn.weight_hh_l0.detach().double(), kind)) > 5 * cap
    before = evaluate(m, val)[0]
    emb = m.embedding.weight.detach().clone()
    events = list(Trainer(m, train, val, TrainConfig(epochs=3, lr=1e-2, **{kind: cap})).run())
    assert events[-1].status == "done"
    sizes = _largest(m.rnn.weight_hh_l0.detach().double(), kind)
    assert len(sizes) == (1 if kind == "recurrent_norm" else {"rnn": 1, "gru": 3, "lstm": 4}[arch])
    assert max(sizes) <= cap + 1e-6
    assert not torch.equal(m.embedding.weight.detach(), emb)
    assert evaluate(m, val)[0] < before
    # on the card only when on, so cards written before these options still match their recipes
    assert TrainConfig(**{kind: cap}).to_dict()[kind] == cap and kind not in TrainConfig().to_dict()
