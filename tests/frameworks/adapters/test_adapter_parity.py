"""Both frameworks' adapters take the same arguments, refuse the same mistakes and name their methods alike."""

from __future__ import annotations

import pickle

import pytest
from support.adapter_helpers import SECRET, transports
from support.fakes import FakeDashScope
from pydantic import ValidationError

from langchain_dashscope_embed import DashScopeEmbeddings, DashScopeSparseEmbeddings
from llama_index_dashscope_embed import DashScopeEmbedding, DashScopeSparseEmbedding

DENSE = {"llama_index": (DashScopeEmbedding, "model_name"), "langchain": (DashScopeEmbeddings, "model")}
SPARSE = {"llama_index": (DashScopeSparseEmbedding, "model_name"), "langchain": (DashScopeSparseEmbeddings, "model")}


@pytest.mark.parametrize("framework", sorted(DENSE))
@pytest.mark.parametrize("slip", [{"dimension": 512}, {"dims": 512}, {"model_kwargs": {"dimension": 512}}])
def test_unknown_arguments_are_refused_by_name(framework, slip):
    cls, _ = DENSE[framework]
    with pytest.raises(ValidationError, match=rf"{next(iter(slip))}\n\s+Extra inputs are not permitted"):
        cls(api_key=SECRET, **slip)


@pytest.mark.parametrize("framework", sorted(SPARSE))
def test_sparse_classes_refuse_unknown_arguments_too(framework):
    cls, _ = SPARSE[framework]
    with pytest.raises(ValidationError, match=r"dimensions\n\s+Extra inputs are not permitted"):
        cls(api_key=SECRET, dimensions=512)  # sparse vectors have no dimension


@pytest.mark.parametrize("framework", sorted(DENSE))
def test_dimensions_reach_the_wire_in_both(framework):
    cls, _ = DENSE[framework]
    fake = FakeDashScope()
    model = cls(api_key=SECRET, dimensions=512, **transports(fake))
    vectors = model.embed_documents(["a", "b"]) if framework == "langchain" else model.get_text_embedding_batch(["a", "b"])
    assert [len(v) for v in vectors] == [512, 512]
    assert fake.bodies[0]["parameters"]["dimension"] == 512


@pytest.mark.parametrize("framework", sorted(DENSE))
def test_same_connection_fields_and_pacing_in_both(framework, monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-env-parity-0001")
    monkeypatch.setenv("DASHSCOPE_WORKSPACE", "ws-parity")
    cls, _ = DENSE[framework]
    model = cls(requests_per_minute=120, tokens_per_minute=50_000)
    assert model.api_key.get_secret_value() == "sk-env-parity-0001"
    assert model.dashscope_api_key.get_secret_value() == "sk-env-parity-0001"
    assert model.workspace == "ws-parity"
    limiter = model.engine.rate_limiter
    assert (limiter.requests_per_minute, limiter.tokens_per_minute) == (120, 50_000)
    clone = pickle.loads(pickle.dumps(model))
    assert clone.engine.rate_limiter.requests_per_minute == 120
    assert "sk-env-parity-0001" not in repr(model) and "sk-env-parity-0001" not in str(model.model_dump())


@pytest.mark.parametrize("framework", sorted(DENSE))
def test_sparse_twin_and_milvus_function_have_one_name_in_both(framework):
    cls, model_field = DENSE[framework]
    sparse_cls, _ = SPARSE[framework]
    fake = FakeDashScope()
    dense = cls(api_key=SECRET, output_type="dense&sparse", instruct="Find the passage", **transports(fake))
    twin = dense.sparse_model(max_concurrency=3)
    assert isinstance(twin, sparse_cls)
    assert getattr(twin, model_field) == getattr(dense, model_field)
    assert twin.instruct == "Find the passage" and twin.max_concurrency == 3
    assert twin.api_key.get_secret_value() == SECRET
    function = twin.milvus_function()
    assert hasattr(function, "encode_documents") or hasattr(function, "embed_documents")


@pytest.mark.parametrize(
    "make, old, new",
    [
        (lambda: DashScopeEmbedding(api_key=SECRET), "sparse_embedding", "sparse_model"),
        (lambda: DashScopeEmbeddings(api_key=SECRET), "sparse_embeddings", "sparse_model"),
        (lambda: DashScopeSparseEmbeddings(api_key=SECRET), "milvus", "milvus_function"),
    ],
)
def test_old_method_names_still_work_and_say_what_replaced_them(make, old, new):
    obj = make()
    with pytest.warns(DeprecationWarning, match=new):
        result = getattr(obj, old)()
    assert type(result) is type(getattr(obj, new)())


@pytest.mark.parametrize(
    "framework, bad",
    [
        ("llama_index", dict(model_name="text-embedding-v2", dimensions=7)),
        ("langchain", dict(model="text-embedding-v2", dimensions=7)),
        ("llama_index", dict(model_name="text-embedding-v2", output_type="dense&sparse")),
        ("langchain", dict(dimension=7)),
    ],
)
def test_construction_errors_never_show_the_key(framework, bad):
    cls, _ = DENSE[framework]
    key = "sk-0123456789abcdef0123456789abcdef"
    with pytest.raises(ValidationError) as caught:
        cls(api_key=key, **bad)
    for text in (str(caught.value), repr(caught.value)):
        assert key not in text and key[-12:] not in text


@pytest.mark.parametrize("framework", sorted(DENSE))
def test_same_introspection_in_both(framework):
    cls, _ = DENSE[framework]
    model = cls(api_key=SECRET, dimensions=256)
    assert model.dimension == 256 and model.is_multimodal is False
    assert model.engine.dimension == 256 and model.usage.requests == 0
    mm = cls(api_key=SECRET, **{DENSE[framework][1]: "multimodal-embedding-v1"})
    assert mm.is_multimodal is True and mm.dimension == 1024
    sparse_cls, _ = SPARSE[framework]
    sparse = sparse_cls(api_key=SECRET)
    assert sparse.cache is model.sparse_model().cache
