"""Property tests: for any texts, row limits, token limits and concurrency, output count and order match input."""

from __future__ import annotations

import asyncio

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.fakes import FakeDashScope, make_embedder, text_vector

words = st.text(alphabet=st.characters(categories=("L", "N")), min_size=1, max_size=12)
texts_strategy = st.lists(
    st.lists(words, min_size=1, max_size=30).map(" ".join), min_size=0, max_size=60
)
common = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@common
@given(
    texts=texts_strategy,
    max_rows=st.integers(1, 12),
    concurrency=st.integers(1, 6),
    shuffle=st.booleans(),
)
def test_sync_count_and_order(texts, max_rows, concurrency, shuffle):
    fake = FakeDashScope(shuffle=shuffle, max_rows=12)
    embedder = make_embedder(fake, dimensions=64, max_concurrency=concurrency, catalog_overrides={"max_rows": max_rows})
    result = embedder.embed(texts)
    embedder.close()
    assert result.dense.shape == (len(texts), 64)
    expected = np.asarray([text_vector(t, 64) for t in texts], dtype=np.float32).reshape(len(texts), 64)
    np.testing.assert_array_equal(result.dense, expected)
    assert all(len(b["input"]["texts"]) <= max_rows for b in fake.bodies)
    assert sum(len(b["input"]["texts"]) for b in fake.bodies) == len(texts)
    assert fake.max_in_flight <= concurrency


@common
@given(texts=texts_strategy.filter(bool), token_limit=st.integers(4, 40), concurrency=st.integers(1, 4))
def test_token_limit_splitting_keeps_one_unit_vector_per_input(texts, token_limit, concurrency):
    fake = FakeDashScope()
    embedder = make_embedder(
        fake, dimensions=64, max_concurrency=concurrency, catalog_overrides={"max_tokens_per_row": token_limit}
    )
    result = embedder.embed(texts)
    embedder.close()
    assert result.dense.shape == (len(texts), 64)
    np.testing.assert_allclose(np.linalg.norm(result.dense, axis=1), 1.0, atol=1e-5)
    from dashscope_embed import tokens

    for i, text in enumerate(texts):
        if tokens.count_tokens(text) <= token_limit:
            np.testing.assert_array_equal(result.dense[i], np.asarray(text_vector(text, 64), np.float32))


@common
@given(texts=texts_strategy, max_rows=st.integers(1, 12), concurrency=st.integers(1, 6))
def test_async_count_and_order(texts, max_rows, concurrency):
    fake = FakeDashScope(shuffle=True)
    embedder = make_embedder(fake, dimensions=64, max_concurrency=concurrency, catalog_overrides={"max_rows": max_rows})
    result = asyncio.run(embedder.aembed(texts))
    expected = np.asarray([text_vector(t, 64) for t in texts], dtype=np.float32).reshape(len(texts), 64)
    np.testing.assert_array_equal(result.dense, expected)
    assert fake.max_in_flight <= concurrency
