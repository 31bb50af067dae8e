"""The one table of training options: defaults, checks, the command line built from it, and the
bundled models' rebuild script read with it."""
import math
import subprocess
import sys
from pathlib import Path

import pytest

from playground.core import zoo
from playground.core.models import ModelConfig
from playground.training.options import OPTIONS, TRAIN_OPTIONS, build_recipe, train_defaults
from playground.training.recipes import Recipe
from playground.training.train import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ("dataset arch limit mix mix_limit mix_max_len mix_sentences primary_repeat vocab_size min_freq max_len "
            "embed_dim hidden_size layers dropout optimizer lr batch_size epochs seed ema evals_per_epoch threads "
            "max_seconds val_fraction word_dropout weight_decay clip eval_other teachers teacher_weight "
            "mix_teacher_weight init_from").split()


def test_every_option_of_the_contract_is_in_the_table_once():
    names = [o.name for o in TRAIN_OPTIONS]
    assert len(names) == len(set(names)) and set(CONTRACT) <= set(names)
    for o in TRAIN_OPTIONS:
        assert o.help and "\n" not in o.help and o.flag == "--" + o.name.replace("_", "-")
        for d in ("rt", "imdb"):  # every default passes the option's own check
            assert o.check(o.default_for(d)) == o.default_for(d)


def test_the_defaults_are_the_train_pages_default_run():
    """Rotten Tomatoes: all 6,824 TRAIN sentences (10% validation) + the last 100 words of 6,000
    IMDB reviews; a GRU(64) on 60 tokens, Adam 2e-3, 4 epochs, EMA 0.99, one thread."""
    assert build_recipe({}) == Recipe(
        dataset="rt", model=ModelConfig(arch="gru", vocab_size=20000, embed_dim=64, hidden_size=64, num_layers=1,
                                        dropout=0.5, max_len=60),
        train=TrainConfig(epochs=4, batch_size=64, lr=2e-3, optimizer="adam", weight_decay=0.0, clip=5.0, seed=0,
                          threads=1, max_seconds=None, evals_per_epoch=4, word_dropout=0.0, ema=0.99),
        mix="imdb", mix_limit=6000, mix_max_len=100, mix_sentences=0, val_fraction=0.1, min_freq=2,
        train_limit=None, eval_other=False, init_from=None, primary_repeat=1, teachers=(), teacher_weight=0.5,
        mix_teacher_weight=None)


def test_imdb_defaults_sample_2000_reviews_and_mix_nothing():
    d = train_defaults("imdb")
    assert d["limit"] == 2000 and d["mix"] is None and d["mix_limit"] is None
    r = build_recipe({"dataset": "imdb"})
    assert r.train_limit == 2000 and r.mix is None and r.model.max_len == 60
    assert set(d) == set(OPTIONS) == set(train_defaults("rt"))
    with pytest.raises(ValueError, match="unknown dataset"):
        train_defaults("yelp")


def test_given_values_override_and_the_rest_follow_the_dataset():
    r = build_recipe({"dataset": "imdb", "hidden_size": 32, "layers": 2.0, "mix": "rt", "teachers": "a,b",
                      "limit": None, "ema": 0})
    assert r.model.hidden_size == 32 and r.model.num_layers == 2 and isinstance(r.model.num_layers, int)
    assert r.mix == "rt" and r.mix_limit is None  # imdb's default: every RT TRAIN row
    assert r.teachers == ("a", "b") and r.train_limit is None and r.train.ema == 0.0
    assert build_recipe({"teachers": ["x"]}).teachers == ("x",)


