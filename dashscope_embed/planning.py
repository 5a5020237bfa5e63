"""Grouping rows into requests (the request rows of each): at most ``max_rows`` rows and, where a model documents
one, at most a token budget.

qwen3.7-text-embedding takes 20 rows and 128,000 tokens; its pages disagree whether the 128,000 hold per row or
per request, so requests are planned to satisfy both readings (Model Studio "Models",
https://help.aliyun.com/en/model-studio/models). Counting tokens is the expensive part, so a row is tokenized only
when the request's byte total could exceed the budget: a byte-level BPE token covers at least one UTF-8 byte.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import tokens as _tokens
from .errors import InvalidInputError

__all__ = ["plan_requests", "plan_batches"]


def plan_requests(
    rows: Sequence[str], max_rows: int, max_tokens_per_request: int | None = None
) -> list[tuple[int, int]]:
    """``[start, end)`` ranges over ``rows``, in order: the request rows of each request, at most ``max_rows`` rows
    and at most ``max_tokens_per_request`` Qwen tokens (``None``: rows only).

    A single row over the budget gets a range of its own (the per-row limit is checked before planning).

    Raises:
        InvalidInputError: ``max_rows`` < 1.
    """
    if max_rows < 1:
        raise InvalidInputError(f"max_rows must be >= 1, got {max_rows}")
    n = len(rows)
    if max_tokens_per_request is None:
        return [(start, min(start + max_rows, n)) for start in range(0, n, max_rows)]
    budget = max_tokens_per_request
    exact: dict[int, int] = {}  # row -> Qwen tokens, for rows that had to be counted

    def tokens(i: int) -> int:
        if i not in exact:
            exact[i] = _tokens.count_tokens(rows[i])
        return exact[i]

    ranges: list[tuple[int, int]] = []
    start = 0
    used = 0  # an upper bound on the tokens of rows[start:i]: exact counts or byte lengths
    for i, row in enumerate(rows):
        size = len(row.encode("utf-8"))
        if size > budget - used:
            size = tokens(i)
            if size > budget - used and used:
                # byte lengths overestimate: count the open request exactly before closing it
                used = sum(tokens(j) for j in range(start, i))
        if i > start and (i - start >= max_rows or used + size > budget):
            ranges.append((start, i))
            start, used = i, 0
        used += size
    if start < n:
        ranges.append((start, n))
    return ranges


def plan_batches(
    rows: Sequence[str], max_rows: int, max_tokens_per_request: int | None = None
) -> list[tuple[int, int]]:
    """Deprecated name of ``plan_requests`` ("batch" now names only the Batch File API and async task jobs).

    Raises:
        InvalidInputError: as ``plan_requests``.
    """
    import warnings

    warnings.warn("plan_batches is deprecated; use plan_requests", DeprecationWarning, stacklevel=2)
    return plan_requests(rows, max_rows, max_tokens_per_request)
