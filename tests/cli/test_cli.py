"""The command line: `python -m playground ...` in this process (tests.conftest.run_cli: main() with its
own stdin, stdout and stderr), and in a subprocess where a process of its own matters (endless stdin)."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from playground.core import zoo
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[2]
HAVE_MODELS = bool(zoo.bundled_names())
needs_models = pytest.mark.skipif(not HAVE_MODELS, reason="no bundled models")


def cli(*args, input=None):
    return run_cli(*args, input=input)


def cli_process(*args, input=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "playground", *args], cwd=ROOT, capture_output=True,
                          text=True, input=input, timeout=timeout, encoding="utf-8", errors="replace")


@pytest.mark.parametrize("args,pattern", [
    ([], "choose a command"),
    (["predict", "--model", "no-such", "hi"], "Unknown model"),
    (["predict", "hi"], "required"),
    (["evaluate", "--model", "gru-rt", "/no/such/file"], "cannot read|No model file"),
    (["train", "--arch", "cnn", "--dataset", "rt", "--out", "x"], "arch must be one of rnn, lstm, gru, not 'cnn'"),
    (["train", "--dataset", "rt", "--mix", "rt", "--out", "x"], "mix must name another dataset"),
    (["train", "--out", "x", "--mix", "yelp"], "mix must be one of imdb, rt"),
    (["train", "--out", "x", "--limit", "0"], "limit must be between 1"),
    (["train", "--out", "x", "--ema", "1"], "ema must be between 0 and 0.9999"),
    (["train", "--out", "x", "--layers", "1.5"], "invalid int value"),
    (["train", "--out", "x", "--init-from", "no-such-model"], "Unknown model"),
    (["train", "--arch", "gru", "--dataset", "rt", "--out", "x", "--hidden-size", "0"], "hidden_size"),
    (["train", "--arch", "gru", "--dataset", "rt", "--out", "x", "--lr", "abc"], "invalid float"),
    (["bench", "--bogus"], "unrecognized"),
    (["nope"], r"invalid choice: 'nope' .*\(see `python -m playground --help`\)$"),
    (["predict", "--model", "lstm-rt"], r"\(see `python -m playground predict --help`\)$"),
])
@pytest.mark.slow
def test_errors_are_one_clear_line(args, pattern):
    r = cli(*args)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    import re
    assert re.search(pattern, lines[0]), lines[0]


def test_bad_model_file_is_one_line(tmp_path):
    f = tmp_path / "evil.safetensors"
    f.write_bytes(b"\x80\x04\x95 not a model")
    r = cli("predict", "--model", str(f), "hi")
    assert r.returncode == 1 and "Traceback" not in r.stderr and "not a model file" in r.stderr


@pytest.mark.slow
@needs_models
def test_models_json():
    r = cli_process("models", "--json")  # once as a person runs it: its own interpreter
    rows = json.loads(r.stdout)
    assert [x["name"] for x in rows] == list(zoo.BUNDLED)
    assert all(0.5 < x["test_accuracy"] <= 1 and x["params"] > 0 for x in rows)


@needs_models
@pytest.mark.parametrize("text", ["not bad at all", "<script>alert(1)</script> 😀 电影", ""])
def test_predict_json_fused_and_traced_agree(text):
    r = cli("predict", "--model", "lstm-rt", "--json", text or " ")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    T = len(out["tokens"])
    assert len(out["oov"]) == len(out["step_probs"]) == len(out["hidden"]) == T
    assert set(out["gates"]) == {"i", "f", "g", "o", "c"}
    assert all(len(g) == T for g in out["gates"].values())
    assert out["label"] == int(out["prob"] >= 0.5)
    if T:
        assert abs(out["prob"] - out["step_probs"][-1]) < 1e-5
    # the exact account of the verdict: anyone can check its sums from the JSON alone
    logits = np.array(out["step_logits"], dtype=float)
    assert logits.shape == (T,) and len(out["contributions"]) == 128  # lstm-rt's units
    if T:
        C = np.array(out["contributions"], dtype=float)
        assert C.shape == (128, T)
        assert abs(C.sum() - (logits[-1] - out["prior_logit"])) < 1e-9
        np.testing.assert_allclose(C.sum(axis=0), np.diff(np.concatenate([[out["prior_logit"]], logits])),
                                   atol=1e-9, rtol=0)


@needs_models
def test_evaluate_counts_malformed_lines_and_ends_with_accuracy(tmp_path):
    f = tmp_path / "eval.tsv"
    f.write_text("a wonderful, moving film\t1\nutterly boring and stupid\t0\nno label here\n"
                 "tab\tin\ttext but fine\t1\nbad label\t7\n\n", encoding="utf-8")
    r = cli("evaluate", "--model", "gru-rt", str(f))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert "skipped 2 malformed" in r.stdout
    import re
    assert re.fullmatch(r"accuracy: [01]\.\d{4} \(n=3\)", lines[-1])


@needs_models
def test_export_then_evaluate_roundtrip_format(tmp_path):
    """Export RT TEST, evaluate the file with a bundled model, and check the accuracy line against
    the same model run in-process on the dataset itself (and against its card)."""
    import re

    import numpy as np

    from playground.core.data import load
    from playground.training.train import EncodedSet, predict_probs

    out = tmp_path / "rt_test.tsv"
    r = cli("export", "--dataset", "rt", "--split", "test", "--out", str(out))
    assert r.returncode == 0, r.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1706 and all(line.rsplit("\t", 1)[1] in ("0", "1") for line in lines)
    r = cli("evaluate", "--model", "gru-rt", str(out))
    assert r.returncode == 0, r.stderr
    assert "skipped" not in r.stdout  # every exported line is well formed
    m = re.fullmatch(r"accuracy: ([01]\.\d{4}) \(n=(\d+)\)", r.stdout.strip().splitlines()[-1])
    assert m, r.stdout
    cells = [int(x) for x in re.findall(r"true [01] +(\d+) +(\d+)", r.stdout) for x in x]  # tn fp fn tp
    assert int(m.group(2)) == 1706 == sum(cells)
    tm = zoo.load_bundled("gru-rt")
    split = load("rt", "test")
    p = predict_probs(tm.model, EncodedSet.from_texts(tm.vocab, split.texts, split.labels, tm.config.max_len))
    expected = float(((p >= 0.5) == (split.labels == 1)).mean())
    assert float(m.group(1)) == pytest.approx(expected, abs=5e-5)
    assert cells[0] + cells[3] == int(np.round(expected * 1706))
    assert float(m.group(1)) == pytest.approx(tm.card["test_accuracy"], abs=1e-3)  # what the card says


def test_train_tiny_writes_a_loadable_model(tmp_path):
    out = tmp_path / "tiny.safetensors"
    r = cli("train", "--arch", "gru", "--dataset", "rt", "--limit", "300", "--mix", "none", "--epochs", "1",
            "--hidden-size", "8", "--embed-dim", "8", "--threads", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "epoch 1/1" in r.stderr and "TEST accuracy" in r.stdout
    tm = zoo.load_path(out)
    assert tm.card["command"].startswith("python -m playground train") and tm.card["n_train"] == 270
    r = cli("predict", "--model", str(out), "a fine film")
    assert r.returncode == 0 and "P(positive)" in r.stdout


def test_train_without_validation_reports_no_validation_accuracy(tmp_path):
    out = tmp_path / "noval.safetensors"
    r = cli("train", "--arch", "gru", "--dataset", "rt", "--limit", "200", "--mix", "none", "--epochs", "1",
            "--hidden-size", "8", "--embed-dim", "8", "--val-fraction", "0", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "no validation" in r.stdout and "val acc" not in r.stdout, r.stdout
    card = zoo.load_path(out).card
    assert card["val_accuracy"] is None and card["n_val"] == 0


@needs_models
def test_paired_json_adds_up():
    r = cli("paired", "--models", "rnn-rt,lstm-rt,gru-rt", "--dataset", "rt", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    acc = out["accuracy"]
    assert acc["gru-rt"] == pytest.approx(zoo.load_bundled("gru-rt").test_accuracy, abs=5e-5)  # the card's number
    assert len(out["pairs"]) == 3
    for p in out["pairs"]:
        # the paired difference is the accuracy difference, counted from the discordant rows
        assert p["diff"] == pytest.approx(acc[p["a"]] - acc[p["b"]], abs=1e-12)
        assert p["diff"] == pytest.approx((p["only_a_right"] - p["only_b_right"]) / p["n"], abs=1e-12)
        assert p["diff_95"][0] <= p["diff"] <= p["diff_95"][1] and 0 < p["p_value"] <= 1
    assert "beyond noise" in out["verdict"]
    r = cli("paired", "--models", "gru-rt", "--dataset", "rt")
    assert r.returncode == 2 and "at least two" in r.stderr


@needs_models
@pytest.mark.parametrize("method", ["occlusion", "ig", "grad_x_input", "step"])
def test_explain_json_gives_one_raw_score_per_token(method, capsys):
    from playground.cli.main import main
    from playground.core.trace import trace
    from playground.explain.attribution import attribute

    text = "not bad at all, <b>a fine</b> film 😀"
    assert main(["explain", "--model", "gru-rt", "--method", method, "--json", text]) == 0  # in process: fast
    out = json.loads(capsys.readouterr().out)
    tm = zoo.load_bundled("gru-rt")
    a = attribute(tm.model, trace(tm.model, tm.vocab, text), method)  # the library's numbers, in process
    assert out["tokens"] == list(a.tokens) and out["unit"] == a.unit
    np.testing.assert_allclose(out["scores"], a.scores, atol=1e-6)  # raw, not rescaled to the top word
    if method == "ig":
        assert abs(sum(out["scores"]) - (out["logit"] - out["baseline_logit"]) - out["gap"]) < 1e-5
        assert abs(out["gap"]) <= max(0.01 * abs(out["logit"] - out["baseline_logit"]), 0.01)
        assert out["steps"] >= 32
        assert out["worst_piece"] == {"start": a.worst.start, "end": a.worst.end, "gap": a.worst.gap,
                                      "change": a.worst.change}
    else:
        assert "gap" not in out


@needs_models
def test_explain_text_prints_each_token_and_the_ig_account():
    r = cli("explain", "--model", "lstm-rt", "--method", "ig", "a dull , lifeless film")
    assert r.returncode == 0, r.stderr
    for tok in ("dull", "lifeless", "film"):
        assert any(line.split()[-1] == tok for line in r.stdout.splitlines() if line.strip())
    assert "baseline" in r.stdout and "gap" in r.stdout and "steps" in r.stdout
    assert "largest gap" not in r.stdout  # said only when the scores do not add up


@pytest.mark.slow
@needs_models
def test_explain_text_says_where_the_gap_lies_when_ig_does_not_add_up():
    from playground.core import data

    review = data.load("imdb", "test").texts[0]  # rnn-imdb's logit jumps on its path (README)
    r = cli("explain", "--model", "rnn-imdb", "--method", "ig", "-", input=review)
    assert r.returncode == 0, r.stderr
    assert "OVER the tolerance" in r.stdout
    assert re.search(r"largest gap [-+]\d\.\d{4} on the path from \d\.\d+ to \d\.\d+ of the way "
                     r"\(baseline 0, text 1\), where the logit changes by [-+]\d+\.\d{4}", r.stdout), r.stdout


@needs_models
def test_explain_path_json_is_the_playgrounds_path_chart():
    from playground.core.trace import trace
    from playground.explain.attribution import attribute, ig_path, path_story

    text = "not bad at all, I loved it"
    r = cli("explain", "--model", "rnn-rt", "--method", "ig", "--path", "--json", text)
    assert r.returncode == 0, r.stderr
    p = json.loads(r.stdout)["path"]
    tm = zoo.load_bundled("rnn-rt")
    tr = trace(tm.model, tm.vocab, text)
    a = attribute(tm.model, tr, "ig")
    ref = ig_path(tm.model, a, list(tr.ids))
    for k in ("alpha", "logit", "edges", "running"):
        np.testing.assert_allclose(p[k], getattr(ref, k), atol=1e-6)
    assert p["story"] == path_story(a, ref) and p["stretches"] == []  # it adds up: nothing to shade
    r = cli("explain", "--model", "rnn-rt", "--method", "ig", "--path", text)  # the same as a table
    assert r.returncode == 0 and "path: at each piece's end" in r.stdout and p["story"] in r.stdout


def test_explain_path_needs_integrated_gradients():
    r = cli("explain", "--model", "rnn-rt", "--method", "occlusion", "--path", "hi")
    assert r.returncode == 2 and r.stderr.strip() == "error: --path needs --method ig (the other methods use no path)"
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("args,pattern", [
    (["explain", "--model", "gru-rt", "--method", "shap", "hi"], "invalid choice: 'shap'"),
    (["explain", "--model", "no-such", "--method", "ig", "hi"], "Unknown model"),
])
def test_explain_errors_are_one_line(args, pattern):
    r = cli(*args)
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0 and len(lines) == 1 and lines[0].startswith("error: ") and pattern in lines[0]


@needs_models
def test_compare_json_lines_models_up_by_position_in_the_full_text():
    """Compare's twin: review 0 of IMDB TEST (289 tokens); rnn-imdb reads the last 200."""
    from playground.core import data

    review = data.load("imdb", "test").texts[0]
    r = cli("compare", "--models", "rnn-imdb,lstm-imdb,gru-imdb", "--json", "-", input=review)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    rnn, lstm = out["models"]["rnn-imdb"], out["models"]["lstm-imdb"]
    assert out["n_tokens_total"] == 289 and (rnn["read_from_word"], lstm["read_from_word"]) == (90, 1)
    assert rnn["words"] == list(range(90, 290)) and len(rnn["step_probs"]) == 200
    assert out["summary"].endswith("part ways at “of” (word 287).")  # in the full text, not 198
    assert rnn["note"] == "read only the last 200 of 289 tokens (from word 90, “her”)"
    r = cli("compare", "--models", "gru-rt", "fine")
    assert r.returncode == 2 and "two or three" in r.stderr


