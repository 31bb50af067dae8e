"""The state space (statespace.py, fixedpoints.py): the PCA plane, the decision line, the path, the fixed
points and the command line."""
import dataclasses
import json
import pickle
import time

import numpy as np
import pytest
import torch

from playground.core import zoo
from playground.core.cells import cell
from playground.core.text import Encoded
from playground.core.trace import _weights, trace, trace_ids
from playground.dynamics import fixedpoints as fp
from playground.dynamics import statespace as ss
from tests.conftest import random_model

needs_models = pytest.mark.skipif("gru-imdb" not in zoo.bundled_names(), reason="no bundled models")


def _ids(n=40, seed=1, vocab=16):
    rng = np.random.default_rng(seed)
    return [list(rng.integers(2, vocab, rng.integers(3, 16))) for _ in range(n)], rng.integers(0, 2, n)


def _trace(model, ids):
    return trace_ids(model, Encoded(ids=tuple(ids), tokens=tuple(map(str, ids)), oov=(False,) * len(ids),
                                    n_tokens_total=len(ids)))


def _numpy_update(model, s, x):
    """F(s, x) with the trace's numpy cell step, layer by layer, on the flat layout (state names x layers x H)."""
    cfg = model.config
    c, L, H = cfg.cell, cfg.num_layers, cfg.hidden_size
    v = np.asarray(s).reshape(len(c.state), L, H)
    new, inp = np.empty_like(v), x
    for layer in range(L):
        w_ih, w_hh, b_ih, b_hh = _weights(model, layer)
        prev = {name: v[k, layer] for k, name in enumerate(c.state)}
        xw, hw = w_ih @ inp + b_ih, w_hh @ prev["h"] + b_hh
        blk = {b: slice(k * H, (k + 1) * H) for k, b in enumerate(c.blocks)}
        out = c.step({b: xw[sl] for b, sl in blk.items()}, {b: hw[sl] for b, sl in blk.items()}, prev)
        for k, name in enumerate(c.state):
            new[k, layer] = out[name]
        inp = out["h"]
    return new.reshape(-1)


@pytest.fixture(scope="module")
def spaces():
    """One fitted space per cell kind (and a stacked LSTM) of small random models, with their models and texts
    (fitted under no_grad, as a page might: the fixed-point search turns gradients on itself)."""
    ids, labels = _ids()
    out = {}
    chunk, ss.CHUNK = ss.CHUNK, 7  # several chunks, so the PCA's chunk-by-chunk update is exercised
    try:
        with torch.no_grad():
            for arch, layers in (("rnn", 1), ("lstm", 1), ("gru", 1), ("lstm", 2)):
                # seed 1: every model's searches end at fixed points under the tolerance (seed 0's LSTM stalls at
                # a slow point moving 0.019 per step, twice its tolerance: a minimum of q that is no fixed point)
                m = random_model(arch, layers=layers, seed=1)
                out[arch, layers] = m, ss.fit_ids(m, ids, labels, "rt", steps=1500)
    finally:
        ss.CHUNK = chunk
    return out, ids, labels


@pytest.mark.slow
@pytest.mark.parametrize("key", [("rnn", 1), ("lstm", 1), ("gru", 1), ("lstm", 2)])
def test_pca_shares_are_the_variance_of_the_fitting_states_along_each_component(spaces, key):
    (fitted, ids, _) = spaces
    m, sp = fitted[key]
    h = np.vstack([_trace(m, i).last.h for i in ids])  # (every token, H): the last layer, from the numpy trace
    assert sp.n_states == len(h) and sp.n_texts == len(ids)
    np.testing.assert_allclose(sp.mean, h.mean(0), atol=1e-12)
    proj = (h - h.mean(0)) @ sp.components.T  # (N, K)
    total = h.var(0).sum()
    np.testing.assert_allclose(proj.var(0) / total, sp.variance, rtol=0, atol=1e-9)
    assert np.all(np.diff(sp.variance) <= 1e-12) and sp.variance.sum() <= 1 + 1e-12
    np.testing.assert_allclose(sp.components @ sp.components.T, np.eye(len(sp.variance)), atol=1e-10)
    assert np.all(sp.components[:2] @ sp.readout_w >= 0)  # signed so that right/up raises the logit


