"""Why gates' first screen (playground/dynamics/why.py): the answer from the gradients and the causes from
the labs' numbers."""
import math

import numpy as np
import pytest

from playground.dynamics import lab, why


def _grads(per_step: float, T: int = 120) -> np.ndarray:
    """A gradient that keeps `per_step` of itself at each step back from the last word (T words)."""
    return per_step ** np.arange(T - 1, -1, -1.0)  # (T,): word 0 first


def test_the_answer_quotes_the_share_k_words_back_and_what_each_step_kept():
    rows = [("r", "SimpleRNN", False, _grads(0.87)), ("l", "LSTM", True, _grads(0.97)),
            ("g", "GRU", True, _grads(0.98, T=60))]
    a = why.answer(rows, 343)
    assert a.k == 59  # the GRU read 60 words: the largest k every model has
    r = {x.model: x for x in a.reaches}
    assert r["r"].share == pytest.approx(0.87 ** 59) and r["r"].per_step == pytest.approx(0.87)
    assert a.textbook and a.headline.startswith("On a 343-word review, the gradient that reaches the word 59 words")
    assert f"SimpleRNN (r) {0.87 ** 59:.2g}" in a.headline
    assert "each step kept 0.87 of it" in a.because and "more per step: LSTM 0.97, GRU 0.98." in a.because
    assert f"({1 / 0.87 ** 59:,.0f}-fold less)" not in a.because  # rounded to two digits, not a spurious 8
    # a plain cell that keeps more than a gated one: said, not hidden
    b = why.answer([("r", "SimpleRNN", False, _grads(0.99)), ("l", "LSTM", True, _grads(0.9))], 200)
    assert not b.textbook and b.because.startswith("Here the SimpleRNN's gradient did not vanish faster")


def test_a_vanished_or_undefined_gradient_is_not_an_error():
    a = why.answer([("r", "SimpleRNN", False, np.r_[np.zeros(50), 1.0]), ("l", "LSTM", True, _grads(0.9, 51))], 51)
    assert a.reaches[0].share == 0.0 and "nothing left" in a.because
    z = why.reach("x", "GRU", True, [0.0, 0.0], 99)
    assert z.share is None and z.per_step is None
    with pytest.raises(ValueError):
        why.answer([], 10)


def _result(cd: dict, per_seed: dict, k=(5, 50, 200)) -> dict:
    return {"k": list(k), "cells": list(cd), "seeds": [0, 1, 2], "chance_accuracy": 0.6, "chance_distance": cd,
            "per_seed": per_seed,
            "curves": {c: [{"grad_signal": [0.5 ** i], "grad_last": [1.0]} for i in range(len(k))] for c in cd}}


def test_the_init_cause_says_what_the_textbook_start_changed_per_cell():
    ones, fail = [1.0, 1.0, 1.0], [0.5, 0.5, 0.5]
    keras = _result({"rnn": None, "lstm": 200}, {"rnn": [ones, ones, ones], "lstm": [ones, ones, fail]})
    book = _result({"rnn": None, "lstm": 50}, {"rnn": [ones, [1.0, 0.5, 1.0], ones], "lstm": [ones, fail, fail]})
    title, body = why.init_cause(keras, book)
    assert title == "The start decides a lot."
    assert "the SimpleRNN learns the same distances from both (up to k = 200)" in body
    assert "the LSTM learns up to k = 5 from the textbook's start instead of 50" in body
    assert "Single seeds failed where the mean did not: SimpleRNN 1 of 3 at k = 50 (textbook)." in body
    rows = why.init_table(keras, book, lab.init_gradient_shares,
                          {"keras": {"rnn": None, "lstm": 0.73}, "textbook": {"rnn": None, "lstm": 0.5}})
    assert rows[1] == {"cell": "LSTM", "keep gate at the start": "0.73 → 0.50",
                       "gradient reaching 200 tokens back, untrained": "0.25 → 0.25", "largest k learned": "50 → 5"}
    assert list(rows[1])[:2] == ["cell", "largest k learned"]  # the result before its causes
    assert why.init_cause(keras, None) is None and why.init_table(None, book, lab.init_gradient_shares) == []


def test_the_init_cause_links_the_untrained_gradient_to_the_longest_distance_only_when_one_cell_leads_both():
    ones = [1.0, 1.0, 1.0]
    keras = _result({"rnn": None, "lstm": 200}, {"rnn": [ones] * 3, "lstm": [ones] * 3})  # rnn 200, lstm 50
    book = _result({"rnn": None, "lstm": 50}, {"rnn": [ones] * 3, "lstm": [ones] * 3})  # rnn 200, lstm 5

    def shares(r):
        return {"rnn": [1.0, 0.5, 0.11 if r is keras else 0.025], "lstm": [1.0, 0.1, 0.009 if r is keras else None]}

    _, body = why.init_cause(keras, book, shares)
    assert body.endswith("Before any training the SimpleRNN's gradient reaching the signal 200 tokens back was the "
                         "largest of the cells' (0.11 of the last token's from Keras' start, 0.025 from the "
                         "textbook's; LSTM 0.009 from Keras'), and the SimpleRNN is the cell that learned the longest "
                         "distance from both starts.")
    lstm_leads = lambda r: {"rnn": [1.0, 0.5, 0.01], "lstm": [1.0, 0.5, 0.2]}  # noqa: E731 - passes most, learns less
    assert "Before any training" not in why.init_cause(keras, book, lstm_leads)[1]
    assert "Before any training" not in why.init_cause(keras, book)[1]  # no shares: nothing said


