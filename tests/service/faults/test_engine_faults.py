"""The engine against the local service's injected faults, over real HTTP on 127.0.0.1, sync and async.

Faults are pinned to request numbers with ``FaultConfig.schedule`` (or given rates of 1.0), so every test knows
exactly which requests fail and can assert the exact traffic the service saw.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from dashscope_embed import (
    APIConnectionError,
    AuthenticationError,
    DashScopeEmbedder,
    RateLimitError,
    ResponseFormatError,
    ServerError,
)
from dashscope_embed.server import FaultConfig, LocalService

TEXTS = [f"fault injection text number {i}" for i in range(25)]  # 10 + 10 + 5 rows: three requests for v4
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def expected(fault_service, make_engine):
    """Fault-free vectors for ``TEXTS`` (the service's counters are zeroed again afterwards)."""
    vectors = make_engine().embed(TEXTS).dense
    fault_service.reset_stats()
    return vectors


def test_429_retry_after_is_honoured(fault_service, make_engine, embed, expected):
    fault_service.set_faults(FaultConfig(schedule={0: "429"}, retry_after=0.4))
    # backoff alone would wait 10-20 s: finishing in about 0.4 s shows Retry-After was used instead
    engine = make_engine(retry_base_delay=20.0, retry_max_delay=20.0)
    start = time.perf_counter()
    result = embed(engine, TEXTS[:5])
    elapsed = time.perf_counter() - start
    assert 0.4 <= elapsed < 0.4 * 1.1 + 1.0
    np.testing.assert_array_equal(result.dense, expected[:5])
    stats = fault_service.stats.snapshot()
    assert stats.by_status == {429: 1, 200: 1}
    assert stats.faults == {"429": 1}
    assert stats.requests == 2 and stats.ok == 1


def test_rpm_limit_refusal_carries_its_retry_after(fault_service, make_engine, embed):
    fault_service.set_faults(FaultConfig(rpm=1))
    engine = make_engine(max_retries=0)
    embed(engine, TEXTS[:2])
    with pytest.raises(RateLimitError) as info:
        embed(engine, TEXTS[:2])
    error = info.value
    # the window frees its slot 60 s after the first request: the service says so in whole seconds
    assert error.retry_after == 60.0
    assert (error.status_code, error.code, error.attempts) == (429, "Throttling.RateQuota", 1)
    assert fault_service.stats.by_status == {200: 1, 429: 1}


def test_5xx_is_retried(fault_service, make_engine, embed, expected):
    fault_service.set_faults(FaultConfig(schedule={0: "500", 1: "503"}))
    result = embed(make_engine(), TEXTS[:5])
    np.testing.assert_array_equal(result.dense, expected[:5])
    stats = fault_service.stats.snapshot()
    assert stats.by_status == {500: 1, 503: 1, 200: 1}
    assert stats.requests == 3 and stats.ok == 1 and stats.rows == 5


def test_only_the_failed_request_is_sent_again(fault_service, make_engine, embed, expected):
    fault_service.set_faults(FaultConfig(schedule={1: "503"}))
    # one request at a time: request 1 is the second batch; it alone is repeated
    result = embed(make_engine(max_concurrency=1), TEXTS)
    np.testing.assert_array_equal(result.dense, expected)
    stats = fault_service.stats.snapshot()
    assert stats.requests == 4 and stats.by_status == {200: 3, 503: 1}
    assert stats.ok == 3 and stats.rows == len(TEXTS)
    assert result.usage.requests == 3 and len(result.request_ids) == 3


def test_dropped_connection_is_retried(fault_service, make_engine, embed, expected):
    fault_service.set_faults(FaultConfig(schedule={0: "drop"}))
    result = embed(make_engine(), TEXTS[:5])
    np.testing.assert_array_equal(result.dense, expected[:5])
    stats = fault_service.stats.snapshot()
    assert stats.dropped == 1 and stats.faults == {"drop": 1}
    assert stats.requests == 2 and stats.by_status == {200: 1}


def test_shuffled_text_index_is_reassembled(fault_service, make_engine, embed, expected):
    fault_service.set_faults(FaultConfig(shuffle_rate=1.0, seed=3))
    result = embed(make_engine(), TEXTS)
    np.testing.assert_array_equal(result.dense, expected)
    stats = fault_service.stats.snapshot()
    assert stats.faults == {"shuffle": 3}  # every request held more than one row, so all three came shuffled
    assert stats.requests == 3


def test_fewer_vectors_raise_response_format_error_without_retry(fault_service, make_engine, embed):
    fault_service.set_faults(FaultConfig(schedule={0: "short"}))
    with pytest.raises(ResponseFormatError) as info:
        embed(make_engine(max_retries=3), TEXTS[:5])
    error = info.value
    assert "4 vectors for 5 inputs" in str(error)
    assert error.attempts == 1 and UUID.match(error.request_id)
    assert fault_service.stats.requests == 1


def test_http_200_with_error_code_raises(fault_service, make_engine, embed):
    fault_service.set_faults(FaultConfig(schedule={0: "error_200"}))
    with pytest.raises(ServerError) as info:
        embed(make_engine(max_retries=0), TEXTS[:5])
    error = info.value
    assert (error.status_code, error.code, error.attempts) == (200, "InternalError", 1)
    assert "internal error" in error.message and UUID.match(error.request_id)
    assert fault_service.stats.by_status == {200: 1} and fault_service.stats.ok == 0


def test_http_200_with_internal_error_code_is_retried_like_a_500(fault_service, make_engine, embed, expected):
    fault_service.set_faults(FaultConfig(schedule={0: "error_200"}))
    result = embed(make_engine(max_retries=2), TEXTS[:5])
    np.testing.assert_array_equal(result.dense, expected[:5])
    stats = fault_service.stats.snapshot()
    assert stats.by_status == {200: 2} and stats.ok == 1 and stats.faults == {"error_200": 1}


@pytest.mark.parametrize("protocol, code", [("dashscope", "InvalidApiKey"), ("openai", "invalid_api_key")])
def test_401_is_an_authentication_error_with_request_id_and_no_key(embed, protocol, code):
    right, wrong = "sk-rightKey0123456789abcdef", "sk-wrongKey0123456789abcdef"
    with LocalService(backend="hash", api_key=right) as service:
        engine = DashScopeEmbedder(
            "text-embedding-v4", dimensions=64, base_url=service.base_url, api_key=wrong, protocol=protocol,
            max_retries=3, retry_base_delay=0.01,
        )
        with pytest.raises(AuthenticationError) as info:
            embed(engine, TEXTS[:3])
        engine.close()
        error = info.value
        assert (error.status_code, error.code, error.attempts) == (401, code, 1)
        assert UUID.match(error.request_id) and error.request_id in str(error)
        for text in (str(error), repr(error), repr(engine)):
            assert wrong not in text and right not in text and "Bearer" not in text
        assert service.stats.requests == 1  # never retried
        assert service.stats.by_status == {401: 1}


@pytest.mark.parametrize(
    "faults, error_type",
    [
        (FaultConfig(rate_429=1.0, retry_after=0.0), RateLimitError),
        (FaultConfig(rate_500=1.0), ServerError),
        (FaultConfig(rate_503=1.0), ServerError),
        (FaultConfig(drop_rate=1.0), APIConnectionError),
    ],
    ids=["429", "500", "503", "drop"],
)
@pytest.mark.parametrize("max_retries", [0, 2])
def test_exhausted_retries_report_attempts(fault_service, make_engine, embed, faults, error_type, max_retries):
    fault_service.set_faults(faults)
    with pytest.raises(error_type) as info:
        embed(make_engine(max_retries=max_retries), TEXTS[:5])
    assert info.value.attempts == max_retries + 1
    assert fault_service.stats.requests == max_retries + 1
    if max_retries:
        assert f"after {max_retries + 1} attempts" in str(info.value)