@needs_models
def test_compare_json_gives_each_cells_keep_gate_at_the_word_as_the_page_draws_it():
    from playground.core import zoo
    from playground.core.trace import trace
    from playground.explain.alignment import biggest_position

    text = "The first half dragged, but the ending made it worth it."
    r = cli("compare", "--models", "rnn-rt,lstm-rt,gru-rt", "--json", "--word", "5", text)
    assert r.returncode == 0, r.stderr
    keeps = json.loads(r.stdout)["keeps"]
    assert (keeps["word"], keeps["token"]) == (5, "but")
    rnn, lstm, gru = keeps["models"]
    assert rnn["gate"] is None and (lstm["gate"], gru["gate"]) == ("f", "z")
    for m in (lstm, gru):
        tm = zoo.load_bundled(m["model"])
        tr = trace(tm.model, tm.vocab, text)
        np.testing.assert_allclose(m["gate_values"], tr.last.gates[m["gate"]][4, m["units"]], atol=1e-12)
    default = json.loads(cli("compare", "--models", "rnn-rt,lstm-rt,gru-rt", "--json", text).stdout)["keeps"]
    trs = {n: trace(zoo.load_bundled(n).model, zoo.load_bundled(n).vocab, text) for n in ("rnn-rt", "lstm-rt",
                                                                                         "gru-rt")}
    assert default["word"] == biggest_position(trs) + 1
    r = cli("compare", "--models", "rnn-rt,lstm-rt", "--word", "12", text)
    assert r.returncode == 2 and r.stderr.startswith("error: --word: word 12 is not one every model read")


