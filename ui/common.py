"""What every page shares: the serving thread setting, cached bundled models, the session's own
models (and collecting a finished training run into them), the model picker, safe token chips.
Page state in the URL is declared per page with ui.state."""
from __future__ import annotations

import html
import sys
import time
from collections import OrderedDict
from typing import Callable

import numpy as np
import streamlit as st
import torch

from playground.core import zoo
from playground.core.data import DATASET_TITLES, no_dataset
from playground.core.models import ARCH_TITLES
from playground.dynamics.typical import DEFAULT_TEXTS, Typical
from ui import heap, training

SERVE_THREADS = 1  # see `python -m playground bench`: 2-core machine, several visitors at once
MAX_SESSION_MODELS = 4
# The weights (and vocabularies) a session's own models may hold: four of the Train page's largest
# models (vocabulary 30,000 x 256, LSTM 256 x 2: 8.8 M parameters, 36 MB each) fit; of the largest
# files zoo loads (zoo.MAX_PARAMS, 64 MiB in float32) two do. The bundled models are shared.
SESSION_MODEL_BYTES = 160 * 2**20
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
HOME_EXAMPLE = "I expected to hate it but I loved it"  # the Home page's live curve, read by DEFAULT_MODEL
COMPARE_SENTENCE = "The acting was great, but the plot was boring and far too long"  # Compare opens on it
SPACE_SENTENCE = "The food was cold and the waiter was rude, but the dessert was wonderful"  # State space
# What every example the app opens with means (1 positive, 0 negative): each is read correctly by the
# model it opens with (tests/test_bundled_quality.py), or the page presents it as a hard one.
EXAMPLE_LABELS = {DEFAULT_SENTENCE: 1, EXAMPLES[0]: 1, EXAMPLES[1]: 1, EXAMPLES[2]: 1, EXAMPLES[3]: 0,
                  EXAMPLES[4]: 0, EXAMPLES[5]: 1, EXAMPLES[6]: 0, EXAMPLES[7]: 0, HOME_EXAMPLE: 1,
                  COMPARE_SENTENCE: 0, SPACE_SENTENCE: 1}


release_memory = heap.release_memory


# How long a thread may hold the GIL while another waits for it (Python's default is 5 ms). Every
# visitor's script is a thread of one process, and a script that reads a sentence hands the GIL back
# at each torch call; with the default it then waited up to 5 ms, each time, behind another visitor's
# pure-Python figure building (a convoy). Measured with the concurrency test's 8 visitors on this
# 2-core machine (2026-12-03): from a rerun's start to its verdict on the server, median 98 ms -> 26
# ms; the verdict in the browser 1.17 s -> 0.51 s (one run each); see the README.
SWITCH_INTERVAL_S = 0.001


@st.cache_resource
def _process_setup() -> bool:
    heap.limit_arenas(2)
    heap.fixed_mmap_threshold()
    return True


def setup() -> None:
    """Once per process: heap arenas, torch thread count for serving, denormal flushing, the GIL's
    switch interval (SWITCH_INTERVAL_S)."""
    _process_setup()
    if sys.getswitchinterval() != SWITCH_INTERVAL_S:
        sys.setswitchinterval(SWITCH_INTERVAL_S)
    if torch.get_num_threads() != SERVE_THREADS:
        torch.set_num_threads(SERVE_THREADS)
    torch.set_flush_denormal(True)


@st.cache_resource(show_spinner="Loading the bundled model…")
def bundled(name: str) -> zoo.TrainedModel:
    """Read-only: shared by every visitor; never mutated."""
    return zoo.load_bundled(name)


def session_models() -> "OrderedDict[str, zoo.TrainedModel]":
    """Models trained or uploaded in this browser session (never visible to other visitors). A
    training run that finished since the last look is collected here first, whichever page asks."""
    models = st.session_state.get("user_models")
    if models is None:
        models = st.session_state["user_models"] = OrderedDict()
    _collect_training(models)
    return models


def model_bytes(tm: zoo.TrainedModel) -> int:
    return zoo.nbytes(tm)


def _mb(n: float) -> str:
    return f"{n / 2**20:.0f} MiB"


