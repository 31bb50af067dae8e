"""Commands that look inside a model over many texts: typical, units, memory, statespace, probe, lab and
ablate.

The command-line twins of playground/dynamics/; the ones that read a TEST sample take --max-seconds and
say what a cut budget left out.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from playground.cli.common import (
    CliError,
    Command,
    budget_arg,
    command_line,
    emit_json,
    model_arg,
    read_text_arg,
    say_caveat,
    say_cut,
    text_arg,
    time_budget,
)


def cmd_typical(args) -> int:
    """Each unit's typical values, the Playground's "change from typical": the mean and spread of
    every gate and state over the tokens of a fixed sample of TEST texts of the model's dataset;
    with a text, every gate's change from them at each token (value - mean, units x tokens)."""
    import numpy as np

    from playground.core import zoo
    from playground.core.cells import cell
    from playground.core.data import DATASET_TITLES, no_dataset
    from playground.core.trace import trace
    from playground.dynamics.typical import typical_values

    tm = zoo.resolve(args.model)
    if tm.dataset not in DATASET_TITLES:
        raise CliError(no_dataset("measure its units' typical values on", tm.name))
    say_caveat(tm)
    if not 1 <= args.texts <= 5000:
        raise CliError("--texts must be between 1 and 5000")
    typ = typical_values(tm.model, tm.vocab, tm.dataset, args.texts, budget=time_budget(args))
    text = read_text_arg(args.text)
    tr = trace(tm.model, tm.vocab, text) if text else None
    change = ([{q: (v - typ.mean[k][q][None, :]).T for q, v in {**lt.gates, "h": lt.h}.items()}  # (H, T) each
               for k, lt in enumerate(tr.layers)] if tr is not None else None)
    if args.json:
        out = {"model": tm.name, "dataset": typ.dataset, "n_texts": typ.n_texts, "n_tokens": typ.n_tokens,
               "typical": typ.describe(), "cut": typ.cut,
               "layers": [{q: {"mean": layer[q].tolist(), "std": typ.std[k][q].tolist()} for q in layer}
                          for k, layer in enumerate(typ.mean)]}
        if tr is not None:
            out["tokens"] = list(tr.tokens)
            out["change"] = [{q: c.tolist() for q, c in layer.items()} for layer in change]  # units x tokens
        emit_json(out)
        return 0
    print(f"{tm.name}: typical = {typ.describe()} ({DATASET_TITLES[typ.dataset]})")
    for k, layer in enumerate(typ.mean):
        for q, mean in layer.items():
            title = cell(tm.arch).quantity(q).title
            lo, hi = int(np.argmin(mean)), int(np.argmax(mean))
            line = (f"layer {k + 1} {title}: typical from {mean[lo]:+.3f} (unit {lo}) to {mean[hi]:+.3f} (unit {hi}), "
                    f"spread {typ.std[k][q].mean():.3f} on average")
            if change is not None and len(tr.tokens):
                c = change[k][q]
                u, t = np.unravel_index(int(np.argmax(np.abs(c))), c.shape)
                line += (f"; largest change: unit {u} at token {t + 1} ({tr.tokens[t]!r}) {c[u, t]:+.3f} "
                         f"({c[u, t] + mean[u]:+.3f} against {mean[u]:+.3f})")
            print(line)
    say_cut(typ.cut)
    return 0


def _typical_arguments(s: argparse.ArgumentParser) -> None:
    model_arg(s)
    s.add_argument("--texts", type=int, default=64, help="how many TEST texts (evenly spaced) to average over")
    s.add_argument("--json", action="store_true", help="per layer and quantity each unit's mean and std; with a "
                   "text, its tokens and the change value - mean (units x tokens)")
    text_arg(s, optional=True)
    budget_arg(s)


TYPICAL = Command("typical", cmd_typical, _typical_arguments,
                  help="each unit's typical gate and state values over TEST texts, and a text's change from them")


