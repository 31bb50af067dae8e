"""Server-side time of a Playground rerun after a new sentence (trace, importance, all figures),
measured with Streamlit's AppTest (the page script plus serialising every element; no browser).

    python scripts/rerun_time.py [--model lstm-imdb] [--repeats 15]
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

from playground.bench import SENT50  # noqa: E402

WORDS = SENT50.split()


def main() -> None:
    logging.disable(logging.WARNING)  # AppTest's "missing ScriptRunContext" chatter
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="lstm-imdb")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--method", default="occlusion")
    args = ap.parse_args()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["model"] = args.model
    at.query_params["method"] = args.method
    at.run()
    at.switch_page("views/playground.py").run()
    times = []
    for k in range(args.repeats + 1):
        words = WORDS[k % 50:] + WORDS[: k % 50]  # a different 50-token sentence each time
        t = time.perf_counter()
        at.text_input(key="play.sentence").set_value(" ".join(words)).run()
        if k:  # the first rerun warms caches
            times.append(time.perf_counter() - t)
        assert not at.exception, at.exception
    print(f"{args.model}, {args.method}: median {statistics.median(times) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms over {len(times)} reruns of a 50-token sentence")


if __name__ == "__main__":
    main()