@needs_models
def test_predict_json_tells_the_curves_story_as_the_pages_do():
    r = cli("predict", "--model", "lstm-rt", "--json", "I expected to hate it but I loved it")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    curve = np.concatenate([[out["prior"]], out["step_probs"]])  # the prior, then after each token
    story = out["story"]
    assert story["prior"] == out["prior"] and len(curve) == len(out["tokens"]) + 1
    b = story["biggest"]  # checkable from the JSON alone: no token moves P(positive) more
    assert b["t"] == int(np.argmax(np.abs(np.diff(curve)))) and b["token"] == out["tokens"][b["t"]]
    sides = curve >= 0.5
    assert [c["t"] for c in story["crossings"]] == [t for t in range(len(curve) - 1) if sides[t] != sides[t + 1]]
    assert f"“{b['token']}” (token {b['t'] + 1})" in story["sentence"]


def test_estimate_prints_the_train_pages_numbers_and_never_more_than_the_cap():
    from playground.training import timing
    from playground.training.options import build_recipe

    r = cli("estimate", "--json", "--race", "--max-seconds", "120", "--hidden-size", "256", "--epochs", "20",
            "--limit", "3000", "--mix", "none")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    recipe = build_recipe({"max_seconds": 120.0, "hidden_size": 256, "epochs": 20, "limit": 3000, "mix": None})
    assert out["estimate"] == pytest.approx(timing.estimate(recipe).to_dict())
    assert out["workload"] == timing.workload(recipe).to_dict()
    assert out["estimate"]["capped_seconds"] <= 120 and set(out["race"]) == {"rnn", "lstm", "gru"}
    assert all(e["cap"] == 40 and e["capped_seconds"] <= 40 for e in out["race"].values())


