"""Command line: `python -m playground {models,predict,explain,narrate,typical,memory,statespace,intervene,whatif,
ablate,units,probe,lab,compare,evaluate,export,train,estimate,paired,bench}`.

Errors (unknown model, bad file, bad option) are one clear line on stderr and a non-zero exit.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

EXIT_USAGE, EXIT_ERROR = 2, 1


class CliError(Exception):
    """An error the user can fix; printed as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + traceback-ish noise
        raise CliError(f"{message} (see `python -m playground {self.prog.split()[-1]} --help`)"
                       if " " in self.prog else f"{message} (see `python -m playground --help`)")


def _fmt_acc(x) -> str:
    return "-" if x is None else f"{x:.4f}"


def cmd_models(args) -> int:
    from playground.core import zoo

    rows = []
    for name in zoo.bundled_names():
        tm = zoo.load_bundled(name)
        rows.append({"name": name, "arch": tm.arch, "dataset": tm.dataset, "params": tm.n_params,
                     "test_accuracy": tm.test_accuracy, "hidden_size": tm.config.hidden_size,
                     "embed_dim": tm.config.embed_dim, "vocab_size": tm.config.vocab_size,
                     "num_layers": tm.config.num_layers, "max_len": tm.config.max_len})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if args.markdown:
        print("| model | cell | TEST split | embedding | hidden | vocabulary | max tokens | parameters "
              "| TEST accuracy | target | train time |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            tm = zoo.load_bundled(r["name"])
            print(f"| {r['name']} | {tm.config.title} | {r['dataset']} TEST | {r['embed_dim']} | "
                  f"{r['hidden_size']} | {r['vocab_size']:,} | {r['max_len']} | {r['params']:,} | "
                  f"{_fmt_acc(r['test_accuracy'])} | {zoo.TARGETS.get(r['name'], '-')} | "
                  f"{tm.card.get('train_seconds', 0):.0f} s |")
        return 0
    if not rows:
        print("no bundled models found in", zoo.WEIGHTS_DIR)
        return 0
    print(f"{'name':<10} {'arch':<5} {'dataset':<7} {'params':>10} {'hidden':>6} {'TEST acc':>8}")
    for r in rows:
        print(f"{r['name']:<10} {r['arch']:<5} {r['dataset']:<7} {r['params']:>10,} {r['hidden_size']:>6} "
              f"{_fmt_acc(r['test_accuracy']):>8}")
    return 0


def cmd_predict(args) -> int:
    from playground.core import zoo
    from playground.core.trace import fused_prob, trace
    from playground.explain.account import account
    from playground.explain.narrate import curve_story

    tm = zoo.resolve(args.model)
    text = read_text_arg(args.text)
    tr = trace(tm.model, tm.vocab, text)
    prob = fused_prob(tm.model, tr.ids)
    label = int(prob >= 0.5)
    if args.json:
        last = tr.last
        out = {
            "model": tm.name, "arch": tr.arch, "tokens": list(tr.tokens), "oov": list(tr.oov),
            "truncated": tr.truncated, "n_tokens_total": tr.n_tokens_total,
            "step_probs": [round(float(p), 7) for p in tr.step_probs], "prob": prob, "label": label,
            "trace_prob": tr.prob,
            "gates": {g: last.gates[g].round(6).tolist() for g in tr.gate_names},
            "hidden": last.h.round(6).tolist(),
        }
        acc = account(tr)  # full precision, so that the sums can be checked (docs: README)
        out.update(prior_logit=acc.prior_logit, step_logits=acc.step_logits.tolist(),
                   contributions=acc.contributions.tolist())
        # units by share of the verdict, most decisive first, and the drill-down's (unit, token) it opens on
        out.update(ranking=acc.ranking("verdict").tolist(), decisive=list(acc.decisive() or []) or None)
        # the curve's story as the pages say it: prior, biggest move, 0.5 crossings (playground/explain/narrate.py)
        out.update(prior=tr.prob0, story=curve_story(tr).as_dict())
        print(json.dumps(out, ensure_ascii=True))
        return 0
    word = "positive" if label else "negative"
    print(f"{word}  P(positive) = {prob:.4f}  ({tm.name}, {len(tr.tokens)} tokens"
          f"{', %d OOV' % sum(tr.oov) if any(tr.oov) else ''}"
          f"{', cut from %d' % tr.n_tokens_total if tr.truncated else ''})")
    if not tr.tokens:
        print("(no tokens: this is the model's prior before reading anything)")
    return 0


# Bounded input: a file or stdin is read in pieces, never whole, so /dev/zero or a file of one endless
# line costs no more memory than these limits, and a reader past them stops with one clear line.
MAX_LINE_BYTES = 1 << 17  # one `text<TAB>label` line: 128 KiB (the pages take 20,000 characters, <= 80 KB in UTF-8)
MAX_FILE_BYTES = 64 << 20  # a labelled file: 64 MiB (all 25,000 IMDB reviews exported as lines are about 33 MB)
MAX_LINES = 200_000  # labelled lines in one file
MAX_STDIN_BYTES = 1 << 20  # a text read from stdin ('-'): 1 MiB (the models read at most a few hundred tokens)


MAX_CATEGORY_CHARS = 40  # an optional third field `category`: printable, at most this long
MAX_CATEGORIES = 50  # distinct categories in one file (each gets a line of output)


def _category(field: str) -> str | None:
    """A valid category (stripped), or None: 1..MAX_CATEGORY_CHARS printable characters, not a label."""
    cat = field.strip()
    ok = 0 < len(cat) <= MAX_CATEGORY_CHARS and cat.isprintable() and cat not in ("0", "1")
    return cat if ok else None


def read_labelled_rows(path: str) -> tuple[list[str], list[int], list[str | None], int]:
    """Lines `text<TAB>label` or `text<TAB>label<TAB>category` (label 0/1); counts malformed lines.

    The label is the last tab-separated field, or the one before it when the last is a category
    (see `_category`); the text may itself hold tabs. Lines without a category get None.
    Streams the file line by line: a line longer than MAX_LINE_BYTES is skipped (counted as
    malformed); a file longer than MAX_FILE_BYTES, with more than MAX_LINES lines or more than
    MAX_CATEGORIES distinct categories is refused."""
    texts, labels, cats, bad, total = [], [], [], 0, 0
    seen: set[str] = set()

    def too_much(what: str):
        return CliError(f"{path} has {what}; evaluate reads at most {MAX_FILE_BYTES >> 20} MiB and {MAX_LINES:,} "
                        "lines (split the file)")

    try:
        with open(path, "rb") as f:
            while line := f.readline(MAX_LINE_BYTES + 1):
                total += len(line)
                if total > MAX_FILE_BYTES:
                    raise too_much(f"more than {MAX_FILE_BYTES >> 20} MiB")
                if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):  # over-long: skip the rest of it
                    while line and not line.endswith(b"\n"):
                        line = f.readline(MAX_LINE_BYTES)
                        total += len(line)
                        if total > MAX_FILE_BYTES:
                            raise too_much(f"more than {MAX_FILE_BYTES >> 20} MiB")
                    bad += 1
                    continue
                for part in line.decode("utf-8", errors="replace").splitlines():
                    if not part.strip():
                        continue
                    text, sep, label = part.rpartition("\t")
                    cat = None
                    if sep and label.strip() not in ("0", "1") and (cat := _category(label)) is not None:
                        text, sep, label = text.rpartition("\t")
                    if not sep or label.strip() not in ("0", "1"):
                        bad += 1
                        continue
                    if len(texts) >= MAX_LINES:
                        raise too_much(f"more than {MAX_LINES:,} labelled lines")
                    if cat is not None and cat not in seen:
                        if len(seen) >= MAX_CATEGORIES:
                            raise CliError(f"{path} has more than {MAX_CATEGORIES} categories; evaluate reports at "
                                           f"most {MAX_CATEGORIES}")
                        seen.add(cat)
                    texts.append(text)
                    labels.append(int(label.strip()))
                    cats.append(cat)
    except OSError as e:
        raise CliError(f"cannot read {path}: {e.strerror or e}") from None
    return texts, labels, cats, bad


