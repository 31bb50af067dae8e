"""The distance probe (playground/dynamics/probe.py): the neutral filler and its check, the curves against the
step-by-step trace, k beyond what a model reads, the half-distance, the sentences, the command line."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from playground.core import zoo
from playground.core.models import ARCHS
from playground.core.text import PAD, UNK, Vocab
from playground.core.trace import fused_prob, trace
from playground.dynamics import probe as pr
from tests.conftest import random_model

ROOT = Path(__file__).resolve().parents[2]
needs_models = pytest.mark.skipif(not zoo.bundled_names(), reason="no bundled models")
PHRASE_WORDS = ["wonderful", "moving", "masterpiece", "awful", "boring", "mess", "great"]


def _vocab() -> Vocab:
    return Vocab([PAD, UNK, *pr.NEUTRAL_WORDS, *PHRASE_WORDS])


def _traced(tm, text: str) -> float:
    return trace(tm.model, tm.vocab, text).prob  # float64 numpy, step by step: independent of the fused layer


# --- the filler -------------------------------------------------------------------------------
@pytest.mark.slow
@needs_models
@pytest.mark.parametrize("name", zoo.BUNDLED)
def test_bundled_filler_stays_within_the_tolerance_of_the_prior_or_says_from_where_it_does_not(name):
    tm = zoo.load_bundled(name)
    f = pr.bundled_filler(name)
    assert len(f.words) == pr.LEAD + pr.K_MAX and set(f.words) <= set(pr.NEUTRAL_WORDS)
    assert not any(tm.vocab.encode(" ".join(f.words)).oov)  # real words of its vocabulary, none read as <unk>
    assert f.prior == pytest.approx(_traced(tm, ""), abs=1e-12)
    assert f.check == np.abs(f.probs - f.prior).max() and f.worst == int(np.argmax(np.abs(f.probs - f.prior))) + 1
    for n in sorted({1, 57, min(tm.config.max_len + 1, len(f.words)), len(f.words)}):  # > max_len: read from its middle
        assert f.probs[n - 1] == pytest.approx(_traced(tm, " ".join(f.words[:n])), abs=1e-5)
    if name in ("rnn-imdb", "rnn-rt"):
        # The bundled models the search cannot serve: the SimpleRNNs' P after max_len neutral words depends on
        # where they start reading (rnn-imdb: dropping the first word of a 200-word stretch moves P by up to
        # 0.47; rnn-rt strays to 0.38 after 142 words), so the longer fillers they read from the middle stray;
        # every prefix they read whole stays within the tolerance, and the library says so.
        assert not f.ok and f.check > pr.TOLERANCE
        assert f.within >= tm.config.max_len and np.abs(f.probs[:f.within] - f.prior).max() <= pr.TOLERANCE
        assert f"for its first {f.within} words, but it strays up to {f.check:.3f}" in f.sentence()
    else:
        assert f.ok and f.check <= pr.TOLERANCE and f.within == len(f.words)
        assert f"within {f.check:.3f} of the prior" in f.sentence()


@needs_models
def test_the_filler_search_is_deterministic():
    tm = zoo.load_bundled("gru-imdb")
    a = pr.neutral_filler(tm.model, tm.vocab, 80)
    b = pr.neutral_filler(tm.model, tm.vocab, 80)
    assert a.words == b.words and np.array_equal(a.probs, b.probs)
    assert pr.neutral_filler(tm.model, tm.vocab).words == pr.bundled_filler("gru-imdb").words


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("layers", [1, 2])
def test_the_searchs_numbers_are_the_fused_models(arch, layers):
    """The search scores every candidate word in one numpy step; those P equal the fused model's."""
    vocab = _vocab()
    m = random_model(arch, layers, vocab_size=len(vocab), hidden=10, seed=layers)
    cand = [vocab.stoi[w] for w in ("the", "of", "house", "walked", "two")]
    net = pr._Net(m, cand)
    prefix = [vocab.stoi[w] for w in ("the", "house", "of", "the", "two")]
    _, p = net.extend(net.states(prefix), net.xw_cand)  # (1, C)
    want = [fused_prob(m, prefix + [c]) for c in cand]
    np.testing.assert_allclose(p[0], want, atol=1e-6)


def test_read_probs_reads_only_the_last_max_len_tokens():
    m = random_model("lstm", 1, vocab_size=20, hidden=8, max_len=10)
    ids = list(np.random.default_rng(0).integers(2, 20, 25))
    ends = [0, 1, 7, 10, 11, 18, 25]
    got = pr.read_probs(m, ids, ends)
    for e, p in zip(ends, got):
        assert p == pytest.approx(fused_prob(m, ids[:e][-10:]), abs=1e-6)
    with pytest.raises(ValueError):
        pr.read_probs(m, ids, [26])


