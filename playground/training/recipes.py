"""Build a trained model from the datasets: vocabulary, splits, training, TEST evaluation, card.

Shared by `python -m playground train` (which rebuilt the bundled models) and the Train page;
both make their Recipe with `options.build_recipe`, from the one table of options and defaults.
"""
from __future__ import annotations

import datetime as _dt
import functools
import platform
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from playground.core import data
from playground.core.models import ARCH_TITLES, ARCHS, ModelConfig, build
from playground.core.text import Vocab, tokenize
from playground.core.zoo import TrainedModel, make_card, quantize_for_storage
from playground.evaluation import stats
from playground.evaluation.heldout import HeldoutSample, heldout_sample, sample_rows
from playground.training.train import EncodedSet, Progress, TrainConfig, Trainer, predict_probs


@dataclass(frozen=True)
class Recipe:
    dataset: str  # primary: validation and TEST come from it
    model: ModelConfig  # vocab_size here is the maximum; the built vocabulary may be smaller
    train: TrainConfig
    mix: str | None = None  # another dataset whose TRAIN rows are added to training
    mix_max_len: int | None = None  # cut the mixed-in texts to this many tokens (their end)
    mix_sentences: int = 0  # > 0: mix in up to this many sentences per text instead of whole texts
    mix_limit: int | None = None  # mix in only this many texts (a seeded sample)
    val_fraction: float = 0.1
    min_freq: int = 2
    train_limit: int | None = None  # use only N primary TRAIN rows, sampled with the seed (quick runs)
    eval_other: bool = True  # also measure accuracy on the other dataset's TEST split
    init_from: str | None = None  # start from this model file (its vocabulary and architecture)
    primary_repeat: int = 1  # read the primary TRAIN rows this many times per epoch (vs the mix)
    teachers: tuple[str, ...] = ()  # distillation: models (names or files) whose averaged
    teacher_weight: float = 0.5  # probability is blended into every training label with this weight
    mix_teacher_weight: float | None = None  # the same for the mixed-in rows (None: teacher_weight)
    augment: int = 0  # add this many templated everyday sentences (playground.augment), true labels
    val_augment: int = 0  # validate on this many more templated sentences (another seed, none trained on)


def augmented(recipe: Recipe):
    """The recipe's templated sentences (playground.augment), or None. Read-only: the same object
    serves preparing the data and writing the card."""
    return _augmented(recipe.augment, recipe.train.seed) if recipe.augment else None


VAL_SEED_OFFSET = 7919  # the templated validation sentences' seed: the training seed plus this


def val_augmented(recipe: Recipe):
    """The recipe's templated validation sentences, or None: generated with another seed, and none
    equal to a sentence trained on (or to a held-out everyday one), so they measure what the
    templates taught rather than what was memorised."""
    if not recipe.val_augment:
        return None
    from playground.training import augment

    aug = augmented(recipe)
    exclude = augment.heldout_keys() | ({augment.norm_key(t) for t in aug.texts} if aug else set())
    return augment.generate(recipe.val_augment, recipe.train.seed + VAL_SEED_OFFSET, exclude=exclude)


@functools.lru_cache(maxsize=2)
def _augmented(n: int, seed: int):
    from playground.training import augment

    return augment.generate(n, seed)  # 60,000 sentences take ~4 s: generated once per run, not twice


