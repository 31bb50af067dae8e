"""Page-wide CSS the pages share (no user text ever goes in here).

`charts_fit_phones()`: on a narrow screen (a phone) Plotly's mode bar (zoom, pan, download) sits
over the top right of a chart, where titles and legends are, and on a touch screen it appears at
every tap; below PHONE_MAX_PX it is hidden (a phone zooms with its fingers). Formulas are set a little
smaller there too (KaTeX's 1.21em of the text -> 1.05em), so that a unit's update with its numbers fits
a 390 px screen inside an expander. Call once per page.
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
