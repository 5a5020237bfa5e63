"""Texts over the model's token limit: chunk_average, truncate, error; client-side rate limit; token counts."""

import numpy as np
import pytest

from dashscope_embed import InvalidInputError, RateLimiter, tokens
from support.fakes import FakeDashScope, make_embedder, text_vector

LONG = " ".join(f"word{i}" for i in range(40))  # well over 16 tokens


def test_token_helpers():
    assert tokens.count_tokens("hello world") == 2
    assert tokens.fits("short", 8)
    assert not tokens.fits(LONG, 16)
    pieces = tokens.split_by_tokens(LONG, 16)
    assert all(count <= 16 for _, count in pieces) and sum(c for _, c in pieces) == tokens.count_tokens(LONG)
    assert "".join(p for p, _ in pieces) == LONG
    assert tokens.count_tokens(tokens.truncate(LONG, 16)) <= 16


def test_chunk_average_is_token_weighted_and_unit_length():
    fake = FakeDashScope()
    embedder = make_embedder(fake, dimensions=64, catalog_overrides={"max_tokens_per_row": 16})
    result = embedder.embed(["short one", LONG, "short two"])
    pieces = tokens.split_by_tokens(LONG, 16)
    sent = [t for b in fake.bodies for t in b["input"]["texts"]]
    assert sent == ["short one"] + [p for p, _ in pieces] + ["short two"]
    expected = sum(np.asarray(text_vector(p, 64), np.float64) * c for p, c in pieces)
    expected /= np.linalg.norm(expected)
    np.testing.assert_allclose(result.dense[1], expected, atol=1e-6)
    np.testing.assert_array_equal(result.dense[0], np.asarray(text_vector("short one", 64), np.float32))
    assert result.dense.shape == (3, 64)
    assert abs(np.linalg.norm(result.dense[1]) - 1) < 1e-5


def test_chunk_average_merges_sparse_weights():
    fake = FakeDashScope()
    embedder = make_embedder(fake, output_type="dense&sparse", catalog_overrides={"max_tokens_per_row": 16})
    result = embedder.embed([LONG])
    assert len(result.sparse) == 1
    pieces = [p for p, _ in tokens.split_by_tokens(LONG, 16)]
    assert set(result.sparse[0].tokens) == {w for p in pieces for w in p.split()}
    # every piece's weights are scaled by its share of the text's tokens, so the merged weights stay <= 1
    assert max(result.sparse[0].values) <= 1.0


def test_truncate_policy():
    fake = FakeDashScope()
    embedder = make_embedder(fake, oversize="truncate", catalog_overrides={"max_tokens_per_row": 16})
    embedder.embed([LONG])
    sent = fake.bodies[0]["input"]["texts"][0]
    assert LONG.startswith(sent) and tokens.count_tokens(sent) <= 16


def test_error_policy_names_the_items():
    fake = FakeDashScope()
    embedder = make_embedder(fake, oversize="error", catalog_overrides={"max_tokens_per_row": 16})
    with pytest.raises(InvalidInputError, match=r"limit of 16 tokens per row: \[1\] \d+ tokens"):
        embedder.embed(["ok", LONG])
    assert fake.calls == 0


def test_rate_limiter_paces_requests_and_tokens():
    now = [0.0]
    limiter = RateLimiter(requests_per_minute=60, clock=lambda: now[0])
    waits = [limiter.reserve() for _ in range(3)]
    assert waits == [0.0, 1.0, 2.0]
    tokens_limiter = RateLimiter(tokens_per_minute=600, clock=lambda: now[0])  # 10 tokens/s, 1 s burst
    assert tokens_limiter.reserve(10) == 0.0
    assert tokens_limiter.reserve(10) == pytest.approx(0.0)
    assert tokens_limiter.reserve(10) == pytest.approx(1.0)
    assert not RateLimiter().enabled and RateLimiter().reserve(100) == 0.0
    with pytest.raises(ValueError):
        RateLimiter(requests_per_minute=0)


def test_engine_rate_limit_spaces_requests():
    import time

    fake = FakeDashScope()
    embedder = make_embedder(fake, requests_per_minute=300, max_concurrency=4)  # 5 at once, then one per 0.2 s
    start = time.perf_counter()
    embedder.embed([f"x{i}" for i in range(80)])  # 8 requests: the last three wait 0.2, 0.4, 0.6 s
    assert time.perf_counter() - start >= 0.55
    assert fake.calls == 8


@pytest.mark.parametrize("value", ["60", float("nan"), True, [60]])
def test_a_rate_that_is_not_a_positive_number_is_refused(value):
    # "60" escaped as TypeError ('<=' between str and int); NaN was taken and paced nothing
    for name in ("requests_per_minute", "tokens_per_minute"):
        with pytest.raises(InvalidInputError, match=f"{name} must be a number > 0"):
            RateLimiter(**{name: value})
    with pytest.raises(InvalidInputError, match="requests_per_minute must be a number > 0"):
        make_embedder(FakeDashScope(), requests_per_minute=value)