def dropped_by(names_now, new_names, new_bytes=None) -> list[str]:
    """The models that adding `new_names` (in order) to a session holding `names_now` (oldest
    first) would drop: a name already there is replaced and moves to the end; then the oldest go
    until at most MAX_SESSION_MODELS are left and their weights fit SESSION_MODEL_BYTES.
    `new_bytes`: each new model's bytes (one number for all, or one per name; None: counted by
    number only, e.g. an upload before its size is known). Say this before the visitor trains or
    uploads."""
    models = session_models()
    held = [(n, model_bytes(models[n]) if n in models else 0) for n in names_now]
    sizes = list(new_bytes) if isinstance(new_bytes, (list, tuple)) else [new_bytes or 0] * len(new_names)
    return zoo.session_drops(held, list(zip(new_names, sizes)), MAX_SESSION_MODELS, SESSION_MODEL_BYTES)


def _add(models: "OrderedDict[str, zoo.TrainedModel]", tm: zoo.TrainedModel) -> str | None:
    """Keep `tm` (replacing a model of its name), dropping the oldest models over the session's
    count and byte budget; a model alone over the byte budget is not kept. Returns a notice
    (plain text: escape it before showing it) or None."""
    size = model_bytes(tm)
    if size > SESSION_MODEL_BYTES:
        return (f"“{tm.name}” was not kept: its weights take {_mb(size)}, more than the {_mb(SESSION_MODEL_BYTES)} "
                "a session may hold.")
    held = [(n, model_bytes(m)) for n, m in models.items()]
    dropped = zoo.session_drops(held, [(tm.name, size)], MAX_SESSION_MODELS, SESSION_MODEL_BYTES)
    models[tm.name] = tm
    models.move_to_end(tm.name)
    for name in dropped:
        models.pop(name, None)
    if not dropped:
        return None
    release_memory()
    return (f"A session keeps at most {MAX_SESSION_MODELS} models and {_mb(SESSION_MODEL_BYTES)} of weights, so "
            + " and ".join(f"“{n}”" for n in dropped) + (" was" if len(dropped) == 1 else " were") + " dropped.")


def add_session_model(tm: zoo.TrainedModel) -> str | None:
    """Keep a session model; returns a notice if an older one had to be dropped (or this one
    was too large to keep)."""
    return _add(session_models(), tm)


def remove_session_model(name: str) -> bool:
    """Forget a model of this session (the visitor chooses which goes); True if it was there."""
    gone = session_models().pop(name, None) is not None
    if gone:
        release_memory()
    return gone


def free_name(name: str, taken) -> str:
    """`name`, or `name (2)`, `name (3)`... : the first not in `taken` (nor a bundled name)."""
    taken = set(taken) | set(zoo.BUNDLED)
    if name not in taken:
        return name
    k = 2
    while f"{name} ({k})" in taken:
        k += 1
    return f"{name} ({k})"


def forget_upload(file_id: str) -> None:
    """Let Streamlit drop an uploaded file's bytes now (up to 64 MB each): it keeps every file a
    session uploaded until the visitor removes it in the widget or the session ends, even after
    the uploader is emptied by a new key. A no-op where there is no server (AppTest)."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        if ctx is not None and ctx.uploaded_file_mgr is not None:
            ctx.uploaded_file_mgr.remove_file(session_id=ctx.session_id, file_id=file_id)
    except Exception:  # noqa: BLE001 - an internal API: if it moves, the file is freed at session end as before
        pass


def receive_upload(file_id: str, read: Callable[[], bytes]) -> list[tuple[str, str]]:
    """Parse an uploaded model file ONCE per upload (its `file_id`) and keep its model. Returns
    what to say, as (kind, Markdown-escaped text) with kind error/warning/info/success. The same
    upload seen again (the file still in the uploader on a rerun) is neither parsed nor added
    again, so it never evicts a newer model. A name already taken gets a number: “name (2)”."""
    seen = st.session_state.setdefault("upload.seen", {})  # file_id -> what was said
    if file_id in seen:
        return seen[file_id]
    try:
        tm = zoo.from_bytes(read(), source="file")
    except zoo.ModelFileError as e:
        said = [("error", md_escape(f"This file was refused: {e}"))]
    else:
        said = []
        models = session_models()
        name = free_name(tm.name, models)
        if name != tm.name:
            whose = "a bundled model" if tm.name in zoo.BUNDLED else "a model already in this session"
            said.append(("info", md_escape(f"“{tm.name}” is the name of {whose}, so this one is called “{name}”.")))
            tm.name = name
        for note in tm.notes:
            said.append(("info", md_escape(f"Loading this file: {note}.")))
        notice = _add(models, tm)
        if tm.name not in models:
            said = [("error", md_escape(notice or "This model was not kept."))]
        else:
            if notice:
                said.append(("info", md_escape(notice)))
            said.append(("success", md_escape(f"“{tm.name}” ({tm.config.title}) is ready in every page's model "
                                              "picker.")))
        release_memory()  # the parse's temporaries
    seen.clear()  # only the latest upload is remembered
    seen[file_id] = said
    return said


def _collect_training(models) -> None:
    """In the script thread: register the models of this session's finished training run and
    keep its result for the Train page (`train.result` or `race.result`)."""
    run = st.session_state.get(training.RUN_KEY)
    if not isinstance(run, training.TrainingRun):
        return
    taken = run.take_models()
    if taken is None:
        return
    notices = [_add(models, tm) for tm in taken]
    result = dict(run.result or {})
    result["notice"] = " ".join(n for n in notices if n) or None
    result["stop_reason"] = run.stop_reason
    st.session_state["race.result" if run.kind == "race" else "train.result"] = result


def training_run() -> "training.TrainingRun | None":
    """This session's training run (going or finished), after collecting a finished one."""
    session_models()
    run = st.session_state.get(training.RUN_KEY)
    return run if isinstance(run, training.TrainingRun) else None


