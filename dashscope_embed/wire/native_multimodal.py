"""DashScope's native multimodal-embedding protocol.

``POST {root}/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding`` with
``{"model", "input": {"contents": [{"text"|"image"|"video"|"multi_images": ...}, ...]}, "parameters": {...}}``;
reply ``{"output": {"embeddings": [{"index", "type", "embedding"}]}, "usage": {...}, "request_id"}``.
Source: https://help.aliyun.com/en/model-studio/multimodal-embedding-api-reference

``usage`` differs per model, so ``usage_tokens`` reads whichever keys the reply has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..settings import NATIVE_MULTIMODAL_PATH
from .base import native_items
from .native_text import rows_to_matrix

__all__ = ["MultimodalRequest", "MultimodalReply", "NativeMultimodalProtocol", "usage_tokens"]


@dataclass(frozen=True)
class MultimodalRequest:
    """Everything one multimodal request carries besides ``input.contents``.

    Attributes:
        model: model id.
        dimension: ``parameters.dimension``, or ``None`` to send none (fixed-dimension models take none).
        enable_fusion: ``parameters.enable_fusion`` (qwen3-vl-embedding only), or ``None`` to send none.
        instruct: ``parameters.instruct``, or ``None``.
        extra: further parameters sent as given (``fps``, ``res_level``, ``max_video_frames``, ...).
        expected_dimension: the vector length the reply must have.
    """

    model: str
    dimension: int | None = None
    enable_fusion: bool | None = None
    instruct: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    expected_dimension: int | None = None


@dataclass
class MultimodalReply:
    """One parsed reply, rows in request order.

    Attributes:
        dense: ``(k, d)`` float32.
        types: each row's ``type`` (``text``, ``image``, ``video``, ``multi_images``, ``vl``, ``fused``, ``fusion``).
        total_tokens: tokens billed for the request (see ``usage_tokens``).
        usage: the reply's ``usage`` object as sent.
        request_id: the reply's ``request_id``.
    """

    dense: np.ndarray
    types: list[str]
    total_tokens: int
    usage: dict[str, Any]
    request_id: str | None


def usage_tokens(usage: Mapping[str, Any]) -> int:
    """Tokens billed for one request, whatever usage shape the model sends.

    ``total_tokens`` when present (tongyi-embedding-vision-*, qwen3-vl-embedding); otherwise ``input_tokens`` plus
    ``image_tokens`` (qwen2.5-vl-embedding, multimodal-embedding-v1). Video seconds (``duration``) are not tokens.
    """

    def number(key: str) -> int:
        value = usage.get(key)
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0

    if "total_tokens" in usage:
        return number("total_tokens")
    return number("input_tokens") + number("image_tokens")


class NativeMultimodalProtocol:
    """Body builder and reply parser for the native multimodal endpoint."""

    name = "dashscope"
    path = NATIVE_MULTIMODAL_PATH

    def build_body(self, request: MultimodalRequest, contents: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Parameters sit directly in ``parameters`` (the SDK's flat keyword arguments)."""
        parameters: dict[str, Any] = dict(request.extra)
        if request.dimension is not None:
            parameters["dimension"] = request.dimension
        if request.enable_fusion is not None:
            parameters["enable_fusion"] = request.enable_fusion
        if request.instruct is not None:
            parameters["instruct"] = request.instruct
        return {"model": request.model, "input": {"contents": [dict(c) for c in contents]}, "parameters": parameters}

    def parse_reply(
        self, request: MultimodalRequest, status: int, headers: Mapping[str, str], content: bytes, n: int
    ) -> MultimodalReply:
        """Rows come back ordered by ``index`` whatever order the service sent them in.

        Raises:
            APIError: non-200 status, or an HTTP 200 whose body carries a non-empty ``code``.
            ResponseFormatError: not exactly ``n`` vectors, bad or repeated ``index``, wrong dimension.
        """
        body, items, request_id = native_items(status, headers, content, "index", n)
        dense = rows_to_matrix([item.get("embedding") for item in items], request.expected_dimension, request_id)
        raw_usage = body.get("usage")
        usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
        types = [str(item.get("type") or "") for item in items]
        return MultimodalReply(dense, types, usage_tokens(usage), dict(usage), request_id)