@pytest.mark.parametrize("values, named", [
    ({"hidden_size": 0}, "hidden_size"), ({"hidden_size": 1.5}, "hidden_size"), ({"layers": 3}, "layers"),
    ({"lr": "abc"}, "lr"), ({"lr": math.nan}, "lr"), ({"lr": 0}, "lr"), ({"epochs": True}, "epochs"),
    ({"arch": "cnn"}, "arch"), ({"dataset": "yelp"}, "dataset"), ({"optimizer": "lbfgs"}, "optimizer"),
    ({"mix": "rt"}, "mix"), ({"dataset": "imdb", "mix": "imdb"}, "mix"), ({"limit": 0}, "limit"),
    ({"ema": 1.0}, "ema"), ({"dropout": 0.95}, "dropout"), ({"eval_other": "yes"}, "eval_other"),
    ({"teachers": 5}, "teachers"), ({"threads": 0}, "threads"), ({"max_seconds": 0}, "max_seconds"),
    ({"val_fraction": 1.0}, "val_fraction"), ({"arch": None}, "arch"), ({"hidden": 64}, "hidden"),
])
def test_bad_values_raise_a_value_error_naming_the_option(values, named):
    with pytest.raises(ValueError, match=named):
        build_recipe(values)


def test_a_limit_of_every_row_is_no_limit():
    from playground.core.data import load
    from playground.training.options import TRAIN_ROWS

    assert TRAIN_ROWS == {d: len(load(d, "train")) for d in ("rt", "imdb")}
    assert build_recipe({"limit": 6824}) == build_recipe({"limit": 10**6}) == build_recipe({})
    assert build_recipe({"limit": 6823}).train_limit == 6823
    assert build_recipe({"dataset": "imdb", "mix": "rt", "mix_limit": 6824}).mix_limit is None
    assert build_recipe({"mix_limit": 20000}).mix_limit is None and build_recipe({}).mix_limit == 6000


def test_command_line_words_for_none():
    assert OPTIONS["limit"].parse("all") is None and OPTIONS["limit"].parse("300") == 300
    assert OPTIONS["mix"].parse("none") is None and OPTIONS["max_seconds"].parse("none") is None
    assert OPTIONS["teachers"].parse("none") == () and OPTIONS["teachers"].parse("a, b") == ("a", "b")
    assert OPTIONS["limit"].default_text() == "all for rt, 2000 for imdb"
    assert OPTIONS["lr"].default_text() == "0.002"


@pytest.mark.slow
def test_train_help_prints_every_option_with_its_default_and_meaning():
    r = subprocess.run([sys.executable, "-m", "playground", "train", "--help"], cwd=ROOT, capture_output=True,
                       text=True, timeout=120, env={"COLUMNS": "1000", "PATH": ""})
    assert r.returncode == 0, r.stderr
    entries: dict[str, str] = {}  # flag -> its help text (argparse may put it on the next line)
    flag = None
    for line in r.stdout.splitlines():
        if line.startswith("  --"):
            flag = line.split()[0].rstrip(",")
            entries[flag] = line
        elif line.startswith("    ") and flag:
            entries[flag] += " " + line
        else:
            flag = None
    for o in TRAIN_OPTIONS:
        text = " ".join(entries[o.flag].split())
        assert o.help in text and f"(default: {o.default_text()})" in text, text


