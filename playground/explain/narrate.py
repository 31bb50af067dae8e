"""Words computed from a trace: what a page may say about a model's output is derived here from
that output, never written by hand ("say only what the numbers say").

`curve_story(tr)` reads the prediction curve: the prior (P(positive) before any word, the readout
on the zero state), every token's step change measured from the point before it (the prior for
the first token), the token with the largest move, and every token where the verdict crosses 0.5.
`CurveStory.sentence()` says that in one paragraph; `as_dict()` is the command line's JSON.
`account_story(tr)` reads the exact account of the verdict (playground/explain/account.py): the unit with
the largest share and its largest move, how much the top units hold and how many make up half;
`word_story(tr, t)` says what one word did to the logit and which unit moved it most, with that
unit's gates there (every quantity of the cell, named from cells.py).

Pure functions, no Streamlit. Token text goes through the caller's `escape` (Markdown on a page).
Verdicts use the same rule as everywhere: positive when P(positive) >= 0.5.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np

from playground.core.trace import Trace
from playground.explain.account import Account, account, units_at, units_for_half

MAX_LISTED = 3  # crossings named one by one; the rest are counted
TIMES = ("no times", "once", "twice", "three times", "four times", "five times", "six times", "seven times",
         "eight times", "nine times", "ten times")  # "crosses 0.5 three times", not "0.5 3 times"


def side(p: float) -> str:
    """The verdict a probability stands for (positive from 0.5 up)."""
    return "positive" if p >= 0.5 else "negative"


def pct(p: float) -> str:
    return f"{100 * p:.1f}%"


@dataclass(frozen=True)
class Move:
    """What reading token `t` did to P(positive)."""

    t: int  # 0-based position in the tokens read
    token: str
    before: float  # P(positive) before this token (the prior for t = 0)
    after: float  # P(positive) after it

    @property
    def delta(self) -> float:
        return self.after - self.before

    @property
    def crosses(self) -> bool:
        return side(self.before) != side(self.after)

    def as_dict(self) -> dict:
        return {"t": self.t, "token": self.token, "before": self.before, "after": self.after, "delta": self.delta,
                "crosses": self.crosses, "to": side(self.after)}


def moves(tr: Trace) -> list[Move]:
    """One Move per token read: the curve's step changes, the first measured from the prior."""
    curve = np.concatenate([[tr.prob0], np.asarray(tr.step_probs, dtype=float)])  # (T + 1,)
    return [Move(t, tr.tokens[t], float(curve[t]), float(curve[t + 1])) for t in range(tr.n_steps)]


