"""`python -m playground`: the command line (playground/cli/main.py)."""
import sys

from playground.cli.main import main, process_age

if __name__ == "__main__":
    sys.exit(main(started_age=process_age()))
