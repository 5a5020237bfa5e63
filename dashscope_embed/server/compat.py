"""OpenAI-compatible embeddings: ``POST /compatible-mode/v1/embeddings``.

Request (Model Studio "OpenAI compatible - Embedding")::

    {"model": "text-embedding-v4", "input": "..." | ["...", ...], "dimensions": 1024, "encoding_format": "float"}

Reply::

    {"object": "list", "data": [{"object": "embedding", "embedding": [...], "index": 0}, ...],
     "model": "text-embedding-v4", "usage": {"prompt_tokens": n, "total_tokens": n}, "id": "..."}

DashScope documents only ``encoding_format="float"``; the openai SDK sends ``"base64"`` unless told otherwise and
decodes either form, so ``"base64"`` (little-endian float32, as OpenAI encodes it) is answered too. Fields this
protocol does not define (``text_type``, ``instruct``) are ignored, as the real service ignores them; they are
kept in ``ServiceStats.recent``. Only models with ``openai_compatible`` in the catalog are served.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from ..catalog import CATALOG
from .backends.base import Backend
from .endpoint import EndpointResult
from .replies import ServiceError
from .stats import RequestRecord
from .validation import check_dimension, check_texts, invalid, lookup_model
from .vectors import text_vectors

__all__ = ["describe", "handle"]

ENCODINGS = ("float", "base64")
BATCH_PREFIX = "<400> InternalError.Algo.InvalidParameter: Value error, "


def describe(body: dict[str, Any]) -> RequestRecord:
    """What the request carried, for ``ServiceStats.recent`` (tolerates any body)."""
    inp = body.get("input")
    rows = 1 if isinstance(inp, str) else len(inp) if isinstance(inp, list) else 0
    params = {k: v for k, v in body.items() if k not in ("model", "input")}
    return RequestRecord("compatible", body.get("model"), rows, params)


async def handle(body: dict[str, Any], backend: Backend, request_id: str) -> EndpointResult:
    """Embed an OpenAI-compatible request; see the module docstring for the shapes.

    Raises:
        ServiceError: 404 ``model_not_found`` for an unknown model; 400 for a model not served in compatible mode,
            an empty or over-long input, too many rows, a dimension the model does not allow, or an unknown
            ``encoding_format``.
    """
    model = body.get("model")
    known = CATALOG.get(model) if isinstance(model, str) else None
    if known is not None and (known.kind != "text" or not known.openai_compatible):
        raise invalid(
            f"{model} is not available in OpenAI-compatible mode; use the native DashScope API for it.",
            param="model",
        )
    spec = lookup_model(model, "text", unknown_status=404, unknown_code="ModelNotFound")
    inp = body.get("input")
    try:
        texts, counts = check_texts([inp] if isinstance(inp, str) else inp, spec, where="input")
    except ServiceError as error:
        if error.message.startswith("batch size"):
            # Compatible mode passes the model server's message through with its prefix (seen in live replies).
            error.message = BATCH_PREFIX + error.message
        raise
    dimension = check_dimension(spec, body.get("dimensions"), field="dimensions")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ENCODINGS:
        raise invalid(
            f"Invalid encoding_format {encoding!r}: it should be one of {', '.join(ENCODINGS)}.",
            param="encoding_format",
        )
    vectors = await text_vectors(backend, texts, text_type="document", instruct=None, dimension=dimension)
    items: list[dict[str, Any]] = []
    for i in range(len(texts)):
        row: Any = vectors[i]
        if encoding == "base64":
            row = base64.b64encode(np.ascontiguousarray(row, dtype="<f4").tobytes()).decode("ascii")
        items.append({"object": "embedding", "embedding": row, "index": i})
    total = sum(counts)
    reply = {
        "object": "list",
        "data": items,
        "model": spec.name,
        "usage": {"prompt_tokens": total, "total_tokens": total},
        "id": request_id,
    }
    return EndpointResult(reply, items, len(items))
