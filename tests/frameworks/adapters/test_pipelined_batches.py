"""The adapters' batch paths at a raw client's speed, with the framework's semantics kept: LlamaIndex's sync
framework batches pipelined through the core's ``BatchStream``, and vectors handed back as the decoded lists."""

from __future__ import annotations

import threading

import httpx
import numpy as np
import orjson
import pytest
from support.adapter_helpers import SECRET, transports
from support.fakes import FakeDashScope, make_embedder
from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler

from langchain_dashscope_embed import DashScopeEmbeddings
from llama_index_dashscope_embed import DashScopeEmbedding, DashScopeEmbeddingUsageEvent

TEXTS = [f"passage {i} on subject {i % 4}" for i in range(50)]


class _Collect(BaseEventHandler):
    events: list = []

    @classmethod
    def class_name(cls) -> str:
        return "_CollectPipelined"

    def handle(self, event, **kwargs) -> None:
        self.events.append(event)


def test_llama_index_sync_batches_keep_every_framework_event_and_vector():
    fake = FakeDashScope(shuffle=True)
    debug = LlamaDebugHandler()
    model = DashScopeEmbedding(api_key=SECRET, dimensions=64, embed_batch_size=20,
                               callback_manager=CallbackManager([debug]), **transports(fake))
    root = get_dispatcher()
    handler = _Collect(events=[])
    root.add_event_handler(handler)
    try:
        vectors = model.get_text_embedding_batch(TEXTS, show_progress=True)
    finally:
        root.event_handlers.remove(handler)

    reference = make_embedder(FakeDashScope(), dimensions=64).embed(TEXTS).dense
    np.testing.assert_array_equal(np.asarray(vectors, dtype=np.float32), reference)
    names = [type(e).__name__ for e in handler.events if type(e).__name__.startswith("Embedding")]
    assert names == ["EmbeddingStartEvent", "EmbeddingEndEvent"] * 3  # one pair per framework batch, in order
    ends = [e for e in handler.events if type(e).__name__ == "EmbeddingEndEvent"]
    assert [e.chunks for e in ends] == [TEXTS[:20], TEXTS[20:40], TEXTS[40:]]
    usage = [e for e in handler.events if isinstance(e, DashScopeEmbeddingUsageEvent)]
    assert [(e.rows, e.requests) for e in usage] == [(20, 2), (20, 2), (10, 1)]
    pairs = debug.get_event_pairs(CBEventType.EMBEDDING)
    assert [len(p[1].payload["chunks"]) for p in pairs] == [20, 20, 10]
    assert fake.calls == 5  # nothing sent twice


def test_llama_index_sends_the_next_framework_batch_before_the_current_one_is_answered():
    fake = FakeDashScope()
    second_arrived = threading.Event()
    held = {}

    def handler(request: httpx.Request) -> httpx.Response:
        texts = orjson.loads(request.content)["input"]["texts"]
        if texts[0] == TEXTS[10]:
            second_arrived.set()
        if texts[0] == TEXTS[0]:
            held["second_first"] = second_arrived.wait(timeout=10)
        return fake._sync_handler(request)

    model = DashScopeEmbedding(api_key=SECRET, dimensions=64, embed_batch_size=10, max_concurrency=2,
                               transport=httpx.MockTransport(handler), max_retries=0)
    assert len(model.get_text_embedding_batch(TEXTS[:20])) == 20
    assert held["second_first"] is True


def test_llama_index_with_the_framework_cache_embeds_only_what_it_misses():
    """With an embeddings cache the framework decides per batch what to send: no batch is planned ahead."""
    from llama_index.core.storage.kvstore import SimpleKVStore

    fake = FakeDashScope()
    model = DashScopeEmbedding(api_key=SECRET, dimensions=64, embed_batch_size=10, **transports(fake))
    if "embeddings_cache" not in type(model).model_fields:
        pytest.skip("this llama-index-core has no embeddings cache")
    model.embeddings_cache = SimpleKVStore()
    first = model.get_text_embedding_batch(TEXTS[:20])
    calls = fake.calls
    again = model.get_text_embedding_batch(TEXTS[:20])
    assert again == first and fake.calls == calls


def test_langchain_returns_the_decoded_lists():
    fake = FakeDashScope()
    model = DashScopeEmbeddings(api_key=SECRET, dimensions=64, **transports(fake))
    vectors = model.embed_documents(TEXTS)
    reference = make_embedder(FakeDashScope(), dimensions=64).embed(TEXTS).dense
    assert all(type(v) is list and type(v[0]) is float for v in vectors)
    np.testing.assert_array_equal(np.asarray(vectors, dtype=np.float32), reference)
