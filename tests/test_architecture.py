"""The package's shape: no import loops, no private names taken from another module.

Every ``import`` and ``from ... import`` of a ``screen`` module counts, at any depth
(inside functions and under ``TYPE_CHECKING`` too): a loop there is a loop in the design,
whether or not Python happens to survive it at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "screen"


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    """(module -> modules it imports, [(importer, module, private name)])."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    private = []
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("screen"):
                module = str(node.module)
                for alias in node.names:
                    full = f"{module}.{alias.name}"
                    target = full if full in modules else _resolve(module, modules)
                    if target and target != name:
                        targets.add(target)
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        private.append((name, module, alias.name))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    target = (
                        _resolve(alias.name, modules) if alias.name.startswith("screen") else None
                    )
                    if target and target != name:
                        targets.add(target)
        graph[name] = targets
    return graph, private


def import_loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                loops.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return loops


def test_the_checker_finds_a_loop():
    assert import_loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_loops({"a": {"b"}, "b": set()}) == []


def test_no_import_loops_in_the_package():
    graph, _ = import_graph()
    assert len(graph) > 50
    assert import_loops(graph) == []


def test_no_module_imports_a_private_name_of_another():
    _, private = import_graph()
    assert private == []
