"""The unit explorer: every number recomputed independently from `trace` over the same texts; the
disk cache round-trips, refuses what it should not trust, and keys models by their weights."""
import json

import numpy as np
import pytest
import torch

from playground.core import zoo
from playground.core.text import Vocab, key
from playground.core.trace import trace
from playground.core.zoo import TrainedModel
from playground.dynamics import units
from playground.dynamics.typical import sample_texts
from tests.conftest import WORDS, random_model

needs_models = pytest.mark.skipif("lstm-rt" not in zoo.bundled_names(), reason="no bundled models")

VOCAB = Vocab(["<pad>", "<unk>"] + WORDS)
_rng = np.random.default_rng(7)
TEXTS = tuple(" ".join(_rng.choice(WORDS + ["zzz", "qqq"], _rng.integers(1, 40))) for _ in range(30)) + ("",)
LABELS = _rng.integers(0, 2, len(TEXTS))


@pytest.fixture
def tiny_sample(monkeypatch, tmp_path):
    """30 random texts (and one empty one, which is skipped) instead of the TEST split; a temporary cache."""
    def fake(dataset, n):
        n = min(n, len(TEXTS))
        return TEXTS[:n], LABELS[:n], np.arange(n) * 3
    monkeypatch.setattr(units, "sample", fake)
    monkeypatch.setattr(units, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(units, "MIN_WORD_COUNT", 3)
    units.clear_memory()
    yield
    units.clear_memory()


def _tm(arch="gru", layers=1, seed=0, name="tiny"):
    m = random_model(arch, layers=layers, vocab_size=len(VOCAB), seed=seed, scale=0.5)
    return TrainedModel(name=name, model=m, vocab=VOCAB, card={"dataset": "rt"}, source="session")


def _traced(tm, texts):
    trs = [tr for tr in (trace(tm.model, tm.vocab, t) for t in texts) if tr.n_steps]
    changes = [np.diff(tr.last.h, axis=0, prepend=np.zeros((1, tr.hidden_size))) for tr in trs]
    return trs, changes


@pytest.mark.parametrize("arch,layers", [("rnn", 1), ("lstm", 1), ("gru", 1), ("lstm", 2)])
def test_top_contexts_are_each_texts_extremes_ranked_as_trace_computes_them(tiny_sample, arch, layers):
    tm = _tm(arch, layers)
    st = units.compute(tm.model, tm.vocab, "rt", 31)
    trs, changes = _traced(tm, TEXTS)
    assert st["n_texts"] == len(trs) == 30 and st["n_tokens"] == sum(tr.n_steps for tr in trs)
    assert st["layer"] == layers - 1
    for u in range(tm.config.hidden_size):
        for kind, series in (("value", [tr.last.h for tr in trs]), ("change", changes)):
            for side, pick in (("high", np.argmax), ("low", np.argmin)):
                pos = [int(pick(s[:, u])) for s in series]
                val = np.array([s[p, u] for s, p in zip(series, pos)])
                want = np.argsort(-val if side == "high" else val, kind="stable")[:units.TOP_K]
                got = st["units"][u]["top"][kind][side]
                # the same extremes in the same order (texts that begin alike tie exactly: either may come first)
                np.testing.assert_allclose([c["value"] for c in got], val[want], atol=1e-12)
                assert len({c["text"] for c in got}) == len(got) == units.TOP_K
                for c in got:
                    s = series[c["text"]][:, u]
                    assert s[c["position"]] == pytest.approx(c["value"], abs=1e-12)
                    assert s[c["position"]] == pytest.approx(s.max() if side == "high" else s.min(), abs=1e-12)
                    toks, t = trs[c["text"]].tokens, c["position"]
                    assert c["token"] == toks[t] and c["test_index"] == 3 * c["text"]
                    assert c["left"] == list(toks[max(0, t - 4):t]) and c["right"] == list(toks[t + 1:t + 3])
                    assert c["oov"] == trs[c["text"]].oov[t]


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_histogram_correlations_and_moments_match_numpy_on_the_traced_values(tiny_sample, arch):
    tm = _tm(arch, seed=1)
    st = units.compute(tm.model, tm.vocab, "rt", 31)
    trs, _ = _traced(tm, TEXTS)
    h = np.vstack([tr.last.h for tr in trs])  # (N tokens, H)
    logit = h @ trs[0].readout_w + trs[0].readout_b
    prob = np.concatenate([tr.step_probs for tr in trs])
    final = np.array([tr.last.h[-1] for tr in trs])  # (texts, H)
    final_logit = final @ trs[0].readout_w + trs[0].readout_b
    labels = LABELS[:30][[i for i, t in enumerate(TEXTS) if t]]
    edges = np.asarray(st["edges"])
    np.testing.assert_allclose(edges, np.linspace(-1, 1, units.N_BINS + 1))
    for u, r in enumerate(st["units"]):
        assert sum(r["histogram"]) == len(h)
        assert r["histogram"] == np.histogram(h[:, u], edges)[0].tolist()
        assert r["r_logit"] == pytest.approx(np.corrcoef(h[:, u], logit)[0, 1], abs=1e-9)
        assert r["r_prob"] == pytest.approx(np.corrcoef(h[:, u], prob)[0, 1], abs=1e-9)
        assert r["r_final_logit"] == pytest.approx(np.corrcoef(final[:, u], final_logit)[0, 1], abs=1e-9)
        assert r["r_label"] == pytest.approx(np.corrcoef(final[:, u], labels)[0, 1], abs=1e-9)
        assert (r["mean"], r["std"]) == pytest.approx((h[:, u].mean(), h[:, u].std()), abs=1e-10)
        assert (r["min"], r["max"]) == pytest.approx((h[:, u].min(), h[:, u].max()), abs=1e-12)
        assert r["readout_w"] == pytest.approx(trs[0].readout_w[u], abs=1e-12)
    spread = np.abs(trs[0].readout_w) * h.std(axis=0)
    assert np.all(np.diff(spread[st["order"]]) <= 1e-12)  # units by the spread of their readout term


def test_words_are_ranked_by_their_mean_change_over_enough_occurrences(tiny_sample, monkeypatch):
    tm = _tm("lstm", seed=2)
    trs, changes = _traced(tm, TEXTS)
    sums, counts = {}, {}
    for tr, ch in zip(trs, changes):
        for tok, oov, row in zip(tr.tokens, tr.oov, ch):
            if not oov:
                sums[key(tok)] = sums.get(key(tok), 0) + row
                counts[key(tok)] = counts.get(key(tok), 0) + 1
    least = sorted(counts.values())[len(counts) // 2]  # half the words occur too rarely to be listed
    monkeypatch.setattr(units, "MIN_WORD_COUNT", least)
    monkeypatch.setattr(units, "TOP_WORDS", 3)
    words = [w for w in sums if counts[w] >= least]
    assert 3 < len(words) < len(counts)  # the list is really a choice, and the rare words are left out
    st = units.compute(tm.model, tm.vocab, "rt", 31)
    for u, r in enumerate(st["units"]):
        ranked = sorted(words, key=lambda w: -sums[w][u] / counts[w])
        assert [x["word"] for x in r["words"]["up"]] == ranked[:3]
        assert [x["word"] for x in r["words"]["down"]] == ranked[::-1][:3]
        for x in r["words"]["up"] + r["words"]["down"]:
            assert x["count"] == counts[x["word"]]
            assert x["mean_change"] == pytest.approx(sums[x["word"]][u] / counts[x["word"]], abs=1e-12)


def test_a_dead_unit_has_no_correlation_and_the_result_is_strict_json(tiny_sample):
    tm = _tm("rnn", seed=3)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(tm.model.rnn, name)[5].zero_()  # unit 5's h is tanh(0) = 0 after every token
    st = units.unit_stats(tm)
    r = st["units"][5]
    assert r["r_logit"] is None and r["r_prob"] is None and r["std"] == 0.0
    assert r["histogram"][units.N_BINS // 2] == st["n_tokens"]  # every token in the bin starting at 0
    json.dumps(st, allow_nan=False)  # no NaN anywhere
    assert units.valid(json.loads(json.dumps(st)), st["key"], tm.config.hidden_size)


def test_progress_rises_to_one(tiny_sample):
    seen = []
    units.unit_stats(_tm(), on_progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions) and len(seen) >= 3
    assert all(isinstance(m, str) and m for _, m in seen)


def test_unit_values_are_the_traced_h_and_the_changes_add_up_to_it():
    tm = _tm("gru")
    text = "not good , not bad , the film was great"
    tokens, v = units.unit_values(tm.model, tm.vocab, text, 4)
    tr = trace(tm.model, tm.vocab, text)
    assert tokens == tr.tokens and np.array_equal(v, tr.last.h[:, 4])
    _, ch = units.unit_values(tm.model, tm.vocab, text, 4, kind="change")
    np.testing.assert_allclose(np.cumsum(ch), v, atol=1e-12)
    _, every = units.unit_values(tm.model, tm.vocab, text)
    assert every.shape == (tm.config.hidden_size, len(tokens))
    with pytest.raises(ValueError):
        units.unit_values(tm.model, tm.vocab, text, tm.config.hidden_size)


def _timeless(st):
    return {k: v for k, v in st.items() if k != "seconds"}


def _counting(monkeypatch):
    calls = []
    real = units.compute

    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)
    monkeypatch.setattr(units, "compute", spy)
    return calls


def test_disk_cache_round_trips_and_memory_cache_answers_first(tiny_sample, monkeypatch):
    calls = _counting(monkeypatch)
    tm = _tm()
    assert units.cached(tm) is None
    first = units.unit_stats(tm)
    path = units.CACHE_DIR / f"tiny-{first['key']}.json"
    assert path.is_file() and len(calls) == 1 and units.cached(tm) == "memory"
    assert units.unit_stats(tm) is first and len(calls) == 1
    units.clear_memory()
    assert units.cached(tm) == "disk"
    again = units.unit_stats(tm)
    assert len(calls) == 1 and again == first and again is not first
    assert not list(units.CACHE_DIR.glob("*.tmp"))  # the temporary file was renamed into place


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong histogram", "wrong key", "too big"])
def test_a_corrupt_cache_file_is_ignored_and_rewritten(tiny_sample, monkeypatch, damage):
    tm = _tm()
    good = units.unit_stats(tm)
    path = units.CACHE_DIR / f"tiny-{good['key']}.json"
    text = path.read_text()
    if damage == "garbage":
        path.write_bytes(b"\x00\xff not json")
    elif damage == "truncated":
        path.write_text(text[: len(text) // 2])
    elif damage == "wrong histogram":
        bad = json.loads(text)
        bad["units"][3]["histogram"][0] += 1
        path.write_text(json.dumps(bad))
    elif damage == "wrong key":
        path.write_text(text.replace(good["key"], "0" * 32))
    else:
        monkeypatch.setattr(units, "MAX_FILE_BYTES", len(text) - 1)
    units.clear_memory()
    calls = _counting(monkeypatch)
    assert _timeless(units.unit_stats(tm)) == _timeless(good) and len(calls) == 1  # recomputed
    monkeypatch.setattr(units, "MAX_FILE_BYTES", 8 << 20)
    assert _timeless(units._read(path, good["key"], tm.config.hidden_size)) == _timeless(good)  # rewritten whole


def test_models_with_other_weights_get_other_keys_even_under_the_same_name(tiny_sample, monkeypatch):
    a, b = _tm(seed=0, name="mine"), _tm(seed=1, name="mine")
    assert units.cache_key(a.model, VOCAB, "rt", 31) != units.cache_key(b.model, VOCAB, "rt", 31)
    same = _tm(seed=0, name="other name")
    assert units.cache_key(a.model, VOCAB, "rt", 31) == units.cache_key(same.model, VOCAB, "rt", 31)
    assert units.cache_key(a.model, VOCAB, "rt", 31) != units.cache_key(a.model, VOCAB, "rt", 30)
    assert units.cache_key(a.model, VOCAB, "rt", 31) != units.cache_key(a.model, VOCAB, "imdb", 31)
    other_vocab = Vocab(["<pad>", "<unk>"] + WORDS[::-1])
    assert units.cache_key(a.model, VOCAB, "rt", 31) != units.cache_key(a.model, other_vocab, "rt", 31)
    with torch.no_grad():
        c = _tm(seed=0, name="mine")
        c.model.readout.bias.add_(1e-6)  # one weight nudged
    assert units.cache_key(c.model, VOCAB, "rt", 31) != units.cache_key(a.model, VOCAB, "rt", 31)
    sa, sb = units.unit_stats(a), units.unit_stats(b)
    units.clear_memory()
    assert units.unit_stats(b) == sb and _timeless(sb) != _timeless(sa)  # b read back its own file, not a's
    assert len(list(units.CACHE_DIR.glob("mine-*.json"))) == 2


def test_the_cache_is_bounded_on_disk_and_in_memory(tiny_sample, monkeypatch):
    monkeypatch.setattr(units, "DISK_FILES", 2)
    monkeypatch.setattr(units, "MEMORY_ENTRIES", 2)
    for seed in range(3):
        units.unit_stats(_tm(seed=seed, name="../../evil name"))
    files = list(units.CACHE_DIR.glob("*.json"))
    assert len(files) == 2 and all(f.parent == units.CACHE_DIR and f.name.startswith("evil-name-") for f in files)
    assert len(units._memory) == 2


def test_the_disk_cache_has_a_total_size_bound(tiny_sample, monkeypatch):
    units.unit_stats(_tm(seed=0, name="a"))
    one = max(f.stat().st_size for f in units.CACHE_DIR.glob("*.json"))
    monkeypatch.setattr(units, "DISK_BYTES", int(2.5 * one))  # room for two files, not three
    for seed in range(1, 4):
        units.unit_stats(_tm(seed=seed, name=f"m{seed}"))
    files = list(units.CACHE_DIR.glob("*.json"))
    assert len(files) == 2 and sum(f.stat().st_size for f in files) <= 2.5 * one
    assert {f.name.split("-")[0] for f in files} == {"m2", "m3"}  # the oldest went first


def test_an_unwritable_cache_folder_is_no_error(tiny_sample, monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setattr(units, "CACHE_DIR", blocker / "sub")  # a folder inside a file cannot exist
    assert units.unit_stats(_tm())["n_texts"] == 30


def test_describe_says_the_units_own_numbers(tiny_sample):
    st = units.unit_stats(_tm())
    r = st["units"][2]
    said = units.describe(st, 2)
    assert f"r = {r['r_logit']:+.2f}" in said and f"{r['readout_w']:+.3f}" in said
    assert f"[{r['top']['change']['high'][0]['token']}]" in said and f"{st['n_tokens']:,} tokens" in said


@needs_models
def test_a_bundled_model_on_a_small_test_sample_agrees_with_trace(monkeypatch, tmp_path):
    monkeypatch.setattr(units, "CACHE_DIR", tmp_path)
    tm = zoo.load_bundled("lstm-rt")
    st = units.compute(tm.model, tm.vocab, tm.dataset, 40)
    texts, labels, idx = units.sample("rt", 40)
    assert texts == sample_texts("rt", 40)  # the same evenly spaced TEST texts as typical.py's
    trs, _ = _traced(tm, texts)
    h = np.vstack([tr.last.h for tr in trs])
    logit = h @ trs[0].readout_w + trs[0].readout_b
    for u in (0, 17, 63):
        r = st["units"][u]
        assert r["r_logit"] == pytest.approx(np.corrcoef(h[:, u], logit)[0, 1], abs=1e-9)
        best = max(range(len(trs)), key=lambda i: trs[i].last.h[:, u].max())
        top = r["top"]["value"]["high"][0]
        assert top["text"] == best and top["value"] == pytest.approx(h[:, u].max(), abs=1e-9)
        assert top["test_index"] == idx[best] and sum(r["histogram"]) == len(h)


@needs_models
def test_cli_json_gives_one_unit_and_its_values_along_a_text(monkeypatch, tmp_path, capsys):
    from playground.cli.main import main

    monkeypatch.setattr(units, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(units, "SAMPLE_TEXTS", {"rt": 30, "imdb": 5})
    units.clear_memory()
    text = "a warm , funny and moving film"
    assert main(["units", "--model", "gru-rt", "--unit", "7", "--json", text]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"model", "dataset", "n_texts", "n_tokens", "edges", "order", "units", "tokens", "values", "key"} <= set(out)
    assert out["n_texts"] == 30 and len(out["units"]) == 1 and out["units"][0]["unit"] == 7
    r = out["units"][0]
    assert {"histogram", "r_logit", "r_prob", "r_final_logit", "r_label", "top", "words", "readout_w"} <= set(r)
    assert set(r["top"]) == {"value", "change"} and set(r["top"]["value"]) == {"high", "low"}
    tm = zoo.load_bundled("gru-rt")
    tr = trace(tm.model, tm.vocab, text)
    assert out["tokens"] == list(tr.tokens)
    np.testing.assert_allclose(out["values"], tr.last.h[:, 7], atol=1e-12)
    assert main(["units", "--model", "gru-rt"]) == 0  # one line per unit, after a header and column titles
    assert len(capsys.readouterr().out.strip().splitlines()) == 3 + tm.config.hidden_size
    units.clear_memory()


@needs_models
@pytest.mark.parametrize("unit", ["128", "-1"])
def test_cli_unit_out_of_range_is_one_line(unit, capsys):
    from playground.cli.main import main

    assert main(["units", "--model", "gru-rt", "--unit", unit]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--unit must be between 0 and 127" in err[0]


def test_the_sample_is_full_for_every_bundled_model_and_smaller_for_a_far_larger_one():
    from playground.core.models import ModelConfig

    for name in zoo.bundled_names():
        tm = zoo.load_bundled(name)
        assert units.sample_size(tm.config, tm.dataset) == units.SAMPLE_TEXTS[tm.dataset]
    huge = ModelConfig(arch="lstm", hidden_size=512, embed_dim=512, num_layers=2, max_len=2000)
    assert units.MIN_TEXTS <= units.sample_size(huge, "imdb") < units.SAMPLE_TEXTS["imdb"] // 10


def test_a_model_without_a_known_dataset_is_refused_with_a_reason():
    tm = _tm()
    tm.card = {}
    with pytest.raises(ValueError, match="names no dataset"):
        units.unit_stats(tm)


def test_the_numbers_do_not_depend_on_how_texts_are_grouped_into_chunks(tiny_sample, monkeypatch):
    tm = _tm("lstm", seed=4)
    grouped = units.compute(tm.model, tm.vocab, "rt", 31)
    chunks = units._chunks(np.array([10, 40, 5, 30, 20]), 12)  # longest first; under half the longest: a new chunk
    assert [c.tolist() for c in chunks] == [[1, 3, 4], [0, 2]]
    monkeypatch.setattr(units, "MAX_CHUNK_VALUES", 1)  # every text alone
    assert [c.tolist() for c in units._chunks(np.array([10, 40, 5, 30, 20]), 12)] == [[1], [3], [4], [0], [2]]
    alone = units.compute(tm.model, tm.vocab, "rt", 31)
    for a, b in zip(grouped["units"], alone["units"]):
        assert a["histogram"] == b["histogram"] and a["r_logit"] == pytest.approx(b["r_logit"], abs=1e-12)
        for k in units.KINDS:
            for side in units.SIDES:
                assert [c["value"] for c in a["top"][k][side]] == pytest.approx(
                    [c["value"] for c in b["top"][k][side]], abs=1e-12)
