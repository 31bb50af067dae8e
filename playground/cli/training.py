"""Commands that train: train (one model, or with --race the Train page's race of the three cells) and
estimate (its time and memory).

Each option of playground/training/options.py's TRAIN_OPTIONS is one flag of both (`_add_train_options`);
the progress bar goes to stderr, the result to stdout.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from playground.cli.common import EXIT_ERROR, CliError, Command, command_line, emit_json


class _Bar:
    """A one-line progress bar per epoch on a terminal; one line per epoch otherwise."""

    def __init__(self, epochs: int, stream=None):
        stream = sys.stderr if stream is None else stream  # the stderr of the moment (tests swap it)
        self.epochs, self.stream, self.tty = epochs, stream, stream.isatty()
        self.last_draw = 0.0

    def update(self, ev) -> None:
        done = ev.kind in ("epoch", "end")
        now = time.perf_counter()
        if self.tty and not done and now - self.last_draw < 0.1:
            return
        self.last_draw = now
        width = 24
        filled = int(width * ev.batch / max(1, ev.n_batches))
        val = f" val_loss {ev.val_loss:.4f} val_acc {ev.val_acc:.4f}" if ev.val_acc is not None and done else ""
        line = (f"epoch {ev.epoch}/{self.epochs} [{'#' * filled}{'.' * (width - filled)}] "
                f"{ev.batch}/{ev.n_batches} loss {ev.loss:.4f} acc {ev.acc:.4f}{val} {ev.elapsed:.0f}s")
        if self.tty:
            self.stream.write("\r" + line + ("\n" if ev.kind == "epoch" else ""))
        elif ev.kind == "epoch":
            self.stream.write(line + "\n")
        self.stream.flush()


EXIT_S = 1.0  # of a capped command's time, kept for writing the file and the process's exit (torch's teardown)


def _add_train_options(s: argparse.ArgumentParser) -> None:
    """One flag per option of `options.TRAIN_OPTIONS`, with its default and meaning in --help.
    Flags not given stay out of the namespace, so `build_recipe` fills in the dataset's defaults."""
    from playground.training.options import TRAIN_OPTIONS

    groups = {g: s.add_argument_group(f"{g} options") for g in dict.fromkeys(o.group for o in TRAIN_OPTIONS)}
    for o in TRAIN_OPTIONS:
        meaning = o.help + (f"; {o.none[0]} = {o.none[1]}" if o.none else "")
        text = f"{meaning} (default: {o.default_text()})".replace("%", "%%")
        g = groups[o.group]
        if o.type is bool:
            g.add_argument(o.flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=text)
            continue
        choices = list(o.choices or ()) + ([o.none[0]] if o.choices and o.none else [])
        plain = {int: "N", float: "X", tuple: "A,B,..."}.get(o.type, "NAME")
        metavar = "{" + ",".join(choices) + "}" if choices else plain
        g.add_argument(o.flag, type=_option_type(o), default=argparse.SUPPRESS, metavar=metavar, help=text)


def _option_type(o):
    def convert(text: str):
        try:
            value = o.parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {o.type.__name__} value: {text!r}") from None
        try:
            return o.check(value)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return convert


