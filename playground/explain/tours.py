"""Guided tours (issue 30): steps through the live pages, each pointing at a real element and saying at least
one number computed from the tour's model and sentence; some ask a question before they show the answer.

    steps("lstm-keeps", sentence)   # "What an LSTM keeps": one LSTM, one sentence, gate by gate
    steps("rnn-forgets", sentence)  # "Why plain RNNs forget": the SimpleRNN against the gated cells

A step says which page to open and with which link parameters (the page's own: `s`, `model`, `tok`, `unit`,
`word`), which element to point at (a widget key, so `.st-key-<key>` on the page), its text, the numbers in it
(`numbers`, for tests and `python -m playground tour --json`) and, for a question, the choices, the answer
computed from the trace and what to say after. Nothing here imports Streamlit (ui/tour.py draws).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from playground.core.trace import Trace, trace
from playground.explain.account import account
from playground.explain.alignment import keeps_at
from playground.explain.lesson import word_lesson
from playground.explain.narrate import pct
from playground.explain.narrate import side as verdict

DEFAULT_SENTENCE = "I expected to hate this movie but I loved every minute of it"
FORGET_SENTENCE = ("This film was wonderful. Afterwards we walked to the station, bought two tickets, waited for "
                   "the train and talked about the weather on the way home")


@dataclass(frozen=True)
class Question:
    prompt: str
    choices: tuple[str, ...]
    answer: int  # index into choices, computed from the trace
    reveal: str  # said after the visitor answers

    def as_dict(self) -> dict:
        return {"prompt": self.prompt, "choices": list(self.choices), "answer": self.answer, "reveal": self.reveal}


@dataclass(frozen=True)
class Step:
    page: str  # playground | compare | gates
    target: str  # the widget key of the element it points at
    title: str
    text: str
    params: dict = field(default_factory=dict)  # the page's link parameters this step opens with
    numbers: dict = field(default_factory=dict)  # every number the text states, unrounded
    question: Question | None = None

    def as_dict(self) -> dict:
        return {"page": self.page, "target": self.target, "title": self.title, "text": self.text,
                "params": self.params, "numbers": self.numbers,
                "question": None if self.question is None else self.question.as_dict()}


@dataclass(frozen=True)
class Tour:
    id: str
    title: str
    about: str
    sentence: str


TOURS = {
    "lstm-keeps": Tour("lstm-keeps", "What an LSTM keeps",
                       "One LSTM reads one sentence: what its forget, input and output gates did at the word that "
                       "moved the verdict most, and where it let its memory go.", DEFAULT_SENTENCE),
    "rnn-forgets": Tour("rnn-forgets", "Why plain RNNs forget",
                        "A good start, then plain words: what the SimpleRNN still knows of the start at the end, "
                        "why its gradient vanishes, and what the gates change.", FORGET_SENTENCE),
}


def _word(tr: Trace, t: int) -> str:
    """A word as the pickers show it: its position after it when it occurs more than once."""
    tok = tr.tokens[t]
    return f"{tok} ({t + 1})" if tr.tokens.count(tok) > 1 else tok


def _choices(tr: Trace, answer: int, order: np.ndarray, k: int = 4) -> tuple[tuple[str, ...], int]:
    """The answer's word and the next ones in `order` (most likely first), k in all, in reading order."""
    picked = [answer] + [int(t) for t in order if int(t) != answer][: k - 1]
    picked.sort()
    return tuple(_word(tr, t) for t in picked), picked.index(answer)


def _model(name: str):
    from playground.core import zoo

    return zoo.load_bundled(name)  # loaded once per process


def _trace(name: str, sentence: str) -> Trace:
    tm = _model(name)
    return trace(tm.model, tm.vocab, sentence)


def _kept(traces: dict, position: int) -> dict | None:
    """Each gated cell's keep gate at the word, averaged over all its units (Compare's first screen)."""
    try:
        return {m.name: m.mean_all for m in keeps_at(traces, position).models}
    except IndexError:
        return None


def _moves(tr: Trace) -> np.ndarray:
    return np.diff(np.concatenate([[tr.prob0], np.asarray(tr.step_probs, dtype=float)]))


