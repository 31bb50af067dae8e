"""Every training option, its default and its meaning, in one table for the command line and the
Train page.

`TRAIN_OPTIONS` lists them; `train_defaults(dataset)` gives every default for a dataset;
`build_recipe(values)` is the one path from option values to a `recipes.Recipe` (a ModelConfig
and a TrainConfig inside): a missing value takes its default, a bad one raises ValueError naming
the option. `python -m playground train` makes one flag per option from this table (`hidden_size`
-> `--hidden-size`), so `train --help` prints each with its default and meaning.

The defaults are the Train page's default run, measured to reach about 0.76 on Rotten Tomatoes
TEST in about 20 s of training on one thread of the 2-core machine: a GRU(64) reading the
6,824 RT TRAIN sentences plus the last 100 words of 6,000 IMDB TRAIN reviews. A time cap is a
serving policy of the page, not a default of the run (`max_seconds` is None here).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable, Mapping

from playground.core import data
from playground.core.models import ARCHS, ModelConfig
from playground.core.models import LIMITS as MODEL_LIMITS
from playground.training.recipes import Recipe
from playground.training.train import OPTIMIZERS, TRAIN_LIMITS, TrainConfig

DATASETS = tuple(data.DATASETS)  # ("imdb", "rt")
TRAIN_ROWS = {"imdb": 20_000, "rt": 6_824}  # TRAIN sizes under the split rule (tests check them)
MANY = 10_000_000  # upper bound of row counts: more than any dataset holds


@dataclass(frozen=True)
class Option:
    """One training option. `default` is a value or a function of the dataset name; `none` is
    (word, meaning) when None is a valid value, e.g. ("all", "every TRAIN row"): the word stands
    for None on the command line."""

    name: str  # python name; the command-line flag is --name-with-dashes
    type: type  # int, float, str, bool or tuple (a tuple of strings)
    default: object | Callable[[str], object]
    help: str  # one line: what it means
    group: str = "training"  # data | network | training | distillation
    choices: tuple | None = None
    limits: tuple[float, float] | None = None  # inclusive (lo, hi)
    none: tuple[str, str] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def default_for(self, dataset: str) -> object:
        return self.default(dataset) if callable(self.default) else self.default

    def format(self, value: object) -> str:
        """A value as a person (or the command line) would write it."""
        if value is None:
            return self.none[0] if self.none else "none"
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, tuple):
            return ",".join(value) or "none"
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)

    def default_text(self) -> str:
        """'64', or for a default that depends on the dataset: 'all for rt, 2000 for imdb'."""
        if not callable(self.default):
            return self.format(self.default)
        return ", ".join(f"{self.format(self.default_for(d))} for {d}" for d in sorted(DATASETS, reverse=True))

    def check(self, value: object) -> object:
        """The value in its canonical type, or ValueError naming the option."""
        if value is None:
            if self.type is tuple:
                return ()
            if self.none is None:
                raise ValueError(f"{self.name} must be given (None is not allowed)")
            return None
        if self.type is bool:
            if not isinstance(value, bool):
                raise ValueError(f"{self.name} must be true or false, not {value!r}")
            return value
        if self.type is tuple:
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, (list, tuple)) or not all(isinstance(t, str) for t in items):
                raise ValueError(f"{self.name} must be a list of model names or files, not {value!r}")
            return tuple(t.strip() for t in items if t.strip() and t.strip().lower() != "none")
        if self.type is str:
            if not isinstance(value, str):
                raise ValueError(f"{self.name} must be text, not {value!r}")
            if self.choices and value not in self.choices:
                raise ValueError(f"{self.name} must be one of {', '.join(self.choices)}, not {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
            raise ValueError(f"{self.name} must be a number, not {value!r}")
        if self.type is int:
            if value != int(value):
                raise ValueError(f"{self.name} must be a whole number, not {value!r}")
            value = int(value)
        else:
            value = float(value)
        if self.limits and not self.limits[0] <= value <= self.limits[1]:
            lo, hi = self.limits
            raise ValueError(f"{self.name} must be between {lo:g} and {hi:g}, not {value!r}")
        return value

    def parse(self, text: str) -> object:
        """A command-line string -> a value of this option (ValueError if it is not one)."""
        if self.none and text.strip().lower() in (self.none[0], "none"):
            return None
        if self.type is int:
            return int(text)
        if self.type is float:
            return float(text)
        if self.type is tuple:
            return self.check(text)
        return text


def _per_dataset(**by_dataset) -> Callable[[str], object]:
    def default(dataset: str) -> object:
        return by_dataset[dataset]
    return default


_O = Option
TRAIN_OPTIONS: tuple[Option, ...] = (
    # --- data ---
    _O("dataset", str, "rt", "dataset trained on; validation and TEST come from it", "data", choices=DATASETS),
    _O("limit", int, _per_dataset(rt=None, imdb=2000), "train on a seeded sample of this many TRAIN rows",
       "data", limits=(1, MANY), none=("all", "every TRAIN row")),
    _O("mix", str, _per_dataset(rt="imdb", imdb=None), "also train on this other dataset's TRAIN rows",
       "data", choices=DATASETS, none=("none", "no other dataset")),
    _O("mix_limit", int, _per_dataset(rt=6000, imdb=None), "mix in a seeded sample of this many texts",
       "data", limits=(1, MANY), none=("all", "every TRAIN row of the mixed-in dataset")),
    _O("mix_max_len", int, 100, "cut mixed-in texts to their last N tokens", "data",
       limits=MODEL_LIMITS["max_len"], none=("none", "the same as max_len")),
    _O("mix_sentences", int, 0,
       "mix in up to N sentences per text (weakly labelled) instead of whole texts; 0 = whole",
       "data", limits=(0, 1000)),
    _O("primary_repeat", int, 1,
       "read the dataset's TRAIN rows this many times per epoch (weighs them against the mix)",
       "data", limits=(1, 100)),
    _O("augment", int, 0,
       "also train on this many templated everyday sentences (negation, contrast, meals, products, services)",
       "data", limits=(0, 200_000)),
    _O("val_augment", int, 0,
       "also validate on this many other templated sentences (none trained on): the kept weights are the best "
       "on both", "data", limits=(0, 20_000)),
    _O("val_fraction", float, 0.1,
       "share of the TRAIN rows held out for validation; 0 = none (the final weights are kept)",
       "data", limits=(0.0, 0.9)),
    _O("vocab_size", int, 20000, "most frequent words kept in the vocabulary", "data",
       limits=MODEL_LIMITS["vocab_size"]),
    _O("min_freq", int, 2, "a word enters the vocabulary if it occurs at least this often", "data", limits=(1, 1000)),
    _O("max_len", int, 60, "tokens read per text (its end is kept)", "data", limits=MODEL_LIMITS["max_len"]),
    _O("eval_other", bool, False, "also measure accuracy on the other dataset's TEST split", "data"),
    # --- network ---
    _O("arch", str, "gru", "recurrent cell", "network", choices=ARCHS),
    _O("embed_dim", int, 64, "size of the word vectors", "network", limits=MODEL_LIMITS["embed_dim"]),
    _O("hidden_size", int, 64, "units of the recurrent layer", "network", limits=MODEL_LIMITS["hidden_size"]),
    _O("layers", int, 1, "stacked recurrent layers", "network", limits=MODEL_LIMITS["num_layers"]),
    _O("dropout", float, 0.5, "dropout on the word vectors and the last state (and between layers)", "network",
       limits=MODEL_LIMITS["dropout"]),
    _O("init_from", str, None, "start from this model (name or file): its vocabulary and architecture", "network",
       none=("none", "a fresh model")),
    # --- training ---
    _O("optimizer", str, "adam", "update rule (sgd has momentum 0.9)", choices=OPTIMIZERS),
    _O("lr", float, 2e-3, "learning rate", limits=TRAIN_LIMITS["lr"]),
    _O("batch_size", int, 64, "texts per batch", limits=TRAIN_LIMITS["batch_size"]),
    _O("epochs", int, 4, "passes over the training rows", limits=TRAIN_LIMITS["epochs"]),
    _O("seed", int, 0, "random seed: sampling, initial weights, batch order, dropout", limits=TRAIN_LIMITS["seed"]),
    _O("ema", float, 0.99, "validate and keep a moving average of the weights with this decay; 0 = off",
       limits=(0.0, 0.9999)),
    _O("evals_per_epoch", int, 4, "validation passes per epoch (the best is kept)", limits=(1, 100)),
    _O("word_dropout", float, 0.0, "while training, read each token as unknown with this probability",
       limits=(0.0, 0.5)),
    _O("weight_decay", float, 0.0, "L2 weight decay", limits=TRAIN_LIMITS["weight_decay"]),
    _O("clip", float, 5.0, "clip the gradient norm to this; 0 = off", limits=TRAIN_LIMITS["clip"]),
    _O("recurrent_norm", float, 0.0,
       "after every step, scale each recurrent weight matrix down to at most this largest singular value; "
       "0 = off", limits=TRAIN_LIMITS["recurrent_norm"]),
    _O("recurrent_radius", float, 0.0,
       "after every step, scale each gate's recurrent weight matrix down to at most this spectral radius "
       "(largest |eigenvalue|); 0 = off", limits=TRAIN_LIMITS["recurrent_radius"]),
    _O("threads", int, 1, "torch threads while training", limits=(1, 64)),
    _O("max_seconds", float, None, "time cap in seconds, end to end: reading the data, training (the best "
       "weights are kept), TEST; on the command line from the process's start",
       limits=(0.001, 1e7), none=("none", "no time cap")),
    # --- distillation ---
    _O("teachers", tuple, (),
       "models (names or files, comma-separated) whose mean probability is blended into the labels",
       "distillation"),
    _O("teacher_weight", float, 0.5, "weight of the teachers' mean probability in each training label", "distillation",
       limits=(0.0, 1.0)),
    _O("mix_teacher_weight", float, None, "the same for the mixed-in rows", "distillation", limits=(0.0, 1.0),
       none=("none", "the same as teacher_weight")),
)
OPTIONS = {o.name: o for o in TRAIN_OPTIONS}


def train_defaults(dataset: str) -> dict[str, object]:
    """Every option's default for `dataset` (some differ: rt mixes in IMDB, imdb samples 2,000 rows)."""
    data.check_dataset(dataset)
    return {o.name: o.default_for(dataset) for o in TRAIN_OPTIONS}


