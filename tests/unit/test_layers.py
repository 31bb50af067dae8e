"""The layering contract (pyproject's [tool.importlinter]): views -> ui -> playground, never upwards, and
no Streamlit in the library. import-linter builds the import graph of every module, imports inside
functions included."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_layers_hold():
    cli = pytest.importorskip("importlinter.cli", reason="import-linter is in requirements-dev.txt")
    old = os.getcwd()
    os.chdir(ROOT)
    try:
        code = cli.lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    finally:
        os.chdir(old)
    assert code == 0, "a module imports across the layers: run `lint-imports` for the import chain"


def test_the_library_has_no_import_cycle():
    """No two library modules reach each other through imports, lazy ones included (a cycle such as
    train -> budget -> timing -> recipes -> train makes "where does X live?" unanswerable)."""
    grimp = pytest.importorskip("grimp", reason="import-linter's graph, in requirements-dev.txt")
    g = grimp.build_graph("playground", cache_dir=None)
    mods = sorted(m for m in g.modules if m != "playground")
    both = [(a, b) for i, a in enumerate(mods) for b in mods[i + 1:]
            if g.chain_exists(importer=a, imported=b) and g.chain_exists(importer=b, imported=a)]
    assert not both, "\n".join(f"{a} <-> {b}: {g.find_shortest_chain(importer=a, imported=b)} and back"
                               for a, b in both)