def cmd_train(args) -> int:
    from playground.core import zoo
    from playground.evaluation import stats
    from playground.training import timing
    from playground.training.options import TRAIN_OPTIONS, build_recipe
    from playground.training.recipes import Job

    values = {o.name: getattr(args, o.name) for o in TRAIN_OPTIONS if hasattr(args, o.name)}  # given ones only
    try:
        recipe = build_recipe(values)  # the rest take the table's defaults for the dataset
    except ValueError as e:
        raise CliError(str(e)) from None
    for model in (recipe.init_from, *recipe.teachers):  # a bad model file fails now, not after the data
        if model:
            zoo.resolve(model)
    out = Path(args.out)
    if not out.resolve().parent.is_dir():  # say so now, not after the training
        raise CliError(f"cannot write {out}: no such directory")
    name = args.name or out.stem
    command = command_line(args)
    if args.race:
        return _race(args, recipe, out, name, command)
    cap, deadline = recipe.train.max_seconds, None
    if cap is not None:  # the cap holds end to end: from this process's start to the file written
        if not recipe.init_from and not recipe.teachers:
            p = timing.plan(recipe, cap, startup=time.perf_counter() - args.started)
            if not p.fits:
                raise CliError(p.refusal())
        deadline = args.started + cap - EXIT_S
    bar = _Bar(recipe.train.epochs)
    cell_of = f"fine-tuning {recipe.init_from}" if recipe.init_from else recipe.model.arch  # a base keeps its cell
    print(f"training {name}: {cell_of} on {recipe.dataset}" + (f" + {recipe.mix}" if recipe.mix else "")
          + (f" + {recipe.augment:,} templated sentences" if recipe.augment else "")
          + (f", everything within {cap:g} s" if cap is not None else ""), file=sys.stderr)
    job = Job(recipe, name=name, command=command, deadline=deadline).prepare()
    for ev in job.events():
        bar.update(ev)
    result = job.finish()
    card = result.card
    if card["status"] == "diverged":
        raise CliError(card["status_message"])
    zoo.save(result, out)
    val = ("no validation (the final weights are kept)" if card["val_accuracy"] is None
           else f"val acc {card['val_accuracy']:.4f}")
    print(f"{card['status']}: {card['status_message']} best epoch {card['best_epoch']}, {val}")
    other = "".join(f"  {d} TEST: {a:.4f}" for d, a in card["other_test_accuracy"].items())
    print(f"TEST accuracy ({recipe.dataset}): "
          + stats.accuracy_phrase(card["test_accuracy"], card["test_n"], card["test_of"], "TEST rows")
          + ("; the time cap ended the measurement, so this is a random sample" if job.test.cut else "") + other)
    t = job.times
    print(f"time: reading the data {t.get('data', 0):.0f} s, training {t.get('training', 0):.0f} s, "
          f"TEST {t.get('TEST', 0):.0f} s; wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


def _race(args, recipe, out: Path, name: str, command: str) -> int:
    """`train --race`: the Train page's race (recipes.Race, RaceResult), each cell's deadline an equal share
    of what is left of the cap when it starts."""
    import gc

    from playground.core.models import ARCH_TITLES, ARCHS
    from playground.core.zoo import save
    from playground.training.recipes import Race, RaceTally

    if recipe.init_from or recipe.teachers:
        raise CliError("a race starts every cell from scratch: no --init-from or --teacher")
    names = {a: f"{name}-{a}" for a in ARCHS}
    cap = recipe.train.max_seconds
    end = None if cap is None else args.started + cap - EXIT_S
    print(f"racing {', '.join(ARCH_TITLES[a] for a in ARCHS)} on {recipe.dataset}"
          + (f", everything within {cap:g} s" if cap is not None else ""), file=sys.stderr)
    race = Race(recipe, names, command=command).prepare()
    tally = RaceTally(names, recipe.train.epochs, end)
    for job in race.jobs(tally.deadline):
        arch = job.config.arch
        print(f"{ARCH_TITLES[arch]}:", file=sys.stderr)
        bar = _Bar(recipe.train.epochs)
        for ev in job.events():
            bar.update(ev)
        job.close()
        tm = tally.add(job)
        if tm is not None:
            path = out.with_name(f"{out.stem}-{arch}{out.suffix or '.safetensors'}")
            save(tm, path)
            print(f"  wrote {path}", file=sys.stderr)
        gc.collect()
    result = tally.result(stopped=False)
    if args.json:
        emit_json(result.to_dict())
        return 0 if tally.finished else EXIT_ERROR
    cols = ["cell", "TEST accuracy", "± points (95%)", "TEST rows", "kept at epoch", "training time (s)", "status"]
    print("  ".join(f"{c:>16}" for c in cols))
    for r in result.rows:
        print("  ".join(f"{(f'{r[c]:.4f}' if c == 'TEST accuracy' and r[c] is not None else str(r[c])):>16}"
                        for c in cols))
    for line in result.failures + result.notes + result.cut:
        print(line)
    print(result.verdict)
    return 0 if tally.finished else EXIT_ERROR


def _train_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--out", required=True, help="path of the .safetensors model file to write")
    s.add_argument("--name", help="model name (default: file stem)")
    s.add_argument("--race", action="store_true", help="race SimpleRNN, LSTM and GRU with these settings, one after "
                   "another on the same data (the Train page's race): writes OUT's stem + -rnn, -lstm, -gru and "
                   "prints the race table and the paired tests' verdict; --max-seconds is the whole race's")
    s.add_argument("--json", action="store_true", help="with --race: the race's result (rows, verdict, failures, "
                   "notes, not_trained, cut) as JSON")
    _add_train_options(s)


TRAIN = Command("train", cmd_train, _train_arguments,
                help="train a model and write a model file with its card",
                description="Train a model and write it with its card. Every option not given takes the Train page's "
                            "default for the dataset (playground/training/options.py).")


def cmd_estimate(args) -> int:
    """The Train page's estimates: one epoch's work, its estimated seconds, what the time cap
    (--max-seconds; a race gives each cell a third) allows, and the run's memory against the
    budget a run may use on the Train page (playground.budget)."""
    from playground.core.models import ARCHS
    from playground.training import budget, timing
    from playground.training.options import TRAIN_OPTIONS, build_recipe

    values = {o.name: getattr(args, o.name) for o in TRAIN_OPTIONS if hasattr(args, o.name)}
    try:
        recipe = build_recipe(values)
        work = timing.workload(recipe)
    except ValueError as e:
        raise CliError(str(e)) from None
    est = timing.estimate(recipe)
    race = timing.race(recipe, ARCHS, recipe.train.max_seconds) if args.race else {}
    mem = timing.race_memory(recipe, ARCHS) if args.race else timing.recipe_memory(recipe)
    cap = recipe.train.max_seconds
    promise = timing.promise(recipe, cap) if cap is not None and not recipe.init_from else None
    if args.json:
        emit_json({"workload": work.to_dict(), "estimate": est.to_dict(),
                   "race": {a: e.to_dict() for a, e in race.items()}, "memory": mem.to_dict(),
                   "promise": promise.to_dict() if promise else None}, indent=1)
        return 0
    if promise is not None:
        print(f"end to end in the {cap:g} s cap: about {promise.seconds:.0f} s now (reading the data "
              f"{promise.data:.0f} s, TEST {promise.test:.0f} s on a quiet machine; the load now makes it "
              f"{promise.slowdown:.1f}x slower), so {promise.epochs_fit:.1f} of {promise.epochs} epochs fit")
    cap = "no time cap" if est.cap is None else f"cap {est.cap:g} s"
    print(f"{recipe.model.arch} on {recipe.dataset}: {work.rows:,} rows in {work.batches:,} batches per epoch, "
          f"about {est.epoch_seconds:.1f} s per epoch on a quiet machine (up to {est.busy_factor:g}x when busy)")
    print(f"{est.epochs} epochs: about {est.capped_seconds:.0f} s ({cap}); "
          + ("every epoch fits" if est.fits else f"about {est.epochs_in_cap:.1f} epochs fit"))
    for a, e in race.items():
        share = "(no time cap)" if e.cap is None else f"of its {e.cap:g} s"
        print(f"race, {a}: about {e.capped_seconds:.0f} s {share}; "
              + ("every epoch fits" if e.fits else f"about {e.epochs_in_cap:.1f} epochs fit"))
    tip = budget.advice(mem, recipe.model, recipe.train.batch_size)
    refusal = "" if mem.fits else f", so it refuses these settings: {tip}"
    print(f"memory: about {budget.mb(mem.total)} ({mem.parts()}); "
          f"the Train page allows {budget.mb(mem.budget)}{refusal}")
    return 0


def _estimate_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--race", action="store_true", help="also each cell of a race, with a third of the cap each")
    s.add_argument("--json", action="store_true", help="the epoch's work, the estimate, and the race's")
    _add_train_options(s)


ESTIMATE = Command("estimate", cmd_estimate, _estimate_arguments,
                   help="how long training would take, and how many epochs fit a time cap",
                   description="The Train page's time estimate for the same options as train (the page uses "
                               "--max-seconds 120). The epoch estimate is training alone; with --max-seconds, also "
                               "the whole run (data, training, TEST) at the machine's load now.")

COMMANDS = (TRAIN, ESTIMATE)
