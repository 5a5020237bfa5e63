"""Fixtures for the rerank tests: the session's hash-backend local service (faults and counters reset around every
test), rerankers on it with a tiny backoff, and a corpus whose lexical relevance spreads over many values."""

from __future__ import annotations

import asyncio

import pytest

from dashscope_embed import DashScopeReranker

@pytest.fixture
def service(hash_service):
    """The shared hash service, clean (``tests/conftest.py``)."""
    return hash_service


@pytest.fixture
def make_reranker(service):
    """Rerankers on the shared service (tiny backoff); all closed after the test."""
    made = []

    def make(model: str = "qwen3-rerank", **kwargs):
        options = dict(base_url=service.base_url, max_concurrency=4, max_retries=3, retry_base_delay=0.01,
                       retry_max_delay=0.05)
        options.update(kwargs)
        reranker = DashScopeReranker(model, **options)
        made.append(reranker)
        return reranker

    yield make
    for reranker in made:
        reranker.close()


@pytest.fixture(params=["sync", "async"])
def rerank(request):
    """``rerank(reranker, query, documents, **kwargs)`` through ``rerank`` or ``arerank`` (on a fresh event loop)."""
    if request.param == "sync":
        return lambda reranker, query, documents, **kwargs: reranker.rerank(query, documents, **kwargs)

    def run(reranker, query, documents, **kwargs):
        async def call():
            try:
                return await reranker.arerank(query, documents, **kwargs)
            finally:
                await reranker.aclose()

        return asyncio.run(call())

    return run
