"""The live long-range lab on a worker thread (ui/lab_run.py): it finishes, stops on Stop, at its cap and
when its session goes, keeps what it finished, starts once per session and waits for the server's slot."""
import time

import pytest

from playground.dynamics import lab
from ui.lab_run import LabRun, claim
from ui.training import Queue

TINY = dict(k=(3, 4), cells=("rnn", "gru"), n_test=20)


def test_a_run_finishes_with_the_labs_result():
    run = LabRun(lab.LabSettings(steps=5, **TINY), queue=Queue(1)).start()
    assert run.wait(60) and run.done and not run.active
    assert run.result["k"] == [3, 4] and set(run.result["accuracy"]) == {"rnn", "gru"}
    assert run.result["status"] == "done" and run.result["cut"] is None
    assert len(run.finished) == 4 and run.phase == "done"


def test_stop_keeps_the_runs_that_finished():
    # four runs of ~0.4 s each here (more on a busy machine); Stop as soon as the first has finished
    run = LabRun(lab.LabSettings(steps=400, **TINY), queue=Queue(1)).start()
    deadline = time.monotonic() + 60
    while not run.finished and run.result is None and time.monotonic() < deadline:
        time.sleep(0.02)
    run.stop()
    assert run.wait(30)
    assert run.result["status"] == "stopped" and run.result["cut"] == "button" and run.stop_reason == "button"
    kept = run.result["runs"]
    assert 1 <= len(kept) < 4 and len(kept) == len(run.finished)
    assert [(r["cell"], r["k"]) for r in kept] == [(e.cell, e.k) for e in run.finished]


@pytest.mark.slow
def test_the_cap_and_a_gone_session_stop_it():
    capped = LabRun(lab.LabSettings(steps=5000, **TINY), cap=0.5, queue=Queue(1)).start()
    assert capped.wait(30) and capped.stop_reason == "cap" and capped.result["status"] == "stopped"
    gone = LabRun(lab.LabSettings(steps=5000, **TINY), alive=lambda: False, grace=0.3, queue=Queue(1)).start()
    assert gone.wait(30) and gone.stop_reason == "session"


@pytest.mark.slow
def test_one_run_per_session_and_it_waits_for_the_servers_slot():
    q = Queue(1)
    blocker = LabRun(lab.LabSettings(steps=5000, **TINY), queue=q).start()
    deadline = time.monotonic() + 30  # the blocker's thread takes the slot first (on a busy machine it can lag)
    while blocker.phase == "waiting" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert blocker.phase not in ("waiting", "done")
    store: dict = {}
    first = LabRun(lab.LabSettings(steps=5, **TINY), queue=q)
    assert claim(store, first) and not claim(store, LabRun(lab.LabSettings(steps=5, **TINY), queue=q))
    while first.snapshot()["queue_position"] != 1 and time.monotonic() < deadline + 30:
        time.sleep(0.02)  # its thread has come to the line (a fixed sleep can be short on a busy machine)
    snap = first.snapshot()
    assert snap["phase"] == "waiting" and snap["queue_position"] == 1  # the blocker holds the one slot
    blocker.stop()
    assert first.wait(60) and first.result["status"] == "done"
    assert blocker.wait(30)