def steps(tour_id: str, sentence: str | None = None, dataset: str = "rt") -> list[Step]:
    """The tour's steps for `sentence` (its own by default), read by the dataset's bundled models."""
    tour = TOURS[tour_id]
    text = (sentence or "").strip() or tour.sentence
    out = (_lstm_keeps if tour_id == "lstm-keeps" else _rnn_forgets)(text, dataset)
    if len(out) < 2:
        raise ValueError("this sentence is too short for a tour: type at least two words")
    return out


# --- "What an LSTM keeps" --------------------------------------------------------------------------------------
def _lstm_keeps(text: str, dataset: str) -> list[Step]:
    from playground.dynamics.intervene import force_gate, intervene_trace

    name = f"lstm-{dataset}"
    tr = _trace(name, text)
    if tr.n_steps < 2:
        return []
    acc = account(tr)
    les = word_lesson(tr, None, acc)
    b, u = les.t, les.units[0]
    g = {q: np.asarray(v, dtype=float) for q, v in tr.last.gates.items()}
    f, i, gg, o, c = (float(g[q][b, u]) for q in ("f", "i", "g", "o", "c"))
    h = float(tr.last.h[b, u])
    c_old = float(g["c"][b - 1, u]) if b > 0 else 0.0
    H = tr.hidden_size
    base = {"s": text, "model": name}
    at_b = {**base, "tok": str(b), "unit": str(u)}
    word_b = _word(tr, b)
    moves = _moves(tr)
    steps_: list[Step] = []

    steps_.append(Step("playground", "play.curve", "The verdict, word by word",
                       f"{name} reads the sentence one word at a time. Before any word P(positive) is "
                       f"{pct(tr.prob0)}; after the last it is {pct(tr.prob)}: {verdict(tr.prob)}. The curve is "
                       "P(positive) after each word.", base, {"prob0": tr.prob0, "prob": tr.prob}))
    choices, answer = _choices(tr, b, np.argsort(-np.abs(moves)))
    steps_.append(Step("playground", "play.curve", "Guess first",
                       "Read the curve: after which word did P(positive) move most?", {**base, "tok": "0"},
                       {"biggest": b, "move": float(moves[b])},
                       Question("Which word moved P(positive) most?", choices, answer,
                                f"“{word_b}”: P(positive) went from {pct(les.p_before)} to {pct(les.p_after)} "
                                f"({100 * les.delta:+.1f} points), the biggest move in the sentence.")))
    steps_.append(Step("playground", "play.bars.f", "The forget gate: how much of the old memory stays",
                       f"At “{word_b}”, unit {u} (the one that moved this word most) has forget gate f = {f:.2f}: "
                       f"it keeps {f:.0%} of what its cell c held before ({c_old:+.2f}). 1 keeps everything, "
                       "0 wipes it.", at_b, {"unit": u, "f": f, "c_old": c_old}))
    steps_.append(Step("playground", "play.bars.i", "The input gate: how much of the new word gets in",
                       f"Its input gate i = {i:.2f} lets that share of the candidate g = {gg:+.2f} (what this word "
                       "offers to write) into the cell.", at_b, {"i": i, "g": gg}))
    steps_.append(Step("playground", "play.bars.c", "The new memory",
                       f"So c = f·c_old + i·g = {f:.2f}·({c_old:+.2f}) + {i:.2f}·({gg:+.2f}) = {c:+.2f}: "
                       + ("only the new word: the old memory was wiped." if abs(f * c_old) < 0.005 else
                          "mostly the new word." if abs(i * gg) > abs(f * c_old) else "mostly the old memory."),
                       at_b, {"c": c, "kept_part": f * c_old, "written_part": i * gg}))
    steps_.append(Step("playground", "play.bars.o", "The output gate: what the unit shows",
                       f"h = o·tanh(c) = {o:.2f}·tanh({c:+.2f}) = {h:+.2f}. h is what the next word and the "
                       "verdict see; c stays inside the cell.", at_b, {"o": o, "h": h}))
    mean_f = g["f"].mean(axis=1)  # (T,) over all units
    t_f = int(np.argmin(mean_f))
    others = float(np.delete(mean_f, t_f).mean()) if tr.n_steps > 1 else float(mean_f[t_f])
    at_f = {**base, "tok": str(t_f)}
    choices, answer = _choices(tr, t_f, np.argsort(mean_f))
    steps_.append(Step("playground", "play.bars.f", "Where it let go",
                       "The bars show 6 units; the question is about all of them. Guess: at which word did the "
                       f"forget gates drop the most memory (the lowest f, averaged over all {H} units)?",
                       {**base, "tok": str(tr.n_steps - 1)},
                       {"word": t_f, "mean_f": float(mean_f[t_f]), "others": others},
                       Question("At which word was the mean forget gate lowest?", choices, answer,
                                f"“{_word(tr, t_f)}”: the mean f over all {H} units was {mean_f[t_f]:.2f}, against "
                                f"{others:.2f} at the other words on average. The next step opens that word.")))
    forced = intervene_trace(_model(name).model, tr, force_gate(t_f, "f", 1.0))
    p1 = float(forced.changed.prob)
    flips = verdict(p1) != verdict(tr.prob)
    steps_.append(Step("playground", "play.bars.f", "What if it had kept everything?",
                       f"Force f = 1 for every unit from “{_word(tr, t_f)}” to the end, so from there on nothing "
                       "is forgotten. Guess first: does the verdict change?", at_f,
                       {"prob": tr.prob, "forced_prob": p1, "flips": flips},
                       Question("Forcing f = 1 from there on: does the verdict change?",
                                ("Yes, it flips", f"No, it stays {verdict(tr.prob)}"), 0 if flips else 1,
                                f"P(positive) goes from {pct(tr.prob)} to {pct(p1)}: "
                                + ("the verdict flips. Forgetting from there on was part of the verdict." if flips else
                                   f"it stays {verdict(tr.prob)}; the change is {100 * (p1 - tr.prob):+.1f} points."))))
    shares = acc.unit_shares
    top = int(np.argmax(np.abs(shares)))
    steps_.append(Step("playground", "play.x.account", "Who made the verdict",
                       "The verdict is an exact sum: the logit (the score before the sigmoid turns it into "
                       f"P(positive)) is the sum of each unit's moves, word by word. Unit {top} carries "
                       f"{shares[top]:+.0%} of it, the largest share of the {H}. Open this box to see every unit at "
                       "every word.", base, {"unit": top, "share": float(shares[top])}))
    fu = float(g["f"][:, u].mean())
    half = math.log(0.5) / math.log(fu) if 0 < fu < 1 else math.inf
    steps_.append(Step("playground", "play.x.unit", "One unit over the whole sentence",
                       f"Unit {u}'s forget gate averaged {fu:.2f} over this sentence: at that rate what a word "
                       f"wrote into its c halves after {half:.1f} words (f multiplied n times reaches 0.5). Open "
                       "this box to follow the unit word by word.", at_b,
                       {"unit": u, "mean_f": fu, "half_words": half}))
    trs = {"SimpleRNN": _trace(f"rnn-{dataset}", text), "LSTM": tr, "GRU": _trace(f"gru-{dataset}", text)}
    kept = _kept(trs, b)
    if kept is None:  # a text so long that the cells read different stretches: no shared word to compare at
        return steps_
    steps_.append(Step("compare", "compare.keep.LSTM", "The three cells at the same word",
                       f"Now the Compare page, same sentence. At “{word_b}” the LSTM's forget gate kept "
                       f"{kept['LSTM']:.2f} of c on average over its "
                       f"{H} units and the GRU's update gate {kept['GRU']:.2f} of h; the SimpleRNN has no gate that "
                       "keeps: it rewrites h at every word.", {"s": text, "word": str(b)},
                       {"lstm_f": kept["LSTM"], "gru_z": kept["GRU"]}))
    return steps_


