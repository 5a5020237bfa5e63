"""The engine's contract: batching within limits, order, parameters on the wire, concurrency, retries."""

from __future__ import annotations

import asyncio
import logging
import pickle
import re
import time

import httpx
import numpy as np
import pytest

from dashscope_embed import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    DashScopeEmbedder,
    InvalidInputError,
    MultimodalEmbedder,
    RateLimitError,
    ResponseFormatError,
    ServerError,
)
from support.fakes import FakeDashScope, error_reply, make_embedder, text_vector

TEXTS_37 = [f"document number {i} " + "word " * (i % 5) for i in range(37)]


def test_37_texts_v4_dim256_four_requests_in_order_despite_shuffle():
    fake = FakeDashScope(shuffle=True)
    with make_embedder(fake, model="text-embedding-v4", dimensions=256) as embedder:
        result = embedder.embed(TEXTS_37)
    # requests run concurrently, so they may arrive in any order; together they hold each text once
    assert sorted(len(b["input"]["texts"]) for b in fake.bodies) == [7, 10, 10, 10]
    assert sorted(t for b in fake.bodies for t in b["input"]["texts"]) == sorted(TEXTS_37)
    assert result.dense.shape == (37, 256) and result.dense.dtype == np.float32
    expected = np.asarray([text_vector(t, 256, "document") for t in TEXTS_37], dtype=np.float32)
    np.testing.assert_array_equal(result.dense, expected)
    assert all(b["parameters"]["dimension"] == 256 for b in fake.bodies)
    assert result.usage.requests == 4
    assert result.usage.total_tokens == sum(len(t.split()) for t in TEXTS_37)
    assert sorted(result.request_ids) == sorted(f"req-{i}" for i in range(1, 5))


async def test_async_37_texts_in_order_despite_shuffle():
    fake = FakeDashScope(shuffle=True)
    embedder = make_embedder(fake, dimensions=256)
    result = await embedder.aembed(TEXTS_37)
    await embedder.aclose()
    assert sorted(len(b["input"]["texts"]) for b in fake.bodies) == [7, 10, 10, 10]
    expected = np.asarray([text_vector(t, 256, "document") for t in TEXTS_37], dtype=np.float32)
    np.testing.assert_array_equal(result.dense, expected)


def test_query_and_document_differ_only_in_text_type_at_top_of_parameters():
    fake = FakeDashScope()
    embedder = make_embedder(fake, dimensions=64)
    embedder.embed_query("how do I open a file?")
    embedder.embed_documents(["how do I open a file?"])
    query_body, doc_body = fake.bodies
    assert query_body["parameters"] == {"dimension": 64, "text_type": "query"}
    assert doc_body["parameters"] == {"dimension": 64, "text_type": "document"}
    assert query_body["input"] == doc_body["input"]
    assert "kwargs" not in query_body["parameters"]


def test_instruct_goes_with_queries_only():
    fake = FakeDashScope()
    embedder = make_embedder(fake, instruct="Given a question, retrieve passages that answer it")
    embedder.embed_query("q")
    embedder.embed_documents(["d"])
    assert fake.bodies[0]["parameters"] == {
        "text_type": "query",
        "instruct": "Given a question, retrieve passages that answer it",
    }
    assert fake.bodies[1]["parameters"] == {"text_type": "document"}
    with pytest.raises(InvalidInputError, match="queries only"):
        embedder.embed(["d"], text_type="document", instruct="x")
    assert len(fake.bodies) == 2


