"""LlamaIndex adapter against a scriptable fake DashScope (httpx.MockTransport): wire bodies, batching,
concurrency, pickling, secrets, usage, hybrid request counts."""

from __future__ import annotations

import asyncio
import copy
import io
import json
import logging
import math
import pickle

import httpx
import pytest
from support.adapter_helpers import SECRET, transports
from support.fakes import FakeDashScope, error_reply
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base_sparse import BaseSparseEmbedding
from llama_index.core.embeddings.multi_modal_base import MultiModalEmbedding
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import VectorStoreQueryMode
from pydantic import SecretStr, ValidationError

from dashscope_embed import AuthenticationError, InvalidInputError
from dashscope_embed.hybrid import default_sparse_cache
from llama_index_dashscope_embed import (
    DashScopeEmbedding,
    DashScopeEmbeddingUsageEvent,
    DashScopeMilvusSparseFunction,
    DashScopeSparseEmbedding,
)

DOCS = [f"document number {i} about topic {i % 7}" for i in range(23)]


def dense(fake: FakeDashScope, **kwargs) -> DashScopeEmbedding:
    kwargs.setdefault("api_key", SECRET)
    return DashScopeEmbedding(**transports(fake), **kwargs)


def without(body: dict, *keys: str) -> dict:
    body = copy.deepcopy(body)
    for key in keys:
        body["parameters"].pop(key, None)
    return body


# ---------------------------------------------------------------------------------------------- class surface


def test_class_surface_and_defaults(fake):
    model = dense(fake)
    assert isinstance(model, MultiModalEmbedding)
    assert DashScopeEmbedding.class_name() == "DashScopeEmbedding"
    assert model.model_name == "text-embedding-v4"
    assert model.embed_batch_size == 640  # decoupled from the API's 10 rows per request
    assert model.dimension == 1024
    assert isinstance(model.api_key, SecretStr)
    assert isinstance(DashScopeSparseEmbedding(api_key=SECRET), BaseSparseEmbedding)


def test_api_key_defaults_from_environment(monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-from-env")
    assert DashScopeEmbedding().api_key.get_secret_value() == "sk-from-env"
    assert DashScopeSparseEmbedding().api_key.get_secret_value() == "sk-from-env"
    assert DashScopeEmbedding(api_key="sk-explicit").api_key.get_secret_value() == "sk-explicit"


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(dimensions=1000),
        dict(model_name="text-embedding-v2", instruct="Find the passage"),
        dict(protocol="openai", output_type="dense&sparse"),
        dict(model_name="text-embedding-v2", output_type="dense&sparse"),
    ],
)
def test_bad_configuration_fails_at_construction(kwargs):
    with pytest.raises(ValidationError):
        DashScopeEmbedding(api_key=SECRET, **kwargs)


def test_sparse_model_rejects_a_model_without_sparse_output():
    with pytest.raises(ValidationError, match="sparse"):
        DashScopeSparseEmbedding(api_key=SECRET, model_name="text-embedding-v2")


def test_image_methods_raise_a_clear_error(fake):
    model = dense(fake)
    with pytest.raises(InvalidInputError, match="multimodal"):
        model.get_image_embedding("photo.png")
    with pytest.raises(InvalidInputError, match="multimodal"):
        asyncio.run(model.aget_image_embedding(io.BytesIO(b"\x89PNG")))
    assert fake.calls == 0


# ---------------------------------------------------------------------------------------------- wire bodies


def test_query_and_document_bodies_differ_only_in_text_type_and_instruct(fake):
    model = dense(fake, dimensions=256, instruct="Given a question, find the passage that answers it")
    model.get_query_embedding("what is a list?")
    model.get_text_embedding("what is a list?")
    query, document = fake.bodies
    assert query["parameters"]["text_type"] == "query"
    assert query["parameters"]["instruct"] == "Given a question, find the passage that answers it"
    assert document["parameters"]["text_type"] == "document"
    assert "instruct" not in document["parameters"]
    assert without(query, "text_type", "instruct") == without(document, "text_type", "instruct")
    assert query["parameters"]["dimension"] == 256


async def test_async_query_and_document_bodies(fake):
    model = dense(fake)
    await model.aget_query_embedding("q")
    await model.aget_text_embedding("q")
    await model.aget_agg_embedding_from_queries(["q"])
    assert [b["parameters"]["text_type"] for b in fake.bodies] == ["query", "document", "query"]
    assert without(fake.bodies[0], "text_type") == without(fake.bodies[1], "text_type")


def test_query_vectors_differ_from_document_vectors(fake):
    model = dense(fake)
    assert model.get_query_embedding("same text") != model.get_text_embedding("same text")


