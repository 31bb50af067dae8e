"""Text the browser cannot send: lone UTF-16 surrogates (issue 12 item 8).

A text box holding a lone surrogate (say `'good \\ud800 film'`, set by a script or a broken paste)
is encoded by Streamlit's frontend into invalid UTF-8; the server cannot parse that message
("Error deserializing back message ... String field had bad UTF-8"), closes the connection with
code 1002, and the browser reconnects without rerunning: the old verdict stays on screen and
nothing on the page says why. Nothing of the text reaches the app, so the app cannot answer it.

`install()` puts a small constant script in the page (once per browser session) that, before Streamlit reads
a text box's value, replaces each lone surrogate with U+FFFD, the replacement character. The text
then reaches the server, and `note(text)` says that some characters could not be read (U+FFFD is
also what a link's malformed percent-encoding decodes to). Without JavaScript the old behaviour
remains.
"""
from __future__ import annotations

REPLACEMENT = "\ufffd"

# Capture phase on window: runs before React's listener on its root reads the value. The native
# setter bypasses React's value tracker, so React sees the repaired value as the change. st.html's
# sanitizer (DOMPurify) drops a script whose text has "<" right before "/", "!" or a word
# character, so comparisons here keep a space after "<" (tests/test_state.py checks it).
GUARD_JS = r"""
(() => {
  if (window.__rnnWellFormed) return;
  window.__rnnWellFormed = true;
  const wellFormed = (v) => {
    if (v.toWellFormed) return v.toWellFormed();
    let out = '';
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i), d = v.charCodeAt(i + 1);
      if (c >= 0xD800 && c <= 0xDBFF && d >= 0xDC00 && d <= 0xDFFF) { out += v[i] + v[i + 1]; i++; }
      else out += (c >= 0xD800 && c <= 0xDFFF) ? '\uFFFD' : v[i];
    }
    return out;
  };
  const repair = (e) => {
    const el = e.target;
    if (!el || (el.tagName !== 'INPUT' && el.tagName !== 'TEXTAREA') || typeof el.value !== 'string') return;
    const v = el.value, fixed = wellFormed(v);
    if (fixed === v) return;
    const proto = el.tagName === 'INPUT' ? HTMLInputElement.prototype : HTMLTextAreaElement.prototype;
    Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, fixed);
  };
  window.addEventListener('input', repair, true);
  window.addEventListener('change', repair, true);
})();
"""


INSTALLED = "_wellformed_guard"  # session_state key: the guard went out to this browser tab


def install() -> None:
    """Add the guard to the page once per browser session (app.py, before any page): a constant script,
    no visitor text. Its listeners live on the tab's window, so they stay when Streamlit removes the
    element on the next rerun, across pages, until the tab closes (a new tab is a new session). Sent on
    every rerun it cost each rerun a script element to sanitise and run in the browser before the verdict:
    with 8 visitors at once the median verdict came 0.3 s later and the full redraw 1 s later."""
    import streamlit as st

    if st.session_state.get(INSTALLED):
        return
    st.session_state[INSTALLED] = True
    with st.sidebar:
        st.html(f"<script>{GUARD_JS}</script>", unsafe_allow_javascript=True)


def unreadable(text: str) -> int:
    """How many characters of `text` could not be read: U+FFFD and any lone surrogate."""
    return sum(1 for ch in text if ch == REPLACEMENT or "\ud800" <= ch <= "\udfff")


def note(text: str) -> str | None:
    """What the page says about a text with unreadable characters (None when there are none)."""
    n = unreadable(text)
    if not n:
        return None
    return (f"{'One character' if n == 1 else f'{n:,} characters'} of this text could not be read "
            f"(shown as {REPLACEMENT}); the verdict is for the text as received, in which the model reads "
            f"each {REPLACEMENT} as an unknown word.")