def cmd_units(args) -> int:
    """The unit explorer (playground/dynamics/units.py): per unit of the last layer, over a TEST sample of the
    model's dataset, the contexts that drive it highest and lowest, its histogram and its correlation
    with the prediction; with a text, the unit's h after each token."""
    from playground.core import zoo
    from playground.core.data import DATASET_TITLES, no_dataset
    from playground.dynamics.units import lines, unit_stats, unit_values

    tm = zoo.resolve(args.model)
    H = tm.config.hidden_size
    if args.unit is not None and not 0 <= args.unit < H:
        raise CliError(f"--unit must be between 0 and {H - 1} ({tm.name}'s last layer has {H} units)")
    if tm.dataset not in DATASET_TITLES:
        raise CliError(no_dataset("explore its units on", tm.name))
    say_caveat(tm)
    text = read_text_arg(args.text)
    tty = sys.stderr.isatty()

    def progress(fraction: float, message: str) -> None:
        if tty:
            print(f"\r{fraction:4.0%} {message}", end="", file=sys.stderr)

    stats = unit_stats(tm, on_progress=progress, budget=time_budget(args))
    print("\n" * tty, end="", file=sys.stderr)
    tokens, values = unit_values(tm.model, tm.vocab, text, args.unit) if text else (None, None)
    if args.json:
        out = {k: v for k, v in stats.items() if k != "units"}
        out["units"] = stats["units"] if args.unit is None else [stats["units"][args.unit]]
        if text:
            out.update(tokens=list(tokens), values=values.tolist())  # (T,) with --unit, else units x tokens
        emit_json(out)
        return 0
    print("\n".join(lines(stats, args.unit)))
    say_cut(stats.get("cut", ""))
    if text and args.unit is None:
        print("(give --unit U to see that unit's h after each token of the text)")
    elif text:
        print(f"unit {args.unit}'s h after each token of the text:")
        print("\n".join(f"{t + 1:>5} {v:+.4f}  {tok}" for t, (tok, v) in enumerate(zip(tokens, values))))
    return 0


def _units_arguments(s: argparse.ArgumentParser) -> None:
    model_arg(s)
    s.add_argument("--unit", type=int, help="one unit (0-based) in full; default: one line per unit")
    s.add_argument("--json", action="store_true", help="sample, edges, order and per unit top contexts, words, "
                   "histogram, correlations; with a text, tokens and values (the unit's h after each token)")
    text_arg(s, optional=True)
    budget_arg(s)


UNITS = Command("units", cmd_units, _units_arguments,
                help="the unit explorer: what drives each unit over TEST texts, its histogram and correlation with "
                     "the prediction")


def cmd_memory(args) -> int:
    """The Why gates page's memory lens: how much of what each word wrote survives to the end (per
    unit, averaged, and weighted by each unit's share of the verdict), the units' time constants over
    TEST texts, a SimpleRNN's state Jacobian, and |d logit / d embedding| for every word."""
    from playground.core import zoo
    from playground.core.data import DATASET_TITLES
    from playground.dynamics.memory import report
    from playground.dynamics.typical import typical_values

    tm = zoo.resolve(args.model)
    if not 1 <= args.texts <= 5000:
        raise CliError("--texts must be between 1 and 5000")
    typ = (typical_values(tm.model, tm.vocab, tm.dataset, args.texts)
           if tm.dataset in DATASET_TITLES and tm.config.cell.keep is not None else None)
    out = report(tm, read_text_arg(args.text), typ)
    if args.json:
        emit_json(out)
        return 0
    toks, g = out["tokens"], out["grad_norms"]
    cut = " (the end of a longer text)" if out["truncated"] else ""
    print(f"{tm.name} ({out['arch']}) read {len(toks)} tokens{cut}")
    if out["keep_gate"]:
        print(f"keep gate {out['keep_gate']} on {out['carrier']}: what each word wrote that survives to the end "
              "(mean over units / weighted by share of the verdict)")
    elif out["jacobian_gain"] is not None:
        print("no keep gate: the state Jacobian's gain |d h_T / d h_t| (rms) and |d logit / d h_t|")
    print(f"{'word':>5} {'token':<16} {'|d logit/d e|':>13}  " +
          ("survival mean / weighted" if out["keep_gate"] else "Jacobian gain / sensitivity"))
    a, b = ((out["mean_survival"], out["weighted_survival"]) if out["keep_gate"]
            else (out["jacobian_gain"], out["readout_sensitivity"]))
    for t, tok in enumerate(toks):
        extra = f"{a[t]:.4f} / {b[t]:.4f}" if a is not None else "-"
        print(f"{t + 1:>5} {tok[:16]:<16} {g[t]:>13.5f}  {extra}")
    hd = out["half_distance"]
    print("half-distance: " + (f"{hd} words back the gradient is half the last word's" if hd is not None
                               else "no earlier word's gradient falls to half the last word's"))
    if out["taus"] is not None:
        print(out["tau_story"] + f" (time constants from {out['taus_from']}.)")
    else:
        print(out["taus_note"])
    return 0


