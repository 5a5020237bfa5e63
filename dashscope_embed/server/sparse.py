"""Sparse vectors in DashScope's shape, from real Qwen tokenizer tokens.

text-embedding-v3/v4 return, with ``output_type`` ``"sparse"`` or ``"dense&sparse"``, a list
``[{"index": token_id, "value": weight, "token": token_text}, ...]`` per text. Here the index and token are the
Qwen tokenizer's (``dashscope_embed.tokens``), one entry per distinct token, and the weight is a log-scaled term
frequency, L2-normalised per text: deterministic and lexical (BM25-like), not the learned weights of the real model.
"""

from __future__ import annotations

import math
from collections import Counter

from .. import tokens
from ..lru import LRUCache
from .backends.base import CACHE_MAX_CHARS

__all__ = ["sparse_embedding"]

_cache: LRUCache[list[dict[str, object]]] = LRUCache(16384)


def sparse_embedding(text: str) -> list[dict[str, object]]:
    """The sparse vector of ``text``: ``[{"index": int, "value": float, "token": str}, ...]``.

    Entries are ordered by first occurrence; tokens that decode to whitespace only carry no term and are left out.
    Values are ``(1 + ln tf) / norm`` rounded to 6 digits, where the norm makes the vector's L2 norm 1.
    """
    hit = _cache.get(text)
    if hit is not None:
        return hit
    counts = Counter(tokens.encode(text))
    pieces = []
    for token_id, tf in counts.items():
        piece = tokens.decode([token_id])
        if piece.strip():
            pieces.append((token_id, piece, 1.0 + math.log(tf)))
    norm = math.sqrt(sum(w * w for _, _, w in pieces)) or 1.0
    result = [{"index": tid, "value": round(w / norm, 6), "token": piece} for tid, piece, w in pieces]
    if len(text) > CACHE_MAX_CHARS:
        return result
    _cache.put(text, result)
    return result