@dataclass(frozen=True)
class CurveStory:
    prior: float  # P(positive) before reading
    final: float  # P(positive) after the last token (the prior when nothing was read)
    n_tokens: int
    biggest: Move | None  # the largest |step change| (the first of equals); None without tokens
    crossings: tuple[Move, ...]  # every token after which the verdict is on the other side of 0.5
    lead: int = 0  # padding read before the words (a Keras model): biggest and crossings are the words'
    after_padding: float | None = None  # P(positive) when the words begin (with lead > 0)
    first_word: int = 0  # the first token that is a word (after the padding and a Keras start token)

    def sentence(self, escape: Callable[[str], str] = str, list_crossings: bool = True) -> str:
        """One paragraph, every number and word in it taken from the curve. `escape` is applied
        to token text (pass a Markdown escaper on a page); list_crossings=False counts the crossings
        without naming them."""
        def q(m: Move) -> str:  # after a Keras model's padding, counted among the words
            if self.first_word and m.t >= self.first_word:
                return f"“{escape(m.token)}” (word {m.t + 1 - self.first_word})"
            return f"“{escape(m.token)}” (token {m.t + 1})"

        parts = [f"Before reading a word it stands at {pct(self.prior)} positive (its prior)."]
        if self.lead:
            parts = [f"Before reading anything it stands at {pct(self.prior)} positive (its prior); the {self.lead:,} "
                     f"padding zeros it reads first take it to {pct(self.after_padding)}."]
        b = self.biggest
        if b is None:
            parts.append("It has read nothing, so the prior is its verdict.")
            return " ".join(parts)
        if b.delta == 0:
            parts.append(f"No token moves it: P(positive) stays at {pct(b.after)}.")
        else:
            verb = "rises" if b.delta > 0 else "falls"
            parts.append(f"The biggest move is at {q(b)}: P(positive) {verb} by {100 * abs(b.delta):.1f} "
                         f"points, from {pct(b.before)} to {pct(b.after)}.")
        n = len(self.crossings)
        if n == 0:
            start = "the first word" if self.lead else "the prior"
            parts.append(f"It never crosses 0.5: it stays {side(self.after_padding if self.lead else self.prior)} "
                         f"from {start} to the last token.")
        else:
            times = TIMES[n] if n < len(TIMES) else f"{n:,} times"
            if list_crossings:
                listed = [f"to {side(m.after)} at {q(m)}" for m in self.crossings[:MAX_LISTED]]
                more = f", and {n - MAX_LISTED} more" if n > MAX_LISTED else ""
                parts.append(f"Its verdict crosses 0.5 {times}: {', '.join(listed)}{more}.")
            else:
                parts.append(f"Its verdict crosses 0.5 {times}.")
        parts.append(f"It ends {side(self.final)} at {pct(self.final)}.")
        return " ".join(parts)

    def brief(self, escape: Callable[[str], str] = str) -> str:
        """`sentence` with the crossings counted, not listed (a caption of at most about 45 words)."""
        return self.sentence(escape, list_crossings=False)

    def as_dict(self) -> dict:
        return {"prior": self.prior, "final": self.final, "n_tokens": self.n_tokens, "padding_first": self.lead,
                "after_padding": self.after_padding,
                "biggest": self.biggest.as_dict() if self.biggest else None,
                "crossings": [m.as_dict() for m in self.crossings], "sentence": self.sentence()}


def curve_story(tr: Trace) -> CurveStory:
    """The prediction curve in numbers a sentence can name (see the module docstring)."""
    lead = tr.lead
    ms = moves(tr)[lead:]  # the words' moves (a Keras model's padding is told apart, as one run)
    biggest = max(ms, key=lambda m: abs(m.delta)) if ms else None  # max keeps the first of equals
    return CurveStory(prior=float(tr.prob0), final=float(tr.prob), n_tokens=tr.n_steps, biggest=biggest,
                      crossings=tuple(m for m in ms if m.crosses), lead=lead,
                      after_padding=float(tr.step_probs[lead - 1]) if lead else None, first_word=tr.first_word)


def _units(n: int) -> str:
    return f"{n:,} unit" + ("" if n == 1 else "s")


@dataclass(frozen=True)
class AccountStory:
    """The exact account's headline numbers (logits; shares are rows' sums, moves single cells)."""

    prior_logit: float
    logit: float
    n_units: int
    top: int  # how many units the picture shows first
    top_fraction: float  # their part of sum |share| (0 when every share is 0)
    half: int  # how many units make up half of sum |share|
    unit: int | None  # the unit with the largest |share|; None without tokens
    share: float  # its share
    t: int | None  # that unit's largest single move: token position
    token: str
    move: float  # C[unit, t]
    word_move: float  # that token's move over all units (the column's sum)
    big_t: int | None  # the token with the largest |move| over all units
    big_token: str
    big_move: float
    big_half: int  # how many units make up half of sum |C[:, big_t]|
    big_unit: int | None  # the unit with the largest |C[u, big_t]|
    big_unit_move: float

    def _top(self) -> str:
        if self.top >= self.n_units:
            return (f"Half of the verdict (counting each unit's share by its size) takes {self.half:,} of "
                    f"{self.n_units:,} units.")
        return (f"The top {self.top:,} of {self.n_units:,} units hold {pct(self.top_fraction)} of the verdict "
                f"(counting each unit's share by its size); half of it takes {_units(self.half)}.")

    def sentence(self, escape: Callable[[str], str] = str) -> str:
        """Two or three sentences, every number taken from the account; `escape` is applied to tokens."""
        if self.unit is None:
            return f"It has read nothing: its logit is the prior, {self.prior_logit:+.3f}."
        return (f"Reading moved the logit from {self.prior_logit:+.3f} (the prior) to {self.logit:+.3f}; a unit's "
                f"share of that change is its readout weight times its last h. Unit {self.unit} holds the largest "
                f"share, {self.share:+.3f}; its largest move was {self.move:+.3f} at “{escape(self.token)}” "
                f"(token {self.t + 1}), where all units together moved the logit by {self.word_move:+.3f}. "
                + self._top())

    def short(self, escape: Callable[[str], str] = str) -> str:
        """One sentence for a side-by-side column (Compare): the largest word move and who made it."""
        if self.big_t is None:
            return f"It has read nothing: its logit is the prior, {self.prior_logit:+.3f}."
        return (f"Its largest word move is “{escape(self.big_token)}” ({self.big_move:+.3f} logit): half of that "
                f"word's moves, by size, came from {self.big_half:,} of {self.n_units:,} units, the most from "
                f"unit {self.big_unit} ({self.big_unit_move:+.3f}). " + self._top())

    def as_dict(self) -> dict:
        return {**asdict(self), "sentence": self.sentence()}


