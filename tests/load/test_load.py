"""The load tier: eight visitors at once on a real `streamlit run app.py` (alone, and while a ninth
trains a model), with pass/fail limits on their waits and the server's memory; and the server's start-up
numbers. Run it on its own (it is left out of `python -m pytest -q` by pyproject's addopts):

    python -m pytest -q -m load

It writes artifacts/concurrency.json and artifacts/startup.json (git-ignored) and docs/load-results.json,
the figures docs/performance.md quotes: commit that file after a run worth quoting.
"""
from __future__ import annotations

import json
import os
import re
import statistics
import threading
import time
import traceback
from pathlib import Path

import pytest

from tests.browser.test_browser import (  # noqa: F401 - pytest's fixtures, found by name
    ARTIFACTS,
    DIALOGS,
    STARTUP,
    _launch,
    _pct,
    _rss_kb,
    browser,
    chromium,
    mark,
    metric_value,
    new_page,
    no_exception,
    open_app,
    server,
    slider_to,
    submit,
    text_box,
    wait_settled,
)

pytestmark = pytest.mark.load
RESULTS = Path(__file__).resolve().parents[2] / "docs" / "load-results.json"


def _record(key: str, data: dict) -> None:
    """Keep `data` under `key` in docs/load-results.json (the file the docs quote), with the date."""
    try:
        old = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        old = {}
    old[key] = {**data, "date": time.strftime("%Y-%m-%d")}
    RESULTS.write_text(json.dumps(old, indent=2, ensure_ascii=False) + "\n")


# --- f. concurrent visitors -----------------------------------------------------------------------
N_VISITORS = 8
N_CHANGES = 6  # per visitor and round (10 until 2026-12-02: the test took 8 of the suite's 22 minutes)
N_SINGLE = 5  # baseline: one visitor alone on the server
WORDS = ["good", "bad", "boring", "great", "awful", "fun", "slow", "moving", "dull", "brilliant", "weak",
         "charming"]


def _sentence(visitor: int, rnd: int, k: int) -> str:
    a, b = WORDS[(visitor + k) % len(WORDS)], WORDS[(visitor * 3 + k * 5 + rnd) % len(WORDS)]
    return f"visitor {visitor} round {rnd} change {k}: the film was {a} but the ending was {b}"


class _Visitor(threading.Thread):
    """One visitor with its own Playwright and Chromium (sync Playwright is not thread-safe)."""

    def __init__(self, idx: int, base: str, rounds: list[threading.Event], ready: threading.Barrier):
        super().__init__(daemon=True, name=f"visitor-{idx}")
        self.idx, self.base, self.rounds, self.ready = idx, base, rounds, ready
        self.done = [threading.Event() for _ in rounds]
        # per round, per change: (verdict_s, render_s, metric_changed); see _summary for what they are
        self.samples: list[list[tuple[float, float, bool]]] = [[] for _ in rounds]
        self.errors: list[str] = []

    def run(self) -> None:
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as p:
                b = _launch(p)
                try:
                    page = new_page(b)
                    # eight first loads at once on two cores, beside eight browsers starting: on 2026-12-06
                    # they settled 90-107 s after the click (old code and new alike), past the usual 60 s.
                    # The test measures the rounds that follow, so the opening gets 180 s.
                    open_app(page, self.base, "/playground", "Playground", timeout=180)
                    self.ready.wait(timeout=300)
                    for r, go in enumerate(self.rounds):
                        go.wait(timeout=600)
                        try:
                            if r > 0 or self.idx == 0:  # round 0: one visitor alone, the baseline
                                self._round(page, r, N_CHANGES if r else N_SINGLE)
                        finally:
                            self.done[r].set()
                finally:
                    b.close()
        except Exception:  # noqa: BLE001 - reported by the test
            self.errors.append(traceback.format_exc(limit=3))
            self.ready.abort()
        finally:
            for d in self.done:
                d.set()

    def _round(self, page, r: int, n: int) -> None:
        box = text_box(page, "Sentence")
        for k in range(n):
            text = _sentence(self.idx, r, k)
            try:
                box.fill(text)
                old = metric_value(page, "P(positive)")
                t0 = page.evaluate("""(old) => {
                    window.__pw.watch = {sel: '[data-testid="stMetricValue"]', old: old, t: null};
                    return performance.now(); }""", old)
                m = mark(page)
                box.press("Enter")
                st = wait_settled(page, since=m, timeout=120, url_has=("s", text))
                render = (st["last"] - t0) / 1000
                w = st["watch"]
                changed = bool(w and w["t"] is not None)
                self.samples[r].append(((w["t"] - t0) / 1000 if changed else render, render, changed))
                exc = page.locator('[data-testid="stException"]')
                if exc.count():
                    self.errors.append(f"visitor {self.idx} round {r} change {k}: " + exc.first.inner_text()[:500])
            except Exception:  # noqa: BLE001
                self.errors.append(f"visitor {self.idx} round {r} change {k}: " + traceback.format_exc(limit=2))


