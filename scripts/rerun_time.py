"""Server-side time of a page's rerun after a new sentence (the Playground: trace, importance, all
figures; Why gates: memory lens, time constants, gradients of three models, the probe and the lab's
pictures), or with --pick-word after a click on a word (the Playground and Compare: the same sentence,
another word), measured with Streamlit's AppTest (the page script plus serialising every element; no
browser).

    python scripts/rerun_time.py [--page playground|gates|space|compare] [--model lstm-imdb] [--repeats 15]
                                 [--pick-word]
"""
import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from playground.training.bench import SENT50  # noqa: E402

WORDS = SENT50.split()


def main() -> None:
    logging.disable(logging.WARNING)  # AppTest's "missing ScriptRunContext" chatter
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="lstm-imdb")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--method", default="occlusion")
    ap.add_argument("--page", default="playground", choices=["playground", "gates", "space", "compare"])
    ap.add_argument("--pick-word", action="store_true", help="time a click on a word, not a new sentence")
    args = ap.parse_args()
    page, box = {"playground": ("views/playground.py", "play.sentence"), "gates": ("views/gates.py", "why.sentence"),
                 "space": ("views/space.py", "space.sentence"),
                 "compare": ("views/compare.py", "compare.sentence")}[args.page]
    if args.pick_word:
        pick_word(page, {"playground": "play.token", "compare": "compare.word"}[args.page], box, args)
        return
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["model"] = args.model
    at.query_params["method"] = args.method
    at.run()
    at.switch_page(page).run()
    times = []
    for k in range(args.repeats + 1):
        words = WORDS[k % 50:] + WORDS[: k % 50]  # a different 50-token sentence each time
        t = time.perf_counter()
        at.text_input(key=box).set_value(" ".join(words)).run()
        if k:  # the first rerun warms caches
            times.append(time.perf_counter() - t)
        assert not at.exception, at.exception
    what = f"{args.page}, {args.model}" + (f", {args.method}" if args.page == "playground" else "")
    print(f"{what}: median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms over "
          f"{len(times)} reruns of a 50-token sentence")


def pick_word(page: str, key: str, box: str, args) -> None:
    """A click on another word of one 30-token sentence (words picked from pills), timed: the word picker's
    rerun, which needs no new trace."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["model"] = args.model
    at.run()
    at.switch_page(page).run()
    at.text_input(key=box).set_value(" ".join(WORDS[:30])).run()
    options = list(range(len(next(p for p in at.get("button_group") if p.key == key).options)))  # every model
    # reads a 30-token sentence whole, so Compare's positions in the text are the Playground's token indices
    times = []
    for k in range(args.repeats + 1):
        pills = next(p for p in at.get("button_group") if p.key == key)
        t = time.perf_counter()
        pills.set_value(options[(7 * k) % len(options)]).run()
        if k:
            times.append(time.perf_counter() - t)
        assert not at.exception, at.exception
    print(f"{args.page}, {args.model}, a click on a word: median {statistics.median(times) * 1000:.0f} ms, max "
          f"{max(times) * 1000:.0f} ms over {len(times)} reruns (30-token sentence)")


if __name__ == "__main__":
    main()
