"""Measure what one visitor can do to a live server (issue 12's acceptance numbers).

Starts `streamlit run app.py` on a free loopback port, samples the resident memory of the server
and all its children every 0.5 s, and drives headless Chromium through four scenarios:

1. extreme: the widest Train settings (IMDB x 20,000, vocabulary 30,000, 400 tokens, LSTM 256/256,
   2 layers, batch 8, 20 epochs), pressed Train: what the page says, and the server's peak;
2. largest: the largest settings the page accepts near those (vocabulary 20,000, embedding 128,
   one layer), trained to the end: seconds from the click to the result against the 120 s cap;
3. race: the largest race settings near those it accepts (hidden 128): seconds from the click to the result;
4. uploads: four maximum-size model files (float32, ~63.7 MB each, the most the uploader takes) uploaded
   one after another in one tab; the peak, what the page said, and the memory after the tab closes.

    python scripts/load_check.py [--only extreme,largest,race,uploads] [--out artifacts/load_check.json]

Not a test (it takes several minutes and trains for real); the numbers go into the closing notes.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_browser import (  # noqa: E402
    _free_port,
    _launch,
    _rss_kb,
    new_page,
    open_app,
    wait_settled,
)

READY = "is ready in every page's model picker"
EXTREME = dict(dataset="imdb", imdb_rows=20000, vocab_size=30000, max_len=400, arch="lstm", embed_dim=256,
               hidden_size=256, layers=2, batch_size=8, epochs=20)
LARGEST = dict(EXTREME, vocab_size=20000, embed_dim=128, layers=1)
RACE = dict(LARGEST, hidden_size=128)  # the largest race near LARGEST the page accepts (312 MB by its estimate)


class Sampler(threading.Thread):
    """RSS of the server and its children every 0.5 s; the peak per phase and a timeline."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.stop, self.phase = pid, threading.Event(), "start"
        self.peak: dict[str, int] = {}
        self.timeline: list[tuple[float, str, int]] = []
        self.t0 = time.monotonic()

    def run(self) -> None:
        while not self.stop.is_set():
            kb = _rss_kb(self.pid)
            self.peak[self.phase] = max(self.peak.get(self.phase, 0), kb)
            self.timeline.append((round(time.monotonic() - self.t0, 1), self.phase, kb))
            self.stop.wait(0.5)

    def mb(self, phase: str) -> float:
        return round(self.peak.get(phase, 0) / 1024, 1)

    def now_mb(self) -> float:
        return round(_rss_kb(self.pid) / 1024, 1)


def query(settings: dict) -> str:
    return "?" + "&".join(f"{k}={v}" for k, v in settings.items())


def notices(page) -> list[str]:
    return [t.strip()[:600] for t in page.locator('[data-testid="stAlert"]').all_inner_texts()]


def press_and_wait(page, button: str, done, timeout: float) -> float:
    t0 = time.monotonic()
    page.get_by_role("button", name=button, exact=True).click()
    done.first.wait_for(state="visible", timeout=timeout * 1000)
    return round(time.monotonic() - t0, 1)


def extreme(browser, base, sampler) -> dict:
    sampler.phase = "extreme"
    page = new_page(browser)
    open_app(page, base, "/train" + query(EXTREME), "Train a model")
    train = page.get_by_role("button", name="Train", exact=True)
    disabled = train.is_disabled()  # refused settings: the button cannot be pressed, the page says why
    if not disabled:
        train.click()
        page.wait_for_timeout(3000)
        wait_settled(page, timeout=60)
    said = [n for n in notices(page) if "cannot" in n or "refuse" in n or "MB" in n]
    page.context.close()
    return {"settings": EXTREME, "train_button_disabled": disabled, "page_said": said,
            "peak_mb": sampler.mb("extreme")}


def train_run(browser, base, sampler, phase: str, button: str, done_text: str, settings: dict) -> dict:
    sampler.phase = phase
    page = new_page(browser)
    open_app(page, base, "/train" + query(settings), "Train a model")
    seconds = press_and_wait(page, button, page.get_by_text(done_text), timeout=400)
    wait_settled(page, timeout=120)
    result = [n for n in notices(page) if READY in n or "cut" in n or "phase" in n or "took" in n]
    page.context.close()
    return {"settings": settings, "click_to_result_s": seconds, "page_said": result, "peak_mb": sampler.mb(phase)}