def _memory_arguments(s: argparse.ArgumentParser) -> None:
    model_arg(s)
    s.add_argument("--texts", type=int, default=64, help="TEST texts the keep gate's mean (the time constants) is "
                   "taken over")
    s.add_argument("--json", action="store_true", help="tokens, survival (units x tokens), mean and weighted "
                   "survival, taus (one per unit of the last layer), grad_norms (one per token), half_distance")
    text_arg(s)


MEMORY = Command("memory", cmd_memory, _memory_arguments,
                 help="what each word wrote that survives to the end, the units' time constants, and the gradient "
                      "through time")


def cmd_statespace(args) -> int:
    """The state space: the PCA plane of the hidden states of TEST texts, the readout's line in it, the
    approximate fixed points under a neutral input, and with a text its path (playground/dynamics/statespace.py)."""
    from playground.core import zoo
    from playground.core.data import DATASET_TITLES, no_dataset
    from playground.core.trace import trace
    from playground.dynamics.intervene import suggest
    from playground.dynamics.statespace import (
        fit,
        key_points,
        path,
        path_story,
        rest_summary,
        story,
        to_json,
        where_story,
    )

    tm = zoo.resolve(args.model)
    if tm.dataset not in DATASET_TITLES:
        raise CliError(no_dataset("fit a plane on", tm.name))
    say_caveat(tm)
    try:
        space = fit(tm.model, tm.vocab, tm.dataset, neutral=args.neutral, budget=time_budget(args))
    except ValueError as e:
        raise CliError(str(e)) from None
    text = read_text_arg(args.text)
    tr = trace(tm.model, tm.vocab, text) if text else None
    p = path(space, tr) if tr is not None and tr.n_steps else None
    # the page's first screen: where the verdict is held, and the units whose silence shows it
    first = {"where": where_story(space, p), "rest": rest_summary(space),
             "key_points": list(key_points(p)) if p is not None else [],
             "suggestion": suggest(tm.model, tr).as_dict() if p is not None else None}
    if args.json:
        emit_json({"model": tm.name, **to_json(space, p), "first_screen": first})
        return 0
    print(f"{tm.name} ({tm.config.title}): variance shares of PC1..PC{len(space.variance)}: "
          + " ".join(f"{v:.3f}" for v in space.variance))
    print("\n".join(story(space)))
    say_cut(space.cut)
    if p is not None:
        print(f"{'step':>4} {'token':<16} {'PC1':>8} {'PC2':>8} {'P(pos)':>7}")
        for t, tok in enumerate(("(start)",) + p.tokens):
            print(f"{t:>4} {tok[:16]:<16} {p.xy[t, 0]:>8.3f} {p.xy[t, 1]:>8.3f} {p.probs[t]:>7.4f}")
        print("\n".join(path_story(space, p)))
    print("\n".join(first["where"] + first["rest"]))
    if first["suggestion"]:
        print(first["suggestion"]["intervention"][0]["description"] + ": " + first["suggestion"]["sentence"])
    return 0


def _statespace_arguments(s: argparse.ArgumentParser) -> None:
    model_arg(s)
    s.add_argument("--neutral", choices=["zero", "frequent"], default="zero", help="the fixed points' input: zero "
                   "(the padding embedding) or the mean embedding of the 20 most frequent words")
    s.add_argument("--json", action="store_true", help="pc_variance, decision_line, final_states, fixed_points, "
                   "fixed_point_pc1_share, readout_angle_deg, top_eigenvalue, sentences; with a text the path "
                   "(tokens, pc1, pc2, prob per token, and the start)")
    text_arg(s, optional=True)
    budget_arg(s)


STATESPACE = Command("statespace", cmd_statespace, _statespace_arguments,
                     help="the hidden states' PCA plane, the readout's line, the fixed points under a neutral input "
                          "(line attractor?), and a text's path")


