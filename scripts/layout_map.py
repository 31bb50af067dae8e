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


def rewritten(readme: str, root: Path = ROOT) -> str:
    """readme with the block between the markers replaced by the current table."""
    start, stop = readme.find(BEGIN), readme.find(END)
    if start < 0 or stop < start:
        raise ValueError(f"README.md has no {BEGIN} ... {END} block")
    return readme[: start + len(BEGIN)] + "\n" + table(root) + "\n" + readme[stop:]


def check(root: Path = ROOT) -> bool:
    """True when the README's block is what --write would write."""
    readme = (root / "README.md").read_text(encoding="utf-8")
    return rewritten(readme, root) == readme


def main(argv: list[str]) -> int:
    if argv == ["--write"]:
        readme = README.read_text(encoding="utf-8")
        README.write_text(rewritten(readme), encoding="utf-8")
        return 0
    if argv == ["--check"]:
        if check():
            return 0
        print("README.md's layout map is stale: run `python scripts/layout_map.py --write`", file=sys.stderr)
        return 1
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