class _MemorySampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True, name="rss-sampler")
        self.pid, self.stop, self.peak_kb, self.phase_peak = pid, threading.Event(), 0, {}
        self.phase = "start"

    def run(self) -> None:
        while not self.stop.is_set():
            kb = _rss_kb(self.pid)
            self.peak_kb = max(self.peak_kb, kb)
            self.phase_peak[self.phase] = max(self.phase_peak.get(self.phase, 0), kb)
            self.stop.wait(0.5)


def _summary(visitors: list[_Visitor], r: int) -> dict:
    samples = [x for v in visitors for x in v.samples[r]]
    verdict, render = [x[0] for x in samples], [x[1] for x in samples]

    def stats(xs: list[float]) -> dict:
        return {"median_s": round(statistics.median(xs), 3), "p95_s": round(_pct(xs, 95), 3),
                "max_s": round(max(xs), 3)} if xs else {"median_s": None, "p95_s": None, "max_s": None}

    return {"n": len(samples), **stats(verdict), "metric_changed_n": sum(x[2] for x in samples),
            "metric_when_changed": stats([x[0] for x in samples if x[2]]), "full_render": stats(render)}


def test_concurrent_visitors(server, browser):
    base = server["base"]
    sampler = _MemorySampler(server["pid"])
    sampler.start()
    rounds = [threading.Event(), threading.Event(), threading.Event()]
    ready = threading.Barrier(N_VISITORS + 1)
    visitors = [_Visitor(i, base, rounds, ready) for i in range(N_VISITORS)]
    trainer = None
    train_info: dict = {}
    try:
        for v in visitors:
            v.start()
        try:
            ready.wait(timeout=300)
        except threading.BrokenBarrierError:
            for v in visitors:
                v.join(timeout=30)
            pytest.fail("the visitors could not open the Playground:\n" +
                        "\n".join(e for v in visitors for e in v.errors))

        # round 0: one visitor alone (baseline); round 1: the eight visitors at once
        sampler.phase = "single"
        rounds[0].set()
        for v in visitors:
            v.done[0].wait(timeout=600)
        sampler.phase = "alone"
        rounds[1].set()
        for v in visitors:
            v.done[1].wait(timeout=600)

        # round 2: while a ninth visitor trains (RT, all sentences, default settings, 3 epochs)
        trainer = new_page(browser)
        open_app(trainer, base, "/train", "Train a model")
        assert slider_to(trainer, "Epochs", ["Home", "ArrowRight", "ArrowRight"]) == "3"
        t_train = time.monotonic()
        trainer.get_by_role("button", name="Train", exact=True).click()
        trainer.get_by_text(re.compile(r"Epoch \d+/3 · batch")).first.wait_for(state="visible", timeout=120_000)
        sampler.phase = "while_training"
        rounds[2].set()
        deadline = time.monotonic() + 900
        ready = trainer.get_by_text("is ready in every page's model picker")
        t_ready = None  # when the training's result first showed, seen while the visitors work
        while not all(v.done[2].is_set() for v in visitors) and time.monotonic() < deadline:
            trainer.wait_for_timeout(250)  # keeps this thread's Playwright responsive
            if t_ready is None and ready.count():
                t_ready = time.monotonic()
        train_info["still_training_when_visitors_finished"] = ready.count() == 0
        ready.first.wait_for(state="visible", timeout=180_000)
        train_info["training_wall_s"] = round((t_ready or time.monotonic()) - t_train, 1)  # click to result
        train_info["result"] = trainer.get_by_text("is ready in every page's model picker").first.inner_text()
        wait_settled(trainer, timeout=60)
        no_exception(trainer)
    finally:
        for r in rounds:
            r.set()
        for v in visitors:
            v.join(timeout=120)
        sampler.stop.set()
        sampler.join(timeout=5)
        if trainer is not None:
            trainer.context.close()

    errors = [e for v in visitors for e in v.errors]
    result = {
        "visitors": N_VISITORS, "changes_per_visitor": N_CHANGES,
        "measured": ("'alone' = 8 visitors at once, 'while_training' = the same while a 9th visitor trains, "
                     "'single_visitor_baseline' = one visitor, 5 changes, nobody else. median_s/p95_s/max_s: "
                     "seconds from pressing Enter in the Playground's Sentence box until "
                     "the P(positive) metric first shows a different non-empty value; when the new value "
                     "happens to equal the old one (metric_changed_n counts the others), until the rerun is "
                     "fully rendered instead. full_render: seconds from Enter until that rerun is fully "
                     "rendered in the browser: the URL carries the new sentence, no running indicator, no "
                     "stale element, no spinner or skeleton, measured at the last DOM change before 0.5 s of "
                     "quiet (the quiet period is not counted); it includes drawing all ten Plotly charts, and "
                     "the 8-9 Chromiums share the machine's cores with the server."),
        "single_visitor_baseline": _summary(visitors, 0),
        "alone": _summary(visitors, 1),
        "while_training": {**_summary(visitors, 2), **train_info},
        "errors": len(errors),
        "peak_rss_mb": round(sampler.peak_kb / 1024, 1),
        "peak_rss_mb_by_phase": {k: round(v / 1024, 1) for k, v in sampler.phase_peak.items()},
        "cpu_count": os.cpu_count(),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "concurrency.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    _record("concurrency", result)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    assert not errors, "\n".join(errors)[:5000]
    assert result["single_visitor_baseline"]["n"] == N_SINGLE, result
    # Pass/fail limits: several times what this 2-core machine measures, so a noisy machine passes,
    # while a hung server (every wait times out), a crashed one (errors), one that answers with stale
    # numbers (the metric does not change) or one that leaks memory does not. Measured on 2026-12-02
    # (busier than the README's week): verdict median 1.4-2.3 s alone and 2.3-3.6 s while training, p95
    # up to 10 s, full redraw median 12-22 s (nine Chromiums share two cores), peak 633-887 MB.
    base = result["single_visitor_baseline"]
    assert base["median_s"] < 3, base
    for key in ("alone", "while_training"):
        r = result[key]
        assert r["n"] == N_VISITORS * N_CHANGES, r
        assert r["median_s"] < 10 and r["p95_s"] < 30, (key, r)
        assert r["full_render"]["median_s"] < 60 and r["full_render"]["p95_s"] < 120, (key, r)
        assert r["metric_changed_n"] >= 0.8 * r["n"], (key, r)  # new sentences, new verdicts
    assert result["peak_rss_mb"] < 1000, result
    assert result["while_training"]["training_wall_s"] < 180, result  # 120 s cap, then TEST
    assert not DIALOGS


# --- startup numbers ------------------------------------------------------------------------------
def test_startup_numbers(server):
    """The start-up times the server fixture measured: to /_stcore/health, and to Home's title in Chromium
    (first visit, cold caches). Recorded for the docs; the limit is what a visitor would still wait for
    (measured 0.6 s and 3.8 s on the 2-core machine, 2026-12-05), well inside the fixture's 60 s."""
    assert "health_ok_s" in STARTUP and "home_title_s" in STARTUP, STARTUP
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    data = {**STARTUP, "measured": "seconds from Popen of `streamlit run` to /_stcore/health = ok, and to the "
                                  "Home page's title being visible in Chromium (first visit, cold caches)"}
    (ARTIFACTS / "startup.json").write_text(json.dumps(data, indent=2))
    _record("startup", data)
    print(json.dumps(data, indent=2))
    assert STARTUP["health_ok_s"] < 10 and STARTUP["home_title_s"] < 20, STARTUP


