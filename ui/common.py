"""What every page shares: the serving thread setting, cached bundled models, the session's own
models, the model picker, persistent widget state and query parameters, safe token chips."""
from __future__ import annotations

import html
from collections import OrderedDict
from typing import Callable

import streamlit as st
import torch

from playground import zoo
from playground.data import DATASET_TITLES
from playground.models import ARCH_TITLES

SERVE_THREADS = 1  # see `python -m playground bench`: 2-core machine, several visitors at once
MAX_SESSION_MODELS = 4
MAX_INPUT_CHARS = 20_000
DEFAULT_MODEL = "lstm-rt"
DEFAULT_SENTENCE = "I expected to hate this movie but I loved every minute of it"
EXAMPLES = [
    "The first half is slow, but the ending is wonderful",
    "not bad at all",
    "I expected to hate it but I loved it",
    "The acting was great, but the plot was boring and far too long",
    "This is not a good movie",
    "absolutely wonderful, the best film of the year",
    "The food was cold and the waiter was rude",
    "It could have been so much better",
]


def _libc():
    try:
        import ctypes
        import ctypes.util

        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


_LIBC = _libc()


def release_memory() -> None:
    """Give freed heap pages back to the OS (glibc); a no-op elsewhere. Called after big jobs
    such as a training run, so a busy server's resident memory does not only ever grow."""
    if _LIBC is not None and hasattr(_LIBC, "malloc_trim"):
        _LIBC.malloc_trim(0)


@st.cache_resource
def _process_setup() -> bool:
    # Every visitor's script runs in its own thread; glibc gives busy threads their own heap
    # arenas (up to 8 per core), which keeps freed memory resident. Two arenas are plenty here.
    if _LIBC is not None and hasattr(_LIBC, "mallopt"):
        _LIBC.mallopt(-8, 2)  # M_ARENA_MAX
    return True


def setup() -> None:
    """Once per process: heap arenas, torch thread count for serving, denormal flushing."""
    _process_setup()
    if torch.get_num_threads() != SERVE_THREADS:
        torch.set_num_threads(SERVE_THREADS)
    torch.set_flush_denormal(True)


@st.cache_resource(show_spinner="Loading the bundled model…")
def bundled(name: str) -> zoo.TrainedModel:
    """Read-only: shared by every visitor; never mutated."""
    return zoo.load_bundled(name)


def session_models() -> "OrderedDict[str, zoo.TrainedModel]":
    """Models trained or uploaded in this browser session (never visible to other visitors)."""
    if "user_models" not in st.session_state:
        st.session_state["user_models"] = OrderedDict()
    return st.session_state["user_models"]


def add_session_model(tm: zoo.TrainedModel) -> str | None:
    """Keep a session model; returns a notice if an older one had to be dropped."""
    models = session_models()
    models[tm.name] = tm
    models.move_to_end(tm.name)
    notice = None
    while len(models) > MAX_SESSION_MODELS:
        old, _ = models.popitem(last=False)
        notice = f"Only {MAX_SESSION_MODELS} models are kept per session, so “{old}” was dropped."
    return notice


def model_names() -> list[str]:
    return list(zoo.bundled_names()) + [n for n in session_models() if n not in zoo.BUNDLED]


def get_model(name: str) -> zoo.TrainedModel:
    if name in session_models():
        return session_models()[name]
    return bundled(name)


def describe(name: str) -> str:
    """Label for the model picker."""
    try:
        tm = get_model(name)
    except Exception:  # noqa: BLE001 - a broken entry still gets a label
        return name
    where = "" if tm.source == "bundled" else " · trained here" if tm.source == "session" else " · uploaded"
    acc = f" · {tm.test_accuracy:.1%} TEST" if tm.test_accuracy is not None else ""
    ds = DATASET_TITLES.get(tm.dataset or "", "")
    return f"{name} — {ARCH_TITLES[tm.arch]}{', ' + ds if ds else ''}{acc}{where}"


def keep(key: str, default, query: str | None = None, parse: Callable = str, valid: Callable = lambda v: True):
    """Initialise a widget's state once: from the URL's query parameter, else from what this
    session had before (kept across pages), else the default."""
    store = f"_keep.{key}"
    if key not in st.session_state:
        value = default
        if store in st.session_state:
            value = st.session_state[store]
        if query and query in st.query_params:
            try:
                candidate = parse(st.query_params[query])
                if valid(candidate):
                    value = candidate
            except (ValueError, TypeError):
                pass
        st.session_state[key] = value
    return st.session_state[key]


def remember(key: str, query: str | None = None, to_str: Callable = str) -> None:
    """After the widget ran: keep its value for other pages and write it to the URL."""
    if key in st.session_state:
        value = st.session_state[key]
        st.session_state[f"_keep.{key}"] = value
        if query:
            text = to_str(value)
            if st.query_params.get(query) != text:
                st.query_params[query] = text


def model_picker(label: str = "Model", key: str = "model", query: str | None = "model") -> zoo.TrainedModel:
    names = model_names()
    if not names:
        st.error("No models are available: the bundled weights are missing from playground/weights/.")
        st.stop()
    keep(key, DEFAULT_MODEL if DEFAULT_MODEL in names else names[0], query, valid=lambda v: v in names)
    if st.session_state[key] not in names:  # e.g. a session model that was dropped
        st.session_state[key] = names[0]
    name = st.selectbox(label, names, key=key, format_func=describe,
                        help="Bundled models, plus any model trained or uploaded in this session.")
    remember(key, query)
    return get_model(name)


def chips_html(tokens, oov, scores=None) -> str:
    """Tokens as coloured chips (blue pushes positive, red negative). Every token is escaped."""
    parts = []
    for k, tok in enumerate(tokens):
        s = 0.0 if scores is None or len(scores) <= k else float(scores[k])
        alpha = min(1.0, abs(s)) * 0.85
        bg = f"rgba(33,102,172,{alpha:.2f})" if s >= 0 else f"rgba(178,24,43,{alpha:.2f})"
        fg = "#fff" if alpha > 0.5 else "#111"
        border = "2px dashed #999" if oov[k] else "1px solid #ccc"
        title = f"{tok}: {'out of vocabulary, ' if oov[k] else ''}importance {s:+.2f}"
        parts.append(f'<span title="{html.escape(title)}" style="display:inline-block;margin:2px 3px;'
                     f'padding:2px 7px;border-radius:10px;background:{bg};color:{fg};border:{border};'
                     f'font-size:0.95rem;white-space:nowrap">{html.escape(tok)}{"°" if oov[k] else ""}</span>')
    return ('<div style="line-height:2.1;max-height:260px;overflow-y:auto">' + "".join(parts) + "</div>")


_MD_SPECIAL = set("\\`*_{}[]()#+-.!|<>$~:=^&")


def md_escape(text: str) -> str:
    """User-derived text safe inside st.markdown/st.info: every Markdown, HTML, LaTeX and
    directive character is backslash-escaped, so it shows literally."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in str(text))


def clean_input(text: str | None) -> str:
    return (text or "")[:MAX_INPUT_CHARS]
