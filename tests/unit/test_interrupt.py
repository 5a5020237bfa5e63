"""Ctrl-C during ``embed`` and cancellation of ``aembed`` stop sending: nothing new starts, at most the requests
already in flight finish (each one is billed, so a request sent after the user gave up is money lost)."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import httpx
import pytest

from support.fakes import FakeDashScope, make_embedder

TEXTS = [f"text {i}" for i in range(400)]  # 40 requests of 10 rows


class Interrupting(FakeDashScope):
    """A slow fake that sends SIGINT to this process (a real Ctrl-C) when request ``at`` arrives."""

    def __init__(self, at: int, **kwargs) -> None:
        super().__init__(delay=0.05, **kwargs)
        self.at = at
        self.calls_at_interrupt = None
        self.interrupted = threading.Event()

    def _enter(self, request: httpx.Request) -> int:
        number = super()._enter(request)
        if number == self.at:
            self.calls_at_interrupt = number
            self.interrupted.set()
            os.kill(os.getpid(), signal.SIGINT)
        return number


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="POSIX signals")
def test_ctrl_c_during_sync_embed_stops_submitting():
    fake = Interrupting(at=3)
    engine = make_embedder(fake, model="text-embedding-v4", dimensions=64, max_concurrency=2)
    with pytest.raises(KeyboardInterrupt):
        engine.embed(TEXTS)
    time.sleep(0.5)  # ten times a request's latency: any request still queued would have gone out by now
    # Request 3 brought the interrupt; at most the 2 requests in flight then (3 and one other) may finish, and
    # one more may have been taken by a worker that was just freeing itself.
    assert fake.calls <= fake.calls_at_interrupt + 1, fake.calls
    assert fake.calls < 10
    engine.close()


def test_cancelling_aembed_stops_submitting():
    fake = FakeDashScope(delay=0.05)
    engine = make_embedder(fake, model="text-embedding-v4", dimensions=64, max_concurrency=2)

    async def main() -> tuple[int, int]:
        task = asyncio.ensure_future(engine.aembed(TEXTS))
        while fake.calls < 3:
            await asyncio.sleep(0.005)
        at_cancel = fake.calls
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.5)
        return at_cancel, fake.calls

    at_cancel, final = asyncio.run(main())
    assert final == at_cancel, (at_cancel, final)
    assert fake.in_flight == 0


def test_a_failing_request_in_sync_embed_stops_the_queue():
    # The same path as an interrupt: an exception raised while waiting cancels every request not yet started.
    fake = FakeDashScope(delay=0.05, script={3: httpx.Response(401, json={"code": "InvalidApiKey", "message": "no"})})
    engine = make_embedder(fake, model="text-embedding-v4", dimensions=64, max_concurrency=2)
    with pytest.raises(Exception):
        engine.embed(TEXTS)
    time.sleep(0.5)
    # when request 3 fails, the other worker holds #4 or (if #4 came back first) #5: nothing starts after that
    assert fake.calls <= 5
    engine.close()


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="POSIX signals")
@pytest.mark.parametrize("framework", ["llama_index", "langchain"])
def test_ctrl_c_through_the_adapters_stops_submitting(framework):
    fake = Interrupting(at=3)
    common = dict(dimensions=64, max_concurrency=2, api_key="sk-test-0123456789", transport=fake.transport())
    if framework == "llama_index":
        from llama_index_dashscope_embed import DashScopeEmbedding

        embed = DashScopeEmbedding(model_name="text-embedding-v4", **common).get_text_embedding_batch
    else:
        from langchain_dashscope_embed import DashScopeEmbeddings

        embed = DashScopeEmbeddings(model="text-embedding-v4", **common).embed_documents
    with pytest.raises(KeyboardInterrupt):
        embed(TEXTS)
    time.sleep(0.5)
    assert fake.calls <= fake.calls_at_interrupt + 1, fake.calls


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="POSIX signals")
def test_ctrl_c_stops_requests_that_are_retrying(hash_service):
    # Every request is throttled (429, Retry-After 0.3 s): the two in flight keep retrying until they give up.
    # Ctrl-C must end those retries too, not only the requests not yet started.
    from dashscope_embed import DashScopeEmbedder
    from dashscope_embed.server import FaultConfig

    hash_service.set_faults(FaultConfig(rate_429=1.0, retry_after=0.3))
    engine = DashScopeEmbedder("text-embedding-v4", dimensions=64, base_url=hash_service.base_url,
                               max_concurrency=2, max_retries=8, retry_base_delay=0.01, retry_max_delay=0.5)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            engine.embed(TEXTS)
        at_interrupt = hash_service.stats.requests
        time.sleep(1.0)  # three Retry-After periods: a retry still running would have sent again by now
        # a retry already past its check when the interrupt came may still go out, one per worker
        assert hash_service.stats.requests <= at_interrupt + 2, (at_interrupt, hash_service.stats.requests)
    finally:
        timer.cancel()
        engine.close()


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="POSIX signals")
def test_after_ctrl_c_the_next_call_does_not_wait_out_a_backoff(hash_service):
    # The workers were waiting out a 5 s Retry-After when Ctrl-C came: they give up the wait, so the next call on
    # the same engine has its threads at once.
    from dashscope_embed import DashScopeEmbedder
    from dashscope_embed.server import FaultConfig

    hash_service.set_faults(FaultConfig(rate_429=1.0, retry_after=5))
    engine = DashScopeEmbedder("text-embedding-v4", dimensions=64, base_url=hash_service.base_url,
                               max_concurrency=2, max_retries=3)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            engine.embed(TEXTS)
        hash_service.set_faults(None)
        started = time.monotonic()
        assert engine.embed(TEXTS).dense.shape == (400, 64)
        assert time.monotonic() - started < 3.0
    finally:
        timer.cancel()
        engine.close()
