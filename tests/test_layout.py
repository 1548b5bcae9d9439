"""The package's shape: one import name, rooms by role, and no import circles between modules."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import tokenmock

PACKAGE = Path(tokenmock.__file__).resolve().parent


def modules() -> dict[str, Path]:
    """Every module of the installed `tokenmock` package, by dotted name.

    The walk starts from each mapped subpackage: an editable install resolves them through setuptools'
    finder, not through `tokenmock.__path__`.
    """
    found: dict[str, Path] = {}
    pending = ["tokenmock", *(f"tokenmock.{room}" for room in ("client", "contracts", "mockserver", "openapi"))]
    while pending:
        name = pending.pop()
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None
        found[name] = Path(spec.origin)
        for folder in spec.submodule_search_locations or ():
            for entry in sorted(Path(folder).iterdir()):
                if entry.suffix == ".py" and entry.stem != "__init__":
                    found[f"{name}.{entry.stem}"] = entry
                elif (entry / "__init__.py").is_file():
                    pending.append(f"{name}.{entry.name}")
    return found


def module_level_imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Modules imported when `name` is imported: top-level statements only, TYPE_CHECKING blocks skipped."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    edges: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.If | ast.Try):
                visit(node.body)
                visit(getattr(node, "orelse", []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
            elif isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names if alias.name in known)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    if target in known:
                        edges.add(target)
                    elif base in known:
                        edges.add(base)

    visit(tree.body)
    edges.discard(name)
    return edges


def test_no_import_circles() -> None:
    found = modules()
    graph = {name: module_level_imports(path, name, set(found)) for name, path in found.items()}
    # A package's __init__ re-exporting its own submodules is not a circle of design.
    for name in graph:
        graph[name] = {t for t in graph[name] if not (name.startswith(t + ".") and found[t].name == "__init__.py")}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def strongconnect(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                strongconnect(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            strongconnect(node)
    assert circles == []
    assert len(found) > 40  # the walk really saw the package


def test_the_rooms() -> None:
    found = modules()
    for room in ("client", "contracts", "mockserver", "mockserver.pipeline", "mockserver.vendors",
                 "mockserver.stores", "mockserver.controls", "mockserver.serving", "openapi"):
        assert f"tokenmock.{room}" in found, room
    vendors = {name.rpartition(".")[2] for name in found if name.startswith("tokenmock.mockserver.vendors.")}
    assert vendors - {"base"} == {"junctiontv", "clickview", "vision10", "divetv", "aminotv"}
