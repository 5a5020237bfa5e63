"""One exception tree: every error class the three packages define derives from ``DashScopeError``, and the packages
raise no builtin exception outside a short, explained allowlist."""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import dashscope_embed
from dashscope_embed import errors as E

PACKAGES = ("dashscope_embed", "llama_index_dashscope_embed", "langchain_dashscope_embed")
ROOT = Path(dashscope_embed.__file__).resolve().parent.parent


def _modules():
    """Every module of the three packages that imports here; a module whose optional dependency is missing (Ray,
    a framework, a vector store) is skipped, and listed."""
    found, skipped = [], []
    for name in PACKAGES:
        try:
            package = importlib.import_module(name)
        except ImportError as exc:
            skipped.append((name, str(exc)))
            continue
        found.append(package)
        for info in pkgutil.walk_packages(package.__path__, prefix=name + "."):
            try:
                found.append(importlib.import_module(info.name))
            except ImportError as exc:  # MissingDependencyError is an ImportError too
                skipped.append((info.name, str(exc)))
    return found, skipped


def test_every_exception_class_defined_in_the_packages_derives_from_dashscope_error():
    modules, skipped = _modules()
    assert len(modules) > 50, skipped  # the walk reached the packages, not a stub
    checked, outside = set(), []
    for module in modules:
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ != module.__name__ or not issubclass(obj, BaseException):
                continue
            if issubclass(obj, Warning):
                continue  # warnings are issued with warnings.warn, never raised (catalog.UnknownModelWarning)
            checked.add(obj)
            if not issubclass(obj, E.DashScopeError):
                outside.append(f"{module.__name__}.{obj.__qualname__}")
    assert not outside, f"exception classes outside the DashScopeError tree: {outside}"
    # the walk saw the classes of the tree's leaves where they are defined, and the service's internal ones
    names = {c.__name__ for c in checked}
    assert {"DashScopeError", "BatchJobError", "UploadError", "LocalServiceError", "ServiceError"} <= names


@pytest.mark.parametrize("cls, standard", [
    (E.InvalidInputError, ValueError), (E.SourceError, ValueError), (E.UsageError, ValueError),
    (E.InvalidOptionsError, ValueError), (E.NoCredentialsError, RuntimeError), (E.BulkJobError, RuntimeError),
    (E.BatchJobError, RuntimeError), (E.MissingDependencyError, ImportError), (E.LocalServiceError, RuntimeError),
])
def test_standard_bases_users_catch_are_kept(cls, standard):
    assert issubclass(cls, E.DashScopeError) and issubclass(cls, standard)


def test_the_classes_are_the_same_where_they_are_raised():
    from dashscope_embed import batch, cli, uploads
    from dashscope_embed.jobs import connection, errors, sources

    assert cli.UsageError is E.UsageError and sources.SourceError is E.SourceError
    assert connection.NoCredentialsError is E.NoCredentialsError and uploads.UploadError is E.UploadError
    assert errors.BulkJobError is E.BulkJobError and batch.BatchJobError is E.BatchJobError


def test_every_public_error_is_exported_and_drawn_in_the_tree():
    for name in E.__all__:
        obj = getattr(E, name)
        if inspect.isclass(obj) and issubclass(obj, Exception):
            assert getattr(dashscope_embed, name) is obj, name
            assert f" {name}" in E.__doc__, f"{name} is missing from the tree in errors.py's docstring"


def test_an_adapter_constructed_with_bad_arguments_raises_a_dashscope_error(monkeypatch):
    pytest.importorskip("langchain_core")
    from pydantic import ValidationError

    from langchain_dashscope_embed import DashScopeEmbeddings

    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test-not-a-real-key-000")
    with pytest.raises(E.InvalidInputError, match="dimension 7 is not supported") as caught:
        DashScopeEmbeddings(dimensions=7)
    assert isinstance(caught.value, ValidationError)  # the frameworks' convention still holds
    with pytest.raises(E.DashScopeError, match="Extra inputs are not permitted"):
        DashScopeEmbeddings(dimension=64)