def cmd_probe(args) -> int:
    """The distance probe: how much a strongly positive or negative phrase still moves the final
    prediction with k neutral filler words after it, k = 1..300 (playground/dynamics/probe.py)."""
    from playground.core import zoo
    from playground.core.cells import cell
    from playground.dynamics import probe

    if bool(args.model) == bool(args.dataset):
        raise CliError("give either --model or --dataset")
    names = ([n.strip() for n in args.model.split(",") if n.strip()] if args.model
             else [f"{a}-{args.dataset}" for a in ("rnn", "lstm", "gru")])
    if not names or len(set(names)) != len(names):
        raise CliError("--model needs one or more different models, comma-separated")
    phrases = (args.positive or probe.POSITIVE, args.negative or probe.NEGATIVE)
    results = []
    try:
        for name in names:
            tm = zoo.resolve(name)
            results.append(probe.bundled_probe(name, *phrases) if name in zoo.BUNDLED
                           else probe.probe(tm.model, tm.vocab, tm.name, *phrases))
    except ValueError as e:
        if isinstance(e, zoo.ModelFileError):
            raise
        raise CliError(str(e)) from None
    comparison = probe.compare_story(results)
    if args.json:
        out = results[0].as_dict() if len(results) == 1 else {"probes": [r.as_dict() for r in results],
                                                                "comparison": comparison}
        emit_json(out)
        return 0
    fmt = lambda x: "   -  " if x is None else f"{x:6.3f}"  # noqa: E731
    for r in results:
        print(f"{r.model} ({cell(r.arch).title}, reads its last {r.max_len} tokens): prior {r.prior:.3f}, filler check "
              f"{r.filler.check:.3f} (max |P(filler) - prior|, asked <= {r.filler.tolerance:g})")
        print(f"read alone: “{r.positive.text}” {fmt(r.positive.alone).strip()}, “{r.negative.text}” "
              f"{fmt(r.negative.alone).strip()}; {r.lead} filler words, the phrase, then k filler words")
        print(f"{'k':>4} {'P pos':>6} {'P neg':>6} {'filler':>6} {'effect':>6}")
        for k in sorted({*probe.SHOWN_K, r.k_read, r.half_distance or 1} & set(r.ks)):
            row = r.at(k)
            print(f"{k:>4} {fmt(row['p_positive'])} {fmt(row['p_negative'])} {fmt(row['p_filler'])} "
                  f"{fmt(row['effect'])}")
        print(r.story())
        print()
    if comparison:
        print(comparison)
    return 0


def _probe_arguments(s: argparse.ArgumentParser) -> None:
    from playground.dynamics.probe import NEGATIVE, POSITIVE

    s.add_argument("--model", help="model name(s) or file(s), comma-separated, e.g. gru-imdb or rnn-rt,gru-rt")
    s.add_argument("--dataset", choices=["rt", "imdb"], help="instead of --model: its three bundled models")
    s.add_argument("--positive", help=f"the positive phrase (default: {POSITIVE!r})")
    s.add_argument("--negative", help=f"the negative phrase (default: {NEGATIVE!r})")
    s.add_argument("--json", action="store_true", help="per model every k's P pos, P neg, P filler, effect, the "
                   "half-distance, the filler and its check, the story (several models: probes + comparison)")


PROBE = Command("probe", cmd_probe, _probe_arguments,
                help="distance probe: does a strong phrase still move the verdict k neutral words later? (k = 1..300)")


