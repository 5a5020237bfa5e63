"""Cutting a rerank call into requests within a model's document and token limits."""

from __future__ import annotations

from collections.abc import Sequence

from .. import tokens
from ..errors import InvalidInputError

__all__ = ["request_tokens", "plan_rerank_requests", "document_tokens"]


def request_tokens(query_tokens: int, doc_tokens: Sequence[int]) -> int:
    """The tokens a request costs: ``query_tokens x len(doc_tokens) + sum(doc_tokens)`` (the text rerank API
    page's rule: the query is scored against, and counted with, every document)."""
    return query_tokens * len(doc_tokens) + sum(doc_tokens)


def document_tokens(documents: Sequence[str], cap: int) -> list[int]:
    """Qwen tokens of each document, at most ``cap`` (the service truncates a longer document to ``cap``)."""
    return [min(tokens.count_tokens(text), cap) for text in documents]


def plan_rerank_requests(
    query_tokens: int, doc_tokens: Sequence[int], max_documents: int, max_tokens_per_request: int
) -> list[tuple[int, int]]:
    """Consecutive ``[start, end)`` ranges over the documents, each a request of at most ``max_documents``
    documents whose ``request_tokens`` stay within ``max_tokens_per_request``; greedy, in input order.

    Raises:
        InvalidInputError: one document with the query already exceeds the budget (the message names the
            document's index and both token counts).
    """
    ranges: list[tuple[int, int]] = []
    start, used = 0, 0
    for i, count in enumerate(doc_tokens):
        cost = query_tokens + count
        if cost > max_tokens_per_request:
            raise InvalidInputError(
                f"document [{i}] ({count} tokens) with the query ({query_tokens} tokens) exceeds the model's "
                f"{max_tokens_per_request:,} tokens per request; shorten the query"
            )
        if i > start and (i - start >= max_documents or used + cost > max_tokens_per_request):
            ranges.append((start, i))
            start, used = i, 0
        used += cost
    if start < len(doc_tokens):
        ranges.append((start, len(doc_tokens)))
    return ranges
