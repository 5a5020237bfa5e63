"""Core paths the rest of the suite leaves untouched: malformed replies of each protocol, async re-splitting,
token-paced requests, and small helpers' edge cases."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import httpx
import orjson
import pytest

from dashscope_embed import (
    BatchSizeError,
    DashScopeEmbedder,
    InvalidInputError,
    ResponseFormatError,
    ServerError,
    SparseEmbedding,
    get_model_spec,
    tokens,
    validate_texts,
)
from dashscope_embed.errors import error_from_reply

BASE = "http://127.0.0.1:9"


def engine_with(reply, **kwargs):
    """An engine whose every request gets ``reply(request)``; requests are kept in ``engine.sent``."""
    sent = []

    def handle(request):
        sent.append(request)
        return reply(request)

    async def ahandle(request):
        return handle(request)

    options = dict(dimensions=64, base_url=BASE, max_retries=0, max_concurrency=1)
    options.update(kwargs)
    engine = DashScopeEmbedder(
        options.pop("model", "text-embedding-v4"), transport=httpx.MockTransport(handle),
        async_transport=httpx.MockTransport(ahandle), **options,
    )
    engine.sent = sent
    return engine


def native_ok(request):
    texts = orjson.loads(request.content)["input"]["texts"]
    items = [{"embedding": [1.0] + [0.0] * 63, "text_index": i} for i in range(len(texts))]
    return httpx.Response(200, json={"output": {"embeddings": items}, "usage": {"total_tokens": len(texts)}})


@pytest.mark.parametrize(
    "payload, needle",
    [
        ({"output": {"embeddings": [{"embedding": [], "text_index": 0}]}}, r"shape \(1, 0\)"),
        ({"output": {"embeddings": [{"embedding": [0.1] * 64, "text_index": 0}]}}, "no sparse_embedding"),
        (
            {"output": {"embeddings": [{"embedding": [0.1] * 64, "sparse_embedding": [{"value": 1}], "text_index": 0}]}},
            "malformed sparse_embedding",
        ),
    ],
)
def test_malformed_native_replies(payload, needle):
    engine = engine_with(lambda r: httpx.Response(200, json=payload), output_type="dense&sparse")
    with pytest.raises(ResponseFormatError, match=needle):
        engine.embed(["a"])


@pytest.mark.parametrize(
    "payload, error, needle",
    [
        ({"error": {"message": "overloaded", "type": "internal_error", "code": "internal_error"}}, ServerError, "overloaded"),
        ({"object": "list"}, ResponseFormatError, "no data list"),
        ([1, 2], ResponseFormatError, "not a JSON object"),
    ],
)
def test_malformed_compatible_mode_replies(payload, error, needle):
    engine = engine_with(lambda r: httpx.Response(200, json=payload), protocol="openai")
    with pytest.raises(error, match=needle):
        engine.embed(["a"])


def test_async_batch_size_error_resplits_and_later_plans_use_the_limit():
    too_many = {"code": "InvalidParameter", "message": "batch size is invalid, it should not be larger than 4."}

    def reply(request):
        if len(orjson.loads(request.content)["input"]["texts"]) > 4:
            return httpx.Response(400, json=too_many)
        return native_ok(request)

    engine = engine_with(reply)

    async def run():
        first = await engine.aembed([f"t{i}" for i in range(10)])
        second = await engine.aembed([f"u{i}" for i in range(10)])  # planned at 10, split before sending
        query = await engine.aembed_query("q")
        await engine.aclose()
        return first, second, query

    first, second, query = asyncio.run(run())
    assert first.dense.shape == (10, 64) and second.dense.shape == (10, 64) and query.dense.shape == (1, 64)
    assert engine.max_rows == 4
    sizes = [len(orjson.loads(r.content)["input"]["texts"]) for r in engine.sent]
    assert sizes == [10, 4, 4, 2, 4, 4, 2, 1]


def test_batch_size_error_naming_no_smaller_limit_is_raised():
    reply = httpx.Response(
        400, json={"code": "InvalidParameter", "message": "batch size is invalid, it should not be larger than 10."}
    )
    engine = engine_with(lambda r: reply)
    with pytest.raises(BatchSizeError) as info:
        engine.embed(["a", "b"])  # 2 rows already within the named limit: re-splitting cannot help
    assert info.value.limit == 10 and len(engine.sent) == 1


def test_tokens_per_minute_paces_by_the_texts_token_count():
    text = " ".join(f"word{i}" for i in range(60))
    n = tokens.count_tokens(text)
    assert n > 120
    engine = engine_with(native_ok, tokens_per_minute=6000)  # 100 tokens per second, one second of burst
    engine.embed([text])
    start = time.perf_counter()
    engine.embed([text])
    # the second request waits until the first one's tokens fit the budget again
    assert time.perf_counter() - start >= n / 100 - 1.0 - 0.02


def test_request_time_checks():
    engine = engine_with(native_ok)
    with pytest.raises(InvalidInputError, match="output_type 'both'"):
        engine.embed(["a"], output_type="both")
    # every catalog text model is served in compatible mode; a custom one need not be
    spec = dataclasses.replace(get_model_spec("text-embedding-v2"), name="text-embedding-legacy", openai_compatible=False)
    with pytest.raises(InvalidInputError, match="not served by the OpenAI-compatible endpoint"):
        DashScopeEmbedder(model_spec=spec, base_url=BASE, protocol="openai")
    with pytest.raises(InvalidInputError, match="got int"):
        validate_texts(5)
    assert engine.sent == []


def test_retry_after_ms_that_is_not_a_number_falls_back_to_retry_after():
    error = error_from_reply(429, {"code": "Throttling"}, {"retry-after-ms": "soon", "retry-after": "2"})
    assert error.retry_after == 2.0


def test_sparse_token_weights_sum_tokens_that_decode_alike():
    vector = SparseEmbedding((1, 2, 3), (0.5, 0.25, 0.125), ("a", "b", "a"))
    assert vector.token_weights() == {"a": 0.625, "b": 0.25}


def test_token_helpers_edge_cases():
    assert tokens.fits("anything at all", None)
    assert tokens.split_by_tokens("short text", 100) == [("short text", tokens.count_tokens("short text"))]
    assert tokens.truncate("short text", 100) == "short text"
    with pytest.raises(ValueError, match="max_tokens"):
        tokens.split_by_tokens("text", 0)
