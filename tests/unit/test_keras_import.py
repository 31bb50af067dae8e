"""A reader's own Keras model (playground/core/keras_import.py, issue 29): parity with Keras' own predictions
recorded once (scripts/keras_fixtures.py, Keras 3.15.1 on the torch backend; Keras is not installed here),
the tutorials' text encoding, and hostile files refused with one sentence."""
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from playground.core import keras_import as ki
from playground.core import zoo
from playground.core.trace import trace
from tests.conftest import run_cli

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
DOC = json.loads((FIX / "parity.json").read_text())
INDEX = json.loads((FIX / "word_index.json").read_text())
KINDS = ("simplernn", "lstm", "gru", "lstm2", "gru_v1")


def _open(kind: str, ext: str):
    return ki.read((FIX / f"{kind}.{ext}").read_bytes(), kind, word_index=INDEX)


@pytest.mark.parametrize("ext", ["keras", "h5"])
@pytest.mark.parametrize("kind", KINDS)
def test_p_positive_equals_keras_own_predictions(kind, ext):
    tm = _open(kind, ext)
    ids = [tm.vocab.encode_ids(t) for t in DOC["texts"]]
    assert ids == DOC["ids"]  # the tutorials' ids: start token, rank + 3, OOV 2, pre-padded with zeros
    with torch.no_grad():
        fused = torch.sigmoid(tm.model(torch.tensor(ids))).numpy()
    keras = np.array(DOC["predictions"][kind])
    assert len(keras) >= 50 and np.max(np.abs(fused - keras)) <= 1e-5
    traced = np.array([trace(tm.model, tm.vocab, t).prob for t in DOC["texts"][:10]])  # the pages' exact re-run
    assert np.max(np.abs(traced - keras[:10])) <= 1e-5
    assert tm.arch == {"simplernn": "rnn", "lstm": "lstm", "gru": "gru", "lstm2": "lstm", "gru_v1": "gru_rb"}[kind]
    assert tm.config.num_layers == (2 if kind == "lstm2" else 1) and tm.config.max_len == DOC["maxlen"]
    assert tm.card["source_format"] == ext and tm.source == "keras"


TF_DOC = json.loads((FIX / "parity_tf_keras.json").read_text())


@pytest.mark.parametrize("kind", KINDS)
def test_tf_keras_2_h5_files_equal_their_own_predictions(kind):
    """tf-keras 2.21's legacy .h5 names its weights "layer/cell/kernel:0": read from the weight_names
    attribute, never a fixed path."""
    tm = ki.read((FIX / f"tfk_{kind}.h5").read_bytes(), kind, word_index=INDEX)
    ids = [tm.vocab.encode_ids(t) for t in TF_DOC["texts"]]
    assert ids == TF_DOC["ids"] and TF_DOC["keras"].startswith("2.")
    with torch.no_grad():
        fused = torch.sigmoid(tm.model(torch.tensor(ids))).numpy()
    assert np.max(np.abs(fused - np.array(TF_DOC["predictions"][kind]))) <= 1e-5


def test_the_text_is_read_as_the_tutorials_read_it():
    tm = _open("lstm", "keras")
    enc = tm.vocab.encode("The film, a MASTERPIECE! zyzzyva")
    k = DOC["maxlen"] - 6
    assert enc.tokens == ("<pad>",) * k + ("<start>", "the", "film", "a", "masterpiece", "zyzzyva")
    assert enc.ids[k:] == (1, INDEX["the"] + 3, INDEX["film"] + 3, INDEX["a"] + 3, INDEX["masterpiece"] + 3, 2)
    assert enc.oov[-1] and not any(enc.oov[:-1])
    assert set(enc.ids[:k]) == {0} and len(enc.ids) == DOC["maxlen"]  # pre-padding the model reads
    # a word whose rank + index_from reaches num_words is OOV, as keras.datasets.imdb's num_words does
    far = ki.KerasText({"rare": 500}, num_words=300, maxlen=None)
    assert far.encode("rare").ids == (1, 2)
    long = tm.vocab.encode(" ".join(["the"] * 100))
    assert len(long.ids) == DOC["maxlen"] and long.truncated  # cut from the front, like pad_sequences