def session_alive() -> Callable[[], bool] | None:
    """For a worker thread: a check that this browser session is still connected (thread-safe;
    None where there is no server runtime, e.g. in AppTest). Call it in the script thread."""
    try:
        from streamlit.runtime import Runtime
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:
        return None
    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return None
    runtime, session_id = Runtime.instance(), ctx.session_id
    return lambda: runtime.is_active_session(session_id)


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
    margin = tm.card.get("test_margin")
    pm = f" ± {100 * margin:.1f}" if isinstance(margin, (int, float)) and margin > 0 else ""  # a sample's interval
    acc = f" · {tm.test_accuracy:.1%}{pm} TEST" if tm.test_accuracy is not None else ""
    ds = DATASET_TITLES.get(tm.dataset or "", "")
    return f"{name} — {ARCH_TITLES[tm.arch]}{', ' + ds if ds else ''}{acc}{where}"


def model_picker(label: str = "Model", key: str = "model") -> zoo.TrainedModel:
    """The model selectbox. Its value is initialised (and put in the URL) by the page's
    ui.state table; see `model_field`."""
    names = model_names()
    if not names:
        st.error("No models are available: the bundled weights are missing from playground/weights/.")
        st.stop()
    if st.session_state.get(key) not in names:  # e.g. a session model that was dropped
        st.session_state[key] = DEFAULT_MODEL if DEFAULT_MODEL in names else names[0]
    name = st.selectbox(label, names, key=key, format_func=describe,
                        help="Bundled models, plus any model trained or uploaded in this session.")
    return get_model(name)


def sentence_and_model(key: str, placeholder: str, model_key: str = "model") -> zoo.TrainedModel:
    """The sentence box (its value in session_state[key]) and the model picker beside it."""
    top = st.columns([3, 2], vertical_alignment="bottom")
    with top[0]:
        st.text_input("Sentence", key=key, max_chars=MAX_INPUT_CHARS, placeholder=placeholder)
    with top[1]:
        return model_picker("Model", key=model_key)


def read_sentence(key: str, notes) -> str:
    """The sentence box's text, bounded; the page's link notes (ui.state) and, when characters could
    not be read, a warning (app.py installs the guard that makes such characters readable, ui.wellformed)."""
    from ui import wellformed

    text = clean_input(st.session_state[key])
    for note in notes:
        st.info(note)
    if wellformed.note(text):
        st.warning(wellformed.note(text))
    return text


PAINT_PAUSE_S = 0.05


def paint_now(seconds: float = PAINT_PAUSE_S) -> None:
    """Let what the page has shown so far (the verdict) reach the browser and paint before the charts
    that follow. Streamlit sends its messages every 10 ms and the browser draws the elements that
    arrive together in one pass, in which Plotly's drawing of the next chart comes before anything is
    painted; with the figures built in a millisecond (issue 12) the verdict waited for the gauge.
    A pause of the script thread (no CPU) puts them in separate passes. Measured with the concurrency
    test's visitors: one visitor alone, verdict median 0.23 -> 0.13 s; the full redraw unchanged."""
    if seconds > 0:
        time.sleep(seconds)


