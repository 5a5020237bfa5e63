"""The caching recipes the README gives keep query and document vectors apart for an asymmetric model."""

from __future__ import annotations

import numpy as np
import pytest
from support.adapter_helpers import SECRET, transports
from support.fakes import FakeDashScope

from langchain_dashscope_embed import DashScopeEmbeddings


@pytest.mark.needs_newest(
    reason="the README's recipe imports CacheBackedEmbeddings from langchain-classic, which exists for LangChain >= 1.0"
)
def test_langchain_cache_with_a_separate_query_store_keeps_query_vectors():
    CacheBackedEmbeddings = pytest.importorskip(
        "langchain_classic.embeddings", reason="langchain-classic is not installed (the dev extra has it)"
    ).CacheBackedEmbeddings
    from langchain_core.stores import InMemoryByteStore

    fake = FakeDashScope()
    embeddings = DashScopeEmbeddings(api_key=SECRET, dimensions=64, **transports(fake))
    text = "What does Model Studio offer?"
    truth_query = np.array(embeddings.embed_query(text))
    truth_doc = np.array(embeddings.embed_documents([text])[0])
    assert not np.allclose(truth_query, truth_doc)  # the model is asymmetric: text_type matters

    shared = CacheBackedEmbeddings.from_bytes_store(
        embeddings, InMemoryByteStore(), namespace="v4-64", query_embedding_cache=True, key_encoder="sha256"
    )
    shared.embed_documents([text])
    assert np.allclose(shared.embed_query(text), truth_doc)  # the pitfall: a document vector for a query

    cached = CacheBackedEmbeddings.from_bytes_store(
        embeddings, InMemoryByteStore(), namespace="v4-64", query_embedding_cache=InMemoryByteStore(),
        key_encoder="sha256",
    )
    cached.embed_documents([text])
    sent = fake.calls
    assert np.allclose(cached.embed_query(text), truth_query)
    assert np.allclose(cached.embed_query(text), truth_query) and fake.calls == sent + 1  # second query: cache hit
