"""What if the sentence said something else? One-click edits and the edited reading as a branch.

`suggest` proposes a few edits of a sentence, deterministically, from these rules (in this order):
1. swap: every word of a small built-in list of sentiment words (`OPPOSITES`: adjectives and verbs
   in opposite pairs, good/bad, love/hate, cold/warm, rude/polite, ...) for its opposite, when the
   opposite is in the model's vocabulary (an unknown word would only test the OOV token), in
   reading order;
2. remove the word that moved the logit most (the largest |logit_t - logit_(t-1)|, account.py), and
   the first negation word (`NEGATIONS`) if it is another word;
3. insert "not" before the first word of `OPPOSITES` that no negation word precedes (the list holds
   adjectives and verbs, so no tagger is needed), else after the first form of "to be".
At most `MAX_SUGGESTIONS` in all. Edits keep the rest of the text as typed (punctuation included).

`branch` reads the original and the edited sentence. The edited trace is computed from the original's
states at the branch point (the first token whose id differs; intervene.resume), so everything
before it is the original's, bitwise; tests check it equals a fresh trace of the edited text. Both
curves get positions on one axis: the shared prefix and the shared suffix (tokens equal at the end)
line up, and the changed stretch takes the room of the longer of its two versions. The units whose
contributions changed most are ranked by |w_u (h'_u,T' - h_u,T)|, each unit's change of its share
of the verdict: these parts add up to the change of the final logit exactly (the contributions
before the branch point are equal, so it is also the change of the contributions summed after it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from playground.core.models import SentimentRNN
from playground.core.text import Encoded, Vocab, key, tokenize
from playground.core.trace import Trace, trace
from playground.dynamics.intervene import resume, share_change
from playground.explain.account import account, units_for_half

_PAIRS = (("good", "bad"), ("great", "terrible"), ("best", "worst"), ("better", "worse"), ("love", "hate"),
          ("loved", "hated"), ("loves", "hates"), ("like", "dislike"), ("liked", "disliked"),
          ("excellent", "awful"), ("wonderful", "horrible"), ("amazing", "dreadful"), ("beautiful", "ugly"),
          ("brilliant", "stupid"), ("interesting", "boring"), ("fun", "dull"), ("funny", "unfunny"),
          ("enjoyable", "unbearable"), ("perfect", "flawed"), ("fresh", "stale"), ("warm", "cold"),
          ("polite", "rude"), ("kind", "cruel"), ("happy", "sad"), ("clean", "dirty"), ("delicious", "disgusting"),
          ("pleasant", "unpleasant"), ("entertaining", "tedious"), ("strong", "weak"), ("smart", "dumb"),
          ("succeeds", "fails"), ("recommend", "avoid"), ("nice", "nasty"), ("fast", "slow"))
OPPOSITES = {**{a: b for a, b in _PAIRS}, **{b: a for a, b in _PAIRS}}
NEGATIONS = frozenset({"not", "never", "no", "n't", "don't", "doesn't", "didn't", "isn't", "wasn't", "aren't",
                       "weren't", "won't", "can't", "cannot"})
TO_BE = frozenset({"is", "was", "are", "were", "be", "been", "being", "it's", "that's"})
MAX_SUGGESTIONS = 6


@dataclass(frozen=True)
class Edit:
    kind: str  # "swap", "remove" or "insert"
    index: int  # the token (0-based, among the tokens the model reads) it changes, or inserts before
    word: str  # the new word (swap, insert) or the removed one
    old: str  # the word replaced or removed; for an insert, the word it goes before
    text: str  # the whole edited text
    reason: str  # why this edit was suggested, in words

    @property
    def label(self) -> str:
        """What a button says: "bad → good", "remove not", "not before cold"."""
        return {"swap": f"{self.old} → {self.word}", "remove": f"remove {self.old}",
                "insert": f"{self.word} before {self.old}"}[self.kind]

    def as_dict(self) -> dict:
        return {"kind": self.kind, "index": self.index, "word": self.word, "old": self.old, "text": self.text,
                "reason": self.reason, "label": self.label}


def _spans(text: str, tokens: list[str]) -> list[tuple[int, int]] | None:
    """Where each token stands in `text`, found left to right; None when one is not there verbatim
    (the tokenizer normalised or shortened it): the edit then rebuilds the text from the tokens."""
    spans, at = [], 0
    for tok in tokens:
        i = text.find(tok, at)
        if i < 0:
            return None
        spans.append((i, i + len(tok)))
        at = i + len(tok)
    return spans


def _edited(text: str, tokens: list[str], i: int, kind: str, word: str = "") -> str:
    """`text` with token i (of all its tokens) replaced by `word`, removed, or with `word` inserted before it."""
    spans = _spans(text, tokens)
    if spans is None:
        new = list(tokens)
        if kind == "swap":
            new[i] = word
        elif kind == "remove":
            del new[i]
        else:
            new.insert(i, word)
        return " ".join(new)
    s, e = spans[i]
    if kind == "swap":
        return text[:s] + word + text[e:]
    if kind == "insert":
        return text[:s] + word + " " + text[s:]
    if e < len(text) and text[e] == " ":
        e += 1  # take one space with the word
    elif s > 0 and text[s - 1] == " ":
        s -= 1
    return text[:s] + text[e:]


def _cased(like: str, word: str) -> str:
    return word[:1].upper() + word[1:] if like[:1].isupper() else word


def suggest(model: SentimentRNN, vocab: Vocab, text: str, tr: Trace | None = None) -> list[Edit]:
    """A few one-click edits of `text` (see the module's docstring for the rules)."""
    tr = tr if tr is not None else trace(model, vocab, text)
    every = tokenize(text)
    offset = len(every) - tr.n_steps  # tokens cut from the front (a text longer than max_len)
    keys = [key(t) for t in tr.tokens]
    out: list[Edit] = []

    def add(kind, t, word, old, reason):
        if len(out) < MAX_SUGGESTIONS:
            out.append(Edit(kind, t, word, old, _edited(text, every, offset + t, kind, word), reason))

    for t, k in enumerate(keys):
        opp = OPPOSITES.get(k)
        if opp is not None and opp in vocab and len(out) < MAX_SUGGESTIONS // 2:
            add("swap", t, _cased(tr.tokens[t], opp), tr.tokens[t], f"{k!r} and {opp!r} are opposites")
    if tr.n_steps:
        moves = account(tr).word_moves
        t = int(np.argmax(np.abs(moves)))
        add("remove", t, tr.tokens[t], tr.tokens[t], f"it moved the logit most ({moves[t]:+.2f})")
        neg = next((i for i, k in enumerate(keys) if k in NEGATIONS), None)
        if neg is not None and neg != t:
            add("remove", neg, tr.tokens[neg], tr.tokens[neg], "the first negation")
    target = next((i for i, k in enumerate(keys) if k in OPPOSITES and not (i and keys[i - 1] in NEGATIONS)), None)
    why = "before the first sentiment word of the built-in list"
    if target is None:
        be = next((i for i, k in enumerate(keys) if k in TO_BE), None)
        if be is not None and be + 1 < len(keys) and keys[be + 1] not in NEGATIONS:
            target, why = be + 1, f"after {tr.tokens[be]!r}"
    if target is not None:
        add("insert", target, "not", tr.tokens[target], why)
    return out


@dataclass(frozen=True)
class Branch:
    original: Trace
    edited: Trace
    branch: int  # the first token (0-based) whose id differs; both read the same ids before it
    suffix: int  # how many tokens at the end both read alike (after the branch point)

    @property
    def identical(self) -> bool:
        return self.original.ids == self.edited.ids

    def positions(self) -> tuple[np.ndarray, np.ndarray]:
        """x positions of the original's and the edited's tokens on one axis: the prefix and the suffix
        line up; the changed stretch takes the room of the longer of its two versions."""
        b, s = self.branch, self.suffix
        room = max(self.original.n_steps, self.edited.n_steps) - b - s  # the changed stretch, the longer version
        return tuple(np.concatenate([np.arange(n - s), b + room + np.arange(s)]).astype(int)
                     for n in (self.original.n_steps, self.edited.n_steps))

    @property
    def share_change(self) -> np.ndarray:
        """(H,) each unit's change of its share of the verdict; sums to the change of the final logit."""
        return share_change(self.original, self.edited)

    def top_units(self, k: int = 5) -> list[dict]:
        d = self.share_change
        a0, a1 = account(self.original).unit_shares, account(self.edited).unit_shares
        return [{"unit": int(u), "change": float(d[u]), "before": float(a0[u]), "after": float(a1[u])}
                for u in np.argsort(-np.abs(d), kind="stable")[:k]]

    @property
    def final_change(self) -> float:
        return self.edited.prob - self.original.prob

    def sentence(self) -> str:
        """What the edit did, computed from the numbers."""
        o, n = self.original.prob, self.edited.prob
        if self.identical:
            return f"The model reads the same tokens, so nothing changes (P(positive) {o:.3f})."
        same = (f"The readings are identical up to token {self.branch - 1} ({self.original.tokens[self.branch - 1]!r})"
                if self.branch else "The readings differ from the first token")
        flip = ", so the verdict flips" if (o >= 0.5) != (n >= 0.5) else ", on the same side of 0.5"
        d_logit = account(self.edited).logit - account(self.original).logit
        top = self.top_units(1)[0]
        return (f"{same}; P(positive) after the last token goes from {o:.3f} to {n:.3f} ({n - o:+.3f}){flip}. "
                f"Of the change in logit ({d_logit:+.2f}), unit {top['unit']}'s share of the verdict changed most "
                f"({top['change']:+.2f}); {units_for_half(self.share_change)} of the {self.original.hidden_size} units "
                "make up half of the units' changes, by size.")

    def as_dict(self, k: int = 5) -> dict:
        xo, xe = self.positions()
        return {"tokens": list(self.original.tokens), "edited_tokens": list(self.edited.tokens),
                "branch": self.branch, "suffix": self.suffix,
                "original_step_probs": self.original.step_probs.tolist(),
                "edited_step_probs": self.edited.step_probs.tolist(),
                "original_positions": xo.tolist(), "edited_positions": xe.tolist(),
                "original_prob": self.original.prob, "edited_prob": self.edited.prob,
                "final_change": self.final_change, "top_units": self.top_units(k), "sentence": self.sentence()}


def branch_point(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """The first index where two id sequences differ (the shorter one's length if one starts the other)."""
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def branch_trace(model: SentimentRNN, tr: Trace, enc: Encoded) -> Branch:
    """The edited reading `enc` as a branch of the traced original `tr`."""
    b = branch_point(tr.ids, enc.ids)
    edited = resume(model, tr, enc, b)
    n = min(tr.n_steps, edited.n_steps) - b
    s = next((j for j in range(n) if tr.ids[-1 - j] != enc.ids[-1 - j]), n)
    return Branch(tr, edited, b, s)


def branch(model: SentimentRNN, vocab: Vocab, text: str, edited_text: str) -> Branch:
    """Read `text` and `edited_text` (cut to the model's max_len like `trace`), the second as a branch."""
    tr = trace(model, vocab, text)
    return branch_trace(model, tr, vocab.encode(edited_text, model.config.max_len))
