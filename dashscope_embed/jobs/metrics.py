"""Ranking metrics for retrieval evaluation: nDCG@k, Recall@k, MRR@k. Pure Python, no framework.

Conventions (those of ``trec_eval`` / BEIR for binary and graded judgments):

- ``ranking``: document ids, best first; duplicates after the first occurrence are ignored.
- ``qrels``: ``{doc_id: relevance}`` for one query; relevance ``> 0`` means relevant, graded values are used as
  gains by nDCG (``gain = relevance``, discount ``1 / log2(rank + 1)`` with ranks from 1).
- A query with no relevant document is skipped by the mean (``mean_metrics``), as ``trec_eval`` does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from ..errors import InvalidInputError

__all__ = ["dcg_at_k", "ndcg_at_k", "recall_at_k", "mrr_at_k", "evaluate_rankings"]


def _dedupe(ranking: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for doc in ranking:
        if doc not in seen:
            seen.add(doc)
            out.append(doc)
    return out


def dcg_at_k(gains: Sequence[float], k: int) -> float:
    """Discounted cumulative gain of the first ``k`` gains: ``sum(g_i / log2(i + 1))`` for ranks ``i = 1..k``."""
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains[:k]))


def ndcg_at_k(ranking: Sequence[str], qrels: Mapping[str, float], k: int = 10) -> float:
    """nDCG@k in ``[0, 1]``: DCG of the ranking's first ``k`` over the DCG of the ideal ordering of ``qrels``.

    Raises:
        ValueError: ``k < 1``, or ``qrels`` has no relevant document (the metric is undefined).
    """
    if k < 1:
        raise InvalidInputError(f"k must be >= 1, got {k}")
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)
    if not ideal:
        raise InvalidInputError("nDCG is undefined for a query with no relevant document")
    gains = [max(float(qrels.get(doc, 0.0)), 0.0) for doc in _dedupe(ranking)[:k]]
    return dcg_at_k(gains, k) / dcg_at_k(ideal, k)


def recall_at_k(ranking: Sequence[str], qrels: Mapping[str, float], k: int = 10) -> float:
    """Fraction of the relevant documents found in the first ``k`` (``[0, 1]``).

    Raises:
        ValueError: ``k < 1``, or ``qrels`` has no relevant document.
    """
    if k < 1:
        raise InvalidInputError(f"k must be >= 1, got {k}")
    relevant = {doc for doc, g in qrels.items() if g > 0}
    if not relevant:
        raise InvalidInputError("recall is undefined for a query with no relevant document")
    return len(relevant.intersection(_dedupe(ranking)[:k])) / len(relevant)


def mrr_at_k(ranking: Sequence[str], qrels: Mapping[str, float], k: int = 10) -> float:
    """Reciprocal rank of the first relevant document within the first ``k`` (0 when none is there).

    Raises:
        ValueError: ``k < 1``.
    """
    if k < 1:
        raise InvalidInputError(f"k must be >= 1, got {k}")
    for rank, doc in enumerate(_dedupe(ranking)[:k], 1):
        if qrels.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def evaluate_rankings(
    rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, float]], k: int = 10
) -> dict[str, float]:
    """Mean nDCG@k, Recall@k and MRR@k over the judged queries that have a relevant document.

    Args:
        rankings: ``{query_id: [doc_id, ...]}`` best first; a judged query missing here scores 0.
        qrels: ``{query_id: {doc_id: relevance}}``.
        k: cutoff.

    Returns:
        ``{"ndcg@k": ..., "recall@k": ..., "mrr@k": ..., "queries": n}`` (``n`` queries averaged over).

    Raises:
        ValueError: no judged query has a relevant document.
    """
    totals = {"ndcg": 0.0, "recall": 0.0, "mrr": 0.0}
    n = 0
    for qid, judged in qrels.items():
        if not any(g > 0 for g in judged.values()):
            continue
        ranking = rankings.get(qid, [])
        totals["ndcg"] += ndcg_at_k(ranking, judged, k)
        totals["recall"] += recall_at_k(ranking, judged, k)
        totals["mrr"] += mrr_at_k(ranking, judged, k)
        n += 1
    if n == 0:
        raise InvalidInputError("no judged query has a relevant document")
    return {
        f"ndcg@{k}": totals["ndcg"] / n,
        f"recall@{k}": totals["recall"] / n,
        f"mrr@{k}": totals["mrr"] / n,
        "queries": float(n),
    }
