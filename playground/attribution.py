"""Word importance: how much each token pushes the prediction towards positive (+) or negative (-).

Methods (all signed, one value per token read):
- "occlusion"  leave-one-out: P(text) - P(text without this token), fused forward, one batch.
- "ig"         integrated gradients (Captum's LayerIntegratedGradients on the embedding layer,
               baseline = padding embedding), in logit units; sums to logit(text) - logit(baseline).
- "grad_x_input" gradient x embedding (Captum's LayerGradientXActivation), in logit units.
- "delta"      the change of the traced probability at each step: p_t - p_(t-1). Free, and what
               the prediction-after-each-word chart shows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .models import SentimentRNN
from .trace import Trace

METHODS = {
    "occlusion": "Leave one out (change in probability when the word is removed)",
    "ig": "Integrated gradients (Captum), logit units",
    "grad_x_input": "Gradient x input (Captum), logit units",
    "delta": "Step change of the prediction after each word",
}
SHORT_NAMES = {"occlusion": "Leave one out", "ig": "Integrated gradients",
               "grad_x_input": "Gradient x input", "delta": "Step change"}


@dataclass(frozen=True)
class Attribution:
    method: str
    tokens: tuple[str, ...]
    scores: np.ndarray  # (T,) signed; > 0 pushes towards positive
    unit: str  # "probability" or "logit"

    def normalised(self) -> np.ndarray:
        """Scores scaled to [-1, 1] by the largest magnitude (all zeros stays zeros)."""
        m = float(np.max(np.abs(self.scores))) if len(self.scores) else 0.0
        return self.scores / m if m > 0 else np.zeros_like(self.scores)


class _LogitOf(torch.nn.Module):
    """Adapter so Captum sees forward(ids) -> logit (B,)."""

    def __init__(self, model: SentimentRNN):
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model(ids)


@torch.no_grad()
def _occlusion(model: SentimentRNN, ids: list[int]) -> np.ndarray:
    T = len(ids)
    full = torch.tensor([ids], dtype=torch.long)
    p_full = torch.sigmoid(model(full))[0]
    if T == 1:
        return np.array([float(p_full) - float(torch.sigmoid(torch.tensor(model.empty_logit())))])
    variants = torch.tensor([ids[:t] + ids[t + 1:] for t in range(T)], dtype=torch.long)  # (T, T-1)
    p = torch.sigmoid(model(variants))  # (T,)
    return (p_full - p).double().numpy()


def _captum(model: SentimentRNN, ids: list[int], method: str, steps: int) -> np.ndarray:
    from captum.attr import LayerGradientXActivation, LayerIntegratedGradients

    wrapped = _LogitOf(model)
    inp = torch.tensor([ids], dtype=torch.long)
    with torch.enable_grad():  # eval mode (no dropout); CPU RNNs backpropagate in eval mode
        if method == "ig":
            algo = LayerIntegratedGradients(wrapped, model.embedding)
            attr = algo.attribute(inp, baselines=torch.zeros_like(inp), n_steps=steps,
                                  internal_batch_size=steps)
        else:
            algo = LayerGradientXActivation(wrapped, model.embedding)
            attr = algo.attribute(inp)
    return attr.detach().sum(-1)[0].double().numpy()  # (T,) summed over embedding dims


def attribute(model: SentimentRNN, tr: Trace, method: str = "occlusion", ig_steps: int = 32) -> Attribution:
    """Importance of each token in `tr` (the trace fixes which tokens were read)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    ids = list(tr.ids)
    if not ids:
        return Attribution(method, (), np.zeros(0), "probability")
    was = model.training
    model.eval()
    try:
        if method == "delta":
            prev = np.concatenate([[tr.prob0], tr.step_probs[:-1]])
            scores, unit = tr.step_probs - prev, "probability"
        elif method == "occlusion":
            scores, unit = _occlusion(model, ids), "probability"
        else:
            scores, unit = _captum(model, ids, method, ig_steps), "logit"
    finally:
        model.train(was)
    return Attribution(method, tr.tokens, np.asarray(scores, dtype=np.float64), unit)