# --- the probe --------------------------------------------------------------------------------
@pytest.mark.slow
@needs_models
@pytest.mark.parametrize("name,ks", [("gru-rt", (1, 40, 90)), ("rnn-imdb", (3, 150, 190)),
                                     ("lstm-imdb", (1, 123, 300))])
def test_the_probes_p_at_k_is_what_the_trace_gives_for_the_same_text(name, ks):
    """Including k whose texts are longer than max_len (gru-rt 90: 114 tokens, read from word 15)."""
    tm, p = zoo.load_bundled(name), pr.bundled_probe(name)
    for k in ks:
        row = p.at(k)
        for which in ("positive", "negative", "filler"):
            # the probe reads in float32 (batched, 190 tokens and more): within 5e-5 of the float64 trace
            assert row[f"p_{which}"] == pytest.approx(_traced(tm, p.text(k, which)), abs=5e-5), (k, which)
    assert any(tm.encode(p.text(k)).truncated for k in ks) == (name != "lstm-imdb")


@needs_models
def test_k_beyond_what_the_model_reads_is_none_never_forgetting():
    p = pr.bundled_probe("gru-rt")  # reads its last 100 tokens; the phrases have 4 words each
    assert p.ks == tuple(range(1, 301)) and p.k_read == 96
    for curve in (p.p_positive, p.p_negative, p.effect):
        assert all(x is not None for x in curve[:96]) and all(x is None for x in curve[96:])
    assert all(isinstance(x, float) for x in p.p_filler)  # the filler alone is always read
    assert "from k = 97 the phrase is not read" in p.story()
    assert p.half_distance is None or p.half_distance <= 96  # a half-distance only where both phrases are read
    out = p.as_dict()
    assert out["effect"][96] is None and json.loads(json.dumps(out))["p_positive"][299] is None


def test_phrases_of_different_lengths_and_a_model_that_reads_little():
    vocab = _vocab()
    m = random_model("gru", 1, vocab_size=len(vocab), hidden=8, max_len=30)
    p = pr.probe(m, vocab, "tiny", positive="a wonderful moving masterpiece", negative="an awful boring mess yet",
                 lead=5, k_max=40)
    assert (len(p.positive.ids), len(p.negative.ids), p.negative.oov) == (4, 5, ("yet",))
    assert p.k_read == 25 and len(p.filler.words) == 45
    assert p.p_positive[25] is not None and p.p_negative[25] is None and p.effect[25] is None  # k = 26
    assert p.p_positive[26] is None and p.effect[24] is not None
    for k in (2, 24):  # 24: 5 + 5 + 24 = 34 tokens, read from the 5th
        assert p.at(k)["p_negative"] == pytest.approx(trace(m, vocab, p.text(k, "negative")).prob, abs=1e-5)
    with pytest.raises(ValueError, match="at least one word"):
        pr.probe(m, vocab, positive=" , . ", filler=p.filler, lead=5, k_max=40)
    with pytest.raises(ValueError, match="needs lead"):
        pr.probe(m, vocab, filler=p.filler, lead=5, k_max=41)


@needs_models
@pytest.mark.parametrize("name", zoo.BUNDLED)
def test_effect_is_exactly_p_positive_minus_p_negative(name):
    p = pr.bundled_probe(name)
    for e, a, b in zip(p.effect, p.p_positive, p.p_negative):
        assert e == (None if a is None or b is None else a - b)
    # right after it the phrase moves the prediction the expected way (lstm-imdb, fine-tuned on everyday
    # sentences, reads "an awful , boring mess" alone as 0.41: its effect at k = 1 is 0.32)
    assert p.as_dict()["effect_1"] == p.effect[0] > 0.25


@pytest.mark.parametrize("effect,want", [
    ([0.8, 0.7, 0.41, 0.4, 0.9], 4),  # exactly half counts
    ([0.8, None, 0.3], 3),  # k = 2 not read
    ([1.0, 0.4, 0.9, 0.1], 2),  # the first fall, though it comes back
    ([0.8, 0.5, 0.41], None),  # never within the range read
    ([0.8, None, None], None),
    ([0.0, -0.3], None),  # the phrases do not move it the expected way
    ([-0.5, -0.1], None),
    ([None, 0.1], None),
])
def test_half_distance_on_hand_made_curves(effect, want):
    assert pr.half_distance(list(range(1, len(effect) + 1)), effect) == want


# --- the sentences ----------------------------------------------------------------------------
def _decimals(text: str) -> set[str]:
    return set(re.findall(r"\d+\.\d+", text))