def prepare(recipe: Recipe, vocab: Vocab | None = None) -> tuple[Vocab, EncodedSet, EncodedSet]:
    """Vocabulary (from every text trained on, unless given) and encoded train/validation sets."""
    data.check_dataset(recipe.dataset)
    primary = data.load(recipe.dataset, "train")
    texts, labels = list(primary.texts), primary.labels
    if recipe.train_limit:  # a seeded sample: the files are sorted by label, so never "the first N"
        keep = sample_rows(len(texts), recipe.train_limit, recipe.train.seed)
        texts, labels = [texts[i] for i in keep], labels[keep]
    extra = data.load(data.check_dataset(recipe.mix), "train") if recipe.mix else None
    tr_idx, val_idx = data.train_val_split(len(texts), recipe.val_fraction, recipe.train.seed)
    mix_texts, mix_labels = mix_rows(recipe, extra) if extra is not None else ([], None)
    aug = augmented(recipe)
    if vocab is None:  # from the texts trained on (whole mixed-in texts, or the sample of them)
        vocab_mix = extra.texts if extra is not None and not recipe.mix_limit else mix_texts
        vocab = Vocab.build([texts[i] for i in tr_idx] + list(vocab_mix) + (aug.texts if aug else []),
                            max_size=recipe.model.vocab_size, min_freq=recipe.min_freq)
    ml = recipe.model.max_len
    full = EncodedSet.from_texts(vocab, texts, labels, ml)
    train_set, val_set = full.subset(tr_idx), full.subset(val_idx)
    val_aug = val_augmented(recipe)
    if val_aug is not None and len(val_set):  # checkpoints are chosen on both together
        val_set = val_set + EncodedSet.from_texts(vocab, val_aug.texts, val_aug.labels, ml)
    if recipe.teachers:  # validation keeps the true labels
        train_set.labels = soft_labels(recipe, [texts[i] for i in tr_idx], train_set.labels, recipe.teacher_weight)
    train_set = train_set.subset(np.tile(np.arange(len(train_set)), max(1, recipe.primary_repeat)))
    if extra is not None:
        mix_set = EncodedSet.from_texts(vocab, mix_texts, mix_labels, recipe.mix_max_len or ml)
        if recipe.teachers:
            w = recipe.teacher_weight if recipe.mix_teacher_weight is None else recipe.mix_teacher_weight
            mix_set.labels = soft_labels(recipe, list(mix_texts), mix_set.labels, w)
        train_set = train_set + mix_set
    if aug is not None:  # true labels, also under distillation: the teachers misread negation
        train_set = train_set + EncodedSet.from_texts(vocab, aug.texts, aug.labels, ml)
    return vocab, train_set, val_set


def mix_rows(recipe: Recipe, extra) -> tuple[list[str], np.ndarray]:
    """The other dataset's rows that are mixed in: all, a seeded sample, or their sentences."""
    mix_texts, mix_labels = extra.texts, extra.labels
    if recipe.mix_limit:
        keep = sample_rows(len(mix_texts), recipe.mix_limit, recipe.train.seed + 1)
        mix_texts, mix_labels = [mix_texts[i] for i in keep], mix_labels[keep]
    if recipe.mix_sentences:
        mix_texts, mix_labels = sentences_of(mix_texts, mix_labels, recipe.mix_sentences, recipe.train.seed)
    return mix_texts, mix_labels


def soft_labels(recipe: Recipe, texts: list[str], labels: np.ndarray, w: float) -> np.ndarray:
    """Distillation targets: (1 - w) * label + w * mean teacher probability. Each teacher reads
    the texts with its own vocabulary and maximum length."""
    from playground.core.zoo import resolve

    probs = []
    for name in recipe.teachers:
        t = resolve(name)
        dummy = np.zeros(len(texts), dtype=np.float32)
        probs.append(predict_probs(t.model, EncodedSet.from_texts(t.vocab, texts, dummy, t.config.max_len)))
    return ((1 - w) * labels.astype(np.float64) + w * np.mean(probs, axis=0)).astype(np.float32)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|<br\s*/?>", re.IGNORECASE)


def sentences_of(texts, labels, per_text: int, seed: int = 0, min_tokens: int = 4) -> tuple[list[str], np.ndarray]:
    """Up to `per_text` sentences of each text, each labelled like its text (weak labels).
    Long reviews then teach the model short, single-sentence inputs like the ones people type."""
    rng = np.random.default_rng(seed)
    out_t, out_y = [], []
    for text, y in zip(texts, labels):
        sents = [s for s in _SENTENCE_END.split(text) if s and len(tokenize(s)) >= min_tokens]
        if len(sents) > per_text:
            keep = np.sort(rng.choice(len(sents), per_text, replace=False))
            sents = [sents[i] for i in keep]
        out_t.extend(sents)
        out_y.extend([y] * len(sents))
    return out_t, np.asarray(out_y, dtype=np.int64)


