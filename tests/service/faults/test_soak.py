"""Soak: 5,000 texts through the engine and every adapter while the service throttles, fails and drops requests.

The faults are seeded and decided per request number, so the whole faulty run is predictable: the service
answers requests in arrival order with a fixed sequence of fates, and the client must keep sending until 500
requests (5,000 texts / 10 rows) have succeeded. That fixes how many requests are sent and how many of each fault
occur, whatever the interleaving. What must hold:

- every vector equals the fault-free run's, in input order;
- the service answered exactly as many requests with 200 as in the fault-free run: no finished request is sent
  again;
- the numbers of 429s, 5xx and dropped connections are exactly the ones the seeded sequence dictates.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from dashscope_embed import DashScopeEmbedder
from dashscope_embed.server import FaultConfig, FaultInjector

pytestmark = pytest.mark.slow

N_TEXTS = 5000
ROWS_PER_REQUEST = 10  # text-embedding-v4
TEXTS = [f"soak document {i}: {' '.join(['river', 'stone', 'lantern', 'harbour', 'meadow'][: 1 + i % 5])}" for i in range(N_TEXTS)]
SOAK_FAULTS = FaultConfig(seed=2026, rate_429=0.20, rate_500=0.025, rate_503=0.025, drop_rate=0.02, retry_after=0.0)
MAX_RETRIES = 12  # 27% of requests fail: 13 failures in a row (p = 0.27**13 ~ 4e-8 per request) never happens
CONCURRENCY = 16


def predicted_traffic(config: FaultConfig, successes: int) -> tuple[int, Counter]:
    """Requests sent and faults met until ``successes`` requests got through, from the service's own decisions."""
    injector = FaultInjector(config)
    fates: Counter = Counter()
    sent = 0
    for _ in range(successes * 100):  # bounded: each request succeeds with probability 0.73
        sent += 1
        fault = injector.decide().fault
        fates[fault or "ok"] += 1
        if fates["ok"] == successes:
            return sent, fates
    raise AssertionError("the fault rates leave too few successes")


def tune(engine: DashScopeEmbedder) -> None:
    # Adapters keep the engine's default backoff (0.5 s base); the soak wants many fast retries.
    engine.runner.retry_base_delay = 0.01
    engine.runner.retry_max_delay = 0.05


def core_sync(base_url: str) -> Callable[[], Any]:
    engine = DashScopeEmbedder(
        "text-embedding-v4", dimensions=64, base_url=base_url, max_concurrency=CONCURRENCY, max_retries=MAX_RETRIES,
        retry_base_delay=0.01, retry_max_delay=0.05,
    )

    def run():
        try:
            return engine.embed(TEXTS).dense
        finally:
            engine.close()

    return run


def core_async(base_url: str) -> Callable[[], Any]:
    engine = DashScopeEmbedder(
        "text-embedding-v4", dimensions=64, base_url=base_url, max_concurrency=CONCURRENCY, max_retries=MAX_RETRIES,
        retry_base_delay=0.01, retry_max_delay=0.05,
    )

    async def call():
        async with engine:
            return (await engine.aembed(TEXTS)).dense

    return lambda: asyncio.run(call())


def llama_index(base_url: str, *, use_async: bool) -> Callable[[], Any]:
    from llama_index_dashscope_embed import DashScopeEmbedding

    model = DashScopeEmbedding(
        model_name="text-embedding-v4", base_url=base_url, dimensions=64, max_concurrency=CONCURRENCY,
        max_retries=MAX_RETRIES, embed_batch_size=CONCURRENCY * ROWS_PER_REQUEST,
    )
    tune(model.engine)
    if not use_async:
        return lambda: model.get_text_embedding_batch(TEXTS)

    async def call():
        try:
            return await model.aget_text_embedding_batch(TEXTS)
        finally:
            await model.engine.aclose()

    return lambda: asyncio.run(call())


def langchain(base_url: str, *, use_async: bool) -> Callable[[], Any]:
    from langchain_dashscope_embed import DashScopeEmbeddings

    model = DashScopeEmbeddings(
        model="text-embedding-v4", base_url=base_url, dimensions=64, max_concurrency=CONCURRENCY,
        max_retries=MAX_RETRIES,
    )
    tune(model.engine)
    if not use_async:
        return lambda: model.embed_documents(TEXTS)

    async def call():
        try:
            return await model.aembed_documents(TEXTS)
        finally:
            await model.engine.aclose()

    return lambda: asyncio.run(call())


PATHS = {
    "core-sync": core_sync,
    "core-async": core_async,
    "llama_index-sync": lambda url: llama_index(url, use_async=False),
    "llama_index-async": lambda url: llama_index(url, use_async=True),
    "langchain-sync": lambda url: langchain(url, use_async=False),
    "langchain-async": lambda url: langchain(url, use_async=True),
}


@pytest.fixture(scope="module")
def reference(fault_service_session):
    """Fault-free vectors of ``TEXTS`` from the core engine."""
    fault_service_session.set_faults(None)
    return np.asarray(core_sync(fault_service_session.base_url)(), dtype=np.float32)


@pytest.mark.parametrize("path", list(PATHS))
def test_soak_every_vector_once_in_order(fault_service, reference, path):
    make = PATHS[path]

    fault_service.set_faults(None)
    fault_service.reset_stats()
    clean = np.asarray(make(fault_service.base_url)(), dtype=np.float32)
    clean_200 = fault_service.stats.replies_200

    fault_service.set_faults(SOAK_FAULTS)  # restarts the request numbering the prediction counts from
    fault_service.reset_stats()
    faulty = np.asarray(make(fault_service.base_url)(), dtype=np.float32)
    stats = fault_service.stats.snapshot()

    sent, fates = predicted_traffic(SOAK_FAULTS, N_TEXTS // ROWS_PER_REQUEST)
    print(
        f"\n[{path}] requests sent {stats.requests} (predicted {sent}), 200s {stats.replies_200} "
        f"(fault-free {clean_200}), 429s {stats.by_status.get(429, 0)}, "
        f"5xx {stats.by_status.get(500, 0) + stats.by_status.get(503, 0)}, drops {stats.dropped}"
    )

    np.testing.assert_array_equal(clean, reference)
    np.testing.assert_array_equal(faulty, reference)
    assert clean_200 == N_TEXTS // ROWS_PER_REQUEST
    assert stats.replies_200 == clean_200 and stats.ok == clean_200 and stats.rows == N_TEXTS
    assert stats.requests == sent
    assert stats.by_status.get(429, 0) == fates["429"]
    assert stats.by_status.get(500, 0) == fates["500"] and stats.by_status.get(503, 0) == fates["503"]
    assert stats.dropped == fates["drop"]
    assert fates["429"] and fates["500"] and fates["503"] and fates["drop"]  # every kind of fault was exercised