@needs_models
def test_narrate_steps_match_predict_and_say_one_line_per_token():
    text = "I expected to hate it but I loved it"
    pred = json.loads(cli("predict", "--model", "gru-rt", "--json", text).stdout)
    r = cli("narrate", "--model", "gru-rt", "--json", text)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    steps = out["steps"]
    assert [s["token"] for s in steps] == pred["tokens"] and out["prior"] == pred["prior"]
    C = np.array(pred["contributions"], dtype=float)  # (H, T)
    for t, s in enumerate(steps):
        assert s["p_after"] == pytest.approx(pred["step_probs"][t], abs=1e-7)
        assert s["logit_after"] == pytest.approx(pred["step_logits"][t], abs=1e-12)
        assert s["move"] == pytest.approx(C[:, t].sum(), abs=1e-9)
        top = s["units"][0]
        assert top["contribution"] == pytest.approx(C[top["unit"], t], abs=1e-12)
        assert abs(top["contribution"]) == pytest.approx(np.abs(C[:, t]).max(), abs=1e-12)
        assert set(top["values"]) == {"r", "z", "n", "h"} and len(s["sentences"]) == 3
    lines = cli("narrate", "--model", "gru-rt", text).stdout.splitlines()
    assert len(lines) == len(steps) and lines[7].startswith("At “loved” (token 8 of 9)")
    assert lines[7] == " ".join(steps[7]["sentences"])
    bad = cli("narrate", "--model", "no-such", text)
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1


