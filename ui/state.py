"""Shareable page state, declared once per page.

A page lists its widgets in one table of `Field`s (widget key, query parameter, default, parser,
validator) and calls `PageState.sync()` once at its top, before any of those widgets:

    STATE = PageState(
        Field("play.sentence", "s", DEFAULT_SENTENCE, parse=clean_input),
        Field("play.unit", "unit", 0, parse=int, valid=lambda v: v >= 0),
    )
    STATE.sync()

For every field, `sync()` decides the widget's value: the widget's own state if it has one (the
visitor is on this page), else the URL's query parameter (a shared link), else the value this
session had before (kept across pages), else the default. A value that fails its parser or
validator (garbage or out of range, from a URL or anywhere else) is replaced by the next choice
in that order, never raised. Then it writes the values back: every field's value is kept for
other pages, and the URL carries exactly the fields that differ from their defaults, so links
stay short and a copied link reopens the same view. Widget changes rerun the page, and the new
value is in session_state before the script starts, so a call at the top sees it.

A link stays short enough to reopen: the query string this table writes is at most QUERY_BYTES
long after percent-encoding. A field declared `long_text=True` (a sentence) gets what the other
fields leave; a longer text is cut, keeping its end (the part the models read: they read the last
max_len tokens), at a word or character boundary, and the URL then also carries `<query>_cut=M`,
the text's full length in characters. `notes` says so after `sync()`, on the page that made the
link and on the page that opened it. `link_query` bounds the query of an `st.page_link` the same way.

Only `sync()` touches Streamlit (and only session_state and query_params, passed in by tests).
"""
from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Iterable, MutableMapping
from urllib.parse import urlencode

KEEP = "_keep."  # session_state prefix of the values kept across pages
CUT = "_cut."  # session_state prefix: (text, full length) of a cut text that came from a link
# The most a page's query string may take, percent-encoded as Streamlit writes it (urlencode). 4 KB
# keeps a whole link well under 8 KB, the smallest request-line limit of common servers and proxies
# (Apache 8,190 bytes, nginx 8 KB buffers; Streamlit's own server refuses a request head over about
# 128 KB with 400), and still holds the part of an English review a model reads (its last 400
# tokens, about 2,500 characters). 20,000 CJK characters are 180 KB encoded, 20,000 emoji 240 KB.
QUERY_BYTES = 4096
MAX_TEXT_CHARS = 10_000_000  # the largest full length a `_cut` parameter may claim
_MISSING = object()


def _always(_value) -> bool:
    return True


@dataclass(frozen=True)
class Field:
    key: str  # the widget's key in st.session_state
    query: str | None  # its query parameter (None: kept across pages, never in the URL)
    default: Any
    parse: Callable[[str], Any] = str  # URL text -> value; may raise ValueError/TypeError
    valid: Callable[[Any], bool] = _always  # a value the widget accepts?
    to_str: Callable[[Any], str] = str  # value -> URL text (parse(to_str(v)) == v)
    long_text: bool = False  # a sentence: cut to what the query string has room for (see above)
    label: str = "text"  # what the notes call a long text ("sentence", "probe sentence")

    def ok(self, value) -> bool:
        try:
            return bool(self.valid(value))
        except Exception:  # noqa: BLE001 - a validator that cannot judge a value rejects it
            return False

    def from_text(self, text) -> Any:
        """The value a URL's text stands for, or _MISSING if it is garbage."""
        if isinstance(text, list):  # a repeated parameter: the last one counts
            text = text[-1] if text else None
        if not isinstance(text, str):
            return _MISSING
        try:
            value = self.parse(text)
        except Exception:  # noqa: BLE001 - any parser error means "not a value"
            return _MISSING
        return value if self.ok(value) else _MISSING


