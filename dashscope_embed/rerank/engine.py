"""``DashScopeReranker``: text rerank over the engine's transport, settings, retries and typed errors.

A rerank call takes one query and any number of documents. The documents are cut into requests within the model's
limits (documents per request, and ``query tokens x documents + document tokens`` per request, in Qwen tokens),
sent up to ``max_concurrency`` at once for the object, across threads and event loops (``slots.Slots``),
each retried on its own, and merged into one ranking. The merge is exact: a relevance score belongs to one
(query, document) pair, whatever else the request held. ``top_n`` is applied after the merge (each request asks
for at most ``top_n`` results, which cannot drop a document of the global top ``top_n``).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from .. import tokens
from ..base import check_instruct_text, encoding_problem, unknown_arguments, validate_texts
from ..errors import BatchSizeError, InvalidInputError
from ..lifecycle import RunnerLifecycle
from ..results import Usage
from ..wire.compat_rerank import CompatRerankProtocol
from ..wire.native_rerank import NativeRerankProtocol, RerankReply, RerankRequest
from .catalog import DEFAULT_RERANK_MODEL, RERANK_CATALOG, RerankModelSpec, get_rerank_spec
from .planning import document_tokens, plan_rerank_requests, request_tokens
from .results import RerankItem, RerankResult

__all__ = ["DashScopeReranker", "validate_documents"]

logger = logging.getLogger("dashscope_embed")

Oversize = Literal["truncate", "error"]
_COMPAT_ROOT = "/compatible-api/v1"


def validate_documents(documents: Any) -> list[str]:
    """``documents`` as a list of non-empty strings (``validate_texts``'s checks, worded for rerank).

    Raises:
        InvalidInputError: a bare string or a non-sequence; items that are ``None``, not ``str``, empty or
            whitespace only, or not encodable as UTF-8 (a lone surrogate); the message names the first 20
            positions and why.
    """
    return validate_texts(documents, what="documents", purpose="reranked")


def _check_query(query: Any) -> str:
    if not isinstance(query, str):
        raise InvalidInputError(f"query must be a string, got {type(query).__name__}")
    if not query.strip():
        raise InvalidInputError("query is empty; a rerank call needs a non-empty query")
    problem = encoding_problem(query)
    if problem:
        raise InvalidInputError(f"query cannot be reranked: {problem}")
    return query


def _check_top_n(top_n: Any) -> int | None:
    if top_n is None:
        return None
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1:
        raise InvalidInputError(f"top_n must be an int >= 1 or None, got {top_n!r}")
    return top_n


class DashScopeReranker(RunnerLifecycle):
    """Rank documents against a query with a DashScope text rerank model; the core both rerank adapters call.

    Args:
        model: rerank model id (default ``"qwen3-rerank"``; see ``dashscope_embed.rerank.RERANK_CATALOG``). A
            retired model (``gte-rerank``) is refused with its replacement's name; an unknown id gets a generic
            spec and one ``UnknownModelWarning``.
        api_key, base_url, region, workspace, timeout (seconds), allow_insecure_http: the connection, exactly as
            for ``DashScopeEmbedder`` (``base_url`` may be a host root, ``.../api/v1`` or
            ``.../compatible-mode/v1``).
        protocol: ``"dashscope"`` (native, default) or ``"openai"`` (the compatible ``/compatible-api/v1/reranks``
            endpoint; models marked ``openai_compatible`` only).
        instruct: task instruction sent with every request (models whose spec has ``instruct``).
        top_n: default number of results per call (``None``: every document).
        return_documents: default for whether results carry each document's text.
        oversize: a document over the model's ``max_tokens_per_document``: ``"truncate"`` (default; the service
            truncates it, and it counts that many tokens) or ``"error"`` (refused before any request). A query over
            the limit is always truncated by the service and counted at the limit.
        max_concurrency: requests in flight at once (>= 1); max_retries: retries per request (>= 0).
        requests_per_minute / tokens_per_minute: client-side pacing (Qwen tokens), or ``None``.
        model_spec: a full ``RerankModelSpec`` instead of the catalog's; catalog_overrides: fields to change.
        retry_base_delay / retry_max_delay: backoff seconds (``RequestRunner``'s formula).
        transport / async_transport: custom httpx transports (tests, proxies); not pickled.

    Attributes:
        usage: ``Usage(total_tokens, requests)`` billed over the object's life.

    Raises:
        InvalidInputError: (construction) a retired or embedding model, ``protocol="openai"`` or ``instruct`` for a
            model without them, a region the model is not offered in, bad top_n/oversize/concurrency/retries, an
            empty or non-ASCII ``api_key``, an unknown keyword argument (named, with the closest known one).
    """

    #: Limits learned from the service that a pickled copy keeps (``RunnerLifecycle`` pickling).
    _LEARNED = ("_max_documents",)

    def __init__(
        self,
        model: str = DEFAULT_RERANK_MODEL,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        region: str | None = None,
        workspace: str | None = None,
        protocol: str | None = None,
        instruct: str | None = None,
        top_n: int | None = None,
        return_documents: bool = False,
        oversize: Oversize = "truncate",
        max_concurrency: int = 8,
        max_retries: int = 4,
        timeout: float = 60.0,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        model_spec: RerankModelSpec | None = None,
        catalog_overrides: Mapping[str, Any] | None = None,
        retry_base_delay: float = 0.5,
        retry_max_delay: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        allow_insecure_http: bool = False,
        **unknown: Any,
    ) -> None:
        if unknown:
            known = sorted(set(inspect.signature(DashScopeReranker.__init__).parameters) - {"self", "unknown"})
            raise InvalidInputError(unknown_arguments(type(self).__name__, sorted(unknown), known))
        self._init_args: dict[str, Any] = {
            "model": model,
            "base_url": base_url,
            "region": region,
            "workspace": workspace,
            "protocol": protocol,
            "instruct": instruct,
            "top_n": top_n,
            "return_documents": return_documents,
            "oversize": oversize,
            "max_concurrency": max_concurrency,
            "max_retries": max_retries,
            "timeout": timeout,
            "requests_per_minute": requests_per_minute,
            "tokens_per_minute": tokens_per_minute,
            "model_spec": model_spec,
            "catalog_overrides": catalog_overrides,
            "retry_base_delay": retry_base_delay,
            "retry_max_delay": retry_max_delay,
            "allow_insecure_http": allow_insecure_http,
        }
        self.spec: RerankModelSpec = model_spec or get_rerank_spec(model, catalog_overrides)
        self.model = self.spec.name
        if oversize not in ("truncate", "error"):
            raise InvalidInputError(f"oversize must be 'truncate' or 'error' for rerank, got {oversize!r}")
        self.oversize = oversize
        if base_url and base_url.rstrip("/").lower().endswith(_COMPAT_ROOT):
            # The compatible rerank API's own spelling of the root (as its docs show it) implies its protocol.
            base_url, protocol = base_url.rstrip("/")[: -len(_COMPAT_ROOT)], protocol or "openai"
        self._connect(
            api_key,
            base_url=base_url,
            region=region,
            workspace=workspace,
            protocol=protocol,
            timeout=timeout,
            allow_insecure_http=allow_insecure_http,
            max_concurrency=max_concurrency,
            max_retries=max_retries,
            retry_base_delay=retry_base_delay,
            retry_max_delay=retry_max_delay,
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            transport=transport,
            async_transport=async_transport,
        )
        if self.settings.protocol == "openai" and not self.spec.openai_compatible:
            served = ", ".join(n for n, s in RERANK_CATALOG.items() if s.openai_compatible)
            raise InvalidInputError(
                f"{self.model} is not served by the compatible rerank endpoint (protocol='openai'); use "
                f"protocol='dashscope', or a model it serves: {served} (source: {self.spec.source})"
            )
        self.spec.check_region(self.settings.region)
        self.instruct = self._check_instruct(instruct)
        self.top_n = _check_top_n(top_n)
        self.return_documents = bool(return_documents)
        self.protocol = self.settings.protocol
        self._wire = CompatRerankProtocol() if self.protocol == "openai" else NativeRerankProtocol()
        self._max_documents = self.spec.max_documents  # lowered when the service names a smaller limit

    def _check_instruct(self, instruct: str | None) -> str | None:
        if instruct is None or instruct == "":
            return None
        check_instruct_text(instruct)
        if not self.spec.instruct:
            takes = ", ".join(n for n, s in RERANK_CATALOG.items() if s.instruct)
            raise InvalidInputError(
                f"{self.model} does not accept instruct; models that do: {takes} (source: {self.spec.source})"
            )
        return instruct

    @property
    def max_documents(self) -> int:
        """Documents per request now in force: the catalog's, or less once the service named a smaller limit."""
        return self._max_documents

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self.model!r}, protocol={self.protocol!r}, root={self.settings.root!r}, "
            f"max_concurrency={self.max_concurrency}, max_retries={self.max_retries})"
        )

    # ------------------------------------------------------------------ planning

    def plan(self, query: str, documents: Sequence[str]) -> list[tuple[int, int]]:
        """The ``[start, end)`` document ranges one call would send as requests (no request is sent).

        Raises:
            InvalidInputError: with ``oversize="error"``, documents over ``max_tokens_per_document`` (named); a
                query so long that one document with it exceeds the request budget.
        """
        return self._plan(query, documents)[0]

    def _plan(self, query: str, documents: Sequence[str]) -> tuple[list[tuple[int, int]], int, list[int]]:
        # Token counts travel with the call (not on self): concurrent calls on one object must not mix them.
        quick = self._plan_by_bytes(query, documents)
        if quick is not None:
            return quick
        limit = self.spec.max_tokens_per_document
        query_tokens = min(tokens.count_tokens(query), limit)  # a longer query is truncated by the service too
        counts = document_tokens(documents, limit + 1)
        if self.oversize == "error":
            over = [i for i, c in enumerate(counts) if c > limit]
            if over:
                raise InvalidInputError(
                    f"{len(over)} documents exceed {self.model}'s {limit:,} tokens: "
                    + ", ".join(f"[{i}]" for i in over[:20])
                    + " (oversize='error'; 'truncate' lets the service cut them)"
                )
        counts = [min(c, limit) for c in counts]
        ranges = plan_rerank_requests(query_tokens, counts, self._max_documents, self.spec.max_tokens_per_request)
        return ranges, query_tokens, counts

    def _plan_by_bytes(
        self, query: str, documents: Sequence[str]
    ) -> tuple[list[tuple[int, int]], int, list[int]] | None:
        """The plan by document count alone, when UTF-8 byte lengths prove it fits, else ``None``.

        A Qwen (byte-level BPE) token covers at least one byte, so bytes bound tokens from above: when every
        document is within the per-document limit and every request within the budget in bytes, counting tokens
        (about 0.3 ms a passage on this machine's CPU) cannot change the plan, and the usual rerank call (tens of
        passages) needs no tokenizer at all. Token pacing needs real counts, so it always counts.
        """
        if self.runner.rate_limiter.tokens_per_minute is not None:
            return None
        limit = self.spec.max_tokens_per_document
        query_bytes = min(len(query.encode("utf-8")), limit)  # counted at most at the limit, as in ``_plan``
        sizes = [len(text.encode("utf-8")) for text in documents]
        if any(size > limit for size in sizes):
            return None
        step = self._max_documents
        ranges = [(a, min(a + step, len(sizes))) for a in range(0, len(sizes), step)]
        if any(request_tokens(query_bytes, sizes[a:b]) > self.spec.max_tokens_per_request for a, b in ranges):
            return None
        return ranges, query_bytes, sizes

    def _context(self, query: str, docs: list[str], request: RerankRequest, top_n: int | None) -> tuple:
        ranges, query_tokens, counts = self._plan(query, docs)
        return ranges, (request, query, docs, top_n, query_tokens, counts)

    def _prepare(
        self, query: Any, documents: Any, top_n: Any, instruct: Any, return_documents: bool | None
    ) -> tuple[str, list[str], RerankRequest, int | None]:
        query = _check_query(query)
        docs = validate_documents(documents)
        top_n = _check_top_n(top_n) if top_n is not None else self.top_n
        instruct = self._check_instruct(instruct) if instruct is not None else self.instruct
        wants_text = self.return_documents if return_documents is None else bool(return_documents)
        return query, docs, RerankRequest(self.model, None, wants_text, instruct), top_n

    # ------------------------------------------------------------------ sending

    def _call(self, ctx: tuple, start: int, end: int) -> tuple[dict, Any, int]:
        request, query, docs, top_n, query_tokens, counts = ctx
        part = RerankRequest(
            request.model,
            None if top_n is None else min(top_n, end - start),
            request.return_documents,
            request.instruct,
        )
        body = self._wire.build_body(part, query, docs[start:end])
        n = end - start
        parse = lambda status, headers, content: self._wire.parse_reply(part, status, headers, content, n)  # noqa: E731
        return body, parse, request_tokens(query_tokens, counts[start:end])

    def _parts(self, exc: BatchSizeError, start: int, end: int) -> list[tuple[int, int]]:
        if exc.limit < 1 or end - start <= exc.limit:
            raise exc
        with self._lock:
            self._max_documents = min(self._max_documents, exc.limit)
        logger.warning("%s accepts at most %d documents per request; re-splitting", self.model, exc.limit)
        return [(a, min(a + exc.limit, end)) for a in range(start, end, exc.limit)]

    def _run_range(self, ctx: tuple, start: int, end: int) -> list[tuple[int, RerankReply]]:
        body, parse, budget = self._call(ctx, start, end)
        try:
            reply = self.runner.send(self._wire.path, body, parse, tokens=budget)
        except BatchSizeError as exc:
            return [r for a, b in self._parts(exc, start, end) for r in self._run_range(ctx, a, b)]
        return [(start, reply)]

    async def _arun_range(self, ctx: tuple, start: int, end: int) -> list[tuple[int, RerankReply]]:
        body, parse, budget = self._call(ctx, start, end)
        try:
            reply = await self.runner.asend(self._wire.path, body, parse, tokens=budget)
        except BatchSizeError as exc:
            return [r for a, b in self._parts(exc, start, end) for r in await self._arun_range(ctx, a, b)]
        return [(start, reply)]

    def _merge(
        self, replies: list[tuple[int, RerankReply]], docs: Sequence[str], request: RerankRequest, top_n: int | None
    ) -> RerankResult:
        usage, request_ids, items = Usage(), [], []
        for offset, reply in replies:
            usage.add(reply.total_tokens, 1)
            if reply.request_id:
                request_ids.append(reply.request_id)
            for index, score, text in reply.results:
                if request.return_documents and text is None:
                    text = docs[offset + index]  # a service that does not echo documents: we hold the text
                items.append(RerankItem(offset + index, score, text if request.return_documents else None))
        with self._lock:
            self.usage.add(usage.total_tokens, usage.requests)
        items.sort(key=lambda item: (-item.relevance_score, item.index))
        if top_n is not None:
            items = items[:top_n]
        logger.debug(
            "%s reranked %d documents in %d requests, tokens=%d",
            self.model,
            len(docs),
            usage.requests,
            usage.total_tokens,
        )
        return RerankResult(items, usage, request_ids, self.model, self.spec.price_per_million_tokens_cny)

    def rerank(
        self,
        query: str,
        documents: Sequence[str],
        *,
        top_n: int | None = None,
        instruct: str | None = None,
        return_documents: bool | None = None,
    ) -> RerankResult:
        """Rank ``documents`` by relevance to ``query``.

        Args:
            query: the query (a non-empty string).
            documents: any number of non-empty strings; an empty list returns an empty result without a request.
            top_n: results to keep after the merge (``None``: this object's ``top_n``, else all).
            instruct: task instruction for this call (``None``: this object's).
            return_documents: carry each document's text in the items (``None``: this object's default).

        Returns:
            ``RerankResult``: at most ``top_n`` ``RerankItem`` s by score, descending (ties: lower index first),
            with the usage, request ids and list-price cost of the call.

        Raises:
            InvalidInputError: an empty query, empty or non-string documents (positions named), bad ``top_n``,
                ``instruct`` for a model without it, an oversize document with ``oversize="error"``; all before
                any request.
            APIError: a request failed after its retries (typed: ``RateLimitError``, ``AuthenticationError``...).
        """
        query, docs, request, top_n = self._prepare(query, documents, top_n, instruct, return_documents)
        if not docs:
            return RerankResult([], Usage(), [], self.model, self.spec.price_per_million_tokens_cny)
        ranges, ctx = self._context(query, docs, request, top_n)
        jobs = [functools.partial(self._run_range, ctx, a, b) for a, b in ranges]
        replies = [r for part in self.runner.run_all(jobs) for r in part]
        return self._merge(replies, docs, request, top_n)

    async def arerank(
        self,
        query: str,
        documents: Sequence[str],
        *,
        top_n: int | None = None,
        instruct: str | None = None,
        return_documents: bool | None = None,
    ) -> RerankResult:
        """Async ``rerank`` on the running event loop (at most ``max_concurrency`` requests in flight for the object,
        shared with other loops and threads). Same arguments, result and errors."""
        query, docs, request, top_n = self._prepare(query, documents, top_n, instruct, return_documents)
        if not docs:
            return RerankResult([], Usage(), [], self.model, self.spec.price_per_million_tokens_cny)
        ranges, ctx = self._context(query, docs, request, top_n)
        jobs = [functools.partial(self._arun_range, ctx, a, b) for a, b in ranges]
        replies = [r for part in await self.runner.arun_all(jobs) for r in part]
        return self._merge(replies, docs, request, top_n)
