"""LangChain adapter: langchain-tests unit suite, plus wire bodies, concurrency, secrets, pickling and hybrid
request counts against a scriptable fake DashScope (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import math
import pickle

import httpx
import pytest
from support.adapter_helpers import SECRET, transports
from support.fakes import FakeDashScope
from langchain_core.embeddings import Embeddings
from langchain_tests.unit_tests import EmbeddingsUnitTests
from pydantic import ValidationError

from dashscope_embed import InvalidInputError
from dashscope_embed.hybrid import default_sparse_cache
from langchain_dashscope_embed import DashScopeEmbeddings, DashScopeSparseEmbeddings

DOCS = [f"passage {i} on subject {i % 5}" for i in range(27)]


class TestDashScopeEmbeddingsStandardUnit(EmbeddingsUnitTests):
    """The langchain-tests unit suite (construction with no network, initialisation from the environment)."""

    @property
    def embeddings_class(self) -> type[DashScopeEmbeddings]:
        return DashScopeEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"model": "text-embedding-v4", "dimensions": 512, "api_key": "sk-unit"}

    @property
    def init_from_env_params(self) -> tuple[dict, dict, dict]:
        return (
            {
                "DASHSCOPE_API_KEY": "sk-from-env",
                "DASHSCOPE_BASE_URL": "https://dashscope-intl.aliyuncs.com/api/v1",
                "DASHSCOPE_WORKSPACE": "ws-123",
            },
            {"model": "text-embedding-v3"},
            {
                "dashscope_api_key": "sk-from-env",
                "base_url": "https://dashscope-intl.aliyuncs.com/api/v1",
                "workspace": "ws-123",
                "model": "text-embedding-v3",
            },
        )


def dense(fake: FakeDashScope, **kwargs) -> DashScopeEmbeddings:
    kwargs.setdefault("api_key", SECRET)
    return DashScopeEmbeddings(**transports(fake), **kwargs)


def test_model_config_follows_langchain_conventions():
    model = DashScopeEmbeddings(api_key=SECRET)
    assert isinstance(model, Embeddings)
    assert model.model == "text-embedding-v4"
    assert model.dashscope_api_key.get_secret_value() == SECRET
    assert DashScopeEmbeddings(dashscope_api_key=SECRET).dashscope_api_key.get_secret_value() == SECRET
    with pytest.raises(ValidationError):
        DashScopeEmbeddings(api_key=SECRET, no_such_field=1)  # extra="forbid"
    with pytest.raises(ValidationError, match="dimension"):
        DashScopeEmbeddings(api_key=SECRET, dimensions=100)
    with pytest.raises(ValidationError, match="openai"):
        DashScopeEmbeddings(api_key=SECRET, protocol="openai", instruct="x")


def test_region_and_workspace_reach_the_engine(monkeypatch):
    monkeypatch.delenv("DASHSCOPE_BASE_URL", raising=False)
    monkeypatch.delenv("DASHSCOPE_HTTP_BASE_URL", raising=False)
    model = DashScopeEmbeddings(api_key=SECRET, region="hongkong", workspace="ws-9")
    assert model.engine.settings.root == "https://cn-hongkong.dashscope.aliyuncs.com"
    assert model.engine.settings.headers()["X-DashScope-WorkSpace"] == "ws-9"


def test_query_and_document_bodies_differ_only_in_text_type_and_instruct(fake):
    model = dense(fake, dimensions=768, instruct="Retrieve the passage that answers the question")
    model.embed_query("same words")
    model.embed_documents(["same words"])
    query, document = (copy.deepcopy(b) for b in fake.bodies)
    assert query["parameters"].pop("text_type") == "query"
    assert query["parameters"].pop("instruct") == "Retrieve the passage that answers the question"
    assert document["parameters"].pop("text_type") == "document"
    assert query == document


async def test_async_methods_send_the_same_bodies(fake):
    model = dense(fake, instruct="Find it")
    model.embed_query("x")
    await model.aembed_query("x")
    model.embed_documents(["x"])
    await model.aembed_documents(["x"])
    assert fake.bodies[0] == fake.bodies[1] and fake.bodies[2] == fake.bodies[3]


def test_embed_documents_batches_and_keeps_order():
    fake = FakeDashScope(shuffle=True)
    model = dense(fake, dimensions=64)
    vectors = model.embed_documents(DOCS)
    assert fake.calls == math.ceil(len(DOCS) / 10)
    assert len(vectors) == len(DOCS) and all(len(v) == 64 and isinstance(v[0], float) for v in vectors)
    fake.shuffle = False
    assert vectors == [model.embed_documents([t])[0] for t in DOCS]
    assert model.embed_documents([]) == []


async def test_aembed_documents_is_natively_async_and_bounded():
    fake = FakeDashScope(delay=0.05)

    def no_sync(request: httpx.Request) -> httpx.Response:
        raise AssertionError("the async path used the sync client")

    model = DashScopeEmbeddings(
        api_key=SECRET,
        transport=httpx.MockTransport(no_sync),
        async_transport=fake.async_transport(),
        max_concurrency=3,
    )
    results = await asyncio.gather(*(model.aembed_documents([f"{j}/{i}" for i in range(40)]) for j in range(3)))
    assert [len(r) for r in results] == [40, 40, 40]
    assert fake.calls == 12 and fake.max_in_flight == 3


def test_usage_totals(fake):
    model = dense(fake)
    model.embed_documents(DOCS)
    model.embed_query("two words")
    assert model.usage.requests == 4
    assert model.usage.total_tokens == sum(len(t.split()) for t in DOCS) + 2


def test_empty_text_raises(fake):
    with pytest.raises(InvalidInputError, match=r"\[0\] empty"):
        dense(fake).embed_documents(["", "ok"])
    assert fake.calls == 0


def test_model_dump_round_trip_has_no_secret(monkeypatch):
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    model = DashScopeEmbeddings(api_key=SECRET, dimensions=256, instruct="Find it", output_type="dense&sparse")
    dumped = model.model_dump()
    assert "dashscope_api_key" not in dumped and "api_key" not in dumped
    assert SECRET not in json.dumps(dumped) and SECRET not in model.model_dump_json()
    restored = DashScopeEmbeddings(**dumped)
    assert restored.model_dump() == dumped and restored.dashscope_api_key is None
    assert DashScopeEmbeddings.model_validate_json(model.model_dump_json()).model_dump() == dumped


def test_no_secret_in_repr_str_state_or_logs(fake, caplog):
    caplog.set_level(logging.DEBUG)
    model = dense(fake, output_type="dense&sparse")
    sparse = model.sparse_model()
    model.embed_documents(DOCS)
    model.embed_query("q")
    sparse.embed_documents(DOCS[:2])
    sparse.embed_query("other")
    for obj in (model, sparse):
        for text in (repr(obj), str(obj), str(obj.model_dump()), obj.model_dump_json(), repr(obj.__getstate__())):
            assert SECRET not in text
    assert SECRET not in caplog.text
    assert any(r.name == "dashscope_embed" for r in caplog.records)


def test_pickle_round_trip(monkeypatch):
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    model = DashScopeEmbeddings(api_key=SECRET, dimensions=128, **transports(FakeDashScope()))
    clone = pickle.loads(pickle.dumps(model))
    assert clone.dashscope_api_key.get_secret_value() == SECRET
    assert clone.engine.dimension == 128 and clone.transport is None
    sparse = pickle.loads(pickle.dumps(DashScopeSparseEmbeddings(api_key=SECRET, model="text-embedding-v3")))
    assert sparse.engine.model == "text-embedding-v3"


# ---------------------------------------------------------------------------------------------- sparse


def test_sparse_embeddings_is_a_langchain_qdrant_sparse_embeddings(fake):
    langchain_qdrant = pytest.importorskip("langchain_qdrant")
    sparse = DashScopeSparseEmbeddings(api_key=SECRET, **transports(fake))
    assert isinstance(sparse, langchain_qdrant.SparseEmbeddings)
    docs = sparse.embed_documents(["red green blue", "green"])
    query = sparse.embed_query("green")
    assert all(isinstance(v, langchain_qdrant.SparseVector) for v in docs + [query])
    assert len(docs[0].indices) == len(docs[0].values) == 3
    assert [b["parameters"] for b in fake.bodies] == [
        {"text_type": "document", "output_type": "sparse"},
        {"text_type": "query", "output_type": "sparse"},
    ]


async def test_sparse_async_and_dict_forms(fake):
    sparse = DashScopeSparseEmbeddings(api_key=SECRET, **transports(fake))
    vectors = await sparse.aembed_documents(["a b c"])
    dicts = sparse.embed_documents_as_dicts(["a b c"])
    assert dicts == [dict(zip(vectors[0].indices, vectors[0].values))]
    query = await sparse.aembed_query_as_dict("a")
    assert query == sparse.embed_query_as_dict("a") and isinstance(next(iter(query)), int)
    milvus = sparse.milvus_function()
    assert milvus.embed_documents(["a b c"]) == dicts and milvus.embed_query("a") == query
    assert await milvus.aembed_query("a") == query


def test_dense_and_sparse_share_one_request_per_batch(fake):
    model = dense(fake, output_type="dense&sparse")
    sparse = model.sparse_model()
    model.embed_documents(DOCS)
    sparse.embed_documents(DOCS)
    model.embed_query("subject 3")
    sparse.embed_query("subject 3")
    assert fake.calls == math.ceil(len(DOCS) / 10) + 1
    assert all(b["parameters"]["output_type"] == "dense&sparse" for b in fake.bodies)
    assert default_sparse_cache().hits == len(DOCS) + 1 and sparse.usage.requests == 0


def test_qdrant_hybrid_indexing_pays_once_per_batch():
    langchain_qdrant = pytest.importorskip("langchain_qdrant")
    fake = FakeDashScope()
    model = dense(fake, output_type="dense&sparse", dimensions=64)
    sparse = model.sparse_model()
    store = langchain_qdrant.QdrantVectorStore.from_texts(
        DOCS,
        embedding=model,
        sparse_embedding=sparse,
        location=":memory:",
        collection_name="hybrid",
        retrieval_mode=langchain_qdrant.RetrievalMode.HYBRID,
    )
    # one request for the collection's "dummy_text" probe, then one dense&sparse request per 10 texts
    assert fake.calls == 1 + math.ceil(len(DOCS) / 10)
    assert sparse.usage.requests == 0
    before = fake.calls
    assert store.similarity_search("passage 4 on subject 4", k=2)
    assert fake.calls == before + 1


def test_a_bare_string_is_refused_not_split_into_characters(fake):
    model = dense(fake, output_type="dense&sparse")
    sparse = model.sparse_model()
    calls = [
        lambda: model.embed_documents("one whole document"),
        lambda: asyncio.run(model.aembed_documents("one whole document")),
        lambda: sparse.embed_documents("one whole document"),
        lambda: asyncio.run(sparse.aembed_documents("one whole document")),
        lambda: sparse.embed_documents_as_dicts("one whole document"),
    ]
    for call in calls:
        with pytest.raises(InvalidInputError, match="list of strings"):
            call()
    assert fake.calls == 0