# Seconds of a capped run kept for what follows the TEST measurement (the card, the report, saving).
FINISH_S = 1.0


class Job:
    """One training run, in steps a UI can drive: prepare() -> events() -> finish().

    `run()` below chains them for the command line; the Train page calls them one by one so it
    can show `trainer.history` live and trace a probe sentence with `model` after every epoch."""

    def __init__(self, recipe: Recipe, name: str, command: str = "",
                 should_stop: Callable[[], bool] | None = None, test_limit: int | None = None,
                 deadline: float | None = None):
        self.recipe, self.name, self.command, self.should_stop = recipe, name, command, should_stop
        self.test_limit = test_limit  # measure on a seeded sample of this many TEST rows (None: all)
        # time.perf_counter() by which the result must be ready: the cap end to end (reading the data,
        # training with its validations, TEST). None: only recipe.train.max_seconds, for training alone.
        self.deadline = deadline
        self.base = None
        self.t0 = time.perf_counter()
        self.test: HeldoutSample | None = None  # after finish(): the TEST rows, and the probability of those read
        self.times: dict[str, float] = {}  # seconds per phase: data, training, TEST

    def prepare(self, prepared: tuple[Vocab, EncodedSet, EncodedSet] | None = None) -> "Job":
        """Vocabulary, data and a fresh model; `prepared` reuses the output of `prepare()` for
        this recipe's data (a race trains several cells on the same data)."""
        recipe = self.recipe
        t0 = time.perf_counter()
        if prepared is not None and recipe.init_from:
            raise ValueError("prepared data cannot be combined with init_from")
        if recipe.init_from:  # transfer: keep the base model's vocabulary and architecture
            from playground.core.zoo import resolve

            self.base = resolve(recipe.init_from)
            self.config = ModelConfig(**{**self.base.config.to_dict(), "dropout": recipe.model.dropout,
                                         "max_len": recipe.model.max_len})
            self.model = build(self.config, seed=recipe.train.seed)
            self.model.load_state_dict(self.base.model.state_dict())
            self.vocab, train_set, val_set = prepare(recipe, vocab=self.base.vocab)
        else:
            self.vocab, train_set, val_set = prepared or prepare(recipe)
            self.config = ModelConfig(**{**recipe.model.to_dict(), "vocab_size": len(self.vocab)})
            self.model = build(self.config, seed=recipe.train.seed)
        self.n_train, self.n_val = len(train_set), len(val_set)
        self.times["data"] = time.perf_counter() - t0
        tc = recipe.train
        if self.deadline is not None:  # training gets what reading the data left of the cap
            tc = replace(tc, max_seconds=max(0.5, self.deadline - time.perf_counter() - FINISH_S))
        self.trainer = Trainer(self.model, train_set, val_set, tc, should_stop=self.should_stop,
                               reserve_rows=self.test_rows())
        return self

    @property
    def test_correct(self) -> np.ndarray | None:
        """After finish(): (n,) bool, right or wrong on each TEST row (unread rows: False; see test.done)."""
        return None if self.test is None else self.test.correct()

    def test_rows(self) -> int:
        n = len(data.load(self.recipe.dataset, "test"))
        return min(n, self.test_limit) if self.test_limit else n

    def events(self) -> Iterator[Progress]:
        self._run = self.trainer.run()
        for ev in self._run:
            self.times["training"] = ev.elapsed
            yield ev
        self.times["training"] = self.trainer.seconds

    def close(self) -> None:
        """End a run that was left unfinished (a UI stopped iterating `events()`): the trainer
        marks it stopped, validates the partial epoch and loads the best weights. Idempotent."""
        run = getattr(self, "_run", None)
        if run is not None:
            run.close()

    def finish(self, deadline: float | None = None) -> TrainedModel:
        """Best weights, rounded as a file stores them, measured on TEST (the seeded sample of
        `test_limit` rows, or all), with a card. With a `deadline` (time.perf_counter() seconds;
        default the Job's own) TEST is read in a random order until then: the accuracy is on the
        rows read, a random sample, and the card says how many and its 95% interval; the other
        dataset's TEST only when all of this one's was read and, at its pace, the other fits too."""
        self.close()
        deadline = self.deadline if deadline is None else deadline
        recipe, model, cfg, trainer, base = self.recipe, self.model, self.config, self.trainer, self.base
        quantize_for_storage(model)  # evaluate exactly the weights a saved file holds
        with torch.no_grad():
            t0 = time.perf_counter()
            self.test = heldout_sample(self.vocab, recipe.dataset, cfg.max_len, self.test_limit)
            self.test.read(model, deadline)
            pace = (time.perf_counter() - t0) / max(1, self.test.encoded.tokens(self.test.done))  # s per token
            test_loss, test_acc = self.test.loss_and_accuracy()
            other = "rt" if recipe.dataset == "imdb" else "imdb"
            other_acc = None
            if recipe.eval_other and not self.test.cut:
                o = heldout_sample(self.vocab, other, cfg.max_len)
                if deadline is None or time.perf_counter() + 1.25 * pace * o.encoded.tokens() < deadline:
                    o.read(model, deadline)
                    other_acc = o.loss_and_accuracy()[1] if o.n_read == o.n else None  # a full measure or none
        self.times["TEST"] = time.perf_counter() - t0
        n_all, n_read = len(data.load(recipe.dataset, "test")), self.test.n_read
        margin = stats.accuracy_margin(test_acc, n_read, n_all)
        sample = "" if n_read == n_all else (f", a seeded random sample of {n_read:,}, ±{100 * margin:.1f} points (95%)"
                                             + (" (the time cap ended the measurement)" if self.test.cut else ""))
        card = make_card(
            cfg, name=self.name, arch=cfg.arch, dataset=recipe.dataset,
            trained_on=(f"{recipe.dataset} TRAIN" + (f" (sample of {recipe.train_limit})" if recipe.train_limit else "")
                        + (f" minus {recipe.val_fraction:.0%} validation" if self.n_val else ", no validation")
                        + (f" (validation also {recipe.val_augment:,} other templated sentences)"
                           if recipe.val_augment and self.n_val else "")
                        + (f" + {recipe.mix} TRAIN" if recipe.mix else "")
                        + (f" (sample of {recipe.mix_limit})" if recipe.mix and recipe.mix_limit else "")
                        + (f" + {recipe.augment:,} templated everyday sentences" if recipe.augment else "")
                        + (f", starting from {base.name} ({base.card.get('trained_on', '?')})" if base else "")),
            init_from=base.name if base else None,
            base_command=base.card.get("command") if base else None,
            base_test_accuracy=base.card.get("test_accuracy") if base else None,
            n_train=self.n_train, n_val=self.n_val,
            test_accuracy=round(test_acc, 4), test_loss=round(test_loss, 4), test_n=n_read, test_of=n_all,
            test_margin=round(margin, 4),
            test_split=f"{recipe.dataset} TEST (rows % 5 == 0) of {n_all:,}{sample}, n={n_read}",
            other_test_accuracy={other: round(other_acc, 4)} if other_acc is not None else {},
            val_accuracy=None if trainer.best_val_acc is None else round(trainer.best_val_acc, 4),
            best_epoch=trainer.best_epoch,
            best_at=None if trainer.best_at is None else round(trainer.best_at, 4),  # a history row's epoch
            validated_weights="moving average" if trainer.averaged else "live",
            status=trainer.status, status_message=trainer.message,
            train_seconds=round(trainer.seconds, 1), total_seconds=round(time.perf_counter() - self.t0, 1),
            seed=recipe.train.seed, train_config=recipe.train.to_dict(),
            mix=recipe.mix, mix_max_len=recipe.mix_max_len, mix_sentences=recipe.mix_sentences,
            primary_repeat=recipe.primary_repeat, min_freq=recipe.min_freq,
            teachers=[Path(t).stem for t in recipe.teachers],
            teacher_weight=recipe.teacher_weight if recipe.teachers else None,
            mix_teacher_weight=recipe.mix_teacher_weight if recipe.teachers else None,
            **({"augment": augment_card(recipe)} if recipe.augment else {}),
            history=[{k: (round(v, 4) if isinstance(v, float) else v) for k, v in h.items()} for h in trainer.history],
            command=self.command, created=_dt.date.today().isoformat(),
            torch=torch.__version__, machine=f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        )
        return TrainedModel(name=self.name, model=model, vocab=self.vocab, card=card, source="session")


