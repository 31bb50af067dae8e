"""Command line `python -m playground COMMAND`: the registry of the commands, the parser built from it,
and main().

The commands live in one module per group, each handler next to the arguments it takes
(playground/cli/reading.py, data.py, training.py, dynamics.py, maintenance.py; what they share:
playground/cli/common.py). Errors (unknown model, bad file, bad option) are one clear line on stderr and a
non-zero exit.
"""
from __future__ import annotations

import os
import sys
import time

from playground.cli import data, dynamics, maintenance, reading, training
from playground.cli.common import EXIT_ERROR, EXIT_USAGE, CliError, Command, Parser, process_age

MODULES = (reading, data, training, dynamics, maintenance)  # every command module; each lists its COMMANDS

# The order `python -m playground --help` (and docs/cli.md) lists the commands in, kept from when every command
# lived in this module.
ORDER = ("models", "predict", "evaluate", "export", "augment", "train", "estimate", "explain", "narrate", "lesson",
         "typical", "units", "memory", "statespace", "compare", "paired", "probe", "bench", "lab", "precompute",
         "intervene",
         "whatif", "facts", "ablate", "convert", "why", "tour")


def commands() -> tuple[Command, ...]:
    """The registry: every module's commands, in ORDER. A command missing from ORDER (or named twice)
    fails here, rather than quietly having no parser."""
    found = [c for m in MODULES for c in m.COMMANDS]
    by_name = {c.name: c for c in found}
    if len(by_name) != len(found) or sorted(by_name) != sorted(ORDER):
        raise RuntimeError(f"playground/cli/main.py's ORDER and the command modules disagree on "
                           f"{sorted(set(by_name) ^ set(ORDER)) or 'a command named twice'}")
    return tuple(by_name[name] for name in ORDER)


def build_parser() -> Parser:
    p = Parser(prog="python -m playground", description="RNN Playground command line.")
    sub = p.add_subparsers(dest="cmd", parser_class=Parser, metavar="COMMAND")
    for command in commands():
        command.register(sub)
    return p


def main(argv: list[str] | None = None, started_age: float = 0.0) -> int:
    """Run one command. started_age: seconds the process had run before main was called (a time cap
    counts from the process's start when run as `python -m playground`; from this call otherwise)."""
    started = time.perf_counter() - started_age  # the process's start on perf_counter's clock
    from playground.core.data import DataUnavailable
    from playground.core.zoo import ModelFileError

    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        args = build_parser().parse_args(argv)
        args.started, args.argv = started, argv
        if any(str(a).lower().endswith((".keras", ".h5")) for a in argv):  # a reader's own Keras model
            from playground.core import keras_import

            keras_import.register()  # .keras and .h5 in zoo.OPENERS
        if not getattr(args, "fn", None):
            raise CliError("choose a command: models, predict, explain, narrate, lesson, typical, memory, statespace, "
                           "intervene, whatif, ablate, units, probe, lab, precompute, facts, compare, evaluate, "
                           "export, augment, train, estimate, paired, bench, convert, why, tour (see --help)")
        return args.fn(args)
    except (CliError, ModelFileError, DataUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE if isinstance(e, CliError) else EXIT_ERROR
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # noqa: BLE001 - a bug is one line too; PLAYGROUND_DEBUG=1 shows the traceback
        if os.environ.get("PLAYGROUND_DEBUG") == "1":
            raise
        print(f"error: an internal error ({type(e).__name__}: {str(e)[:200]}); please report it "
              "(PLAYGROUND_DEBUG=1 shows where it happened)", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main(started_age=process_age()))
