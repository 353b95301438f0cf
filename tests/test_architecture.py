"""The architecture, checked from the import graph of ``ntm/`` (read with ``ast``, never imported).

Every ``import`` and ``from ... import`` statement counts, also those inside functions and under
``if TYPE_CHECKING:``; relative imports are resolved, and ``from package import name`` points at
``package.name`` when that is a module. The rules (README, "Architecture"):

  - the library never imports Streamlit;
  - ``ntm/figures/`` draws the trace: of the library it imports only ``ntm.trace``, ``ntm.figures.*`` and
    ``ntm.numbers`` (pure formatting, shared with the evaluation);
  - ``ntm/longterm/`` (the proposition store) does not import the model or its parts (model, heads,
    controller, memory, training), directly or through what it imports;
  - in ``ntm/jobs/`` only the runner (``ntm/jobs/runner.py``, the job's own process) imports torch,
    ``ntm.training`` or ``ntm.model``; the others do not load torch when imported, even indirectly;
  - no import cycle among ``ntm`` modules;
  - pages only lay out: each ``pages/*.py`` (except ``_shared.py``) has at most 250 lines and no torch.

"Indirectly" follows what runs when a module is imported: its module-level imports (not those in
functions or under ``TYPE_CHECKING``), and the ``__init__.py`` of every package on the way.
The first tests check the checker itself on a small made-up package.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pytest

from ntm.io import ROOT

PAGE_MAX_LINES = 250
MODEL_MODULES = ("ntm.model", "ntm.heads", "ntm.controller", "ntm.memory", "ntm.training")
JOBS_RUNNER = "ntm.jobs.runner"


# ---- reading the graph -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Import:
    source: str          # the importing module, e.g. "ntm.jobs.control"
    file: str            # its path relative to the project folder
    line: int
    statement: str       # the statement as written
    target: str          # the module imported, resolved, e.g. "ntm.presets" or "torch.nn"
    at_import_time: bool  # runs when the source is imported (module level, not TYPE_CHECKING)

    def where(self) -> str:
        return f"{self.file}:{self.line} `{self.statement}`"


def module_name(path: Path, package_dir: Path) -> str:
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _statements(tree: ast.Module):
    """Every import statement with whether it runs at import time."""
    def walk(node: ast.AST, at_import_time: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, at_import_time
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                yield from walk(child, False)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    yield from walk(ast.Module(body=[stmt], type_ignores=[]), False)
                for stmt in child.orelse:
                    yield from walk(ast.Module(body=[stmt], type_ignores=[]), at_import_time)
            else:
                yield from walk(child, at_import_time)
    yield from walk(tree, True)


def read_graph(package_dir: Path, root: Path) -> tuple[dict[str, Path], list[Import]]:
    """The modules of the package at ``package_dir`` (name -> file) and all their imports."""
    modules = {module_name(p, package_dir): p for p in sorted(package_dir.rglob("*.py"))
               if "__pycache__" not in p.parts}
    imports = []
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        text = path.read_text(encoding="utf-8")
        for node, at_import_time in _statements(ast.parse(text, filename=str(path))):
            statement = " ".join((ast.get_source_segment(text, node) or ast.unparse(node)).split())
            statement = statement if len(statement) <= 100 else statement[:97] + "..."
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    package = name.split(".") if is_package else name.split(".")[:-1]
                    base = package[:len(package) - (node.level - 1)]
                    full = ".".join(base + ([node.module] if node.module else []))
                else:
                    full = node.module
                targets = [f"{full}.{a.name}" if f"{full}.{a.name}" in modules else full for a in node.names]
            for target in dict.fromkeys(targets):
                if target.split(".")[0] == package_dir.name:       # an attribute path -> its module
                    while target not in modules and "." in target:
                        target = target.rsplit(".", 1)[0]
                imports.append(Import(name, path.relative_to(root).as_posix(), node.lineno, statement,
                                      target, at_import_time))
    return modules, imports


def _top(target: str) -> str:
    return target.split(".")[0]


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_time_chain(start: str, modules: dict[str, Path], imports: list[Import], bad) -> list[Import] | None:
    """The chain of import-time imports by which importing ``start`` reaches a target for which
    ``bad(target)`` holds (None if it does not). Importing a module also runs its packages'
    ``__init__``s."""
    by_source: dict[str, list[Import]] = {}
    for imp in imports:
        if imp.at_import_time:
            by_source.setdefault(imp.source, []).append(imp)
    came_from: dict[str, list[Import]] = {m: [] for m in [*_parents(start), start] if m in modules}
    queue = deque(came_from)
    while queue:
        module = queue.popleft()
        for imp in by_source.get(module, []):
            chain = came_from[module] + [imp]
            if bad(imp.target):
                return chain
            for reached in [*_parents(imp.target), imp.target]:
                if reached in modules and reached not in came_from:
                    came_from[reached] = chain
                    queue.append(reached)
    return None


def describe(chain: list[Import]) -> str:
    return " -> ".join(f"{imp.where()} imports {imp.target}" for imp in chain)


def find_cycles(modules: dict[str, Path], imports: list[Import]) -> list[list[Import]]:
    """One cycle (as its import statements) per strongly connected group of modules."""
    edges: dict[str, dict[str, Import]] = {m: {} for m in modules}
    for imp in imports:
        if imp.target in modules and imp.target != imp.source:
            edges[imp.source].setdefault(imp.target, imp)
    index, low, on_stack, stack, groups = {}, {}, set(), [], []

    def strongconnect(v: str):                       # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(modules):
        if v not in index:
            strongconnect(v)
    cycles = []
    for group in groups:
        start = min(group)
        came_from: dict[str, list[Import]] = {start: []}
        queue = deque([start])
        while queue:                                 # shortest way from start back to start
            v = queue.popleft()
            for w, imp in sorted(edges[v].items()):
                if w == start:
                    cycles.append(came_from[v] + [imp])
                    queue.clear()
                    break
                if w in group and w not in came_from:
                    came_from[w] = came_from[v] + [imp]
                    queue.append(w)
    return cycles


# ---- the rules, as functions of a graph ------------------------------------------------------------------

def _reported_above(chain: list[Import], module: str) -> bool:
    """A chain that is the module's own direct import, which the direct rule already names."""
    return len(chain) == 1 and chain[0].source == module


