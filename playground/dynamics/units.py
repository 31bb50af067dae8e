"""The unit explorer: what each unit of a model's last layer responds to, over a fixed sample of
TEST texts of the model's dataset.

Per unit u, over every token t of every text in the sample (`SAMPLE_TEXTS`, evenly spaced):
- where it is driven: the texts in which it reaches its highest / lowest h ("value": h_{u,t}
  after the token), and those in which one token moves it most up / down ("change": h_{u,t} -
  h_{u,t-1}, with h_{u,-1} = 0, the term the exact account `account.py` splits the verdict into).
  One context per text, at that text's extreme token (otherwise a saturated unit's top ten are
  ten neighbouring tokens of one review), TOP_K texts per list, LEFT words before and RIGHT after;
- the words that move it most on average (mean change over their >= MIN_WORD_COUNT occurrences);
- its distribution: counts of h over all tokens in N_BINS equal bins over the cell's h range;
- its Pearson r with the readout's logit and with P(positive) after each token (all tokens), and
  across texts of its final h with the final logit and with the TEST label. The logit is
  b + sum_v w_v h_v, so it includes this unit's own term w_u h_u: a unit with a large readout
  weight correlates with the logit partly by construction (its weight is reported beside it).

All units come from one batched pass: the fused torch layer on a float64 copy of the weights
(agrees with `trace` to ~1e-13), texts grouped by length and right-padded, padding masked.
Statistics are accumulated chunk by chunk, so memory stays at one chunk (MAX_CHUNK_VALUES) plus
(texts, units) extremes and (distinct words, units) sums. The result is a small JSON-ready dict,
cached in memory and on disk (`.cache/units/<name>-<key>.json`, key = hash of config, weights,
vocabulary, dataset and these settings), validated on read and written atomically.
Word strings come from the model's vocabulary (an uploaded file's): render them as text only.

Measured (2 cores shared, one torch thread, first use in a fresh process, CSV read included): the
RT models 0.6-0.8 s (all 1,706 TEST sentences, 31,689 tokens), rnn-imdb 2.2 s, lstm-imdb 2.6 s,
gru-imdb 4.9 s (1,600 reviews, 257,370 / 332,274 tokens read); from memory 4 ms (the weights'
hash), from disk 15-30 ms. A file is about 1 MB (0.5 MB for 64 units); peak memory +100 MB.

The result (`unit_stats`, `compute`): {format, key, model, arch, dataset, hidden_size, layer,
max_len, n_texts, n_tokens, edges (N_BINS + 1), readout_b, order (units by |w_u| std(h_u), the
spread of their term in the logit), seconds, units: [per unit {unit, readout_w, mean, std, min,
max, histogram (N_BINS counts, summing to n_tokens), r_logit, r_prob, r_final_logit, r_label (None
where undefined), top: {value|change: {high|low: [TOP_K contexts {text, test_index, position,
value, token, oov, left, right}]}}, words: {up|down: [{word, mean_change, count}]}}]}.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from playground.core import clock
from playground.core.cells import cell
from playground.core.clock import Budget
from playground.core.data import DATASETS, load, no_dataset
from playground.core.models import SentimentRNN, hash_model
from playground.core.text import UNK_ID, Vocab

FORMAT = "rnn-playground/units/1"
SAMPLE_TEXTS = {"rt": 1706, "imdb": 1600}  # TEST texts read per dataset (rt: all of its TEST split)
MEAN_TOKENS = {"rt": 19, "imdb": 233}  # mean tokens of a TEST text, measured on the samples (for sample_size)
WORK_BUDGET = 2.8e10  # multiply-adds of one sample's recurrent pass (see sample_size)
MIN_TEXTS = 10  # even the largest model a file may hold (2 x 512 units) reads this many
TOP_K = 10  # contexts per list
LEFT, RIGHT = 4, 2  # words of context before and after the marked token
N_BINS = 40  # histogram bins over the cell's h range
MIN_WORD_COUNT = 5  # a word's mean change is listed only over at least this many occurrences
TOP_WORDS = 10
MAX_CHUNK_VALUES = 1 << 18  # (B, T, H) values per chunk of the batched pass: 2 MiB per float64 tensor
MEMORY_ENTRIES = 6  # results kept in memory (LRU; about 5 MB each as Python objects)
DISK_FILES = 32  # files kept in the cache folder (oldest dropped)
DISK_BYTES = 64 << 20  # and at most this many bytes in all (oldest dropped; one file of ~4 MB per model)
MAX_FILE_BYTES = 8 << 20  # a larger cache file is not read
CACHE_DIR = Path(os.environ.get("PLAYGROUND_UNITS_CACHE") or Path(__file__).resolve().parents[2] / ".cache" / "units")
KINDS = ("value", "change")  # what "drives" means: h after the token, or its change at the token
SIDES = ("high", "low")

Progress = Callable[[float, str], None]


# --- the sample ---------------------------------------------------------------------------------------
def sample(dataset: str, n_texts: int) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """(texts, labels (N,), their indices in the TEST split (N,)): evenly spaced, as typical.py's."""
    split = load(dataset, "test")
    if n_texts <= 0 or not len(split):
        return (), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    idx = np.linspace(0, len(split) - 1, min(n_texts, len(split))).round().astype(int)
    return tuple(split.texts[i] for i in idx), split.labels[idx], idx


