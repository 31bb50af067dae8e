"""Shared fixtures: a small random model and vocabulary, bundled models when present."""
from __future__ import annotations

import pytest
import torch

from playground.core.models import ModelConfig, build
from playground.core.text import Vocab
from playground.core.zoo import TrainedModel
from playground.training.train import torch_threads

WORDS = ["good", "bad", "great", "awful", "not", "movie", "film", "the", "a", "is", "was", "it", "loved", "hated"]


# --- test tiers -------------------------------------------------------------------------------------
# By folder: unit/ (the library, random tiny models and the bundled ones; in-process), cli/ (the command
# line, in-process), app/ (the pages under Streamlit's AppTest), browser/ (a real server and Chromium),
# load/ (eight visitors at once, start-up numbers). A folder's marks are added here; a test of unit/ or
# cli/ that takes more than about a second carries @pytest.mark.slow itself.
#   fast tier:  python -m pytest -q -m "not slow and not browser and not load"
#   CI:         python -m pytest -q -n 2 --dist loadgroup   (pyproject's addopts leave the load tier out;
#               the browser tests share one server, so they are one xdist group on one worker)
#   load tier:  python -m pytest -q -m load
FOLDER_MARKS = {"app": ("app", "slow"), "browser": ("browser",), "load": ("load", "browser")}


def pytest_collection_modifyitems(config, items):
    from pathlib import Path

    here = Path(__file__).resolve().parent
    for item in items:
        try:
            folder = Path(str(item.fspath)).resolve().relative_to(here).parts[0]
        except ValueError:
            continue
        for mark in FOLDER_MARKS.get(folder, ()):
            item.add_marker(getattr(pytest.mark, mark))
        if folder in ("browser", "load"):  # one server and one Chromium: with -n 2, all on one worker
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):  # the serving setting; also keeps tests from fighting over 2 cores
        yield


@pytest.fixture
def small_vocab() -> Vocab:
    return Vocab(["<pad>", "<unk>"] + WORDS)


def random_model(arch: str, layers: int = 1, vocab_size: int = 16, hidden: int = 12, seed: int = 0,
                 scale: float = 0.2, max_len: int = 400):
    m = build(ModelConfig(arch=arch, vocab_size=vocab_size, embed_dim=8, hidden_size=hidden,
                          num_layers=layers, dropout=0.0, max_len=max_len), seed=seed)
    # push weights away from the init so every gate does something; much larger noise makes a
    # tanh RNN chaotic, and chaos amplifies float32 rounding in the fused layer past 1e-5
    with torch.no_grad():
        g = torch.Generator().manual_seed(seed)
        for p in m.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)
    return m.eval()


@pytest.fixture
def tiny_trained(small_vocab) -> TrainedModel:
    m = random_model("gru", vocab_size=len(small_vocab))
    return TrainedModel(name="tiny", model=m, vocab=small_vocab, card={"dataset": "rt", "test_accuracy": 0.5})


# Any string a person can type, for every text box of the pages (AppTest): empty, blank, HTML, Markdown and
# LaTeX, CJK / emoji / right-to-left, control characters, 20,000 characters, punctuation only.
HOSTILE_TEXTS = ["", "   ", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "**bold** $x^2$ # h1",
                 "好看的电影 😀 مرحبا", "\x00\x1b[31m\u202e", "word " * 4000, "!!! ???"]


@pytest.fixture
def fresh_caches():
    """Streamlit's caches emptied before an AppTest, so no test sees another's cached values."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield


def open_page(page: str, query: dict | None = None, timeout: int = 90, opened: tuple[str, ...] = ()):
    """An AppTest of the app opened on `page` (its views/ path) with `query` in the URL, run without an
    exception; `opened`: expanders (their keys) to open, as a click on each would."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=timeout)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    for key in opened:
        at.session_state[key] = True
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def settle(at, timeout: float = 120.0):
    """Wait for the session's first-use work (ui.model_work.ModelWork, run in the server's worker slots)
    to finish, then run the page again so it draws the results; repeated while new work starts (a page
    asks for several kinds). Returns `at`."""
    import time

    from ui.model_work import ModelWork
    from ui.per_model import RUNS

    end = time.monotonic() + timeout
    for _ in range(8):
        runs = [r for r in (at.session_state[RUNS].values() if RUNS in at.session_state else [])
                if isinstance(r, ModelWork)]
        if not runs:
            return at
        for r in runs:
            assert r.wait(max(0.0, end - time.monotonic())), f"{r.kind} did not finish in {timeout} s"
        rerun(at)
    return at


def keep_pickers(at):
    """AppTest finds a session model's option in a picker (shown by its label) only by its index: set each
    such picker to its own option by index, so the next run keeps it. Returns `at`."""
    for sb in at.selectbox:
        try:
            _ = sb.index
        except ValueError:
            sb.select_index(next(i for i, o in enumerate(sb.options) if o.startswith(f"{sb.value} ")))
    return at


def rerun(at):
    """Run the page again (a session model still picked) without an exception. Returns `at`."""
    keep_pickers(at).run()
    assert not at.exception, at.exception
    return at


class CliResult:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_cli(*args, input: str | None = None, cwd=None) -> CliResult:
    """`python -m playground ARGS` in this process (no interpreter and torch start-up per call): main()
    with stdin, stdout and stderr swapped for strings, in the repository's folder (or `cwd`). The
    subprocess form stays for what needs a process of its own (endless stdin, memory, exit codes of
    the interpreter)."""
    import contextlib
    import io
    import os
    import sys
    from pathlib import Path

    from playground.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    old_stdin, old_cwd = sys.stdin, os.getcwd()
    sys.stdin = io.TextIOWrapper(io.BytesIO((input or "").encode("utf-8")), encoding="utf-8")
    os.chdir(cwd or Path(__file__).resolve().parents[1])
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as e:  # --help
                code = e.code if isinstance(e.code, int) else 0
    finally:
        sys.stdin = old_stdin
        os.chdir(old_cwd)
    return CliResult(int(code or 0), out.getvalue(), err.getvalue())