def account_story(tr: Trace, acc: Account | None = None, top: int = 16) -> AccountStory:
    """The account's headline numbers for `tr` (`acc`: its account, if already made)."""
    acc = account(tr) if acc is None else acc
    H = acc.contributions.shape[0]
    size = np.abs(acc.unit_shares)  # (H,)
    order = acc.ranking("verdict")
    total = float(size.sum())
    frac = float(size[order[:top]].sum() / total) if total > 0 else 0.0
    base = dict(prior_logit=acc.prior_logit, logit=acc.logit, n_units=H, top=min(top, H), top_fraction=frac,
                half=units_for_half(acc.unit_shares))
    dec = acc.decisive()
    if dec is None:
        return AccountStory(**base, unit=None, share=0.0, t=None, token="", move=0.0, word_move=0.0, big_t=None,
                            big_token="", big_move=0.0, big_half=0, big_unit=None, big_unit_move=0.0)
    u, t = dec
    moves_ = acc.word_moves  # (T,)
    bt = int(np.argmax(np.abs(moves_)))
    col = acc.contributions[:, bt]  # (H,)
    bu = int(np.argmax(np.abs(col)))
    return AccountStory(**base, unit=u, share=float(acc.unit_shares[u]), t=t, token=acc.tokens[t],
                        move=float(acc.contributions[u, t]), word_move=float(moves_[t]), big_t=bt,
                        big_token=acc.tokens[bt], big_move=float(moves_[bt]), big_half=units_for_half(col),
                        big_unit=bu, big_unit_move=float(col[bu]))


def _value(q, v: float) -> str:
    return f"{q.title} {v:.2f}" if q.bounds == (0.0, 1.0) else f"{q.title} {v:+.2f}"


def word_story(tr: Trace, t: int, acc: Account | None = None, escape: Callable[[str], str] = str) -> str:
    """What token `t` did to the logit, the unit that moved it most there, and that unit's values
    (every quantity of the cell, last layer) at that word."""
    acc = account(tr) if acc is None else acc
    if not 0 <= t < len(acc.tokens):
        raise IndexError("token out of range")
    top = units_at(tr, acc, t, k=1)[0]
    before = tr.prob0 if t == 0 else float(tr.step_probs[t - 1])
    after = float(tr.step_probs[t])
    H = acc.contributions.shape[0]
    values = ", ".join(_value(tr.cell.quantity(name), v) for name, v in top.values.items() if name != "h")
    gates = f", with {values} there" if values else ""
    where = tr.where(t) if tr.first_word else f"token {t + 1}"
    return (f"“{escape(acc.tokens[t])}” ({where}) moved the logit by {acc.word_moves[t]:+.3f} (P(positive) "
            f"from {pct(before)} to {pct(after)}). Unit {top.unit} moved it most, by {top.contribution:+.3f}: its h "
            f"went from {top.h_prev:+.3f} to {top.values['h']:+.3f}{gates}. Half of this word's moves, by size, "
            f"came from {units_for_half(acc.contributions[:, t]):,} of {H:,} units.")


