"""Every name a package exports is importable and documented, and every package ships its type information."""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
from importlib import resources

import pytest


def _installed(distribution: str) -> bool:
    # not importlib.util.find_spec: with tests/ on sys.path, the folder tests/ray imports as a namespace package "ray"
    try:
        importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


# dashscope_embed.ray imports Ray Data, which only the ``ray`` extra installs
_RAY = pytest.param(
    "dashscope_embed.ray",
    marks=pytest.mark.skipif(not _installed("ray"), reason="Ray is not installed (pip install 'dashscope-embed[ray]')"),
)
PACKAGES = [
    "dashscope_embed", "llama_index_dashscope_embed", "langchain_dashscope_embed", "dashscope_embed.server",
    "dashscope_embed.batch", _RAY, "dashscope_embed.uploads", "dashscope_embed.pipelining",
    "dashscope_embed.options",
]


def _exports(package: str):
    module = importlib.import_module(package)
    for name in module.__all__:
        yield module, name


@pytest.mark.parametrize("package", ["dashscope_embed", "llama_index_dashscope_embed", "langchain_dashscope_embed"])
def test_package_ships_py_typed(package):
    assert resources.files(package).joinpath("py.typed").is_file()


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_is_importable(package):
    module = importlib.import_module(package)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what it does not define: {missing}"
    assert len(set(module.__all__)) == len(module.__all__), f"{package}.__all__ lists a name twice"


def _undocumented(obj: object) -> list[str]:
    """The public callables of ``obj`` (itself, and for a class the methods and properties it defines) without a
    docstring of their own."""
    gaps = []
    if not (inspect.getdoc(obj) or "").strip() or (inspect.isclass(obj) and "__doc__" not in vars(obj)):
        gaps.append("")
    if inspect.isclass(obj):
        for attr, value in vars(obj).items():
            if attr.startswith("_"):
                continue
            target = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
            if (inspect.isfunction(target) or isinstance(value, property)) and not (target.__doc__ or "").strip():
                gaps.append(f".{attr}")
    return gaps


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_class_and_function_is_documented(package):
    gaps = []
    for module, name in _exports(package):
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            gaps += [f"{name}{gap}" for gap in _undocumented(obj)]
    assert not gaps, f"undocumented in {package}: {gaps}"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_constant_is_described_where_it_is_defined(package):
    """Constants (dicts, tuples, type aliases) cannot carry a docstring: their defining module must describe them
    with a ``#:`` comment or name them in its docstring."""
    gaps = []
    for module, name in _exports(package):
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj) or name == "__version__":
            continue
        home = next(
            (m for m in _defining_modules(module, name) if f"#: " in _source_before(m, name) or name in (m.__doc__ or "")),
            None,
        )
        if home is None:
            gaps.append(name)
    assert not gaps, f"constants with no description in {package}: {gaps}"


def _defining_modules(package_module, name):
    seen = [package_module]
    for mod in list(vars(importlib.import_module(package_module.__name__)).values()):
        if inspect.ismodule(mod) and mod.__name__.startswith(package_module.__name__.split(".")[0]):
            seen.append(mod)
    return [m for m in seen if name in vars(m)]


def _source_before(module, name) -> str:
    try:
        lines = inspect.getsource(module).splitlines()
    except (OSError, TypeError):
        return ""
    for i, line in enumerate(lines):
        if line.startswith(f"{name}:") or line.startswith(f"{name} ="):
            return "\n".join(lines[max(0, i - 3) : i])
    return ""