@pytest.mark.parametrize("key", [("rnn", 1), ("lstm", 2)])
def test_final_states_are_each_texts_last_state_with_the_models_probability(spaces, key):
    (fitted, ids, labels) = spaces
    m, sp = fitted[key]
    trs = [_trace(m, i) for i in ids]
    np.testing.assert_allclose(sp.final_probs, [tr.prob for tr in trs], atol=1e-12)
    np.testing.assert_allclose(sp.final_xy, sp.project(np.vstack([tr.last.h[-1] for tr in trs])), atol=1e-12)
    assert sp.final_labels.tolist() == list(labels)


@pytest.mark.parametrize("key", [("rnn", 1), ("lstm", 1), ("gru", 1), ("lstm", 2)])
def test_fixed_points_move_less_than_the_tolerance_under_an_independent_numpy_step(spaces, key):
    (fitted, _, _) = spaces
    m, sp = fitted[key]
    f = sp.fixed
    assert f.n_found >= 2 and f.tolerance == pytest.approx(ss.TOLERANCE_SHARE * sp.word_move)
    x = np.zeros(m.config.embed_dim)
    speeds = np.array([np.linalg.norm(_numpy_update(m, s, x) - s) for s in f.states])
    np.testing.assert_allclose(speeds, f.speeds, atol=1e-12)
    assert np.all(speeds < f.tolerance)
    np.testing.assert_allclose(f.probs, 1 / (1 + np.exp(-(f.h @ sp.readout_w + sp.readout_b))), atol=1e-12)
    np.testing.assert_allclose(sp.fixed_xy, sp.project(f.h), atol=1e-12)
    if f.pc1_share is None:  # all at one point: within the tolerance of their mean
        assert np.sqrt(((f.states - f.states.mean(0)) ** 2).sum(1).mean()) <= f.tolerance
    else:
        assert 0 <= f.pc1_share <= 1 and 0 <= f.readout_angle_deg <= 90
    assert np.all(np.diff(f.eigen, axis=1) <= 0) and f.top_eigenvalue == pytest.approx(np.median(f.eigen[:, 0]))


@pytest.mark.slow
def test_the_frequent_words_input_is_their_mean_embedding_and_its_fixed_points_hold(small_vocab):
    m = random_model("gru", vocab_size=len(small_vocab))
    x, words = fp.neutral_input(m, small_vocab, "frequent")
    ids = list(range(2, len(small_vocab)))
    np.testing.assert_allclose(x, m.embedding.weight.detach().double().numpy()[ids].mean(0), atol=1e-15)
    assert words == tuple(small_vocab.itos[2:])
    starts = np.random.default_rng(0).uniform(-0.5, 0.5, (20, 12))
    f = fp.find_fixed_points(m, starts, 1e-3, small_vocab, "frequent", steps=1500)
    assert f.n_found >= 10 and f.neutral_words == words
    assert all(np.linalg.norm(_numpy_update(m, s, x) - s) < 1e-3 for s in f.states)
    with pytest.raises(ValueError, match="neutral"):
        fp.neutral_input(m, small_vocab, "loud")


