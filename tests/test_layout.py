"""The package's modules import one another without a circle (the brief's "one module per concept",
kept easy to see): every ``from . import x`` / ``from .x import y`` / ``import dualmaxent.x``,
at module level or inside a function, read from the sources with :mod:`ast`, is an arrow, and
the arrows form no cycle. The checker stands low: no solver module is among what
``dualmaxent.certify`` imports, directly or not."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dualmaxent"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """``module -> the package's modules it imports`` (a package's import of its own submodules
    and ``__init__``'s re-exports included)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{base}.{node.module}" if node.module else base
                else:
                    base = node.module or ""
                for alias in node.names:  # `from . import x` may name a submodule
                    if f"{base}.{alias.name}" in modules:
                        targets.add(f"{base}.{alias.name}")
                if base in modules:
                    targets.add(base)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name in modules)
        targets.discard(name)
        # (a module importing its own package's __init__ is Python's doing, not an arrow)
        graph[name] = {t for t in targets if not name.startswith(t + ".")}
    return graph


def _cycle(graph):
    """A cycle of the graph as a list of modules, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_modules_import_one_another_without_a_circle():
    graph = _imports()
    assert {"dualmaxent.certify", "dualmaxent.solvers", "dualmaxent.data"} <= set(graph)
    assert "dualmaxent.data" in graph["dualmaxent.certify"]  # (the reader sees arrows)
    cycle = _cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_checker_imports_no_solver():
    graph = _imports()
    seen, todo = set(), ["dualmaxent.certify"]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    solvers = {"dualmaxent.solvers", "dualmaxent.dual", "dualmaxent.objective",
               "dualmaxent.projected", "dualmaxent.primal", "dualmaxent.verify"}
    assert not seen & solvers, sorted(seen & solvers)
