"""Injected faults, each observed from an httpx client, reproducible under a seed, changeable at run time."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest
from support.svc_helpers import COMPAT, compat_error, embed, native_error, vectors

from dashscope_embed.errors import RateLimitError, ServerError, error_from_reply
from dashscope_embed.server import FaultConfig, FaultInjector

TEXTS = [f"text number {i}" for i in range(10)]


def outcome(client, texts=TEXTS):
    """A compact description of what one request got back."""
    try:
        r = embed(client, texts)
    except httpx.TransportError as exc:
        return type(exc).__name__
    body = r.json()
    if r.status_code != 200 or "code" in body:
        return f"{r.status_code}:{body.get('code')}"
    order = [item["text_index"] for item in body["output"]["embeddings"]]
    return "short" if len(order) < len(texts) else "shuffled" if order != sorted(order) else "ok"


def test_latency_and_jitter(service, client):
    service.set_faults(FaultConfig(latency=0.25, jitter=0.1, seed=3))
    started = time.perf_counter()
    assert embed(client, ["x"]).status_code == 200
    elapsed = time.perf_counter() - started
    assert 0.25 <= elapsed < 0.25 + 0.1 + 0.5


def test_jitter_is_reproducible():
    a = [FaultInjector(FaultConfig(jitter=1.0, seed=7)).decide().delay for _ in range(1)]
    inj1, inj2 = FaultInjector(FaultConfig(jitter=1.0, seed=7)), FaultInjector(FaultConfig(jitter=1.0, seed=7))
    d1 = [inj1.decide().delay for _ in range(20)]
    d2 = [inj2.decide().delay for _ in range(20)]
    assert d1 == d2 and d1[0] == a[0]
    assert len(set(d1)) == 20 and all(0 <= d < 1.0 for d in d1)


def test_rpm_limit_answers_429_with_retry_after(service, client):
    service.set_faults(FaultConfig(rpm=3))
    assert [embed(client, ["x"]).status_code for _ in range(3)] == [200, 200, 200]
    r = embed(client, ["x"])
    assert native_error(r, 429, "Throttling.RateQuota") == "Requests rate limit exceeded, please try again later."
    assert int(r.headers["retry-after"]) in range(1, 61)
    error = error_from_reply(r.status_code, r.json(), r.headers)
    assert isinstance(error, RateLimitError) and error.retry_after == int(r.headers["retry-after"])
    c = client.post(COMPAT, json={"model": "text-embedding-v4", "input": "x"})
    compat_error(c, 429, "limit_requests", "limit_requests")
    assert "retry-after" in c.headers
    assert service.stats.faults == {"rpm": 2}


def test_rpm_window_slides():
    now = [1000.0]
    inj = FaultInjector(FaultConfig(rpm=2), clock=lambda: now[0])
    assert [inj.decide().fault for _ in range(2)] == [None, None]
    now[0] += 20.5
    refused = inj.decide()
    assert refused.fault == "rpm" and refused.retry_after == 40.0  # ceil(60 - 20.5)
    now[0] += 40.0  # the first two leave the window
    assert inj.decide().fault is None


@pytest.mark.parametrize(
    "config, status, code, compat",
    [
        (FaultConfig(rate_429=1.0, retry_after=2.5), 429, "Throttling.RateQuota", ("limit_requests", "limit_requests")),
        (FaultConfig(rate_500=1.0), 500, "InternalError", ("internal_error", "internal_error")),
        (FaultConfig(rate_503=1.0), 503, "ServiceUnavailable", ("service_unavailable", "service_unavailable")),
    ],
)
def test_error_statuses(service, client, config, status, code, compat):
    service.set_faults(config)
    r = embed(client, ["x"])
    native_error(r, status, code)
    if status == 429:
        assert r.headers["retry-after"] == "2.5"
    parsed = error_from_reply(r.status_code, r.json(), r.headers)
    assert isinstance(parsed, RateLimitError if status == 429 else ServerError) and parsed.retryable
    compat_error(client.post(COMPAT, json={"model": "text-embedding-v4", "input": "x"}), status, *compat)
    assert service.stats.by_status == {status: 2}
    assert service.stats.ok == 0


def test_dropped_connection_is_a_transport_error(service, client):
    service.set_faults(FaultConfig(drop_rate=1.0))
    with pytest.raises(httpx.RemoteProtocolError):
        embed(client, ["x"])
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(COMPAT, json={"model": "text-embedding-v4", "input": "x"})
    snap = service.stats.snapshot()
    assert snap.dropped == 2 and snap.by_status == {} and snap.requests == 2
    service.set_faults(None)
    assert embed(client, ["x"]).status_code == 200  # the pooled client recovers on a new connection


def test_dropped_connection_without_transport_access(service, client, monkeypatch):
    # Under a server whose send() does not expose the transport, the reply is cut mid-body instead.
    import dashscope_embed.server.app as app_module

    monkeypatch.setattr(app_module, "abort_hook", lambda send: (lambda: False))
    service.set_faults(FaultConfig(drop_rate=1.0))
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete|complete message body"):
        embed(client, ["x"])
    assert service.stats.dropped == 1


def test_shuffled_order_keeps_indices_right(service, client):
    plain = vectors(embed(client, TEXTS))
    service.set_faults(FaultConfig(shuffle_rate=1.0, seed=1))
    r = embed(client, TEXTS)
    order = [item["text_index"] for item in r.json()["output"]["embeddings"]]
    assert sorted(order) == list(range(10)) and order != list(range(10))
    assert np.array_equal(vectors(r), plain)  # re-sorted by text_index, every vector is where it belongs
    c = client.post(COMPAT, json={"model": "text-embedding-v4", "input": TEXTS, "encoding_format": "float"})
    assert [d["index"] for d in c.json()["data"]] != list(range(10))
    assert service.stats.faults == {"shuffle": 2}
    assert service.stats.ok == 3  # a shuffled reply is complete and valid


def test_http_200_with_error_code(service, client):
    service.set_faults(FaultConfig(error_200_rate=1.0))
    r = embed(client, ["x"])
    assert r.status_code == 200
    body = r.json()
    assert body["code"] == "InternalError" and "output" not in body and body["request_id"]
    c = client.post(COMPAT, json={"model": "text-embedding-v4", "input": "x"})
    assert c.status_code == 200 and c.json()["error"]["code"] == "internal_error"
    assert isinstance(error_from_reply(200, body), ServerError)
    snap = service.stats.snapshot()
    assert snap.replies_200 == 2 and snap.ok == 0 and snap.faults == {"error_200": 2}


def test_fewer_vectors_than_inputs(service, client):
    service.set_faults(FaultConfig(short_reply_rate=1.0, seed=5))
    r = embed(client, TEXTS)
    assert r.status_code == 200
    indices = [item["text_index"] for item in r.json()["output"]["embeddings"]]
    assert len(indices) == len(TEXTS) - 1 and len(set(indices)) == len(indices)
    snap = service.stats.snapshot()
    assert snap.replies_200 == 1 and snap.ok == 0 and snap.rows == 0


def test_same_seed_same_faults_other_seed_other_faults(service, client):
    config = FaultConfig(seed=11, drop_rate=0.1, rate_429=0.1, rate_500=0.1, rate_503=0.05, error_200_rate=0.1,
                         short_reply_rate=0.1, shuffle_rate=0.3, retry_after=0)
    runs = []
    for seed in (11, 11, 12):
        service.set_faults(config.replace(seed=seed))
        runs.append([outcome(client) for _ in range(40)])
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    seen = set(runs[0])
    assert {"ok", "shuffled", "short", "RemoteProtocolError", "429:Throttling.RateQuota", "500:InternalError"} <= seen


def test_rates_hold_over_many_requests():
    inj = FaultInjector(FaultConfig(seed=0, rate_500=0.2, drop_rate=0.1, shuffle_rate=0.5))
    decisions = [inj.decide() for _ in range(4000)]
    share = lambda f: sum(d.fault == f for d in decisions) / len(decisions)
    assert abs(share("500") - 0.2) < 0.03
    assert abs(share("drop") - 0.1) < 0.03
    assert abs(sum(d.shuffle for d in decisions) / 4000 - 0.5) < 0.03


def test_schedule_hits_exactly_the_nth_request(service, client):
    service.set_faults(FaultConfig(schedule={1: "500", 3: "drop", 4: "shuffle"}))
    assert [outcome(client) for _ in range(6)] == [
        "ok", "500:InternalError", "ok", "RemoteProtocolError", "shuffled", "ok"
    ]


def test_faults_change_on_a_running_service(service, client):
    assert embed(client, ["x"]).status_code == 200
    service.set_faults(FaultConfig(rate_503=1.0))
    assert embed(client, ["x"]).status_code == 503
    service.set_faults(rate_503=0.0, rate_500=1.0)  # change fields of the current faults
    assert embed(client, ["x"]).status_code == 500
    assert service.faults.rate_500 == 1.0 and service.faults.rate_503 == 0.0
    service.set_faults()
    assert embed(client, ["x"]).status_code == 200


def test_a_retrying_client_gets_as_many_successes_as_a_fault_free_run(service, client):
    batches = [[f"doc {b}-{i}" for i in range(7)] for b in range(12)]

    def run():
        done = {}
        for b, texts in enumerate(batches):
            for _ in range(50):  # bounded retries
                try:
                    r = embed(client, texts)
                except httpx.TransportError:
                    continue
                body = r.json()
                items = body.get("output", {}).get("embeddings", []) if r.status_code == 200 else []
                if r.status_code == 200 and "code" not in body and len(items) == len(texts):
                    done[b] = vectors(r)
                    break
            else:
                pytest.fail(f"batch {b} never succeeded")
        return done

    clean = run()
    clean_ok = service.stats.ok
    service.reset_stats()
    service.set_faults(FaultConfig(seed=4, drop_rate=0.1, rate_429=0.1, rate_500=0.1, error_200_rate=0.1,
                                   short_reply_rate=0.1, shuffle_rate=0.5, retry_after=0))
    faulty = run()
    snap = service.stats.snapshot()
    assert snap.ok == clean_ok == len(batches)
    assert snap.rows == sum(len(b) for b in batches)
    assert snap.requests > len(batches)  # faults were hit and retried
    assert all(np.array_equal(clean[b], faulty[b]) for b in clean)


@pytest.mark.parametrize(
    "kwargs",
    [{"rate_500": 1.5}, {"drop_rate": 0.6, "rate_429": 0.6}, {"latency": -1}, {"rpm": 0}, {"schedule": {0: "boom"}}],
)
def test_invalid_fault_config(kwargs):
    with pytest.raises(ValueError):
        FaultConfig(**kwargs)


def test_active_only_when_something_is_configured():
    assert not FaultConfig().active and not FaultConfig(seed=9, retry_after=3).active
    for change in ({"latency": 0.1}, {"jitter": 0.1}, {"rpm": 10}, {"schedule": {0: "drop"}}, {"shuffle_rate": 0.1},
                   {"drop_rate": 0.1}, {"rate_429": 0.1}, {"rate_500": 0.1}, {"rate_503": 0.1},
                   {"error_200_rate": 0.1}, {"short_reply_rate": 0.1}):
        assert FaultConfig(**change).active, change
