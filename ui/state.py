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

Only `sync()` touches Streamlit (and only session_state and query_params, passed in by tests).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, MutableMapping

KEEP = "_keep."  # session_state prefix of the values kept across pages
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
        queries = [f.query for f in fields if f.query]
        if len(set(keys)) != len(keys) or len(set(queries)) != len(queries):
            raise ValueError("every field needs its own widget key and query parameter")
        self.fields = fields

    def __iter__(self):
        return iter(self.fields)

    def sync(self, session: MutableMapping | None = None, params: MutableMapping | None = None) -> dict:
        """Initialise or repair every field's widget state, keep it for other pages, and write the
        non-default ones to the URL (removing the rest). Returns {key: value}."""
        if session is None or params is None:
            import streamlit as st

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
            if f.query:
                self._write(f, value, params)
        return values

    @staticmethod
    def _initial(f: Field, session, params) -> Any:
        if f.query and f.query in params:
            value = f.from_text(params[f.query])
            if value is not _MISSING:
                return value
        kept = session.get(KEEP + f.key, _MISSING)
        if kept is not _MISSING and f.ok(kept):
            return kept
        return f.default

    @staticmethod
    def _write(f: Field, value, params) -> None:
        if _same(value, f.default):
            if f.query in params:
                del params[f.query]
            return
        try:
            text = f.to_str(value)
        except Exception:  # noqa: BLE001 - a value that cannot be written stays out of the URL
            return
        if params.get(f.query) != text:
            params[f.query] = text


def _same(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (isinstance(a, bool) and isinstance(b, bool) and a == b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b


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
