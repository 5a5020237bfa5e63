"""Sending requests: pooled httpx clients, bounded concurrency, per-request retries, client-side pacing.

Shared by every protocol (native text, compatible mode, native multimodal): a protocol builds a body and parses a
reply; ``RequestRunner`` gets it there and back. Each request is retried on its own (429, 5xx, timeouts,
connection errors) with jittered exponential backoff that gives way to the service's ``Retry-After``; a request
that got a good reply is never sent again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

import httpx
import orjson
from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    DashScopeError,
    InvalidInputError,
    InvalidRequestError,
)
from .ratelimit import RateLimiter
from .settings import ResolvedSettings
from .slots import Slots

__all__ = ["RequestRunner", "ParseReply", "transport_error"]

logger = logging.getLogger("dashscope_embed")

T = TypeVar("T")
#: ``parse(status, headers, content) -> result``; raises ``APIError`` for failed replies.
ParseReply = Callable[[int, Mapping[str, str], bytes], T]


class RequestRunner:
    """Send JSON requests to one DashScope root with retries, pacing and bounded concurrency.

    Args:
        settings: resolved connection settings (root URL, headers, timeout in seconds).
        max_concurrency: requests in flight at once for this runner, across every thread and event loop that uses
            it (``Slots``); also the sync thread pool's size.
        max_retries: retries after the first attempt of each request.
        retry_base_delay / retry_max_delay: backoff seconds: ``base * 2**(attempt-1)`` capped at ``max``, with
            jitter; a ``Retry-After`` (or ``retry-after-ms``) from the service takes precedence.
        requests_per_minute / tokens_per_minute: client-side pacing (``RateLimiter``), or ``None`` for none.
        transport / async_transport: custom httpx transports (tests, proxies).

    Raises:
        InvalidInputError: ``max_concurrency`` < 1, ``max_retries`` < 0 (or not ints), or a rate limit <= 0.
    """

    def __init__(
        self,
        settings: ResolvedSettings,
        *,
        max_concurrency: int,
        max_retries: int,
        retry_base_delay: float = 0.5,
        retry_max_delay: float = 30.0,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not isinstance(max_concurrency, int) or isinstance(max_concurrency, bool) or max_concurrency < 1:
            raise InvalidInputError(f"max_concurrency must be an int >= 1, got {max_concurrency!r}")
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise InvalidInputError(f"max_retries must be an int >= 0, got {max_retries!r}")
        try:
            self.rate_limiter = RateLimiter(requests_per_minute, tokens_per_minute)
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from None
        self.settings = settings
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.retry_base_delay = retry_base_delay
        self.retry_max_delay = retry_max_delay
        self._transport = transport
        self._async_transport = async_transport
        self._lock = threading.Lock()
        # Requests in flight for this object, whatever thread or event loop sends them.
        self._slots = Slots(max_concurrency)
        self._client: httpx.Client | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._async_state: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, asyncio.Semaphore]
        ] = weakref.WeakKeyDictionary()

    # ------------------------------------------------------------------ clients

    def _limits(self) -> httpx.Limits:
        return httpx.Limits(max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency)

    def client(self) -> httpx.Client:
        """The pooled sync client (created on first use)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = httpx.Client(
                        headers=self.settings.headers(),
                        timeout=self.settings.timeout,
                        limits=self._limits(),
                        transport=self._transport,
                    )
        return self._client

    def _async_client(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        # httpx's async pool binds to the loop it first ran on: keep one client per event loop.
        loop = asyncio.get_running_loop()
        state = self._async_state.get(loop)
        if state is None:
            client = httpx.AsyncClient(
                headers=self.settings.headers(),
                timeout=self.settings.timeout,
                limits=self._limits(),
                transport=self._async_transport,
            )
            state = (client, asyncio.Semaphore(self.max_concurrency))
            self._async_state[loop] = state
        return state

    # ------------------------------------------------------------------ retries

    def _delay_after(self, exc: BaseException | None, attempt_number: int) -> float:
        """Seconds to wait after failed attempt ``attempt_number`` (1-based): the service's ``Retry-After`` (with
        up to 10% jitter) when it gave one, else ``base * 2**(attempt_number-1)`` capped at ``max``, jittered
        between half and all of it."""
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return retry_after * random.uniform(1.0, 1.1)
        backoff = min(self.retry_max_delay, self.retry_base_delay * 2 ** (attempt_number - 1))
        return random.uniform(backoff / 2, backoff)

    def _retry_kwargs(self, first_attempt: int = 1) -> dict[str, Any]:
        """tenacity arguments for attempts ``first_attempt`` .. ``max_retries + 1`` (the backoff counts from the
        request's real attempt number)."""
        offset = first_attempt - 1

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            return self._delay_after(exc, state.attempt_number + offset)

        def log(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            logger.info("retrying after attempt %d: %s", state.attempt_number + offset, exc)

        return {
            "stop": stop_after_attempt(self.max_retries + 1 - offset),
            "retry": retry_if_exception(_retryable),
            "wait": wait,
            "reraise": True,
            "before_sleep": log,
        }

    def _after_first_failure(self, exc: APIError) -> float:
        """Seconds to wait before attempt 2 of a request whose first attempt raised ``exc``.

        Raises:
            APIError: ``exc`` itself (``attempts=1``) when it is not retryable or no retries are allowed.
        """
        if self.max_retries == 0 or not _retryable(exc):
            exc.attempts = 1
            raise exc
        logger.info("retrying after attempt 1: %s", exc)
        return self._delay_after(exc, 1)

    def retrying(self) -> Retrying:
        """The retry policy of ``send`` as a tenacity ``Retrying``, for callers that send other kinds of requests
        (multipart uploads, downloads) and want the same retries: retryable ``APIError`` s only, jittered backoff,
        ``Retry-After`` honoured, the last error re-raised."""
        return Retrying(**self._retry_kwargs())

    def aretrying(self) -> AsyncRetrying:
        """Async ``retrying``: the same policy as an ``AsyncRetrying`` (sleeps on the event loop)."""
        return AsyncRetrying(**self._retry_kwargs())

    # ------------------------------------------------------------------ one request

    def send(
        self,
        path: str,
        body: Any,
        parse: ParseReply[T],
        *,
        tokens: int = 0,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """POST ``body`` (JSON-encoded once) to ``root + path`` and parse the reply, retrying transient failures.

        Args:
            tokens: the request's token count, for the tokens-per-minute limiter (0 when unknown).
            headers: extra headers for this request only.

        Raises:
            APIError: the last failure once retries are exhausted or at once for a non-retryable one;
                ``attempts`` says how many times the request was sent.
        """
        content = _encode(body)
        url = self.settings.root + path

        def once() -> T:
            _check_stop()
            delay = self.rate_limiter.reserve(tokens)
            if delay > 0:
                _pause(delay)
                _check_stop()
            self._slots.acquire()
            try:
                response = self.client().post(url, content=content, headers=headers)
            except httpx.TransportError as exc:
                raise transport_error(exc, self.settings.timeout) from None
            finally:
                self._slots.release()
            return parse(response.status_code, response.headers, response.content)

        # The first attempt goes without the retry machinery: most requests need no retry, and tenacity's
        # per-attempt objects cost measurable client CPU at hundreds of requests per second (benchmarks/PROFILE.md).
        try:
            return once()
        except APIError as exc:
            delay = self._after_first_failure(exc)
        _pause(delay)
        attempt_number = 1
        try:
            for attempt in Retrying(sleep=_pause, **self._retry_kwargs(first_attempt=2)):
                with attempt:
                    attempt_number = 1 + attempt.retry_state.attempt_number
                    return once()
        except APIError as exc:
            exc.attempts = attempt_number
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def asend(
        self,
        path: str,
        body: Any,
        parse: ParseReply[T],
        *,
        tokens: int = 0,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """Async ``send`` on the running event loop's pooled client. Same contract."""
        content = _encode(body)
        url = self.settings.root + path
        client, _ = self._async_client()

        async def once() -> T:
            delay = self.rate_limiter.reserve(tokens)
            if delay > 0:
                await asyncio.sleep(delay)
            await self._slots.aacquire()
            try:
                response = await client.post(url, content=content, headers=headers)
            except httpx.TransportError as exc:
                raise transport_error(exc, self.settings.timeout) from None
            finally:
                self._slots.release()
            return parse(response.status_code, response.headers, response.content)

        try:  # the first attempt outside tenacity, as in ``send``
            return await once()
        except APIError as exc:
            delay = self._after_first_failure(exc)
        await asyncio.sleep(delay)
        attempt_number = 1
        try:
            async for attempt in AsyncRetrying(**self._retry_kwargs(first_attempt=2)):
                with attempt:
                    attempt_number = 1 + attempt.retry_state.attempt_number
                    return await once()
        except APIError as exc:
            exc.attempts = attempt_number
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ many requests

    def run_all(self, jobs: Sequence[Callable[[], T]]) -> list[T]:
        """Run ``jobs`` with at most ``max_concurrency`` at once; results in job order.

        A single job (or ``max_concurrency == 1``) runs in the calling thread. On the first failure, or when the
        wait is interrupted (Ctrl-C raises ``KeyboardInterrupt`` here), jobs not yet started are cancelled: at
        most the ``max_concurrency`` requests already in flight finish, nothing new is sent.
        """
        if len(jobs) <= 1 or self.max_concurrency == 1:
            return [job() for job in jobs]
        pool = self.pool()
        # Set by the first failure in its own worker thread, so that no worker starts another request while the
        # calling thread is still waking up to cancel the queue.
        stop = threading.Event()
        futures: list[Future] = []
        try:
            futures.extend(pool.submit(_guarded, job, stop) for job in jobs)
            pending: set[Future] = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                failures = [e for f in done if not f.cancelled() and (e := f.exception()) is not None]
                if failures:
                    stop.set()
                    for other in pending:
                        other.cancel()
                    real = [e for e in failures if not isinstance(e, _Skipped)]
                    if real:
                        raise real[0]
                    # only jobs that saw the stop so far: the failing one is still unwinding; wait for its error
        except BaseException:
            stop.set()
            for future in futures:
                future.cancel()
            raise
        return [future.result() for future in futures]

    async def arun_all(self, jobs: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
        """Async ``run_all``: at most ``max_concurrency`` jobs started per event loop; requests in flight are bounded
        by ``max_concurrency`` for the whole runner, across loops and threads."""
        # The slots alone would bound requests in flight; the semaphore bounds jobs started, as run_all's thread
        # pool does: a job builds its request body, reserves its rate-limit share and reads the limits learned so
        # far when it starts, so starting every job at once would hold every body in memory, pace the whole call
        # up front and send each group planned before a refusal, to be refused again.
        _, semaphore = self._async_client()

        async def run(job: Callable[[], Awaitable[T]]) -> T:
            async with semaphore:
                return await job()

        tasks = [asyncio.ensure_future(run(job)) for job in jobs]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            raise

    def pool(self) -> ThreadPoolExecutor:
        """The runner's thread pool (``max_concurrency`` threads, made on first use): callers that schedule
        requests themselves (``pipelining.BatchStream``) submit to it, so ``max_concurrency`` bounds everything
        this runner sends."""
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="dashscope-embed")
        return self._pool

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the sync client and the thread pool."""
        with self._lock:
            client, self._client = self._client, None
            pool, self._pool = self._pool, None
        if client is not None:
            client.close()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    async def aclose(self) -> None:
        """Close the running event loop's async client, then the sync resources."""
        state = self._async_state.pop(asyncio.get_running_loop(), None)
        if state is not None:
            await state[0].aclose()
        self.close()


def _encode(body: Any) -> bytes:
    """``body`` as JSON; a value JSON cannot carry (a lone surrogate in a parameter or a media URL) is an
    ``InvalidInputError`` before anything is sent, not the encoder's bare ``TypeError``."""
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError as exc:
        raise InvalidInputError(
            f"the request cannot be encoded as JSON ({exc}): a parameter, instruct or media URL holds a lone "
            "surrogate or a value that is not JSON"
        ) from None


def transport_error(exc: httpx.TransportError, timeout: float) -> APIError:
    """The typed error of an httpx transport failure: ``APITimeoutError`` (naming ``timeout`` seconds) or
    ``APIConnectionError``, or ``InvalidRequestError`` when httpx refuses to build the request (not retried); shared by
    every client of the core (engine, uploads, Batch File API)."""
    if isinstance(exc, httpx.LocalProtocolError):
        # httpx refused to build the request (a header value it cannot send): the same request fails the same way
        # every time, so it is not retried as a connection error.
        return InvalidRequestError(f"the request could not be sent ({type(exc).__name__}: {exc})")
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"no reply within {timeout} s ({type(exc).__name__})")
    return APIConnectionError(f"{type(exc).__name__}: {exc}")


class _Skipped(DashScopeError):
    """A job not started, or a request attempt not sent, because another job failed or the caller was interrupted
    (never raised to callers; not retryable, so it also ends a request's retries and a job's re-splits)."""


#: The ``stop`` event of the ``run_all`` job running in this worker thread: ``send`` checks it before every
#: attempt, so a job that is retrying or re-splitting stops sending once ``run_all`` gives up.
_job = threading.local()


def _check_stop() -> None:
    stop = getattr(_job, "stop", None)
    if stop is not None and stop.is_set():
        raise _Skipped()


def _pause(seconds: float) -> None:
    # A job's backoff ends early when run_all stops (the next attempt then sees the stop): the pool's threads are
    # free for the next call at once, not after a Retry-After of many seconds.
    stop = getattr(_job, "stop", None)
    if stop is None:
        time.sleep(seconds)
    else:
        stop.wait(seconds)


def _guarded(job: Callable[[], T], stop: threading.Event) -> T:
    if stop.is_set():
        raise _Skipped()
    _job.stop = stop
    try:
        return job()
    except BaseException:
        stop.set()
        raise
    finally:
        _job.stop = None


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, APIError) and exc.retryable