@pytest.mark.slow
def test_the_finder_finds_a_known_fixed_point_and_its_eigenvalues():
    # SimpleRNN with U = a I and a bias: h* = tanh(a h* + b) (a contraction: iterate), Jacobian diag(a (1 - h*^2))
    m = random_model("rnn")
    H, a = 12, 0.5
    b = np.random.default_rng(3).uniform(-1, 1, H)
    with torch.no_grad():
        m.rnn.weight_hh_l0.copy_(torch.eye(H) * a)
        m.rnn.bias_ih_l0.copy_(torch.from_numpy(b))
        m.rnn.bias_hh_l0.zero_()
    h = np.zeros(H)
    for _ in range(200):
        h = np.tanh(a * h + b)
    starts = np.random.default_rng(0).uniform(-1, 1, (16, H))
    f = fp.find_fixed_points(m, starts, 1e-3, steps=1500)
    assert f.n_found == 16
    assert np.abs(f.states - h).max() < 2e-3  # |s - h*| <= speed / (1 - contraction) for this map
    np.testing.assert_allclose(f.eigen[:, 0], np.abs(a * (1 - h ** 2)).max(), atol=1e-3)
    assert np.all(f.n_slow == 0) and f.pc1_share is None  # one point, not a line
    # zero weights and biases: GRU h' = h / 2; LSTM c' = c / 2, h' = tanh(c') / 2: the fixed point 0
    for arch, S in (("gru", H), ("lstm", 2 * H)):
        m = random_model(arch)
        with torch.no_grad():
            for p in m.rnn.parameters():
                p.zero_()
        f = fp.find_fixed_points(m, np.random.default_rng(1).uniform(-1, 1, (8, S)), 1e-3, steps=1500)
        assert f.n_found == 8 and np.abs(f.states).max() < 2e-3
        np.testing.assert_allclose(f.eigen, 0.5, atol=1e-9)  # H eigenvalues 1/2 (an LSTM's other H: 0)


def test_readout_angle_and_line_share_on_a_constructed_line():
    rng = np.random.default_rng(0)
    H = 6
    d, e = np.linalg.qr(rng.normal(size=(H, 2)))[0].T  # orthonormal
    for theta in (0.0, 25.0, 60.0, 90.0):
        w = np.cos(np.radians(theta)) * d + np.sin(np.radians(theta)) * e
        t = np.linspace(-2, 3, 9)
        h = 0.3 + t[:, None] * d  # (9, H) points on a line
        c = rng.normal(size=(9, H)) * 0  # an LSTM-like state (h, c): c constant, so the line lies in h
        share, direction, angle = fp.fit_line(np.hstack([h, c + 1.0]), slice(0, H), -w * 3.0)
        assert share == pytest.approx(1.0, abs=1e-12) and angle == pytest.approx(theta, abs=1e-6)
        assert abs(abs(direction @ d) - 1) < 1e-12
    noisy = np.vstack([t[:, None] * d, t[:, None] * d + 0.5 * e])  # two parallel lines: PC1 is d, not all of it
    share, direction, angle = fp.fit_line(noisy, slice(0, H), d)
    assert 0.5 < share < 1 and angle == pytest.approx(0.0, abs=1e-6)
    assert fp.fit_line(np.ones((5, H)), slice(0, H), d) == (None, None, None)  # no spread: no line
    assert fp.fit_line(np.ones((1, H)), slice(0, H), d) == (None, None, None)


def test_decision_line_points_have_logit_zero_and_the_path_is_the_trace(spaces):
    (fitted, _, _) = spaces
    m, sp = fitted["gru", 1]
    A, B, C = sp.line
    seg = sp.line_segment((-5, 5), (-5, 5))
    assert seg is not None and np.all(np.abs(seg) <= 5 + 1e-9)
    for x, y in np.vstack([seg, seg.mean(0)]):
        h = sp.mean + x * sp.components[0] + y * sp.components[1]
        assert abs(sp.readout_w @ h + sp.readout_b) < 1e-12
        np.testing.assert_allclose(sp.project(h), [x, y], atol=1e-12)
    assert sp.line_segment((1e6, 1e6 + 1), (1e6, 1e6 + 1)) is None  # the line misses a far box
    ids = [3, 5, 7, 2, 9, 11, 4]
    tr = _trace(m, ids)
    p = ss.path(sp, tr)
    np.testing.assert_allclose(p.xy[0], sp.project(np.zeros(12)), atol=1e-15)
    np.testing.assert_allclose(p.xy[1:], sp.project(tr.last.h), atol=1e-15)
    np.testing.assert_allclose(p.probs, [tr.prob0, *tr.step_probs], atol=0)
    h = np.vstack([np.zeros(12), tr.last.h])
    truth = h @ sp.readout_w + sp.readout_b >= 0
    assert p.side_agrees.tolist() == ((sp.plane_logit(p.xy) >= 0) == truth).tolist()
    np.testing.assert_allclose(p.captured, (p.xy ** 2).sum(1) / ((h - sp.mean) ** 2).sum(1), atol=1e-12)
    assert np.all((p.captured >= 0) & (p.captured <= 1 + 1e-12))
    assert sp.readout_in_plane == pytest.approx(np.hypot(A, B) / np.linalg.norm(sp.readout_w))
    with pytest.raises(ValueError, match="hidden units"):
        ss.path(sp, _trace(random_model("gru", hidden=5), ids))
    empty = ss.path(sp, _trace(m, []))  # nothing read: the start alone
    assert empty.xy.shape == (1, 2) and empty.probs.tolist() == [tr.prob0]
    assert "Nothing was read" in ss.path_story(sp, empty)[0]
    assert ss.to_json(sp, empty)["path"]["pc1"] == [] and ss.to_json(sp, empty)["path"]["start"]["prob"] == tr.prob0