def read_labelled(path: str) -> tuple[list[str], list[int], int]:
    """`read_labelled_rows` without the categories: texts, labels and the count of malformed lines."""
    texts, labels, _, bad = read_labelled_rows(path)
    return texts, labels, bad


NO_CATEGORY = "(none)"  # lines without a category, in a file where others have one


def by_category(labels, preds, cats) -> dict[str, dict]:
    """Per category, in order of first appearance: n, accuracy, and accuracy on the positive and
    on the negative lines (None when a category has none of them). Empty when no line has one."""
    if all(c is None for c in cats):
        return {}
    groups: dict[str, list[tuple[int, int]]] = {}
    for y, p, c in zip(labels, preds, cats):
        groups.setdefault(NO_CATEGORY if c is None else c, []).append((int(y), int(p)))

    def acc(pairs):
        return sum(y == p for y, p in pairs) / len(pairs) if pairs else None

    return {c: {"n": len(g), "accuracy": acc(g), "n_positive": sum(y for y, _ in g),
                "accuracy_positive": acc([q for q in g if q[0] == 1]),
                "accuracy_negative": acc([q for q in g if q[0] == 0])} for c, g in groups.items()}


def category_lines(table: dict[str, dict]) -> list[str]:
    """`by_category` as aligned text lines (a header and one line per category)."""
    w = max([len("category")] + [len(c) for c in table])
    out = [f"{'category':<{w}} {'n':>6} {'accuracy':>8} {'on pos':>7} {'on neg':>7}"]
    for c, r in table.items():
        out.append(f"{c:<{w}} {r['n']:>6} {r['accuracy']:>8.4f} {_fmt_acc(r['accuracy_positive']):>7} "
                   f"{_fmt_acc(r['accuracy_negative']):>7}")
    return out


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