def test_invalid_dimension_fails_before_any_request_listing_allowed_values():
    fake = FakeDashScope()
    with pytest.raises(InvalidInputError) as info:
        make_embedder(fake, model="text-embedding-v4", dimensions=300)
    message = str(info.value)
    assert "300" in message and "2048, 1536, 1024, 768, 512, 256, 128, 64" in message
    assert fake.calls == 0


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(model="text-embedding-v2", dimensions=1024), "allowed: 1536"),
        (dict(model="text-embedding-v2", output_type="sparse"), "sparse vectors need"),
        (dict(model="text-embedding-v3", instruct="x"), "only text-embedding-v4"),
        (dict(output_type="both"), "output_type 'both'"),
        (dict(protocol="openai", output_type="dense&sparse"), "dense vectors only"),
        (dict(protocol="openai", instruct="x"), "no instruct"),
        (dict(max_concurrency=0), "max_concurrency"),
        (dict(max_retries=-1), "max_retries"),
        (dict(oversize="drop"), "oversize"),
        (dict(model="multimodal-embedding-v1"), "multimodal model"),
        (dict(region="mars"), "unknown region"),
    ],
)
def test_bad_configuration_is_refused_up_front(kwargs, needle):
    with pytest.raises(InvalidInputError, match=needle):
        DashScopeEmbedder(api_key="sk-x", **kwargs)


def test_bad_texts_named_by_position_before_any_request():
    fake = FakeDashScope()
    embedder = make_embedder(fake)
    with pytest.raises(InvalidInputError) as info:
        embedder.embed(["fine", "", None, 42, "   ", "also fine"])
    message = str(info.value)
    assert "4 of 6" in message
    assert "[1] empty" in message and "[2] None" in message and "[3] not a string (int)" in message
    assert "[4] whitespace only" in message
    with pytest.raises(InvalidInputError, match="single str"):
        embedder.embed("a string, not a list")
    with pytest.raises(InvalidInputError, match="text_type 'passage'"):
        embedder.embed(["x"], text_type="passage")
    assert fake.calls == 0


def test_empty_list_sends_nothing_and_returns_empty_matrix():
    fake = FakeDashScope()
    result = make_embedder(fake, dimensions=128).embed([])
    assert result.dense.shape == (0, 128)
    assert fake.calls == 0


def test_429_then_200_recovers_without_resending_other_requests():
    texts = [f"t{i}" for i in range(30)]
    busy = error_reply(429, "Throttling.RateQuota", "Requests rate limit exceeded", retry_after="0")
    fake = FakeDashScope(fail_texts={"t15": [busy]})
    result = make_embedder(fake, max_concurrency=1).embed(texts)
    sent = [tuple(b["input"]["texts"]) for b in fake.bodies]
    assert len(sent) == 4  # 3 batches + one retry of the throttled batch
    assert sent.count(tuple(texts[10:20])) == 2
    assert sent.count(tuple(texts[0:10])) == 1 and sent.count(tuple(texts[20:30])) == 1
    assert len(fake.ok_bodies) == 3
    assert result.dense.shape == (30, 1024)


@pytest.mark.parametrize(
    "failure, error_type",
    [
        (error_reply(500, "InternalError", "boom"), ServerError),
        (error_reply(503, "ModelServingError", "overloaded"), ServerError),
        (httpx.ConnectError("refused"), APIConnectionError),
        (httpx.RemoteProtocolError("dropped"), APIConnectionError),
        (httpx.ReadTimeout("slow"), APITimeoutError),
    ],
)
def test_transient_failures_are_retried_and_exhaustion_reports_attempts(failure, error_type):
    fake = FakeDashScope(fail_texts={"a": [failure]})
    result = make_embedder(fake).embed(["a", "b"])
    assert result.dense.shape == (2, 1024)
    assert len(fake.ok_bodies) == 1
    fake = FakeDashScope(fail_texts={"a": [failure] * 10})
    with pytest.raises(error_type) as info:
        make_embedder(fake, max_retries=2).embed(["a"])
    assert info.value.attempts == 3
    assert fake.calls == 3
    assert "after 3 attempts" in str(info.value)