@needs_models
@pytest.mark.parametrize("name", zoo.BUNDLED)
def test_the_story_says_the_computed_numbers(name):
    p = pr.bundled_probe(name)
    e, K, s = p.effect, p.k_read, p.story()
    assert s.startswith(f"{name}: with one filler word after it, the phrase moves P(positive) by {e[0]:.2f} "
                        f"({p.p_positive[0]:.2f} with the positive phrase against {p.p_negative[0]:.2f}")
    assert f"after 50 filler words by {e[49]:.2f}" in s
    assert f"after {K} filler words, the farthest it reads both phrases whole, by {e[K - 1]:.2f}" in s
    assert (f"At k = {K} the positive phrase leaves P(positive) at {p.p_positive[K - 1]:.2f} and the negative at "
            f"{p.p_negative[K - 1]:.2f}, against {p.p_filler[K - 1]:.2f} for the filler alone") in s
    h = p.half_distance
    if h is None:
        assert min(e[:K]) > e[0] / 2 and f"never falls to half ({e[0] / 2:.2f}) over the {K} distances" in s
    else:
        assert e[h - 1] <= e[0] / 2 < min(e[:h - 1]) and f"It falls to half ({e[0] / 2:.2f}) at k = {h}." in s
    # every decimal in it is one of the probe's numbers as printed
    f = p.filler
    allowed = {f"{x:.2f}" for c in (p.p_positive, p.p_negative, p.p_filler, e) for x in c if x is not None}
    allowed |= {f"{x:.2f}" for x in (p.positive.alone, p.negative.alone) if x is not None}  # read alone
    allowed |= {f"{e[0] / 2:.2f}", f"{f.check:.3f}", f"{f.prior:.3f}", f"{f.tolerance:g}",
                f"{np.abs(f.deviation[:f.within]).max():.3f}"}
    assert _decimals(s) <= allowed, _decimals(s) - allowed


def _fake(name: str, effect: list[float], max_len: int = 400) -> pr.Probe:
    """A probe with a hand-made effect curve (one-word phrases, a filler exactly at the prior)."""
    n = len(effect)
    ks = tuple(range(1, n + 1))
    read = [k + 1 <= max_len for k in ks]
    pos = tuple(0.5 + x / 2 if r else None for x, r in zip(effect, read))
    neg = tuple(0.5 - x / 2 if r else None for x, r in zip(effect, read))
    filler = pr.Filler(words=("the",) * (n + 2), ids=(2,) * (n + 2), probs=np.full(n + 2, 0.5), prior=0.5,
                       tolerance=pr.TOLERANCE)
    return pr.Probe(model=name, arch="gru", max_len=max_len, lead=2, ks=ks, p_positive=pos, p_negative=neg,
                    p_filler=(0.5,) * n, positive=pr.Phrase("great", ("great",), (5,), (), 0.95),
                    negative=pr.Phrase("<b>awful</b>", ("awful",), (6,), (), 0.6), filler=filler)


def test_the_story_of_a_hand_made_curve_calls_out_a_rebound_and_a_weak_phrase():
    effect = [0.8] * 10 + [0.5] * 10 + [0.7] * 10 + [0.3] * 70
    p = _fake("m", effect)
    s = p.story(escape=lambda t: t.replace("<", "&lt;"))
    assert p.half_distance == 31 and "It falls to half (0.40) at k = 31." in s
    assert "It does not fall steadily: from 0.50 at k = 11 it is back up to 0.70 at k = 21." in s
    assert "the negative phrase “&lt;b>awful&lt;/b>” gives P(positive) = 0.60, so it is not strongly negative" in s
    assert "positive phrase “great”" not in s  # read alone at 0.95: strong, nothing to say
    assert "falls steadily" not in _fake("m", [0.8 - 0.001 * k for k in range(100)]).story()


def test_compare_names_a_model_only_where_the_numbers_order_them():
    fall_50 = [0.9] * 49 + [0.4] * 51
    fall_80 = [0.9] * 79 + [0.4] * 21
    keeps_8, keeps_6, keeps_78 = [0.9] * 99 + [0.8], [0.9] * 99 + [0.6], [0.9] * 99 + [0.78]
    s = pr.compare_story([_fake("a", fall_50), _fake("b", fall_80)])
    assert s.endswith("By half-distance b keeps the phrase longest.")
    s = pr.compare_story([_fake("a", fall_50), _fake("b", keeps_8), _fake("c", keeps_6)])
    assert "By half-distance b and c keep the phrase longer than a but are not ordered among themselves" in s
    assert s.endswith("b keeps the most (0.80 against 0.60), so it keeps the phrase longest by these numbers.")
    s = pr.compare_story([_fake("b", keeps_8), _fake("c", keeps_78)])
    assert s.endswith("ahead of the next by 0.020, less than 0.05, so the numbers single out none of them.")
    # b never falls to half but reads only 40 distances; a falls at 80: nothing orders them by half-distance
    s = pr.compare_story([_fake("a", fall_80), _fake("b", [0.9] * 100, max_len=41)])
    assert "Half-distance does not order a and b" in s and "At k = 40, the farthest both read, the effect is" in s
    assert pr.compare_story([_fake("a", fall_50)]) == ""


