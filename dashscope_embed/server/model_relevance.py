"""Rerank scores from the service's embedding backend: the vectors behind ``relevance.blend``.

With a model backend (``Backend.semantic`` true) each document is scored by ``relevance.blend`` of the model's
cosine (the query embedded as ``text_type="query"``, the documents as ``"document"``: e5's ``query:`` / ``passage:``
modes) and the lexical ``relevance``; with any other backend (or none) by ``relevance.rank`` alone, so the hash
backend's rankings stay predictable word for word.

Cost: the model backends cache vectors per (text, mode) in an LRU (``ModelBackend``), and a text repeated within a
request is embedded once, so reranking the same candidate passages again (or passages the service already embedded
as documents) costs a cache look-up, not a model call. ``instruct`` plays no part: it is validated by the endpoint and
not used, so a score stays a function of the (query, document) pair only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .backends.base import Backend
from .relevance import blend, order, rank, relevance
from .vectors import native_text_vectors

__all__ = ["model_scores", "rerank_order"]


async def model_scores(backend: Backend, query: str, documents: Sequence[str]) -> list[float]:
    """``relevance.blend`` score of every document, in input order, in ``[0, 1]``.

    Args:
        backend: a model backend; its ``embed`` runs off the event loop when ``blocking``.
        query: the query text (non-empty).
        documents: the document texts (non-empty strings, already truncated to the model's token limit).

    Raises:
        Whatever the backend raises (a model that fails to load).
    """
    q = await native_text_vectors(backend, [query], text_type="query")
    d = await native_text_vectors(backend, documents, text_type="document")
    # An elementwise product summed per row, not a matrix product: a row's sum then does not depend on how many rows
    # the request has, so a document scores the same to the last bit in a whole request and in a split one.
    cosines = (np.asarray(d, dtype=np.float64) * np.asarray(q, dtype=np.float64)[0]).sum(axis=1).tolist()
    return [blend(c, relevance(query, doc)) for c, doc in zip(cosines, documents, strict=True)]


async def rerank_order(backend: Backend | None, query: str, documents: Sequence[str]) -> list[tuple[int, float]]:
    """``(index, score)`` of every document, by score descending, ties by lower index: blended with a model
    backend, lexical otherwise (see the module docstring)."""
    if backend is None or not getattr(backend, "semantic", False):
        return rank(query, documents)
    return order(await model_scores(backend, query, documents))