async def test_async_retries_and_attempt_count():
    fake = FakeDashScope(fail_texts={"a": [error_reply(429, "Throttling", "slow down")] * 10})
    embedder = make_embedder(fake, max_retries=3)
    with pytest.raises(RateLimitError) as info:
        await embedder.aembed(["a"])
    assert info.value.attempts == 4 and fake.calls == 4
    fake2 = FakeDashScope(fail_texts={"a": [httpx.ConnectError("x")]})
    result = await make_embedder(fake2).aembed(["a", "b"])
    assert result.dense.shape == (2, 1024)


def test_retry_after_is_honoured():
    busy = error_reply(429, "Throttling.RateQuota", "slow down", retry_after="0.3")
    fake = FakeDashScope(fail_texts={"a": [busy]})
    start = time.perf_counter()
    make_embedder(fake).embed(["a"])
    elapsed = time.perf_counter() - start
    assert 0.3 <= elapsed < 2.0


def test_non_retryable_errors_fail_at_once_with_request_id_and_no_key():
    reply = error_reply(401, "InvalidApiKey", "Invalid API-key provided.", request_id="rid-401")
    fake = FakeDashScope(script={1: reply})
    embedder = make_embedder(fake, api_key="sk-very-secret-key-000")
    with pytest.raises(AuthenticationError) as info:
        embedder.embed(["a"])
    err = info.value
    assert fake.calls == 1
    assert (err.status_code, err.code, err.request_id, err.attempts) == (401, "InvalidApiKey", "rid-401", 1)
    for text in (str(err), repr(err), repr(embedder)):
        assert "sk-very-secret-key-000" not in text


def test_http_200_with_error_code_raises():
    reply = httpx.Response(200, json={"code": "DataInspectionFailed", "message": "bad content", "request_id": "r"})
    fake = FakeDashScope(script={1: reply})
    from dashscope_embed import ContentInspectionError

    with pytest.raises(ContentInspectionError, match="bad content"):
        make_embedder(fake).embed(["a"])


def test_fewer_vectors_than_inputs_raises():
    def short(request):
        return httpx.Response(
            200, json={"output": {"embeddings": [{"embedding": [0.1] * 8, "text_index": 0}]}, "request_id": "r9"}
        )

    fake = FakeDashScope(script={1: short})
    with pytest.raises(ResponseFormatError, match="1 vectors for 2 inputs") as info:
        make_embedder(fake).embed(["a", "b"])
    assert info.value.request_id == "r9"


@pytest.mark.parametrize(
    "payload, needle",
    [
        ({"output": {"embeddings": [{"embedding": [0.1], "text_index": 0}, {"embedding": [0.2], "text_index": 0}]}}, "permutation"),
        ({"output": {"embeddings": [{"embedding": [0.1, 0.2], "text_index": 0}, {"embedding": [0.2], "text_index": 1}]}}, "ragged"),
        ({"output": {}}, "no output.embeddings"),
    ],
)
def test_malformed_replies_raise(payload, needle):
    fake = FakeDashScope(script={1: httpx.Response(200, json=payload)})
    with pytest.raises(ResponseFormatError, match=needle):
        make_embedder(fake).embed(["a", "b"])


def test_wrong_dimension_in_reply_raises():
    def wrong(request):
        items = [{"embedding": [0.0] * 8, "text_index": 0}]
        return httpx.Response(200, json={"output": {"embeddings": items}})

    fake = FakeDashScope(script={1: wrong})
    with pytest.raises(ResponseFormatError, match="dimension 8, asked for 64"):
        make_embedder(fake, dimensions=64).embed(["a"])


def test_non_json_error_body_is_still_typed():
    fake = FakeDashScope(script={1: httpx.Response(502, text="<html>Bad gateway</html>")})
    with pytest.raises(ServerError, match="Bad gateway"):
        make_embedder(fake, max_retries=0).embed(["a"])


