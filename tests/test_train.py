import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from playground.models import ModelConfig, build
from playground.train import EncodedSet, TrainConfig, Trainer, evaluate, make_batches


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
                                 {"optimizer": "lbfgs"}, {"threads": 0}, {"max_seconds": -1}])
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
    m = _model()
    tr = Trainer(m, _toy(), None, TrainConfig(epochs=1, word_dropout=0.3))
    list(tr.run())
    assert tr.status == "done"


def test_progress_fraction_counts_epochs():
    from playground.train import Progress

    assert Progress("batch", 3, 5, 10, 0.5, 0.5, 1.0).fraction == pytest.approx(2.5)


@pytest.mark.parametrize("name", ["adam", "rmsprop", "sgd"])
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_optimizers_update_exactly_like_torch_optim(name, wd):
    from playground.train import Optimizer

    torch.manual_seed(0)
    ours = [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(7))]
    ref = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    opt = Optimizer(name, ours, lr=0.01, weight_decay=wd)
    torch_opt = {"adam": lambda: torch.optim.Adam(ref, lr=0.01, weight_decay=wd),
                 "rmsprop": lambda: torch.optim.RMSprop(ref, lr=0.01, weight_decay=wd),
                 "sgd": lambda: torch.optim.SGD(ref, lr=0.01, momentum=0.9, weight_decay=wd)}[name]()
    for _ in range(6):
        grads = [torch.randn_like(p) for p in ours]
        for p, q, g in zip(ours, ref, grads):
            p.grad, q.grad = g.clone(), g.clone()
        opt.step()
        torch_opt.step()
    for p, q in zip(ours, ref):
        assert torch.allclose(p, q, atol=1e-6), (name, (p - q).abs().max())


def test_gradient_clipping_matches_torch():
    from playground.train import clip_grad_norm

    torch.manual_seed(1)
    a = [torch.nn.Parameter(torch.randn(4, 4)) for _ in range(3)]
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    for p, q in zip(a, b):
        p.grad = torch.randn_like(p) * 10
        q.grad = p.grad.clone()
    clip_grad_norm(a, 1.0)
    torch.nn.utils.clip_grad_norm_(b, 1.0)
    for p, q in zip(a, b):
        assert torch.allclose(p.grad, q.grad, atol=1e-6)


def test_training_does_not_import_torch_dynamo():
    """torch.optim would import torch._dynamo and sympy (~70 MB) into the serving process."""
    code = ("import sys, numpy as np\n"
            "from playground.models import ModelConfig, build\n"
            "from playground.train import EncodedSet, TrainConfig, Trainer\n"
            "m = build(ModelConfig(arch='gru', vocab_size=50, embed_dim=8, hidden_size=8, max_len=10))\n"
            "d = EncodedSet([np.array([2, 3, 4]), np.array([5, 6])] * 8, np.array([1, 0] * 8, dtype=np.float32))\n"
            "for _ in Trainer(m, d, d, TrainConfig(epochs=1, batch_size=4)).run(): pass\n"
            "print('torch._dynamo' in sys.modules, 'sympy' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.split() == ["False", "False"], out.stderr[-2000:]