def test_connection_settings_errors_join_the_tree_without_the_key():
    from dashscope_embed import ConnectionSettings

    key = "sk-0123456789abcdef0123456789"
    with pytest.raises(E.InvalidOptionsError, match="unknown region 'mars'") as caught:
        ConnectionSettings(region="mars", api_key=key)
    assert key not in str(caught.value) and key not in repr(caught.value.errors())


def test_an_adapter_argument_error_never_shows_the_key():
    pytest.importorskip("langchain_core")
    from langchain_dashscope_embed import DashScopeEmbeddings

    key = "sk-0123456789abcdef0123456789"
    for arguments in ({"dimensions": 7}, {"dimension": 64}, {"max_retries": -1}):
        with pytest.raises(E.InvalidOptionsError) as caught:
            DashScopeEmbeddings(api_key=key, **arguments)
        error = caught.value
        assert key not in str(error) and key not in repr(error) and key not in repr(error.errors()), arguments


# --------------------------------------------------------------------------- raises of builtin exceptions

_BUILTIN_EXCEPTIONS = {name for name, obj in vars(builtins).items()
                       if inspect.isclass(obj) and issubclass(obj, BaseException)}
#: Builtin exceptions the packages may raise, and where:
#: - NotImplementedError: a hook a subclass must override (a programming error of the subclass, not a failure);
#: - StopIteration / StopAsyncIteration: the iterator protocol, in ``__next__`` / ``__anext__``;
#: - AttributeError / KeyError / IndexError / TypeError in a dunder method (``__getattr__`` ...), as the protocol
#:   requires (a module ``__getattr__`` serving deprecated names raises AttributeError for the others);
#: - AssertionError("unreachable"): after a retry loop that always returns or raises (tenacity's ``reraise``).
_ITERATION = {"__next__": "StopIteration", "__anext__": "StopAsyncIteration"}
_PROTOCOL = {"AttributeError", "KeyError", "IndexError", "TypeError"}


def _raised_name(node: ast.Raise) -> str | None:
    exc = node.exc
    if isinstance(exc, ast.Call):
        exc = exc.func
    return exc.id if isinstance(exc, ast.Name) else None


def _allowed(name: str, node: ast.Raise, function: str | None) -> bool:
    if name == "NotImplementedError":
        return True
    if function in _ITERATION and name == _ITERATION[function]:
        return True
    if function and function.startswith("__") and function.endswith("__") and name in _PROTOCOL:
        return True
    if name == "AssertionError" and isinstance(node.exc, ast.Call) and node.exc.args:
        first = node.exc.args[0]
        return isinstance(first, ast.Constant) and first.value == "unreachable"
    return False


def _builtin_raises(path: Path) -> list[str]:
    return _builtin_raises_in(path, path)


def _builtin_raises_in(path: Path, shown: Path) -> list[str]:
    """Builtin raises outside the allowlist in the file at ``path``, reported as ``shown:line``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if isinstance(child, ast.Raise) and child.exc is not None:
                name = _raised_name(child)
                if name in _BUILTIN_EXCEPTIONS and not _allowed(name, child, function):
                    found.append(f"{shown.relative_to(ROOT)}:{child.lineno}: raise {name}")
            visit(child, inner)

    visit(tree, None)
    return found


def test_the_packages_raise_no_builtin_exception_outside_the_allowlist():
    files = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]
    assert len(files) > 50
    offenders = [line for path in files for line in _builtin_raises(path)]
    assert not offenders, "raise a DashScopeError subclass instead (bad input: InvalidInputError):\n" + "\n".join(
        offenders)


def test_the_scan_finds_a_builtin_raise(tmp_path):
    path = ROOT / "dashscope_embed" / "probe.py"
    source = ("def f():\n    raise ValueError('x')\n\n"
              "class I:\n    def __next__(self):\n        raise StopIteration\n\n"
              "def g():\n    raise AssertionError('unreachable')\n")
    scanned = tmp_path / "probe.py"
    scanned.write_text(source)
    found = _builtin_raises_in(scanned, path)
    assert found == ["dashscope_embed/probe.py:2: raise ValueError"]