def cmd_lab(args) -> int:
    """The long-range lab (playground/dynamics/lab.py): every cell trained at each distance k; TEST accuracy
    per cell and k (mean, min-max over seeds) and where each falls to chance."""
    from playground.dynamics import lab

    try:
        ks = tuple(int(k) for k in args.k.split(",") if k.strip())
    except ValueError:
        raise CliError(f"--k takes whole numbers, comma-separated, not {args.k!r}") from None
    try:
        settings = lab.LabSettings(k=ks, seeds=args.seeds, steps=args.steps, init=args.init)
    except ValueError as e:
        raise CliError(str(e)) from None
    if args.out and not Path(args.out).resolve().parent.is_dir():  # say so now, not after the training
        raise CliError(f"cannot write {args.out}: no such directory")
    deadline = None
    if args.max_seconds is not None:
        from playground.training.timing import load_slowdown

        cap = args.max_seconds
        if not cap > 0:
            raise CliError("--max-seconds must be positive")
        slow = load_slowdown()
        need = time.perf_counter() - args.started + lab.estimate_seconds(settings) * slow
        if need > cap:
            busy = f", the machine being {slow:.1f}x slower than a quiet one now" if slow > 1.05 else ""
            raise CliError(f"this grid ({settings.seeds * len(settings.k) * len(settings.cells)} runs of "
                           f"{settings.steps} steps) needs about {need:.0f} s here{busy}, more than the {cap:g} s cap: "
                           f"give --max-seconds {int(need * 1.2) + 1} or more, or fewer seeds, distances (--k) or "
                           "--steps")
        deadline = args.started + cap - 0.5  # half a second to aggregate and write
    for ev in lab.iter_lab(settings, deadline=deadline):
        if ev.kind == "run":
            print(f"[{ev.run + 1}/{ev.runs}] seed {ev.seed} k={ev.k} {ev.cell}: TEST accuracy {ev.test_accuracy:.3f} "
                  f"({ev.elapsed:.0f} s)", file=sys.stderr, flush=True)
        elif ev.kind == "end":
            result = {"command": command_line(args),
                      **ev.result}
    if args.out:
        try:
            Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        except OSError as e:
            raise CliError(f"cannot write {args.out}: {e.strerror or e}") from None
    if result["status"] == "cut":
        print(f"the {args.max_seconds:g} s cap ended the lab after {len(result['runs'])} runs; those are kept",
              file=sys.stderr)
    if args.json:
        emit_json(result)
        return 0
    n, st = len(result["seeds"]), settings
    print(f"TEST accuracy, mean (min-max) over {n} seed{'s' if n != 1 else ''}; {st.steps} steps of {st.batch_size} "
          f"sequences per run; chance is 0.5")
    print(f"{'k':>5}  " + "  ".join(f"{lab.ARCH_TITLES[c]:<19}" for c in result["cells"]))
    for i, k in enumerate(result["k"]):
        print(f"{k:>5}  " + "  ".join(f"{'not run':<19}" if result["accuracy"][c][i] is None else
                                      f"{result['accuracy'][c][i]:.3f} ({result['spread'][c][i][0]:.3f}-"
                                      f"{result['spread'][c][i][1]:.3f})" for c in result["cells"]))
    print("\n".join(lab.summary(result)))
    return 0


def _lab_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--k", default="5,10,20,50,100,200", help="distances, comma-separated (default: %(default)s)")
    s.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 (default: %(default)s)")
    s.add_argument("--steps", type=int, default=400, help="optimizer steps per run (default: %(default)s)")
    s.add_argument("--init", choices=("keras", "textbook"), default="keras",
                   help="how every network starts: Keras' defaults (orthogonal recurrent weights, LSTM forget bias "
                        "1) or the textbook's (Gaussian recurrent weights, every bias 0) (default: %(default)s)")
    s.add_argument("--json", action="store_true", help="k, accuracy, spread, chance_distance, curves, timings")
    s.add_argument("--out", help="also write the results as JSON to this file")
    s.add_argument("--max-seconds", type=float, default=None,
                   help="time cap from the process's start: a grid estimated not to fit is refused before it "
                        "starts; one that runs late stops at the cap and keeps the runs it finished")


LAB = Command("lab", cmd_lab, _lab_arguments,
              help="long-range lab: can each cell learn a label decided k tokens before the end?",
              description="Train SimpleRNN, LSTM and GRU on sequences of k tokens whose first token (A or B) decides "
                          "the label and the rest are random distractors; print TEST accuracy per cell and k and "
                          "where each falls to chance. The shipped results: python -m playground lab --seeds 3 --out "
                          "playground/results/lab.json, and with --init textbook --out "
                          "playground/results/lab_textbook.json (playground/dynamics/lab.py).")