def max_files(directory: Path, n: int = 4) -> list[Path]:
    """n legal model files of about the largest size the page's uploader takes (64 MB, decimal: a 66.8 MB
    file is refused in the browser, though playground.zoo would read up to 64 MiB): float32 GRU weights,
    vocabulary 60,000 x 256 (15.8 M parameters, ~63.7 MB), random weights, distinct names."""
    import torch
    from safetensors.torch import save as st_save

    from playground.core import zoo
    from playground.core.models import ModelConfig, build

    cfg = ModelConfig(arch="gru", vocab_size=60_000, embed_dim=256, hidden_size=256, num_layers=1, max_len=400)
    model = build(cfg, seed=0)
    itos = ["<pad>", "<unk>"] + [f"w{i}" for i in range(cfg.vocab_size - 2)]
    paths = []
    for i in range(n):
        with torch.no_grad():
            tensors = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
        meta = {"format": zoo.FORMAT, "name": f"big-{i + 1}", "config": json.dumps(cfg.to_dict()),
                "vocab": json.dumps(itos), "card": json.dumps({"dataset": "rt"})}
        p = directory / f"big-{i + 1}.safetensors"
        p.write_bytes(st_save(tensors, metadata=meta))
        paths.append(p)
    return paths


def uploads(browser, base, sampler) -> dict:
    with tempfile.TemporaryDirectory() as d:
        files = max_files(Path(d))
        sizes = [round(p.stat().st_size / 2**20, 1) for p in files]
        sampler.phase = "uploads"
        before = sampler.now_mb()
        page = new_page(browser)
        open_app(page, base, "/train", "Train a model")
        said = []
        for p in files:
            page.locator('input[type="file"]').first.set_input_files(str(p))
            page.get_by_text(re.compile(re.escape(p.stem) + r".*(ready|dropped|not kept|budget)")).first.wait_for(
                state="visible", timeout=120_000)
            wait_settled(page, timeout=120)
            said.append(notices(page))
        held = sampler.now_mb()
        sampler.phase = "after_close"
        page.context.close()
        time.sleep(15)
        after = sampler.now_mb()
        time.sleep(135)  # Streamlit keeps a closed tab's session 120 s for a reconnect (server.disconnectedSessionTTL)
        later = sampler.now_mb()
        # its store (a cachetools TTLCache) drops an expired session only when it is next used: another tab's close
        other = new_page(browser)
        open_app(other, base, "/", "RNN Playground")
        other.context.close()
        time.sleep(5)
        cleaned = sampler.now_mb()
    return {"file_mib": sizes, "rss_before_mb": before, "peak_mb": sampler.mb("uploads"), "rss_with_tab_open_mb": held,
            "rss_15s_after_close_mb": after, "rss_150s_after_close_mb": later,
            "rss_after_another_tab_closed_mb": cleaned, "page_said": said}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="extreme,largest,race,uploads")
    ap.add_argument("--out", default=str(ROOT / "artifacts" / "load_check.json"))
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"]
    (ROOT / "artifacts").mkdir(exist_ok=True)
    log = open(ROOT / "artifacts" / "load-check-server.log", "wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    out: dict = {"machine": f"{os.cpu_count()} cores", "sampling_s": 0.5}
    try:
        for _ in range(300):
            try:
                if urllib.request.urlopen(base + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.2)
        sampler = Sampler(proc.pid)
        sampler.start()
        with sync_playwright() as p:
            browser = _launch(p)
            page = new_page(browser)
            open_app(page, base, "/playground", "Playground")
            page.context.close()
            out["idle_after_playground_mb"] = sampler.now_mb()
            todo = args.only.split(",")
            if "extreme" in todo:
                out["extreme"] = extreme(browser, base, sampler)
                print(json.dumps(out["extreme"], indent=1), flush=True)
            if "largest" in todo:
                out["largest"] = train_run(browser, base, sampler, "largest", "Train", READY, LARGEST)
                print(json.dumps(out["largest"], indent=1), flush=True)
            if "race" in todo:
                out["race"] = train_run(browser, base, sampler, "race", "Race SimpleRNN, LSTM and GRU", "Race result",
                                        RACE)
                print(json.dumps(out["race"], indent=1), flush=True)
            if "uploads" in todo:
                out["uploads"] = uploads(browser, base, sampler)
                print(json.dumps(out["uploads"], indent=1), flush=True)
            browser.close()
        sampler.stop.set()
        out["peak_mb_by_phase"] = {k: round(v / 1024, 1) for k, v in sampler.peak.items()}
        out["peak_mb"] = round(max(sampler.peak.values()) / 1024, 1)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2, ensure_ascii=False))
    print(json.dumps({k: v for k, v in out.items() if k not in ("extreme", "largest", "race", "uploads")}, indent=1))


if __name__ == "__main__":
    main()
