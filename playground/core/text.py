"""Tokenizer and vocabulary. Any Unicode string goes in; nothing ever raises.

Tokens are word runs (letters/digits, inner apostrophes kept: "don't"), `!` and `?`, and any
other single symbol that is not ASCII punctuation (emoji, CJK punctuation, ...). Lookup is
case-insensitive; the surface form is kept for display. HTML line breaks from IMDB (`<br />`)
are treated as spaces, control and format characters as spaces too.
"""
from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
MAX_CHARS = 1_000_000  # longer input: only its last MAX_CHARS characters are read
MAX_TOKEN_CHARS = 40  # a longer run of letters is shown shortened ("xxxx…"); it is OOV anyway

_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
# control, format (zero-width, bidi marks), surrogate, line/paragraph separators
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e"
                      "\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]")
_DROP_PUNCT = set(string.punctuation) - {"!", "?"}
# a word: letters/digits/underscore (any script), inner ' or ’ joins ("don't", "it’s")
_TOKEN = re.compile(r"\w+(?:['’]\w+)*|\S", re.UNICODE)


def _clean(text: str) -> str:
    """Normalise: NFKC, <br> and control/format/surrogate characters to spaces."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = _BR.sub(" ", text)
    text = _CONTROL.sub(" ", text)
    return unicodedata.normalize("NFKC", text)


def tokenize(text: str) -> list[str]:
    """Surface tokens of `text` (original case) in reading order."""
    cleaned = _clean(text[-MAX_CHARS:] if isinstance(text, str) else text)
    out = []
    for m in _TOKEN.finditer(cleaned):
        tok = m.group(0)
        if len(tok) == 1 and tok in _DROP_PUNCT:
            continue
        if len(tok) == 1 and unicodedata.category(tok).startswith(("P", "Z")) and tok not in "!?":
            continue  # other punctuation and odd spaces carry no sentiment here
        if len(tok) > MAX_TOKEN_CHARS:
            tok = tok[: MAX_TOKEN_CHARS - 1] + "…"
        out.append(tok)
    return out


def key(token: str) -> str:
    """Vocabulary key of a surface token (case-folded, curly apostrophe straightened)."""
    return token.casefold().replace("’", "'")


@dataclass(frozen=True)
class Encoded:
    """A text mapped to ids, at most `max_len` tokens (the END of the text is kept)."""

    ids: tuple[int, ...]
    tokens: tuple[str, ...]  # surface form, same length as ids
    oov: tuple[bool, ...]
    n_tokens_total: int  # tokens before cutting

    @property
    def truncated(self) -> bool:
        return self.n_tokens_total > len(self.ids)

    @property
    def n_dropped(self) -> int:
        return self.n_tokens_total - len(self.ids)


class Vocab:
    """Maps token keys to ids; 0 is padding, 1 is out-of-vocabulary."""

    def __init__(self, itos: Sequence[str]):
        itos = list(itos)
        if len(itos) < 2 or itos[0] != PAD or itos[1] != UNK:
            raise ValueError("vocabulary must start with <pad>, <unk>")
        if len(set(itos)) != len(itos):
            raise ValueError("vocabulary has duplicate entries")
        self.itos = itos
        self.stoi = {w: i for i, w in enumerate(itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return key(token) in self.stoi

    @classmethod
    def build(cls, texts: Iterable[str], max_size: int = 20000, min_freq: int = 2) -> "Vocab":
        """Most frequent keys (ties broken alphabetically, so builds are reproducible)."""
        counts = Counter(key(t) for text in texts for t in tokenize(text))
        ranked = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
        return cls([PAD, UNK] + ranked[: max(0, max_size - 2)])

    def encode(self, text: str, max_len: int | None = None) -> Encoded:
        toks = tokenize(text)
        n_total = len(toks)
        if max_len is not None and max_len > 0 and n_total > max_len:
            toks = toks[-max_len:]
        ids = tuple(self.stoi.get(key(t), UNK_ID) for t in toks)
        return Encoded(ids=ids, tokens=tuple(toks), oov=tuple(i == UNK_ID for i in ids), n_tokens_total=n_total)

    def encode_ids(self, text: str, max_len: int | None = None) -> list[int]:
        return list(self.encode(text, max_len).ids)