def test_padding_read_before_the_words_is_its_own_grey_run_not_the_words(spaces):
    """A Keras tutorial model pre-pads: the path counts those rows as padding (lead), labels and counts only
    the words (and not the start token), and the figure draws the padding as one thin grey run."""
    from playground.figures import space_plots

    (fitted, _, _) = spaces
    m, sp = fitted["lstm", 1]
    ids = [0] * 6 + [1, 3, 5, 7, 9]
    enc = Encoded(ids=tuple(ids), tokens=("<pad>",) * 6 + ("<start>", "a", "b", "c", "d"), oov=(False,) * 11,
                  n_tokens_total=11)
    p = ss.path(sp, trace_ids(m, enc))
    assert p.lead == 6 and p.n_words == 4
    keys = ss.key_points(p)
    assert 0 in keys and 6 in keys and 11 in keys and all(k == 0 or k >= 6 for k in keys)
    said = " ".join(ss.where_story(sp, p))
    assert "After its 4 words" in said and f"the 6 padding zeros it reads first take it to {p.probs[6]:.2f}" in said
    assert said.index("padding zeros") < said.index("After its 4 words")  # in reading order
    assert ss.to_json(sp, p)["path"]["padding_first"] == 6
    fig = space_plots.plane(sp, p, model="m")
    pad = [t for t in fig.data if t.name == "the 6 padding zeros read first"]
    assert len(pad) == 1 and len(pad[0].x) == 7 and list(pad[0].text).count("6 × padding") == 1  # rows 0..6
    words = next(t for t in fig.data if t.name == "m reading your sentence")
    assert np.isnan(words.x[1]) and len(words.x) == 1 + 1 + 6  # the start, a gap, rows 6..11
    assert "start" in list(words.text) and not any("pad" in t for t in words.text)  # padding labelled once, grey
    # the app's own models never read padding: nothing changes for them
    q = ss.path(sp, _trace(m, [3, 5, 7]))
    assert q.lead == 0 and q.n_words == 3
    assert not any(t.name and "padding" in t.name for t in space_plots.plane(sp, q).data)
    everything_padding = ss.path(sp, _trace(m, [0, 0, 0]))
    assert everything_padding.lead == 0  # nothing follows it: drawn as the sentence itself


def test_a_readout_orthogonal_to_the_plane_has_no_line(spaces):
    (fitted, _, _) = spaces
    _, sp = fitted["rnn", 1]
    w = sp.components[2] * 2.0  # orthogonal to PC1 and PC2
    flat = dataclasses.replace(sp, readout_w=w)
    assert flat.line is None and flat.line_segment((-1, 1), (-1, 1)) is None and flat.readout_in_plane < 1e-12
    assert any("orthogonal" in s for s in ss.story(flat))


@pytest.fixture(scope="module")
def bundled():
    tm = zoo.load_bundled("gru-imdb")
    seen = []
    t0 = time.perf_counter()
    sp = ss.fit(tm.model, tm.vocab, tm.dataset, on_progress=lambda f, msg: seen.append((f, msg)))
    return tm, sp, seen, time.perf_counter() - t0


