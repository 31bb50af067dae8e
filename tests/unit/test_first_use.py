"""A session model's heavy first-use results (state space with fixed points, ablation, unit statistics,
typical values) under a time budget (playground.clock.Budget): complete without one; cut short, each keeps
what it finished, says what it left out, and reads a random part of its sample (TEST splits are sorted by
label); the worker (ui.model_work.ModelWork) waits for the server's slot, passes its budget and stops on
Stop."""
import threading
import time

import numpy as np
import pytest

from playground.core.clock import Budget, cut_note
from playground.dynamics import precomputed, units
from ui.model_work import ModelWork, cut_of
from ui.training import Queue

KINDS = ("space", "ablation", "typical", "units")


def _spent() -> Budget:
    return Budget(0.0)  # over at the first check: each kind does its first part only


def test_the_budget_says_why_it_stopped():
    b = Budget(0.0)
    assert b.over() and b.stopped_by == "time" and "time budget of 0 s ran out" in b.why()
    s = Budget(None, stop=lambda: True)
    assert s.over() and s.why() == "it was stopped"
    free = Budget(None)
    assert not free.over() and cut_note(5, 5, "read {done} of {total}", free) == ""
    assert cut_note(2, 5, "read {done} of {total} texts", b) == "read 2 of 5 texts (the time budget of 0 s ran out)"


@pytest.mark.parametrize("kind", KINDS)
def test_without_a_budget_nothing_is_cut(kind, tiny_trained):
    assert cut_of(precomputed.compute(kind, tiny_trained)) == ""


def test_a_cut_state_space_keeps_the_texts_it_read_and_both_labels(tiny_trained):
    full = precomputed.compute("space", tiny_trained)
    part = precomputed.compute("space", tiny_trained, budget=_spent())
    assert part.n_texts < full.n_texts and part.n_states < full.n_states
    assert f"read {part.n_texts} of {full.n_texts} texts" in part.cut and "search ran" in part.cut
    assert len(part.final_xy) == len(part.final_labels) == len(part.final_probs) == part.n_texts
    assert set(part.final_labels.tolist()) == {0, 1}  # a random part of a sample sorted by label
    assert part.fixed.n_starts == part.n_texts and part.fixed.cut in part.cut


def test_a_stopped_fixed_point_search_says_so(tiny_trained):
    part = precomputed.compute("space", tiny_trained, budget=Budget(None, stop=lambda: True))
    assert "(it was stopped)" in part.cut


def test_a_cut_ablation_keeps_the_model_as_it_is_and_counts_the_runs_left(tiny_trained):
    full = precomputed.compute("ablation", tiny_trained)
    part = precomputed.compute("ablation", tiny_trained, budget=_spent())
    assert part.accuracy == full.accuracy and part.ranking == full.ranking
    assert part.single == () and part.together == {}
    n = len(full.single) + len([k for k in full.together if k > 1])  # the top 1 together is the top unit alone
    assert part.cut == f"0 of {n} ablations done (the time budget of 0 s ran out)"
    assert part.sentences()[0] == full.sentences()[0]


def test_an_ablation_cut_between_runs_keeps_the_groups_first(tiny_trained):
    from playground.dynamics import ablate

    calls = []
    b = Budget(None, stop=lambda: len(calls) >= 3)
    part = ablate.ablation(tiny_trained.model, tiny_trained.vocab, "rt", progress=calls.append, budget=b)
    full = ablate.ablation(tiny_trained.model, tiny_trained.vocab, "rt")
    assert len(calls) == 3 and part.together == {k: full.together[k] for k in list(part.together)}
    assert 1 not in part.together and len(part.together) == 2 and part.single == ()


def test_cut_unit_statistics_are_whole_for_the_texts_read_and_never_cached(tiny_trained, tmp_path, monkeypatch):
    monkeypatch.setattr(units, "CACHE_DIR", tmp_path)
    units.clear_memory()
    part = units.unit_stats(tiny_trained, budget=_spent())
    assert part["cut"].startswith("read ") and part["n_texts"] < units.sample_size(tiny_trained.model.config, "rt")
    assert units.valid(part, part["key"], tiny_trained.model.config.hidden_size)  # histograms sum to its tokens
    labels = {c["test_index"] < 853 for r in part["units"] for c in r["top"]["value"]["high"]}
    assert labels == {True, False}  # texts from both halves of the label-sorted TEST split
    assert units.cached(tiny_trained) is None and not list(tmp_path.glob("*.json"))
    full = units.unit_stats(tiny_trained)
    assert full["cut"] == "" and units.cached(tiny_trained) == "memory"


