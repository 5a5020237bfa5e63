"""The embedding engine: validate, plan requests within the model's limits, fan out, retry, reassemble.

A framework's batch is not the API's request. ``DashScopeEmbedder.embed`` takes any number of texts, splits them
into requests whose request rows are at most the model's row limit (the catalog's ``max_rows``), runs up to
``max_concurrency`` requests at once for the object, across threads and event loops (``slots.Slots``; a thread
pool over one pooled ``httpx.Client`` for sync calls, one pooled ``httpx.AsyncClient`` per event loop for async
calls), retries each request on its own, and puts every vector back at its input position. A request that
succeeded is never sent again.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from . import tokens as _tokens
from .base import BaseEmbedder, Call, check_instruct_text, chunks, validate_texts
from .catalog import OUTPUT_TYPES, TEXT_TYPES, async_task_message
from .errors import InvalidInputError
from .planning import plan_requests
from .results import EmbeddingResult, RequestReply, SparseEmbedding
from .wire import TextRequest, get_protocol

__all__ = ["DashScopeEmbedder", "OversizePolicy", "PlannedEmbedding", "validate_texts"]  # validate_texts: from base

logger = logging.getLogger("dashscope_embed")

OversizePolicy = Literal["chunk_average", "truncate", "error"]
_OVERSIZE_POLICIES = ("chunk_average", "truncate", "error")


@dataclass
class _Plan:
    """Pieces to send (one per input unless an input was split) and how they group into requests."""

    pieces: list[str]
    owners: np.ndarray | None  # piece -> input index, None when pieces == inputs
    weights: np.ndarray | None  # piece token counts, for the token-weighted average
    n_inputs: int
    ranges: list[tuple[int, int]]  # [start, end) ranges over pieces: the request rows of each request

    def groups(self) -> list[Sequence[str]]:
        """The pieces of each request, in order."""
        return [self.pieces[a:b] for a, b in self.ranges]


class DashScopeEmbedder(BaseEmbedder[Sequence[str], RequestReply]):
    """Embed texts with a DashScope text-embedding model; the core every adapter calls.

    Args:
        model: model id from the catalog (default ``"text-embedding-v4"``).
        dimensions: output dimension; validated against the catalog before anything is sent (``None``: the
            model's default, and no ``dimension`` parameter is sent).
        api_key: DashScope key (``str`` or ``SecretStr``); default ``DASHSCOPE_API_KEY``. May be omitted only
            for a loopback ``base_url`` (the local service).
        base_url: host root, ``.../api/v1`` or ``.../compatible-mode/v1``; default ``DASHSCOPE_BASE_URL`` /
            ``DASHSCOPE_HTTP_BASE_URL``, else the region's root.
        region: ``"beijing"`` (default, like the official SDK), ``"singapore"``, ``"virginia"``, ``"hongkong"``,
            ``"frankfurt"`` or ``"tokyo"`` (or their region ids, e.g. ``"us-east-1"``); Frankfurt and Tokyo need
            ``workspace`` (their root is the workspace domain).
        workspace: Model Studio workspace id, sent as ``X-DashScope-WorkSpace``.
        protocol: ``"dashscope"`` (native, default) or ``"openai"`` (compatible mode: dense only, no text_type,
            instruct or sparse).
        instruct: task instruction sent with query-side calls (text-embedding-v4 only).
        output_type: ``"dense"`` (default), ``"sparse"`` or ``"dense&sparse"`` (text-embedding-v3/v4).
        max_concurrency: requests in flight at once per engine (>= 1).
        max_retries: retries per request after the first attempt, for 429, 5xx, timeouts and connection errors.
        timeout: seconds per HTTP request.
        oversize: texts over the model's token limit per row: ``"chunk_average"`` (split on token boundaries,
            embed every piece, token-weighted average, renormalise), ``"truncate"`` or ``"error"``.
        requests_per_minute / tokens_per_minute: optional client-side pacing (see ``RateLimiter``).
        model_spec: a full ``ModelSpec`` to use instead of the catalog entry (e.g. a new model).
        catalog_overrides: fields of the catalog entry to change, e.g. ``{"max_rows": 6}``.
        retry_base_delay / retry_max_delay: backoff seconds, as ``RequestRunner`` computes them (a
            ``Retry-After`` from the service takes precedence).
        transport / async_transport: custom httpx transports (tests, proxies).
        allow_insecure_http: send the key over plain ``http://`` to a non-loopback host (a trusted gateway).

    A model id the catalog does not know is accepted with one ``UnknownModelWarning`` and
    ``catalog.generic_spec`` (10 rows per request, lowered when the service names its limit).

    The options other than ``output_type`` and ``oversize`` are ``BaseEmbedder``'s, shared with
    ``MultimodalEmbedder``.

    Raises:
        InvalidInputError: disallowed dimension, output_type, instruct or protocol combination, a region the model
            is not offered in, Frankfurt/Tokyo without a workspace, a key bound for plain ``http://`` to a remote
            host.
    """

    _KIND = "text"

    _OPTIONS = ("output_type", "oversize")

    def __init__(
        self,
        model: str = "text-embedding-v4",
        *,
        output_type: str = "dense",
        oversize: OversizePolicy = "chunk_average",
        **options: Any,
    ) -> None:
        # Checked before the base builds anything, so a bad value fails without side effects.
        if output_type not in OUTPUT_TYPES:
            raise InvalidInputError(f"output_type {output_type!r} is not one of {', '.join(OUTPUT_TYPES)}")
        if oversize not in _OVERSIZE_POLICIES:
            raise InvalidInputError(f"oversize {oversize!r} is not one of {', '.join(_OVERSIZE_POLICIES)}")
        super().__init__(model, output_type=output_type, oversize=oversize, **options)
        self.protocol = self.settings.protocol
        self._dimension_param = options.get("dimensions")
        self.output_type = output_type
        self.oversize = oversize
        self._check_features(output_type=output_type, instruct=self.instruct, text_type=None)
        self._wire = get_protocol(self.protocol)

    def _check_kind(self, protocol: str | None) -> None:
        if self.spec.kind != "text":
            raise InvalidInputError(
                f"{self.spec.name} is a multimodal model; DashScopeEmbedder embeds text with text models "
                f"(text-embedding-v1..v4); use MultimodalEmbedder"
            )
        if self.spec.async_task:
            raise InvalidInputError(async_task_message(self.spec.name))

    def _group_size(self, group: Sequence[str]) -> int:
        return len(group)

    def _split(self, group: Sequence[str], limit: int) -> list[Sequence[str]]:
        return chunks(group, limit)

    # ------------------------------------------------------------------ configuration checks

    def _check_features(self, *, output_type: str, instruct: str | None, text_type: str | None) -> None:
        spec = self.spec
        if output_type != "dense" and not spec.sparse:
            raise InvalidInputError(
                f"output_type {output_type!r} is not supported by {spec.name}: sparse vectors need "
                "text-embedding-v3 or text-embedding-v4"
            )
        if instruct is not None:
            if not spec.instruct:
                raise InvalidInputError(f"instruct is not supported by {spec.name} (only text-embedding-v4)")
            check_instruct_text(instruct)
            if text_type == "document":
                raise InvalidInputError("instruct applies to queries only; document calls take no instruct")
        if self.protocol == "openai":
            if not spec.openai_compatible:
                raise InvalidInputError(f"{spec.name} is not served by the OpenAI-compatible endpoint")
            if output_type != "dense":
                raise InvalidInputError(
                    "protocol 'openai' returns dense vectors only; use protocol='dashscope' for sparse"
                )
            if instruct is not None:
                raise InvalidInputError("protocol 'openai' has no instruct parameter; use protocol='dashscope'")

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", output_type={self.output_type!r})"

    # ------------------------------------------------------------------ planning

    def check_parameters(
        self,
        *,
        text_type: str | None = "document",
        output_type: str | None = None,
        instruct: str | None = None,
    ) -> None:
        """Check call parameters, and their combination with the engine's model, protocol and options, without
        sending anything (what ``embed`` checks before its first request, the texts aside).

        Raises:
            InvalidInputError: a ``text_type`` / ``output_type`` not allowed, or a parameter the model or protocol
                does not take (the message names it and what is allowed).
        """
        self._request(text_type, output_type, instruct)

    def plan(
        self,
        texts: Sequence[str],
        *,
        text_type: Literal["query", "document"] | None = "document",
        output_type: str | None = None,
        instruct: str | None = None,
        as_lists: bool = False,
        what: str = "texts",
    ) -> PlannedEmbedding:
        """Check and plan an ``embed`` call without sending it, for callers that schedule the requests themselves
        (``pipelining.BatchStream`` keeps the runner's pool full across batches this way).

        Args:
            texts / text_type / output_type / instruct / as_lists: as for ``embed``.
            what: how errors name ``texts`` (``"texts of framework batch 3"``).

        Returns:
            ``PlannedEmbedding``: its ``requests`` (callables, one per request, in order) and ``assemble``.

        Raises:
            InvalidInputError: bad texts (positions named) or parameters; a missing key (``AuthenticationError``).
        """
        items = validate_texts(texts, what=what)
        request = self._request(text_type, output_type, instruct, as_lists)
        self.settings.require_key()
        return PlannedEmbedding(self, request, self._plan(items))

    def _request(
        self, text_type: str | None, output_type: str | None, instruct: str | None, as_lists: bool = False
    ) -> TextRequest:
        if text_type is not None and text_type not in TEXT_TYPES:
            raise InvalidInputError(f"text_type {text_type!r} is not one of {', '.join(TEXT_TYPES)}")
        output_type = output_type or self.output_type
        if output_type not in OUTPUT_TYPES:
            raise InvalidInputError(f"output_type {output_type!r} is not one of {', '.join(OUTPUT_TYPES)}")
        self._check_features(output_type=output_type, instruct=instruct, text_type=text_type)
        if instruct is None and text_type == "query":
            instruct = self.instruct
        if self.protocol == "openai":
            return TextRequest(self.model, self._dimension_param, keep_lists=as_lists)
        return TextRequest(
            model=self.model,
            dimension=self._dimension_param,
            text_type=text_type,
            output_type=None if output_type == "dense" else output_type,
            instruct=instruct,
            keep_lists=as_lists,
        )

    def _prepare(
        self,
        texts: Sequence[str],
        text_type: str | None,
        output_type: str | None,
        instruct: str | None,
        as_lists: bool = False,
    ) -> tuple[TextRequest, _Plan]:
        """Everything checked before the first request: texts, parameters, the key; then the plan."""
        items = validate_texts(texts)
        request = self._request(text_type, output_type, instruct, as_lists)
        self.settings.require_key()
        return request, self._plan(items)

    def _plan(self, texts: list[str]) -> _Plan:
        limit = self.spec.max_tokens_per_row
        oversized = [i for i, t in enumerate(texts) if not _tokens.fits(t, limit)]
        if not oversized:
            pieces, owners, weights = texts, None, None
        elif self.oversize == "error":
            detail = ", ".join(f"[{i}] {_tokens.count_tokens(texts[i])} tokens" for i in oversized[:20])
            raise InvalidInputError(
                f"{len(oversized)} text(s) exceed {self.model}'s limit of {limit} tokens per row: {detail} "
                f"(source: {self.spec.source}); use oversize='chunk_average' or 'truncate'"
            )
        elif self.oversize == "truncate":
            assert limit is not None
            pieces = list(texts)
            for i in oversized:
                pieces[i] = _tokens.truncate(texts[i], limit)
            owners = weights = None
        else:
            assert limit is not None
            pieces, owner_list, weight_list = [], [], []
            over = set(oversized)
            for i, text in enumerate(texts):
                if i in over:
                    for piece, count in _tokens.split_by_tokens(text, limit):
                        pieces.append(piece)
                        owner_list.append(i)
                        weight_list.append(count)
                else:
                    pieces.append(text)
                    owner_list.append(i)
                    weight_list.append(1)
            owners = np.asarray(owner_list, dtype=np.int64)
            weights = np.asarray(weight_list, dtype=np.float64)
        ranges = plan_requests(pieces, self._max_rows, self.spec.max_tokens_per_request)
        return _Plan(pieces, owners, weights, len(texts), ranges)

    def _assemble(self, plan: _Plan, replies: list[RequestReply], request: TextRequest) -> EmbeddingResult:
        usage, request_ids, dense_rows = self._totals(replies)
        dense = dense_rows if request.wants_dense else None
        sparse = [s for r in replies for s in (r.sparse or [])] if request.wants_sparse else None
        lists = None
        if request.keep_lists and dense is not None and all(r.lists is not None for r in replies):
            lists = [row for r in replies for row in (r.lists or [])]
        if plan.owners is not None:
            dense, sparse = _average_pieces(plan, dense, sparse)
            lists = None  # averaged rows exist only in ``dense``
        return EmbeddingResult(
            dense=dense, sparse=sparse, usage=usage, request_ids=request_ids, model=self.model, lists=lists
        )

    def _tokens_for_limiter(self, texts: Sequence[str]) -> int:
        if self.rate_limiter.tokens_per_minute is None:
            return 0
        return sum(_tokens.count_tokens(t) for t in texts)

    # ------------------------------------------------------------------ sync path

    def _call(self, request: TextRequest, texts: Sequence[str]) -> Call:
        n = len(texts)

        def parse(status: int, headers: Any, content: bytes) -> RequestReply:
            return self._wire.parse_reply(request, status, headers, content, n)

        body = self._wire.build_body(request, texts)
        return self._wire.path, body, parse, {"tokens": self._tokens_for_limiter(texts)}

    def embed(
        self,
        texts: Sequence[str],
        *,
        text_type: Literal["query", "document"] | None = "document",
        output_type: str | None = None,
        instruct: str | None = None,
        as_lists: bool = False,
    ) -> EmbeddingResult:
        """Embed ``texts`` (any number) and return their vectors in input order.

        Args:
            texts: non-empty strings.
            text_type: ``"document"`` (default) or ``"query"``; sent as ``parameters.text_type``.
            output_type: override the engine's ``output_type`` for this call.
            instruct: query-side instruction for this call (default: the engine's, on query calls).
            as_lists: also keep the vectors as the decoder's Python lists, so ``result.dense_lists()`` costs
                nothing (for callers that return lists; the values as sent, before the float32 cast).

        Returns:
            ``EmbeddingResult`` with ``dense`` ``(n, d)`` float32 and/or ``sparse`` (n vectors).

        Raises:
            InvalidInputError: bad texts (positions named) or parameters, before any request.
            APIError: a request failed after its retries (``attempts`` says how many were made).
        """
        request, plan = self._prepare(texts, text_type, output_type, instruct, as_lists)
        replies = self._run_groups(request, plan.groups()) if plan.ranges else []
        return self._assemble(plan, replies, request)

    def embed_query(self, text: str, *, instruct: str | None = None) -> EmbeddingResult:
        """Embed one query (``text_type="query"``, plus ``instruct`` when set). Result has one row.

        Raises:
            InvalidInputError: ``text`` is not a non-empty string.
            APIError: the request failed after its retries.
        """
        return self.embed([text], text_type="query", instruct=instruct)

    def embed_documents(self, texts: Sequence[str]) -> EmbeddingResult:
        """Embed documents (``text_type="document"``); see ``embed``."""
        return self.embed(texts, text_type="document")

    # ------------------------------------------------------------------ async path

    async def aembed(
        self,
        texts: Sequence[str],
        *,
        text_type: Literal["query", "document"] | None = "document",
        output_type: str | None = None,
        instruct: str | None = None,
        as_lists: bool = False,
    ) -> EmbeddingResult:
        """Async ``embed``: up to ``max_concurrency`` requests in flight for the object (shared with other loops and
        threads). Same contract."""
        request, plan = self._prepare(texts, text_type, output_type, instruct, as_lists)
        replies = await self._arun_groups(request, plan.groups()) if plan.ranges else []
        return self._assemble(plan, replies, request)

    async def aembed_query(self, text: str, *, instruct: str | None = None) -> EmbeddingResult:
        """Async ``embed_query``."""
        return await self.aembed([text], text_type="query", instruct=instruct)

    async def aembed_documents(self, texts: Sequence[str]) -> EmbeddingResult:
        """Async ``embed_documents``."""
        return await self.aembed(texts, text_type="document")


@dataclass
class PlannedEmbedding:
    """An ``embed`` call checked and planned, not sent (``DashScopeEmbedder.plan``).

    Attributes:
        requests: one callable per request to the service, in order; each sends its request through the engine's
            runner (retries, pacing, re-split on a batch-size error) and returns its replies (``list[RequestReply]``;
            more than one after a re-split). Run them in any order or concurrently; raises ``APIError``.
        n_inputs: texts in the call.
    """

    engine: DashScopeEmbedder
    request: TextRequest
    plan: _Plan

    @property
    def n_inputs(self) -> int:
        """Texts in the call."""
        return self.plan.n_inputs

    @property
    def requests(self) -> list[Callable[[], list[RequestReply]]]:
        """The request callables, in order (see the class docstring)."""
        return [functools.partial(self.engine._run_group, self.request, group) for group in self.plan.groups()]

    def assemble(self, replies: list[RequestReply]) -> EmbeddingResult:
        """The call's ``EmbeddingResult`` from the replies of every request, in request order (``dense``
        ``(n_inputs, d)`` float32 and/or ``sparse``; oversize pieces averaged); usage is added to the engine's."""
        return self.engine._assemble(self.plan, replies, self.request)


def _average_pieces(
    plan: _Plan, dense: np.ndarray | None, sparse: list[SparseEmbedding] | None
) -> tuple[np.ndarray | None, list[SparseEmbedding] | None]:
    """Token-weighted average of the pieces of split inputs, renormalised to unit length."""
    assert plan.owners is not None and plan.weights is not None
    owners, weights, n = plan.owners, plan.weights, plan.n_inputs
    if dense is not None:
        summed = np.zeros((n, dense.shape[1]), dtype=np.float64)
        np.add.at(summed, owners, dense.astype(np.float64) * weights[:, None])
        norms = np.linalg.norm(summed, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        dense = (summed / norms).astype(np.float32)
    if sparse is not None:
        merged: list[dict[int, list[float]]] = [{} for _ in range(n)]
        tokens: list[dict[int, str]] = [{} for _ in range(n)]
        totals = np.zeros(n)
        np.add.at(totals, owners, weights)
        for vec, owner, weight in zip(sparse, owners.tolist(), weights.tolist(), strict=True):
            share = weight / totals[owner]
            for index, value, token in zip(vec.indices, vec.values, vec.tokens or ("",) * len(vec), strict=True):
                merged[owner].setdefault(index, [0.0])[0] += value * share
                tokens[owner].setdefault(index, token)
        sparse = [
            SparseEmbedding(tuple(m), tuple(v[0] for v in m.values()), tuple(tokens[i][k] for k in m))
            for i, m in enumerate(merged)
        ]
    return dense, sparse
