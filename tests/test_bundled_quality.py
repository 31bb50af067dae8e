"""The six bundled models: TEST accuracy as claimed on their cards and at least the targets,
and sensible verdicts on everyday sentences that are not from either dataset."""
from pathlib import Path

import pytest

from playground import zoo
from playground.recipes import heldout_set
from playground.train import EncodedSet, evaluate, predict_probs, torch_threads

TARGETS = zoo.TARGETS
EVERYDAY = Path(__file__).parent / "data" / "everyday.tsv"


@pytest.fixture(autouse=True)
def _one_thread():  # overrides conftest's: evaluating 5,000 reviews goes faster on both cores
    with torch_threads(2):
        yield


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.BUNDLED)
def test_test_accuracy_matches_card_and_target(name):
    tm = zoo.load_bundled(name)
    _, acc = evaluate(tm.model, heldout_set(tm.vocab, tm.dataset, tm.config.max_len))
    assert acc == pytest.approx(tm.card["test_accuracy"], abs=6e-4), "card disagrees with a fresh evaluation"
    assert acc >= TARGETS[name]


@pytest.mark.parametrize("name", zoo.BUNDLED)
def test_everyday_sentences(name):
    tm = zoo.load_bundled(name)
    rows = [line.rsplit("\t", 1) for line in EVERYDAY.read_text(encoding="utf-8").splitlines() if line.strip()]
    data = EncodedSet.from_texts(tm.vocab, [t for t, _ in rows], [int(y) for _, y in rows], tm.config.max_len)
    acc = float(((predict_probs(tm.model, data) >= 0.5) == (data.labels >= 0.5)).mean())
    assert acc >= 0.75, f"{name} gets only {acc:.0%} of everyday sentences right"