def test_openai_protocol_sends_no_text_type(fake):
    model = dense(fake, protocol="openai", dimensions=512)
    assert len(model.get_query_embedding("q")) == 512
    assert fake.paths == ["/compatible-mode/v1/embeddings"]
    assert "text_type" not in fake.bodies[0] and "parameters" not in fake.bodies[0]


# ---------------------------------------------------------------------------------------------- batching


def test_framework_batch_becomes_requests_of_at_most_ten_rows(fake):
    model = dense(fake)
    vectors = model.get_text_embedding_batch(DOCS)
    assert len(vectors) == len(DOCS) and all(len(v) == 1024 for v in vectors)
    assert fake.calls == math.ceil(len(DOCS) / 10)
    assert sorted(len(b["input"]["texts"]) for b in fake.bodies) == [3, 10, 10]
    # order is kept: each row is the fake's deterministic vector of its own text
    assert vectors == [model.get_text_embedding(t) for t in DOCS]


def test_order_restored_from_shuffled_replies():
    fake = FakeDashScope(shuffle=True)
    model = dense(fake)
    vectors = model.get_text_embedding_batch(DOCS)
    fake.shuffle = False
    assert vectors == [model.get_text_embedding(t) for t in DOCS]


def test_sync_batch_runs_requests_concurrently():
    fake = FakeDashScope(delay=0.05)
    model = dense(fake, max_concurrency=4)
    model.get_text_embedding_batch([f"t{i}" for i in range(80)])
    assert fake.calls == 8
    assert fake.max_in_flight == 4


async def test_async_batches_are_truly_async_and_bounded():
    """aget_text_embedding_batch gathers every framework batch at once; requests in flight stay <= max_concurrency."""
    fake = FakeDashScope(delay=0.05)

    def no_sync(request: httpx.Request) -> httpx.Response:
        raise AssertionError("the async path used the sync client")

    model = DashScopeEmbedding(
        api_key=SECRET,
        transport=httpx.MockTransport(no_sync),
        async_transport=fake.async_transport(),
        max_concurrency=3,
        embed_batch_size=20,
    )
    texts = [f"text {i}" for i in range(200)]
    vectors = await model.aget_text_embedding_batch(texts)
    assert len(vectors) == 200
    assert fake.calls == 20  # 10 framework batches of 20 -> 2 requests each
    assert fake.max_in_flight == 3  # concurrent, and never more than the bound


async def test_concurrent_async_callers_share_one_bound():
    fake = FakeDashScope(delay=0.03)
    model = dense(fake, max_concurrency=2)
    await asyncio.gather(*(model.aget_text_embedding_batch([f"{j}-{i}" for i in range(30)]) for j in range(4)))
    assert fake.calls == 12
    assert fake.max_in_flight == 2


def test_failure_raises_instead_of_empty_vectors():
    fake = FakeDashScope(script={1: error_reply(401, "InvalidApiKey", "Invalid API-key provided.")})
    model = dense(fake)
    with pytest.raises(AuthenticationError):
        model.get_text_embedding_batch(["a", "b"])


def test_empty_text_is_rejected_before_sending(fake):
    model = dense(fake)
    with pytest.raises(InvalidInputError, match=r"\[1\] empty"):
        model.get_text_embedding_batch(["fine", ""])
    assert fake.calls == 0


# ---------------------------------------------------------------------------------------------- usage


class _Collect(BaseEventHandler):
    events: list = []

    @classmethod
    def class_name(cls) -> str:
        return "_Collect"

    def handle(self, event, **kwargs) -> None:
        self.events.append(event)


def test_usage_on_the_object_and_in_instrumentation_events(fake):
    root = get_dispatcher()
    handler = _Collect(events=[])
    root.add_event_handler(handler)
    try:
        model = dense(fake)
        model.get_text_embedding_batch(DOCS)
        model.get_query_embedding("how many topics?")
    finally:
        root.event_handlers.remove(handler)
    usage_events = [e for e in handler.events if isinstance(e, DashScopeEmbeddingUsageEvent)]
    assert [(e.text_type, e.rows, e.requests) for e in usage_events] == [("document", 23, 3), ("query", 1, 1)]
    expected_tokens = sum(len(t.split()) for t in DOCS) + 3
    assert sum(e.total_tokens for e in usage_events) == expected_tokens
    assert model.usage.total_tokens == expected_tokens and model.usage.requests == 4
    assert all(rid.startswith("req-") for e in usage_events for rid in e.request_ids)
    # the framework's own events still come, and its model payload carries no key
    names = {type(e).__name__ for e in handler.events}
    assert {"EmbeddingStartEvent", "EmbeddingEndEvent"} <= names
    assert all(SECRET not in str(e.model_dump()) for e in handler.events)