@pytest.mark.slow
@needs_models
def test_a_bundled_model_fits_in_budget_reports_progress_and_caches_small(bundled):
    tm, sp, seen, seconds = bundled
    assert seconds <= 30
    fracs = [f for f, _ in seen]
    assert fracs == sorted(fracs) and fracs[-1] == 1.0 and len(fracs) >= 5 and all(m for _, m in seen)
    assert len(pickle.dumps(sp)) < 2_000_000  # the PCA, the final states, the fixed points: not the states
    f = sp.fixed
    assert sp.n_texts == 200 and sp.n_states > 10_000 and f.n_starts == 200 and f.n_found >= 2
    x = np.zeros(tm.config.embed_dim)
    assert all(np.linalg.norm(_numpy_update(tm.model, s, x) - s) < f.tolerance for s in f.states[:20])
    text = " ".join(["a surprisingly tender film, not the dull mess I feared"] * 5)  # 50 tokens
    tr = trace(tm.model, tm.vocab, text)
    assert tr.n_steps == 50
    best = min(_timed(lambda: ss.path(sp, trace(tm.model, tm.vocab, text))) for _ in range(3))
    assert best <= 0.3


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


@needs_models
def test_the_story_says_the_numbers(bundled):
    _, sp, _, _ = bundled
    f = sp.fixed
    text = " ".join(ss.story(sp))
    assert f"PC1 holds {round(100 * sp.variance[0])}%" in text
    assert f"{f.n_found} of {f.n_starts} searches" in text
    assert f"{f.top_eigenvalue:.3f} (median" in text and f"{f.readout_angle_deg:.0f}° from the line" in text
    assert f"{sp.final_side_agrees.sum()} of the sample's 200 final states" in text
    signs = [f.pc1_share >= ss.LINE_SHARE, abs(f.top_eigenvalue - 1) <= ss.NEAR_ONE,
             f.readout_angle_deg <= ss.ALIGNED_DEG]
    assert f"shows {sum(signs)} of 3" in text


