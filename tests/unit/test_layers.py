"""The package's architecture: no import cycles, and imports only go down the layers.

Layers, lowest first: core < cells < data < simulation < analysis < learning < figures < ops.
A module may import its own layer and any lower one. Every import counts, also one inside a
function (a late import still ties the two modules together), absolute or relative. The top-level
``neurodepth/__init__.py`` is outside the layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "neurodepth"
SRC = Path(__file__).resolve().parents[2] / "src" / PACKAGE
LAYERS = ["core", "cells", "data", "simulation", "analysis", "learning", "figures", "ops"]


def module_name(path: Path, root: Path = SRC) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([root.name, *parts])


def discover(root: Path = SRC) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def _resolve(name: str, modules: set[str]) -> str | None:
    """The module ``name`` lives in: itself, or its longest prefix that is a module."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """Package modules that ``name`` imports anywhere in its file (not itself)."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        candidates: list[str] = []
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                if not base:
                    raise AssertionError(f"{path}: relative import beyond the package")
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            # `from x import y` imports the module x.y when there is one, else a name in x
            candidates = [f"{origin}.{alias.name}" for alias in node.names] or [origin]
        for candidate in candidates:
            if candidate.split(".")[0] != PACKAGE:
                continue
            target = _resolve(candidate, modules)
            if target is not None and target != name:
                found.add(target)
    return found


def import_graph(root: Path = SRC) -> dict[str, set[str]]:
    modules = discover(root)
    names = set(modules)
    return {name: imports_of(name, path, names) for name, path in modules.items()}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_the_walk_sees_the_package(graph):
    # guards the other tests against passing because the walk found nothing
    assert len(graph) > 30
    assert sum(len(targets) for targets in graph.values()) > 50
    assert "neurodepth.core.errors" in graph["neurodepth.cells.builder"]


def test_every_module_belongs_to_a_layer(graph):
    stray = sorted(m for m in graph if m != PACKAGE and layer_of(m) not in LAYERS)
    assert not stray, f"modules in no layer (add the layer to LAYERS in order): {stray}"


def test_no_import_cycles(graph):
    found = cycles(graph)
    lines = []
    for component in found:
        members = set(component)
        lines.append(" <-> ".join(component))
        lines += [f"    {a} -> {b}" for a in component for b in sorted(graph[a] & members)]
    assert not found, "import cycles:\n" + "\n".join(lines)


def test_imports_only_go_down_the_layers(graph):
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    upward = sorted(
        f"{source} ({layer_of(source)}) -> {target} ({layer_of(target)})"
        for source, targets in graph.items()
        if source != PACKAGE and layer_of(source) in rank
        for target in targets
        if target != PACKAGE
        and layer_of(target) in rank
        and rank[layer_of(target)] > rank[layer_of(source)]
    )
    order = " < ".join(LAYERS)
    assert not upward, f"imports that go up the layers ({order}):\n" + "\n".join(upward)


def test_the_walk_resolves_every_kind_of_import(tmp_path):
    root = tmp_path / PACKAGE
    files = {
        "__init__.py": "",
        "core/__init__.py": "",
        "core/errors.py": "",
        "core/atomic.py": "from .errors import X\n",
        "cells/__init__.py": "from . import spec\n",
        "cells/spec.py": "import neurodepth.core.atomic as a\n",
        "cells/builder.py": (
            "from neurodepth.core import errors\n"
            "from ..core.atomic import write\n"
            "import os\n"
            "def late():\n"
            "    from neurodepth.cells.spec import CellSpec\n"
            "    from neurodepth.cells import reduce\n"
        ),
        "cells/reduce.py": "def f():\n    from .builder import build\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    graph = import_graph(root)
    assert graph["neurodepth.core.atomic"] == {"neurodepth.core.errors"}
    assert graph["neurodepth.cells"] == {"neurodepth.cells.spec"}
    assert graph["neurodepth.cells.builder"] == {
        "neurodepth.core.errors",
        "neurodepth.core.atomic",
        "neurodepth.cells.spec",
        "neurodepth.cells.reduce",
    }
    assert cycles(graph) == [["neurodepth.cells.builder", "neurodepth.cells.reduce"]]
