"""Text rerank: ``POST /api/v1/services/rerank/text-rerank/text-rerank`` (native) and
``POST /compatible-api/v1/reranks`` (compatible, flat body).

Native request ``{"model", "input": {"query", "documents"}, "parameters": {"top_n", "return_documents",
"instruct"}}``, reply ``{"output": {"results": [{"index", "relevance_score", "document": {"text"}?}]}, "usage":
{"total_tokens"}, "request_id"}``. Compatible request ``{"model", "query", "documents", "top_n",
"return_documents", "instruct"}``, reply ``{"object": "list", "results": [...], "model", "usage", "id"}``.

Limits from ``dashscope_embed.rerank.RERANK_CATALOG`` (documents per request, tokens per document, tokens per
request = query tokens x documents + document tokens); a query or document over the token limit per item is
truncated, as the real service does. Scores come from ``model_relevance.rerank_order``: with a model backend (e5,
use) a blend of the model's query/document cosine and lexical overlap, with the hash backend lexical overlap alone
(``relevance``); both are deterministic and depend on the (query, document) pair only. ``instruct`` is validated,
not used.
"""

from __future__ import annotations

from typing import Any

from .. import tokens
from ..rerank.catalog import RERANK_CATALOG, RETIRED_RERANK_MODELS, RerankModelSpec
from .backends.base import Backend
from .endpoint import EndpointResult
from .model_relevance import rerank_order
from .replies import ServiceError
from .stats import RequestRecord
from .validation import EMPTY_MODEL, MODEL_NOT_EXIST, empty_input, invalid, token_count

__all__ = ["describe_native", "describe_compat", "handle_native", "handle_compat"]


def describe_native(body: dict[str, Any]) -> RequestRecord:
    """What a native rerank request carried, for ``ServiceStats.recent`` (tolerates any body)."""
    inp = body.get("input")
    docs = inp.get("documents") if isinstance(inp, dict) else None
    params = body.get("parameters")
    return RequestRecord(
        "rerank",
        body.get("model"),
        len(docs) if isinstance(docs, list) else 0,
        dict(params) if isinstance(params, dict) else {},
    )


def describe_compat(body: dict[str, Any]) -> RequestRecord:
    """What a compatible rerank request carried (its fields other than model, query and documents)."""
    docs = body.get("documents")
    params = {k: v for k, v in body.items() if k not in ("model", "query", "documents")}
    return RequestRecord("rerank-compatible", body.get("model"), len(docs) if isinstance(docs, list) else 0, params)


def _model(model: Any, *, compat: bool) -> RerankModelSpec:
    if model is None or model == "":
        raise ServiceError(400, "BadRequest.EmptyModel", EMPTY_MODEL, param="model")
    if isinstance(model, str) and model in RETIRED_RERANK_MODELS:
        date, replacement = RETIRED_RERANK_MODELS[model]
        raise invalid(f"{MODEL_NOT_EXIST} {model} was retired on {date}; use {replacement}.", param="model")
    spec = RERANK_CATALOG.get(model) if isinstance(model, str) else None
    if spec is None:
        known = ", ".join(sorted(RERANK_CATALOG))
        status, code = (404, "ModelNotFound") if compat else (400, "InvalidParameter")
        raise ServiceError(
            status, code, f"{MODEL_NOT_EXIST} Unknown model {model!r}; rerank models here: {known}.", param="model"
        )
    if compat and not spec.openai_compatible:
        raise invalid(
            f"{spec.name} is not available in the compatible rerank API; use the native API for it.", param="model"
        )
    return spec


