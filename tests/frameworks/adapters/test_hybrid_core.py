"""dashscope_embed.hybrid: the sparse cache (bound, LRU order, threads) and HybridEmbedder's request accounting."""

from __future__ import annotations

import threading

import pytest
from support.fakes import FakeDashScope, make_embedder

from dashscope_embed import InvalidInputError, SparseEmbedding
from dashscope_embed.hybrid import HybridEmbedder, SparseCache, default_sparse_cache, sparse_cache_key


def vec(i: int) -> SparseEmbedding:
    return SparseEmbedding((i,), (1.0,), ("tok",))


def test_cache_is_bounded_lru_and_drops_token_texts():
    cache = SparseCache(max_entries=3)
    cache.put_many(["a", "b", "c"], [vec(1), vec(2), vec(3)])
    assert cache.get_many(["a"])[0] == SparseEmbedding((1,), (1.0,))  # tokens dropped, a now most recent
    cache.put_many(["d"], [vec(4)])  # evicts b, the least recently used
    assert [v is not None for v in cache.get_many(["a", "b", "c", "d"])] == [True, False, True, True]
    assert len(cache) == 3 and cache.hits == 4 and cache.misses == 1
    cache.clear()
    assert len(cache) == 0 and cache.hits == 0
    with pytest.raises(InvalidInputError):
        SparseCache(max_entries=0)


def test_cache_is_safe_under_threads():
    cache = SparseCache(max_entries=500)

    def work(offset: int) -> None:
        for i in range(2000):
            key = (offset, i % 700)
            cache.put_many([key], [vec(i)])
            cache.get_many([key, (offset, i)])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 500
    assert cache.hits + cache.misses == 8 * 2000 * 2


def test_cache_key_follows_the_wire():
    fake = FakeDashScope()
    engine = make_embedder(fake, instruct="Find it")
    assert sparse_cache_key(engine, "query", "t") == (
        engine.settings.root,
        "text-embedding-v4",
        "query",
        "Find it",
        "t",
    )
    assert sparse_cache_key(engine, "query", "t", "Other")[3] == "Other"
    assert sparse_cache_key(engine, "document", "t", "Other")[3] is None  # documents never carry instruct


def test_hybrid_dense_then_sparse_is_one_request():
    fake = FakeDashScope()
    hybrid = HybridEmbedder(make_embedder(fake), cache=SparseCache())
    texts = [f"w{i} x{i}" for i in range(15)]
    dense = hybrid.dense(texts)
    assert dense.dense.shape == (15, 1024) and len(dense.sparse) == 15
    sparse = hybrid.sparse(texts)
    assert [v.indices for v in sparse.sparse] == [v.indices for v in dense.sparse]
    assert sparse.usage.requests == 0 and sparse.usage.total_tokens == 0
    assert fake.calls == 2  # 15 texts = 2 requests, all dense&sparse
    partly = hybrid.sparse(texts[:2] + ["fresh text"])
    assert fake.calls == 3 and partly.usage.requests == 1
    assert fake.bodies[-1]["input"]["texts"] == ["fresh text"]


async def test_hybrid_async_paths_share_the_cache():
    fake = FakeDashScope()
    hybrid = HybridEmbedder(make_embedder(fake))
    assert hybrid.cache is default_sparse_cache()
    await hybrid.adense(["a b", "c"], text_type="query")
    result = await hybrid.asparse(["a b", "c"], text_type="query")
    assert fake.calls == 1 and len(result.sparse) == 2
    await hybrid.asparse(["a b"], text_type="document")  # the other side is another vector
    assert fake.calls == 2


@pytest.mark.parametrize("kwargs", [dict(model="text-embedding-v2"), dict(protocol="openai")])
def test_hybrid_needs_a_model_and_protocol_with_sparse_output(kwargs):
    engine = make_embedder(FakeDashScope(), **kwargs)
    with pytest.raises(InvalidInputError, match="sparse"):
        HybridEmbedder(engine)