def model_field(key: str = "model", query: str = "model"):
    """The ui.state row for a model picker: any model of this session, by name."""
    from ui.state import Field

    names = model_names()
    return Field(key, query, DEFAULT_MODEL if DEFAULT_MODEL in names or not names else names[0],
                 valid=lambda v: v in names)


UNIT_WORDS = {"probability": "change in P(positive)", "logit": "logit"}


def chips_html(tokens, oov, scores=None, unit: str | None = None, scale: float | None = None) -> str:
    """Tokens as coloured chips (blue pushes positive, red negative). Every token is escaped.

    `scores` are raw (one per token, in `unit`: "probability" or "logit"); a chip's colour is
    |score| / `scale`, capped at 1, where `scale` defaults to the sentence's largest |score|
    (scaled per sentence) and a caller passes one shared value to put several models on one
    scale. The hover shows the raw score with its unit, never the rescaled value."""
    if scores is not None and len(scores):
        top = float(np.max(np.abs(np.asarray(scores, dtype=float))))
    else:
        top = 0.0
    scale = top if scale is None else float(scale)
    unit_word = UNIT_WORDS.get(unit or "", unit or "")
    parts = []
    for k, tok in enumerate(tokens):
        s = None if scores is None or len(scores) <= k else float(scores[k])
        rel = 0.0 if s is None or not scale > 0 else s / scale
        alpha = min(1.0, abs(rel)) * 0.85
        bg = f"rgba(33,102,172,{alpha:.2f})" if rel >= 0 else f"rgba(178,24,43,{alpha:.2f})"
        fg = "#fff" if alpha > 0.6 else "#111"  # white text only on a dark enough chip
        border = "2px dashed #999" if oov[k] else "1px solid #ccc"
        score = "" if s is None else f"{s:+.4f}{' ' + unit_word if unit_word else ''}"
        notes = ", ".join(x for x in ("out of vocabulary" if oov[k] else "", score) if x)
        title = f"{tok}: {notes}" if notes else tok
        parts.append(f'<span title="{html.escape(title)}" style="display:inline-block;margin:2px 3px;'
                     f'padding:2px 7px;border-radius:10px;background:{bg};color:{fg};border:{border};'
                     f'font-size:0.95rem;white-space:nowrap">{html.escape(tok)}{"°" if oov[k] else ""}</span>')
    return ('<div style="line-height:2.1;max-height:260px;overflow-y:auto">' + "".join(parts) + "</div>")


_MD_SPECIAL = set("\\`*_{}[]()#+-.!|<>$~:=^&")


def md_escape(text: str) -> str:
    """User-derived text safe inside st.markdown/st.info: every Markdown, HTML, LaTeX and
    directive character is backslash-escaped, so it shows literally."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in str(text))


_LABEL_SPECIAL = _MD_SPECIAL - set("-.+#=")  # block-level marks are already literal in labels


def label_escape(text: str) -> str:
    """User-derived text safe inside a widget or metric label, or a select_slider/radio/pills
    option (inline Markdown: links, images, emphasis, code, directives, LaTeX, HTML); leaves
    `-` and `.` alone, which labels show literally anyway, so "gru-imdb" stays as it is."""
    return "".join("\\" + ch if ch in _LABEL_SPECIAL else ch for ch in str(text))


def clean_input(text: str | None) -> str:
    return (text or "")[:MAX_INPUT_CHARS]


# --- each unit's typical values (the "change from typical" pictures) ----------------------------------
def typical(tm: zoo.TrainedModel) -> tuple[Typical | None, str | None]:
    """(typical values, None); (None, why there are none); or (None, None) while they are being
    worked out (a progress box is drawn in their place). A bundled model's are shipped; another model's
    are computed once in the server's worker slots and kept in this session (ui.per_model). A model
    whose dataset is unknown (an uploaded file without one in its card) has no TEST sample to be
    typical of."""
    from . import per_model

    if tm.dataset not in DATASET_TITLES:
        return None, no_dataset("measure its units' typical values on")
    return per_model.get("typical", tm, f"Working out every unit's typical values over {DEFAULT_TEXTS} TEST texts")
