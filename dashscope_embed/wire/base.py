"""What every text wire protocol provides, and JSON decoding shared by all of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from ..errors import ResponseFormatError, error_from_reply
from ..results import RequestReply

__all__ = ["TextRequest", "TextWireProtocol", "load_reply", "order_by_index", "native_items"]


@dataclass(frozen=True)
class TextRequest:
    """Everything one text-embedding request carries besides the texts.

    Attributes:
        model: model id.
        dimension: output dimension to ask for, or ``None`` for the model's default (not sent).
        text_type: ``"query"`` or ``"document"``, or ``None`` (not sent).
        output_type: ``"dense"``, ``"sparse"`` or ``"dense&sparse"``; ``None`` sends nothing (dense).
        instruct: query-side task instruction (text-embedding-v4), or ``None``.
        keep_lists: also keep each reply's dense vectors as the lists of Python floats the JSON decoder built
            (for callers that return lists: the framework adapters), so no float32-to-list conversion is needed.
    """

    model: str
    dimension: int | None = None
    text_type: str | None = None
    output_type: str | None = None
    instruct: str | None = None
    keep_lists: bool = False

    @property
    def wants_dense(self) -> bool:
        """Whether the reply carries dense vectors (``output_type`` unset, ``dense`` or ``dense&sparse``)."""
        return self.output_type in (None, "dense", "dense&sparse")

    @property
    def wants_sparse(self) -> bool:
        """Whether the reply carries sparse vectors (``output_type`` ``sparse`` or ``dense&sparse``)."""
        return self.output_type in ("sparse", "dense&sparse")


class TextWireProtocol(Protocol):
    """A text-embedding protocol: URL path, body builder and reply parser."""

    name: str
    path: str

    def build_body(self, request: TextRequest, texts: Sequence[str]) -> dict[str, Any]:
        """The JSON body for ``texts`` (at most the model's row limit)."""
        ...

    def parse_reply(
        self, request: TextRequest, status: int, headers: Mapping[str, str], content: bytes, n: int
    ) -> RequestReply:
        """Parse a reply to a request of ``n`` texts into rows in input order.

        Raises:
            APIError: a subclass matching the service's error, or ``ResponseFormatError`` when the reply
                does not hold exactly ``n`` well-formed vectors.
        """
        ...


def load_reply(
    status: int, headers: Mapping[str, str], content: bytes, *, error_key: str | None = None
) -> dict[str, Any]:
    """Decode a JSON reply body; raise the typed error for any status outside 2xx.

    Args:
        error_key: a top-level field whose presence marks a failed call even with a 2xx status (``"error"`` for the
            Batch File API's OpenAI-style bodies, ``"code"`` for the task API, whose FAILED tasks carry their own
            code under ``output``). ``None``: the status alone decides.

    Raises:
        APIError: the status is not 2xx, or ``error_key`` is set in the body (typed by status and ``code``).
        ResponseFormatError: a 2xx reply whose body is not a JSON object.
    """
    try:
        body = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        body = None
    failed_in_body = error_key is not None and isinstance(body, dict) and bool(body.get(error_key))
    if not 200 <= status < 300 or failed_in_body:
        text = content[:300].decode("utf-8", "replace") if content else ""
        raise error_from_reply(status, body if isinstance(body, dict) else None, headers, text=text)
    if not isinstance(body, dict):
        raise ResponseFormatError(
            f"HTTP {status} reply is not a JSON object", status_code=status, request_id=headers.get("x-request-id")
        )
    return body


def order_by_index(items: list, key: str, n: int, request_id: str | None) -> list:
    """Reorder reply items by their index field (``text_index`` / ``index``) into input order.

    Raises:
        ResponseFormatError: not exactly ``n`` items, or the indices are not a permutation of ``0..n-1``.
    """
    if len(items) != n:
        raise ResponseFormatError(f"reply holds {len(items)} vectors for {n} inputs", request_id=request_id)
    order = [item.get(key) if isinstance(item, dict) else None for item in items]
    if order == list(range(n)):
        return items
    indices = [i for i in order if isinstance(i, int)]
    if sorted(indices) != list(range(n)):
        raise ResponseFormatError(
            f"reply {key} values {order[:20]} are not a permutation of 0..{n - 1}", request_id=request_id
        )
    placed: list = [None] * n
    for item, index in zip(items, indices, strict=True):  # every index is an int: n of them, a permutation
        placed[index] = item
    return placed


def native_items(
    status: int, headers: Mapping[str, str], content: bytes, index_key: str, n: int
) -> tuple[dict[str, Any], list, str | None]:
    """Open a native-protocol reply: ``(body, output.embeddings in input order, request_id)``.

    Args:
        index_key: the field that orders the items (``text_index`` for text, ``index`` for multimodal).
        n: how many inputs the request held.

    Raises:
        APIError: non-200 status, or an HTTP 200 whose body carries a non-empty ``code``.
        ResponseFormatError: no ``output.embeddings`` list, not exactly ``n`` items, or bad indices.
    """
    body = load_reply(status, headers, content)
    if body.get("code"):
        raise error_from_reply(status, body, headers)
    request_id = body.get("request_id")
    output = body.get("output")
    items = output.get("embeddings") if isinstance(output, dict) else None
    if not isinstance(items, list):
        raise ResponseFormatError("reply has no output.embeddings list", status_code=status, request_id=request_id)
    return body, order_by_index(items, index_key, n, request_id), request_id