# --- read it with me: one token at a time ------------------------------------------------------
# `step_story(tr, acc, t)` says what reading token t did: P(positive) before and after, the logit's
# move (a column of the account's units x tokens matrix C, playground/explain/account.py), the units that
# moved it most (largest |C[u, t]|), and, for the top unit, what its gates did, in the words of its
# cell's description (cells.Quantity.reading: bands on the value as printed, so that every clause
# is true of the number beside it). Numbers: P as percentages with one decimal, logits (and units'
# parts of them) with a sign and three decimals, states with a sign and two, gates with two
# (cells.Quantity.show).
TOP_UNITS = 3  # units named per step


@dataclass(frozen=True)
class UnitMove:
    """One unit of the last layer at one token: its share of the word's move and why."""

    unit: int
    contribution: float  # C[u, t] = w_u (h_(u,t) - h_(u,t-1)), in logit
    weight: float  # the readout's weight w_u
    h_before: float  # h_(u,t-1) (0 before the first token)
    h_after: float  # h_(u,t)
    values: dict  # quantity name -> value at t, for every quantity of the cell
    previous: dict  # "<state>_prev" -> the state before t ("h_prev", and "c_prev" for an LSTM)

    def as_dict(self) -> dict:
        return {"unit": self.unit, "contribution": self.contribution, "weight": self.weight,
                "h_before": self.h_before, "h_after": self.h_after, "values": dict(self.values),
                "previous": dict(self.previous)}


@dataclass(frozen=True)
class StepStory:
    t: int  # 0-based position in the tokens read
    n_steps: int
    token: str
    oov: bool
    p_before: float  # P(positive) before this token (the prior for t = 0)
    p_after: float
    logit_before: float
    logit_after: float
    layer: int  # the layer whose units are named (the last: the readout reads it)
    n_layers: int
    n_units: int  # units in that layer
    units: tuple[UnitMove, ...]  # the TOP_UNITS largest |C[u, t]|, largest first
    sentences: tuple[str, ...]  # two or three sentences saying all this with these numbers
    where: str = ""  # how a reader counts it, when it differs from "token t + 1 of n" (a Keras model's padding)

    @property
    def move(self) -> float:
        """The word's change in logit: C's column sum."""
        return self.logit_after - self.logit_before

    def as_dict(self) -> dict:
        return {"t": self.t, "token": self.token, "oov": self.oov, "p_before": self.p_before, "p_after": self.p_after,
                "logit_before": self.logit_before, "logit_after": self.logit_after, "move": self.move,
                "layer": self.layer, "units": [u.as_dict() for u in self.units], "sentences": list(self.sentences)}


def _unit_name(u: int, layer: int, n_layers: int) -> str:
    return f"unit {u}" + (f" (layer {layer + 1})" if n_layers > 1 else "")


def _logit(x: float) -> str:
    return f"{x:+.3f}"


def _state(x: float) -> str:
    return f"{x:+.2f}"


def _p_sentence(s: StepStory, escape: Callable[[str], str]) -> str:
    where = f"At “{escape(s.token)}”{'°' if s.oov else ''} ({s.where or f'token {s.t + 1} of {s.n_steps}'})"
    if s.oov:
        where += ", a word the model does not know (read as the unknown word),"
    b, a = pct(s.p_before), pct(s.p_after)
    if b == a:
        said = f"P(positive) stayed at {a}"
    else:
        said = f"P(positive) {'rose' if s.p_after > s.p_before else 'fell'} from {b} to {a}"
        if side(s.p_before) != side(s.p_after):
            said += f", crossing 0.5 to {side(s.p_after)}"
    return (f"{where} {said}: the logit moved {_logit(s.move)}, from {_logit(s.logit_before)} to "
            f"{_logit(s.logit_after)}.")