def test_batch_size_error_resplits_and_remembers_the_limit():
    fake = FakeDashScope(max_rows=6)
    embedder = make_embedder(fake, model="text-embedding-v3", max_concurrency=1)
    texts = [f"x{i}" for i in range(20)]
    result = embedder.embed(texts)
    np.testing.assert_array_equal(result.dense[5], np.asarray(text_vector("x5", 1024), np.float32))
    assert embedder.max_rows == 6
    sizes = [len(b["input"]["texts"]) for b in fake.bodies]
    assert sizes[0] == 10 and max(sizes[1:]) <= 6
    assert len(fake.ok_bodies) == len(fake.bodies) - 1  # only the first oversize request was refused
    fake.bodies.clear()
    embedder.embed(texts)
    assert [len(b["input"]["texts"]) for b in fake.bodies] == [6, 6, 6, 2]


def test_catalog_override_changes_rows_per_request():
    fake = FakeDashScope()
    make_embedder(fake, catalog_overrides={"max_rows": 4}).embed([f"x{i}" for i in range(9)])
    # the requests run concurrently: they may arrive in any order
    assert sorted(len(b["input"]["texts"]) for b in fake.bodies) == [1, 4, 4]


def test_sync_requests_overlap_up_to_max_concurrency():
    fake = FakeDashScope(delay=0.05)
    embedder = make_embedder(fake, max_concurrency=3)
    embedder.embed([f"x{i}" for i in range(100)])
    assert fake.max_in_flight == 3
    fake1 = FakeDashScope(delay=0.01)
    make_embedder(fake1, max_concurrency=1).embed([f"x{i}" for i in range(40)])
    assert fake1.max_in_flight == 1


async def test_async_requests_overlap_up_to_max_concurrency_across_calls():
    fake = FakeDashScope(delay=0.05)
    embedder = make_embedder(fake, max_concurrency=4)
    results = await asyncio.gather(*(embedder.aembed([f"c{c}-{i}" for i in range(30)]) for c in range(3)))
    assert fake.max_in_flight == 4
    assert all(r.dense.shape == (30, 1024) for r in results)
    await embedder.aclose()


def test_async_client_survives_separate_event_loops():
    fake = FakeDashScope()
    embedder = make_embedder(fake)
    for _ in range(2):
        assert asyncio.run(embedder.aembed(["a", "b"])).dense.shape == (2, 1024)


def test_first_failure_stops_pending_batches():
    fake = FakeDashScope(delay=0.02, fail_texts={"x0": [error_reply(400, "InvalidParameter", "nope")]})
    embedder = make_embedder(fake, max_concurrency=2)
    from dashscope_embed import InvalidRequestError

    with pytest.raises(InvalidRequestError, match="nope"):
        embedder.embed([f"x{i}" for i in range(200)])
    time.sleep(0.1)
    assert fake.calls < 20


def test_sparse_and_dense_sparse_outputs():
    fake = FakeDashScope(shuffle=True)
    embedder = make_embedder(fake, output_type="dense&sparse", dimensions=64)
    result = embedder.embed(["alpha beta", "gamma"])
    assert fake.bodies[0]["parameters"]["output_type"] == "dense&sparse"
    assert result.dense.shape == (2, 64)
    assert [s.tokens for s in result.sparse] == [("alpha", "beta"), ("gamma",)]
    assert result.sparse[0].values == (1.0, 0.5)
    assert result.sparse[0].as_dict() == dict(zip(result.sparse[0].indices, (1.0, 0.5)))
    only_sparse = embedder.embed(["gamma"], output_type="sparse")
    assert only_sparse.dense is None and only_sparse.sparse[0].tokens == ("gamma",)
    with pytest.raises(ValueError, match="no dense"):
        only_sparse.dense_lists()


