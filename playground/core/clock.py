"""A time budget for work that can stop early and keep what it finished.

The heavy first-use results of a model (statespace.fit, ablate.ablation, units.compute,
typical.typical_values) read a sample of TEST texts chunk by chunk. Given a `Budget`, each asks
`over(share)` between two chunks and, once it is over, stops reading and computes its result from
what it read, saying so in the result's `cut` (a phrase such as "read 120 of 200 texts"). A
`share` below 1 keeps the rest of the budget for a later stage (the state space reads its texts in
the first half and searches fixed points in the rest).

    budget = Budget(60.0, stop=run.stopping)   # 60 s from now, or sooner if `stop()` says so
    space = statespace.fit(model, vocab, "rt", budget=budget)
    space.cut                                  # "" when complete

The clock is time.perf_counter(), like every deadline in this package.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Budget:
    seconds: float | None = None  # None: no time limit (only `stop`)
    stop: Callable[[], bool] | None = None  # an outside reason to stop now (a Stop button, a closed tab)
    start: float = field(default_factory=time.perf_counter)
    stopped_by: str = ""  # "time" | "stop", once `over` said yes

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def over(self, share: float = 1.0) -> bool:
        """True once `share` of the seconds have passed, or `stop()` says so."""
        if self.stop is not None and self.stop():
            self.stopped_by = self.stopped_by or "stop"
            return True
        if self.seconds is not None and self.elapsed() >= share * self.seconds:
            self.stopped_by = self.stopped_by or "time"
            return True
        return False

    def why(self) -> str:
        """Why the work stopped early, as the end of a sentence."""
        if self.stopped_by == "stop":
            return "it was stopped"
        return f"the time budget of {self.seconds:g} s ran out" if self.seconds is not None else "it was stopped"


def over(budget: Budget | None, share: float = 1.0) -> bool:
    """`budget.over(share)`, False without a budget."""
    return budget is not None and budget.over(share)


def cut_note(done: int, total: int, what: str, budget: Budget | None) -> str:
    """"" when all `total` were done, else "read 120 of 200 texts (the time budget of 60 s ran out)"."""
    if done >= total or budget is None:
        return ""
    return f"{what.format(done=f'{done:,}', total=f'{total:,}')} ({budget.why()})"


def join(*notes: str) -> str:
    """Cut notes as one phrase, a reason they share said once, at the end: "read 50 of 200 texts; the
    search ran 10 of 400 steps (the time budget of 3 s ran out)"."""
    notes = [n for n in notes if n]
    out = []
    for i, n in enumerate(notes):
        reason = n[n.rfind(" ("):] if n.endswith(")") and " (" in n else ""
        last = i == len(notes) - 1
        out.append(n[:-len(reason)] if reason and not last and notes[-1].endswith(reason) else n)
    return "; ".join(out)