def test_the_gru_and_forget_causes_come_from_their_numbers():
    keras = _result({"gru": 50}, {"gru": [[1.0] * 3, [0.5] * 3, [0.5] * 3]}, k=(5, 50))
    title, body = why.gru_cause(0.5, keras, lab.init_gradient_shares)
    assert title == "The GRU starts with its update gate at z = 0.50."
    assert f"50 tokens back was 0.5 of the last token's, a factor {0.5 ** (1 / 49):.2f} per step" in body
    assert "falls to chance at k = 50" in body
    assert why.gru_cause(None, keras, lab.init_gradient_shares) is None
    title, body = why.forget_cause("lstm-rt", 0.66, 2.9, 18.6)
    assert title == "Trained forget gates sit near 0.7, not 1." and "averages 0.66" in body and "19 words" in body
    assert why.forget_cause("lstm-rt", None, 2.9, 18.6) is None
    assert math.isclose(0.5 ** (1 / 49), 0.9859, abs_tol=1e-3)


def test_the_why_command_prints_the_first_screens_numbers_and_they_add_up():
    """`python -m playground why --json`: each share is the gradient k words back over the last word's, per
    step kept to the k-th power gives it back, and the causes and the starts' table are the page's."""
    import json

    from playground.core import zoo
    from playground.dynamics import memory
    from tests.conftest import run_cli

    if "rnn-rt" not in zoo.bundled_names():
        pytest.skip("no bundled models")
    r = run_cli("why", "--dataset", "rt", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    k = out["k"]
    _, review = memory.long_review()
    for m in out["models"]:
        tm = zoo.load_bundled(m["model"])
        g = memory.token_gradients(tm.model, tm.vocab.encode(review, tm.config.max_len).ids)
        assert m["words"] == len(g) and m["k"] == k == min(99, len(g) - 1)
        assert m["share"] == pytest.approx(g[len(g) - 1 - k] / g[-1], rel=1e-9)
        assert m["per_step"] ** k == pytest.approx(m["share"], rel=1e-9)
    assert [c["title"] for c in out["causes"]] == ["The start decides a lot.",
                                                   "The GRU starts with its update gate at z = 0.50.",
                                                   "Trained forget gates sit near 0.7, not 1."]
    assert [row["cell"] for row in out["starts"]] == ["SimpleRNN", "LSTM", "GRU"]
    assert out["textbook"] and out["headline"].startswith("On a 343-word review")


def test_the_forget_cause_says_what_the_cells_own_path_keeps_checked_by_hand():
    """lstm-rt's forget gates run by hand with torch's weights in float64 on the long review: the unit whose f
    keeps most over the last k words, and that product, are the sentence's; the share is the answer's."""
    import json

    import numpy as np
    import torch

    from playground.core import zoo
    from playground.dynamics import memory
    from tests.conftest import run_cli

    if "lstm-rt" not in zoo.bundled_names():
        pytest.skip("no bundled models")
    out = json.loads(run_cli("why", "--dataset", "rt", "--json").stdout)
    text = out["causes"][-1]["text"]
    share = next(m["share"] for m in out["models"] if m["model"] == "lstm-rt")
    _, review = memory.long_review()
    tm = zoo.load_bundled("lstm-rt")
    ids = torch.tensor(tm.vocab.encode(review, tm.config.max_len).ids)
    rnn, H = tm.model.rnn, tm.model.rnn.hidden_size
    x = tm.model.embedding.weight[ids].double()
    w_ih, w_hh, b = rnn.weight_ih_l0.double(), rnn.weight_hh_l0.double(), (rnn.bias_ih_l0 + rnn.bias_hh_l0).double()
    h, c, fs = torch.zeros(H, dtype=torch.float64), torch.zeros(H, dtype=torch.float64), []
    with torch.no_grad():
        for t in range(len(ids)):
            z = w_ih @ x[t] + w_hh @ h + b
            i, f, g, o = (torch.sigmoid(z[:H]), torch.sigmoid(z[H:2 * H]), torch.tanh(z[2 * H:3 * H]),
                          torch.sigmoid(z[3 * H:]))
            c = f * c + i * g
            h = o * torch.tanh(c)
            fs.append(f.numpy())
    prods = np.prod(np.array(fs)[-out["k"]:], axis=0)
    u = int(np.argmax(prods))
    assert f"over those {out['k']} words the unit that keeps most (unit {u}) multiplies it by {prods[u]:.2g}." in text
    assert share > 10 * prods[u] and f"The share measured, {share:.2g}, is " in text and "through h" in text
    assert why.path_sentence("m", why.cell_path(np.full((5, 3), 0.5), 4), 0.07).endswith("The share measured is 0.07.")
    assert why.cell_path(np.zeros((1, 3)), 5) is None and why.path_sentence("m", None, 0.1) == ""


def test_the_answer_names_a_readers_model_apart_and_says_which_gated_cells_kept_more():
    """Two LSTMs (the bundled one and a reader's own) are told apart by model name; a plain cell between two
    gated cells is said to vanish faster than one and not the other, never "than the gated cells'"."""
    import numpy as np

    from playground.dynamics.why import answer

    def g(per):
        return per ** np.arange(120)[::-1]

    a = answer([("rnn-imdb", "SimpleRNN", False, g(0.999)), ("lstm-imdb", "LSTM", True, g(0.97)),
                ("mine", "LSTM", True, g(0.65))], 343)
    assert "LSTM (lstm-imdb) 0.97" in a.because and "LSTM (mine) 0.65" in a.because and not a.textbook
    assert "did not vanish faster than the gated cells'" in a.because
    b = answer([("rnn-rt", "SimpleRNN", False, g(0.9)), ("lstm-rt", "LSTM", True, g(0.97)),
                ("mine", "GRU", True, g(0.8))], 343)
    assert "vanished faster than the LSTM's but not than the GRU's" in b.because and "(mine)" not in b.because
