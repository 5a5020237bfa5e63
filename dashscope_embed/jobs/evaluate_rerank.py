"""Retrieval quality with and without a rerank stage (``dashscope-embed eval --rerank MODEL``).

The first stage is ``evaluate``'s: documents and queries embedded, documents ranked by cosine similarity. The
second stage reranks each query's top ``candidates`` first-stage documents with a rerank model and keeps the top
``k``. Both rankings are scored on the same judgments, so the two figures compare directly; the queries are
reranked concurrently (``arerank``, bounded by the reranker's ``max_concurrency``).
"""

from __future__ import annotations

import asyncio
import time

from ..engine import DashScopeEmbedder
from ..rerank import DashScopeReranker
from .evaluate import EvalResult, JudgedSet, rank_documents
from .metrics import evaluate_rankings

__all__ = ["evaluate_with_rerank"]


async def _rerank_all(reranker: DashScopeReranker, queries: list[str], candidates: list[list[str]], k: int) -> list:
    return list(
        await asyncio.gather(*(reranker.arerank(q, docs, top_n=k) for q, docs in zip(queries, candidates, strict=True)))
    )


def evaluate_with_rerank(
    embedder: DashScopeEmbedder,
    reranker: DashScopeReranker,
    judged: JudgedSet,
    k: int = 10,
    candidates: int = 50,
    label: str = "",
) -> tuple[EvalResult, EvalResult]:
    """Score the embedding ranking and the same ranking reranked: ``(first_stage, reranked)``.

    Args:
        candidates: first-stage documents per query handed to the reranker (at least ``k``).

    Returns:
        two ``EvalResult`` s; the reranked one's tokens, requests and seconds include the first stage's.

    Raises:
        APIError / InvalidInputError: from the engines.
    """
    depth = max(k, candidates)
    started = time.monotonic()
    docs = embedder.embed(judged.doc_texts, text_type="document", output_type="dense")
    queries = embedder.embed(judged.query_texts, text_type="query", output_type="dense")
    embed_seconds = time.monotonic() - started
    assert docs.dense is not None and queries.dense is not None
    top = rank_documents(queries.dense, docs.dense, depth).tolist()
    first = {qid: [judged.doc_ids[j] for j in row[:k]] for qid, row in zip(judged.query_ids, top, strict=True)}
    tokens = docs.usage.total_tokens + queries.usage.total_tokens
    requests = docs.usage.requests + queries.usage.requests
    label = label or f"{embedder.model} d={embedder.dimension} {embedder.protocol}"
    base = EvalResult(label, evaluate_rankings(first, judged.qrels, k), tokens, requests, embed_seconds)

    started = time.monotonic()
    texts = [[judged.doc_texts[j] for j in row] for row in top]
    results = asyncio.run(_rerank_all(reranker, judged.query_texts, texts, k))
    rerank_seconds = time.monotonic() - started
    reranked = {
        qid: [judged.doc_ids[row[item.index]] for item in result]
        for qid, row, result in zip(judged.query_ids, top, results, strict=True)
    }
    rerank_tokens = sum(r.usage.total_tokens for r in results)
    rerank_requests = sum(r.usage.requests for r in results)
    second = EvalResult(
        f"{label} + {reranker.model} (top {depth})",
        evaluate_rankings(reranked, judged.qrels, k),
        tokens + rerank_tokens,
        requests + rerank_requests,
        embed_seconds + rerank_seconds,
    )
    return base, second
