"""Templated everyday sentences (playground.augment, issue 15)."""
from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np
import pytest

from playground.cli.main import main
from playground.core.cards import check_card
from playground.training import augment
from playground.training.options import build_recipe
from playground.training.recipes import augment_card, prepare
from playground.training.timing import workload

NEGATORS = re.compile(r"\b(not|never|no|nothing|nobody|far from|anything but|hardly)\b|n't\b"
                      r"|\b(could|should) have been (so much|a lot|far) better\b", re.IGNORECASE)
CONNECTIVES = re.compile(r"\b(but|although|though|even though|while|despite|in spite of|however|still|"
                         r"even so|sadly)\b", re.IGNORECASE)


def test_the_same_seed_gives_the_same_sentences_and_another_seed_others():
    a, b, c = augment.generate(300, 4), augment.generate(300, 4), augment.generate(300, 5)
    assert a.texts == b.texts and (a.labels == b.labels).all() and a.kinds == b.kinds
    assert a.texts != c.texts


def test_every_kind_and_domain_is_balanced_by_label():
    g = augment.generate(8000, 0)
    assert len(g.texts) == 8000 and set(np.unique(g.labels)) == {0, 1}
    by = Counter(zip(g.kinds, g.labels.tolist()))
    for kind, share in augment.KINDS.items():
        n = by[(kind, 0)] + by[(kind, 1)]
        assert abs(n / 8000 - share) < 0.03, kind
        assert abs(by[(kind, 1)] / n - 0.5) < 0.05, kind
    for d in augment.DOMAINS:
        ys = g.labels[[x == d.name for x in g.domains]]
        assert abs(len(ys) - 2000) <= 10 and abs(ys.mean() - 0.5) < 0.01, d.name


def test_each_kind_is_built_as_documented():
    g = augment.generate(4000, 1)
    for text, kind in zip(g.texts, g.kinds):
        assert text[0].isupper() and "  " not in text and "{" not in text, text
        if kind == "negation":
            assert NEGATORS.search(text), text
        if kind == "contrast":
            assert CONNECTIVES.search(text), text


def test_plural_subjects_take_plural_verbs():
    plural = [s for d in augment.DOMAINS for s, p in d.subjects if p]
    g = augment.generate(6000, 2)
    for text in g.texts:
        low = text.lower()
        for s in plural:  # ("nothing about the cakes was ..." agrees with "nothing")
            assert not re.search(rf"(?<!nothing about )\b{s} (was|is|wasn't|isn't|was not|is not|does|doesn't)\b",
                                 low), text


def test_no_held_out_sentence_is_ever_generated(tmp_path):
    held = augment.heldout_keys()
    assert len(held) > 600  # the everyday test and development sets and everyday.tsv
    g = augment.generate(20000, 0)
    assert not {augment.norm_key(t) for t in g.texts} & held
    # and the filter works: forbid some generated sentences, they are dropped and counted
    f = tmp_path / "held.tsv"
    f.write_text("".join(f"{t}\t1\n" for t in g.texts[:50]), encoding="utf-8")
    h = augment.generate(2000, 0, exclude=augment.heldout_keys([f]))
    assert h.dropped_heldout > 0 and not {augment.norm_key(t) for t in h.texts} & augment.heldout_keys([f])


def test_a_count_out_of_range_is_refused():
    with pytest.raises(ValueError, match="between 0 and"):
        augment.generate(augment.MAX_SENTENCES + 1)
    assert augment.generate(0).texts == []


def test_a_recipe_trains_on_them_with_true_labels_and_the_card_says_so():
    r0 = build_recipe({"dataset": "rt", "limit": 200, "mix": None, "max_len": 30})
    r1 = build_recipe({"dataset": "rt", "limit": 200, "mix": None, "max_len": 30, "augment": 500})
    vocab0, t0, v0 = prepare(r0)
    vocab, t1, v1 = prepare(r1)
    assert len(t1) == len(t0) + 500 and len(v1) == len(v0)
    assert set(np.unique(t1.labels[-500:])) == {0.0, 1.0}
    # the vocabulary is built from the templated sentences too: their frequent everyday words join it
    assert "wasn't" in vocab and "kettle" not in vocab0 and "kettle" in vocab
    card = augment_card(r1)
    assert card["sentences"] == 500 and card["version"] == augment.VERSION
    assert sum(card[k] for k in augment.KINDS) == 500 and augment_card(r0) is None
    checked, notes = check_card({"augment": card, "name": "x"})
    assert checked["augment"] == card and not notes
    assert workload(r1).rows == workload(r0).rows + 500


@pytest.mark.slow
def test_templated_validation_sentences_are_never_trained_on_and_join_validation():
    from playground.training.recipes import val_augmented

    r1 = build_recipe({"dataset": "rt", "limit": 200, "mix": None, "max_len": 30, "augment": 3000})
    r2 = build_recipe({"dataset": "rt", "limit": 200, "mix": None, "max_len": 30, "augment": 3000,
                       "val_augment": 400})
    _, t1, v1 = prepare(r1)
    _, t2, v2 = prepare(r2)
    assert val_augmented(r1) is None and len(t2) == len(t1) and len(v2) == len(v1) + 400
    va = val_augmented(r2)
    keys = {augment.norm_key(t) for t in va.texts}
    assert len(va.texts) == 400 and sorted(set(va.labels.tolist())) == [0, 1]
    assert not keys & {augment.norm_key(t) for t in augment.generate(3000, r2.train.seed).texts}
    assert not keys & augment.heldout_keys()
    assert va.dropped_heldout > 0  # the training sentences were really excluded (the grammar repeats itself)
    assert list(v2.labels[-400:]) == list(va.labels.astype(np.float32))
    assert augment_card(r2)["validation"] == 400 and "validation" not in augment_card(r1)
    assert workload(r2).val_rows == workload(r1).val_rows + 400 and workload(r2).rows == workload(r1).rows
    with pytest.raises(ValueError, match="val_augment"):
        build_recipe({"dataset": "rt", "val_augment": -1})


def test_the_augment_command_prints_what_training_reads(capsys):
    assert main(["augment", "--n", "12", "--seed", "7", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["summary"]["sentences"] == 12
    g = augment.generate(12, 7)
    assert [r["text"] for r in out["sentences"]] == g.texts
    assert main(["augment", "--n", "3"]) == 0
    lines = capsys.readouterr().out.strip().split("\n")
    assert len(lines) == 3 and all(len(x.split("\t")) == 4 for x in lines)
    assert main(["augment", "--n", "-5"]) == 2


def test_a_model_trained_with_them_saves_and_loads_with_the_augmentation_on_its_card(tmp_path):
    from playground.core import zoo
    from playground.core.models import ModelConfig
    from playground.training.recipes import Recipe, run
    from playground.training.train import TrainConfig

    def recipe(n):
        return Recipe(dataset="rt", train=TrainConfig(epochs=1, threads=1),
                      model=ModelConfig(arch="gru", vocab_size=2000, embed_dim=8, hidden_size=8, max_len=30),
                      train_limit=200, eval_other=False, augment=n)

    for n in (0, 60):  # without: no augment field at all (a null would be refused on loading)
        tm = list(run(recipe(n), f"aug{n}", command="test"))[-1]
        back = zoo.load_path(zoo.save(tm, tmp_path / f"aug{n}.safetensors"))
        assert back.card.get("augment") == (augment_card(recipe(n)) if n else None)
        assert ("templated everyday sentences" in back.card["trained_on"]) == bool(n)
        assert back.card["n_train"] == tm.card["n_train"]