def streamlit_imports(imports: list[Import]) -> list[str]:
    return [f"{imp.where()}: the library never imports streamlit (pages do)"
            for imp in imports if _top(imp.target) == "streamlit"]


def figures_imports(imports: list[Import], package: str = "ntm") -> list[str]:
    allowed = (f"{package}.trace", f"{package}.figures", f"{package}.numbers")
    return [f"{imp.where()}: figures draw the trace; of the library they import only {package}.trace, "
            f"{package}.figures.* and {package}.numbers, not {imp.target}"
            for imp in imports if _in(imp.source, f"{package}.figures") and _top(imp.target) == package
            and not any(_in(imp.target, a) for a in allowed)]


def longterm_imports(modules: dict[str, Path], imports: list[Import], package: str = "ntm") -> list[str]:
    model = tuple(m.replace("ntm", package, 1) for m in MODEL_MODULES)
    is_model = lambda target: any(_in(target, m) for m in model)  # noqa: E731
    problems = [f"{imp.where()}: the long-term store does not import the model ({imp.target})"
                for imp in imports if _in(imp.source, f"{package}.longterm") and is_model(imp.target)]
    for module in sorted(m for m in modules if _in(m, f"{package}.longterm")):
        chain = import_time_chain(module, modules, imports, is_model)
        if chain and not _reported_above(chain, module):
            problems.append(f"importing {module} loads the model: {describe(chain)}")
    return problems