def cmd_evaluate(args) -> int:
    import numpy as np

    from playground.core import zoo
    from playground.training.train import EncodedSet, predict_probs

    tm = zoo.resolve(args.model)
    texts, labels, cats, bad = read_labelled_rows(args.file)
    if bad and not args.json:
        print(f"skipped {bad} malformed line(s) (expected `text<TAB>0|1` or `text<TAB>0|1<TAB>category`, at most "
              f"{MAX_LINE_BYTES >> 10} KiB a line)")
    if not texts:
        raise CliError(f"no usable lines in {args.file}")
    y = np.array(labels)
    p = predict_probs(tm.model, EncodedSet.from_texts(tm.vocab, texts, y, tm.config.max_len))
    pred = (p >= 0.5).astype(int)
    tp, tn = int(((pred == 1) & (y == 1)).sum()), int(((pred == 0) & (y == 0)).sum())
    fp, fn = int(((pred == 1) & (y == 0)).sum()), int(((pred == 0) & (y == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    table = by_category(labels, pred.tolist(), cats)
    if args.json:
        print(json.dumps({"model": tm.name, "file": args.file, "n": len(y), "accuracy": (tp + tn) / len(y),
                          "precision": precision, "recall": recall, "f1": f1,
                          "confusion": {"tn": tn, "fp": fp, "fn": fn, "tp": tp}, "skipped": bad,
                          "categories": table}, ensure_ascii=True))
        return 0
    print(f"model: {tm.name}  file: {args.file}")
    print(f"precision: {precision:.4f}  recall: {recall:.4f}  f1: {f1:.4f}")
    print("confusion matrix (rows = true, columns = predicted):")
    print(f"{'':>12} {'pred 0':>8} {'pred 1':>8}")
    print(f"{'true 0':>12} {tn:>8} {fp:>8}")
    print(f"{'true 1':>12} {fn:>8} {tp:>8}")
    if table:
        print("per category (on pos / on neg: accuracy on its positive / negative lines):")
        for line in category_lines(table):
            print("  " + line)
    print(f"accuracy: {(tp + tn) / len(y):.4f} (n={len(y)})")
    return 0


def cmd_export(args) -> int:
    from playground.core import data

    split = data.load(args.dataset, args.split)
    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")
    try:
        for text, label in zip(split.texts, split.labels):
            clean = " ".join(text.replace("\t", " ").split())
            out.write(f"{clean}\t{int(label)}\n")
    finally:
        if out is not sys.stdout:
            out.close()
    if args.out != "-":
        print(f"wrote {len(split)} lines of {args.dataset} {args.split.upper()} to {args.out}", file=sys.stderr)
    return 0


def cmd_augment(args) -> int:
    from playground.training import augment

    try:
        g = augment.generate(args.n, args.seed)
    except ValueError as e:
        raise CliError(str(e)) from None
    if args.json:
        rows = [{"text": t, "label": int(y), "kind": k, "domain": d}
                for t, y, k, d in zip(g.texts, g.labels, g.kinds, g.domains)]
        print(json.dumps({"summary": g.summary(), "sentences": rows}, ensure_ascii=False, indent=1))
        return 0
    for t, y, k, d in zip(g.texts, g.labels, g.kinds, g.domains):
        print(f"{t}\t{int(y)}\t{k}\t{d}")
    return 0


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
    command = _command(args)
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
        print(json.dumps(result.to_dict(), ensure_ascii=True))
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
        print(json.dumps({"workload": work.to_dict(), "estimate": est.to_dict(),
                          "race": {a: e.to_dict() for a, e in race.items()}, "memory": mem.to_dict(),
                          "promise": promise.to_dict() if promise else None}, indent=1))
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


def cmd_explain(args) -> int:
    """Word importance: each token's raw score; for integrated gradients also the account of the
    verdict they must add up to (baseline logit, text logit, gap, steps)."""
    from playground.core import zoo
    from playground.core.trace import trace
    from playground.explain.attribution import SHORT_NAMES, UNIT_WORDS, attribute, ig_path, path_story

    if args.path and args.method != "ig":
        raise CliError("--path needs --method ig (the other methods use no path)")
    tm = zoo.resolve(args.model)
    text = read_text_arg(args.text)
    tr = trace(tm.model, tm.vocab, text)
    a = attribute(tm.model, tr, args.method)
    path = ig_path(tm.model, a, list(tr.ids)) if args.path and a.pieces else None
    out = {"model": tm.name, "method": a.method, "tokens": list(a.tokens), "oov": list(tr.oov),
           "truncated": tr.truncated, "n_tokens_total": tr.n_tokens_total,
           "scores": [float(x) for x in a.scores], "unit": a.unit, "unit_words": UNIT_WORDS[a.unit]}
    if a.method == "ig":
        out.update(baseline_logit=a.baseline_logit, logit=a.logit, gap=a.gap, steps=a.steps,
                   tolerance=a.tolerance, complete=a.complete,
                   worst_piece=None if a.worst is None else dataclasses.asdict(a.worst))
    if path is not None:
        out["path"] = {"alpha": path.alpha.tolist(), "logit": path.logit.tolist(), "edges": path.edges.tolist(),
                       "running": path.running.tolist(),
                       "stretches": [dataclasses.asdict(w) for w in path.stretches], "story": path_story(a, path)}
    if args.json:
        print(json.dumps(out, ensure_ascii=True))
        return 0
    print(f"{SHORT_NAMES[a.method]} ({tm.name}, {len(a.tokens)} tokens"
          f"{', cut from %d' % tr.n_tokens_total if tr.truncated else ''}); scores in {UNIT_WORDS[a.unit]}:")
    for tok, oov, x in zip(a.tokens, tr.oov, a.scores):
        print(f"{x:+10.5f}  {tok}{'°' if oov else ''}")
    if not a.tokens:
        print("(no tokens: nothing to score)")
    elif a.method == "ig":
        print(f"baseline ({len(a.tokens)} padding tokens) logit {a.baseline_logit:+.4f}; text logit {a.logit:+.4f}; "
              f"difference {a.logit - a.baseline_logit:+.4f}; scores sum to {float(a.scores.sum()):+.4f}; "
              f"gap {a.gap:+.4f} ({'within' if a.complete else 'OVER'} the tolerance {a.tolerance:.4f}) "
              f"after {a.steps} steps")
        if not a.complete and a.worst is not None:
            w = a.worst
            print(f"largest gap {w.gap:+.4f} on the path from {w.start:.6g} to {w.end:.6g} of the way "
                  f"(baseline 0, text 1), where the logit changes by {w.change:+.4f}")
        if path is not None:
            print("path: at each piece's end, the logit and the baseline plus the scores so far")
            at = dict(zip(path.alpha.tolist(), path.logit.tolist()))
            for x, r in zip(path.edges.tolist(), path.running.tolist()):
                print(f"  {x:10.6g}  logit {at[x]:+9.4f}  so far {r:+9.4f}")
            print(path_story(a, path))
    return 0


def cmd_narrate(args) -> int:
    """Read it with me: what reading each token did (the Playground's step-through), as sentences
    computed from the trace, or with --json a list of steps with every number the sentences use."""
    from playground.core import zoo
    from playground.core.trace import trace
    from playground.explain.narrate import step_stories

    tm = zoo.resolve(args.model)
    text = read_text_arg(args.text)
    tr = trace(tm.model, tm.vocab, text)
    stories = step_stories(tr)
    if args.json:
        print(json.dumps({"model": tm.name, "arch": tr.arch, "tokens": list(tr.tokens), "truncated": tr.truncated,
                          "n_tokens_total": tr.n_tokens_total, "prior": tr.prob0, "prob": tr.prob,
                          "steps": [s.as_dict() for s in stories]}, ensure_ascii=True))
        return 0
    if not stories:
        print(f"(no tokens: {tm.name} reads nothing here; P(positive) stays at its prior {tr.prob0:.4f})")
    for s in stories:
        print(" ".join(s.sentences))
    return 0


def cmd_typical(args) -> int:
    """Each unit's typical values, the Playground's "change from typical": the mean and spread of
    every gate and state over the tokens of a fixed sample of TEST texts of the model's dataset;
    with a text, every gate's change from them at each token (value - mean, units x tokens)."""
    import numpy as np

    from playground.core import zoo
    from playground.core.cells import cell
    from playground.core.data import DATASET_TITLES, no_dataset
    from playground.core.trace import trace
    from playground.dynamics.typical import typical_values

    tm = zoo.resolve(args.model)
    if tm.dataset not in DATASET_TITLES:
        raise CliError(no_dataset("measure its units' typical values on", tm.name))
    if not 1 <= args.texts <= 5000:
        raise CliError("--texts must be between 1 and 5000")
    typ = typical_values(tm.model, tm.vocab, tm.dataset, args.texts, budget=_budget(args))
    text = read_text_arg(args.text)
    tr = trace(tm.model, tm.vocab, text) if text else None
    change = ([{q: (v - typ.mean[k][q][None, :]).T for q, v in {**lt.gates, "h": lt.h}.items()}  # (H, T) each
               for k, lt in enumerate(tr.layers)] if tr is not None else None)
    if args.json:
        out = {"model": tm.name, "dataset": typ.dataset, "n_texts": typ.n_texts, "n_tokens": typ.n_tokens,
               "typical": typ.describe(), "cut": typ.cut,
               "layers": [{q: {"mean": layer[q].tolist(), "std": typ.std[k][q].tolist()} for q in layer}
                          for k, layer in enumerate(typ.mean)]}
        if tr is not None:
            out["tokens"] = list(tr.tokens)
            out["change"] = [{q: c.tolist() for q, c in layer.items()} for layer in change]  # units x tokens
        print(json.dumps(out, ensure_ascii=True))
        return 0
    print(f"{tm.name}: typical = {typ.describe()} ({DATASET_TITLES[typ.dataset]})")
    for k, layer in enumerate(typ.mean):
        for q, mean in layer.items():
            title = cell(tm.arch).quantity(q).title
            lo, hi = int(np.argmin(mean)), int(np.argmax(mean))
            line = (f"layer {k + 1} {title}: typical from {mean[lo]:+.3f} (unit {lo}) to {mean[hi]:+.3f} (unit {hi}), "
                    f"spread {typ.std[k][q].mean():.3f} on average")
            if change is not None and len(tr.tokens):
                c = change[k][q]
                u, t = np.unravel_index(int(np.argmax(np.abs(c))), c.shape)
                line += (f"; largest change: unit {u} at token {t + 1} ({tr.tokens[t]!r}) {c[u, t]:+.3f} "
                         f"({c[u, t] + mean[u]:+.3f} against {mean[u]:+.3f})")
            print(line)
    _say_cut(typ.cut)
    return 0


def cmd_units(args) -> int:
    """The unit explorer (playground/dynamics/units.py): per unit of the last layer, over a TEST sample of the
    model's dataset, the contexts that drive it highest and lowest, its histogram and its correlation
    with the prediction; with a text, the unit's h after each token."""
    from playground.core import zoo
    from playground.core.data import DATASET_TITLES, no_dataset
    from playground.dynamics.units import lines, unit_stats, unit_values

    tm = zoo.resolve(args.model)
    H = tm.config.hidden_size
    if args.unit is not None and not 0 <= args.unit < H:
        raise CliError(f"--unit must be between 0 and {H - 1} ({tm.name}'s last layer has {H} units)")
    if tm.dataset not in DATASET_TITLES:
        raise CliError(no_dataset("explore its units on", tm.name))
    text = read_text_arg(args.text)
    tty = sys.stderr.isatty()

    def progress(fraction: float, message: str) -> None:
        if tty:
            print(f"\r{fraction:4.0%} {message}", end="", file=sys.stderr)

    stats = unit_stats(tm, on_progress=progress, budget=_budget(args))
    print("\n" * tty, end="", file=sys.stderr)
    tokens, values = unit_values(tm.model, tm.vocab, text, args.unit) if text else (None, None)
    if args.json:
        out = {k: v for k, v in stats.items() if k != "units"}
        out["units"] = stats["units"] if args.unit is None else [stats["units"][args.unit]]
        if text:
            out.update(tokens=list(tokens), values=values.tolist())  # (T,) with --unit, else units x tokens
        print(json.dumps(out, ensure_ascii=True))
        return 0
    print("\n".join(lines(stats, args.unit)))
    _say_cut(stats.get("cut", ""))
    if text and args.unit is None:
        print("(give --unit U to see that unit's h after each token of the text)")
    elif text:
        print(f"unit {args.unit}'s h after each token of the text:")
        print("\n".join(f"{t + 1:>5} {v:+.4f}  {tok}" for t, (tok, v) in enumerate(zip(tokens, values))))
    return 0


def cmd_memory(args) -> int:
    """The Why gates page's memory lens: how much of what each word wrote survives to the end (per
    unit, averaged, and weighted by each unit's share of the verdict), the units' time constants over
    TEST texts, a SimpleRNN's state Jacobian, and |d logit / d embedding| for every word."""
    from playground.core import zoo
    from playground.core.data import DATASET_TITLES
    from playground.dynamics.memory import report
    from playground.dynamics.typical import typical_values

    tm = zoo.resolve(args.model)
    if not 1 <= args.texts <= 5000:
        raise CliError("--texts must be between 1 and 5000")
    typ = (typical_values(tm.model, tm.vocab, tm.dataset, args.texts)
           if tm.dataset in DATASET_TITLES and tm.config.cell.keep is not None else None)
    out = report(tm, read_text_arg(args.text), typ)
    if args.json:
        print(json.dumps(out, ensure_ascii=True))
        return 0
    toks, g = out["tokens"], out["grad_norms"]
    cut = " (the end of a longer text)" if out["truncated"] else ""
    print(f"{tm.name} ({out['arch']}) read {len(toks)} tokens{cut}")
    if out["keep_gate"]:
        print(f"keep gate {out['keep_gate']} on {out['carrier']}: what each word wrote that survives to the end "
              "(mean over units / weighted by share of the verdict)")
    elif out["jacobian_gain"] is not None:
        print("no keep gate: the state Jacobian's gain |d h_T / d h_t| (rms) and |d logit / d h_t|")
    print(f"{'word':>5} {'token':<16} {'|d logit/d e|':>13}  " +
          ("survival mean / weighted" if out["keep_gate"] else "Jacobian gain / sensitivity"))
    a, b = ((out["mean_survival"], out["weighted_survival"]) if out["keep_gate"]
            else (out["jacobian_gain"], out["readout_sensitivity"]))
    for t, tok in enumerate(toks):
        extra = f"{a[t]:.4f} / {b[t]:.4f}" if a is not None else "-"
        print(f"{t + 1:>5} {tok[:16]:<16} {g[t]:>13.5f}  {extra}")
    hd = out["half_distance"]
    print("half-distance: " + (f"{hd} words back the gradient is half the last word's" if hd is not None
                               else "no earlier word's gradient falls to half the last word's"))
    if out["taus"] is not None:
        print(out["tau_story"] + f" (time constants from {out['taus_from']}.)")
    else:
        print(out["taus_note"])
    return 0


def cmd_statespace(args) -> int:
    """The state space: the PCA plane of the hidden states of TEST texts, the readout's line in it, the
    approximate fixed points under a neutral input, and with a text its path (playground/dynamics/statespace.py)."""
    from playground.core import zoo
    from playground.core.data import DATASET_TITLES, no_dataset
    from playground.core.trace import trace
    from playground.dynamics.statespace import fit, path, path_story, story, to_json

    tm = zoo.resolve(args.model)
    if tm.dataset not in DATASET_TITLES:
        raise CliError(no_dataset("fit a plane on", tm.name))
    try:
        space = fit(tm.model, tm.vocab, tm.dataset, neutral=args.neutral, budget=_budget(args))
    except ValueError as e:
        raise CliError(str(e)) from None
    text = read_text_arg(args.text)
    p = path(space, trace(tm.model, tm.vocab, text)) if text else None
    if args.json:
        print(json.dumps({"model": tm.name, **to_json(space, p)}, ensure_ascii=True))
        return 0
    print(f"{tm.name} ({tm.config.title}): variance shares of PC1..PC{len(space.variance)}: "
          + " ".join(f"{v:.3f}" for v in space.variance))
    print("\n".join(story(space)))
    _say_cut(space.cut)
    if p is not None:
        print(f"{'step':>4} {'token':<16} {'PC1':>8} {'PC2':>8} {'P(pos)':>7}")
        for t, tok in enumerate(("(start)",) + p.tokens):
            print(f"{t:>4} {tok[:16]:<16} {p.xy[t, 0]:>8.3f} {p.xy[t, 1]:>8.3f} {p.probs[t]:>7.4f}")
        print("\n".join(path_story(space, p)))
    return 0


def cmd_compare(args) -> int:
    """The Compare page's numbers: several models read one text, each with its own vocabulary and
    max_len; positions are positions in the full text."""
    from playground.core import zoo
    from playground.core.trace import trace
    from playground.explain.alignment import comparison

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    if not 2 <= len(names) <= 3 or len(set(names)) != len(names):
        raise CliError("--models needs two or three different models, comma-separated")
    text = read_text_arg(args.text)
    traces = {}
    for name in names:
        tm = zoo.resolve(name)
        traces[tm.name] = trace(tm.model, tm.vocab, text)
    out = comparison(traces)
    if args.json:
        print(json.dumps(out, ensure_ascii=True))
        return 0
    for name, m in out["models"].items():
        word = "positive" if m["label"] else "negative"
        print(f"{name:<24} {word}  P(positive) = {m['prob']:.4f}  ({m['note']})")
    print(out["summary"])
    return 0


def cmd_paired(args) -> int:
    """Several models on the same TEST split: accuracy, McNemar's exact test per pair, and the
    verdict the Train page's race shows (a winner only beyond noise)."""
    from itertools import combinations

    from playground.core import zoo
    from playground.evaluation import stats
    from playground.evaluation.heldout import heldout_set
    from playground.training.train import predict_probs

    names = [n for n in args.models.split(",") if n.strip()]
    if len(names) < 2:
        raise CliError("--models needs at least two models, comma-separated")
    correct = {}
    for name in names:
        tm = zoo.resolve(name.strip())
        test = heldout_set(tm.vocab, args.dataset, tm.config.max_len)
        correct[tm.name] = (predict_probs(tm.model, test) >= 0.5) == (test.labels >= 0.5)
    pairs = []
    for a, b in combinations(correct, 2):
        t = stats.mcnemar(correct[a], correct[b])
        pairs.append({"a": a, "b": b, "n": t.n, "only_a_right": t.only_a, "only_b_right": t.only_b,
                      "p_value": t.p_value, "diff": t.diff, "diff_95": [t.low, t.high]})
    out = {"dataset": args.dataset, "split": "test",
           "accuracy": {n: float(v.mean()) for n, v in correct.items()},
           "pairs": pairs, "verdict": stats.race_verdict(correct)}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for n, acc in out["accuracy"].items():
        print(f"{n:<24} {acc:.4f} on {args.dataset} TEST (n={len(correct[n])})")
    for p in pairs:
        print(f"{p['a']} vs {p['b']}: {100 * p['diff']:+.2f} points "
              f"(95% {100 * p['diff_95'][0]:+.2f} to {100 * p['diff_95'][1]:+.2f}), "
              f"only {p['a']} right {p['only_a_right']}, only {p['b']} right {p['only_b_right']}, "
              f"McNemar exact p = {p['p_value']:.3g}")
    print(out["verdict"])
    return 0


def cmd_probe(args) -> int:
    """The distance probe: how much a strongly positive or negative phrase still moves the final
    prediction with k neutral filler words after it, k = 1..300 (playground/dynamics/probe.py)."""
    from playground.core import zoo
    from playground.core.cells import cell
    from playground.dynamics import probe

    if bool(args.model) == bool(args.dataset):
        raise CliError("give either --model or --dataset")
    names = ([n.strip() for n in args.model.split(",") if n.strip()] if args.model
             else [f"{a}-{args.dataset}" for a in ("rnn", "lstm", "gru")])
    if not names or len(set(names)) != len(names):
        raise CliError("--model needs one or more different models, comma-separated")
    phrases = (args.positive or probe.POSITIVE, args.negative or probe.NEGATIVE)
    results = []
    try:
        for name in names:
            tm = zoo.resolve(name)
            results.append(probe.bundled_probe(name, *phrases) if name in zoo.BUNDLED
                           else probe.probe(tm.model, tm.vocab, tm.name, *phrases))
    except ValueError as e:
        if isinstance(e, zoo.ModelFileError):
            raise
        raise CliError(str(e)) from None
    comparison = probe.compare_story(results)
    if args.json:
        out = results[0].as_dict() if len(results) == 1 else {"probes": [r.as_dict() for r in results],
                                                                "comparison": comparison}
        print(json.dumps(out, ensure_ascii=True))
        return 0
    fmt = lambda x: "   -  " if x is None else f"{x:6.3f}"  # noqa: E731
    for r in results:
        print(f"{r.model} ({cell(r.arch).title}, reads its last {r.max_len} tokens): prior {r.prior:.3f}, filler check "
              f"{r.filler.check:.3f} (max |P(filler) - prior|, asked <= {r.filler.tolerance:g})")
        print(f"read alone: “{r.positive.text}” {fmt(r.positive.alone).strip()}, “{r.negative.text}” "
              f"{fmt(r.negative.alone).strip()}; {r.lead} filler words, the phrase, then k filler words")
        print(f"{'k':>4} {'P pos':>6} {'P neg':>6} {'filler':>6} {'effect':>6}")
        for k in sorted({*probe.SHOWN_K, r.k_read, r.half_distance or 1} & set(r.ks)):
            row = r.at(k)
            print(f"{k:>4} {fmt(row['p_positive'])} {fmt(row['p_negative'])} {fmt(row['p_filler'])} "
                  f"{fmt(row['effect'])}")
        print(r.story())
        print()
    if comparison:
        print(comparison)
    return 0


def cmd_bench(args) -> int:
    from playground.training.bench import run_bench

    return run_bench(quick=args.quick, as_json=args.json, out=args.out)


def cmd_lab(args) -> int:
    """The long-range lab (playground/dynamics/lab.py): every cell trained at each distance k; TEST accuracy
    per cell and k (mean, min-max over seeds) and where each falls to chance."""
    from playground.dynamics import lab

    try:
        ks = tuple(int(k) for k in args.k.split(",") if k.strip())
    except ValueError:
        raise CliError(f"--k takes whole numbers, comma-separated, not {args.k!r}") from None
    try:
        settings = lab.LabSettings(k=ks, seeds=args.seeds, steps=args.steps)
    except ValueError as e:
        raise CliError(str(e)) from None
    if args.out and not Path(args.out).resolve().parent.is_dir():  # say so now, not after the training
        raise CliError(f"cannot write {args.out}: no such directory")
    deadline = None
    if args.max_seconds is not None:
        from playground.training.timing import load_slowdown

        cap = args.max_seconds
        if not cap > 0:
            raise CliError("--max-seconds must be positive")
        slow = load_slowdown()
        need = time.perf_counter() - args.started + lab.estimate_seconds(settings) * slow
        if need > cap:
            busy = f", the machine being {slow:.1f}x slower than a quiet one now" if slow > 1.05 else ""
            raise CliError(f"this grid ({settings.seeds * len(settings.k) * len(settings.cells)} runs of "
                           f"{settings.steps} steps) needs about {need:.0f} s here{busy}, more than the {cap:g} s cap: "
                           f"give --max-seconds {int(need * 1.2) + 1} or more, or fewer seeds, distances (--k) or "
                           "--steps")
        deadline = args.started + cap - 0.5  # half a second to aggregate and write
    for ev in lab.iter_lab(settings, deadline=deadline):
        if ev.kind == "run":
            print(f"[{ev.run + 1}/{ev.runs}] seed {ev.seed} k={ev.k} {ev.cell}: TEST accuracy {ev.test_accuracy:.3f} "
                  f"({ev.elapsed:.0f} s)", file=sys.stderr, flush=True)
        elif ev.kind == "end":
            result = {"command": _command(args),
                      **ev.result}
    if args.out:
        try:
            Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        except OSError as e:
            raise CliError(f"cannot write {args.out}: {e.strerror or e}") from None
    if result["status"] == "cut":
        print(f"the {args.max_seconds:g} s cap ended the lab after {len(result['runs'])} runs; those are kept",
              file=sys.stderr)
    if args.json:
        print(json.dumps(result))
        return 0
    n, st = len(result["seeds"]), settings
    print(f"TEST accuracy, mean (min-max) over {n} seed{'s' if n != 1 else ''}; {st.steps} steps of {st.batch_size} "
          f"sequences per run; chance is 0.5")
    print(f"{'k':>5}  " + "  ".join(f"{lab.ARCH_TITLES[c]:<19}" for c in result["cells"]))
    for i, k in enumerate(result["k"]):
        print(f"{k:>5}  " + "  ".join(f"{'not run':<19}" if result["accuracy"][c][i] is None else
                                      f"{result['accuracy'][c][i]:.3f} ({result['spread'][c][i][0]:.3f}-"
                                      f"{result['spread'][c][i][1]:.3f})" for c in result["cells"]))
    print("\n".join(lab.summary(result)))
    return 0


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
        print(json.dumps(out, indent=1))
        return 0
    for r in out:
        print(f"{r['model']}: key {r['key']}, {r['bytes'] / 1e6:.2f} MB, "
              + ", ".join(f"{k} {s:.0f} s" for k, s in r["seconds"].items()))
    return 0


def cmd_intervene(args) -> int:
    """Interventions (playground/dynamics/intervene.py): at token K clamp a unit's state, force a gate, or zero
    the top-k units, re-run the rest; P(positive) after each token before and after."""
    from playground.core import zoo
    from playground.core.trace import trace
    from playground.dynamics import intervene

    tm = zoo.resolve(args.model)
    tr = trace(tm.model, tm.vocab, read_text_arg(args.text))
    try:
        ivs = intervene.from_options(args.token, args.unit, args.value, args.state, args.hold, args.gate,
                                     args.gate_value, args.top_k, args.layer)
        o = intervene.intervene_trace(tm.model, tr, *ivs)
    except ValueError as e:
        raise CliError(str(e)) from None
    if args.json:
        print(json.dumps({"model": tm.name, **o.as_dict()}, ensure_ascii=True))
    else:
        print("\n".join(intervene.lines(o)))
    return 0


def cmd_whatif(args) -> int:
    """What-if edits (playground/dynamics/whatif.py): one-click suggestions with the P(positive) each gives, and
    with --to the edited text read as a branch of the original."""
    from playground.core import zoo
    from playground.core.trace import trace
    from playground.dynamics import whatif

    tm = zoo.resolve(args.model)
    text = read_text_arg(args.text)
    tr = trace(tm.model, tm.vocab, text)
    enc = lambda t: tm.vocab.encode(t, tm.config.max_len)  # noqa: E731
    sugg = [(e, whatif.branch_trace(tm.model, tr, enc(e.text))) for e in whatif.suggest(tm.model, tm.vocab, text, tr)]
    b = whatif.branch_trace(tm.model, tr, enc(args.to)) if args.to is not None else None
    if args.json:
        print(json.dumps({"model": tm.name, "tokens": list(tr.tokens), "prob": tr.prob,
                          "suggestions": [{**e.as_dict(), "prob": s.edited.prob, "branch": s.branch} for e, s in sugg],
                          "branch": b.as_dict() if b else None}, ensure_ascii=True))
        return 0
    print(f"{tm.name}: P(positive) = {tr.prob:.4f}; suggestions:")
    for e, s in sugg:
        print(f"  {e.label:<28} P(positive) {s.edited.prob:.4f} ({s.final_change:+.4f})  {e.text!r}  ({e.reason})")
    if b is not None:
        print(b.sentence())
        for u in b.top_units():
            print(f"  unit {u['unit']:>4}: share of the verdict {u['before']:+.3f} -> {u['after']:+.3f} "
                  f"({u['change']:+.3f})")
    return 0


def cmd_ablate(args) -> int:
    """Accuracy on a fixed sample of TEST texts with the top units ablated (playground/dynamics/ablate.py)."""
    from playground.core import zoo
    from playground.core.data import DATASET_TITLES, no_dataset
    from playground.dynamics.ablate import ablation

    tm = zoo.resolve(args.model)
    if tm.dataset not in DATASET_TITLES:
        raise CliError(no_dataset("ablate on", tm.name))
    if not 1 <= args.texts <= 5000 or not 0 <= args.top <= tm.config.hidden_size:
        raise CliError(f"--texts must be between 1 and 5000 and --top between 0 and {tm.config.hidden_size}")
    a = ablation(tm.model, tm.vocab, tm.dataset, args.texts, args.top, budget=_budget(args))
    if args.json:
        print(json.dumps({"model": tm.name, **a.as_dict()}, ensure_ascii=True))
        return 0
    for k, (u, acc) in enumerate(zip(a.ranking, a.single)):
        print(f"top {k + 1:>2}: unit {u:>4} (mean |share| {a.mean_share[k]:.3f}) ablated alone: {acc:.1%}")
    print("\n".join(a.sentences()) + f" ({a.seconds:.1f} s)")
    _say_cut(a.cut)
    return 0


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
        print(json.dumps(rows, ensure_ascii=True))
    else:
        print(markdown(rows), end="")
    return 0


def _command(args) -> str:
    """The command line that ran, as a person would type it again (kept in a model's card)."""
    return "python -m playground " + " ".join(shlex.quote(a) for a in args.argv)


def _budget_arg(s: argparse.ArgumentParser) -> None:
    s.add_argument("--max-seconds", type=float, help="a time budget from the command's start: the work stops "
                   "there and reports what it finished, and what it left out (\"cut\" in the JSON)")


def _budget(args):
    """The command's clock.Budget from --max-seconds (counted from the process's start), or None."""
    from playground.core.clock import Budget

    if args.max_seconds is None:
        return None
    if not math.isfinite(args.max_seconds) or args.max_seconds <= 0:
        raise CliError("--max-seconds must be a positive number of seconds")
    return Budget(args.max_seconds, start=args.started)


def _say_cut(cut: str) -> None:
    if cut:
        print(f"Part of the result only: {cut}.")


def _model_arg(s: argparse.ArgumentParser) -> None:
    s.add_argument("--model", required=True, help="bundled model name or path to a .safetensors file")


def _text_arg(s: argparse.ArgumentParser, optional: bool = False) -> None:
    s.add_argument("text", nargs="*" if optional else "+",
                   help=f"{'optional ' if optional else ''}text (several words are joined; '-' reads stdin)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m playground", description="RNN Playground command line.")
    sub = p.add_subparsers(dest="cmd", parser_class=_Parser, metavar="COMMAND")

    s = sub.add_parser("models", help="list the bundled models")
    s.add_argument("--json", action="store_true")
    s.add_argument("--markdown", action="store_true", help="a Markdown table (for the README)")
    s.set_defaults(fn=cmd_models)

    s = sub.add_parser("predict", help="probability and label for a text")
    _model_arg(s)
    s.add_argument("--json", action="store_true", help="tokens, step_probs, gates, hidden as JSON")
    _text_arg(s)
    s.set_defaults(fn=cmd_predict)

    s = sub.add_parser("evaluate", help="accuracy etc. on a file of `text<TAB>label[<TAB>category]` lines",
                       description="Accuracy, precision, recall and the confusion matrix of a model on a file of "
                                   "UTF-8 lines `text<TAB>label` (label 0/1) or `text<TAB>label<TAB>category`; "
                                   "with categories, also the accuracy per category. Malformed lines are counted "
                                   "and skipped.")
    s.add_argument("--model", required=True)
    s.add_argument("--json", action="store_true", help="n, accuracy, precision, recall, f1, confusion, skipped, "
                   "and per category n, accuracy, n_positive, accuracy_positive, accuracy_negative")
    s.add_argument("file")
    s.set_defaults(fn=cmd_evaluate)

    s = sub.add_parser("export", help="write a dataset split as `text<TAB>label` lines")
    s.add_argument("--dataset", choices=["rt", "imdb"], required=True)
    s.add_argument("--split", choices=["train", "test"], default="test")
    s.add_argument("--out", default="-", help="file, or - for stdout")
    s.set_defaults(fn=cmd_export)

    s = sub.add_parser("augment", help="templated everyday sentences (what --augment N trains on): "
                                       "text<TAB>label<TAB>kind<TAB>domain")
    s.add_argument("--n", type=int, default=40, help="how many (at most 200,000)")
    s.add_argument("--seed", type=int, default=0, help="the training seed they are drawn with")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_augment)

    s = sub.add_parser("train", help="train a model and write a model file with its card",
                       description="Train a model and write it with its card. Every option not given takes "
                                   "the Train page's default for the dataset (playground/training/options.py).")
    s.add_argument("--out", required=True, help="path of the .safetensors model file to write")
    s.add_argument("--name", help="model name (default: file stem)")
    s.add_argument("--race", action="store_true", help="race SimpleRNN, LSTM and GRU with these settings, one after "
                   "another on the same data (the Train page's race): writes OUT's stem + -rnn, -lstm, -gru and "
                   "prints the race table and the paired tests' verdict; --max-seconds is the whole race's")
    s.add_argument("--json", action="store_true", help="with --race: the race's result (rows, verdict, failures, "
                   "notes, not_trained, cut) as JSON")
    _add_train_options(s)
    s.set_defaults(fn=cmd_train)

    s = sub.add_parser("estimate", help="how long training would take, and how many epochs fit a time cap",
                       description="The Train page's time estimate for the same options as train (the page uses "
                                   "--max-seconds 120). The epoch estimate is training alone; with --max-seconds, "
                                   "also the whole run (data, training, TEST) at the machine's load now.")
    s.add_argument("--race", action="store_true", help="also each cell of a race, with a third of the cap each")
    s.add_argument("--json", action="store_true", help="the epoch's work, the estimate, and the race's")
    _add_train_options(s)
    s.set_defaults(fn=cmd_estimate)

    s = sub.add_parser("explain", help="word importance: each token's raw score (and IG's gap)")
    _model_arg(s)
    s.add_argument("--method", required=True, choices=["occlusion", "ig", "grad_x_input", "step"],
                   help="leave one out, integrated gradients, gradient x input, or step change")
    s.add_argument("--json", action="store_true", help="tokens, scores, unit (and for ig: logits, gap, steps)")
    s.add_argument("--path", action="store_true",
                   help="ig only: also the logit along the path from the baseline (0) to the text (1) and the "
                        "baseline plus the scores so far at the ends of the pieces (the Playground's path chart)")
    _text_arg(s)
    s.set_defaults(fn=cmd_explain)

    s = sub.add_parser("narrate", help="read it with me: what each token did to the verdict, and which units did it")
    _model_arg(s)
    s.add_argument("--json", action="store_true", help="a list of steps: P before and after, logits, top units "
                   "with their contributions and gate values, sentences")
    _text_arg(s)
    s.set_defaults(fn=cmd_narrate)

    s = sub.add_parser("typical", help="each unit's typical gate and state values over TEST texts, and a text's "
                       "change from them")
    _model_arg(s)
    s.add_argument("--texts", type=int, default=64, help="how many TEST texts (evenly spaced) to average over")
    s.add_argument("--json", action="store_true", help="per layer and quantity each unit's mean and std; with a "
                   "text, its tokens and the change value - mean (units x tokens)")
    _text_arg(s, optional=True)
    _budget_arg(s)
    s.set_defaults(fn=cmd_typical)

    s = sub.add_parser("units", help="the unit explorer: what drives each unit over TEST texts, its histogram and "
                       "correlation with the prediction")
    _model_arg(s)
    s.add_argument("--unit", type=int, help="one unit (0-based) in full; default: one line per unit")
    s.add_argument("--json", action="store_true", help="sample, edges, order and per unit top contexts, words, "
                   "histogram, correlations; with a text, tokens and values (the unit's h after each token)")
    _text_arg(s, optional=True)
    _budget_arg(s)
    s.set_defaults(fn=cmd_units)

    s = sub.add_parser("memory", help="what each word wrote that survives to the end, the units' time constants, "
                       "and the gradient through time")
    _model_arg(s)
    s.add_argument("--texts", type=int, default=64, help="TEST texts the keep gate's mean (the time constants) is "
                   "taken over")
    s.add_argument("--json", action="store_true", help="tokens, survival (units x tokens), mean and weighted "
                   "survival, taus (one per unit of the last layer), grad_norms (one per token), half_distance")
    _text_arg(s)
    s.set_defaults(fn=cmd_memory)

    s = sub.add_parser("statespace", help="the hidden states' PCA plane, the readout's line, the fixed points under "
                       "a neutral input (line attractor?), and a text's path")
    _model_arg(s)
    s.add_argument("--neutral", choices=["zero", "frequent"], default="zero", help="the fixed points' input: zero "
                   "(the padding embedding) or the mean embedding of the 20 most frequent words")
    s.add_argument("--json", action="store_true", help="pc_variance, decision_line, final_states, fixed_points, "
                   "fixed_point_pc1_share, readout_angle_deg, top_eigenvalue, sentences; with a text the path "
                   "(tokens, pc1, pc2, prob per token, and the start)")
    _text_arg(s, optional=True)
    _budget_arg(s)
    s.set_defaults(fn=cmd_statespace)

    s = sub.add_parser("compare", help="two or three models read one text, lined up by position in the full text")
    s.add_argument("--models", required=True, help="comma-separated model names or files, e.g. rnn-imdb,lstm-imdb")
    s.add_argument("--json", action="store_true", help="each model's stretch read and probability after each word")
    _text_arg(s)
    s.set_defaults(fn=cmd_compare)

    s = sub.add_parser("paired", help="are several models' TEST accuracies really different? (McNemar)")
    s.add_argument("--models", required=True, help="comma-separated model names or files, e.g. rnn-rt,lstm-rt,gru-rt")
    s.add_argument("--dataset", choices=["rt", "imdb"], required=True, help="whose TEST split they all read")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_paired)

    from playground.dynamics.probe import NEGATIVE, POSITIVE

    s = sub.add_parser("probe", help="distance probe: does a strong phrase still move the verdict k neutral words "
                       "later? (k = 1..300)")
    s.add_argument("--model", help="model name(s) or file(s), comma-separated, e.g. gru-imdb or rnn-rt,gru-rt")
    s.add_argument("--dataset", choices=["rt", "imdb"], help="instead of --model: its three bundled models")
    s.add_argument("--positive", help=f"the positive phrase (default: {POSITIVE!r})")
    s.add_argument("--negative", help=f"the negative phrase (default: {NEGATIVE!r})")
    s.add_argument("--json", action="store_true", help="per model every k's P pos, P neg, P filler, effect, the "
                   "half-distance, the filler and its check, the story (several models: probes + comparison)")
    s.set_defaults(fn=cmd_probe)

    s = sub.add_parser("bench", help="median timings and peak memory")
    s.add_argument("--quick", action="store_true", help="fewer repeats, skip the IMDB epoch")
    s.add_argument("--json", action="store_true")
    s.add_argument("--out", help="also write the results as JSON to this file")
    s.set_defaults(fn=cmd_bench)

    s = sub.add_parser("lab", help="long-range lab: can each cell learn a label decided k tokens before the end?",
                       description="Train SimpleRNN, LSTM and GRU on sequences of k tokens whose first token (A or B) "
                                   "decides the label and the rest are random distractors; print TEST accuracy per "
                                   "cell and k and where each falls to chance. The shipped results: python -m "
                                   "playground lab --seeds 3 --out playground/results/lab.json "
                                   "(playground/dynamics/lab.py).")
    s.add_argument("--k", default="5,10,20,50,100,200", help="distances, comma-separated (default: %(default)s)")
    s.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 (default: %(default)s)")
    s.add_argument("--steps", type=int, default=400, help="optimizer steps per run (default: %(default)s)")
    s.add_argument("--json", action="store_true", help="k, accuracy, spread, chance_distance, curves, timings")
    s.add_argument("--out", help="also write the results as JSON to this file")
    s.add_argument("--max-seconds", type=float, default=None,
                   help="time cap from the process's start: a grid estimated not to fit is refused before it "
                        "starts; one that runs late stops at the cap and keeps the runs it finished")
    s.set_defaults(fn=cmd_lab)

    s = sub.add_parser("precompute", help="build the bundled models' shipped state space, ablation, typical values "
                       "and unit statistics (playground/results/models/)")
    s.add_argument("--models", default="all", help="comma-separated bundled names, or all (default)")
    s.add_argument("--out-dir", help="write here instead of playground/results/models")
    s.add_argument("--json", action="store_true", help="per model: key, seconds per kind, file size")
    s.set_defaults(fn=cmd_precompute)

    s = sub.add_parser("intervene", help="at a token, clamp a unit, force a gate or zero the top units; re-run the "
                       "rest", description="Tokens, units and layers are 0-based. A clamp replaces the state the "
                       "step computed after token K (at K only, or from K on with --hold); a forced gate and the "
                       "top-k zeroing act from K on. Several can be combined.")
    _model_arg(s)
    s.add_argument("--token", type=int, required=True, help="K: the token to intervene at (0-based)")
    s.add_argument("--unit", type=int, help="the unit to clamp, or whose gate to force (default for a gate: all)")
    s.add_argument("--value", type=float, help="clamp the unit's state to this value")
    s.add_argument("--state", default="h", help="which state to clamp: h, or c for an LSTM (default h)")
    s.add_argument("--hold", action="store_true", help="hold the clamp from K on (default: at K only)")
    s.add_argument("--gate", help="force this gate (e.g. f or i for an LSTM, z or r for a GRU) from K on")
    s.add_argument("--gate-value", type=float, help="the forced gate's value in [0, 1]")
    s.add_argument("--top-k", type=int, help="zero h of the N units with the largest share of the verdict from K on")
    s.add_argument("--layer", type=int, default=-1, help="the layer (0-based; default the last)")
    s.add_argument("--json", action="store_true", help="tokens, original_step_probs, step_probs, intervention, "
                   "final_change, max_change, share_change")
    _text_arg(s)
    s.set_defaults(fn=cmd_intervene)

    s = sub.add_parser("whatif", help="one-click edits of a text, and an edited text read as a branch of it")
    _model_arg(s)
    s.add_argument("--to", help="the edited text: read it as a branch of TEXT (branch point, both curves, units)")
    s.add_argument("--json", action="store_true", help="suggestions (with their P(positive)) and the branch")
    _text_arg(s)
    s.set_defaults(fn=cmd_whatif)

    s = sub.add_parser("facts", help="the bundled models' facts the docs quote (accuracy, ablation, fixed points, "
                       "time constants), from the shipped weights and results")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true", help="one object per model")
    g.add_argument("--markdown", action="store_true", help="the tables of docs/model-facts.md (the default)")
    g.add_argument("--write", action="store_true", help="write them to docs/model-facts.md (rebuild.sh does)")
    s.set_defaults(fn=cmd_facts)

    s = sub.add_parser("ablate", help="accuracy on a sample of TEST texts with the top units ablated")
    _model_arg(s)
    s.add_argument("--texts", type=int, default=300, help="TEST texts (evenly spaced; default %(default)s)")
    s.add_argument("--top", type=int, default=10, help="units ablated one at a time (default %(default)s)")
    s.add_argument("--json", action="store_true", help="accuracy, ranking, mean_share, single, together, p-values")
    _budget_arg(s)
    s.set_defaults(fn=cmd_ablate)
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
        if not getattr(args, "fn", None):
            raise CliError("choose a command: models, predict, explain, narrate, typical, memory, statespace, "
                           "intervene, whatif, ablate, units, probe, lab, precompute, facts, compare, evaluate, "
                           "export, augment, train, estimate, paired, bench (see --help)")
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