def sample_size(config, dataset: str) -> int:
    """TEST texts read for a model: SAMPLE_TEXTS for its dataset, fewer (at least MIN_TEXTS) when its
    recurrent pass would cost more than WORK_BUDGET multiply-adds (every bundled model is within it)."""
    H, per_token = config.hidden_size, 0
    for layer in range(config.num_layers):
        per_token += config.cell.n_blocks * H * ((config.embed_dim if layer == 0 else H) + H)
    work = per_token * min(config.max_len, MEAN_TOKENS.get(dataset, max(MEAN_TOKENS.values())))
    n = SAMPLE_TEXTS.get(dataset, min(SAMPLE_TEXTS.values()))
    return max(MIN_TEXTS, min(n, int(WORK_BUDGET // work)))


# --- the pass -----------------------------------------------------------------------------------------
def _pearson(n, s_x, s_xx, s_y, s_yy, s_xy) -> list:
    """Pearson r per unit from running sums (x: (H,) sums; y: scalars or (H,)); None where x or y
    is constant."""
    cov = s_xy / n - (s_x / n) * (s_y / n)
    vx = s_xx / n - (s_x / n) ** 2
    vy = np.broadcast_to(s_yy / n - (s_y / n) ** 2, vx.shape)
    ok = (vx > 1e-18) & (vy > 1e-18)
    r = np.where(ok, cov / np.sqrt(np.where(ok, vx * vy, 1.0)), np.nan)
    return [None if not math.isfinite(v) else float(np.clip(v, -1.0, 1.0)) for v in r]


def _bins(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each value's bin among equal `edges`, as np.histogram assigns it (last bin closed; values
    outside go to the end bins; the cell's h never is): by arithmetic, then corrected at the edges."""
    n = len(edges) - 1
    i = np.clip(((x - edges[0]) * (n / (edges[-1] - edges[0]))).astype(np.int64), 0, n - 1)
    i -= x < edges[i]
    i += (x >= edges[i + 1]) & (i != n - 1)
    return np.clip(i, 0, n - 1)


def _context(tokens: tuple, oov: tuple, t: int, value: float, text: int, test_index: int) -> dict:
    """text: index in the sample; test_index: in the TEST split; position: 0-based among the tokens
    the model read (the last max_len of the text), the index into the trace's h."""
    return {"text": text, "test_index": test_index, "position": t, "value": value, "token": tokens[t],
            "oov": bool(oov[t]), "left": list(tokens[max(0, t - LEFT):t]), "right": list(tokens[t + 1:t + 1 + RIGHT])}


def _top(per_text: np.ndarray, where: np.ndarray, side: str, encs, test_idx) -> list[list[dict]]:
    """Per unit the TOP_K texts with the highest (or lowest) extreme, each at its extreme token.
    per_text, where: (N, H) each text's extreme value and its position."""
    order = np.argsort(-per_text if side == "high" else per_text, axis=0, kind="stable")[:TOP_K]  # (k, H)
    return [[_context(encs[i].tokens, encs[i].oov, int(where[i, u]), float(per_text[i, u]), int(i), int(test_idx[i]))
             for i in order[:, u]] for u in range(per_text.shape[1])]


def _chunks(lengths: np.ndarray, H: int) -> list[np.ndarray]:
    """Texts (indices) per chunk, longest first: each chunk holds at most MAX_CHUNK_VALUES padded
    values and no text shorter than half its longest, so padding at most doubles the work."""
    order, chunks, start = np.argsort(-lengths, kind="stable"), [], 0
    per = max(1, MAX_CHUNK_VALUES // H)  # padded tokens per chunk
    while start < len(order):
        T, end = lengths[order[start]], start + 1
        while end < len(order) and (end - start + 1) * T <= per and 2 * lengths[order[end]] >= T:
            end += 1
        chunks.append(order[start:end])
        start = end
    return chunks


@torch.no_grad()
def compute(model: SentimentRNN, vocab: Vocab, dataset: str, n_texts: int | None = None,
            on_progress: Progress | None = None, name: str = "model", budget: Budget | None = None) -> dict:
    """Every unit's statistics over the sample (uncached; see `unit_stats`). The sample is read in length
    bands (`_chunks`) taken in a seeded shuffled order; with a `budget` (clock.Budget) reading stops between
    two bands once it is over, the statistics are those of the texts read, and "cut" says how many."""
    t0 = time.perf_counter()
    say = on_progress or (lambda f, m: None)
    cfg = model.config
    n_texts = sample_size(cfg, dataset) if n_texts is None else n_texts
    H = cfg.hidden_size
    say(0.0, f"reading {n_texts} TEST texts")
    texts, labels, test_idx = sample(dataset, n_texts)
    encs = [vocab.encode(t, cfg.max_len) for t in texts]
    keep = [i for i, e in enumerate(encs) if e.ids]
    encs, labels, test_idx = [encs[i] for i in keep], labels[keep], test_idx[keep]
    N = len(encs)
    if N == 0:
        raise ValueError(f"no TEST text of {dataset!r} could be read by this model")
    lengths = np.array([len(e.ids) for e in encs])
    all_ids = np.concatenate([np.asarray(e.ids) for e in encs])
    distinct = np.unique(all_ids)  # (K,) words of the sample
    counts = np.zeros(len(distinct), dtype=np.int64)  # occurrences in the texts read
    compact = np.zeros(cfg.vocab_size, dtype=np.int64)
    compact[distinct] = np.arange(len(distinct))

    rnn = copy.deepcopy(model.rnn).double().eval()
    emb = model.embedding.weight.detach().double()  # (V, E)
    w = model.readout.weight.detach().double()[0]  # (H,)
    b = float(model.readout.bias.detach().double()[0])
    lo, hi = cell(cfg.arch).quantity("h").bounds or (-1.0, 1.0)
    edges = np.linspace(lo, hi, N_BINS + 1)

    hist = np.zeros((H, N_BINS), dtype=np.int64)
    s = {k: np.zeros(H) for k in ("h", "hh", "hl", "hp")}
    s.update(l=0.0, ll=0.0, p=0.0, pp=0.0)
    h_min, h_max = np.full(H, np.inf), np.full(H, -np.inf)
    ext = {(k, side): (np.zeros((N, H)), np.zeros((N, H), dtype=np.int64)) for k in KINDS for side in SIDES}
    final_h, final_logit = np.zeros((N, H)), np.zeros(N)
    word_sums = torch.zeros(len(distinct), H, dtype=torch.float64)  # (K, H) sum of changes per word

    done, read = 0, []
    bands = _chunks(lengths, H)
    for c, j in enumerate(np.random.default_rng(0).permutation(len(bands))):
        if c and clock.over(budget):
            break
        rows = bands[j]
        T = int(lengths[rows[0]])
        ids = torch.zeros(len(rows), T, dtype=torch.long)
        for j, i in enumerate(rows):
            ids[j, :lengths[i]] = torch.as_tensor(encs[i].ids)
        hb, _ = rnn(emb[ids])  # (B, T, H)
        mask = torch.arange(T)[None, :] < torch.as_tensor(lengths[rows])[:, None]  # (B, T)
        dh = hb - torch.nn.functional.pad(hb, (0, 0, 1, 0))[:, :-1]  # (B, T, H) change at each token
        flat, dflat = hb[mask], dh[mask]  # (n, H) real tokens only
        logit = flat @ w + b  # (n,)
        prob = torch.sigmoid(logit)
        x, lg, pr = flat.numpy(), logit.numpy(), prob.numpy()
        s["h"] += x.sum(0)
        s["hh"] += (x * x).sum(0)
        s["hl"] += lg @ x
        s["hp"] += pr @ x
        s["l"] += lg.sum()
        s["ll"] += lg @ lg
        s["p"] += pr.sum()
        s["pp"] += pr @ pr
        h_min, h_max = np.minimum(h_min, x.min(0)), np.maximum(h_max, x.max(0))
        b_idx = _bins(x, edges)  # (n, H)
        hist += np.bincount((b_idx + np.arange(H) * N_BINS).ravel(), minlength=H * N_BINS).reshape(H, N_BINS)
        words = compact[ids[mask].numpy()]
        word_sums.index_add_(0, torch.from_numpy(words), dflat)
        counts += np.bincount(words, minlength=len(distinct))
        m3, buf, ninf = mask[:, :, None], torch.empty_like(hb), torch.tensor(-math.inf, dtype=hb.dtype)
        for k, src in (("value", hb), ("change", dh)):
            for side in SIDES:
                torch.where(m3, src, ninf if side == "high" else -ninf, out=buf)  # padding never wins
                val, pos = buf.max(1) if side == "high" else buf.min(1)  # (B, H)
                ext[k, side][0][rows], ext[k, side][1][rows] = val.numpy(), pos.numpy()
        last = torch.as_tensor(lengths[rows] - 1)
        final_h[rows] = hb[torch.arange(len(rows)), last].numpy()
        final_logit[rows] = final_h[rows] @ w.numpy() + b
        done += len(rows)
        read.append(rows)
        say(0.95 * done / N, f"read {done} of {N} TEST texts")

    cut = clock.cut_note(done, N, "read {done} of {total} TEST texts", budget)
    if cut:  # the statistics of the texts read: keep their rows only
        sel = np.sort(np.concatenate(read))
        encs, labels, test_idx, lengths = [encs[i] for i in sel], labels[sel], test_idx[sel], lengths[sel]
        ext = {key: (v[sel], p[sel]) for key, (v, p) in ext.items()}
        final_h, final_logit, N = final_h[sel], final_logit[sel], len(sel)
    n = int(lengths.sum())
    r_logit = _pearson(n, s["h"], s["hh"], s["l"], s["ll"], s["hl"])
    r_prob = _pearson(n, s["h"], s["hh"], s["p"], s["pp"], s["hp"])
    fs = final_h.sum(0), (final_h ** 2).sum(0)
    r_final = _pearson(N, *fs, final_logit.sum(), final_logit @ final_logit, final_logit @ final_h)
    y = labels.astype(np.float64)
    r_label = _pearson(N, *fs, y.sum(), y @ y, y @ final_h)
    mean = s["h"] / n
    std = np.sqrt(np.maximum(s["hh"] / n - mean ** 2, 0.0))
    wn = w.numpy()
    tops = {(k, side): _top(*ext[k, side], side, encs, test_idx) for k in KINDS for side in SIDES}
    word_mean = np.divide(word_sums.numpy(), counts[:, None], out=np.zeros(word_sums.shape),
                          where=counts[:, None] > 0)  # (K, H)
    eligible = np.flatnonzero((counts >= MIN_WORD_COUNT) & (distinct != UNK_ID))
    units = []
    for u in range(H):
        by = eligible[np.argsort(-word_mean[eligible, u], kind="stable")]
        words = {side: [{"word": vocab.itos[int(distinct[j])], "mean_change": float(word_mean[j, u]),
                         "count": int(counts[j])} for j in (by if side == "up" else by[::-1])[:TOP_WORDS]]
                 for side in ("up", "down")}
        units.append({
            "unit": u, "readout_w": float(wn[u]), "mean": float(mean[u]), "std": float(std[u]),
            "min": float(h_min[u]), "max": float(h_max[u]), "histogram": hist[u].tolist(),
            "r_logit": r_logit[u], "r_prob": r_prob[u], "r_final_logit": r_final[u], "r_label": r_label[u],
            "top": {k: {side: tops[k, side][u] for side in SIDES} for k in KINDS}, "words": words,
        })
    say(1.0, f"done: {n:,} tokens of {N} TEST texts")
    return {
        "format": FORMAT, "model": name, "arch": cfg.arch, "dataset": dataset, "hidden_size": H,
        "layer": cfg.num_layers - 1, "max_len": cfg.max_len, "n_texts": N, "n_tokens": n,
        "edges": edges.tolist(), "readout_b": b,
        "order": [int(u) for u in np.argsort(-np.abs(wn) * std, kind="stable")],  # by spread of w_u h_u
        "units": units, "seconds": round(time.perf_counter() - t0, 3), "cut": cut,
    }


# --- one text -----------------------------------------------------------------------------------------
def unit_values(model: SentimentRNN, vocab: Vocab, text: str, unit: int | None = None,
                kind: str = "value") -> tuple[tuple[str, ...], np.ndarray]:
    """(tokens read, values): the unit's h after each token (T,) or its change at each token; with
    unit None every unit's, (H, T). From `trace` (float64), the numbers the page colours by."""
    from playground.core.trace import trace

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    tr = trace(model, vocab, text)
    h = tr.last.h  # (T, H)
    v = np.diff(h, axis=0, prepend=np.zeros((1, h.shape[1]))) if kind == "change" else h
    if unit is None:
        return tr.tokens, v.T.copy()
    if not 0 <= unit < h.shape[1]:
        raise ValueError(f"unit must be between 0 and {h.shape[1] - 1}")
    return tr.tokens, v[:, unit].copy()


# --- caching ------------------------------------------------------------------------------------------
@torch.no_grad()
def cache_key(model: SentimentRNN, vocab: Vocab, dataset: str, n_texts: int) -> str:
    """Hash of everything the result depends on: config, every weight, vocabulary, sample, settings."""
    d = hashlib.sha256()
    settings = [FORMAT, dataset, n_texts, TOP_K, LEFT, RIGHT, N_BINS, MIN_WORD_COUNT, TOP_WORDS]
    d.update(json.dumps([settings, model.config.to_dict()], sort_keys=True).encode())
    return hash_model(d, model, vocab).hexdigest()[:32]


def _file(cache_dir: Path, name: str, key: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)[:40].strip("-.") or "model"
    return Path(cache_dir) / f"{safe}-{key}.json"


def _num(x, none_ok: bool = False) -> bool:
    return (x is None and none_ok) or (isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x))


def _valid_context(c, n_texts: int) -> bool:
    return (isinstance(c, dict) and _num(c.get("value")) and isinstance(c.get("token"), str)
            and isinstance(c.get("text"), int) and 0 <= c["text"] < n_texts and isinstance(c.get("position"), int)
            and isinstance(c.get("test_index"), int) and isinstance(c.get("oov"), bool)
            and all(isinstance(c.get(k), list) and all(isinstance(t, str) for t in c[k]) for k in ("left", "right")))


def valid(obj, key: str, hidden: int) -> bool:
    """Is this (a parsed cache file) a complete result for this key? Checks every field the page reads."""
    try:
        ok = (isinstance(obj, dict) and obj.get("format") == FORMAT and obj.get("key") == key
              and obj.get("hidden_size") == hidden and isinstance(obj.get("n_texts"), int) and obj["n_texts"] > 0
              and isinstance(obj.get("n_tokens"), int) and obj["n_tokens"] > 0
              and isinstance(obj.get("edges"), list) and len(obj["edges"]) == N_BINS + 1
              and all(_num(e) for e in obj["edges"]) and sorted(obj.get("order", [])) == list(range(hidden))
              and isinstance(obj.get("units"), list) and len(obj["units"]) == hidden)
        if not ok:
            return False
        for u, r in enumerate(obj["units"]):
            hist = r["histogram"]
            if (r["unit"] != u or not all(_num(r[f]) for f in ("readout_w", "mean", "std", "min", "max"))
                    or not all(_num(r[f], True) for f in ("r_logit", "r_prob", "r_final_logit", "r_label"))
                    or not isinstance(hist, list) or len(hist) != N_BINS or not all(isinstance(c, int) for c in hist)
                    or sum(hist) != obj["n_tokens"]):
                return False
            for k in KINDS:
                for side in SIDES:
                    lst = r["top"][k][side]
                    if not isinstance(lst, list) or len(lst) > TOP_K or not all(
                            _valid_context(c, obj["n_texts"]) for c in lst):
                        return False
            for side in ("up", "down"):
                lst = r["words"][side]
                if not isinstance(lst, list) or len(lst) > TOP_WORDS or not all(
                        isinstance(x["word"], str) and _num(x["mean_change"]) and isinstance(x["count"], int)
                        for x in lst):
                    return False
        return True
    except (KeyError, TypeError, AttributeError):
        return False


def _read(path: Path, key: str, hidden: int) -> dict | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            return None
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    return obj if valid(obj, key, hidden) else None


def _write(path: Path, obj: dict) -> None:
    """Atomically (a temporary file renamed into place); then keep only the newest DISK_FILES files,
    at most DISK_BYTES in all (the newest first; the file just written is always kept).
    A folder that cannot be written is no error: the result is simply not kept on disk."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".units-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(obj, f, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        files = sorted(path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        total = 0
        for i, f in enumerate(files):
            total += f.stat().st_size
            if i and (i >= DISK_FILES or total > DISK_BYTES):
                f.unlink(missing_ok=True)
    except (OSError, ValueError):
        pass


_memory: OrderedDict[str, dict] = OrderedDict()
_lock = threading.Lock()


def clear_memory() -> None:
    with _lock:
        _memory.clear()


def _model_parts(tm):
    return tm.model, tm.vocab, tm.dataset, getattr(tm, "name", "model")


def cached(tm, n_texts: int | None = None, cache_dir: Path | None = None) -> str | None:
    """Where `unit_stats` would find this model's result without computing: "memory", "disk" or None."""
    model, vocab, dataset, name = _model_parts(tm)
    key = cache_key(model, vocab, dataset, sample_size(model.config, dataset) if n_texts is None else n_texts)
    with _lock:
        if key in _memory:
            return "memory"
    return "disk" if _read(_file(cache_dir or CACHE_DIR, name, key), key, model.config.hidden_size) else None


def unit_stats(tm, n_texts: int | None = None, on_progress: Progress | None = None,
               cache_dir: Path | None = None, disk: bool = True, budget: Budget | None = None) -> dict:
    """Every unit's statistics for a TrainedModel (model, vocab, dataset, name), from memory, the
    disk cache or computed (`compute`) and then kept in both. Keyed by a hash of the weights, so a
    session model never collides with another of the same name. Do not mutate the result. A result
    a `budget` cut short (its "cut" is not empty) is returned but kept in neither."""
    model, vocab, dataset, name = _model_parts(tm)
    if dataset not in DATASETS:
        raise ValueError(no_dataset("explore its units on"))
    n_texts = sample_size(model.config, dataset) if n_texts is None else n_texts
    key = cache_key(model, vocab, dataset, n_texts)
    with _lock:
        if key in _memory:
            _memory.move_to_end(key)
            return _memory[key]
    path = _file(cache_dir or CACHE_DIR, name, key)
    out = _read(path, key, model.config.hidden_size) if disk else None
    if out is None:
        out = compute(model, vocab, dataset, n_texts, on_progress, name, budget)
        out["key"] = key
        if out["cut"]:
            return out
        if disk:
            _write(path, out)
    elif on_progress:
        on_progress(1.0, "read from the cache")
    with _lock:
        _memory[key] = out
        while len(_memory) > MEMORY_ENTRIES:
            _memory.popitem(last=False)
    return out


# --- in words -----------------------------------------------------------------------------------------
def _ctx(c: dict) -> str:
    return " ".join([*c["left"], f"[{c['token']}]", *c["right"]])


def describe(stats: dict, unit: int) -> str:
    """One unit in a sentence, computed from its numbers."""
    r = stats["units"][unit]
    up, down = r["top"]["change"]["high"], r["top"]["change"]["low"]
    parts = [f"Unit {unit}: over {stats['n_tokens']:,} tokens of {stats['n_texts']} TEST texts its h runs from "
             f"{r['min']:+.2f} to {r['max']:+.2f} (mean {r['mean']:+.2f}, spread {r['std']:.2f})"]
    if up and down:
        parts.append(f"it rises most at \u201c{_ctx(up[0])}\u201d ({up[0]['value']:+.2f}) and falls most at "
                     f"\u201c{_ctx(down[0])}\u201d ({down[0]['value']:+.2f})")
    if r["r_logit"] is not None:
        parts.append(f"its h correlates with the logit after each token at r = {r['r_logit']:+.2f}"
                     + (f" (final state with the final logit across texts: r = {r['r_final_logit']:+.2f})"
                        if r["r_final_logit"] is not None else ""))
    else:
        parts.append("its h or the logit does not vary over the sample, so it has no correlation")
    w = r["readout_w"]
    parts.append(f"its readout weight is {w:+.3f}, so a higher h pushes the verdict towards "
                 f"{'positive' if w > 0 else 'negative'}" if w else "its readout weight is 0: the verdict ignores it")
    return "; ".join(parts) + "."


def lines(stats: dict, unit: int | None = None) -> list[str]:
    """The command line's text: one line per unit (in `order`), or one unit in full."""
    head = (f"{stats['model']} ({stats['arch']}), last layer, {stats['hidden_size']} units, over {stats['n_tokens']:,} "
            f"tokens of {stats['n_texts']} TEST texts ({stats['dataset']}); change = h after the token - h before")
    if unit is None:
        out = [head, "units by the spread of their readout term |w_u| x std(h_u):",
               f"{'unit':>4} {'w_u':>7} {'mean':>6} {'std':>5} {'r logit':>7} {'r final':>7}  "
               "rises most at / falls most at"]
        for u in stats["order"]:
            r = stats["units"][u]
            up, down = (r["top"]["change"][side][:1] for side in SIDES)
            out.append(f"{u:>4} {r['readout_w']:>+7.3f} {r['mean']:>+6.2f} {r['std']:>5.2f} {_r(r['r_logit']):>7} "
                       f"{_r(r['r_final_logit']):>7}  {_ctx(up[0]) if up else '-'} / {_ctx(down[0]) if down else '-'}")
        return out
    r = stats["units"][unit]
    out = [head, describe(stats, unit),
           f"r with P(positive) after each token {_r(r['r_prob'])}; final h with the TEST label {_r(r['r_label'])}"]
    titles = {("value", "high"): "highest h", ("value", "low"): "lowest h",
              ("change", "high"): "rises most (change)", ("change", "low"): "falls most (change)"}
    for (k, side), title in titles.items():
        out.append(f"{title}:")
        out += [f"  {c['value']:+.3f}  {_ctx(c)}  (TEST text {c['test_index']}, token {c['position']} of those read)"
                for c in r["top"][k][side]]
    for side in ("up", "down"):
        out.append(f"words that move it {side} on average (mean change, occurrences >= {MIN_WORD_COUNT}): " +
                   (", ".join(f"{x['word']} {x['mean_change']:+.3f} ({x['count']})" for x in r["words"][side]) or "-"))
    out.append("histogram of h (bin, tokens):")
    e, top = stats["edges"], max(r["histogram"]) or 1
    out += [f"  {e[i]:+.2f}..{e[i + 1]:+.2f}  {c:>7}  {'#' * round(40 * c / top)}"
            for i, c in enumerate(r["histogram"]) if c]
    return out


def _r(x) -> str:
    return "-" if x is None else f"{x:+.3f}"