def _who_sentence(s: StepStory) -> str:
    top, rest = s.units[0], s.units[1:]
    c, m = top.contribution, s.move
    name = _unit_name(top.unit, s.layer, s.n_layers)
    nxt = " and ".join(f"unit {u.unit} ({_logit(u.contribution)})" for u in rest)
    n_rest = s.n_units - len(s.units)
    others = ""
    if n_rest:  # every other unit moved it by at most the last named unit's |C| (they are sorted by size)
        rest_sum = m - sum(u.contribution for u in s.units)
        others = (f"; the other {n_rest:,} unit{'s' if n_rest > 1 else ''} gave the remaining {_logit(rest_sum)}, "
                  f"{'each ' if n_rest > 1 else ''}at most {abs(s.units[-1].contribution):.3f} in size")
    if m != 0 and c / m > 0.5:
        out = f"{name.capitalize()} did most of it ({_logit(c)} of the {_logit(m)} logit)"
        return out + (f", then {nxt}" if nxt else "") + others + "."
    if c * m > 0:
        out = f"No single unit did most of it: {name} pushed hardest ({_logit(c)} of the {_logit(m)} logit)"
        return out + (f", then {nxt}" if nxt else "") + others + "."
    out = (f"{name.capitalize()} moved the logit most, by {_logit(c)}, against the word's total of {_logit(m)}, "
           "so other units outweighed it")
    return out + (f"; next came {nxt}" if nxt else "") + others + "."


def _why_sentence(tr: Trace, s: StepStory) -> str:
    top = s.units[0]
    fields = {**top.values, **top.previous}
    parts = []
    for name in tr.cell.story:
        q = tr.cell.quantity(name)
        v = top.values[name]
        parts.append(f"its {q.title} was {q.show(v)}, {q.reading.clause(v, fields)}")
    head = (f"Unit {top.unit}'s h went from {_state(top.h_before)} to {_state(top.h_after)} "
            f"(readout weight {_logit(top.weight)})")
    if not parts:
        return head + "."
    body = parts[0] if len(parts) == 1 else "; ".join(parts[:-1]) + "; and " + parts[-1]
    return f"{head}: {body}."


def step_stories(tr: Trace, acc=None, escape: Callable[[str], str] = str, steps: Sequence[int] | None = None
                 ) -> list[StepStory]:
    """A StepStory for each token in `steps` (default: every token read). `acc` is
    `account.account(tr)` (computed here when not given); `escape` is applied to token text."""
    from dataclasses import replace  # (imports kept local to this section: other sections edit the header)

    from playground.explain.account import account as _account

    acc = _account(tr) if acc is None else acc
    steps = range(tr.n_steps) if steps is None else steps
    C = acc.contributions  # (H, T)
    logits = np.concatenate([[acc.prior_logit], acc.step_logits])  # (T + 1,)
    probs = np.concatenate([[tr.prob0], np.asarray(tr.step_probs, dtype=float)])  # (T + 1,)
    last = tr.last
    h = last.h  # (T, H)
    w = np.asarray(tr.readout_w, dtype=float)
    n_layers = len(tr.layers)
    out = []
    for t in steps:
        if not 0 <= t < tr.n_steps:
            raise IndexError(f"token {t} is outside 0..{tr.n_steps - 1}")
        col = C[:, t]
        top = np.argsort(-np.abs(col), kind="stable")[:TOP_UNITS]
        units = []
        for u in top:
            u = int(u)
            values = {n: float(last.gates[n][t, u]) for n in tr.gate_names}
            values["h"] = float(h[t, u])
            previous = {f"{n}_prev": float((last.gates[n] if n != "h" else h)[t - 1, u]) if t else 0.0
                        for n in tr.cell.state}
            units.append(UnitMove(u, float(col[u]), float(w[u]), previous["h_prev"], values["h"], values, previous))
        s = StepStory(t=t, n_steps=tr.n_steps, token=tr.tokens[t], oov=bool(tr.oov[t]),
                      p_before=float(probs[t]), p_after=float(probs[t + 1]), logit_before=float(logits[t]),
                      logit_after=float(logits[t + 1]), layer=n_layers - 1, n_layers=n_layers, n_units=C.shape[0],
                      units=tuple(units), sentences=(),
                      where=(f"{tr.where(t)}" + (f" of {tr.n_words}" if t >= tr.first_word else "")
                             if tr.first_word else ""))
        sentences = (_p_sentence(s, escape), _who_sentence(s), _why_sentence(tr, s))
        out.append(replace(s, sentences=sentences))
    return out


def step_story(tr: Trace, acc=None, t: int = 0, escape: Callable[[str], str] = str) -> StepStory:
    """What reading token `t` did (see step_stories)."""
    return step_stories(tr, acc, escape, steps=[t])[0]
