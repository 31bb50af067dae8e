"""Checking a model file's card (its JSON description: dataset, accuracy, layers, history...).

A card comes from a file, so every field is checked for type and size before the app reads it.
The policy (`check_card`):
- a field the app reads or shows in a table (dataset, name, trained_on, test_split, the
  accuracies and losses, layers, history, config, ...) with the wrong type or out of its bounds
  makes the file refused (ValueError; zoo turns it into ModelFileError);
- a `dataset` that is a string but not one of this app's datasets is dropped, with a note (the
  model still reads text; it just has no TEST sample here);
- an unknown field is kept if it is a JSON scalar (a short string, a finite number, true/false,
  null) and dropped with a note otherwise; at most MAX_FIELDS fields are kept;
- the card's JSON text is at most MAX_CARD_CHARS characters (checked before it is parsed).
"""
from __future__ import annotations

import math

from playground.core.data import DATASET_TITLES

MAX_CARD_CHARS = 256 * 1024  # a 20-epoch card with its history is ~10 KB
MAX_FIELDS = 80
SHORT = 200  # characters in an unknown field's string, a key, a table cell
STRINGS = {"name": 100, "arch": 20, "trained_on": 500, "test_split": 200, "status": 40, "status_message": 500,
           "command": 2000, "created": 40, "torch": 60, "machine": 200, "mix": 20, "validated_weights": 40,
           "init_from": 100, "base_command": 2000}
FRACTIONS = ("test_accuracy", "val_accuracy", "base_test_accuracy")  # finite, in [0, 1]
NUMBERS = ("test_loss", "test_margin", "train_seconds", "total_seconds", "best_at", "teacher_weight",
           "mix_teacher_weight")
INTEGERS = ("test_n", "test_of", "n_train", "n_val", "best_epoch", "seed", "total_params", "mix_sentences",
            "primary_repeat", "min_freq", "mix_max_len")
SCALAR_DICTS = {"config": 20, "train_config": 40, "other_test_accuracy": 4, "augment": 12}  # field: most keys
MAX_LAYERS, MAX_LAYER_KEYS = 16, 8
MAX_HISTORY, MAX_HISTORY_KEYS = 2_000, 16
MAX_TEACHERS = 16


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_scalar(v, max_chars: int = SHORT) -> bool:
    return v is None or isinstance(v, bool) or _is_number(v) or (isinstance(v, str) and len(v) <= max_chars)


def _small_dict(v, max_keys: int, ok) -> bool:
    return (isinstance(v, dict) and len(v) <= max_keys
            and all(isinstance(k, str) and len(k) <= 40 and ok(x) for k, x in v.items()))


def _field_ok(key: str, v) -> bool:
    """Whether a known field's value has the type and size the app expects (None: absent)."""
    if key in STRINGS:
        return v is None or (isinstance(v, str) and len(v) <= STRINGS[key])
    if key in FRACTIONS:
        return v is None or (_is_number(v) and 0 <= v <= 1)
    if key in NUMBERS:
        return v is None or _is_number(v)
    if key in INTEGERS:
        return v is None or (isinstance(v, int) and not isinstance(v, bool) and abs(v) <= 10**12)
    if key in SCALAR_DICTS:
        return _small_dict(v, SCALAR_DICTS[key], _is_scalar)
    if key == "layers":
        cell = lambda x: (isinstance(x, str) and len(x) <= SHORT) or (  # noqa: E731
            isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= 10**12)
        return isinstance(v, list) and len(v) <= MAX_LAYERS and all(_small_dict(r, MAX_LAYER_KEYS, cell) for r in v)
    if key == "history":
        return isinstance(v, list) and len(v) <= MAX_HISTORY and all(
            _small_dict(r, MAX_HISTORY_KEYS, lambda x: x is None or _is_number(x)) for r in v)
    if key == "teachers":
        return isinstance(v, list) and len(v) <= MAX_TEACHERS and all(isinstance(t, str) and len(t) <= SHORT
                                                                      for t in v)
    raise KeyError(key)


KNOWN = (*STRINGS, *FRACTIONS, *NUMBERS, *INTEGERS, *SCALAR_DICTS, "layers", "history", "teachers")


def _describe(v) -> str:
    kind = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    return kind.get(type(v), "a number")


def check_card(card) -> tuple[dict, list[str]]:
    """(the card to keep, notes on what was dropped); ValueError says why a card is refused."""
    if not isinstance(card, dict):
        raise ValueError("The model file's card is not a JSON object.")
    kept, notes, dropped = {}, [], []
    for key, v in card.items():
        if key == "dataset":
            if v is None or (isinstance(v, str) and v in DATASET_TITLES):
                kept[key] = v
            elif isinstance(v, str):
                notes.append("its card names a dataset this app does not have, so it has no TEST sample here")
            else:
                raise ValueError(f"The model file's card is invalid: 'dataset' is {_describe(v)}, not a dataset name.")
        elif key in KNOWN:
            if not _field_ok(key, v):
                raise ValueError(f"The model file's card is invalid: {key!r} is {_describe(v)} of the wrong type "
                                 "or size.")
            kept[key] = v
        elif len(kept) < MAX_FIELDS and isinstance(key, str) and len(key) <= 40 and _is_scalar(v):
            kept[key] = v
        else:
            dropped.append(key)
    if dropped:
        notes.append(f"{len(dropped)} unknown or oversized card field{'s were' if len(dropped) > 1 else ' was'} "
                     "dropped")
    return kept, notes
