"""Recipes: what a model learns from (mixing, sentences, distillation labels) and the card."""
import numpy as np
import pytest

from playground.core import zoo
from playground.core.data import load, train_val_split
from playground.core.models import ModelConfig
from playground.training.recipes import (
    Job,
    Race,
    Recipe,
    mix_rows,
    prepare,
    run,
    sample_rows,
    sentences_of,
    soft_labels,
)
from playground.training.train import EncodedSet, TrainConfig, predict_probs


def _recipe(**kw) -> Recipe:
    base = dict(dataset="rt", model=ModelConfig(arch="gru", vocab_size=2000, embed_dim=8, hidden_size=8, max_len=30),
                train=TrainConfig(epochs=1, threads=1), train_limit=200, eval_other=False)
    return Recipe(**{**base, **kw})


def test_sentences_of_splits_reviews_and_keeps_their_labels():
    texts = ["Great film. Loved the cast and the music!<br /><br />Too long though? Yes it is far too long.",
             "Bad. Awful acting from everyone in it."]
    out, labels = sentences_of(texts, np.array([1, 0]), per_text=5)
    assert out == ["Loved the cast and the music!", "Too long though?", "Yes it is far too long.",
                   "Awful acting from everyone in it."]  # sentences under 4 tokens are dropped
    assert labels.tolist() == [1, 1, 1, 0]
    few, _ = sentences_of(texts, np.array([1, 0]), per_text=1, seed=3)
    assert len(few) == 2


def test_mix_rows_is_a_seeded_sample():
    imdb = load("imdb", "train")
    a, ya = mix_rows(_recipe(mix="imdb", mix_limit=50), imdb)
    b, yb = mix_rows(_recipe(mix="imdb", mix_limit=50), imdb)
    assert len(a) == 50 and a == b and (ya == yb).all()
    assert set(ya.tolist()) == {0, 1}  # the file is sorted by label: never just "the first N"


def test_soft_labels_blend_true_labels_with_the_teachers_mean():
    texts = ["a wonderful film", "dull and far too long", "I loved it"]
    y = np.array([1, 0, 1])
    r = _recipe(teachers=("rnn-rt", "gru-rt"))
    tms = [zoo.load_bundled(n) for n in r.teachers]
    mean = np.mean([predict_probs(t.model, EncodedSet.from_texts(t.vocab, texts, y, t.config.max_len)) for t in tms], 0)
    np.testing.assert_allclose(soft_labels(r, texts, y, 0.0), y, atol=1e-6)
    np.testing.assert_allclose(soft_labels(r, texts, y, 1.0), mean, atol=1e-6)
    np.testing.assert_allclose(soft_labels(r, texts, y, 0.8), 0.2 * y + 0.8 * mean, atol=1e-6)


def test_prepare_gives_mixed_rows_their_own_teacher_weight():
    r = _recipe(mix="imdb", mix_limit=10, mix_sentences=2, teachers=("rnn-rt",), teacher_weight=0.5,
                mix_teacher_weight=1.0)
    vocab, train_set, val_set = prepare(r)
    n_primary = 180  # 200 sampled RT rows minus 10% validation
    assert len(val_set) == 20 and set(val_set.labels.tolist()) <= {0.0, 1.0}  # validation keeps true labels
    primary, mixed = train_set.labels[:n_primary], train_set.labels[n_primary:]
    assert 0 < len(mixed) <= 20
    t = zoo.load_bundled("rnn-rt")

    def teacher(texts):
        return predict_probs(t.model, EncodedSet.from_texts(t.vocab, texts, np.zeros(len(texts)), t.config.max_len))

    rt = load("rt", "train")  # the primary rows prepare() used: the seeded sample, minus validation
    keep = sample_rows(len(rt), 200, r.train.seed)
    tr_idx, _ = train_val_split(200, r.val_fraction, r.train.seed)
    texts = [rt.texts[keep[i]] for i in tr_idx]
    y = rt.labels[keep][tr_idx]
    np.testing.assert_allclose(primary, 0.5 * y + 0.5 * teacher(texts), atol=1e-6)
    mix_texts, _ = mix_rows(r, load("imdb", "train"))
    np.testing.assert_allclose(mixed, teacher(mix_texts), atol=1e-6)  # the teacher alone


def test_run_yields_progress_then_a_model_with_its_card():
    out = list(run(_recipe(teachers=("rnn-rt",), teacher_weight=0.3), "tiny", command="test"))
    tm = out[-1]
    assert isinstance(tm, zoo.TrainedModel) and tm.name == "tiny"
    assert out[-2].kind == "end"
    card = tm.card
    assert card["teachers"] == ["rnn-rt"] and card["teacher_weight"] == 0.3 and card["command"] == "test"
    assert 0 < card["test_accuracy"] < 1 and card["n_val"] == 20
    assert "sample of 200" in card["trained_on"]


@pytest.mark.parametrize("bad", [dict(dataset="nope"), dict(mix="nope")])
def test_unknown_datasets_are_refused(bad):
    with pytest.raises(ValueError, match="unknown dataset"):
        prepare(_recipe(**bad))


def test_race_trains_each_cell_on_the_same_prepared_data():
    race = Race(_recipe(), {"rnn": "r", "lstm": "l", "gru": "g"}).prepare()
    vocab, train_set, _ = race.prepared
    out = []
    for job in race.jobs():
        assert job.vocab is vocab and job.trainer.train_set is train_set  # tokenised once
        events = list(job.events())
        assert events[-1].kind == "end"
        out.append(job.finish())
    assert [(tm.name, tm.arch) for tm in out] == [("r", "rnn"), ("l", "lstm"), ("g", "gru")]
    assert all(tm.config.hidden_size == 8 and 0 < tm.card["test_accuracy"] < 1 for tm in out)


@pytest.mark.parametrize("names, kw", [({}, {}), ({"cnn": "x"}, {}), ({"gru": "x"}, {"init_from": "gru-rt"})])
def test_race_refuses_what_it_cannot_do(names, kw):
    with pytest.raises(ValueError):
        Race(_recipe(**kw), names)


def test_finish_after_the_caller_stopped_iterating_keeps_the_best_weights():
    import torch

    job = Job(_recipe(train=TrainConfig(epochs=50, threads=1, evals_per_epoch=4)), "left").prepare()
    events = job.events()  # still referenced: only finish() can end it
    for ev in events:
        if ev.kind == "eval":
            break
    tm = job.finish()
    assert job.trainer.status == "stopped" and tm.card["status"] == "stopped"
    best = job.trainer.best_state
    assert all(torch.allclose(tm.model.state_dict()[k], best[k].float(), atol=1e-2) for k in best)  # float16 embedding


def test_a_run_without_validation_has_no_validation_accuracy_on_its_card():
    tm = list(run(_recipe(val_fraction=0.0), "noval"))[-1]
    card = tm.card
    assert card["n_val"] == 0 and card["val_accuracy"] is None and card["n_train"] == 200
    assert "no validation" in card["trained_on"] and card["status"] == "done"
    assert all(h["val_acc"] is None for h in card["history"])


def test_finish_keeps_each_test_rows_correctness_for_paired_tests():
    job = Job(_recipe(), name="t").prepare()
    for _ in job.events():
        pass
    tm = job.finish()
    assert job.test_correct.shape == (1706,) and job.test_correct.dtype == bool
    assert job.test_correct.mean() == pytest.approx(tm.card["test_accuracy"], abs=5e-5)
