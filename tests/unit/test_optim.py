"""The hand-written optimizers (playground/training/optim.py) update exactly like torch.optim."""
import pytest
import torch

from playground.training.optim import OPTIMIZERS, Optimizer


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_optimizers_update_exactly_like_torch_optim(name, wd):
    torch.manual_seed(0)
    ours = [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(7))]
    ref = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    start = [p.detach().clone() for p in ours]
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
    assert all((p - s).abs().max() > 1e-3 for p, s in zip(ours, start))  # they did move


def test_zero_grad_and_unknown_names():
    p = torch.nn.Parameter(torch.ones(2))
    p.grad = torch.ones(2)
    opt = Optimizer("adam", [p], lr=0.1)
    opt.zero_grad()
    assert p.grad is None
    opt.step()  # no gradient: nothing moves
    assert torch.equal(p.detach(), torch.ones(2))
    with pytest.raises(ValueError, match="optimizer must be one of"):
        Optimizer("lbfgs", [p], lr=0.1)
