"""RNN Playground library: data, text, models, step-by-step trace, attribution, training.

Nothing in this package imports streamlit; the app's pages call into it.
"""
__version__ = "0.1.0"
