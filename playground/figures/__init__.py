"""Figures: pure Plotly builders for every page."""
