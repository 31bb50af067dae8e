"""Streamlit helpers shared by the pages (the only Streamlit code besides app.py and pages/)."""
