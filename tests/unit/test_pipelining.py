"""``BatchStream``: a sequence of batches embedded with the next batch's requests sent before the current one ends."""

from __future__ import annotations

import threading

import httpx
import numpy as np
import orjson
import pytest
from support.fakes import FakeDashScope, error_reply, make_embedder

from dashscope_embed import AuthenticationError, InvalidInputError
from dashscope_embed.pipelining import LOOKAHEAD_PER_SLOT, BatchStream, batches_of

TEXTS = [f"text {i} of the stream, word {i % 5}" for i in range(47)]


def test_one_result_per_batch_in_order_as_embed_would_return_it():
    fake = FakeDashScope(shuffle=True)
    engine = make_embedder(fake, dimensions=64, max_concurrency=3)
    batches = batches_of(TEXTS, 20)
    results = list(BatchStream(engine, batches))
    assert [len(r) for r in results] == [20, 20, 7]
    assert [r.usage.requests for r in results] == [2, 2, 1]
    expected = engine.embed(TEXTS).dense
    np.testing.assert_array_equal(np.concatenate([r.dense for r in results]), expected)
    assert all(r.lists is None for r in results)  # not asked for


def test_kept_lists_are_the_decoded_values_of_the_dense_rows():
    fake = FakeDashScope()
    engine = make_embedder(fake, dimensions=64)
    (result,) = BatchStream(engine, [TEXTS[:13]], text_type="query", as_lists=True)
    assert result.dense_lists() is result.lists
    np.testing.assert_array_equal(np.asarray(result.lists, dtype=np.float32), result.dense)
    assert all(b["parameters"]["text_type"] == "query" for b in fake.bodies)


def test_every_batch_is_checked_before_anything_is_sent():
    fake = FakeDashScope()
    engine = make_embedder(fake, dimensions=64)
    batches = [TEXTS[:10], TEXTS[10:20], ["fine", ""]]
    with pytest.raises(InvalidInputError, match=r"batch 2.*\[1\] empty"):
        BatchStream(engine, batches)
    assert fake.calls == 0


def test_the_next_batch_is_in_flight_before_the_current_batch_is_answered():
    """Batch 0's only request is held until a request of batch 1 arrives: one batch at a time would time out."""
    fake = FakeDashScope()
    batch1_arrived = threading.Event()
    held = {}

    def handler(request: httpx.Request) -> httpx.Response:
        texts = orjson.loads(request.content)["input"]["texts"]
        if texts[0] == TEXTS[10]:
            batch1_arrived.set()
        if texts[0] == TEXTS[0]:
            held["batch1_first"] = batch1_arrived.wait(timeout=10)
        return fake._sync_handler(request)

    engine = make_embedder(fake, dimensions=64, max_concurrency=2)
    engine.runner._transport = httpx.MockTransport(handler)
    results = list(BatchStream(engine, [TEXTS[:10], TEXTS[10:20]]))
    assert held["batch1_first"] is True
    assert [len(r) for r in results] == [10, 10]


def test_a_failed_batch_raises_after_the_earlier_ones_and_cancels_what_has_not_started():
    bad = TEXTS[2]
    fake = FakeDashScope(fail_texts={bad: [error_reply(401, "InvalidApiKey", "Invalid API-key provided.")]})
    engine = make_embedder(fake, dimensions=64, max_concurrency=1, max_retries=0)
    batches = batches_of(TEXTS, 2)  # 24 batches, one request each
    stream = BatchStream(engine, batches)
    first = next(stream)
    assert len(first) == 2
    with pytest.raises(AuthenticationError):
        next(stream)
    assert list(stream) == []  # closed: no later result is handed back
    # batch 0, batch 1, and at most the requests already submitted ahead; the rest were cancelled unsent
    assert fake.calls <= 2 + LOOKAHEAD_PER_SLOT * engine.max_concurrency < len(batches)


def test_take_hands_back_the_planned_batch_and_closes_on_any_other():
    fake = FakeDashScope()
    engine = make_embedder(fake, dimensions=64)
    stream = BatchStream(engine, batches_of(TEXTS[:30], 10), as_lists=True)
    assert len(stream.take(TEXTS[:10])) == 10
    assert stream.take(TEXTS[10:19]) is None  # the caller cut its batches differently
    assert stream.take(TEXTS[20:30]) is None  # closed for good
    assert len(engine.embed(TEXTS[10:19])) == 9  # the engine itself is untouched


def test_batches_of_cuts_like_the_frameworks():
    assert batches_of(list("abcdefg"), 3) == [list("abc"), list("def"), ["g"]]
    assert batches_of([], 3) == []
    with pytest.raises(InvalidInputError):
        batches_of(["a"], 0)