def jobs_imports(modules: dict[str, Path], imports: list[Import], package: str = "ntm") -> list[str]:
    runner = JOBS_RUNNER.replace("ntm", package, 1)
    heavy = (f"{package}.training", f"{package}.model")
    is_heavy = lambda target: _top(target) == "torch" or any(_in(target, h) for h in heavy)  # noqa: E731
    problems = [f"{imp.where()}: in {package}.jobs only the runner imports torch, training or the model"
                for imp in imports if _in(imp.source, f"{package}.jobs") and imp.source != runner
                and is_heavy(imp.target)]
    for module in sorted(m for m in modules if _in(m, f"{package}.jobs") and m != runner):
        chain = import_time_chain(module, modules, imports, lambda t: _top(t) == "torch")
        if chain and not _reported_above(chain, module):
            problems.append(f"importing {module} loads torch: {describe(chain)}")
    return problems


def cycle_reports(modules: dict[str, Path], imports: list[Import]) -> list[str]:
    return [f"import cycle {' -> '.join([c[0].source] + [imp.target for imp in c])}: "
            + "; ".join(imp.where() for imp in c) for c in find_cycles(modules, imports)]


# ---- the checker, checked on a made-up package --------------------------------------------------------

FAKE = {
    "__init__.py": "",
    "trace.py": "import torch\n",
    "model.py": "import torch\nfrom . import heads\n",
    "heads.py": "def f():\n    from .model import something   # a lazy import still makes a cycle\n",
    "io.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n",
    "presets.py": "from .model import build\n",
    "figures/__init__.py": "from .common import figure\n",
    "figures/common.py": "from ..trace import Trace\nimport plotly\n",
    "figures/bad.py": "def draw():\n    from ntm.addressing import STAGES\n",
    "addressing.py": "def widget():\n    import streamlit as st\n",
    "longterm/__init__.py": "from .store import Store\n",
    "longterm/store.py": "from ..io import atomic_write_json\n",
    "longterm/embed.py": "from ntm import presets\n",
    "jobs/__init__.py": "from .control import start\n",
    "jobs/control.py": "from ..io import data_dir\n\ndef names():\n    from ..presets import names\n",
    "jobs/record.py": "from ntm.presets import user_presets_dir\n",
    "jobs/runner.py": "import torch\nfrom ..training import Trainer\n",
    "jobs/command.py": "from ntm.model import NTMConfig\n",
}


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    for name, text in FAKE.items():
        path = root / "ntm" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return read_graph(root / "ntm", root)


def test_the_reader_resolves_relative_lazy_and_type_checking_imports(fake):
    modules, imports = fake
    got = {(i.source, i.target, i.at_import_time) for i in imports}
    assert ("ntm.model", "ntm.heads", True) in got                        # from . import heads
    assert ("ntm.heads", "ntm.model", False) in got                       # in a function
    assert ("ntm.io", "torch", False) in got                              # under TYPE_CHECKING
    assert ("ntm.figures.common", "ntm.trace", True) in got               # from ..trace import
    assert ("ntm.figures", "ntm.figures.common", True) in got             # from .common import
    assert ("ntm.longterm.embed", "ntm.presets", True) in got             # from ntm import presets
    assert ("ntm.jobs.control", "ntm.presets", False) in got
    assert ("ntm.presets", "ntm.model", True) in got                      # from .model import build
    assert all(i.file.startswith("ntm/") and i.line >= 1 for i in imports)


