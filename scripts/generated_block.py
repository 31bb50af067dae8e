"""A generated block in a Markdown file: the text between two markers is what a function renders now.
The docs scripts (layout_map.py, cli_reference.py) share it: print, --write, --check."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class Block:
    path: Path  # the Markdown file
    begin: str  # its markers
    end: str
    render: Callable[[], str]  # the block's text now
    command: str  # what rewrites it, said when it is stale

    def rewritten(self, text: str) -> str:
        """`text` with the block between the markers replaced by `render()`."""
        start, stop = text.find(self.begin), text.find(self.end)
        if start < 0 or stop < start:
            raise ValueError(f"{self.path.name} has no {self.begin} ... {self.end} block")
        return text[: start + len(self.begin)] + "\n" + self.render() + "\n" + text[stop:]

    def check(self) -> bool:
        """True when the file's block is what --write would write."""
        text = self.path.read_text(encoding="utf-8")
        return self.rewritten(text) == text

    def main(self, argv: list[str], usage: str) -> int:
        if argv == ["--write"]:
            self.path.write_text(self.rewritten(self.path.read_text(encoding="utf-8")), encoding="utf-8")
            return 0
        if argv == ["--check"]:
            if self.check():
                return 0
            print(f"{self.path.name}'s generated block is stale: run `{self.command}`", file=sys.stderr)
            return 1
        if argv:
            print(usage, file=sys.stderr)
            return 2
        print(self.render())
        return 0
