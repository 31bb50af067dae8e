"""`python -m playground`: the command line (playground/cli/main.py, one module per group of commands)."""
import os
import sys

from playground.cli.common import process_age
from playground.cli.main import main


def _exit_now(rc: int) -> None:
    """Leave without Python's teardown, once what was printed is flushed: every file a command writes is
    closed when `main` returns, and tearing torch down took 1.9 s of a loaded machine's time (0.1 s this
    way), time a capped command (`train --max-seconds`) had promised to its caller."""
    if sys.getprofile() is not None or sys.gettrace() is not None:  # a profiler or coverage writes at exit
        sys.exit(rc)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(rc)


if __name__ == "__main__":
    _exit_now(main(started_age=process_age()))
