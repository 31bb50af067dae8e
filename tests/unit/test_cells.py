"""One description per cell: a fourth cell needs only its description (here a ReLU RNN on
torch's nn.RNN(nonlinearity="relu")), and nothing outside cells.py branches on a cell's name."""
import functools
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from playground.core import cells
from playground.core.models import ModelConfig, build, count_parameters, layer_summary
from playground.core.trace import fused_prob, trace
from playground.explain.equations import latex_lines, unit_step
from playground.figures import plots

ROOT = Path(__file__).resolve().parents[2]


def _relu_step(inp, rec, prev):
    pre = inp["pre"] + rec["pre"]
    return {"pre": pre, "h": np.maximum(pre, 0.0)}


RELU_RNN = cells.Cell(
    key="relu", title="ReLU RNN", torch_layer=functools.partial(nn.RNN, nonlinearity="relu"), blocks=("pre",),
    quantities=(cells.Quantity("pre", "pre-activation a", cells.UNBOUNDED, "W x + U h + b before the ReLU"),),
    state=("h",), step=_relu_step,
    unit_latex=lambda s: [rf"h_t = \max(0, {s.values['pre']:.3f}) = {s.h:.3f}"],
    equations=r"h_t = \max(0, W x_t + U h_{t-1} + b)", summary="A SimpleRNN with a ReLU.",
    caption="No gates: h is the ReLU of the pre-activation.", keras_bias_vectors=1, color="#333333",
)


@pytest.fixture
def relu_cell():
    cells.register(RELU_RNN)
    yield RELU_RNN
    del cells.CELLS["relu"]


def test_a_fourth_cell_is_one_description(relu_cell, small_vocab):
    cfg = ModelConfig(arch="relu", vocab_size=len(small_vocab), embed_dim=8, hidden_size=6, num_layers=2)
    m = build(cfg, seed=0).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(1)) * 0.1)
    assert isinstance(m.rnn, nn.RNN) and m.rnn.nonlinearity == "relu"
    tr = trace(m, small_vocab, "good film but not great")
    with torch.no_grad():
        out, _ = m.rnn(m.embedding(torch.tensor([list(tr.ids)])))
    np.testing.assert_allclose(tr.last.h, out[0].double().numpy(), atol=1e-5)  # parity, as for the others
    assert abs(tr.prob - fused_prob(m, tr.ids)) < 1e-5
    assert tr.gate_names == ("pre",) and tr.cell is relu_cell
    assert sum(r["params"] for r in layer_summary(cfg)) == count_parameters(m)
    assert latex_lines(unit_step(tr, 1, 2, 3))[0].startswith(r"h_t = \max(0,")
    assert plots.heatmap(tr, "pre").layout.title.text.startswith("pre-activation a")
    means = plots.gate_means(tr)  # no gates: the pre-activation's mean |value|, named from its description
    assert [d.name for d in means.data] == ["pre-activation a"] and means.layout.annotations[0].text.startswith("pre:")
    assert plots.race_curves({"relu": [{"epoch": 1, "loss": 0.5}]}).data[0].line.color == "#333333"


def test_unknown_cells_are_refused():
    with pytest.raises(ValueError, match="arch must be one of rnn, lstm, gru"):
        ModelConfig(arch="relu")
    with pytest.raises(ValueError, match="unknown cell"):
        cells.cell("transformer")
    with pytest.raises(ValueError):
        cells.register(cells.Cell(**{**RELU_RNN.__dict__, "key": "bad", "state": ("h", "m")}))


@pytest.mark.parametrize("arch", cells.archs())
def test_every_cell_is_fully_described(arch):
    c = cells.cell(arch)
    assert c.title and c.equations and c.summary and c.caption and c.blocks
    assert len({q.name for q in c.quantities}) == len(c.quantities)
    for q in c.quantities:
        assert q.title.endswith(" " + q.name[0]) or q.name == "pre", q.title  # "forget gate f"
        assert q.meaning and q.kind in (cells.GATE, cells.SIGNED, cells.UNBOUNDED)
    assert c.quantity("h") is cells.HIDDEN
    with pytest.raises(KeyError):
        c.quantity("nope")


def test_keras_initial_forget_bias_comes_from_the_description():
    m = build(ModelConfig(arch="lstm", vocab_size=20, embed_dim=4, hidden_size=3), seed=0)
    expected = torch.zeros(12)
    expected[3:6] = 1.0  # block "f" is the second of i, f, g, o
    assert torch.equal(m.rnn.bias_ih_l0.detach(), expected)


# Literal branches on a cell's name: `arch == "lstm"`, `tr.arch in (...)`, dicts keyed by cell names.
_BRANCH = re.compile(r"""(\barch\s*(==|!=|\bin\b|\bnot in\b)\s*[("'\[{])|(\{\s*["'](rnn|lstm|gru)["']\s*:)""")


def test_nothing_outside_cells_branches_on_a_cell_name():
    offenders = []
    paths = [p for folder in ("playground", "views", "ui") for p in (ROOT / folder).rglob("*.py")]  # subpackages too
    assert len(paths) > 40
    for path in [*paths, ROOT / "app.py"]:
        if path.name == "cells.py":
            continue
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _BRANCH.search(line) and "names={" not in line:  # a race's model names are data
                offenders.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
