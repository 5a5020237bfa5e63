"""DashScope's native text-embedding protocol.

``POST {root}/api/v1/services/embeddings/text-embedding/text-embedding`` with
``{"model", "input": {"texts": [...]}, "parameters": {"dimension", "text_type", "output_type", "instruct"}}``;
reply ``{"output": {"embeddings": [{"embedding", "sparse_embedding", "text_index"}]}, "usage": {"total_tokens"},
"request_id"}``. Source: https://help.aliyun.com/en/model-studio/text-embedding-synchronous-api
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ResponseFormatError
from ..results import RequestReply, SparseEmbedding
from ..settings import NATIVE_TEXT_PATH
from .base import TextRequest, native_items

__all__ = ["NativeTextProtocol", "rows_to_matrix", "parse_sparse"]


class NativeTextProtocol:
    """Body builder and reply parser for the native text endpoint (``protocol="dashscope"``)."""

    name = "dashscope"
    path = NATIVE_TEXT_PATH

    def build_body(self, request: TextRequest, texts: Sequence[str]) -> dict[str, Any]:
        """``text_type`` and friends sit directly in ``parameters`` (not nested under ``kwargs``)."""
        parameters: dict[str, Any] = {}
        if request.dimension is not None:
            parameters["dimension"] = request.dimension
        if request.text_type is not None:
            parameters["text_type"] = request.text_type
        if request.output_type is not None:
            parameters["output_type"] = request.output_type
        if request.instruct is not None:
            parameters["instruct"] = request.instruct
        return {"model": request.model, "input": {"texts": list(texts)}, "parameters": parameters}

    def parse_reply(
        self, request: TextRequest, status: int, headers: Mapping[str, str], content: bytes, n: int
    ) -> RequestReply:
        """Rows come back ordered by ``text_index`` whatever order the service sent them in.

        Raises:
            APIError: non-200 status, or an HTTP 200 whose body carries a non-empty ``code``.
            ResponseFormatError: not exactly ``n`` vectors, bad or repeated ``text_index``, wrong dimension.
        """
        body, items, request_id = native_items(status, headers, content, "text_index", n)
        dense = rows = None
        if request.wants_dense:
            rows = [item.get("embedding") for item in items]
            dense = rows_to_matrix(rows, request.dimension, request_id)  # also checks every row
        sparse = None
        if request.wants_sparse:
            sparse = [parse_sparse(item.get("sparse_embedding"), i, request_id) for i, item in enumerate(items)]
        usage = body.get("usage") or {}
        lists = rows if request.keep_lists else None
        return RequestReply(dense, sparse, int(usage.get("total_tokens") or 0), request_id, lists)


def rows_to_matrix(rows: list, dimension: int | None, request_id: str | None) -> np.ndarray:
    """Stack vectors into ``(k, d)`` float32, checking every row has the same (expected) length.

    Raises:
        ResponseFormatError: a missing vector, ragged rows, or ``d != dimension`` when a dimension was asked for.
    """
    try:
        matrix = np.asarray(rows, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ResponseFormatError(f"reply vectors are missing or ragged: {exc}", request_id=request_id) from None
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise ResponseFormatError(f"reply vectors have shape {matrix.shape}, expected (k, d)", request_id=request_id)
    if dimension is not None and matrix.shape[1] != dimension:
        raise ResponseFormatError(
            f"reply vectors have dimension {matrix.shape[1]}, asked for {dimension}", request_id=request_id
        )
    return matrix


def parse_sparse(raw: Any, position: int, request_id: str | None) -> SparseEmbedding:
    """Parse ``[{"index", "value", "token"}, ...]`` into a ``SparseEmbedding``.

    Raises:
        ResponseFormatError: the list is missing or an item lacks ``index``/``value``.
    """
    if not isinstance(raw, list):
        raise ResponseFormatError(f"reply item {position} has no sparse_embedding", request_id=request_id)
    try:
        indices = tuple(int(e["index"]) for e in raw)
        values = tuple(float(e["value"]) for e in raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise ResponseFormatError(
            f"reply item {position} has a malformed sparse_embedding ({exc!r})", request_id=request_id
        ) from None
    tokens = tuple(str(e.get("token", "")) for e in raw)
    return SparseEmbedding(indices, values, tokens)
