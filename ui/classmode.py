"""Class mode (issue 30): lesson links that hide controls, and projector mode.

A teacher's link carries, beside a page's own state (sentence, model, word: ui/state.py):

- `?hide=<control,...>`: the controls to hide, each named by its query parameter on that page (`s`, `model`,
  `word`, ...) or by its widget key (`play.x.card`, any control with a key on any page). Hidden with CSS by
  Streamlit's `st-key-<key>` class, so the page's numbers do not change, only what a student can touch.
- `?present=1`: projector mode. No sidebar, body text at PRESENT_TEXT_PX, one figure per screen: a run of
  top-level blocks holding charts is a slide (rows of small charts, an open expander: one each), with 90% of
  a screen before each slide after the first, so no other slide is on screen with it; the keyboard steps
  from slide to slide: → or PageDown or n for the next, ← or PageUp or p for the previous (not while typing
  in a box).

Both are kept in the session and written back to the URL on every page, so a link copied after switching
pages still carries them. Streamlit's own `?embed=true` gives the embed mode (no header, no sidebar).

The pure parts (`parse_hide`, `settings`, `hidden_keys`, `css`) take session state and query parameters as
mappings, so they are tested without Streamlit; `apply` draws.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, MutableMapping

HIDE, PRESENT = "hide", "present"
KEPT_HIDE, KEPT_PRESENT = "_class.hide", "_class.present"
WRITTEN = "_class.written"  # (hide, present) as this session last wrote them in the URL
PICK_HIDE, PICK_PRESENT = "_class.pick_hide", "_class.pick_present"  # the builder's widgets
MAX_NAMES = 40
NAME = re.compile(r"[A-Za-z0-9_.\-]{1,60}")
PRESENT_TEXT_PX = 24
TRUE = {"1", "true", "yes", "on"}
# the page's top-level blocks: in projector mode each one holding a chart is a slide (a row of small charts,
# an open expander: one slide)
SLIDES = '[data-testid="stMainBlockContainer"] > [data-testid="stVerticalBlock"]'


def parse_hide(raw) -> tuple[list[str], list[str]]:
    """`hide`'s text -> (names kept, names refused): comma-separated, each 1-60 of [A-Za-z0-9_.-], at most
    MAX_NAMES, duplicates dropped. Anything else is refused, never raised."""
    if not isinstance(raw, str):
        return [], []
    names, refused = [], []
    for part in raw[:4000].split(","):
        name = part.strip()
        if not name:
            continue
        if NAME.fullmatch(name) and len(names) < MAX_NAMES:
            if name not in names:
                names.append(name)
        else:
            refused.append(name[:40])
    return names, refused


def settings(session: MutableMapping, params: MutableMapping) -> dict:
    """The lesson link's settings: from the URL when it has them and they are not what this session wrote
    there itself (a link opened or edited), else as this session keeps them (a page switched to, or the
    lesson-link builder changed them), then written back to both, so a copied link keeps them on every page."""
    refused: list[str] = []
    written = session.get(WRITTEN, (None, None))
    if HIDE in params and params[HIDE] != written[0]:
        names, refused = parse_hide(params[HIDE])
        session[KEPT_HIDE] = names
    names = [n for n in session.get(KEPT_HIDE, []) if isinstance(n, str)]
    if PRESENT in params and params[PRESENT] != written[1]:
        session[KEPT_PRESENT] = str(params[PRESENT]).strip().lower() in TRUE
    present = bool(session.get(KEPT_PRESENT, False))
    text = (",".join(names) or None, "1" if present else None)
    _put(params, HIDE, text[0])
    _put(params, PRESENT, text[1])
    session[WRITTEN] = text
    return {"hide": names, "refused": refused, "present": present}


def _put(params: MutableMapping, key: str, value: str | None) -> None:
    if value is None:
        if key in params:
            del params[key]
    elif params.get(key) != value:
        params[key] = value


def hidden_keys(names: Iterable[str], fields: Iterable = ()) -> list[str]:
    """Widget keys to hide: a name that is one of the page's fields' query parameters means that field's
    widget; any name is also taken as a widget key itself."""
    names = list(names)
    by_query = {f.query: f.key for f in fields if getattr(f, "query", None)}
    keys = [by_query[n] for n in names if n in by_query] + names
    keys += [c for k in keys for c in COMPANIONS.get(k, ())]
    return list(dict.fromkeys(keys))


# a control drawn under another key in some states hides with it: Compare's dataset buttons, shown unlit
# under their own key while models picked by hand are in view
COMPANIONS = {"compare.dataset": ("compare.dataset_back",)}


def css_class(key: str) -> str:
    """Streamlit's class for an element with a key: st-key- and the key, other characters as '-'."""
    return "st-key-" + re.sub(r"[^a-zA-Z0-9_-]", "-", key.strip())


def css(keys: Iterable[str], present: bool) -> str:
    rules = [f".{css_class(k)} {{ display: none !important; }}" for k in keys]
    if present:
        px = PRESENT_TEXT_PX
        rules += [
            '[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], '
            '[data-testid="stHeader"], [data-testid="stToolbar"] { display: none !important; }',
            '.stMainBlockContainer { max-width: 100% !important; padding: 1.5rem 3rem 40vh 3rem !important; }',
            f'[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li, '
            f'[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p, '
            f'[data-testid="stWidgetLabel"] p, .stTextInput input, [data-testid="stExpander"] summary p '
            f'{{ font-size: {px}px !important; line-height: 1.4 !important; }}',
            "h1 { font-size: 2.6rem !important; }",
            '[data-testid="stMetricValue"] p, [data-testid="stMetricValue"] div { font-size: 3rem !important; }',
            f"{SLIDES} > :has(.stPlotlyChart) ~ :not(:has(.stPlotlyChart)) + :has(.stPlotlyChart) "
            "{ margin-top: 90vh !important; }",
            f"{SLIDES} > * {{ scroll-margin-top: 1rem; }}",
            '[data-testid="stMain"]:focus, [data-testid="stMain"]:focus-visible { outline: none !important; }',
        ]
    return "<style>\n" + "\n".join(rules) + "\n</style>" if rules else ""


