"""DashScope's OpenAI-compatible embeddings protocol.

``POST {root}/compatible-mode/v1/embeddings`` with ``{"model", "input": [...], "dimensions", "encoding_format":
"float"}``; reply ``{"data": [{"embedding", "index", "object"}], "usage": {"prompt_tokens", "total_tokens"}, "id"}``;
errors ``{"error": {"message", "type", "param", "code"}}``. This protocol has no text_type, instruct or sparse
output: the engine refuses them up front rather than dropping them.
Source: https://help.aliyun.com/en/model-studio/text-embedding-synchronous-api (OpenAI compatibility).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ResponseFormatError, error_from_reply
from ..results import RequestReply
from ..settings import OPENAI_EMBEDDINGS_PATH
from .base import TextRequest, load_reply, order_by_index
from .native_text import rows_to_matrix

__all__ = ["OpenAICompatProtocol"]


class OpenAICompatProtocol:
    """Body builder and reply parser for compatible mode (``protocol="openai"``)."""

    name = "openai"
    path = OPENAI_EMBEDDINGS_PATH

    def build_body(self, request: TextRequest, texts: Sequence[str]) -> dict[str, Any]:
        """``{"model", "input", "encoding_format": "float", "dimensions"?}``; float avoids a base64 decode step."""
        body: dict[str, Any] = {"model": request.model, "input": list(texts), "encoding_format": "float"}
        if request.dimension is not None:
            body["dimensions"] = request.dimension
        return body

    def parse_reply(
        self, request: TextRequest, status: int, headers: Mapping[str, str], content: bytes, n: int
    ) -> RequestReply:
        """Rows come back ordered by ``index``.

        Raises:
            APIError: non-200 status or an ``error`` object in the body.
            ResponseFormatError: not exactly ``n`` vectors, bad ``index`` values, wrong dimension.
        """
        body = load_reply(status, headers, content)
        if body.get("error") or body.get("code"):
            raise error_from_reply(status, body, headers)
        request_id = body.get("id") or headers.get("x-request-id")
        items = body.get("data")
        if not isinstance(items, list):
            raise ResponseFormatError("reply has no data list", status_code=status, request_id=request_id)
        items = order_by_index(items, "index", n, request_id)
        rows = [item.get("embedding") for item in items]
        dense = rows_to_matrix(rows, request.dimension, request_id)  # also checks every row
        usage = body.get("usage") or {}
        lists = rows if request.keep_lists else None
        return RequestReply(dense, None, int(usage.get("total_tokens") or 0), request_id, lists)
