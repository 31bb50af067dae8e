"""The models a page reads: the bundled ones (cached for every visitor), this session's own (trained or
uploaded; collected from a finished training run; bounded in number and bytes), and the model picker."""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Callable

import streamlit as st

from playground.core import keras_import, zoo
from playground.core.data import DATASET_SHORT
from playground.core.models import ARCH_TITLES
from ui import training

from .serving import release_memory
from .textio import MAX_INPUT_CHARS, md_escape

MAX_SESSION_MODELS = 4


# The weights (and vocabularies) a session's own models may hold: four of the Train page's largest
# models (vocabulary 30,000 x 256, LSTM 256 x 2: 8.8 M parameters, 36 MB each) fit; of the largest
# files zoo loads (zoo.MAX_PARAMS, 64 MiB in float32) two do. The bundled models are shared.
SESSION_MODEL_BYTES = 160 * 2**20


DEFAULT_MODEL = "lstm-rt"


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


def receive_upload(file_id: str, read: Callable[[], bytes], filename: str = "",
                   keras_text: dict | None = None) -> list[tuple[str, str]]:
    """Parse an uploaded model file ONCE per upload (its `file_id`) and keep its model. Returns
    what to say, as (kind, Markdown-escaped text) with kind error/warning/info/success. The same
    upload seen again (the file still in the uploader on a rerun) is neither parsed nor added
    again, so it never evicts a newer model. A name already taken gets a number: “name (2)”.
    A Keras file (.keras or .h5, playground/core/keras_import.py) is read with `keras_text`: the
    reader's word index and its encoding settings (word_index, index_from, maxlen, pad)."""
    seen = st.session_state.setdefault("upload.seen", {})  # file_id -> what was said
    if file_id in seen:
        return seen[file_id]
    warn: list[str] = []  # said as warnings, before the model is called ready
    try:
        data = read()
        if keras_import.is_keras(data):
            opts = dict(keras_text or {})
            stem = Path(filename).stem[:60] if filename else "keras-model"
            tm = keras_import.read(data, name=stem or "keras-model", **opts)
            if not opts.get("word_index"):
                warn.append("No word index was given, so every word reads as out of vocabulary and the verdicts "
                            "mean little: add the one the model was trained with (imdb_word_index.json for the "
                            "tutorials, in ~/.keras/datasets) and upload the model again.")
        else:
            tm = zoo.from_bytes(data, source="file")
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
        said += [("warning", md_escape(w)) for w in warn]
        for note in tm.notes:
            said.append(("info", md_escape(f"Loading this file: {note}.")))
        if tm.texts_caveat:
            said.append(("info", md_escape(tm.texts_caveat)))
        notice = _add(models, tm)
        if tm.name not in models:
            said = [("error", md_escape(notice or "This model was not kept."))]
        else:
            if notice:
                said.append(("info", md_escape(notice)))
            reads = ""
            if "keras_index_from" in tm.card:  # the settings it was read with: changing them means a new upload
                ml = tm.card.get("keras_maxlen")
                reads = (f" It reads each text as the tutorials do, {f'at maxlen {ml}' if ml else 'whole'}"
                         + (", pre-padded with zeros" if ml and tm.card.get("keras_pad", True) else "")
                         + ": to read it otherwise, change the settings above and upload it again.")
            said.append(("success", md_escape(f"“{tm.name}” ({tm.config.title}) is ready in every page's model "
                                              f"picker.{reads}")))
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
    acc = f", {tm.test_accuracy:.1%}{pm} on TEST" if tm.test_accuracy is not None else ""
    ds = DATASET_SHORT.get(tm.dataset or "", "")
    # the accuracy before the dataset, and its short name: a narrow box cuts the end of the label
    return f"{name} — {ARCH_TITLES[tm.arch]}{acc}{' · ' + ds if ds else ''}{where}"


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


def model_field(key: str = "model", query: str = "model"):
    """The ui.state row for a model picker: any model of this session, by name."""
    from ui.state import Field

    names = model_names()
    return Field(key, query, DEFAULT_MODEL if DEFAULT_MODEL in names or not names else names[0],
                 valid=lambda v: v in names)
