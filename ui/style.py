"""Page-wide CSS the pages share (no user text ever goes in here).

`charts_fit_phones()`: on a narrow screen (a phone) Plotly's mode bar (zoom, pan, download) sits
over the top right of a chart, where titles and legends are, and on a touch screen it appears at
every tap; below PHONE_MAX_PX it is hidden (a phone zooms with its fingers). Formulas are set a little
smaller there too (KaTeX's 1.21em of the text -> 1.05em), so that a unit's update with its numbers fits
a 390 px screen inside an expander. Call once per page.

`sidebar_closes_on_phones()`: on a phone the sidebar covers the page; Streamlit leaves it open after a
page is chosen in it, so the page chosen stays hidden behind it. A small constant script (no visitor
text), added once per browser session, closes it after a click on one of its page links when the
screen is at most PHONE_MAX_PX wide. Its listener lives on the tab's window (as ui/wellformed.py's).
"""
import streamlit as st

PHONE_MAX_PX = 640

_CSS = f"""<style>
@media (max-width: {PHONE_MAX_PX}px) {{
  .stPlotlyChart .modebar-container {{ display: none !important; }}
  .katex-display > .katex {{ font-size: 1.05em; }}
}}
</style>"""


def charts_fit_phones() -> None:
    st.html(_CSS)


SIDEBAR_INSTALLED = "_style.sidebar_js"
# st.html's sanitizer drops a script with "<" right before "/", "!" or a word character: keep a space after "<"
SIDEBAR_JS = """
(() => {
  if (window.__rnnSidebarCloses) return;
  window.__rnnSidebarCloses = true;
  window.addEventListener('click', (e) => {
    if (window.innerWidth > %d) return;
    const link = e.target && e.target.closest && e.target.closest('[data-testid="stSidebar"] a');
    if (!link) return;
    let tries = 0;
    const close = () => {
      const bar = document.querySelector('[data-testid="stSidebar"]');
      const button = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
      if (bar && bar.getAttribute('data-collapsed') === 'false' && button) { button.click(); return; }
      if (++tries < 20) setTimeout(close, 100);
    };
    setTimeout(close, 150);
  }, true);
})();
""" % PHONE_MAX_PX


def sidebar_closes_on_phones() -> None:
    """Once per browser session (app.py): the sidebar closes after a page is chosen on a phone."""
    if st.session_state.get(SIDEBAR_INSTALLED):
        return
    st.session_state[SIDEBAR_INSTALLED] = True
    with st.sidebar:
        st.html(f"<script>{SIDEBAR_JS}</script>", unsafe_allow_javascript=True)
