"""A guided tour's panel (issue 30; the steps and their numbers: playground/explain/tours.py).

`?tour=<id>&step=<n>` opens step n of a tour (from 1); the tour's sentence is the link's `s` when it opened
the tour, else its own. Each step opens its page with its link parameters (sentence, model, word, unit: set
on the page's own widgets, so everything on the page follows), points at its element (an orange outline on
`.st-key-<target>`, scrolled into view once) and shows its text in a panel fixed at the foot of the screen,
with Previous / Next / End. A question is answered before its truth is shown. The URL carries tour and step
on every step, so a copied link reopens it.

`show(fields)` is called by ui.classmode.apply on every page, before the page reads its widgets.
"""
from __future__ import annotations

import html
import json

import streamlit as st

from playground.explain import tours
from ui import classmode, textio

TOUR, STEP = "tour", "step"
ID, AT, SENTENCE, APPLIED = "_tour.id", "_tour.step", "_tour.sentence", "_tour.applied"
WRITTEN = "_tour.written"  # the (tour, step) this session last put in the URL
PAGES = {"playground": "views/playground.py", "compare": "views/compare.py", "gates": "views/gates.py",
         "space": "views/space.py"}
HIGHLIGHT = "#ff7f00"
TITLES = {"playground": "Playground", "compare": "Compare", "gates": "Why gates", "space": "State space"}
PAGE_NOW = "_page.now"  # set by app.py before the page runs


@st.cache_resource(show_spinner=False, max_entries=16)
def _steps(tour_id: str, sentence: str) -> list:
    return tours.steps(tour_id, sentence)


def _start(params) -> None:
    """A link's tour and step, kept in the session (Streamlit drops the query string on a page switch)."""
    tid = params.get(TOUR)
    if tid is None:
        return
    if tid not in tours.TOURS:
        st.session_state[ID] = None
        return
    try:
        n = max(1, int(str(params.get(STEP, "1"))[:6]))
    except ValueError:
        n = 1
    if st.session_state.get(WRITTEN) == (tid, n):  # what this session wrote itself: the buttons rule
        return
    if st.session_state.get(ID) != tid:
        s = textio.clean_input(params.get("s", ""))[:2000] if "s" in params else ""
        st.session_state[SENTENCE] = s.strip() or tours.TOURS[tid].sentence
    st.session_state[ID], st.session_state[AT] = tid, n  # a link opened or edited: its step
    st.session_state[WRITTEN] = (tid, n)


def _go(n: int) -> None:
    st.session_state[AT] = n


def _end() -> None:
    st.session_state[ID] = None
    st.session_state.pop(WRITTEN, None)  # the same link opened again starts the tour again


def _current_page() -> str:
    """The page being run, by its url path (app.py keeps it: st.navigation knows it there)."""
    return str(st.session_state.get(PAGE_NOW, "")) or "home"


def show(fields=()) -> None:
    params = st.query_params
    _start(params)
    tid = st.session_state.get(ID)
    if tid not in tours.TOURS:
        for k in (TOUR, STEP):
            if k in params:
                del params[k]
        return
    try:
        steps = _steps(tid, st.session_state.get(SENTENCE) or tours.TOURS[tid].sentence)
    except (ValueError, IndexError, KeyError) as e:
        st.warning(textio.md_escape(f"This tour cannot run on this sentence: {e}."))
        st.session_state[ID] = None
        return
    n = min(max(1, int(st.session_state.get(AT) or 1)), len(steps))
    st.session_state[AT] = n
    step = steps[n - 1]
    here = _current_page()
    entering = st.session_state.get(APPLIED) != (tid, n)
    if entering and here != step.page:  # a new step on another page: its widgets are set there
        st.switch_page(PAGES[step.page])
    if entering:  # its parameters on the page's own widgets, so everything on the page follows
        st.session_state[APPLIED] = (tid, n)
        for f in fields:
            if f.query in step.params:
                value = f.from_text(step.params[f.query])
                if f.ok(value):
                    st.session_state[f.key] = value
    params[TOUR], params[STEP] = tid, str(n)
    st.session_state[WRITTEN] = (tid, n)
    _panel(tid, n, steps, step, away=here != step.page)


