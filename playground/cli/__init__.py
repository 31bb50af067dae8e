"""The command line, `python -m playground`."""
