"""`python -m playground bench`: median timings of trace, forward and training, and peak memory.

Thread policy measured here (see README): serving uses 1 torch thread per process and the app
trains with 1 thread too, because on this 2-core machine two torch computations that each ask
for every core collapse; the command line trains with 2 threads when it has the machine alone.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import resource
import statistics
import time

import numpy as np
import torch

SENT10 = "I expected to hate it but honestly I loved it"
SENT50 = ("The first half drags and the dialogue is often clumsy , but the last act is wonderful : "
          "the two leads are funny and warm , the music is great , and by the end I was moved . "
          "Not a perfect film , but I would happily watch it again with my friends this weekend")


def _median_ms(fn, repeats: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def _rt_epoch(arch: str, threads: int, limit: int | None = None) -> tuple[float, int]:
    """Seconds for one training epoch on RT TRAIN at embedding 64 / hidden 64 / batch 64."""
    from playground.core import data
    from playground.core.models import ModelConfig, build
    from playground.core.text import Vocab
    from playground.training.train import EncodedSet, TrainConfig, Trainer

    split = data.load("rt", "train")
    texts, labels = split.texts[:limit] if limit else split.texts, split.labels[:limit] if limit else split.labels
    vocab = Vocab.build(texts, max_size=20000)
    ds = EncodedSet.from_texts(vocab, texts, labels, 100)
    model = build(ModelConfig(arch=arch, vocab_size=len(vocab), embed_dim=64, hidden_size=64, max_len=100), seed=0)
    tr = Trainer(model, ds, None, TrainConfig(epochs=1, batch_size=64, threads=threads))
    for _ in tr.run():
        pass
    return tr.seconds, len(ds)


def _imdb_epoch(threads: int, fraction: float) -> dict:
    """The first tutorial's network: GRU(100), embedding 100, vocabulary 5,000, <= 500 tokens,
    batch 64 on IMDB TRAIN; times `fraction` of the rows (sampled evenly) and extrapolates."""
    from playground.core import data
    from playground.core.models import ModelConfig, build
    from playground.core.text import Vocab
    from playground.training.train import EncodedSet, TrainConfig, Trainer

    split = data.load("imdb", "train")
    vocab = Vocab.build(split.texts, max_size=5000)
    step = max(1, int(round(1 / fraction)))
    idx = np.arange(0, len(split), step)
    ds = EncodedSet.from_texts(vocab, [split.texts[i] for i in idx], split.labels[idx], 500)
    model = build(ModelConfig(arch="gru", vocab_size=5000, embed_dim=100, hidden_size=100, max_len=500), seed=0)
    tr = Trainer(model, ds, None, TrainConfig(epochs=1, batch_size=64, threads=threads))
    for _ in tr.run():
        pass
    return {"rows_timed": len(ds), "seconds_timed": round(tr.seconds, 2),
            "epoch_seconds_extrapolated": round(tr.seconds * len(split) / len(ds), 1)}


def _busy_torch(threads: int, stop, ready) -> None:  # runs in a child process
    torch.set_num_threads(threads)
    a = torch.randn(256, 256)
    ready.set()
    while not stop.is_set():
        for _ in range(50):
            a = torch.tanh(a @ a.T * 0.01)


def _gru_step_ms(threads: int, repeats: int) -> float:
    from playground.core.models import ModelConfig, build
    from playground.training.optim import Optimizer

    torch.set_num_threads(threads)
    model = build(ModelConfig(arch="gru", vocab_size=20000, embed_dim=64, hidden_size=64), seed=0)
    opt = Optimizer("adam", model.parameters(), 1e-3)
    ids = torch.randint(2, 20000, (64, 25))
    y = torch.randint(0, 2, (64,)).float()

    def step():
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(ids), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return _median_ms(step, repeats)


def _contention(repeats: int) -> list[dict]:
    """A GRU training step alone and beside another busy torch process, for thread choices."""
    ctx = mp.get_context("spawn")
    rows = []
    for mine, other in [(2, None), (1, None), (2, 2), (1, 1)]:
        proc = None
        if other is not None:
            stop, ready = ctx.Event(), ctx.Event()
            proc = ctx.Process(target=_busy_torch, args=(other, stop, ready), daemon=True)
            proc.start()
            ready.wait(30)
        try:
            ms = _gru_step_ms(mine, repeats)
        finally:
            if proc is not None:
                stop.set()
                proc.join(10)
                if proc.is_alive():
                    proc.kill()
        rows.append({"threads": mine, "other_process_threads": other, "gru_step_ms": round(ms, 2)})
    return rows


def run_bench(quick: bool = False, as_json: bool = False, out: str | None = None) -> int:
    from playground.core import zoo
    from playground.core.models import ARCHS
    from playground.core.text import tokenize
    from playground.core.trace import fused_prob, trace

    old_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the serving setting
    torch.set_flush_denormal(True)
    repeats = 10 if quick else 50
    res: dict = {"machine": {"cores": mp.cpu_count(), "torch": torch.__version__}, "models": []}
    for name in zoo.bundled_names():
        tm = zoo.load_bundled(name)
        row = {"name": name}
        for label, sent in (("10", SENT10), ("50", SENT50)):
            enc = tm.encode(sent)
            traced = lambda tm=tm, sent=sent: trace(tm.model, tm.vocab, sent)
            fused = lambda tm=tm, enc=enc: fused_prob(tm.model, enc.ids)
            row[f"trace{label}_ms"] = round(_median_ms(traced, repeats), 3)
            row[f"fused{label}_ms"] = round(_median_ms(fused, repeats), 3)
            row[f"tokens{label}"] = len(enc.ids)
        res["models"].append(row)
    assert len(tokenize(SENT10)) == 10 and len(tokenize(SENT50)) == 50
    res["rt_epoch"] = []
    for arch in ARCHS:
        for threads in ((1,) if quick else (1, 2)):
            secs, n = _rt_epoch(arch, threads, limit=1000 if quick else None)
            res["rt_epoch"].append({"arch": arch, "threads": threads, "rows": n, "seconds": round(secs, 2),
                                    "sentences_per_s": round(n / secs)})
    if not quick:
        res["imdb_gru100_epoch"] = _imdb_epoch(threads=2, fraction=0.25)
    res["contention"] = _contention(5 if quick else 30)
    res["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    torch.set_num_threads(old_threads)
    if out:
        with open(out, "w") as f:
            json.dump(res, f, indent=2)
    if as_json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"machine: {res['machine']['cores']} cores, torch {res['machine']['torch']}; medians; serving uses 1 thread")
    print(f"{'model':<10} {'trace 10 tok':>12} {'trace 50 tok':>12} {'fused 10':>9} {'fused 50':>9}  (ms)")
    for r in res["models"]:
        print(f"{r['name']:<10} {r['trace10_ms']:>12.2f} {r['trace50_ms']:>12.2f} "
              f"{r['fused10_ms']:>9.2f} {r['fused50_ms']:>9.2f}")
    print("training, Rotten Tomatoes TRAIN, embedding 64 / hidden 64 / batch 64:")
    for r in res["rt_epoch"]:
        print(f"  {r['arch']:<5} {r['threads']} thread(s): {r['seconds']:.2f} s/epoch "
              f"({r['rows']} rows, {r['sentences_per_s']} sentences/s)")
    if "imdb_gru100_epoch" in res:
        r = res["imdb_gru100_epoch"]
        print(f"IMDB TRAIN epoch, GRU(100) emb 100 vocab 5000 len<=500 batch 64, 2 threads: "
              f"{r['epoch_seconds_extrapolated']:.1f} s (timed {r['rows_timed']} rows in {r['seconds_timed']} s)")
    print("GRU training step (batch 64 x 25 tokens), alone and beside another busy torch process:")
    for r in res["contention"]:
        other = r["other_process_threads"]
        beside = "alone" if other is None else f"beside a {other}-thread process"
        print(f"  {r['threads']} thread(s) {beside}: {r['gru_step_ms']:.1f} ms")
    print(f"peak memory (this process): {res['peak_rss_mb']:.0f} MB")
    return 0