def test_a_gru_with_reset_after_false_gets_its_own_cell_and_is_never_offered_for_training():
    """Keras 2.2-2.3's default GRU applies the reset before U_n: its own cell, exact, but not trainable here."""
    from playground.core import cells
    from playground.core.models import ARCHS

    tm = _open("gru_v1", "h5")
    assert tm.arch == "gru_rb" and cells.cell("gru_rb").recurrent is not None
    assert "gru_rb" not in ARCHS and "gru_rb" not in cells.archs() and "gru_rb" in cells.CELLS
    tr = trace(tm.model, tm.vocab, DOC["texts"][0])  # the recorded recurrent part of n is U_n (r * h)
    H = tm.config.hidden_size
    w_hh = tm.model.rnn.weight_hh_l0.detach().double().numpy()
    r, h_prev = tr.last.gates["r"][5], tr.last.h[4]
    np.testing.assert_allclose(tr.last.parts["n"][1][5], w_hh[2 * H:] @ (r * h_prev), atol=1e-12)


def _zip(config: dict | str, weights: bytes | None = None, extra: dict | None = None) -> bytes:
    src = zipfile.ZipFile(FIX / "lstm.keras")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("metadata.json", src.read("metadata.json"))
        z.writestr("config.json", config if isinstance(config, str) else json.dumps(config))
        z.writestr("model.weights.h5", src.read("model.weights.h5") if weights is None else weights)
        for k, v in (extra or {}).items():
            z.writestr(k, v)
    return buf.getvalue()


def _config() -> dict:
    return json.loads(zipfile.ZipFile(FIX / "lstm.keras").read("config.json"))


def _hostile() -> dict:
    lam = _config()
    lam["config"]["layers"].insert(2, {"class_name": "Lambda", "config": {"function": "os.system('x')"}})
    shapes = _config()
    shapes["config"]["layers"][2]["config"]["units"] = 9  # the weights have 8
    nested = _config()
    nested["class_name"] = "MyModel"
    relu = _config()
    relu["config"]["layers"][2]["config"]["activation"] = "relu"
    hard = _config()
    hard["config"]["layers"][2]["config"]["recurrent_activation"] = "hard_sigmoid"
    two_outputs = _config()
    two_outputs["config"]["layers"][-1]["config"]["units"] = 2
    return {"random bytes": (b"\x00garbage" * 100, "neither a .keras file"),
            "a truncated zip": ((FIX / "lstm.keras").read_bytes()[:2000], "not a readable zip"),
            "a truncated h5": ((FIX / "lstm.h5").read_bytes()[:3000], "not a readable HDF5"),
            "a Lambda layer": (_zip(lam), "'Lambda' layer"),
            "units that do not match the weights": (_zip(shapes), "has shape"),
            "a subclassed model": (_zip(nested), "only Sequential models"),
            "a relu activation": (_zip(relu), "only tanh"),
            "Keras 2.2's hard sigmoid": (_zip(hard), "hard_sigmoid"),
            "two outputs": (_zip(two_outputs), "Dense(1, activation='sigmoid')"),
            "a config that is not JSON": (_zip("{not json"), "cannot be read"),
            "weights that are not HDF5": (_zip(_config(), weights=b"nope" * 10), "not a readable HDF5"),
            "a zip bomb": (_zip(_config(), extra={"pad.bin": b"\x00" * (4 * 2**20)}), "zip bomb"),
            "over 64 MiB": (b"PK\x03\x04" + b"\x00" * (64 * 2**20), "at most 64 MiB")}


@pytest.mark.parametrize("what", list(_hostile()))
def test_a_hostile_or_broken_file_gets_one_sentence_never_a_traceback(what):
    data, said = _hostile()[what]
    with pytest.raises(ki.KerasFileError) as e:
        ki.read(data, "x", word_index=INDEX)
    msg = str(e.value)
    assert said in msg and "\n" not in msg and len(msg) < 400
    assert isinstance(e.value, zoo.ModelFileError)  # the command line prints it as one "error:" line


def test_nan_weights_and_an_h5_of_weights_only_are_refused():
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_dataset("w", data=np.zeros(3))
    with pytest.raises(ki.KerasFileError, match="weights only"):
        ki.read(buf.getvalue())
    src = zipfile.ZipFile(FIX / "lstm.keras").read("model.weights.h5")
    out = io.BytesIO(src)
    with h5py.File(out, "r+") as f:
        f["layers/lstm/cell/vars/0"][0, 0] = np.nan
    with pytest.raises(ki.KerasFileError, match="NaN"):
        ki.read(_zip(_config(), weights=out.getvalue()))


