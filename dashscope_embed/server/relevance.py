"""The local service's rerank relevance: the one definition of how a (query, document) pair is scored.

Two scorers, both deterministic and both functions of the pair only (as a real rerank model's score is), so a
ranking split over several requests merges exactly:

- ``relevance``: lexical, the cosine of the pair's sets of content words. The service uses it with a backend that
  is not a model (``hash``, ``Backend.semantic`` false), so a test can predict every ranking.
- ``blend``: with a model backend (``e5``, ``use``), ``MODEL_WEIGHT`` x the model's cosine of the query's
  query-side vector and the document's document-side vector (``text_type`` query / document), clipped to ``[0, 1]``,
  plus ``1 - MODEL_WEIGHT`` x ``relevance``. The vectors come from ``model_relevance``.

Neither is qwen3-rerank (a cross-encoder); the blend makes ``eval --local --rerank`` a fair stand-in: on the judged
``python_faq`` set it ranks at least as well as the e5 retrieval it reranks (figures in ``MODEL_WEIGHT``'s comment).
The lexical term is the pair-only overlap, not BM25, because BM25's document frequencies would depend on which other
documents share the request.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

__all__ = ["MODEL_WEIGHT", "blend", "order", "rank", "relevance", "terms"]

# CJK characters count one by one (no spaces between words); other scripts by runs of word characters.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")
#: The model's share of ``blend``, tuned on python_faq.json (the only judged set here; benchmarks/rerank_blend.py):
#: reranking e5's top 50 gives nDCG@10 0.5662 at 0 (overlap alone), 0.8202 at 0.8, 0.8366 at 0.9, 0.8371 at 0.95,
#: 0.8254 at 1 (e5 alone). e5's cosines over a query's top 50 span about 0.06 (median; the first two 0.017 apart), so
#: 0.05 of overlap in [0, 1] settles near-ties for passages sharing the question's words. 0.95 beats e5 alone on both
#: halves of the queries; picked on one half, the weight gains 0.017 on the other half one way round and loses 0.006
#: the other, so the gain is small and partly fitted. Tuned with e5; the same weight applies to ``use``.
MODEL_WEIGHT = 0.95

_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "so",
        "that",
        "the",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


def terms(text: str) -> frozenset[str]:
    """The content words of ``text``: lower-cased word runs (single CJK characters), without English stopwords."""
    return frozenset(w for w in _TOKEN.findall(text.lower()) if w not in _STOPWORDS)


def relevance(query: str, document: str) -> float:
    """``|Q & D| / sqrt(|Q| |D|)`` over the content-word sets of the pair, rounded to 6 decimals, in ``[0, 1]``
    (0.0 when either side has no content word)."""
    return _score(terms(query), document)


def _score(q: frozenset[str], document: str) -> float:
    d = terms(document)
    if not q or not d:
        return 0.0
    return round(len(q & d) / math.sqrt(len(q) * len(d)), 6)


def rank(query: str, documents: Sequence[str]) -> list[tuple[int, float]]:
    """``(index, relevance)`` of every document, by relevance descending, ties by lower index: the order the rerank
    endpoints answer in (lexical scorer)."""
    q = terms(query)
    return order([_score(q, doc) for doc in documents])


def blend(cosine: float, lexical: float, weight: float = MODEL_WEIGHT) -> float:
    """The model-backed score of a pair, rounded to 6 decimals, in ``[0, 1]``.

    Args:
        cosine: the model's cosine of the query vector (query side) and the document vector (document side), in
            ``[-1, 1]``; clipped to ``[0, 1]`` (a negative cosine is no evidence of relevance).
        lexical: ``relevance(query, document)``, in ``[0, 1]``.
        weight: the model's share, in ``[0, 1]`` (default ``MODEL_WEIGHT``).
    """
    return round(weight * min(max(cosine, 0.0), 1.0) + (1.0 - weight) * lexical, 6)


def order(scores: Sequence[float]) -> list[tuple[int, float]]:
    """``(index, score)`` by score descending, ties by lower index: the order the rerank endpoints answer in."""
    ranked = list(enumerate(scores))
    ranked.sort(key=lambda pair: (-pair[1], pair[0]))
    return ranked
