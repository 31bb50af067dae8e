"""The core: cells, models, the exact trace, text, data, model files."""