def test_cut_typical_values_read_a_random_part(tiny_trained):
    full = precomputed.compute("typical", tiny_trained)
    part = precomputed.compute("typical", tiny_trained, budget=_spent())
    assert part.n_texts == 1 and part.cut == f"read 1 of {full.n_texts} texts (the time budget of 0 s ran out)"
    assert "a part of the sample" in part.describe()


# --- the worker -----------------------------------------------------------------------------------------
def test_the_worker_computes_within_its_budget_in_a_slot(tiny_trained):
    run = ModelWork("space", tiny_trained, budget=0.0, queue=Queue(1)).start()
    assert run.wait(60) and run.phase == "done" and run.error is None
    assert run.value.cut and run.seconds is not None and run.snapshot()["fraction"] > 0


def test_the_worker_waits_for_the_slot_and_stop_keeps_what_it_has(tiny_trained):
    q, started = Queue(1), []

    def slow(tm, progress, budget):
        started.append(time.monotonic())
        while not budget.over():
            progress(0.5, "working")
            time.sleep(0.02)
        return {"cut": f"half ({budget.why()})"}

    first = ModelWork("units", tiny_trained, work=slow, budget=None, queue=q).start()
    deadline = time.monotonic() + 30  # the first holds the only slot before the second asks: on a busy
    while not started and time.monotonic() < deadline:  # machine the second thread could otherwise win it
        time.sleep(0.02)
    second = ModelWork("units", tiny_trained, work=slow, budget=0.3, queue=q).start()
    while second.snapshot()["queue_position"] != 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert first.snapshot()["phase"] == "working" and second.snapshot()["queue_position"] == 1
    first.stop()
    assert first.wait(30) and first.value == {"cut": "half (it was stopped)"}
    assert second.wait(30) and second.value == {"cut": "half (the time budget of 0.3 s ran out)"}


@pytest.mark.slow
def test_a_stop_while_waiting_and_a_failing_model_give_a_sentence(tiny_trained):
    q = Queue(1)
    holding = threading.Event()

    def hold(tm, progress, budget):
        holding.set()
        time.sleep(1.0)

    blocker = ModelWork("units", tiny_trained, work=hold, queue=q).start()
    assert holding.wait(30)  # the blocker holds the only slot before the second one asks (on a busy machine
    waiting = ModelWork("space", tiny_trained, queue=q).start()  # the second thread could otherwise win it)
    time.sleep(0.2)
    waiting.stop()
    assert waiting.wait(30) and waiting.value is None and waiting.error.startswith("Stopped while waiting")
    blocker.wait(30)

    def broken(tm, progress, budget):
        raise ValueError("no TEST text of 'rt' has a token this model reads")

    bad = ModelWork("space", tiny_trained, work=broken, queue=Queue(1)).start()
    assert bad.wait(30) and bad.error == "no TEST text of 'rt' has a token this model reads"
    odd = ModelWork("space", tiny_trained, work=lambda tm, p, b: np.zeros(1) / None, queue=Queue(1)).start()
    assert odd.wait(30) and "internal error" in odd.error


@pytest.mark.parametrize("cmd", ["statespace", "ablate", "units", "typical"])
def test_the_command_line_twins_take_a_budget_and_report_the_cut(cmd, capsys, tmp_path, monkeypatch):
    import json

    from playground.cli.main import main

    monkeypatch.setattr(units, "CACHE_DIR", tmp_path)  # no complete result from an earlier test's cache
    units.clear_memory()
    assert main([cmd, "--model", "rnn-rt", "--max-seconds", "0.001", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "(the time budget of 0.001 s ran out)" in out["cut"], out["cut"]
    assert main([cmd, "--model", "rnn-rt", "--max-seconds", "0.001"]) == 0
    assert "Part of the result only: " in capsys.readouterr().out
    assert main([cmd, "--model", "rnn-rt", "--max-seconds", "nan"]) == 2
    assert "--max-seconds must be a positive number" in capsys.readouterr().err