def test_the_rules_catch_what_they_are_for(fake):
    modules, imports = fake
    assert [p.split(":")[0] for p in streamlit_imports(imports)] == ["ntm/addressing.py"]
    assert [p.split(":")[0] for p in figures_imports(imports)] == ["ntm/figures/bad.py"]
    longterm = longterm_imports(modules, imports)
    assert len(longterm) == 1 and longterm[0].startswith("importing ntm.longterm.embed loads the model")
    assert "ntm/longterm/embed.py:1 `from ntm import presets` imports ntm.presets" in longterm[0]
    jobs = jobs_imports(modules, imports)
    assert any(p.startswith("ntm/jobs/command.py:1 `from ntm.model import NTMConfig`") for p in jobs)
    assert any(p.startswith("importing ntm.jobs.record loads torch") for p in jobs)
    # control's presets import is lazy, but the package's __init__ runs first: only record, command
    # and the package itself are reported, never the runner
    assert not any("runner.py" in p for p in jobs)
    assert not any(p.startswith("importing ntm.jobs.control") for p in jobs)
    cycles = cycle_reports(modules, imports)
    assert cycles == ["import cycle ntm.heads -> ntm.model -> ntm.heads: "
                      "ntm/heads.py:2 `from .model import something`; ntm/model.py:2 `from . import heads`"]


# ---- the rules, on the real library --------------------------------------------------------------------

@pytest.fixture(scope="module")
def graph():
    return read_graph(ROOT / "ntm", ROOT)


def test_the_target_packages_exist():
    """The rules below are written for this layout; a missing package would make them pass vacuously."""
    expected = ["ntm/figures/__init__.py", "ntm/jobs/__init__.py", "ntm/jobs/runner.py",
                "ntm/longterm/__init__.py", "ntm/trace.py", "ntm/model.py", "ntm/training.py"]
    missing = [p for p in expected if not (ROOT / p).is_file()]
    leftovers = [p for p in ("ntm/figures.py", "ntm/jobs.py") if (ROOT / p).exists()]
    assert not missing and not leftovers, f"missing {missing}; modules that should be packages: {leftovers}"


def test_the_library_never_imports_streamlit(graph):
    problems = streamlit_imports(graph[1])
    assert not problems, "\n".join(problems)


def test_figures_import_only_the_trace(graph):
    problems = figures_imports(graph[1])
    assert not problems, "\n".join(problems)


def test_the_formatting_the_figures_share_imports_nothing_of_the_library(graph):
    """``ntm.numbers`` may be imported by the figures only because it stays pure formatting."""
    found = [imp.where() for imp in graph[1] if imp.source == "ntm.numbers" and _top(imp.target) == "ntm"]
    assert not found, found


def test_the_longterm_store_does_not_import_the_model(graph):
    problems = longterm_imports(*graph)
    assert not problems, "\n".join(problems)


def test_only_the_job_runner_imports_torch(graph):
    problems = jobs_imports(*graph)
    assert not problems, "\n".join(problems)


def test_no_import_cycles(graph):
    problems = cycle_reports(*graph)
    assert not problems, "\n".join(problems)


def test_every_library_import_names_a_module_that_exists(graph):
    """After a move (jobs.py -> jobs/, figures.py -> figures/), no import is left pointing at the
    old place, not even one inside a function that no test happens to run."""
    modules, imports = graph
    problems = [f"{imp.where()}: no module {imp.target}" for imp in imports
                if _top(imp.target) == "ntm" and imp.target not in modules]
    assert not problems, "\n".join(problems)


# ---- pages only lay out ------------------------------------------------------------------------------------

PAGES = sorted(p for p in (ROOT / "pages").glob("*.py") if p.name != "_shared.py")


def test_there_are_pages_to_check():
    assert len(PAGES) >= 5, [p.name for p in PAGES]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_a_page_is_short_and_imports_no_torch(page):
    text = page.read_text(encoding="utf-8")
    problems = []
    lines = len(text.splitlines())
    if lines > PAGE_MAX_LINES:
        problems.append(f"pages/{page.name} has {lines} lines (at most {PAGE_MAX_LINES}): move the logic "
                        f"into the library")
    for node, _ in _statements(ast.parse(text)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        if any(_top(n) == "torch" for n in names):
            problems.append(f"pages/{page.name}:{node.lineno} `{ast.unparse(node)}`: pages lay out; "
                            f"tensors belong in the library")
    assert not problems, "\n".join(problems)
