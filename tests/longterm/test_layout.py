"""The long-term store package keeps its shape: no import cycle between its modules, and none
of them imports the NTM model, the training code, or Streamlit; torch only inside a function
(the sentence-embedding model, loaded on first use)."""

from __future__ import annotations

import ast
from pathlib import Path

from ntm.io import ROOT

PACKAGE = ROOT / "ntm" / "longterm"
NEVER = ("streamlit", "ntm.model", "ntm.training", "ntm.presets", "ntm.jobs", "ntm.figures", "ntm.trace")
NOT_AT_IMPORT = ("torch", "transformers", "neo4j", "pyvis")


def imports(path: Path) -> list[tuple[str, bool]]:
    """(absolute module name, imported at module level?) for every import in a module."""
    module = "ntm.longterm." + path.stem if path.stem != "__init__" else "ntm.longterm"
    package = module if path.stem == "__init__" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            names = [f"{base}.{alias.name}" for alias in node.names]
            found += [(name if name.removeprefix("ntm.longterm.") in MODULES else base, id(node) in top)
                      for name in names]
    return found


MODULES = {p.stem for p in PACKAGE.glob("*.py")}


def graph() -> dict[str, set[str]]:
    edges = {}
    for path in PACKAGE.glob("*.py"):
        name = "ntm.longterm" if path.stem == "__init__" else f"ntm.longterm.{path.stem}"
        edges[name] = {m for m, _ in imports(path) if m.startswith("ntm.longterm.")}
    return edges


def test_no_module_imports_the_model_training_or_streamlit():
    for path in PACKAGE.glob("*.py"):
        for module, at_top in imports(path):
            assert not module.startswith(NEVER), f"{path.name} imports {module}"
            assert not (at_top and module.split(".")[0] in NOT_AT_IMPORT), f"{path.name} imports {module} on import"


def test_no_import_cycle_inside_the_package():
    edges = graph()
    assert edges["ntm.longterm.records"] == {"ntm.longterm.errors"}   # the records depend on nothing else
    done: set[str] = set()

    def visit(node, trail):
        assert node not in trail, f"import cycle: {' -> '.join([*trail, node])}"
        if node in done:
            return
        for nxt in sorted(edges.get(node, ())):
            visit(nxt, [*trail, node])
        done.add(node)

    for node in sorted(edges):
        visit(node, [])
    assert "ntm.longterm.store" in edges["ntm.longterm.embedded"]        # the backends implement the interface
    assert "ntm.longterm.embedded" not in edges["ntm.longterm.neo4j_store"]
