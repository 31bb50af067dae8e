"""Commands over datasets and labelled files: evaluate (with its bounded labelled-file reader), export,
augment and paired.

The reader takes `text<TAB>label[<TAB>category]` lines; read_labelled_rows, by_category and
category_lines are also what scripts/vader_baseline.py scores VADER with, so this module imports only the
standard library at its top and that script runs without torch.
"""
from __future__ import annotations

import argparse
import sys

from playground.cli.common import CliError, Command, emit_json, fmt_acc

# Bounded input: a file is read in pieces, never whole, so /dev/zero or a file of one endless line costs
# no more memory than these limits, and a reader past them stops with one clear line (stdin's limit, for a
# text argument '-': playground/cli/common.py).
MAX_LINE_BYTES = 1 << 17  # one `text<TAB>label` line: 128 KiB (the pages take 20,000 characters, <= 80 KB in UTF-8)
MAX_FILE_BYTES = 64 << 20  # a labelled file: 64 MiB (all 25,000 IMDB reviews exported as lines are about 33 MB)
MAX_LINES = 200_000  # labelled lines in one file


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
        out.append(f"{c:<{w}} {r['n']:>6} {r['accuracy']:>8.4f} {fmt_acc(r['accuracy_positive']):>7} "
                   f"{fmt_acc(r['accuracy_negative']):>7}")
    return out


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
        emit_json({"model": tm.name, "file": args.file, "n": len(y), "accuracy": (tp + tn) / len(y),
                   "precision": precision, "recall": recall, "f1": f1,
                   "confusion": {"tn": tn, "fp": fp, "fn": fn, "tp": tp}, "skipped": bad,
                   "categories": table})
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


def _evaluate_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--model", required=True)
    s.add_argument("--json", action="store_true", help="n, accuracy, precision, recall, f1, confusion, skipped, "
                   "and per category n, accuracy, n_positive, accuracy_positive, accuracy_negative")
    s.add_argument("file")


EVALUATE = Command("evaluate", cmd_evaluate, _evaluate_arguments,
                   help="accuracy etc. on a file of `text<TAB>label[<TAB>category]` lines",
                   description="Accuracy, precision, recall and the confusion matrix of a model on a file of UTF-8 "
                               "lines `text<TAB>label` (label 0/1) or `text<TAB>label<TAB>category`; with "
                               "categories, also the accuracy per category. Malformed lines are counted and skipped.")


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


def _export_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--dataset", choices=["rt", "imdb"], required=True)
    s.add_argument("--split", choices=["train", "test"], default="test")
    s.add_argument("--out", default="-", help="file, or - for stdout")


EXPORT = Command("export", cmd_export, _export_arguments, help="write a dataset split as `text<TAB>label` lines")


def cmd_augment(args) -> int:
    from playground.training import augment

    try:
        g = augment.generate(args.n, args.seed)
    except ValueError as e:
        raise CliError(str(e)) from None
    if args.json:
        rows = [{"text": t, "label": int(y), "kind": k, "domain": d}
                for t, y, k, d in zip(g.texts, g.labels, g.kinds, g.domains)]
        emit_json({"summary": g.summary(), "sentences": rows}, ensure_ascii=False, indent=1)
        return 0
    for t, y, k, d in zip(g.texts, g.labels, g.kinds, g.domains):
        print(f"{t}\t{int(y)}\t{k}\t{d}")
    return 0


def _augment_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--n", type=int, default=40, help="how many (at most 200,000)")
    s.add_argument("--seed", type=int, default=0, help="the training seed they are drawn with")
    s.add_argument("--json", action="store_true")


AUGMENT = Command("augment", cmd_augment, _augment_arguments,
                  help="templated everyday sentences (what --augment N trains on): text<TAB>label<TAB>kind<TAB>domain")


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
        emit_json(out, indent=2)
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


def _paired_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--models", required=True, help="comma-separated model names or files, e.g. rnn-rt,lstm-rt,gru-rt")
    s.add_argument("--dataset", choices=["rt", "imdb"], required=True, help="whose TEST split they all read")
    s.add_argument("--json", action="store_true")


PAIRED = Command("paired", cmd_paired, _paired_arguments,
                 help="are several models' TEST accuracies really different? (McNemar)")

COMMANDS = (EVALUATE, EXPORT, AUGMENT, PAIRED)
