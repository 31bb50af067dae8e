"""Is one model really more accurate than another? Paired tests on the same TEST sentences.

Two models read the same n sentences; only the sentences where exactly one of them is right say
anything about which is better: b (only A right) and c (only B right). McNemar's exact test asks
how likely a split at least as uneven as b : c is when both are equally good (each discordant
sentence a fair coin): p = min(1, 2 * P(Binomial(b + c, 1/2) <= min(b, c))). The difference in
accuracy (c - b) / n gets a 95% interval from the paired standard error.

`race_verdict` names a winner only when the best model beats every other one with p below
alpha / (number of comparisons) (Bonferroni); otherwise it says the race is a tie within noise
and gives the interval of the closest gap.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

ALPHA = 0.05
Z95 = 1.959963984540054  # two-sided 95% normal quantile


@dataclass(frozen=True)
class PairedTest:
    n: int  # sentences both models read
    only_a: int  # sentences only A got right (b)
    only_b: int  # sentences only B got right (c)
    p_value: float  # McNemar's exact two-sided p
    diff: float  # accuracy(A) - accuracy(B)
    low: float  # 95% interval of diff
    high: float


def mcnemar(a_right, b_right) -> PairedTest:
    """Paired comparison of two models' per-sentence correctness (bool arrays of equal length)."""
    a, b = np.asarray(a_right, dtype=bool), np.asarray(b_right, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("both models must be scored on the same sentences")
    n = len(a)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    k, m = min(only_a, only_b), only_a + only_b
    # exact binomial tail, summed in log space so m in the thousands cannot overflow
    tail = sum(math.exp(math.lgamma(m + 1) - math.lgamma(i + 1) - math.lgamma(m - i + 1) - m * math.log(2))
               for i in range(k + 1)) if m else 1.0
    p = min(1.0, 2.0 * tail)
    diff = (only_a - only_b) / n if n else 0.0
    se = math.sqrt(max(0.0, m - (only_a - only_b) ** 2 / n)) / n if n else 0.0
    return PairedTest(n, only_a, only_b, p, diff, diff - Z95 * se, diff + Z95 * se)


def race_verdict(correct: Mapping[str, np.ndarray], alpha: float = ALPHA) -> str:
    """One sentence about several models scored on the same TEST sentences (name -> bool array):
    a winner only when the paired tests say its lead is beyond noise."""
    if not correct:
        return "No model finished, so there is nothing to compare."
    acc = {name: float(np.mean(v)) if len(v) else float("nan") for name, v in correct.items()}
    ranked = sorted(acc, key=lambda k: -acc[k])
    best = ranked[0]
    if len(ranked) == 1:
        return f"Only {best} finished: {acc[best]:.1%} on TEST."
    tests = {other: mcnemar(correct[best], correct[other]) for other in ranked[1:]}
    level = alpha / len(tests)
    if all(t.p_value < level for t in tests.values()):
        worst_p = max(t.p_value for t in tests.values())
        runner = ranked[1]
        t = tests[runner]
        return (f"{best} is ahead beyond noise: {acc[best]:.1%} on TEST, {100 * t.diff:.1f} points above {runner} "
                f"(95% interval {100 * t.low:.1f} to {100 * t.high:.1f}); McNemar's exact test on the same "
                f"{t.n:,} sentences gives {_bound(worst_p)} against every other model.")
    runner = ranked[1]
    t = tests[runner]
    tie = (f"No model is ahead beyond noise: {best} {acc[best]:.1%} and {runner} {acc[runner]:.1%} on TEST differ by "
           f"{100 * t.diff:.1f} points (95% interval {100 * t.low:.1f} to {100 * t.high:.1f}; McNemar's exact "
           f"test on the same {t.n:,} sentences: {_p(t.p_value)}, a winner needs p < {level:.3g}). Call it a tie.")
    # the models tied with the best, and whether every one of them beats every other model
    top = [best] + [m for m in ranked[1:] if tests[m].p_value >= level]
    rest = [m for m in ranked if m not in top]
    if not rest:
        return tie
    cross = [mcnemar(correct[g], correct[r]) for g in top for r in rest]
    if all(c.diff > 0 and c.p_value < alpha / len(cross) for c in cross):
        worst = max(c.p_value for c in cross)
        who = " and ".join(top) if len(top) == 2 else ", ".join(top[:-1]) + " and " + top[-1]
        behind = ", ".join(f"{m} ({acc[m]:.1%})" for m in rest)
        both = "Both" if len(top) == 2 else "All of them"
        tie += f" {both} ({who}) are ahead of {behind} beyond noise ({_bound(worst)} for every such pair)."
    return tie


def _bound(p: float) -> str:
    """The largest of several p-values, as an upper bound."""
    return "p < 0.0001" if p < 1e-4 else f"p ≤ {p:.2g}"


def _p(p: float) -> str:
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.2g}"


def accuracy_margin(acc: float, n: int, population: int | None = None) -> float:
    """Half-width of the 95% interval of an accuracy measured on n rows drawn at random, without
    replacement, from `population` rows (normal approximation with the finite-population
    correction): 0 when every row was read, NaN when none was."""
    if n <= 0:
        return float("nan")
    if population is not None and n >= population:
        return 0.0
    fpc = 1.0 if population is None or population <= 1 else math.sqrt((population - n) / (population - 1))
    return Z95 * math.sqrt(max(0.0, acc * (1 - acc)) / n) * fpc


def accuracy_phrase(acc: float, n: int, population: int | None = None, rows: str = "TEST rows") -> str:
    """An accuracy never quoted without what it was measured on: '77.6% on all 1,706 TEST rows', or
    on a sample '77.6% on 250 of 1,706 TEST rows, ±5.2 points (95%)'."""
    if n <= 0 or not math.isfinite(acc):
        return f"not measured (no {rows} read)"
    if population is None or n >= population:
        return f"{acc:.1%} on {'all ' if population else ''}{n:,} {rows}"
    return f"{acc:.1%} on {n:,} of {population:,} {rows}, ±{100 * accuracy_margin(acc, n, population):.1f} points (95%)"
