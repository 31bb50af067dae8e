"""Commands that build and measure what the project ships: precompute, facts and bench.

precompute builds the bundled models' shipped results (playground/results/models/), facts the numbers the
docs quote (docs/model-facts.md), bench the timings and peak memory.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playground.cli.common import CliError, Command, emit_json


def cmd_precompute(args) -> int:
    """Build the bundled models' shipped per-model results (playground/dynamics/precomputed.py)."""
    from playground.core import zoo
    from playground.dynamics import precomputed

    names = zoo.bundled_names() if args.models == "all" else [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [n for n in names if n not in zoo.BUNDLED]
    if unknown or not names:
        raise CliError(f"--models takes bundled model names ({', '.join(zoo.BUNDLED)}) or all, not "
                       f"{', '.join(unknown) or 'nothing'}")
    out = []
    for name in names:
        print(f"{name}: ", end="", file=sys.stderr, flush=True)
        out.append(precomputed.build(name, args.out_dir and Path(args.out_dir),
                                     on_kind=lambda k, s: print(f"{k} {s:.0f} s ", end="", file=sys.stderr,
                                                                flush=True)))
        print(file=sys.stderr)
    if args.json:
        emit_json(out, indent=1)
        return 0
    for r in out:
        print(f"{r['model']}: key {r['key']}, {r['bytes'] / 1e6:.2f} MB, "
              + ", ".join(f"{k} {s:.0f} s" for k, s in r["seconds"].items()))
    return 0


def _precompute_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--models", default="all", help="comma-separated bundled names, or all (default)")
    s.add_argument("--out-dir", help="write here instead of playground/results/models")
    s.add_argument("--json", action="store_true", help="per model: key, seconds per kind, file size")


PRECOMPUTE = Command("precompute", cmd_precompute, _precompute_arguments,
                     help="build the bundled models' shipped state space, ablation, typical values and unit "
                          "statistics (playground/results/models/)")


def cmd_facts(args) -> int:
    """The bundled models' facts the docs quote (playground/evaluation/facts.py), from the shipped weights
    and results."""
    from playground.evaluation.facts import DOC, facts, markdown

    rows = facts()
    if not rows:
        raise CliError("no bundled model has shipped results: run `python -m playground precompute` first")
    if args.write:
        DOC.write_text(markdown(rows), encoding="utf-8")
        print(f"wrote {DOC}", file=sys.stderr)
    elif args.json:
        emit_json(rows)
    else:
        print(markdown(rows), end="")
    return 0


def _facts_arguments(s: argparse.ArgumentParser) -> None:
    g = s.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true", help="one object per model")
    g.add_argument("--markdown", action="store_true", help="the tables of docs/model-facts.md (the default)")
    g.add_argument("--write", action="store_true", help="write them to docs/model-facts.md (rebuild.sh does)")


FACTS = Command("facts", cmd_facts, _facts_arguments,
                help="the bundled models' facts the docs quote (accuracy, ablation, fixed points, time constants), "
                     "from the shipped weights and results")


def cmd_bench(args) -> int:
    from playground.training.bench import run_bench

    return run_bench(quick=args.quick, as_json=args.json, out=args.out)


def _bench_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--quick", action="store_true", help="fewer repeats, skip the IMDB epoch")
    s.add_argument("--json", action="store_true")
    s.add_argument("--out", help="also write the results as JSON to this file")


BENCH = Command("bench", cmd_bench, _bench_arguments, help="median timings and peak memory")

COMMANDS = (PRECOMPUTE, FACTS, BENCH)