# st.html's sanitizer drops a script with "<" right before "/", "!" or a word character: none here
PRESENT_JS = """
(() => {
  if (window.__rnnPresentKeys) return;
  window.__rnnPresentKeys = true;
  window.addEventListener('keydown', (e) => {
    const t = e.target;
    if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName))) return;
    if (!new URLSearchParams(window.location.search).has('present')) return;
    const next = ['ArrowRight', 'PageDown', 'n'].includes(e.key);
    const prev = ['ArrowLeft', 'PageUp', 'p'].includes(e.key);
    if (!next && !prev) return;
    const root = document.querySelector(%s);
    if (!root) return;
    const chart = (c) => c && c.querySelector('.stPlotlyChart');
    const slides = Array.from(root.children).filter((c) => chart(c) && !chart(c.previousElementSibling));
    if (!slides.length) return;
    const tops = slides.map((c) => c.getBoundingClientRect().top);
    let i = next ? tops.findIndex((y) => y > 24) : tops.map((y) => y < -24).lastIndexOf(true);
    if (i < 0) i = next ? slides.length - 1 : 0;
    e.preventDefault();
    slides[i].scrollIntoView({behavior: 'instant', block: 'start'});
  }, true);
})();
""" % repr(SLIDES.replace("'", '"'))

# Streamlit's ?embed=true hides its header, not the sidebar: in an iframe the page takes the whole width
EMBED_JS = """
(() => {
  if (window.__rnnEmbed) return;
  window.__rnnEmbed = true;
  if ((new URLSearchParams(window.location.search).get('embed') || '').toLowerCase() !== 'true') return;
  const s = document.createElement('style');
  s.textContent = '[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] { display: none !important; }';
  document.head.appendChild(s);
})();
"""
EMBED_INSTALLED = "_class.embed_js"


def apply(fields: Iterable = ()) -> dict:
    """Read and keep the lesson link's settings, and hide what it names on this page (called by
    ui.state.PageState.sync on every page, with the page's fields). Returns the settings."""
    import streamlit as st

    got = settings(st.session_state, st.query_params)
    style = css(hidden_keys(got["hide"], fields), got["present"])
    if style:
        st.sidebar.html(style)  # in the sidebar: no gap in the page (CSS and scripts act on the whole tab)
    if got["present"]:
        st.sidebar.html(f"<script>{PRESENT_JS}</script>", unsafe_allow_javascript=True)
    from ui import takeaway, tour

    takeaway.install()  # every figure: PNG and SVG with its caption and link
    if got["refused"]:
        st.caption("This link's hide= has names that are not controls: "
                   + ", ".join(f"“{n}”" for n in got["refused"][:5]).replace("<", "‹") + ".")
    tour.show(fields)  # a guided tour's step: its page, its widgets' values, its panel
    if not st.session_state.get(EMBED_INSTALLED):  # once per browser session, as ui/style.py's scripts
        st.session_state[EMBED_INSTALLED] = True
        st.sidebar.html(f"<script>{EMBED_JS}</script>", unsafe_allow_javascript=True)
    return got


NAMES = {"s": "sentence", "model": "model picker", "tok": "word picker", "word": "word picker", "unit": "unit picker",
         "models": "other models", "dataset": "dataset buttons", "layer": "layer picker", "method": "method",
         "rank": "unit ranking", "show": "values or change", "allunits": "all units", "edit": "edited sentence"}


def _set_hide(labels: dict) -> None:
    import streamlit as st

    picked = [labels[p] for p in st.session_state.get(PICK_HIDE) or [] if p in labels]
    others = [n for n in st.session_state.get(KEPT_HIDE, []) if n not in labels.values()]
    st.session_state[KEPT_HIDE] = picked + others


def _set_present() -> None:
    import streamlit as st

    st.session_state[KEPT_PRESENT] = bool(st.session_state.get(PICK_PRESENT))


def builder(fields=()) -> None:
    """The sidebar's lesson-link builder (ui.state.PageState.sync calls it after writing the page's state to
    the URL, so the link is this view): which of this page's controls to hide, projector mode, the link."""
    import streamlit as st

    from ui.takeaway import link

    if st.session_state.get(KEPT_PRESENT):  # no sidebar in projector mode
        return
    hidden = list(st.session_state.get(KEPT_HIDE, []))
    labels = {f"{NAMES.get(f.query, f.query)} ({f.query})": f.query for f in fields if getattr(f, "query", None)}
    with st.sidebar.expander("🎓 Class mode: a lesson link", key="_class.x.builder", on_change="rerun") as box:
        if not box.open:  # drawn only when opened: nothing on a word click's rerun
            return
        st.session_state[PICK_HIDE] = [lab for lab, q in labels.items() if q in hidden]
        st.multiselect("Hide on this page", list(labels), key=PICK_HIDE, on_change=_set_hide, args=(labels,),
                       help="The controls a student will not see; the page still shows what they are set to.")
        st.session_state[PICK_PRESENT] = False
        st.toggle("Projector mode (?present=1)", key=PICK_PRESENT, on_change=_set_present,
                  help="Large text, no sidebar, one figure per screen; n / p or the arrow keys step.")
        st.caption("Copy this link: it opens this page with this sentence, model and word as they are now.")
        st.code(link(), language=None, wrap_lines=True)
