"""The README and docs/ stay true: the generated parts (the README's layout map, docs/cli.md's reference)
are what their scripts would write now, every relative link leads to a file that exists, every #anchor
to a heading that exists, and the README's test command is the one CI runs."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _script(name: str):
    """scripts/<name>.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"_docs_script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_layout_map_is_what_the_docstrings_say():
    assert _script("layout_map").check(), \
        "README.md's layout map is stale: run `python scripts/layout_map.py --write` and commit README.md"


def test_the_cli_reference_in_docs_is_what_the_parser_says():
    assert _script("cli_reference").check(), \
        "docs/cli.md's reference is stale: run `python scripts/cli_reference.py --write` and commit docs/cli.md"


# --- links ------------------------------------------------------------------------------------------
def _prose(text: str) -> str:
    """Markdown without fenced code blocks and inline code spans (links inside code are not links)."""
    kept, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            kept.append(re.sub(r"`[^`]*`", "", line))
    return "\n".join(kept)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, code and link markup dropped, punctuation other than
    '-' and '_' dropped, spaces to '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every #anchor a Markdown file offers: its headings (GitHub numbers repeats -1, -2, ...) and any
    explicit <a id=...> / <a name=...>."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    text = path.read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m and not fenced:
            base = anchor(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    found.update(re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", text))
    return found


def links(path: Path) -> list[str]:
    """The targets of a Markdown file's links and images, as written."""
    return re.findall(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", _prose(path.read_text(encoding="utf-8")))


def test_the_anchor_rule_is_githubs():
    assert anchor("Why gates") == "why-gates"
    assert anchor("Before 2026-12-06: measurements from the README") == "before-2026-12-06-measurements-from-the-readme"
    assert anchor("`python -m playground`") == "python--m-playground"
    assert anchor("Threads, speed and memory") == "threads-speed-and-memory"


def test_every_relative_link_in_the_docs_leads_to_a_file_and_heading_that_exist():
    broken = []
    for doc in DOCS:
        targets = links(doc)
        assert targets or doc.name in ("DESIGN.md", "performance.md"), f"no links found in {doc}: the parser broke?"
        for target in targets:
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, fragment = target.partition("#")
            dest = (doc.parent / file_part).resolve() if file_part else doc
            where = f"{doc.relative_to(ROOT)}: ({target})"
            if not dest.exists():
                broken.append(f"{where} -> no such file")
            elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
                broken.append(f"{where} -> {dest.relative_to(ROOT)} has no heading for #{fragment}")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_readme_links_each_page_to_its_section_in_docs():
    readme = ROOT / "README.md"
    targets = set(links(readme))
    for page in ("home", "playground", "compare", "why-gates", "state-space", "train"):
        assert f"docs/pages.md#{page}" in targets, f"README.md does not link docs/pages.md#{page}"


def test_the_readme_gives_the_test_command_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert ci.startswith("python3 -m venv .venv"), ci
    assert ci in (ROOT / "README.md").read_text(encoding="utf-8").splitlines(), \
        "README.md's test command differs from the one .ci/run runs; keep them byte-identical"


def test_the_model_facts_the_docs_quote_are_the_shipped_models():
    """docs/model-facts.md is what `python -m playground facts --write` makes from the shipped weights and
    results now (which tests/unit/test_precomputed.py checks against the weights' hash): a retrain that
    does not rewrite it fails here."""
    from playground.core import zoo
    from playground.evaluation.facts import COMMAND, DOC, facts, markdown

    if not zoo.bundled_names():
        return
    assert DOC.read_text(encoding="utf-8") == markdown(facts()), f"docs/model-facts.md is stale: run `{COMMAND}`"