async def _rank(
    spec: RerankModelSpec,
    backend: Backend | None,
    query: Any,
    documents: Any,
    top_n: Any,
    return_documents: Any,
    instruct: Any,
) -> tuple[list[dict[str, Any]], int]:
    """Validate and rank; ``(results, total_tokens)``."""
    if query is None or (isinstance(query, str) and not query.strip()):
        raise empty_input("query is empty")
    if not isinstance(query, str):
        raise invalid("query must be a string.", param="query")
    if documents is None or (isinstance(documents, list) and not documents):
        raise empty_input("documents is empty")
    if not isinstance(documents, list):
        raise invalid("documents must be a list of strings.", param="documents")
    if len(documents) > spec.max_documents:
        raise invalid(f"batch size is invalid, it should not be larger than {spec.max_documents}.: input.documents")
    for i, doc in enumerate(documents):
        if not isinstance(doc, str):
            raise invalid(f"documents[{i}] must be a string, got {type(doc).__name__}.", param="documents")
        if not doc.strip():
            raise empty_input(f"documents[{i}] is empty or whitespace")
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise invalid(f"Invalid top_n {top_n!r}: it should be a positive integer.", param="top_n")
    if instruct not in (None, ""):
        if not spec.instruct:
            raise invalid(f"instruct is not supported by {spec.name}.", param="instruct")
        if not isinstance(instruct, str):
            raise invalid("instruct must be a string.", param="instruct")
    cap = spec.max_tokens_per_document
    texts: list[str] = []
    counts: list[int] = []
    for doc in documents:
        count = token_count(doc)
        if count > cap:  # truncated, as the real service does
            doc, count = tokens.truncate(doc, cap), cap
        texts.append(doc)
        counts.append(count)
    query_count = token_count(query)
    if query_count > cap:  # the limit per item holds for the query too: truncated, as the real service does
        query, query_count = tokens.truncate(query, cap), cap
    total = query_count * len(texts) + sum(counts)
    if total > spec.max_tokens_per_request:
        raise invalid(
            f"Range of total input length should be [1, {spec.max_tokens_per_request}], got {total}", param="documents"
        )
    ranked = await rerank_order(backend, query, texts)
    if top_n is not None:
        ranked = ranked[:top_n]
    results = []
    for index, score in ranked:
        item: dict[str, Any] = {"index": index, "relevance_score": score}
        if return_documents:
            item["document"] = {"text": documents[index]}
        results.append(item)
    return results, total


def _params(body: dict[str, Any]) -> dict[str, Any]:
    params = body.get("parameters")
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise invalid("parameters must be an object.", param="parameters")
    return params


async def handle_native(body: dict[str, Any], backend: Backend | None, request_id: str) -> EndpointResult:
    """Rank a native rerank request; see the module docstring for the shapes.

    Raises:
        ServiceError: 400 with DashScope's codes (``BadRequest.EmptyModel``, ``BadRequest.EmptyInput``,
            ``InvalidParameter``: unknown or retired model, too many documents, tokens over the budget, top_n,
            instruct for a model without it).
    """
    spec = _model(body.get("model"), compat=False)
    inp = body.get("input")
    if inp is None:
        raise empty_input("input is missing")
    if not isinstance(inp, dict):
        raise invalid('input must be an object: {"query": ..., "documents": [...]}.', param="input")
    params = _params(body)
    results, total = await _rank(
        spec,
        backend,
        inp.get("query"),
        inp.get("documents"),
        params.get("top_n"),
        params.get("return_documents"),
        params.get("instruct"),
    )
    reply = {"output": {"results": results}, "usage": {"total_tokens": total}, "request_id": request_id}
    return EndpointResult(reply, results, len(inp["documents"]))


async def handle_compat(body: dict[str, Any], backend: Backend | None, request_id: str) -> EndpointResult:
    """Rank a compatible rerank request (flat body); unknown models get 404 ``model_not_found``.

    Raises:
        ServiceError: as ``handle_native``, in the compatible error shape.
    """
    spec = _model(body.get("model"), compat=True)
    results, total = await _rank(
        spec,
        backend,
        body.get("query"),
        body.get("documents"),
        body.get("top_n"),
        body.get("return_documents"),
        body.get("instruct"),
    )
    reply = {
        "object": "list",
        "results": results,
        "model": spec.name,
        "usage": {"total_tokens": total},
        "id": request_id,
    }
    return EndpointResult(reply, results, len(body["documents"]))