def _panel(tid: str, n: int, steps: list, step, away: bool = False) -> None:
    tour = tours.TOURS[tid]
    key = classmode.css_class(step.target)
    st.sidebar.html(f"""<style>
.st-key-tour-panel {{ position: fixed; bottom: 0; left: 0; right: 0; z-index: 1000100; background: #fffaf2;
  border-top: 3px solid {HIGHLIGHT}; box-shadow: 0 -4px 16px rgba(0,0,0,.12); padding: .6rem 1.2rem .8rem;
  max-height: 46vh; overflow-y: auto; }}
@media (min-width: 900px) {{ .st-key-tour-panel {{ left: .6rem; right: auto; bottom: .6rem; width: 19rem;
  border: 3px solid {HIGHLIGHT}; border-radius: 10px; max-height: calc(100vh - 16rem); }}
  body:has([data-testid="stExpandSidebarButton"]) .stMainBlockContainer {{ padding-left: 21rem !important; }}
  body:has([data-testid="stExpandSidebarButton"]) .st-key-tour-panel {{ max-height: calc(100vh - 5rem); }} }}
.stMainBlockContainer {{ padding-bottom: 55vh !important; }}
.{key} {{ outline: 3px solid {HIGHLIGHT} !important; outline-offset: 6px; border-radius: 6px;
  scroll-margin-top: 4.5rem; }}
</style>""")
    scroll = json.dumps(f".{key}")
    st.sidebar.html(f"""<script>
(() => {{ const mark = {json.dumps(f"{tid}:{n}")};
  if (window.__rnnTourAt === mark) return;
  let tries = 0;
  const go = () => {{ const el = document.querySelector({scroll});
    if (el) {{ el.scrollIntoView({{block: 'start'}}); window.__rnnTourAt = mark; return; }}
    if (++tries < 40) setTimeout(go, 250); }};
  setTimeout(go, 300); }})();
</script>""", unsafe_allow_javascript=True)
    with st.container(key="tour-panel"):  # over the sidebar's empty foot on a desktop, the screen's foot on a phone
        st.caption(f"Guided tour · {html.escape(tour.title)} · step {n} of {len(steps)}")
        row = st.container(horizontal=True, gap="small")  # first, so a long step never hides the buttons
        row.button("◀", key="_tour.prev", disabled=n <= 1, on_click=_go, args=(n - 1,), help="Previous step")
        if n < len(steps):
            row.button("Next ▶", key="_tour.next", type="primary", on_click=_go, args=(n + 1,))
        row.button("End tour" if n < len(steps) else "Finish", key="_tour.end", on_click=_end)
        st.markdown(f"**{textio.md_escape(step.title)}**")
        where = f"{TITLES[step.page]} page" + (f" · {step.params['model']}" if "model" in step.params else "")
        st.caption(textio.md_escape(where))
        if away:  # the visitor went to another page in the middle of the tour
            st.page_link(PAGES[step.page], label="Back to this step's page", icon="↩️")
            return
        st.markdown(textio.md_escape(step.text))
        q = step.question
        if q is not None:
            qkey, rkey = f"_tour.q.{tid}.{n}", f"_tour.rev.{tid}.{n}"
            revealed = st.session_state.get(rkey, False)
            pick = st.radio(q.prompt, range(len(q.choices)), format_func=lambda i: q.choices[i], index=None,
                            key=qkey, disabled=revealed, horizontal=True)
            if not revealed:
                st.button("Show the answer", key=f"_tour.check.{tid}.{n}", disabled=pick is None,
                          on_click=lambda: st.session_state.__setitem__(rkey, True))
            else:
                right = pick == q.answer
                (st.success if right else st.info)(
                    ("Right. " if right else f"Not this time: it is “{q.choices[q.answer]}”. ")
                    + textio.md_escape(q.reveal))
