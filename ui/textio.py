"""Sentences in and out: the examples the pages open with, the bounded sentence box, escaping for Markdown
and widget labels, and token chips (every token escaped)."""
from __future__ import annotations

import html

import numpy as np
import streamlit as st

MAX_INPUT_CHARS = 20_000


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


UNIT_WORDS = {"probability": "change in P(positive)", "logit": "logit"}


def trace_chips_html(tr, scores, unit: str | None = None, scale: float | None = None) -> str:
    """`chips_html` for a trace's tokens; a Keras model's padding (tr.lead zeros before the words) is one chip,
    "486 × padding", holding the sum of its scores (exact: the scores still add up)."""
    lead = tr.lead
    if not lead:
        return chips_html(tr.tokens, tr.oov, scores, unit, scale)
    scores = np.asarray(scores, dtype=float)
    return chips_html((f"{lead:,} × padding",) + tuple(tr.tokens[lead:]), (False,) + tuple(tr.oov[lead:]),
                      np.concatenate([[float(scores[:lead].sum())], scores[lead:]]), unit, scale)


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