def _rebuild_commands() -> list[list[str]]:
    """The `python -m playground train ...` commands of rebuild.sh, as bash expands them (nothing runs)."""
    fake = 'python() { for a in "$@"; do printf "%s\\037" "$a"; done; printf "\\036"; }; mkdir() { :; }; '
    script = ROOT / "playground" / "weights" / "rebuild.sh"
    out = subprocess.run(["bash", "-c", fake + f'source "{script}"', str(script)], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    cmds = [c.split("\037")[:-1] for c in out.split("\036") if c]
    assert cmds[-2:] == [["-m", "playground", "precompute"], ["-m", "playground", "facts", "--write"]]  # last: the
    cmds = cmds[:-2]  # shipped per-model results, then the facts the docs quote
    assert all(c[:3] == ["-m", "playground", "train"] for c in cmds)
    return [c[3:] for c in cmds]


def _recipe_of(argv: list[str]) -> tuple[Recipe, str]:
    from playground.cli.main import build_parser

    args = build_parser().parse_args(["train", *argv])
    return build_recipe({o.name: getattr(args, o.name) for o in TRAIN_OPTIONS if hasattr(args, o.name)}), args.out


def _old_defaults() -> list[str]:
    script = (ROOT / "playground" / "weights" / "rebuild.sh").read_text()
    return script.split('OLD_DEFAULTS="', 1)[1].split('"', 1)[0].split()


FT_TEACHERS = {"rnn-rt": ["lstm-rt", "gru-rt"]}
FT_INIT = {"rnn-imdb": "rnn-imdb-templates"}  # trained again from scratch with templated sentences first


@pytest.mark.skipif(not zoo.bundled_names(), reason="no bundled models")
def test_rebuild_script_means_what_the_shipped_cards_record():
    """The shipped models are the bases (built with the command line's old defaults) fine-tuned on
    everyday sentences (issue 15); rebuild.sh, read with today's defaults, must still ask for exactly
    the settings their cards record, for the fine-tuning and for the base it started from."""
    import shlex

    from playground.training import augment

    recipes = dict(_recipe_of(argv)[::-1] for argv in _rebuild_commands())
    assert len(recipes) == 20  # 3 IMDB bases, 7 teachers, 3 RT bases, rnn-imdb-templates, 6 fine-tuned
    for name in zoo.BUNDLED:
        r, card = recipes[f"playground/weights/{name}.safetensors"], zoo.load_bundled(name).card
        init = FT_INIT.get(name, name)
        base = recipes[f"build/base/{init}.safetensors"]
        # the fine-tuning: from the base, distilled from it, its dataset plus the templated sentences
        # (rnn-imdb starts from a model trained with templated sentences, and is distilled from its base)
        assert r.init_from == f"build/base/{init}.safetensors" and card["init_from"] == init
        # (rnn-rt learns from the fine-tuned LSTM and GRU of its dataset instead of from its base)
        assert [Path(t).stem for t in r.teachers] == card["teachers"] == FT_TEACHERS.get(name, [name])
        assert (r.teacher_weight, r.mix_teacher_weight) == (card["teacher_weight"], card["mix_teacher_weight"])
        assert r.train.to_dict() == card["train_config"], name
        assert (r.dataset, r.mix, r.mix_max_len, r.mix_sentences, r.primary_repeat, r.min_freq) == (
            card["dataset"], card["mix"], card["mix_max_len"], card["mix_sentences"], card["primary_repeat"],
            card["min_freq"]), name
        assert card["augment"]["sentences"] == r.augment > 0 and card["augment"]["version"] == augment.VERSION
        assert f"{r.augment:,} templated everyday sentences" in card["trained_on"]
        # the architecture and vocabulary are the base's; dropout and max_len the fine-tuning's
        assert {k: v for k, v in card["config"].items() if k not in ("dropout", "max_len", "vocab_size")} == {
            k: v for k, v in base.model.to_dict().items() if k not in ("dropout", "max_len", "vocab_size")}, name
        assert (card["config"]["dropout"], card["config"]["max_len"]) == (r.model.dropout, r.model.max_len)
        assert r.eval_other and card["other_test_accuracy"], name
        assert r.train_limit is None and r.mix_limit == (3000 if r.mix == "imdb" else None if r.mix else r.mix_limit)
        assert ("(sample of 3000)" in card["trained_on"]) == (r.mix == "imdb"), name
        assert r.val_fraction == 0.1
        assert card["n_val"] == round(0.1 * (6824 if r.dataset == "rt" else 20000)) + r.val_augment, name
        assert card["augment"].get("validation", 0) == r.val_augment, name
        # the base's own command, on its card, means what rebuild.sh asks for the base
        argv = shlex.split(card["base_command"])
        assert argv[:4] == ["python", "-m", "playground", "train"], card["base_command"]
        argv = [a.replace("playground/weights/", "build/base/") for a in argv[4:]]
        assert _recipe_of(_old_defaults() + argv)[0] == base, name
        assert 0 < card["base_test_accuracy"] <= 1
