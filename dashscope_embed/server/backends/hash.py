"""The ``hash`` backend: fast, deterministic, not semantic.

Each vector comes from a hash of (text, text_type, instruct), so identical requests give identical vectors, a query
and a document of the same text give different vectors, and no two different texts are related. Use it for tests of
protocol behaviour and for load benchmarks, where a model's cost would only add noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...lru import LRUCache
from .base import CACHE_MAX_CHARS, apply_instruct
from .seeded import hash_vector

__all__ = ["HashBackend"]


class HashBackend:
    """Vectors from a seeded hash of the text (see the module docstring).

    Args:
        native_dim: width of the vectors before projection to the requested dimension.
        cache_size: how many (text, mode) vectors to keep; repeated texts then cost a dictionary look-up.
    """

    name = "hash"
    blocking = False
    semantic = False
    description = "deterministic hash vectors (not semantic)"

    def __init__(self, native_dim: int = 256, cache_size: int = 16384) -> None:
        self.native_dim = native_dim
        self._cache: LRUCache[np.ndarray] = LRUCache(cache_size)

    def warmup(self) -> None:
        """Nothing to load."""

    def embed(self, texts: Sequence[str], *, text_type: str, instruct: str | None = None) -> np.ndarray:
        """Hash vectors of shape ``(len(texts), native_dim)``; see ``Backend.embed``."""
        out = np.empty((len(texts), self.native_dim), dtype=np.float32)
        keys = [(apply_instruct(text, text_type, instruct), text_type) for text in texts]
        fresh = []
        for i, (key, vector) in enumerate(zip(keys, self._cache.get_many(keys), strict=True)):
            if vector is None:
                vector = hash_vector(f"text\0{key[1]}\0{key[0]}".encode("utf-8", "surrogatepass"), self.native_dim)
                if len(key[0]) <= CACHE_MAX_CHARS:
                    fresh.append((key, vector))
            out[i] = vector
        self._cache.put_many(fresh)
        return out