def augment_card(recipe: Recipe) -> dict | None:
    """What the card records of the templated sentences: how many of each kind, the grammar's version."""
    aug = augmented(recipe)
    if aug is None:
        return None
    summary = aug.summary()
    return ({k: v for k, v in summary.items() if k != "kinds"} | summary["kinds"]
            | ({"validation": recipe.val_augment} if recipe.val_augment else {}))


class Race:
    """Several cells trained one after another with the same recipe, data and seed, so their
    curves can be compared. The data (vocabulary, tokenised sets) is prepared once.

        race = Race(recipe, names={"rnn": "a", "lstm": "b", "gru": "c"}).prepare()
        for job in race.jobs():      # each a prepared Job: events(), then finish()
            ...
    """

    def __init__(self, recipe: Recipe, names: dict[str, str], command: str = "",
                 should_stop: Callable[[], bool] | None = None, test_limit: int | None = None):
        unknown = sorted(set(names) - set(ARCHS))
        if not names or unknown:
            not_these = f", not {', '.join(unknown)}" if unknown else ""
            raise ValueError(f"a race needs cells from {', '.join(ARCHS)}{not_these}")
        if recipe.init_from:
            raise ValueError("a race starts every cell from scratch (no init_from)")
        self.recipe, self.names, self.command, self.should_stop = recipe, dict(names), command, should_stop
        self.test_limit = test_limit
        self.prepared: tuple[Vocab, EncodedSet, EncodedSet] | None = None

    def prepare(self) -> "Race":
        self.prepared = prepare(self.recipe)
        return self

    def jobs(self, deadlines: Callable[[int], float | None] | None = None) -> Iterator[Job]:
        """Each cell's prepared Job in turn; `deadlines(i)`, if given, is cell i's deadline
        (time.perf_counter() seconds, for its training and TEST; see Job), asked for just before
        that cell starts."""
        if self.prepared is None:
            self.prepare()
        for i, (arch, name) in enumerate(self.names.items()):
            r = replace(self.recipe, model=replace(self.recipe.model, arch=arch))
            yield Job(r, name, self.command, self.should_stop, self.test_limit,
                      deadline=None if deadlines is None else deadlines(i)).prepare(prepared=self.prepared)


