"""Embedding a sequence of framework batches with the request pool kept full across their boundaries.

"Batch" here is the framework's: the rows a framework hands over in one call (LlamaIndex's ``embed_batch_size``),
each of which the engine splits into requests (the request rows of each within the model's limits). It is neither
a Batch File API job nor an async task job (``dashscope_embed.batch``).

A framework that hands the engine one batch at a time (LlamaIndex's sync ``get_text_embedding_batch`` cuts its
input into ``embed_batch_size`` rows and waits for each) drains the engine's requests in flight at the end of
every batch: the batch's last requests run alone while the next batch has not been handed over yet. Measured at
N = 20,000, 640-row batches, 16 requests in flight, 100 ms latency: 12.6 requests in flight on average instead
of 15.4 (``benchmarks/profile_paths.py``).

``BatchStream`` plans every batch at once, sends their requests in order through the engine's own runner (its
thread pool, so ``max_concurrency`` still bounds everything this engine sends), a bounded number of requests
ahead of the batch being waited for, and hands back one ``EmbeddingResult`` per batch, in order. A caller that
emits per-batch events (callbacks, progress bars) emits them as it takes each result, as it would have around a
blocking call.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Literal

from .errors import InvalidInputError
from .results import EmbeddingResult, RequestReply

if TYPE_CHECKING:
    from .engine import DashScopeEmbedder

__all__ = ["BatchStream", "batches_of"]

#: Requests submitted ahead of the one being waited for, per slot of ``max_concurrency``: enough that a slow
#: request (the 100 +- 10 ms jitter, a retry after a short Retry-After) does not leave slots idle, few enough that
#: a failure wastes little (a failed batch cancels every request not yet started).
LOOKAHEAD_PER_SLOT = 4


class BatchStream:
    """The results of ``batches`` (lists of texts), one ``EmbeddingResult`` per batch, in order.

    Every batch is checked before the first request is sent. Requests of later batches are sent while earlier
    ones are still in flight, at most ``LOOKAHEAD_PER_SLOT * max_concurrency`` ahead of the one waited for. Each
    result is what ``engine.embed(batch, ...)`` would return (``dense`` ``(len(batch), d)`` float32, ``sparse``,
    ``usage`` and ``request_ids`` of that batch alone).

    Use it as an iterator, or call ``take(batch)`` for the next result when the caller hands its batches over
    one by one (``take`` checks that the batch is the next one planned). ``close`` cancels every request not yet
    started; a request in flight is let finish and its reply dropped.

    Args:
        engine: the text engine whose runner (thread pool, retries, pacing) sends the requests.
        batches: the batches, in the order their results are wanted.
        text_type / output_type / instruct / as_lists: as for ``DashScopeEmbedder.embed``, for every batch.

    Raises:
        InvalidInputError: (construction) a bad text in any batch (the message names the batch and the
            position), or a bad parameter; nothing has been sent then.
        APIError: (iteration / ``take``) a request of the batch being taken failed after its retries; the
            batches before it have been handed back, no later result will be.
    """

    def __init__(
        self,
        engine: DashScopeEmbedder,
        batches: Sequence[Sequence[str]],
        *,
        text_type: Literal["query", "document"] | None = "document",
        output_type: str | None = None,
        instruct: str | None = None,
        as_lists: bool = False,
    ) -> None:
        self._engine = engine
        engine.check_parameters(text_type=text_type, output_type=output_type, instruct=instruct)
        self._plans = [
            engine.plan(
                b,
                text_type=text_type,
                output_type=output_type,
                instruct=instruct,
                as_lists=as_lists,
                what=f"texts of framework batch {i}",
            )
            for i, b in enumerate(batches)
        ]
        self._batches = [list(b) for b in batches]  # each checked by plan: a list of strings
        # One job per planned request, in order; each knows the batch it belongs to.
        self._jobs = deque((i, job) for i, plan in enumerate(self._plans) for job in plan.requests)
        self._lookahead = LOOKAHEAD_PER_SLOT * engine.runner.max_concurrency
        self._submitted: deque[tuple[int, Future]] = deque()
        self._next = 0
        self._closed = False

    def __len__(self) -> int:
        return len(self._plans)

    def _fill(self) -> None:
        pool = self._engine.runner.pool()
        while self._jobs and len(self._submitted) < self._lookahead:
            index, job = self._jobs.popleft()
            self._submitted.append((index, pool.submit(job)))

    def _replies_of(self, index: int) -> list[RequestReply]:
        replies: list[RequestReply] = []
        while True:
            self._fill()
            if not self._submitted or self._submitted[0][0] != index:
                return replies
            _, future = self._submitted.popleft()
            try:
                replies.extend(future.result())
            except BaseException:
                self.close()
                raise

    def __next__(self) -> EmbeddingResult:
        if self._closed or self._next >= len(self._plans):
            self.close()
            raise StopIteration
        index = self._next
        self._next += 1
        replies = self._replies_of(index)
        result = self._plans[index].assemble(replies)
        if self._next >= len(self._plans):
            self.close()
        return result

    def __iter__(self) -> Iterator[EmbeddingResult]:
        return self

    def take(self, batch: Sequence[str]) -> EmbeddingResult | None:
        """The next batch's result if ``batch`` holds the same texts as the next batch planned; else ``None``.

        On a mismatch (the caller cut its input differently) the stream closes, so the caller embeds ``batch``
        itself and nothing is sent twice beyond the requests already in flight.

        Raises:
            APIError: as for iteration.
        """
        if self._closed or self._next >= len(self._plans) or list(batch) != self._batches[self._next]:
            self.close()
            return None
        return next(self)

    def close(self) -> None:
        """Cancel every request not yet started; no further result is handed back."""
        self._closed = True
        self._jobs.clear()
        while self._submitted:
            self._submitted.popleft()[1].cancel()


def batches_of(texts: Sequence[str], size: int) -> list[Sequence[str]]:
    """``texts`` cut into consecutive batches of ``size`` (the last one shorter), as frameworks cut them.

    Raises:
        InvalidInputError: ``size`` < 1.
    """
    if size < 1:
        raise InvalidInputError(f"batch size must be >= 1, got {size}")
    return [texts[i : i + size] for i in range(0, len(texts), size)]