@needs_models
def test_predict_json_ranks_the_units_and_names_the_decisive_unit_and_token():
    r = cli("predict", "--model", "gru-rt", "--json", "I expected to hate it but I loved it")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    C = np.asarray(out["contributions"])  # (H, T): checkable from the JSON alone
    shares = np.abs(C.sum(axis=1))
    assert sorted(out["ranking"]) == list(range(C.shape[0]))
    assert np.all(np.diff(shares[out["ranking"]]) <= 0) and shares[out["ranking"][0]] == shares.max()
    unit, tok = out["decisive"]
    assert unit == out["ranking"][0] and abs(C[unit, tok]) == np.abs(C[unit]).max()
    empty = json.loads(cli("predict", "--model", "gru-rt", "--json", " ").stdout)  # nothing read: no decisive pair
    assert empty["tokens"] == [] and empty["decisive"] is None and len(empty["ranking"]) == C.shape[0]


@needs_models
def test_typical_prints_each_units_typical_values_and_a_texts_change_from_them():
    """The twin of the Playground's "change from typical": the same means, and value - mean per cell."""
    from playground.core.trace import trace
    from playground.dynamics.typical import typical_values

    text = "I expected to hate this movie but I loved every minute of it"
    r = cli("typical", "--model", "lstm-rt", "--json", text)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    tm = zoo.load_bundled("lstm-rt")
    typ = typical_values(tm.model, tm.vocab, "rt")
    assert (out["dataset"], out["n_texts"], out["n_tokens"]) == ("rt", typ.n_texts, typ.n_tokens)
    assert out["typical"] == typ.describe()
    for q in ("i", "f", "g", "o", "c", "h"):
        np.testing.assert_allclose(out["layers"][0][q]["mean"], typ.mean[0][q], atol=1e-12)
        np.testing.assert_allclose(out["layers"][0][q]["std"], typ.std[0][q], atol=1e-12)
    tr = trace(tm.model, tm.vocab, text)
    assert out["tokens"] == list(tr.tokens)
    change = np.asarray(out["change"][0]["f"])  # units x tokens
    np.testing.assert_allclose(change, (tr.last.gates["f"] - typ.mean[0]["f"][None, :]).T, atol=1e-12)
    # in words: each quantity's typical range and the text's largest change, with its unit and word
    lines = cli("typical", "--model", "lstm-rt", text).stdout.splitlines()
    c = np.asarray(out["change"][0]["i"])
    u, t = np.unravel_index(np.abs(c).argmax(), c.shape)
    said = next(line for line in lines if line.startswith("layer 1 input gate i:"))
    assert f"largest change: unit {u} at token {t + 1} ({tr.tokens[t]!r}) {c[u, t]:+.3f}" in said
    assert "error" in cli("typical", "--model", "lstm-rt", "--texts", "0").stderr.lower()


# --- bounded input (issue 12 item 7): files and stdin are read in pieces, never whole ----------------
def _cli_in_1gib(*args, stdin=None, timeout=120):
    """The command line with its address space capped at 1 GiB (torch and a model fit in it easily)."""
    import resource

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run([sys.executable, "-m", "playground", *args], cwd=ROOT, capture_output=True, text=True,
                          stdin=stdin, timeout=timeout, preexec_fn=cap, encoding="utf-8", errors="replace")