# ---------------------------------------------------------------------------------------------- serialisation


def test_to_dict_and_json_round_trip_without_the_key(fake, monkeypatch):
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    model = DashScopeEmbedding(api_key=SECRET, dimensions=512, instruct="Find it", region="singapore")
    data = model.to_dict()
    assert "api_key" not in data and SECRET not in json.dumps(data)
    assert SECRET not in model.to_json()
    restored = DashScopeEmbedding.from_dict(data)
    assert restored.api_key is None  # the key is configuration you must supply again, never serialised
    for name in ("model_name", "dimensions", "instruct", "region", "embed_batch_size", "output_type"):
        assert getattr(restored, name) == getattr(model, name)
    again = DashScopeEmbedding.from_json(model.to_json())
    assert again.to_dict() == data


def test_to_payload_is_the_same_on_every_supported_llama_index_core(fake):
    # BaseEmbedding.to_payload arrived in llama-index-core 0.14.23; the floor job runs this on 0.12
    model = dense(fake, dimensions=256, embed_batch_size=32, output_type="dense&sparse")
    assert model.to_payload() == {
        "class_name": "DashScopeEmbedding", "model_name": "text-embedding-v4", "embed_batch_size": 32,
        "dimension": 256, "protocol": "dashscope", "output_type": "dense&sparse",
    }
    assert model.sparse_model().to_payload() == {
        "class_name": "DashScopeSparseEmbedding", "model_name": "text-embedding-v4", "embed_batch_size": 640,
    }


def test_no_secret_in_repr_str_payload_state_or_logs(fake, caplog):
    caplog.set_level(logging.DEBUG)
    model = dense(fake, output_type="dense&sparse")
    sparse = model.sparse_model()
    model.get_text_embedding_batch(DOCS)
    model.get_query_embedding("q")
    sparse.sparse_doc_fn(DOCS[:3])
    sparse.get_query_embedding("another query")
    for obj in (model, sparse):
        shown = [repr(obj), str(obj), str(obj.to_payload()), repr(obj.__getstate__()), repr(obj.engine)]
        shown.append(obj.to_json() if hasattr(obj, "to_json") else json.dumps(obj.model_dump()))
        for text in shown:
            assert SECRET not in text
    assert SECRET not in caplog.text
    assert any(r.name == "dashscope_embed" for r in caplog.records)  # the engine did log at DEBUG
    # IngestionPipeline's cache key is built from to_dict(): the key must not be part of it
    from llama_index.core.ingestion.pipeline import get_transformation_hash

    nodes = [TextNode(text="x")]
    assert get_transformation_hash(nodes, model) == get_transformation_hash(
        nodes, dense(fake, output_type="dense&sparse", api_key="sk-other")
    )


def test_pickle_rebuilds_a_working_engine(monkeypatch):
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    fake = FakeDashScope()
    model = DashScopeEmbedding(api_key=SECRET, dimensions=128, **transports(fake))
    model.get_text_embedding("warm up")
    clone = pickle.loads(pickle.dumps(model))
    assert clone.api_key.get_secret_value() == SECRET  # workers get the key they need
    assert clone.dimensions == 128 and clone.engine is not model.engine
    assert clone.engine.dimension == 128
    assert clone.usage.requests == 0  # a fresh engine counts its own requests
    assert clone.transport is None  # transports stay behind; the rebuilt engine uses a normal client
    sparse_clone = pickle.loads(pickle.dumps(DashScopeSparseEmbedding(api_key=SECRET, instruct="x")))
    assert sparse_clone.instruct == "x" and sparse_clone.engine.model == "text-embedding-v4"


# ---------------------------------------------------------------------------------------------- sparse and hybrid


def test_sparse_model_returns_token_weight_dicts(fake):
    sparse = DashScopeSparseEmbedding(api_key=SECRET, **transports(fake))
    query = sparse.get_query_embedding("alpha beta")
    docs = sparse.get_text_embedding_batch(["alpha beta gamma", "delta"])
    assert isinstance(query, dict) and all(isinstance(k, int) and isinstance(v, float) for k, v in query.items())
    assert len(docs) == 2 and len(docs[0]) == 3 and len(docs[1]) == 1
    assert [b["parameters"] for b in fake.bodies] == [
        {"text_type": "query", "output_type": "sparse"},
        {"text_type": "document", "output_type": "sparse"},
    ]
    indices, values = sparse.sparse_doc_fn(["alpha beta gamma"])
    assert indices == [list(docs[0].keys())] and values == [list(docs[0].values())]
    assert fake.calls == 2  # read back from the cache