def test_openai_protocol_body_and_reply():
    fake = FakeDashScope(shuffle=True)
    embedder = make_embedder(fake, base_url="https://example.test/compatible-mode/v1", dimensions=128)
    assert embedder.protocol == "openai"
    result = embedder.embed_query("hello")
    assert fake.paths == ["/compatible-mode/v1/embeddings"]
    assert fake.bodies[0] == {
        "model": "text-embedding-v4",
        "input": ["hello"],
        "encoding_format": "float",
        "dimensions": 128,
    }
    docs = embedder.embed([f"d{i}" for i in range(12)])
    np.testing.assert_array_equal(docs.dense[11], np.asarray(text_vector("d11", 128), np.float32))
    assert result.usage.total_tokens == 1


def test_openai_protocol_error_shape():
    reply = httpx.Response(
        401,
        json={"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error", "param": None,
                        "code": "invalid_api_key"}, "request_id": "rq"},
    )
    fake = FakeDashScope(script={1: reply})
    embedder = make_embedder(fake, base_url="https://example.test/compatible-mode/v1")
    with pytest.raises(AuthenticationError) as info:
        embedder.embed(["a"])
    assert info.value.code == "invalid_api_key" and info.value.request_id == "rq"


def test_headers_carry_key_and_workspace():
    fake = FakeDashScope()
    make_embedder(fake, api_key="sk-abc", workspace="ws-123").embed(["a"])
    headers = fake.headers[0]
    assert headers["authorization"] == "Bearer sk-abc"
    assert headers["x-dashscope-workspace"] == "ws-123"
    assert headers["content-type"] == "application/json"


def test_missing_key_for_cloud_is_an_error_before_any_request(monkeypatch):
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    monkeypatch.delenv("DASHSCOPE_BASE_URL", raising=False)
    monkeypatch.delenv("DASHSCOPE_HTTP_BASE_URL", raising=False)
    fake = FakeDashScope()
    embedder = DashScopeEmbedder(transport=fake.transport())
    with pytest.raises(AuthenticationError, match="no API key"):
        embedder.embed(["a"])
    assert fake.calls == 0
    local = DashScopeEmbedder(base_url="http://127.0.0.1:9", transport=fake.transport())
    local.embed(["a"])
    assert "authorization" not in fake.headers[0]


def test_usage_running_totals():
    fake = FakeDashScope()
    embedder = make_embedder(fake)
    embedder.embed(["one two", "three"])
    embedder.embed_query("four five six")
    assert embedder.usage.total_tokens == 6
    assert embedder.usage.requests == 2


def test_pickle_round_trip_keeps_config_and_works():
    fake = FakeDashScope()
    embedder = make_embedder(fake, dimensions=64, catalog_overrides={"max_rows": 3})
    embedder.embed(["a"])  # creates clients and locks, which must not break pickling
    state = embedder.__getstate__()
    assert "sk-test-secret" not in repr(state)
    clone = pickle.loads(pickle.dumps(embedder))
    assert clone.dimension == 64 and clone.max_rows == 3
    assert clone.settings.api_key.get_secret_value() == "sk-test-secret-0123456789"


def test_no_key_in_logs(caplog):
    caplog.set_level(logging.DEBUG)
    busy = error_reply(429, "Throttling", "slow", retry_after="0")
    fake = FakeDashScope(fail_texts={"a": [busy]})
    make_embedder(fake, api_key="sk-log-secret-999").embed(["a", "b"])
    assert caplog.records
    assert "sk-log-secret-999" not in caplog.text


@pytest.mark.parametrize(
    "build, needle",
    [
        (lambda: DashScopeEmbedder(api_key="sk-x", dimension=512), "'dimension' (did you mean 'dimensions'?)"),
        (lambda: DashScopeEmbedder(api_key="sk-x", bogus=1), "'bogus'"),
        (lambda: MultimodalEmbedder("multimodal-embedding-v1", api_key="sk-x", oversize="truncate"), "'oversize'"),
    ],
)
def test_engines_refuse_unknown_arguments_by_name(build, needle):
    with pytest.raises(InvalidInputError, match=re.escape(needle)):
        build()
