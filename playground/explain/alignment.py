"""Several models reading one text, lined up: each model reads the last max_len tokens of it, so
positions are counted in the full text; which stretch each read, Compare's numbers as plain data,
and one plain sentence on where their readings part ways."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from playground.core.trace import Trace

__all__ = ["read_start", "TextAxis", "text_axis", "reading_note", "comparison", "disagreement_summary"]


def read_start(tr: Trace) -> int:
    """Index in the full text of the first token the model read (a model reads the LAST max_len
    tokens, so a cut text starts later; 0 when it read everything)."""
    return tr.n_tokens_total - tr.n_steps


@dataclass(frozen=True)
class TextAxis:
    """The stretch of one text that several models read, by position in the full text."""

    start: int  # full-text index of the first token any of them read
    n_total: int  # tokens in the full text
    tokens: tuple[str, ...]  # the full text's tokens; "" where none of them read (before `start`)
    common: int  # full-text index of the first token ALL of them read
    same_text: bool  # every model read the same tokens at the same positions


def text_axis(traces: Mapping[str, Trace]) -> TextAxis:
    """Line several traces of one text up by full-text position (tokenisation does not depend on
    the vocabulary, so position p is the same word for every model)."""
    trs = list(traces.values())
    n_total = max((tr.n_tokens_total for tr in trs), default=0)
    same = len({tr.n_tokens_total for tr in trs}) <= 1
    tokens: list[str | None] = [None] * n_total
    for tr in trs:
        s0 = read_start(tr)
        for t, tok in enumerate(tr.tokens):
            if tokens[s0 + t] is None:
                tokens[s0 + t] = tok
            elif tokens[s0 + t] != tok:
                same = False
    start = min((read_start(tr) for tr in trs), default=0)
    common = max((read_start(tr) for tr in trs), default=0)
    return TextAxis(start, n_total, tuple(t or "" for t in tokens), common, same)


def reading_note(tr: Trace) -> str:
    """Which stretch of the text a model read, in words."""
    if not tr.truncated:
        return f"read all {tr.n_steps:,} token{'s' if tr.n_steps != 1 else ''}"
    k = read_start(tr)
    return (f"read only the last {tr.n_steps:,} of {tr.n_tokens_total:,} tokens "
            f"(from word {k + 1:,}, “{tr.tokens[0]}”)")


def comparison(traces: Mapping[str, Trace]) -> dict:
    """Compare's numbers as plain data (`python -m playground compare --json`): for every model
    the stretch it read and its probability after each word, numbered by position in the full
    text (from 1), and the summary sentence."""
    axis = text_axis(traces)
    return {
        "n_tokens_total": axis.n_total, "summary": disagreement_summary(traces),
        "models": {name: {"arch": tr.arch, "read_from_word": read_start(tr) + 1, "n_read": tr.n_steps,
                          "note": reading_note(tr), "tokens": list(tr.tokens), "oov": list(tr.oov),
                          "words": list(range(read_start(tr) + 1, tr.n_tokens_total + 1)),
                          "step_probs": [round(float(p), 7) for p in tr.step_probs], "prob": tr.prob,
                          "label": tr.label} for name, tr in traces.items()},
    }


def disagreement_summary(traces: Mapping[str, Trace]) -> str:
    """One plain sentence: do the models agree, and where do their readings part ways? Positions
    are positions in the full text, and only positions that every model read are compared."""
    if not traces:
        return "No models to compare."
    items = list(traces.items())
    if all(tr.n_steps == 0 for _, tr in items):
        return "There is nothing to read yet: type a sentence."
    labels = {name: tr.label for name, tr in items}
    pos = [n for n, lab in labels.items() if lab == 1]
    neg = [n for n, lab in labels.items() if lab == 0]

    def names(ns):
        return " and ".join(ns) if len(ns) <= 2 else ", ".join(ns[:-1]) + " and " + ns[-1]

    if not pos or not neg:
        word = "positive" if pos else "negative"
        probs = [tr.prob for _, tr in items]
        return (f"All {len(items)} read it as {word} (P(positive) from {min(probs):.2f} to {max(probs):.2f}).")
    verdicts = (f"{names(pos)} {'says' if len(pos) == 1 else 'say'} positive, {names(neg)} "
                f"{'says' if len(neg) == 1 else 'say'} negative.")
    axis = text_axis(traces)
    if not axis.same_text:  # different words at the same position: nothing to line up
        return verdicts
    # the first position (all of them read it) after which the models stop agreeing for good
    split_at = None
    for p in range(axis.n_total - 1, axis.common - 1, -1):
        lab_p = {int(tr.step_probs[p - read_start(tr)] >= 0.5) for _, tr in items}
        if len(lab_p) == 1:
            break
        split_at = p
    if split_at is None:
        return verdicts
    word = f"“{axis.tokens[split_at]}” (word {split_at + 1:,})"
    if split_at == axis.common and axis.common > axis.start:  # some read earlier words, others did not
        return (f"{verdicts} They disagree already at {word}, the first word all of them read, "
                "and at every word after it.")
    return f"{verdicts} Their readings part ways at {word}."

