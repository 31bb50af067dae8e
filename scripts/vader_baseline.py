"""VADER, a lexicon baseline, scored on a labelled TSV file the way `python -m playground evaluate`
scores a model: overall accuracy and accuracy per category (issue 15 item 2).

DEVELOPMENT ONLY. vaderSentiment is not a runtime or test dependency of the app or the library and
is in no requirements file. Install it in a throwaway virtual environment (git-ignored `.venv-*/`):

    python3 -m venv .venv-vader
    .venv-vader/bin/pip install vaderSentiment==3.3.2
    .venv-vader/bin/python scripts/vader_baseline.py data/everyday/everyday_test.tsv [--json]

The file is read by the same reader as `evaluate` (`text<TAB>label[<TAB>category]`, malformed lines
counted and skipped; playground/cli/data.py imports only the standard library at its top, so this runs
without torch).

Decision rule: compound >= 0 -> positive. VADER's compound score is in [-1, 1] and its authors
suggest |compound| < 0.05 as "neutral", but these files have only two labels, so the sign is the one
threshold that needs no tuning (and is chosen before looking at any set). A compound of exactly 0.0
means VADER found no word it knows the sentiment of; such a sentence is called positive by this rule,
a coin toss on a balanced set. How many there are, and how many of them are positive, is reported
beside the accuracy, so the effect of the tie rule can be read off.
"""
import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playground.cli.common import CliError  # noqa: E402
from playground.cli.data import by_category, category_lines, read_labelled_rows  # noqa: E402

THRESHOLD = 0.0  # compound >= THRESHOLD -> positive


def score(path: str) -> dict:
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        sys.exit("vaderSentiment is not installed here; see the top of scripts/vader_baseline.py")
    texts, labels, cats, bad = read_labelled_rows(path)
    if not texts:
        raise CliError(f"no usable lines in {path}")
    sia = SentimentIntensityAnalyzer()
    compound = [sia.polarity_scores(t)["compound"] for t in texts]
    preds = [int(c >= THRESHOLD) for c in compound]
    zero = [y for y, c in zip(labels, compound) if c == 0.0]
    return {"baseline": "vaderSentiment 3.3.2, compound >= 0 -> positive", "file": path, "n": len(texts),
            "accuracy": sum(y == p for y, p in zip(labels, preds)) / len(texts), "skipped": bad,
            "zero_compound": {"n": len(zero), "n_positive": sum(zero)},
            "categories": by_category(labels, preds, cats)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", help="UTF-8 lines text<TAB>label[<TAB>category]")
    ap.add_argument("--json", action="store_true", help="the same numbers as one JSON object")
    args = ap.parse_args()
    try:
        r = score(args.file)
    except CliError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(r, ensure_ascii=True))
        return 0
    print(f"baseline: {r['baseline']}  file: {r['file']}")
    if r["skipped"]:
        print(f"skipped {r['skipped']} malformed line(s)")
    z = r["zero_compound"]
    print(f"compound exactly 0.0 (no sentiment word found, called positive): {z['n']} "
          f"({z['n_positive']} of them labelled positive)")
    if r["categories"]:
        print("per category (on pos / on neg: accuracy on its positive / negative lines):")
        for line in category_lines(r["categories"]):
            print("  " + line)
    print(f"accuracy: {r['accuracy']:.4f} (n={r['n']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