class PageState:
    """One page's table of fields; see the module docstring."""

    def __init__(self, *fields: Field):
        keys = [f.key for f in fields]
        queries = [f.query for f in fields if f.query] + [_cut_query(f) for f in fields if f.long_text and f.query]
        if len(set(keys)) != len(keys) or len(set(queries)) != len(queries):
            raise ValueError("every field needs its own widget key and query parameter")
        self.fields = fields
        self.notes: list[str] = []  # after sync(): what a copied or opened link leaves out

    def __iter__(self):
        return iter(self.fields)

    def sync(self, session: MutableMapping | None = None, params: MutableMapping | None = None) -> dict:
        """Initialise or repair every field's widget state, keep it for other pages, and write the
        non-default ones to the URL (removing the rest). Returns {key: value}."""
        live = session is None and params is None
        if session is None or params is None:
            import streamlit as st

            if live and not getattr(self, "_class_applied", False):
                from ui import classmode  # a lesson link's hidden controls and projector mode, once a run

                classmode.apply(self.fields)
            session = st.session_state if session is None else session
            params = st.query_params if params is None else params
        values = {}
        for f in self.fields:
            value = session[f.key] if f.key in session else _MISSING
            if value is _MISSING or not f.ok(value):
                value = self._initial(f, session, params)
                session[f.key] = value
            session[KEEP + f.key] = value
            values[f.key] = value
        used = 0  # the short fields first; the long texts share what they leave of QUERY_BYTES
        for f in self.fields:
            if f.query and not f.long_text:
                used += self._write(f, values[f.key], params)
        longs = [f for f in self.fields if f.query and f.long_text]
        self.notes = []
        for f in longs:
            note = self._write_long(f, values[f.key], session, params, (QUERY_BYTES - used) // len(longs))
            if note:
                self.notes.append(note)
        if live and not getattr(self, "_class_applied", False):
            from ui import classmode

            self._class_applied = True
            classmode.builder(self.fields)  # the lesson link, now that the URL is this view
        return values

    @staticmethod
    def _initial(f: Field, session, params) -> Any:
        if f.query and f.query in params:
            value = f.from_text(params[f.query])
            if value is not _MISSING:
                if f.long_text:  # a link that carried only the end of a longer text says so
                    full = _cut_length(params.get(_cut_query(f)), value)
                    session[CUT + f.key] = (value, full) if full else None
                return value
        kept = session.get(KEEP + f.key, _MISSING)
        if kept is not _MISSING and f.ok(kept):
            return kept
        return f.default

    @staticmethod
    def _text(f: Field, value) -> str | None:
        """A value's URL text; None for the default or a value that cannot be written or encoded."""
        if _same(value, f.default):
            return None
        try:
            text = f.to_str(value)
            encoded_size(f.query, text)
        except Exception:  # noqa: BLE001 - a value that cannot be written stays out of the URL
            return None
        return text

    @staticmethod
    def _put(params, query: str, text: str | None) -> int:
        """Set (or, for None, remove) one query parameter; returns its encoded size."""
        if text is None:
            if query in params:
                del params[query]
            return 0
        if params.get(query) != text:
            params[query] = text
        return encoded_size(query, text)

    def _write(self, f: Field, value, params) -> int:
        return self._put(params, f.query, self._text(f, value))

    def _write_long(self, f: Field, value, session, params, budget: int) -> str | None:
        """Write a long text, cut to `budget` bytes with its `_cut` marker; returns the note to show."""
        marker = _cut_query(f)
        text = self._text(f, value)
        opened = session.get(CUT + f.key)
        opened = opened[1] if text is not None and opened and opened[0] == value else None  # a cut text a link opened
        full, cut_here = opened, False
        if text is not None:
            kept = fit_end(f.query, text, budget - encoded_size(marker, str(MAX_TEXT_CHARS)))
            if len(kept) < len(text):
                full, text, cut_here = opened or len(text), kept or None, True
        self._put(params, f.query, text)
        self._put(params, marker, None if full is None or text is None else str(full))
        size = f"(a link holds at most {QUERY_BYTES // 1024} KB of text)"
        if full is None:
            return None
        if text is None:
            return f"This {f.label} is too long for the page's address: a copied link leaves it out {size}."
        if not cut_here:
            return (f"This link carried only the last {len(text):,} characters of a {f.label} of {full:,} "
                    f"characters {size}, so the page shows those.")
        return (f"This {f.label} is too long for the page's address: a copied link carries only its last "
                f"{len(text):,} of {full:,} characters {size}.")


def _same(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (isinstance(a, bool) and isinstance(b, bool) and a == b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b


# --- the size of a link --------------------------------------------------------------------------------
def encoded_size(query: str, text: str) -> int:
    """Bytes that `query=text` takes in a query string as Streamlit writes it (urlencode: UTF-8,
    percent-encoded, a space as '+'), plus its '&'. Raises UnicodeEncodeError for a lone surrogate."""
    return len(urlencode({query: text})) + 1


def fit_end(query: str, text: str, budget: int) -> str:
    """The longest end of `text` whose `query=...` fits in `budget` bytes, starting at a word (when a
    space is near) or at a whole character (never a combining mark, joiner or emoji modifier)."""
    if encoded_size(query, text) <= budget:
        return text
    room, start = budget - encoded_size(query, ""), len(text)
    while start > 0:
        size = encoded_size("", text[start - 1]) - 2  # one character's encoded bytes
        if size > room:
            break
        room -= size
        start -= 1
    kept = text[start:]
    if start > 0:
        space = next((i for i, ch in enumerate(kept[:40]) if ch.isspace()), None)
        if space is not None:  # begin at a word, not in the middle of one
            kept = kept[space:]
        while kept and unicodedata.category(kept[0]) in ("Mn", "Me", "Cf", "Sk"):
            kept = kept[1:]
        kept = kept.lstrip()
    return kept


def link_query(text_query: str, text: str, **others: str) -> dict[str, str]:
    """The query_params of an `st.page_link` carrying `text` and `others` within QUERY_BYTES: the
    text is cut like a long-text field's (its end kept, and `<text_query>_cut=<full length>`)."""
    out = {k: str(v) for k, v in others.items()}
    budget = QUERY_BYTES - sum(encoded_size(k, v) for k, v in out.items())
    budget -= encoded_size(text_query + "_cut", str(MAX_TEXT_CHARS))
    try:
        kept = fit_end(text_query, text, budget)
    except UnicodeEncodeError:  # a text that cannot be written into a URL stays out of it
        return out
    out[text_query] = kept
    if len(kept) < len(text):
        out[text_query + "_cut"] = str(len(text))
    return out


def _cut_query(f: Field) -> str:
    return f"{f.query}_cut"


def _cut_length(raw, value) -> int | None:
    """The full length a link's `_cut` parameter claims for its text, if it is believable."""
    if isinstance(raw, list):
        raw = raw[-1] if raw else None
    try:
        full = parse_int(raw)
    except (ValueError, TypeError, AttributeError):
        return None
    return full if isinstance(value, str) and len(value) < full <= MAX_TEXT_CHARS else None


# --- parsers and validators for the tables ---------------------------------------------------------
def one_of(options: Iterable) -> Callable[[Any], bool]:
    opts = list(options)
    return lambda v: any(_same(v, o) for o in opts)


def int_in(lo: int, hi: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def float_in(lo: float, hi: float) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi


def parse_int(text: str) -> int:
    text = text.strip()
    if not text or len(text) > 12:
        raise ValueError("not a short integer")
    return int(text)


def parse_float(text: str) -> float:
    text = text.strip()
    if not text or len(text) > 24:
        raise ValueError("not a short number")
    v = float(text)
    if not math.isfinite(v):
        raise ValueError("not finite")
    return v


def parse_bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise ValueError("not a yes/no value")


def bool_str(v: bool) -> str:
    return "1" if v else "0"


def float_str(v: float) -> str:
    return f"{v:g}"
