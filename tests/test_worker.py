"""Training in a child process: messages, the model handed back, Stop, errors, the run limit."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from playground import worker
from playground.models import ModelConfig
from playground.recipes import Recipe, recipe_from_dict, recipe_to_dict
from playground.train import TrainConfig

ROOT = Path(__file__).resolve().parent.parent


def _recipe(epochs=1, lr=2e-3, rows=300, evals=2, **kw) -> Recipe:
    return Recipe(dataset="rt", model=ModelConfig(arch="gru", vocab_size=3000, embed_dim=16, hidden_size=16, max_len=40),
                  train=TrainConfig(epochs=epochs, lr=lr, threads=1, evals_per_epoch=evals), train_limit=rows,
                  eval_other=False, **kw)


def test_recipe_round_trips_through_json():
    r = _recipe(mix="imdb", mix_limit=100, teachers=("a", "b"))
    assert recipe_from_dict(json.loads(json.dumps(recipe_to_dict(r)))) == r
    with pytest.raises(ValueError):
        recipe_from_dict({**recipe_to_dict(r), "evil": 1})
    with pytest.raises(ValueError):
        recipe_from_dict({**recipe_to_dict(r), "train": {**r.train.to_dict(), "lr": -1}})


def test_tiny_run_streams_progress_and_probe_then_hands_back_the_model():
    with worker.TrainingProcess(_recipe(epochs=2), "tiny", probe="I loved it, really") as tp:
        msgs = list(tp.messages())
        tm = tp.model()
    kinds = [m["type"] for m in msgs]
    assert kinds[0] == "prepared" and kinds[-1] == "result"
    assert kinds.count("probe") == 2
    events = [m["event"]["kind"] for m in msgs if m["type"] == "progress"]
    assert events.count("epoch") == 2 and events[-1] == "end"
    probe = worker.reading_from_dict(next(m for m in msgs if m["type"] == "probe"))
    assert probe.tokens[:2] == ("I", "loved") and len(probe.step_probs) == probe.n_steps
    assert tm.name == "tiny" and tm.source == "session"
    assert tm.card["status"] == "done" and 0 < tm.card["test_accuracy"] < 1
    report = worker.report_from_dict(tp.result["report"])
    assert report.n == 1706 and report.tn + report.fp + report.fn + report.tp == 1706
    assert not Path(tp.result["model_path"]).exists()  # read back, then removed
    assert tp.proc.returncode == 0


def test_stop_keeps_the_best_weights_so_far():
    with worker.TrainingProcess(_recipe(epochs=100, rows=2000), "stopped") as tp:
        for m in tp.messages():
            if m["type"] == "progress" and m["event"]["kind"] == "eval":
                break
        tp.finish()
        tm = tp.model()
    assert tp.result["status"] == "stopped"
    assert tm is not None and tm.card["best_epoch"] <= 2


def test_a_run_that_diverges_before_any_validation_is_one_clear_error():
    with worker.TrainingProcess(_recipe(epochs=2, lr=10.0, rows=600, evals=1), "boom") as tp:
        list(tp.messages())
    assert tp.result is None and "diverged" in tp.error and "smaller learning rate" in tp.error


def test_the_child_answers_a_bad_job_with_an_error_line():
    out = subprocess.run([sys.executable, "-m", "playground.worker"], input='{"recipe": {"dataset": "x"}}\n',
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    msg = json.loads(out.stdout.strip().splitlines()[-1])
    assert out.returncode == 1 and msg["type"] == "error" and "Training failed" in msg["message"]
    assert "Traceback" not in out.stderr


def test_at_most_max_processes_run_at_once():
    held = [worker._slots.acquire(blocking=False) for _ in range(worker.MAX_PROCESSES)]
    try:
        assert all(held)
        with pytest.raises(worker.Busy, match="try again"):
            worker.TrainingProcess(_recipe(), "one too many")
    finally:
        for _ in held:
            worker._slots.release()
