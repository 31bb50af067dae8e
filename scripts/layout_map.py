"""The README's layout map, generated: one row per module with the first sentence of its docstring.

    python scripts/layout_map.py            # print the table
    python scripts/layout_map.py --write    # rewrite the block between the README's layout markers
    python scripts/layout_map.py --check    # exit 1 if the README's block is not what --write would write

Modules: app.py, views/*.py, ui/*.py and playground/**/*.py (packages' __init__.py left out; the command
line's __main__.py has its own row). Docstrings are read with `ast`, nothing is imported.
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generated_block import Block  # noqa: E402 - the docs scripts' shared --write / --check

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BEGIN, END = "<!-- layout:begin -->", "<!-- layout:end -->"
PATTERNS = ["app.py", "views/*.py", "ui/*.py", "playground/**/*.py"]
MAX_CHARS = 140  # a longer summary is cut at a word, with an ellipsis
SENTENCE_END = re.compile(r"(?<!\bal)(?<!\be\.g)(?<!\bi\.e)[.!?](?=\s|$)")  # not "et al.", "e.g.", "i.e."


def modules(root: Path = ROOT) -> list[Path]:
    """The mapped files, relative to root, in the order of PATTERNS and then by path."""
    found: list[Path] = []
    for pattern in PATTERNS:
        for path in sorted(root.glob(pattern)):
            rel = path.relative_to(root)
            if path.name == "__init__.py" or "__pycache__" in rel.parts or rel in found:
                continue
            found.append(rel)
    return found


def summary(source: str) -> str:
    """The docstring's first line; when that line stops mid-sentence, continued (within the first
    paragraph) to the end of the sentence. On one line, at most MAX_CHARS characters."""
    doc = ast.get_docstring(ast.parse(source)) or ""
    lines = [line.strip() for line in doc.strip().split("\n\n")[0].splitlines()]
    if not lines or not lines[0]:
        return "(no docstring)"
    text = lines[0]
    if not SENTENCE_END.search(text[-6:]):
        joined = " ".join(lines)
        end = SENTENCE_END.search(joined, len(text))
        text = joined[: end.end()] if end else joined
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS].rsplit(" ", 1)[0].rstrip(",;:(")
        text += "` …" if text.count("`") % 2 else " …"  # close a code span the cut left open
    return text


def table(root: Path = ROOT) -> str:
    """The Markdown table, one row per module (no trailing newline)."""
    rows = ["| module | what it is |", "|---|---|"]
    for rel in modules(root):
        text = summary((root / rel).read_text(encoding="utf-8"))
        text = text.replace("\\", "\\\\").replace("|", "\\|")
        rows.append(f"| [`{rel.as_posix()}`]({rel.as_posix()}) | {text} |")
    return "\n".join(rows)


BLOCK = Block(README, BEGIN, END, lambda: table(), "python scripts/layout_map.py --write")
rewritten, check = BLOCK.rewritten, BLOCK.check


if __name__ == "__main__":
    sys.exit(BLOCK.main(sys.argv[1:], __doc__))