class Finished:
    """What a race keeps of a finished cell's Job: its config, TEST sample and trainer's summary, so that
    the Job (optimizer state, weight copies) is freed before the next cell trains."""

    def __init__(self, job: Job):
        t = job.trainer
        self.config, self.test = job.config, job.test
        self.trainer = self  # cut_sentences reads job.trainer.status etc.
        self.status, self.history, self.best_at = t.status, t.history, t.best_at


def cut_sentences(jobs, epochs: int, race: bool = False) -> list[str]:
    """One sentence per phase a time cap cut short, for each (finished) job."""
    out = []
    for j in jobs:
        who = f"{ARCH_TITLES[j.config.arch]}: " if race else ""
        tr = j.trainer
        if tr.status == "timeout":
            done = tr.history[-1]["epoch"] if tr.history else 0.0
            out.append(f"{who}training stopped after {done:.2f} of {epochs} epochs, leaving time for the last "
                       "validation and the TEST measurement")
        if j.test is not None and j.test.cut:
            out.append(f"{who}TEST was measured on {j.test.n_read:,} of {j.test.n:,} rows, a random sample (the "
                       "time cap ended the measurement)")
    return out


def race_row(tm: TrainedModel) -> dict:
    """One finished cell of a race, as the race table shows it."""
    c = tm.card
    return {"cell": ARCH_TITLES[tm.arch], "model": tm.name, "TEST accuracy": c.get("test_accuracy"),
            "best validation accuracy": c["val_accuracy"],
            "kept at epoch": c["best_at"] if c.get("best_at") is not None else c["best_epoch"],  # the star
            "TEST rows": c.get("test_n"),
            "± points (95%)": round(100 * c["test_margin"], 1) if c.get("test_margin") else 0.0,
            "training time (s)": c["train_seconds"], "parameters": tm.n_params,
            "status": c["status"]}


