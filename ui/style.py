"""Page-wide CSS the pages share (no user text ever goes in here).

`charts_fit_phones()`: on a narrow screen (a phone) Plotly's mode bar (zoom, pan, download) sits
over the top right of a chart, where titles and legends are, and on a touch screen it appears at
every tap; below PHONE_MAX_PX it is hidden (a phone zooms with its fingers). Call once per page.
"""
import streamlit as st

PHONE_MAX_PX = 640

_CSS = f"""<style>
@media (max-width: {PHONE_MAX_PX}px) {{
  .stPlotlyChart .modebar-container {{ display: none !important; }}
}}
</style>"""


def charts_fit_phones() -> None:
    st.html(_CSS)
