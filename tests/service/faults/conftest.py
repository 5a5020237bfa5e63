"""A local service (hash backend) shared by the fault tests; faults and counters are reset around every test."""

from __future__ import annotations

import asyncio

import pytest

from dashscope_embed import DashScopeEmbedder


@pytest.fixture(scope="session")
def fault_service_session(hash_service_session):
    return hash_service_session


@pytest.fixture
def fault_service(hash_service):
    return hash_service


@pytest.fixture
def make_engine(fault_service):
    """Engines on the shared service (dimension 64, tiny backoff); all closed after the test."""
    engines = []

    def make(**kwargs):
        options = dict(
            dimensions=64, base_url=fault_service.base_url, max_concurrency=4, max_retries=3,
            retry_base_delay=0.01, retry_max_delay=0.05,
        )
        options.update(kwargs)
        engine = DashScopeEmbedder(options.pop("model", "text-embedding-v4"), **options)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


@pytest.fixture(params=["sync", "async"])
def embed(request):
    """``embed(engine, texts, **kwargs)`` through ``engine.embed`` or ``engine.aembed`` (on a fresh event loop)."""
    if request.param == "sync":
        return lambda engine, texts, **kwargs: engine.embed(texts, **kwargs)

    def run(engine, texts, **kwargs):
        async def call():
            try:
                return await engine.aembed(texts, **kwargs)
            finally:
                await engine.aclose()

        return asyncio.run(call())

    return run
