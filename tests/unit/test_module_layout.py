"""The layout rules of the three packages: no import circle between their modules (deferred imports included), and
no module over 500 lines (the catalog's data table excepted)."""

from __future__ import annotations

import ast
from pathlib import Path

import dashscope_embed

PACKAGES = ("dashscope_embed", "llama_index_dashscope_embed", "langchain_dashscope_embed")
ROOT = Path(dashscope_embed.__file__).resolve().parent.parent
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of the packages it imports anywhere in its body (``from . import x`` names the
    module ``x``, not the package)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    target = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                named = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules]
                targets = named or [target]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_between_modules():
    modules = _modules()
    graph = import_graph(modules)
    assert {"dashscope_embed.mediafiles", "dashscope_embed.media"} <= set(graph)
    assert "dashscope_embed.mediafiles" in graph["dashscope_embed.media"]  # the walk sees relative imports
    assert circles(graph) == []


def test_the_circle_check_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _catalog_table_lines(path: Path) -> int:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "CATALOG":
            return node.end_lineno - node.lineno + 1  # type: ignore[operator]
    raise AssertionError("catalog.py has no CATALOG table")


def test_no_module_over_500_lines():
    over = {}
    for name, path in _modules().items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if name == "dashscope_embed.catalog":
            lines -= _catalog_table_lines(path)  # the data table is excepted, its code is not
        if lines > MAX_LINES:
            over[name] = lines
    assert not over, f"modules over {MAX_LINES} lines: {over}"


def private_imports_across_packages(modules: dict[str, Path]) -> list[str]:
    """``from X import _name`` where X is a module of another (sub)package than the importer's: an underscore name
    is private to its package; what another package needs is a public name."""
    found = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                parts = package.split(".")
                target = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target not in modules:
                continue
            owner = target if modules[target].name == "__init__.py" else target.rsplit(".", 1)[0]
            if owner == package:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{name}: from {target} import {alias.name}")
    return found


def test_no_private_name_is_imported_across_packages():
    assert private_imports_across_packages(_modules()) == []


def test_the_private_import_check_finds_one(tmp_path):
    (tmp_path / "a.py").write_text("def _helper():\n    pass\n")
    (tmp_path / "b.py").write_text("from ..a import _helper\nfrom .c import _own\n")
    (tmp_path / "c.py").write_text("_own = 1\n")
    modules = {"pkg.a": tmp_path / "a.py", "pkg.sub.b": tmp_path / "b.py", "pkg.sub.c": tmp_path / "c.py"}
    assert private_imports_across_packages(modules) == ["pkg.sub.b: from pkg.a import _helper"]