# --- "Why plain RNNs forget" -----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def _why(dataset: str) -> dict:
    from playground.dynamics import why

    return why.first_screen(dataset)


def _gradient_share(name: str, text: str, t: int) -> float:
    """|d logit / d e_t| of word t as a share of the last word's."""
    from playground.dynamics.memory import token_gradients

    tm = _model(name)
    grads = token_gradients(tm.model, tm.vocab.encode(text, tm.config.max_len).ids)
    return float(grads[t] / grads[-1]) if grads[-1] > 0 else math.nan


def _prefix(text: str, tokens, t: int) -> str | None:
    """The text up to the end of token t (found in order, case-insensitively), or None."""
    low, at = text.lower(), 0
    for tok in tokens[: t + 1]:
        i = low.find(str(tok).lower(), at)
        if i < 0:
            return None
        at = i + len(tok)
    return text[:at]


def _rnn_forgets(text: str, dataset: str) -> list[Step]:
    rnn, lstm, gru = (f"{a}-{dataset}" for a in ("rnn", "lstm", "gru"))
    tr = _trace(rnn, text)
    if tr.n_steps < 2:
        return []
    lt = _trace(lstm, text)
    moves = _moves(tr)
    up = int(np.argmax(moves))  # the word that raised P(positive) most
    w = _word(tr, up)
    after = len(tr.tokens) - up - 1
    p_up = float(tr.step_probs[up])
    base = {"s": text, "model": rnn}
    start = _prefix(text, tr.tokens, up) if after > 0 else None  # the start alone: the rest is the question
    opening = {"s": start, "model": rnn} if start else {**base, "tok": str(up)}
    share_rnn, share_lstm = _gradient_share(rnn, text, up), _gradient_share(lstm, text, up)
    out: list[Step] = []
    out.append(Step("playground", "play.curve", "A good start",
                    f"The SimpleRNN ({rnn}) reads the start of a sentence: after “{w}” P(positive) is {pct(p_up)}. "
                    f"In the whole sentence {after} plain words follow it.", opening,
                    {"word": up, "prob": p_up, "after": after}))
    still = verdict(tr.prob) == "positive"
    out.append(Step("playground", "play.curve", "Guess first",
                    f"Guess: after the {after} plain words that follow “{w}”, will the SimpleRNN still read the "
                    "sentence as positive?", opening, {"prob": tr.prob, "positive": still},
                    Question("After all the words, still positive?", ("Yes", "No"), 0 if still else 1,
                             f"P(positive) after the last word is {pct(tr.prob)}: {verdict(tr.prob)}, from "
                             f"{pct(p_up)} after “{w}”. The next step shows the whole sentence.")))
    hT = np.abs(tr.last.h[-1])
    out.append(Step("playground", "play.bars.h", "No gate: rewritten at every word",
                    "The whole sentence now. A SimpleRNN computes h = tanh(W x + U h + b) afresh at every word: "
                    f"nothing decides what to keep. After the last word its {tr.hidden_size} units' |h| average "
                    f"{hT.mean():.2f}, and P(positive) is {pct(tr.prob)}.",
                    {**base, "tok": str(tr.n_steps - 1)}, {"mean_abs_h": float(hT.mean()), "prob": tr.prob}))
    out.append(Step("playground", "play.curve", "The gradient back to the start",
                    "Training changes what a word means through the gradient of the verdict with respect to that "
                    f"word. In the SimpleRNN, what reaches “{w}” is {share_rnn:.2g} of what reaches the last word "
                    f"({after} words later). The page does not draw it; Why gates does, later in this tour.",
                    {**base, "tok": str(up)}, {"share": share_rnn}))
    bigger = "LSTM" if share_lstm > share_rnn else "SimpleRNN"
    too = " too" if verdict(lt.prob) == verdict(tr.prob) else ""
    out.append(Step("playground", "play.curve", "The LSTM on the same sentence",
                    f"Now the LSTM ({lstm}), same sentence: P(positive) ends at {pct(lt.prob)}, "
                    f"{verdict(lt.prob)}{too}: on a sentence this short the verdict can go either way. Guess: "
                    f"whose gradient reaches “{w}” with more of its size?", {"s": text, "model": lstm, "tok": str(up)},
                    {"prob": lt.prob, "share_lstm": share_lstm, "share_rnn": share_rnn},
                    Question(f"Whose gradient keeps more of itself back to “{w}”?", ("SimpleRNN", "LSTM"),
                             0 if bigger == "SimpleRNN" else 1,
                             f"{bigger}: the LSTM's share is {share_lstm:.2g}, the SimpleRNN's {share_rnn:.2g}"
                             + (" (on this short sentence the plain cell holds its own: the long review next is where "
                                "it fails)." if bigger == "SimpleRNN" else "."))))
    ws = _why(dataset)
    reach = {m["cell"]: m for m in ws["models"]}
    k = ws["k"]
    r = reach.get("SimpleRNN", {})
    per = r.get("per_step")
    share = r.get("share")
    if per is not None and share is not None and share > 0:
        options = (1e-1, 1e-3, 1e-6, 1e-9)
        ans = int(np.argmin([abs(math.log10(share) - math.log10(x)) for x in options]))
        out.append(Step("playground", "play.curve", "A product of many factors",
                        f"On a long review each step back multiplies the SimpleRNN's gradient by {per:.2f} on "
                        f"average. Guess: after {k} steps, about how much of it is left?", {**base, "tok": str(up)},
                        {"per_step": per, "k": k, "share": share},
                        Question(f"{per:.2f} multiplied by itself {k} times is about…",
                                 tuple(f"{x:g}" for x in options), ans,
                                 f"{share:.2g}: {per:.2f}^{k} shrinks geometrically. That is the vanishing gradient: a "
                                 "word that far back barely changes in training. The next step measures it on the "
                                 "review.")))
    out.append(Step("gates", "why.answer_chart", "On a long review",
                    "The Why gates page, on an IMDB review: " + ws["headline"],
                    {"model": rnn}, {m["cell"]: m.get("share") for m in ws["models"]}))
    lr, gr = reach.get("LSTM", {}), reach.get("GRU", {})
    nan = math.nan
    out.append(Step("gates", "why.answer_chart", "What a gate changes",
                    f"Per step back the LSTM's gradient kept {lr.get('per_step', nan):.2f} and the GRU's "
                    f"{gr.get('per_step', nan):.2f}, against the SimpleRNN's {per if per is not None else nan:.2f}: "
                    f"over {k} steps that is {lr.get('share', nan):.2g} and {gr.get('share', nan):.2g} against "
                    f"{share if share is not None else nan:.2g}. The LSTM's path back runs through its "
                    "cell c, multiplied by the forget gate at each word, not through U and tanh.", {"model": rnn},
                    {"lstm_per_step": lr.get("per_step"), "gru_per_step": gr.get("per_step")}))
    trs = {"SimpleRNN": tr, "LSTM": lt, "GRU": _trace(gru, text)}
    out.append(Step("compare", "compare.curves", "All three on this sentence",
                    "The Compare page, the first sentence again: P(positive) at the end is "
                    + ", ".join(f"{n} {pct(t.prob)}" for n, t in trs.items()) + ".",
                    {"s": text, "word": str(up)}, {n: t.prob for n, t in trs.items()}))
    kept = _kept(trs, up)
    if kept is not None:
        out.append(Step("compare", "compare.keep.LSTM", "Keep gates at the good word",
                        f"At “{w}”, averaged over all their units, the LSTM's forget gate kept {kept['LSTM']:.2f} of "
                        f"its cell and the GRU's update gate {kept['GRU']:.2f} of h; the SimpleRNN has nothing that "
                        "keeps. The bars show each cell's units to watch at this word; those numbers are averages "
                        "over all units.", {"s": text, "word": str(up)},
                        {"lstm_f": kept["LSTM"], "gru_z": kept["GRU"]}))
    causes = ws.get("causes") or []
    if causes:
        first = causes[0]["text"].split(". ")[0].rstrip(".") + "."
        out.append(Step("gates", "why.x.lab", "How the network starts matters",
                        f"Back on Why gates. {causes[0]['title']} {first} The lab below trains each cell from both "
                        "starts on a task where the label sits many words back: open it to see which distances each "
                        "one learns.", {"model": rnn}, {"cause": causes[0]["title"]}))
    return out