def test_a_word_index_file_is_checked():
    assert ki.load_word_index(json.dumps({"good": 1}).encode()) == {"good": 1}
    for bad in (b"[1, 2]", b"{\"good\": -1}", b"{\"good\": \"1\"}", b"\xff\xfe", b"{"):
        with pytest.raises(ki.KerasFileError):
            ki.load_word_index(bad)


def test_the_command_line_opens_a_keras_file_with_the_word_index_beside_it():
    text = DOC["texts"][3]
    r = run_cli("predict", "--model", str(FIX / "gru.keras"), "--json", text)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["prob"] == pytest.approx(DOC["predictions"]["gru"][3], abs=1e-5)
    r = run_cli("predict", "--model", str(FIX / "tfk_gru_v1.h5"), "--json", text)
    assert json.loads(r.stdout)["prob"] == pytest.approx(TF_DOC["predictions"]["gru_v1"][3], abs=1e-5)


def test_a_keras_model_exports_as_this_projects_card_and_reads_the_same():
    """Item 3: a .safetensors card keeps the words at their ids, the encoding and float32 weights, so the file
    gives Keras' own predictions and reads text the same way."""
    tm = _open("lstm2", "h5")
    back = zoo.from_bytes(zoo.to_bytes(tm), source="file")
    assert isinstance(back.vocab, ki.KerasText) and back.vocab.itos == tm.vocab.itos
    for t in DOC["texts"][:20]:
        assert back.vocab.encode(t) == tm.vocab.encode(t)
    ids = torch.tensor(DOC["ids"])
    with torch.no_grad():
        p = torch.sigmoid(back.model(ids)).numpy()
    assert np.max(np.abs(p - np.array(DOC["predictions"]["lstm2"]))) <= 1e-5
    assert back.card["keras_index_from"] == 3 and back.card["keras_maxlen"] == DOC["maxlen"]
    assert back.dataset == "imdb" and not back.heldout and back.texts_caveat == tm.texts_caveat  # still not held out


def test_an_imported_model_reads_imdb_test_texts_for_its_statistics_but_is_never_held_out():
    """keras.datasets.imdb's training set is this app's 25,000 IMDB reviews: statistics over them, never accuracy."""
    tm = _open("lstm", "keras")
    assert tm.dataset == "imdb" and tm.heldout is False and "keras.datasets.imdb trains on" in tm.texts_caveat
    rt = ki.read((FIX / "lstm.keras").read_bytes(), texts="rt")
    assert rt.dataset == "rt" and "cannot see" in rt.texts_caveat
    none = ki.read((FIX / "lstm.keras").read_bytes(), texts=None)
    assert none.dataset is None and none.texts_caveat is None
    hostile = zoo.TrainedModel("x", tm.model, tm.vocab, card={"dataset": "imdb", "texts_heldout": "no"})
    assert hostile.heldout  # only a real false marks a model as trained elsewhere
    r = run_cli("typical", "--model", str(FIX / "lstm.keras"), "--texts", "8", "--json", "a good film")
    assert r.returncode == 0 and json.loads(r.stdout)["dataset"] == "imdb" and "trained elsewhere" in r.stderr


