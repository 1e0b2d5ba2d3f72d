"""No module of the project imports another in a circle (function-level imports too)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP_LEVEL = ("webapp", "jobs", "config", "wsgi")


def project_modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the app (not tests or benchmarks)."""
    modules = {}
    for path in sorted(ROOT.glob("**/*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[0] not in TOP_LEVEL or "versions" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `name` imports, anywhere in its code.

    `from package import thing` depends on `package.thing` when that is a
    module, else on `package`. A package's own `__init__` running first is
    Python's doing, not an import of the module's.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {module for module in found if module in modules and module != name}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a path (first node repeated at the end), or None."""
    visiting, done = [], set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for target in sorted(graph[node]):
            cycle = visit(target)
            if cycle:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle:
            return cycle
    return None


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def test_no_module_imports_another_in_a_circle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_graph_sees_the_imports_that_matter():
    graph = import_graph()
    # Module level, function level, `from package import module` and relative imports.
    assert "webapp.tasks" in graph["webapp.delivery"]
    assert "webapp.celery_app" in graph["webapp"]  # inside create_app
    assert "webapp.auth.sessions" in graph["webapp.timefmt"]  # inside a function
    assert "webapp" in graph["jobs"]
    # The web app never reaches into the worker's entry point.
    assert not any(
        target.startswith("jobs")
        for name, targets in graph.items()
        if name.startswith("webapp")
        for target in targets
    )


def test_a_cycle_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