@dataclass
class RaceResult:
    """A race's outcome, every number the page and `python -m playground train --race` show: a row per
    finished cell, the verdict of the paired tests on the TEST rows every cell read, what failed, what
    was not trained, and what the time cap cut."""

    rows: list
    verdict: str
    failures: list
    notes: list
    not_trained: list
    stopped: bool
    cut: list

    @classmethod
    def of(cls, names: dict, finished: list, failures: list, notes: list, jobs: list, epochs: int,
           stopped: bool) -> "RaceResult":
        """From the models kept (`finished`), the cells that diverged without weights ((arch, message)),
        notes, the Finished jobs (their TEST samples) and whether the race was stopped."""
        common = np.logical_and.reduce([j.test.done for j in jobs]) if jobs else None  # rows every cell read
        correct = {ARCH_TITLES[j.config.arch]: j.test.correct()[common] for j in jobs}
        tried = {tm.arch for tm in finished} | {a for a, _ in failures}
        return cls(rows=[race_row(tm) for tm in finished], verdict=stats.race_verdict(correct),
                   failures=[f"{ARCH_TITLES[a]}: {m}" for a, m in failures], notes=list(notes),
                   not_trained=[ARCH_TITLES[a] for a in names if a not in tried], stopped=stopped,
                   cut=cut_sentences(jobs, epochs, race=True))

    def to_dict(self) -> dict:
        return {"rows": self.rows, "verdict": self.verdict, "failures": self.failures, "notes": self.notes,
                "not_trained": self.not_trained, "stopped": self.stopped, "cut": self.cut}


class RaceTally:
    """A race's cells as they end, kept in one place for the Train page's worker and `train --race`:
    each cell's deadline (an equal share of what is left of the race's `end`, time.perf_counter()
    seconds), the models kept, the cells that diverged without weights, the notes, and the result."""

    def __init__(self, names: dict, epochs: int, end: float | None = None):
        self.names, self.epochs, self.end = dict(names), epochs, end
        self.finished: list[TrainedModel] = []
        self.failures: list[tuple[str, str]] = []  # (arch, message) of cells without weights to keep
        self.notes: list[str] = []
        self.jobs: list[Finished] = []

    def deadline(self, i: int) -> float | None:
        """Cell i's deadline, asked for just before it starts (Race.jobs)."""
        if self.end is None:
            return None
        return time.perf_counter() + max(1.0, (self.end - time.perf_counter()) / (len(self.names) - i))

    def add(self, job: Job) -> TrainedModel | None:
        """A cell's trained Job: its model measured on TEST and kept (returned), or its failure noted."""
        arch = job.config.arch
        if job.trainer.best_state is None:
            if job.trainer.status == "diverged":
                self.failures.append((arch, job.trainer.message))
            return None
        tm = job.finish()
        self.finished.append(tm)
        self.jobs.append(Finished(job))
        if job.trainer.status in ("diverged", "timeout"):
            self.notes.append(f"{ARCH_TITLES[arch]}: {job.trainer.message} Its best weights before that are kept.")
        return tm

    def result(self, stopped: bool) -> RaceResult:
        return RaceResult.of(self.names, self.finished, self.failures, self.notes, self.jobs, self.epochs, stopped)


def run(recipe: Recipe, name: str, command: str = "", should_stop: Callable[[], bool] | None = None,
        deadline: float | None = None) -> Iterator[Progress | TrainedModel]:
    """Train per `recipe`; yields Progress events, then finally the TrainedModel with its card.
    With a `deadline` (time.perf_counter() seconds) the whole run, data and TEST included, ends by
    then (see Job)."""
    job = Job(recipe, name, command, should_stop, deadline=deadline).prepare()
    yield from job.events()
    yield job.finish()
