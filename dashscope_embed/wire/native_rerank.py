"""DashScope's native text rerank protocol.

``POST {root}/api/v1/services/rerank/text-rerank/text-rerank`` with ``{"model", "input": {"query", "documents":
[str, ...]}, "parameters": {"top_n", "return_documents", "instruct"}}``; reply ``{"output": {"results": [{"index",
"relevance_score", "document": {"text"}?}]}, "usage": {"total_tokens"}, "request_id"}``, results sorted by score,
descending. Errors as in every native endpoint: ``{"code", "message", "request_id"}`` (an HTTP 200 with a ``code``
is an error too). Source: https://help.aliyun.com/en/model-studio/text-rerank-api and the dashscope SDK's
``TextReRank``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ResponseFormatError, error_from_reply
from .base import load_reply

__all__ = ["NATIVE_RERANK_PATH", "RerankRequest", "RerankReply", "NativeRerankProtocol", "check_results"]

NATIVE_RERANK_PATH = "/api/v1/services/rerank/text-rerank/text-rerank"


@dataclass(frozen=True)
class RerankRequest:
    """What one rerank request carries besides the query and documents.

    Attributes:
        model: model id.
        top_n: results to ask for (``None``: every document, and no ``top_n`` is sent).
        return_documents: ask the service to echo each document's text.
        instruct: task instruction (models that accept it), or ``None``.
    """

    model: str
    top_n: int | None = None
    return_documents: bool = False
    instruct: str | None = None


@dataclass
class RerankReply:
    """One parsed rerank reply.

    Attributes:
        results: ``(index, relevance_score, text or None)`` per result, ``index`` into the request's documents,
            in the service's order (by score, descending).
        total_tokens: the reply's ``usage.total_tokens``.
        request_id: the reply's ``request_id`` (native) or ``id`` (compatible mode).
    """

    results: list[tuple[int, float, str | None]]
    total_tokens: int
    request_id: str | None


def check_results(items: Any, n: int, expected: int, request_id: str | None) -> list[tuple[int, float, str | None]]:
    """Validate a reply's result list: exactly ``expected`` items with distinct int indices in ``0..n-1`` and
    numeric scores.

    Raises:
        ResponseFormatError: not a list, too few or too many results, a bad index or score.
    """
    if not isinstance(items, list):
        raise ResponseFormatError("reply has no results list", request_id=request_id)
    if len(items) != expected:
        raise ResponseFormatError(
            f"reply holds {len(items)} results for {expected} expected ({n} documents)", request_id=request_id
        )
    out: list[tuple[int, float, str | None]] = []
    seen: set[int] = set()
    for item in items:
        index = item.get("index") if isinstance(item, dict) else None
        score = item.get("relevance_score") if isinstance(item, dict) else None
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < n or index in seen:
            raise ResponseFormatError(
                f"reply result index {index!r} is not a new index in 0..{n - 1}", request_id=request_id
            )
        if not isinstance(score, (int, float)) or isinstance(score, bool):
            raise ResponseFormatError(f"reply result {index} has no numeric relevance_score", request_id=request_id)
        seen.add(index)
        document = item.get("document")
        text = document.get("text") if isinstance(document, dict) else document if isinstance(document, str) else None
        out.append((index, float(score), text))
    return out


def expected_results(request: RerankRequest, n: int) -> int:
    """How many results a request of ``n`` documents is answered with: ``min(top_n, n)``, or ``n``."""
    return n if request.top_n is None else min(request.top_n, n)


class NativeRerankProtocol:
    """Body builder and reply parser for the native rerank endpoint (``protocol="dashscope"``)."""

    name = "dashscope"
    path = NATIVE_RERANK_PATH

    def build_body(self, request: RerankRequest, query: str, documents: Sequence[str]) -> dict[str, Any]:
        """``{"model", "input": {"query", "documents"}, "parameters": {...}}``; unset parameters are not sent."""
        parameters: dict[str, Any] = {}
        if request.top_n is not None:
            parameters["top_n"] = request.top_n
        if request.return_documents:
            parameters["return_documents"] = True
        if request.instruct:
            parameters["instruct"] = request.instruct
        body: dict[str, Any] = {"model": request.model, "input": {"query": query, "documents": list(documents)}}
        if parameters:
            body["parameters"] = parameters
        return body

    def parse_reply(
        self, request: RerankRequest, status: int, headers: Mapping[str, str], content: bytes, n: int
    ) -> RerankReply:
        """Parse a reply to a request of ``n`` documents.

        Raises:
            APIError: non-200 status, or an HTTP 200 whose body carries a non-empty ``code``.
            ResponseFormatError: no ``output.results`` list, the wrong number of results, bad indices or scores.
        """
        body = load_reply(status, headers, content)
        if body.get("code"):
            raise error_from_reply(status, body, headers)
        request_id = body.get("request_id") or headers.get("x-request-id")
        output = body.get("output")
        items = output.get("results") if isinstance(output, dict) else None
        results = check_results(items, n, expected_results(request, n), request_id)
        usage = body.get("usage") or {}
        return RerankReply(results, int(usage.get("total_tokens") or 0), request_id)
