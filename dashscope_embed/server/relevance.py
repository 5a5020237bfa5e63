"""The local service's rerank relevance: lexical overlap, deterministic, so a test can predict every ranking.

Not a semantic model, and not meant as one: the rerank endpoints are wire-faithful (limits, shapes, usage,
errors, faults) and score each (query, document) pair by the cosine of their sets of content words. A score depends
on its pair only, as a real rerank model's does, so a ranking split over several requests merges exactly.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

__all__ = ["terms", "relevance", "rank"]

# CJK characters count one by one (no spaces between words); other scripts by runs of word characters.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")
_STOPWORDS = frozenset(
    "a an and are as at be but by can do does for from how i if in is it its of on or so that the this to was "
    "what when where which who why will with you your".split()
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
    endpoints answer in."""
    q = terms(query)
    scored = [(i, _score(q, doc)) for i, doc in enumerate(documents)]
    scored.sort(key=lambda pair: (-pair[1], pair[0]))
    return scored
