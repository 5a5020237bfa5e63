"""Native text embedding: ``POST /api/v1/services/embeddings/text-embedding/text-embedding``.

Request (Model Studio "Text embedding - synchronous API",
https://help.aliyun.com/en/model-studio/text-embedding-synchronous-api)::

    {"model": "text-embedding-v4",
     "input": {"texts": ["...", ...]},            # a single string is accepted too, as the SDK allows
     "parameters": {"dimension": 1024, "text_type": "query" | "document",
                    "output_type": "dense" | "sparse" | "dense&sparse", "instruct": "..."}}

Reply::

    {"output": {"embeddings": [{"embedding": [...], "sparse_embedding": [{"index", "value", "token"}],
                                "text_index": 0}, ...]},
     "usage": {"total_tokens": n}, "request_id": "..."}

``embedding`` is left out for ``output_type="sparse"``, ``sparse_embedding`` for ``"dense"``.
"""

from __future__ import annotations

from typing import Any

from .backends.base import Backend
from .endpoint import EndpointResult
from .replies import ServiceError
from .sparse import sparse_embedding
from .stats import RequestRecord
from .tasks import SYNC_REFUSED
from .validation import ParsedTextRequest, check_texts, empty_input, invalid, lookup_model, text_options
from .vectors import text_vectors

__all__ = ["describe", "handle", "parse"]


def describe(body: dict[str, Any]) -> RequestRecord:
    """What the request carried, for ``ServiceStats.recent`` (tolerates any body)."""
    inp = body.get("input")
    texts = inp.get("texts") if isinstance(inp, dict) else None
    rows = 1 if isinstance(texts, str) else len(texts) if isinstance(texts, list) else 0
    params = body.get("parameters")
    return RequestRecord("text", body.get("model"), rows, dict(params) if isinstance(params, dict) else {})


def parse(body: dict[str, Any]) -> ParsedTextRequest:
    """Validate a native text request.

    Raises:
        ServiceError: 400 with the real service's code and message (see ``validation``); 403 ``AccessDenied``
            for a model that runs only as asynchronous tasks (text-embedding-async-v1/v2).
    """
    spec = lookup_model(body.get("model"), "text")
    if spec.async_task:
        raise ServiceError(403, "AccessDenied", SYNC_REFUSED)
    inp = body.get("input")
    if inp is None:
        raise empty_input("input is missing")
    if not isinstance(inp, dict):
        raise invalid('input must be an object: {"texts": [...]}.', param="input")
    texts = inp.get("texts")
    if isinstance(texts, str):
        texts = [texts]
    texts, counts = check_texts(texts, spec)
    params = body.get("parameters")
    if params is None:
        params = {}
    elif not isinstance(params, dict):
        raise invalid("parameters must be an object.", param="parameters")
    return ParsedTextRequest(spec=spec, texts=texts, token_counts=counts, **text_options(spec, params))


async def handle(body: dict[str, Any], backend: Backend, request_id: str) -> EndpointResult:
    """Embed a native text request; see the module docstring for the shapes.

    Raises:
        ServiceError: the request is invalid.
    """
    req = parse(body)
    dense = None
    if req.dense:
        dense = await text_vectors(
            backend, req.texts, text_type=req.text_type, instruct=req.instruct, dimension=req.dimension
        )
    items: list[dict[str, Any]] = []
    for i, text in enumerate(req.texts):
        item: dict[str, Any] = {}
        if dense is not None:
            item["embedding"] = dense[i]
        if req.sparse:
            item["sparse_embedding"] = sparse_embedding(text)
        item["text_index"] = i
        items.append(item)
    reply = {
        "output": {"embeddings": items},
        "usage": {"total_tokens": sum(req.token_counts)},
        "request_id": request_id,
    }
    return EndpointResult(reply, items, len(items))