def cmd_ablate(args) -> int:
    """Accuracy on a fixed sample of TEST texts with the top units ablated (playground/dynamics/ablate.py)."""
    from playground.core import zoo
    from playground.core.data import DATASET_TITLES, no_dataset
    from playground.dynamics.ablate import ablation

    tm = zoo.resolve(args.model)
    if tm.dataset not in DATASET_TITLES:
        raise CliError(no_dataset("ablate on", tm.name))
    say_caveat(tm)
    if not 1 <= args.texts <= 5000 or not 0 <= args.top <= tm.config.hidden_size:
        raise CliError(f"--texts must be between 1 and 5000 and --top between 0 and {tm.config.hidden_size}")
    a = ablation(tm.model, tm.vocab, tm.dataset, args.texts, args.top, budget=time_budget(args))
    if args.json:
        emit_json({"model": tm.name, **a.as_dict()})
        return 0
    for k, (u, acc) in enumerate(zip(a.ranking, a.single)):
        print(f"top {k + 1:>2}: unit {u:>4} (mean |share| {a.mean_share[k]:.3f}) ablated alone: {acc:.1%}")
    print("\n".join(a.sentences()) + f" ({a.seconds:.1f} s)")
    say_cut(a.cut)
    return 0


def _ablate_arguments(s: argparse.ArgumentParser) -> None:
    model_arg(s)
    s.add_argument("--texts", type=int, default=300, help="TEST texts (evenly spaced; default %(default)s)")
    s.add_argument("--top", type=int, default=10, help="units ablated one at a time (default %(default)s)")
    s.add_argument("--json", action="store_true", help="accuracy, ranking, mean_share, single, together, p-values")
    budget_arg(s)


ABLATE = Command("ablate", cmd_ablate, _ablate_arguments,
                 help="accuracy on a sample of TEST texts with the top units ablated")

def cmd_why(args) -> int:
    """The Why gates page's first screen (playground/dynamics/why.py): the gradient through time on the long
    review for the dataset's three cells, what it means, and the causes from the shipped labs' numbers."""
    from playground.dynamics.why import first_screen

    out = first_screen(args.dataset)
    if args.json:
        emit_json(out)
        return 0
    print(out["headline"])
    if out["because"]:
        print(out["because"])
    for c in out["causes"]:
        print(f"- {c['title']} {c['text']}")
    for r in out["starts"]:
        print("  " + "; ".join(f"{k}: {v}" for k, v in r.items()))
    return 0


def _why_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--dataset", choices=["rt", "imdb"], default="rt", help="whose bundled cells (default: rt)")
    s.add_argument("--json", action="store_true", help="k, headline, because, models (share and per-step kept), "
                   "causes, starts")


WHY = Command("why", cmd_why, _why_arguments,
              help="why a plain RNN forgets: the Why gates page's first screen, with its causes")



def cmd_tour(args) -> int:
    """A guided tour's steps (playground/explain/tours.py), as the pages show them: page, element, text, the
    numbers in it and the questions with their answers."""
    from playground.explain.tours import TOURS, steps

    text = read_text_arg(args.text) if args.text else None
    try:
        out = steps(args.id, text, args.dataset)
    except ValueError as e:
        raise CliError(str(e)) from None
    if args.json:
        emit_json({"tour": args.id, "title": TOURS[args.id].title, "dataset": args.dataset,
                   "steps": [s.as_dict() for s in out]})
        return 0
    print(f"{TOURS[args.id].title} ({len(out)} steps; ?tour={args.id}&step=N reopens step N)")
    for n, s in enumerate(out, 1):
        print(f"{n:>2}. [{s.page}: {s.target}] {s.title}. {s.text}")
        if s.question is not None:
            q = s.question
            print(f"    Q: {q.prompt} {' / '.join(q.choices)} -> {q.choices[q.answer]}. {q.reveal}")
    return 0


def _tour_arguments(s: argparse.ArgumentParser) -> None:
    from playground.explain.tours import TOURS

    s.add_argument("--id", choices=list(TOURS), default="lstm-keeps", help="which tour (default: %(default)s)")
    s.add_argument("--dataset", choices=["rt", "imdb"], default="rt", help="whose bundled models (default: rt)")
    text_arg(s, optional=True)
    s.add_argument("--json", action="store_true", help="steps: page, target, title, text, params, numbers, question")


TOUR = Command("tour", cmd_tour, _tour_arguments,
               help="a guided tour's steps, with their numbers and questions, as the pages show them")
COMMANDS = (TYPICAL, UNITS, MEMORY, STATESPACE, PROBE, LAB, ABLATE, WHY, TOUR)
