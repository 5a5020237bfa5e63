"""HybridEmbedder and SparseCache against the local service: one request buys both halves, the cache answers the
sparse side, and only what is missing is ever fetched."""

from __future__ import annotations

import asyncio

import pytest

from dashscope_embed import DashScopeEmbedder, InvalidInputError
from dashscope_embed.hybrid import HybridEmbedder, SparseCache, default_sparse_cache, sparse_cache_key
from dashscope_embed.results import SparseEmbedding

TEXTS = [f"hybrid passage {i}" for i in range(12)]


@pytest.fixture
def service(hash_service):
    return hash_service


@pytest.fixture
def engine(service):
    with DashScopeEmbedder("text-embedding-v4", dimensions=64, base_url=service.base_url, max_retries=0) as e:
        yield e


def test_dense_then_sparse_costs_one_request_per_batch(service, engine):
    hybrid = HybridEmbedder(engine, SparseCache())
    dense = hybrid.dense(TEXTS)
    assert dense.dense.shape == (12, 64) and len(dense.sparse) == 12
    assert service.stats.requests == 2  # 10 + 2 rows, both halves in each reply
    sparse = hybrid.sparse(TEXTS)
    assert service.stats.requests == 2  # all from the cache
    assert sparse.dense is None and sparse.usage.requests == 0 and sparse.request_ids == []
    assert [v.as_dict() for v in sparse.sparse] == [v.as_dict() for v in dense.sparse]
    assert all(v.tokens == () for v in sparse.sparse)  # the cache keeps indices and values only
    assert hybrid.cache.hits == 12 and hybrid.cache.misses == 0


def test_only_missing_texts_are_fetched_each_distinct_text_once(service, engine):
    hybrid = HybridEmbedder(engine, SparseCache())
    hybrid.dense(TEXTS[:3])
    service.reset_stats()
    asked = [TEXTS[0], TEXTS[5], TEXTS[5], TEXTS[1], TEXTS[6]]
    result = hybrid.sparse(asked)
    [record] = service.stats.recent
    assert record.rows == 2 and record.parameters["output_type"] == "sparse"
    assert result.usage.requests == 1 and len(result.request_ids) == 1
    assert result.sparse[1].as_dict() == result.sparse[2].as_dict()
    # fetched vectors joined the cache: asking again sends nothing
    hybrid.sparse(asked)
    assert service.stats.requests == 1


def test_query_side_keys_follow_the_instruct_that_is_sent(service):
    with DashScopeEmbedder(
        "text-embedding-v4", dimensions=64, base_url=service.base_url, instruct="Find the passage"
    ) as engine:
        hybrid = HybridEmbedder(engine, SparseCache())
        assert sparse_cache_key(engine, "query", "q") == (engine.settings.root, engine.model, "query", "Find the passage", "q")
        assert sparse_cache_key(engine, "document", "q", "ignored")[3] is None
        hybrid.dense(["q"], text_type="query")
        service.reset_stats()
        hybrid.sparse(["q"], text_type="query")  # same instruct: cached
        assert service.stats.requests == 0
        hybrid.sparse(["q"], text_type="query", instruct="Another task")  # different wire request: fetched
        hybrid.sparse(["q"], text_type="document")
        assert service.stats.requests == 2


def test_async_paths_share_the_cache(service, engine):
    hybrid = HybridEmbedder(engine, SparseCache())

    async def run():
        try:
            dense = await hybrid.adense(TEXTS[:4])
            cached = await hybrid.asparse(TEXTS[:4])
            fetched = await hybrid.asparse(TEXTS[4:6])
            return dense, cached, fetched
        finally:
            await engine.aclose()

    dense, cached, fetched = asyncio.run(run())
    assert [v.as_dict() for v in cached.sparse] == [v.as_dict() for v in dense.sparse]
    assert cached.usage.requests == 0 and fetched.usage.requests == 1 and len(fetched.sparse) == 2
    assert service.stats.requests == 2


def test_cache_is_bounded_least_recently_used_first():
    cache = SparseCache(max_entries=2)
    vec = SparseEmbedding((1,), (0.5,), ("a",))
    cache.put_many(["a", "b"], [vec, vec])
    assert cache.get_many(["a"]) == [SparseEmbedding((1,), (0.5,))]  # "a" is now the most recent
    cache.put_many(["c"], [vec])
    assert cache.get_many(["a", "b", "c"])[1] is None and len(cache) == 2
    assert (cache.hits, cache.misses) == (3, 1)
    assert repr(cache) == "SparseCache(entries=2, max_entries=2, hits=3, misses=1)"
    cache.clear()
    assert len(cache) == 0 and (cache.hits, cache.misses) == (0, 0)
    assert isinstance(default_sparse_cache(), SparseCache) and default_sparse_cache() is default_sparse_cache()


@pytest.mark.parametrize("bad", [0, -1, 1.5, "10"])
def test_cache_size_must_be_a_positive_int(bad):
    with pytest.raises(InvalidInputError, match="max_entries"):
        SparseCache(bad)


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(model="text-embedding-v2"), "no sparse output"), (dict(protocol="openai"), "protocol='dashscope'")],
)
def test_hybrid_needs_a_sparse_capable_native_engine(service, kwargs, message):
    with DashScopeEmbedder(base_url=service.base_url, **kwargs) as engine:
        with pytest.raises(InvalidInputError, match=message):
            HybridEmbedder(engine)


def test_bad_texts_fail_before_any_request(service, engine):
    hybrid = HybridEmbedder(engine, SparseCache())
    with pytest.raises(InvalidInputError, match=r"\[1\] empty"):
        hybrid.dense(["ok", ""])
    with pytest.raises(InvalidInputError, match="list of strings"):
        hybrid.sparse("one string")
    assert service.stats.requests == 0