@pytest.mark.slow
@needs_models
@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_evaluate_on_an_endless_line_stops_with_a_clear_message_in_bounded_memory():
    import time

    t = time.monotonic()
    r = _cli_in_1gib("evaluate", "--model", "rnn-rt", "/dev/zero")
    assert time.monotonic() - t < 60
    assert "Traceback" not in r.stderr and "MemoryError" not in r.stderr, r.stderr[-2000:]
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "error: /dev/zero has more than 64 MiB; evaluate reads at most 64 MiB and 200,000 lines (split the file)"]


@needs_models
def test_evaluate_skips_an_over_long_line_as_malformed_and_reads_the_rest(tmp_path):
    from playground.cli.data import MAX_LINE_BYTES, read_labelled

    f = tmp_path / "long.tsv"
    f.write_bytes(b"a wonderful film\t1\n" + "😀".encode() * (MAX_LINE_BYTES // 4 + 10) + b"\t1\n"
                  + b"x" * (3 * MAX_LINE_BYTES) + b"\n" + b"a dull film\t0\n" + b"y" * MAX_LINE_BYTES + b"\t0")
    texts, labels, bad = read_labelled(str(f))
    assert texts == ["a wonderful film", "a dull film"] and labels == [1, 0] and bad == 3
    edge = tmp_path / "edge.tsv"  # a line of exactly MAX_LINE_BYTES bytes before its newline is read
    edge.write_bytes(b"z" * (MAX_LINE_BYTES - 2) + b"\t1\n")
    assert read_labelled(str(edge))[1:] == ([1], 0)
    r = cli("evaluate", "--model", "rnn-rt", str(f))
    assert r.returncode == 0, r.stderr
    assert "skipped 3 malformed line(s)" in r.stdout and r.stdout.strip().endswith("(n=2)")


def test_evaluate_refuses_more_lines_than_it_reads(tmp_path, monkeypatch):
    from playground.cli import data as cli_data
    from playground.cli.common import CliError

    monkeypatch.setattr(cli_data, "MAX_LINES", 3)
    f = tmp_path / "many.tsv"
    f.write_text("good\t1\n" * 3, encoding="utf-8")
    assert len(cli_data.read_labelled(str(f))[0]) == 3
    f.write_text("good\t1\n" * 4, encoding="utf-8")
    with pytest.raises(CliError, match="more than 3 labelled lines"):
        cli_data.read_labelled(str(f))


@pytest.mark.slow
@needs_models
@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_text_from_endless_stdin_is_refused_in_bounded_memory():
    for command in (["predict", "--model", "rnn-rt", "-"], ["narrate", "--model", "rnn-rt", "-"]):
        with open("/dev/zero", "rb") as zero:
            r = _cli_in_1gib(*command, stdin=zero)
        assert "Traceback" not in r.stderr, r.stderr[-2000:]
        assert r.returncode == 2
        assert r.stderr.strip().splitlines() == [
            "error: stdin holds more than 1 MiB; a text read from stdin may be at most 1 MiB"]
    r = cli("predict", "--model", "rnn-rt", "--json", "-", input="a wonderful film")  # a short text still reads
    assert r.returncode == 0 and json.loads(r.stdout)["tokens"] == ["a", "wonderful", "film"]


@pytest.mark.slow
def test_estimate_race_without_a_time_cap_prints_instead_of_raising():
    """`estimate --race` with no --max-seconds raised TypeError (a race's cap was None)."""
    r = cli("estimate", "--race", "--dataset", "rt", "--max-seconds", "none")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "race, lstm: about" in r.stdout and "no time cap" in r.stdout


def test_an_unexpected_error_is_one_line_without_a_traceback(monkeypatch, capsys):
    """Whatever breaks inside a command reaches the person as one line, never a traceback."""
    from playground.cli import main as cli_main
    from playground.cli.common import EXIT_ERROR

    def boom(args):
        raise TypeError("something nobody planned for")

    parser = cli_main.build_parser()
    monkeypatch.setattr(cli_main, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["models"].set_defaults(fn=boom)
    monkeypatch.delenv("PLAYGROUND_DEBUG", raising=False)
    assert cli_main.main(["models"]) == EXIT_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: an internal error (TypeError: something nobody planned for)")


@needs_models
def test_lesson_prints_the_playgrounds_first_screen_and_its_numbers_hold():
    """The Playground's first screen as JSON: the values are the trace's at that word, an LSTM's h = o
    tanh(c) holds for every unit shown, and P moved by delta; a bad --token is one line."""
    from playground.core import zoo
    from playground.core.trace import trace

    text = "The first half dragged, but the ending made it worth it."
    r = cli("lesson", "--model", "lstm-rt", "--token", "4", "--json", text)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["t"] == 4 and out["token"] == "but" and out["headline"].startswith("At “but” (word 5 of 11)")
    assert out["p_after"] - out["p_before"] == pytest.approx(out["delta"], abs=1e-12)
    tm = zoo.load_bundled("lstm-rt")
    tr = trace(tm.model, tm.vocab, text)
    units = [u["unit"] for u in out["units"]]
    q = {x["name"]: np.array(x["values"]) for x in out["quantities"]}
    assert set(q) == {"i", "f", "g", "o", "c", "h"} and len(units) == 6
    for name, values in q.items():
        ref = tr.last.h if name == "h" else tr.last.gates[name]  # (T, H)
        assert values == pytest.approx(ref[4, units], abs=1e-12)
    assert q["h"] == pytest.approx(q["o"] * np.tanh(q["c"]), abs=1e-6)
    default = json.loads(cli("lesson", "--model", "lstm-rt", "--json", text).stdout)
    assert default["t"] == default["biggest"]
    lines = cli("lesson", "--model", "lstm-rt", "--token", "4", text).stdout.splitlines()
    assert lines[0] == out["headline"] and len(lines) >= 1 + len(units)
    bad = cli("lesson", "--model", "lstm-rt", "--token", "99", text)
    assert bad.returncode == 2 and "outside 0..10" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


# --- categories (issue 15): an optional third field; evaluate reports accuracy per category ----------
def test_read_labelled_rows_takes_an_optional_category_and_counts_bad_ones(tmp_path, monkeypatch):
    from playground.cli import data as cli_data
    from playground.cli.common import CliError

    f = tmp_path / "cats.tsv"
    f.write_text("a wonderful film\t1\tfilms\n"
                 "cold soup\t0\t restaurants \n"  # spaces around a category are dropped
                 "no category\t1\n"
                 "tab\tin text\t0\tfilms\n"  # the text may hold tabs, with or without a category
                 "bad label\t7\tfilms\n"  # malformed: the label is neither 0 nor 1
                 "control\t1\tfil\x1bms\n"  # malformed: a category must be printable
                 f"too long\t1\t{'x' * (cli_data.MAX_CATEGORY_CHARS + 1)}\n"
                 "just a category\tfilms\n", encoding="utf-8")  # malformed: no label
    texts, labels, cats, bad = cli_data.read_labelled_rows(str(f))
    assert texts == ["a wonderful film", "cold soup", "no category", "tab\tin text"]
    assert labels == [1, 0, 1, 0] and cats == ["films", "restaurants", None, "films"] and bad == 4
    assert cli_data.read_labelled(str(f)) == (texts, labels, 4)  # the old reader: no categories
    monkeypatch.setattr(cli_data, "MAX_CATEGORIES", 2)
    f.write_text("a\t1\tx\nb\t0\ty\nc\t1\tx\n", encoding="utf-8")
    assert cli_data.read_labelled_rows(str(f))[2] == ["x", "y", "x"]
    f.write_text("a\t1\tx\nb\t0\ty\nc\t1\tz\n", encoding="utf-8")
    with pytest.raises(CliError, match="more than 2 categories"):
        cli_data.read_labelled_rows(str(f))


def test_by_category_counts_each_category_and_each_label_within_it():
    from playground.cli.data import NO_CATEGORY, by_category

    labels, preds = [1, 0, 1, 1, 0, 1], [1, 1, 0, 1, 0, 1]
    table = by_category(labels, preds, ["a", "a", "b", "b", "b", None])
    assert list(table) == ["a", "b", NO_CATEGORY]
    assert table["a"] == {"n": 2, "accuracy": 0.5, "n_positive": 1, "accuracy_positive": 1.0, "accuracy_negative": 0.0}
    assert table["b"] == {"n": 3, "accuracy": 2 / 3, "n_positive": 2, "accuracy_positive": 0.5,
                          "accuracy_negative": 1.0}
    assert table[NO_CATEGORY]["accuracy_negative"] is None  # no negative line in it
    assert by_category(labels, preds, [None] * 6) == {}


@needs_models
def test_evaluate_prints_accuracy_per_category_and_the_same_numbers_as_json(tmp_path):
    import re

    from playground.training.train import EncodedSet, predict_probs

    rows = [("a wonderful, moving film", 1, "films"), ("utterly boring and stupid", 0, "films"),
            ("the worst film of the year", 0, "films"), ("the soup was cold and the waiter rude", 0, "restaurants"),
            ("lovely food and friendly staff", 1, "restaurants"), ("not bad at all", 1, "negation")]
    f = tmp_path / "cats.tsv"
    f.write_text("".join(f"{t}\t{y}\t{c}\n" for t, y, c in rows) + "bad label\t7\tfilms\n", encoding="utf-8")
    tm = zoo.load_bundled("gru-rt")
    p = predict_probs(tm.model, EncodedSet.from_texts(tm.vocab, [t for t, _, _ in rows], [y for _, y, _ in rows],
                                                      tm.config.max_len))
    right = [(pi >= 0.5) == (y == 1) for pi, (_, y, _) in zip(p, rows)]
    expect = {c: [r for r, (_, _, cc) in zip(right, rows) if cc == c] for c in ("films", "restaurants", "negation")}

    r = cli("evaluate", "--model", "gru-rt", "--json", str(f))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)  # nothing but the JSON on stdout, even with a malformed line
    assert out["n"] == 6 and out["skipped"] == 1 and out["accuracy"] == pytest.approx(sum(right) / 6)
    assert list(out["categories"]) == list(expect)
    for c, rs in expect.items():
        assert out["categories"][c]["n"] == len(rs)
        assert out["categories"][c]["accuracy"] == pytest.approx(sum(rs) / len(rs))

    r = cli("evaluate", "--model", "gru-rt", str(f))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert "skipped 1 malformed" in r.stdout
    assert re.fullmatch(r"accuracy: [01]\.\d{4} \(n=6\)", lines[-1])  # still the last line
    for c, rs in expect.items():
        m = [re.fullmatch(rf"\s+{c}\s+(\d+)\s+([01]\.\d{{4}})\s+\S+\s+\S+", line) for line in lines]
        m = [x for x in m if x]
        assert len(m) == 1 and int(m[0].group(1)) == len(rs), r.stdout
        assert float(m[0].group(2)) == pytest.approx(sum(rs) / len(rs), abs=5e-5)


@needs_models
def test_evaluate_without_categories_prints_no_category_table(tmp_path):
    f = tmp_path / "plain.tsv"
    f.write_text("a wonderful film\t1\na dull film\t0\n", encoding="utf-8")
    r = cli("evaluate", "--model", "rnn-rt", str(f))
    assert r.returncode == 0 and "per category" not in r.stdout
    assert json.loads(cli("evaluate", "--model", "rnn-rt", "--json", str(f)).stdout)["categories"] == {}


@needs_models
def test_evaluate_reads_the_everyday_sets_with_all_seven_categories():
    for name, per in (("everyday_test.tsv", 64), ("everyday_dev.tsv", 22)):
        r = cli("evaluate", "--model", "lstm-rt", "--json", str(ROOT / "data" / "everyday" / name))
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["skipped"] == 0 and out["n"] == 7 * per
        assert list(out["categories"]) == ["films", "restaurants", "products", "services", "negation", "contrast",
                                           "intensity"]
        assert all(c["n"] == per and c["n_positive"] == per // 2 for c in out["categories"].values())
        overall = sum(c["accuracy"] * c["n"] for c in out["categories"].values()) / out["n"]
        assert out["accuracy"] == pytest.approx(overall)


@pytest.mark.slow
def test_train_race_is_the_train_pages_race_on_the_command_line(tmp_path):
    """`train --race`: the three cells one after another on the same data, a file each, and the
    library's RaceResult (the page's race table and verdict) as JSON."""
    out = tmp_path / "r.safetensors"
    r = cli("train", "--race", "--dataset", "rt", "--limit", "200", "--mix", "none", "--epochs", "1", "--hidden-size",
            "8", "--embed-dim", "8", "--threads", "1", "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert [row["cell"] for row in res["rows"]] == ["SimpleRNN", "LSTM", "GRU"]
    assert all(0 <= row["TEST accuracy"] <= 1 and row["TEST rows"] == 1706 for row in res["rows"])
    assert res["verdict"] and res["not_trained"] == [] and res["failures"] == []
    for arch in ("rnn", "lstm", "gru"):
        tm = zoo.load_path(tmp_path / f"r-{arch}.safetensors")
        assert tm.arch == arch and tm.name == f"r-{arch}"
    text = cli("train", "--race", "--dataset", "rt", "--limit", "200", "--mix", "none", "--epochs", "1",
               "--hidden-size", "8", "--embed-dim", "8", "--threads", "1", "--out", str(out))
    assert text.returncode == 0 and res["verdict"] in text.stdout and "SimpleRNN" in text.stdout
