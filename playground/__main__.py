"""`python -m playground`: the command line (playground/cli/main.py, one module per group of commands)."""
import sys

from playground.cli.common import process_age
from playground.cli.main import main

if __name__ == "__main__":
    sys.exit(main(started_age=process_age()))
