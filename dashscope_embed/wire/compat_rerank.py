"""DashScope's compatible rerank protocol.

``POST {root}/compatible-api/v1/reranks`` with a flat body ``{"model", "query", "documents", "top_n",
"instruct"}`` (the documented fields: ``return_documents`` is not one, so it is not sent and the engine puts each
document's text in the results itself); reply ``{"object": "list", "results": [{"index", "relevance_score",
"document"?}], "model", "usage": {"total_tokens"}, "id"}``; errors ``{"error": {"message", "type", "param",
"code"}}``. Documented for qwen3-rerank (https://help.aliyun.com/en/model-studio/text-rerank-api, "Compatible
API"); the engine refuses it for models the catalog does not mark ``openai_compatible``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import error_from_reply
from .base import load_reply
from .native_rerank import RerankReply, RerankRequest, check_results, expected_results

__all__ = ["COMPAT_RERANK_PATH", "CompatRerankProtocol"]

COMPAT_RERANK_PATH = "/compatible-api/v1/reranks"


class CompatRerankProtocol:
    """Body builder and reply parser for the compatible rerank endpoint (``protocol="openai"``)."""

    name = "openai"
    path = COMPAT_RERANK_PATH

    def build_body(self, request: RerankRequest, query: str, documents: Sequence[str]) -> dict[str, Any]:
        """The flat body of the documented fields; unset parameters are not sent (nor ``return_documents``)."""
        body: dict[str, Any] = {"model": request.model, "query": query, "documents": list(documents)}
        if request.top_n is not None:
            body["top_n"] = request.top_n
        if request.instruct:
            body["instruct"] = request.instruct
        return body

    def parse_reply(
        self, request: RerankRequest, status: int, headers: Mapping[str, str], content: bytes, n: int
    ) -> RerankReply:
        """Parse a reply to a request of ``n`` documents.

        Raises:
            APIError: non-200 status or an ``error`` object in the body.
            ResponseFormatError: no ``results`` list, the wrong number of results, bad indices or scores.
        """
        body = load_reply(status, headers, content)
        if body.get("error") or body.get("code"):
            raise error_from_reply(status, body, headers)
        request_id = body.get("id") or body.get("request_id") or headers.get("x-request-id")
        results = check_results(body.get("results"), n, expected_results(request, n), request_id)
        usage = body.get("usage") or {}
        return RerankReply(results, int(usage.get("total_tokens") or 0), request_id)
