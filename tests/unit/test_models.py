import pytest
import torch

from playground.core.models import ARCHS, ModelConfig, build, count_parameters, layer_summary


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("layers", [1, 2])
def test_summary_counts_match_torch(arch, layers):
    cfg = ModelConfig(arch=arch, vocab_size=50, embed_dim=6, hidden_size=5, num_layers=layers, dropout=0.1)
    assert sum(r["params"] for r in layer_summary(cfg)) == count_parameters(build(cfg))


def test_tutorial_gru100_has_60600_recurrent_parameters():
    rows = layer_summary(ModelConfig(arch="gru", vocab_size=5000, embed_dim=100, hidden_size=100))
    assert [r["params"] for r in rows if r["type"] == "GRU"] == [60600]
    keras = layer_summary(ModelConfig(arch="gru", vocab_size=5000, embed_dim=100, hidden_size=100), "keras")
    assert keras == rows  # Keras' GRU (reset_after=True) keeps two bias vectors, like PyTorch


@pytest.mark.parametrize("arch, torch_count, keras_count", [
    ("lstm", 99_328, 98_816),  # Keras: LSTM(128) on 64 inputs has 98,816 parameters
    ("rnn", 24_832, 24_704),  # Keras: SimpleRNN(128) on 64 inputs, 8,192 + 16,384 + 128
    ("gru", 74_496, 74_496),
])
def test_recurrent_parameters_in_pytorch_and_keras_terms(arch, torch_count, keras_count):
    cfg = ModelConfig(arch=arch, vocab_size=100, embed_dim=64, hidden_size=128)
    count = {conv: [r["params"] for r in layer_summary(cfg, conv) if r["type"] == cfg.title]
             for conv in ("torch", "keras")}
    assert count == {"torch": [torch_count], "keras": [keras_count]}
    rnn_params = sum(p.numel() for p in build(cfg).rnn.parameters())
    assert rnn_params == torch_count
    with pytest.raises(ValueError):
        layer_summary(cfg, "tensorflow")


@pytest.mark.parametrize("bad", [
    {"arch": "transformer"}, {"hidden_size": 0}, {"hidden_size": 10_000}, {"num_layers": 3},
    {"dropout": 1.5}, {"dropout": float("nan")}, {"max_len": 0}, {"embed_dim": 2.5}, {"vocab_size": "big"},
    {"hidden_size": True},
])
def test_config_bounds(bad):
    with pytest.raises(ValueError):
        ModelConfig(**bad)


def test_config_from_dict_refuses_unknown_keys():
    with pytest.raises(ValueError, match="unknown"):
        ModelConfig.from_dict({"arch": "gru", "evil": 1})
    assert ModelConfig.from_dict(ModelConfig().to_dict()) == ModelConfig()


def test_keras_initialisation():
    m = build(ModelConfig(arch="lstm", vocab_size=20, embed_dim=4, hidden_size=3), seed=0)
    b = m.rnn.bias_ih_l0.detach()
    assert torch.equal(b[3:6], torch.ones(3)) and float(b[:3].abs().sum() + b[6:].abs().sum()) == 0
    w = m.rnn.weight_hh_l0.detach()[0:3]
    assert torch.allclose(w @ w.T, torch.eye(3), atol=1e-5)  # orthogonal recurrent block
    assert float(m.embedding.weight.detach()[0].abs().sum()) == 0  # padding row


def test_forward_reads_the_last_real_token():
    m = build(ModelConfig(arch="gru", vocab_size=20, embed_dim=4, hidden_size=3), seed=0).eval()
    ids = torch.tensor([[5, 6, 7, 0, 0], [5, 6, 7, 8, 9]])
    with torch.no_grad():
        padded = m(ids, torch.tensor([3, 5]))
        alone = m(torch.tensor([[5, 6, 7]]))
    assert torch.allclose(padded[0], alone[0], atol=1e-6)