async def test_sparse_async_methods(fake):
    sparse = DashScopeSparseEmbedding(api_key=SECRET, **transports(fake))
    docs = await sparse.aget_text_embedding_batch(["one two", "three"])
    query = await sparse.aget_query_embedding("one")
    assert [len(d) for d in docs] == [2, 1] and len(query) == 1


def test_milvus_function_shapes(fake):
    function = DashScopeSparseEmbedding(api_key=SECRET, **transports(fake)).milvus_function()
    assert isinstance(function, DashScopeMilvusSparseFunction)
    docs = function.encode_documents(["a b", "c"])
    queries = function.encode_queries(["a"])
    assert [len(d) for d in docs] == [2, 1] and len(queries) == 1 and isinstance(queries[0], dict)
    assert asyncio.run(function.async_encode_queries(["a"])) == queries


def test_dense_and_sparse_share_one_request_per_batch(fake):
    model = dense(fake, output_type="dense&sparse")
    sparse = model.sparse_model()
    model.get_text_embedding_batch(DOCS)
    indices, values = sparse.sparse_doc_fn(DOCS)
    assert fake.calls == 3 and len(indices) == len(DOCS)
    assert all(b["parameters"]["output_type"] == "dense&sparse" for b in fake.bodies)
    model.get_query_embedding("topic 3")
    sparse.sparse_query_fn(["topic 3"])
    assert fake.calls == 4  # the query's sparse half came with its dense request
    assert default_sparse_cache().hits == len(DOCS) + 1


def test_sparse_cache_misses_are_fetched_once(fake):
    model = dense(fake, output_type="dense&sparse")
    sparse = model.sparse_model()
    model.get_text_embedding_batch(DOCS[:5])
    result = sparse.get_text_embedding_batch(DOCS[:5] + ["new text", "new text"])
    assert len(result) == 7 and result[5] == result[6]
    assert fake.calls == 2
    assert fake.bodies[-1]["input"]["texts"] == ["new text"]
    assert fake.bodies[-1]["parameters"]["output_type"] == "sparse"


def test_sparse_cache_is_keyed_by_side_and_instruct(fake):
    model = dense(fake, output_type="dense&sparse", instruct="Find it")
    model.get_query_embedding("shared text")
    DashScopeSparseEmbedding(api_key=SECRET, **transports(fake)).sparse_query_fn(["shared text"])  # no instruct
    model.sparse_model().sparse_doc_fn(["shared text"])  # document side
    model.sparse_model().sparse_query_fn(["shared text"])  # same instruct: hit
    assert fake.calls == 3


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect")
def test_qdrant_hybrid_indexing_pays_once_per_batch():
    """VectorStoreIndex + QdrantVectorStore(enable_hybrid=True): one dense&sparse request per 10 texts, no more."""
    qdrant_client = pytest.importorskip("qdrant_client")
    from llama_index.vector_stores.qdrant import QdrantVectorStore

    fake = FakeDashScope()
    model = dense(fake, output_type="dense&sparse", dimensions=64)
    sparse = model.sparse_model()
    store = QdrantVectorStore(
        client=qdrant_client.QdrantClient(":memory:"),
        collection_name="hybrid",
        enable_hybrid=True,
        sparse_doc_fn=sparse.sparse_doc_fn,
        sparse_query_fn=sparse.sparse_query_fn,
    )
    nodes = [TextNode(text=t) for t in DOCS]
    index = VectorStoreIndex(nodes, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=model)
    assert fake.calls == math.ceil(len(DOCS) / 10)  # not twice that
    assert all(b["parameters"]["output_type"] == "dense&sparse" for b in fake.bodies)

    retriever = index.as_retriever(vector_store_query_mode=VectorStoreQueryMode.HYBRID, similarity_top_k=3)
    hits = retriever.retrieve("document number 5 about topic 5")
    assert hits and fake.calls == math.ceil(len(DOCS) / 10) + 1  # one request for the query, both halves
    assert sparse.usage.requests == 0


def test_a_bare_string_is_refused_not_split_into_characters(fake):
    model = dense(fake, output_type="dense&sparse")
    sparse = model.sparse_model()
    calls = [
        lambda: model.get_text_embedding_batch("one whole document"),
        lambda: asyncio.run(model.aget_text_embedding_batch("one whole document")),
        lambda: sparse.get_text_embedding_batch("one whole document"),
        lambda: asyncio.run(sparse.aget_text_embedding_batch("one whole document")),
        lambda: sparse.sparse_doc_fn("one whole document"),
        lambda: sparse.milvus_function().encode_documents("one whole document"),
    ]
    for call in calls:
        with pytest.raises(InvalidInputError, match="list of strings"):
            call()
    assert fake.calls == 0