@needs_models
def test_the_bundled_comparisons_are_computed_from_the_probes():
    probes = [pr.bundled_probe(f"{a}-imdb") for a in ARCHS]
    s = pr.compare_story(probes)
    K = min(p.k_read for p in probes)
    assert f"At k = {K}, the farthest all of them read, the effect is " in s
    for p in probes:
        assert (f"{p.model}'s effect falls to half at k = {p.half_distance}" in s if p.half_distance
                else re.search(rf"{p.model}'s[^.;]* above half over the {p.k_read} distances", s))
        assert f"{p.effect[K - 1]:.2f} for {p.model}" in s


# --- the command line -------------------------------------------------------------------------
def run(capsys, *args) -> tuple[int, str, str]:
    from playground.cli.main import main

    code = main(list(args))  # in process: the bundled probes are computed once for all these tests
    out = capsys.readouterr()
    return code, out.out, out.err


@needs_models
def test_cli_probe_json_has_the_curves_and_the_summary(capsys):
    code, stdout, _ = run(capsys, "probe", "--model", "rnn-imdb", "--json")
    assert code == 0
    out = json.loads(stdout)
    assert {"model", "k", "p_positive", "p_negative", "p_filler", "effect", "half_distance", "filler_check",
            "filler", "phrases", "story"} <= set(out)
    p = pr.bundled_probe("rnn-imdb")  # reads its last 200 tokens: both phrases whole up to k = 196
    assert out["model"] == "rnn-imdb" and out["k"] == list(range(1, 301)) and out["filler"] == list(p.filler.words)
    assert out["effect"][196:] == [None] * 104 and out["half_distance"] == p.half_distance
    assert out["effect"][:196] == list(p.effect[:196]) and out["story"] == p.story()
    assert out["filler_check"] == p.filler.check and out["filler_ok"] is False
    assert out["phrases"]["positive"]["text"] == pr.POSITIVE and out["phrases"]["negative"]["strong"] is True
    code, stdout, _ = run(capsys, "probe", "--model", "lstm-imdb,gru-imdb", "--json")
    both = json.loads(stdout)
    assert [x["model"] for x in both["probes"]] == ["lstm-imdb", "gru-imdb"]
    assert both["comparison"] == pr.compare_story([pr.bundled_probe("lstm-imdb"), pr.bundled_probe("gru-imdb")])


@needs_models
def test_cli_probe_dataset_prints_a_table_per_model_and_the_comparison(capsys):
    code, stdout, _ = run(capsys, "probe", "--dataset", "imdb")
    assert code == 0
    lines = stdout.splitlines()
    assert [ln.split()[0] for ln in lines if ln.endswith("<= 0.05)")] == ["rnn-imdb", "lstm-imdb", "gru-imdb"]
    assert any(re.fullmatch(r"\s+196(\s+\d\.\d{3}){4}", ln) for ln in lines)  # rnn-imdb's farthest k read
    assert any(re.fullmatch(r"\s+300\s+-\s+-\s+\d\.\d{3}\s+-\s*", ln) for ln in lines)  # not read: no P, no effect
    assert pr.bundled_probe("gru-imdb").story() in lines
    assert lines[-1] == pr.compare_story([pr.bundled_probe(f"{a}-imdb") for a in ARCHS])


@pytest.mark.parametrize("args,pattern", [
    (["probe"], "either --model or --dataset"),
    (["probe", "--model", "gru-rt", "--dataset", "rt"], "either --model or --dataset"),
    (["probe", "--model", "no-such"], "Unknown model"),
])
def test_cli_probe_errors_are_one_line(args, pattern, capsys):
    code, _, err = run(capsys, *args)
    lines = err.strip().splitlines()
    assert code != 0 and len(lines) == 1 and lines[0].startswith("error: ") and re.search(pattern, lines[0])


@pytest.mark.slow
@needs_models
def test_cli_probe_refuses_a_phrase_without_words_as_a_person_sees_it():
    r = subprocess.run([sys.executable, "-m", "playground", "probe", "--model", "gru-rt", "--negative", " , "],
                       cwd=ROOT, capture_output=True, text=True, timeout=300, encoding="utf-8", errors="replace")
    assert r.returncode == 2 and r.stderr == "error: a phrase needs at least one word\n" and not r.stdout
