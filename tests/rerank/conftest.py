"""Fixtures for the rerank tests: the session's hash-backend local service (faults and counters reset around every
test), rerankers on it with a tiny backoff, and a corpus whose lexical relevance spreads over many values."""

from __future__ import annotations

import asyncio
import random

import pytest

from dashscope_embed import DashScopeReranker

WORDS = ("python file read line loop list dict string bytes thread async socket json path error class module "
         "import test value index sort merge query document token").split()


def corpus(n: int, words_per_doc: int = 0) -> list[str]:
    """``n`` documents of words drawn from ``WORDS`` (seeded by position; 3-12 words each unless
    ``words_per_doc``), plus a word of their own: many distinct scores, and ties to break by index."""
    docs = []
    for i in range(n):
        rng = random.Random(i)
        count = words_per_doc or rng.randint(3, 12)
        docs.append(" ".join(rng.choice(WORDS) for _ in range(count)) + f" doc{i}")
    return docs


QUERY = "how do I read a python file line by line"


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