def test_the_reset_before_gru_reads_packed_sequences_as_each_one_alone():
    """The state space reads texts of different lengths in one packed batch: each must end where it ends."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

    from playground.core.cells import GRUResetBefore

    torch.manual_seed(0)
    g = GRUResetBefore(5, 4, num_layers=2).requires_grad_(False)
    xs = [torch.randn(n, 5) for n in (3, 7, 1, 5)]
    h0 = torch.randn(2, 4, 4)
    packed = pack_padded_sequence(pad_sequence(xs, batch_first=True), torch.tensor([3, 7, 1, 5]), batch_first=True,
                                  enforce_sorted=False)
    out, hn = g(packed, h0)
    out = pad_packed_sequence(out, batch_first=True)[0]
    for b, x in enumerate(xs):
        alone, h_alone = g(x[None], h0[:, b:b + 1].contiguous())
        assert torch.allclose(alone[0], out[b, :len(x)], atol=1e-6)
        assert torch.allclose(h_alone[:, 0], hn[:, b], atol=1e-6)


def test_convert_saves_a_keras_model_as_a_card_every_command_reads(tmp_path):
    out = tmp_path / "mine.safetensors"
    r = run_cli("convert", "--model", str(FIX / "lstm.h5"), "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["keras_text"] is True
    r = run_cli("predict", "--model", str(out), "--json", DOC["texts"][5])
    assert json.loads(r.stdout)["prob"] == pytest.approx(DOC["predictions"]["lstm"][5], abs=1e-5)
    bad = run_cli("convert", "--model", str(FIX / "lstm.h5"), "--out", str(tmp_path / "x.txt"))
    assert bad.returncode == 2 and "must end in .safetensors" in bad.stderr


def test_the_reset_before_cells_equations_reproduce_its_trace():
    """One unit's update with its numbers (the Playground's drill-down) for the reset-before GRU."""
    from playground.explain.equations import latex_lines, unit_step

    tm = _open("gru_v1", "keras")
    tr = trace(tm.model, tm.vocab, DOC["texts"][1])
    s = unit_step(tr, 0, 3, tr.n_steps - 1)
    v = s.values
    n_in, n_rec = s.parts["n"]
    assert np.tanh(n_in + n_rec) == pytest.approx(v["n"], abs=1e-12)  # the reset is inside the recurrent part
    assert (1 - v["z"]) * v["n"] + v["z"] * s.h_prev == pytest.approx(s.h, abs=1e-12)
    text = " ".join(latex_lines(s))
    assert r"U_{n}(r_t\odot h_{t-1})" in text and f"{v['n']:.3f}" in text


def test_a_model_larger_than_this_apps_models_is_refused_in_one_sentence():
    from tests.keras_files import tutorial_sized

    with pytest.raises(ki.KerasFileError, match="Embedding must have 2 to 100,000 rows"):
        ki.read(tutorial_sized("gru", "h5", V=100_001, E=8, U=8))
    tm = ki.read(tutorial_sized("gru", "keras", V=10_000, E=32, U=32))  # the tutorials' size reads
    assert (tm.config.vocab_size, tm.config.embed_dim, tm.config.hidden_size) == (10_000, 32, 32)


def test_compare_draws_models_that_split_text_differently_each_under_its_own_tokens():
    """A Keras model reads words without punctuation after its padding: its curve is never drawn under the app's
    model's tokens (one row each, each row's tick labels its own tokens)."""
    from playground.figures import plots

    mine = _open("lstm", "keras")
    ours = zoo.load_bundled("lstm-imdb")
    text = "The acting was great, but the plot was boring and far too long"
    trs = {"mine": trace(mine.model, mine.vocab, text), "lstm-imdb": trace(ours.model, ours.vocab, text)}
    fig = plots.compare_curves(trs)
    assert len(fig.data) == 2 and fig.layout.xaxis.ticktext and fig.layout.xaxis2.ticktext
    lead = trs["mine"].lead  # its padding: one point, where the padding left P, then its own words
    assert lead > 0 and fig.layout.xaxis.ticktext[0] == f"{lead} × padding"
    assert "&lt;pad&gt;" not in fig.layout.xaxis.ticktext + fig.layout.xaxis2.ticktext
    assert list(fig.data[0].y) == list(trs["mine"].step_probs[lead - 1:]) and fig.data[0].x[0] == lead - 1
    assert len(fig.data[1].x) == trs["lstm-imdb"].n_steps


def test_a_tutorial_maxlen_pads_and_the_playground_tells_the_padding_from_the_words():
    """At the tutorials' maxlen 500 a short sentence is 485 padding zeros and then its words: the curve draws
    the padding as one point (where it left P), the story and the headline count and pick among the words only,
    and nothing of the exact reading changes."""
    from playground.explain.lesson import word_lesson
    from playground.explain.narrate import curve_story
    from playground.figures import plots

    tm = ki.read((FIX / "lstm.keras").read_bytes(), "lstm", word_index=INDEX, maxlen=500)
    text = "I expected to hate this movie but I loved every minute of it"
    tr = trace(tm.model, tm.vocab, text)
    lead = 500 - 14  # <start> and 13 words
    assert tr.n_steps == 500 and tr.lead == lead and set(tr.ids[:lead]) == {0} and tr.ids[lead] == 1
    story = curve_story(tr)
    assert story.biggest.t >= lead and all(m.t >= lead for m in story.crossings)
    moves = np.abs(np.diff(np.concatenate([[tr.prob0], tr.step_probs])))
    assert story.biggest.t == lead + int(np.argmax(moves[lead:]))  # the words' biggest move, padding or not
    said = story.sentence()
    assert f"the {lead} padding zeros it reads first take it to" in said
    assert tr.first_word == lead + 1 and tr.n_words == 13  # the start token is read, but it is not a word
    assert f"(word {story.biggest.t - lead})" in said
    assert story.as_dict()["padding_first"] == lead and story.as_dict()["after_padding"] == tr.step_probs[lead - 1]
    lesson = word_lesson(tr)
    assert lesson.t == story.biggest.t
    assert f"(word {lesson.t - lead} of 13, after {lead} padding zeros)" in lesson.headline
    assert "(the start token, before the 13 words)" in word_lesson(tr, lead).headline
    fig = plots.prediction_curve(tr, selected_token=lead + 2)
    line = fig.data[0]
    assert list(line.x) == [lead - 2, lead - 1, *range(lead, 500)]
    np.testing.assert_array_equal(line.y, [tr.prob0, tr.step_probs[lead - 1], *tr.step_probs[lead:]])
    assert fig.layout.xaxis.ticktext[:2] == ("before reading", f"{lead} × padding")  # slanted: one line each
    assert list(fig.data[1].x) == [lead + 1, lead + 2]  # the chosen word's step
    assert plots.picked_word({"selection": {"points": [{"x": lead + 3}]}}) == lead + 3
    assert len(plots.prediction_curve(tr, selected_token=3).data) == 1  # a padding zero is never a chosen word
    ours = zoo.load_bundled("lstm-rt") if "lstm-rt" in zoo.bundled_names() else None
    if ours is not None:  # the app's own models read no padding: their curve and story are as before
        own = trace(ours.model, ours.vocab, text)
        assert own.lead == 0 and list(plots.prediction_curve(own).data[0].x) == list(range(-1, own.n_steps))
        assert curve_story(own).sentence().startswith("Before reading a word it stands at")


def test_the_gradient_chart_draws_a_keras_models_review_not_its_padding():
    from playground.figures import memory_plots

    g = np.array([1e-30] * 5 + [0.1, 0.2, 0.5, 1.0])
    tokens = ["<pad>"] * 5 + ["<start>", "a", "good", "film"]
    fig = memory_plots.gradient_lines({"mine": (g, tokens, "#000", 2), "ours": (g[5:], tokens[5:], "#111", None)},
                                      relative=True)
    mine, ours = (t for t in fig.data if t.name in ("mine", "ours"))
    assert list(mine.x) == [-3, -2, -1, 0] and list(mine.customdata) == ["&lt;start&gt;", "a", "good", "film"]
    assert list(mine.y) == list(ours.y)  # the same words, the same line


def test_the_pictures_below_open_on_a_keras_models_words_with_its_padding_kept_to_the_left():
    """Every units x tokens picture keeps a column per token read (exact), but opens on the words: its x range
    starts at the last padding zero and its ticks name words; the chips fold the padding into one."""
    from playground.explain.narrate import step_stories
    from playground.figures import plots
    from ui import textio

    tm = ki.read((FIX / "lstm.keras").read_bytes(), "lstm", word_index=INDEX, maxlen=500)
    tr = trace(tm.model, tm.vocab, "a wonderful film but the ending was dull")
    lead = tr.lead
    for fig in (plots.heatmap(tr, "f"), plots.contributions(tr)):
        heat = next(d for d in fig.data if d.type == "heatmap")
        assert len(heat.x) == 500 and fig.layout.xaxis.range == (lead - 1.5, 499.5)
        assert not any("&lt;pad&gt;" in t for t in fig.layout.xaxis.ticktext[1:])
    for fig in (plots.unit_lines(tr, 0), plots.gate_means(tr)):
        assert len(fig.data[0].x) == 500 and fig.layout.xaxis.range == (lead - 1.5, 499.5)
    chips = textio.trace_chips_html(tr, np.arange(500, dtype=float), "logit")
    assert chips.count("<span") == 1 + 500 - lead and f"{lead} × padding: {sum(range(lead)):+.4f}" in chips
    frames = plots.step_through(tr, step_stories(tr))
    assert [s.label.split(":")[0] for s in frames.layout.sliders[0].steps] == ["start"] + [str(k) for k in range(1, 9)]
