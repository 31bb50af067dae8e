"""What the commands share: CliError, the Command entry, emit_json (the one way a command prints JSON) and
the shared arguments.

Also the parser that turns a usage error into one line, the text argument's bounded read from stdin,
--model, the text, --max-seconds and the time budget it gives, and the process's age that a time cap
counts from. Standard library only at the top, so that scripts/vader_baseline.py (which imports this and
playground/cli/data.py's labelled-file readers) runs without torch.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

EXIT_USAGE, EXIT_ERROR = 2, 1


class CliError(Exception):
    """An error the user can fix; printed as one line."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + traceback-ish noise
        command = self.prog.removeprefix("python -m playground").split()  # [] for the top-level parser
        raise CliError(f"{message} (see `{' '.join(['python -m playground', *command[-1:]])} --help`)")


@dataclass(frozen=True)
class Command:
    """One sub-command: its name, its line in `--help` (and the longer description of its own --help),
    the function that adds its arguments, and the handler that runs it (args -> exit code)."""
    name: str
    run: Callable[[argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None]
    help: str
    description: str | None = None

    def register(self, sub) -> argparse.ArgumentParser:
        """Add this command's parser to `sub` (add_subparsers' action); `args.fn` is the handler."""
        s = sub.add_parser(self.name, help=self.help, description=self.description)
        self.arguments(s)
        s.set_defaults(fn=self.run)
        return s


def emit_json(obj: Any, *, indent: int | None = None, ensure_ascii: bool = True) -> None:
    """Print `obj` on stdout as one JSON document and a newline: every command's --json output goes
    through here (json.dumps with these two options, nothing else)."""
    print(json.dumps(obj, indent=indent, ensure_ascii=ensure_ascii))


def fmt_acc(x) -> str:
    return "-" if x is None else f"{x:.4f}"


# Bounded input: stdin is read in one bounded piece, never whole, so /dev/zero costs no more memory than
# this limit, and a reader past it stops with one clear line (the labelled files' limits: playground/cli/data.py).
MAX_STDIN_BYTES = 1 << 20  # a text read from stdin ('-'): 1 MiB (the models read at most a few hundred tokens)


def read_text_arg(words: list[str]) -> str:
    """The text argument: its words joined, or with '-' at most MAX_STDIN_BYTES of stdin (refused past it)."""
    text = " ".join(words)
    if text != "-":
        return text
    stream = getattr(sys.stdin, "buffer", None)
    try:
        raw = stream.read(MAX_STDIN_BYTES + 1) if stream is not None else sys.stdin.read(MAX_STDIN_BYTES + 1)
    except OSError as e:
        raise CliError(f"cannot read stdin: {e.strerror or e}") from None
    if len(raw) > MAX_STDIN_BYTES:
        raise CliError(f"stdin holds more than {MAX_STDIN_BYTES >> 20} MiB; a text read from stdin may be at most "
                       f"{MAX_STDIN_BYTES >> 20} MiB")
    return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw


def model_arg(s: argparse.ArgumentParser) -> None:
    s.add_argument("--model", required=True, help="bundled model name or path to a .safetensors file, or a Keras "
                   ".keras/.h5 file (its word index beside it: word_index.json or imdb_word_index.json)")


def text_arg(s: argparse.ArgumentParser, optional: bool = False) -> None:
    s.add_argument("text", nargs="*" if optional else "+",
                   help=f"{'optional ' if optional else ''}text (several words are joined; '-' reads stdin)")


def budget_arg(s: argparse.ArgumentParser) -> None:
    s.add_argument("--max-seconds", type=float, help="a time budget from the command's start: the work stops "
                   "there and reports what it finished, and what it left out (\"cut\" in the JSON)")


def time_budget(args):
    """The command's clock.Budget from --max-seconds (counted from the process's start), or None."""
    from playground.core.clock import Budget

    if args.max_seconds is None:
        return None
    if not math.isfinite(args.max_seconds) or args.max_seconds <= 0:
        raise CliError("--max-seconds must be a positive number of seconds")
    return Budget(args.max_seconds, start=args.started)


def say_caveat(tm) -> None:
    """On stderr (so --json output stays one document): a model trained elsewhere reads this app's texts."""
    if tm.texts_caveat:
        print(tm.texts_caveat, file=sys.stderr)


def say_cut(cut: str) -> None:
    if cut:
        print(f"Part of the result only: {cut}.")


def command_line(args) -> str:
    """The command line that ran, as a person would type it again (kept in a model's card)."""
    return "python -m playground " + " ".join(shlex.quote(a) for a in args.argv)


def process_age() -> float:
    """Seconds since this process started (Python's start and imports included), from /proc; 0 where
    that cannot be read. A time cap on the command line counts from the process's start."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start time after boot, in ticks
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - started)
    except (OSError, ValueError, IndexError):
        return 0.0