@pytest.mark.slow
@needs_models
def test_cli_json_prints_the_librarys_numbers(bundled, capsys):
    from playground.cli.main import main

    _, sp, _, _ = bundled
    text = "a dull, lifeless film"
    assert main(["statespace", "--model", "gru-imdb", "--json", text]) == 0  # in process: fast
    out = json.loads(capsys.readouterr().out)
    for key in ("pc_variance", "fixed_point_pc1_share", "readout_angle_deg", "top_eigenvalue", "path",
                "decision_line", "final_states", "fixed_points", "sentences", "tolerance", "n_fixed_points"):
        assert key in out
    np.testing.assert_allclose(out["pc_variance"], sp.variance, atol=1e-9)
    assert out["fixed_point_pc1_share"] == sp.fixed.pc1_share and out["readout_angle_deg"] == sp.fixed.readout_angle_deg
    assert out["top_eigenvalue"] == sp.fixed.top_eigenvalue and out["n_fixed_points"] == sp.fixed.n_found
    path = out["path"]
    assert path["tokens"] == ["a", "dull", "lifeless", "film"]
    assert len(path["pc1"]) == len(path["pc2"]) == len(path["prob"]) == 4
    tr = trace(zoo.load_bundled("gru-imdb").model, zoo.load_bundled("gru-imdb").vocab, text)
    np.testing.assert_allclose(path["prob"], tr.step_probs, atol=1e-9)
    assert path["start"]["prob"] == pytest.approx(tr.prob0)
    first = out["first_screen"]  # the page's first screen, the same numbers
    p = ss.path(sp, tr)
    assert first["where"] == ss.where_story(sp, p) and first["rest"] == ss.rest_summary(sp)
    assert first["key_points"] == list(ss.key_points(p))
    from playground.dynamics.intervene import suggest

    assert first["suggestion"]["prob"] == pytest.approx(suggest(zoo.load_bundled("gru-imdb").model, tr).changed.prob)
    assert main(["statespace", "--model", "gru-imdb", text]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any("PC1 holds" in x for x in lines) and any(x.split()[1:2] == ["lifeless"] for x in lines)


@pytest.mark.parametrize("args,pattern", [
    (["statespace"], "required"),
    (["statespace", "--model", "gru-rt", "--neutral", "loud"], "invalid choice"),
])
def test_cli_errors_are_one_line(args, pattern, capsys):
    from playground.cli.main import main

    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and pattern in err[0]


def test_every_cell_kind_is_read_from_its_description():
    # nothing here branches on a cell's name: the state layout comes from Cell.state
    for arch in ("rnn", "lstm", "gru"):
        upd = fp.StateUpdate(random_model(arch))
        assert upd.S == len(cell(arch).state) * 12 and upd.h_part == slice(0, 12)


def test_the_story_calls_fixed_points_at_one_place_a_single_point(spaces):
    (fitted, _, _) = spaces
    _, sp = fitted["gru", 1]
    assert sp.fixed.n_found >= 2 and sp.fixed.pc1_share is None  # seed 1's GRU: every search ends at one point
    text = " ".join(ss.story(sp))
    assert "a single fixed point, not a line" in text and "unlike it, not fixed points along one line" in text


# --- issue 28: the first screen's key points and sentences ------------------------------------------------
def _path(probs, tokens=None):
    n = len(probs) - 1
    return ss.Path(tokens=tuple(tokens or [f"w{i}" for i in range(n)]), xy=np.zeros((n + 1, 2)),
                   probs=np.asarray(probs, dtype=float), captured=np.ones(n + 1), side_agrees=np.ones(n + 1, bool))


def test_key_points_are_the_start_the_end_and_the_largest_moves():
    p = _path([0.5, 0.52, 0.9, 0.88, 0.3, 0.31, 0.35])  # moves: +.02 +.38 -.02 -.58 +.01 +.04
    assert ss.key_points(p) == (0, 2, 4, 6)  # start, "w1" (+.38), "w3" (-.58), end (w5, also the 3rd move)
    assert ss.key_points(p, n=1) == (0, 4, 6)
    assert ss.key_points(_path([0.5])) == (0,)


@pytest.mark.skipif(not zoo.bundled_names(), reason="no bundled models")
def test_where_story_and_rest_summary_come_from_the_numbers():
    from playground.dynamics import precomputed

    space = precomputed.load("space", zoo.load_bundled("gru-rt"))
    p = _path([0.5, 0.9, 0.2], ["good", "bad"])
    logit = np.log(space.final_probs / (1 - space.final_probs))
    r = np.corrcoef(space.final_xy[:, 0], logit)[0, 1]
    first, second = ss.where_story(space, p)
    assert f"correlates {r:+.2f} with the model's final logit" in first
    assert second == ("Your sentence starts at P(positive) = 0.50 (◆) and ends at 0.20 after 2 words; its biggest "
                      "moves, labelled on its path: “bad” (-0.70) and “good” (+0.40).")
    assert len(ss.where_story(space)) == 1
    # every move labelled on the path is named (the third was drawn but not said); a repeated word with its place
    q = _path([0.5, 0.6, 0.1, 0.15, 0.9, 0.95], ["was", "cold", "was", "wonderful", "ok"])
    assert ss.key_points(q) == (0, 1, 2, 4, 5)
    assert ss.where_story(space, q)[1].endswith("labelled on its path: “wonderful” (+0.75), “cold” (-0.50), “was” "
                                                "(word 1, +0.10) and “ok” (+0.05).")
    q = _path([0.5, 0.6, 0.1, 0.3], ["was", "cold", "was"])
    assert "“was” (word 3, +0.20)" in ss.where_story(space, q)[1]
    rest = ss.rest_summary(space)
    f = space.fixed
    assert len(rest) == 2 and (f"at {f.n_found} of {f.n_starts} searches" in rest[0] or f.n_found == 0)
    if f.n_found:
        assert f"keeps {f.top_eigenvalue:.2f} of a nudge per word ({f.top_eigenvalue ** 10:.2f} after 10" in rest[1]


def test_a_label_near_the_last_label_goes_to_the_other_side():
    """"cold" and "was (13)", neighbours on one path, were drawn over each other on a phone."""
    from playground.figures.space_plots import _label_sides

    x, y = np.array([0.0, 0.0, 5.0, 5.1, 9.0]), np.array([0.0, 1.0, 2.0, 2.05, 0.0])
    sides = _label_sides(x, y, ["start", "", "cold", "was (13)", "end"], [0, 1, 2, 3, 4])
    assert sides == ["bottom center", "top center", "top center", "bottom center", "top center"]
