"""Commands that read a text with a model: predict, explain, narrate, compare, whatif and intervene (and
models, the bundled models' list).

The Playground's and the Compare page's numbers for a text the person gives, from one model (or two or
three side by side); the heavy imports (torch, the models) happen inside each handler.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from playground.cli.common import CliError, Command, emit_json, fmt_acc, model_arg, read_text_arg, text_arg


def cmd_models(args) -> int:
    from playground.core import zoo

    rows = []
    for name in zoo.bundled_names():
        tm = zoo.load_bundled(name)
        rows.append({"name": name, "arch": tm.arch, "dataset": tm.dataset, "params": tm.n_params,
                     "test_accuracy": tm.test_accuracy, "hidden_size": tm.config.hidden_size,
                     "embed_dim": tm.config.embed_dim, "vocab_size": tm.config.vocab_size,
                     "num_layers": tm.config.num_layers, "max_len": tm.config.max_len})
    if args.json:
        emit_json(rows, indent=2)
        return 0
    if args.markdown:
        print("| model | cell | TEST split | embedding | hidden | vocabulary | max tokens | parameters "
              "| TEST accuracy | target | train time |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            tm = zoo.load_bundled(r["name"])
            print(f"| {r['name']} | {tm.config.title} | {r['dataset']} TEST | {r['embed_dim']} | "
                  f"{r['hidden_size']} | {r['vocab_size']:,} | {r['max_len']} | {r['params']:,} | "
                  f"{fmt_acc(r['test_accuracy'])} | {zoo.TARGETS.get(r['name'], '-')} | "
                  f"{tm.card.get('train_seconds', 0):.0f} s |")
        return 0
    if not rows:
        print("no bundled models found in", zoo.WEIGHTS_DIR)
        return 0
    print(f"{'name':<10} {'arch':<5} {'dataset':<7} {'params':>10} {'hidden':>6} {'TEST acc':>8}")
    for r in rows:
        print(f"{r['name']:<10} {r['arch']:<5} {r['dataset']:<7} {r['params']:>10,} {r['hidden_size']:>6} "
              f"{fmt_acc(r['test_accuracy']):>8}")
    return 0


def _models_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--json", action="store_true")
    s.add_argument("--markdown", action="store_true", help="a Markdown table (for the README)")


MODELS = Command("models", cmd_models, _models_arguments, help="list the bundled models")


def cmd_predict(args) -> int:
    from playground.core import zoo
    from playground.core.trace import fused_prob, trace
    from playground.explain.account import account
    from playground.explain.narrate import curve_story

    tm = zoo.resolve(args.model)
    text = read_text_arg(args.text)
    tr = trace(tm.model, tm.vocab, text)
    prob = fused_prob(tm.model, tr.ids)
    label = int(prob >= 0.5)
    if args.json:
        last = tr.last
        out = {
            "model": tm.name, "arch": tr.arch, "tokens": list(tr.tokens), "oov": list(tr.oov),
            "truncated": tr.truncated, "n_tokens_total": tr.n_tokens_total,
            "step_probs": [round(float(p), 7) for p in tr.step_probs], "prob": prob, "label": label,
            "trace_prob": tr.prob,
            "gates": {g: last.gates[g].round(6).tolist() for g in tr.gate_names},
            "hidden": last.h.round(6).tolist(),
        }
        acc = account(tr)  # full precision, so that the sums can be checked (docs: README)
        out.update(prior_logit=acc.prior_logit, step_logits=acc.step_logits.tolist(),
                   contributions=acc.contributions.tolist())
        # units by share of the verdict, most decisive first, and the drill-down's (unit, token) it opens on
        out.update(ranking=acc.ranking("verdict").tolist(), decisive=list(acc.decisive() or []) or None)
        # the curve's story as the pages say it: prior, biggest move, 0.5 crossings (playground/explain/narrate.py)
        out.update(prior=tr.prob0, story=curve_story(tr).as_dict())
        emit_json(out)
        return 0
    word = "positive" if label else "negative"
    print(f"{word}  P(positive) = {prob:.4f}  ({tm.name}, {len(tr.tokens)} tokens"
          f"{', %d OOV' % sum(tr.oov) if any(tr.oov) else ''}"
          f"{', cut from %d' % tr.n_tokens_total if tr.truncated else ''})")
    if not tr.tokens:
        print("(no tokens: this is the model's prior before reading anything)")
    return 0


def _predict_arguments(s: argparse.ArgumentParser) -> None:
    model_arg(s)
    s.add_argument("--json", action="store_true", help="tokens, step_probs, gates, hidden as JSON")
    text_arg(s)


PREDICT = Command("predict", cmd_predict, _predict_arguments, help="probability and label for a text")


def cmd_explain(args) -> int:
    """Word importance: each token's raw score; for integrated gradients also the account of the
    verdict they must add up to (baseline logit, text logit, gap, steps)."""
    from playground.core import zoo
    from playground.core.trace import trace
    from playground.explain.attribution import SHORT_NAMES, UNIT_WORDS, attribute, ig_path, path_story

    if args.path and args.method != "ig":
        raise CliError("--path needs --method ig (the other methods use no path)")
    tm = zoo.resolve(args.model)
    text = read_text_arg(args.text)
    tr = trace(tm.model, tm.vocab, text)
    a = attribute(tm.model, tr, args.method)
    path = ig_path(tm.model, a, list(tr.ids)) if args.path and a.pieces else None
    out = {"model": tm.name, "method": a.method, "tokens": list(a.tokens), "oov": list(tr.oov),
           "truncated": tr.truncated, "n_tokens_total": tr.n_tokens_total,
           "scores": [float(x) for x in a.scores], "unit": a.unit, "unit_words": UNIT_WORDS[a.unit]}
    if a.method == "ig":
        out.update(baseline_logit=a.baseline_logit, logit=a.logit, gap=a.gap, steps=a.steps,
                   tolerance=a.tolerance, complete=a.complete,
                   worst_piece=None if a.worst is None else dataclasses.asdict(a.worst))
    if path is not None:
        out["path"] = {"alpha": path.alpha.tolist(), "logit": path.logit.tolist(), "edges": path.edges.tolist(),
                       "running": path.running.tolist(),
                       "stretches": [dataclasses.asdict(w) for w in path.stretches], "story": path_story(a, path)}
    if args.json:
        emit_json(out)
        return 0
    print(f"{SHORT_NAMES[a.method]} ({tm.name}, {len(a.tokens)} tokens"
          f"{', cut from %d' % tr.n_tokens_total if tr.truncated else ''}); scores in {UNIT_WORDS[a.unit]}:")
    for tok, oov, x in zip(a.tokens, tr.oov, a.scores):
        print(f"{x:+10.5f}  {tok}{'°' if oov else ''}")
    if not a.tokens:
        print("(no tokens: nothing to score)")
    elif a.method == "ig":
        print(f"baseline ({len(a.tokens)} padding tokens) logit {a.baseline_logit:+.4f}; text logit {a.logit:+.4f}; "
              f"difference {a.logit - a.baseline_logit:+.4f}; scores sum to {float(a.scores.sum()):+.4f}; "
              f"gap {a.gap:+.4f} ({'within' if a.complete else 'OVER'} the tolerance {a.tolerance:.4f}) "
              f"after {a.steps} steps")
        if not a.complete and a.worst is not None:
            w = a.worst
            print(f"largest gap {w.gap:+.4f} on the path from {w.start:.6g} to {w.end:.6g} of the way "
                  f"(baseline 0, text 1), where the logit changes by {w.change:+.4f}")
        if path is not None:
            print("path: at each piece's end, the logit and the baseline plus the scores so far")
            at = dict(zip(path.alpha.tolist(), path.logit.tolist()))
            for x, r in zip(path.edges.tolist(), path.running.tolist()):
                print(f"  {x:10.6g}  logit {at[x]:+9.4f}  so far {r:+9.4f}")
            print(path_story(a, path))
    return 0


def _explain_arguments(s: argparse.ArgumentParser) -> None:
    model_arg(s)
    s.add_argument("--method", required=True, choices=["occlusion", "ig", "grad_x_input", "step"],
                   help="leave one out, integrated gradients, gradient x input, or step change")
    s.add_argument("--json", action="store_true", help="tokens, scores, unit (and for ig: logits, gap, steps)")
    s.add_argument("--path", action="store_true",
                   help="ig only: also the logit along the path from the baseline (0) to the text (1) and the "
                        "baseline plus the scores so far at the ends of the pieces (the Playground's path chart)")
    text_arg(s)


EXPLAIN = Command("explain", cmd_explain, _explain_arguments,
                  help="word importance: each token's raw score (and IG's gap)")


def cmd_narrate(args) -> int:
    """Read it with me: what reading each token did (the Playground's step-through), as sentences
    computed from the trace, or with --json a list of steps with every number the sentences use."""
    from playground.core import zoo
    from playground.core.trace import trace
    from playground.explain.narrate import step_stories

    tm = zoo.resolve(args.model)
    text = read_text_arg(args.text)
    tr = trace(tm.model, tm.vocab, text)
    stories = step_stories(tr)
    if args.json:
        emit_json({"model": tm.name, "arch": tr.arch, "tokens": list(tr.tokens), "truncated": tr.truncated,
                   "n_tokens_total": tr.n_tokens_total, "prior": tr.prob0, "prob": tr.prob,
                   "steps": [s.as_dict() for s in stories]})
        return 0
    if not stories:
        print(f"(no tokens: {tm.name} reads nothing here; P(positive) stays at its prior {tr.prob0:.4f})")
    for s in stories:
        print(" ".join(s.sentences))
    return 0


def _narrate_arguments(s: argparse.ArgumentParser) -> None:
    model_arg(s)
    s.add_argument("--json", action="store_true", help="a list of steps: P before and after, logits, top units "
                   "with their contributions and gate values, sentences")
    text_arg(s)


NARRATE = Command("narrate", cmd_narrate, _narrate_arguments,
                  help="read it with me: what each token did to the verdict, and which units did it")


def cmd_compare(args) -> int:
    """The Compare page's numbers: several models read one text, each with its own vocabulary and
    max_len; positions are positions in the full text."""
    from playground.core import zoo
    from playground.core.trace import trace
    from playground.explain.alignment import comparison, keeps_at

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    if not 2 <= len(names) <= 3 or len(set(names)) != len(names):
        raise CliError("--models needs two or three different models, comma-separated")
    text = read_text_arg(args.text)
    traces = {}
    for name in names:
        tm = zoo.resolve(name)
        traces[tm.name] = trace(tm.model, tm.vocab, text)
    out = comparison(traces)
    if all(tr.n_steps for tr in traces.values()):
        try:
            keeps = keeps_at(traces, None if args.word is None else args.word - 1)
        except IndexError as e:
            raise CliError(f"--word: {e}") from None
        out["keeps"] = keeps.as_dict()  # the first screen: each cell's keep gate at one word
    elif args.word is not None:
        raise CliError("--word: a model read nothing")
    if args.json:
        emit_json(out)
        return 0
    for name, m in out["models"].items():
        word = "positive" if m["label"] else "negative"
        print(f"{name:<24} {word}  P(positive) = {m['prob']:.4f}  ({m['note']})")
    print(out["summary"])
    if "keeps" in out:
        print(out["keeps"]["headline"])
        for m in out["keeps"]["models"]:
            print(f"  {m['sentence']}")
    return 0


def _compare_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--models", required=True, help="comma-separated model names or files, e.g. rnn-imdb,lstm-imdb")
    s.add_argument("--word", type=int, default=None,
                   help="the word (from 1, by position in the full text) whose keep gates to show; "
                        "default: the biggest move of P(positive) of any of the models")
    s.add_argument("--json", action="store_true", help="each model's stretch read and probability after each word")
    text_arg(s)


COMPARE = Command("compare", cmd_compare, _compare_arguments,
                  help="two or three models read one text, lined up by position in the full text")


def cmd_whatif(args) -> int:
    """What-if edits (playground/dynamics/whatif.py): one-click suggestions with the P(positive) each gives, and
    with --to the edited text read as a branch of the original."""
    from playground.core import zoo
    from playground.core.trace import trace
    from playground.dynamics import whatif

    tm = zoo.resolve(args.model)
    text = read_text_arg(args.text)
    tr = trace(tm.model, tm.vocab, text)
    enc = lambda t: tm.vocab.encode(t, tm.config.max_len)  # noqa: E731
    sugg = [(e, whatif.branch_trace(tm.model, tr, enc(e.text))) for e in whatif.suggest(tm.model, tm.vocab, text, tr)]
    b = whatif.branch_trace(tm.model, tr, enc(args.to)) if args.to is not None else None
    if args.json:
        emit_json({"model": tm.name, "tokens": list(tr.tokens), "prob": tr.prob,
                   "suggestions": [{**e.as_dict(), "prob": s.edited.prob, "branch": s.branch} for e, s in sugg],
                   "branch": b.as_dict() if b else None})
        return 0
    print(f"{tm.name}: P(positive) = {tr.prob:.4f}; suggestions:")
    for e, s in sugg:
        print(f"  {e.label:<28} P(positive) {s.edited.prob:.4f} ({s.final_change:+.4f})  {e.text!r}  ({e.reason})")
    if b is not None:
        print(b.sentence())
        for u in b.top_units():
            print(f"  unit {u['unit']:>4}: share of the verdict {u['before']:+.3f} -> {u['after']:+.3f} "
                  f"({u['change']:+.3f})")
    return 0


def _whatif_arguments(s: argparse.ArgumentParser) -> None:
    model_arg(s)
    s.add_argument("--to", help="the edited text: read it as a branch of TEXT (branch point, both curves, units)")
    s.add_argument("--json", action="store_true", help="suggestions (with their P(positive)) and the branch")
    text_arg(s)


WHATIF = Command("whatif", cmd_whatif, _whatif_arguments,
                 help="one-click edits of a text, and an edited text read as a branch of it")


def cmd_intervene(args) -> int:
    """Interventions (playground/dynamics/intervene.py): at token K clamp a unit's state, force a gate, or zero
    the top-k units, re-run the rest; P(positive) after each token before and after."""
    from playground.core import zoo
    from playground.core.trace import trace
    from playground.dynamics import intervene

    tm = zoo.resolve(args.model)
    tr = trace(tm.model, tm.vocab, read_text_arg(args.text))
    try:
        ivs = intervene.from_options(args.token, args.unit, args.value, args.state, args.hold, args.gate,
                                     args.gate_value, args.top_k, args.layer)
        o = intervene.intervene_trace(tm.model, tr, *ivs)
    except ValueError as e:
        raise CliError(str(e)) from None
    if args.json:
        emit_json({"model": tm.name, **o.as_dict()})
    else:
        print("\n".join(intervene.lines(o)))
    return 0


def _intervene_arguments(s: argparse.ArgumentParser) -> None:
    model_arg(s)
    s.add_argument("--token", type=int, required=True, help="K: the token to intervene at (0-based)")
    s.add_argument("--unit", type=int, help="the unit to clamp, or whose gate to force (default for a gate: all)")
    s.add_argument("--value", type=float, help="clamp the unit's state to this value")
    s.add_argument("--state", default="h", help="which state to clamp: h, or c for an LSTM (default h)")
    s.add_argument("--hold", action="store_true", help="hold the clamp from K on (default: at K only)")
    s.add_argument("--gate", help="force this gate (e.g. f or i for an LSTM, z or r for a GRU) from K on")
    s.add_argument("--gate-value", type=float, help="the forced gate's value in [0, 1]")
    s.add_argument("--top-k", type=int, help="zero h of the N units with the largest share of the verdict from K on")
    s.add_argument("--layer", type=int, default=-1, help="the layer (0-based; default the last)")
    s.add_argument("--json", action="store_true", help="tokens, original_step_probs, step_probs, intervention, "
                   "final_change, max_change, share_change")
    text_arg(s)


INTERVENE = Command("intervene", cmd_intervene, _intervene_arguments,
                    help="at a token, clamp a unit, force a gate or zero the top units; re-run the rest",
                    description="Tokens, units and layers are 0-based. A clamp replaces the state the step computed "
                                "after token K (at K only, or from K on with --hold); a forced gate and the top-k "
                                "zeroing act from K on. Several can be combined.")

def cmd_lesson(args) -> int:
    """The Playground's first screen: at one word (default: the biggest move of P(positive)), what each
    gate and state of the last layer did for the units to watch, with the headline and one sentence per
    quantity (playground/explain/lesson.py)."""
    from playground.core import zoo
    from playground.core.trace import trace
    from playground.explain.lesson import word_lesson

    tm = zoo.resolve(args.model)
    tr = trace(tm.model, tm.vocab, read_text_arg(args.text))
    if tr.n_steps == 0:
        raise CliError(f"{tm.name} reads no token in this text: type a sentence")
    if args.token is not None and not 0 <= args.token < tr.n_steps:
        raise CliError(f"--token {args.token} is outside 0..{tr.n_steps - 1} (the model read {tr.n_steps} tokens)")
    lesson = word_lesson(tr, args.token)
    if args.json:
        emit_json({"model": tm.name, "arch": tr.arch, "tokens": list(tr.tokens), **lesson.as_dict()})
        return 0
    print(lesson.headline)
    for k, (u, w) in enumerate(zip(lesson.units, lesson.why)):  # one line per unit to watch
        print(f"  unit {u:>4} (moved the {w} most)  " + "  ".join(f"{q.name}={q.values[k]:+.3f}"
                                                                for q in lesson.quantities))
    for q in lesson.quantities:
        if q.told:
            print(q.sentence)
    return 0


def _lesson_arguments(s: argparse.ArgumentParser) -> None:
    model_arg(s)
    s.add_argument("--token", type=int, help="the word, 0-based (default: the one that moved P(positive) most)")
    s.add_argument("--json", action="store_true", help="t, token, p_before, p_after, delta, biggest, units (unit, "
                   "why, contribution, share), quantities (name, title, kind, values per unit, sentence), headline")
    text_arg(s)


LESSON = Command("lesson", cmd_lesson, _lesson_arguments,
                 help="the Playground's first screen: what each gate did at one word, for the units to watch")


def cmd_convert(args) -> int:
    """Save any model this tool opens (a Keras .keras/.h5 file among them) as this project's .safetensors card,
    which the app's upload box and every command read; a Keras model keeps its encoding and float32 weights."""
    from playground.core import zoo

    tm = zoo.resolve(args.model)
    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise CliError("--out must end in .safetensors")
    if not out.resolve().parent.is_dir():
        raise CliError(f"cannot write {args.out}: no such directory")
    data = zoo.to_bytes(tm)
    back = zoo.from_bytes(data, source="file")  # what a reader of the file gets: checked before it is written
    out.write_bytes(data)
    said = {"model": tm.name, "out": str(out), "bytes": len(data), "arch": tm.arch, "params": tm.n_params,
            "keras_text": "keras_index_from" in back.card}
    if args.json:
        emit_json(said)
        return 0
    print(f"{tm.name} ({tm.config.title}, {tm.n_params:,} parameters) -> {out} ({len(data):,} bytes)"
          + (", reading text as the Keras tutorials do" if said["keras_text"] else ""))
    return 0


def _convert_arguments(s: argparse.ArgumentParser) -> None:
    model_arg(s)
    s.add_argument("--out", required=True, help="the .safetensors file to write")
    s.add_argument("--json", action="store_true", help="model, out, bytes, arch, params")


CONVERT = Command("convert", cmd_convert, _convert_arguments,
                  help="save a model (a Keras .keras/.h5 file among them) as this project's .safetensors card")

COMMANDS = (MODELS, PREDICT, EXPLAIN, NARRATE, LESSON, COMPARE, WHATIF, INTERVENE, CONVERT)