def check_values(values: Mapping[str, object]) -> dict[str, object]:
    """All options, checked: the given values, and the defaults of the chosen dataset for the rest."""
    unknown = sorted(set(values) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown training option(s): {', '.join(unknown)}")
    dataset = OPTIONS["dataset"].check(values.get("dataset", OPTIONS["dataset"].default))
    v = {**train_defaults(dataset), **values, "dataset": dataset}
    v = {name: OPTIONS[name].check(v[name]) for name in OPTIONS}
    if v["mix"] == dataset:
        raise ValueError(f"mix must name another dataset than {dataset!r} (or none)")
    # a "sample" of every row is every row: the same recipe as None, and the card says so
    if v["limit"] is not None and v["limit"] >= TRAIN_ROWS[dataset]:
        v["limit"] = None
    if v["mix"] and v["mix_limit"] is not None and v["mix_limit"] >= TRAIN_ROWS[v["mix"]]:
        v["mix_limit"] = None
    return v


def build_recipe(values: Mapping[str, object]) -> Recipe:
    """The one path from option values (missing ones take their defaults) to a Recipe."""
    v = check_values(values)
    model = ModelConfig(arch=v["arch"], vocab_size=v["vocab_size"], embed_dim=v["embed_dim"],
                        hidden_size=v["hidden_size"], num_layers=v["layers"], dropout=v["dropout"],
                        max_len=v["max_len"])
    train = TrainConfig(epochs=v["epochs"], batch_size=v["batch_size"], lr=v["lr"], optimizer=v["optimizer"],
                        weight_decay=v["weight_decay"], clip=v["clip"], seed=v["seed"], threads=v["threads"],
                        max_seconds=v["max_seconds"], evals_per_epoch=v["evals_per_epoch"],
                        word_dropout=v["word_dropout"], ema=v["ema"],
                        recurrent_norm=v["recurrent_norm"], recurrent_radius=v["recurrent_radius"])
    return Recipe(dataset=v["dataset"], model=model, train=train, mix=v["mix"], mix_max_len=v["mix_max_len"],
                  mix_sentences=v["mix_sentences"], mix_limit=v["mix_limit"], val_fraction=v["val_fraction"],
                  min_freq=v["min_freq"], train_limit=v["limit"], eval_other=v["eval_other"],
                  init_from=v["init_from"], primary_repeat=v["primary_repeat"], teachers=v["teachers"],
                  teacher_weight=v["teacher_weight"], mix_teacher_weight=v["mix_teacher_weight"],
                  augment=v["augment"], val_augment=v["val_augment"])
