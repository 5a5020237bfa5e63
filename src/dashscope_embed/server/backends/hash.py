"""The ``hash`` backend: fast, deterministic, not semantic.

Each vector comes from a hash of (text, text_type, instruct), so identical requests give identical vectors, a query
and a document of the same text give different vectors, and no two different texts are related. Use it for tests of
protocol behaviour and for load benchmarks, where a model's cost would only add noise.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from .base import CACHE_MAX_CHARS, apply_instruct
from .hashing import hash_vector

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
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def warmup(self) -> None:
        """Nothing to load."""

    def embed(self, texts: Sequence[str], *, text_type: str, instruct: str | None = None) -> np.ndarray:
        """Hash vectors of shape ``(len(texts), native_dim)``; see ``Backend.embed``."""
        out = np.empty((len(texts), self.native_dim), dtype=np.float32)
        for i, text in enumerate(texts):
            key = (apply_instruct(text, text_type, instruct), text_type)
            with self._lock:
                vector = self._cache.get(key)
                if vector is not None:
                    self._cache.move_to_end(key)
            if vector is None:
                vector = hash_vector(f"text\0{key[1]}\0{key[0]}".encode("utf-8", "surrogatepass"), self.native_dim)
                if len(key[0]) > CACHE_MAX_CHARS:
                    out[i] = vector
                    continue
                with self._lock:
                    self._cache[key] = vector
                    if len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
            out[i] = vector
        return out

