"""Shared machinery of the neural backends: lazy, thread-safe loading, serialised inference, a vector cache."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...lru import LRUCache
from .base import CACHE_MAX_CHARS, apply_instruct

__all__ = ["ModelBackend"]


class ModelBackend:
    """Base class for backends that wrap an in-process model.

    Subclasses set ``name``, ``native_dim``, ``description`` and implement ``_load()`` (returns the model) and
    ``_encode(model, texts, text_type)`` (returns an ``(n, native_dim)`` array). The model loads once, on first use,
    under a lock; inference is serialised because the wrapped engines are not documented as thread-safe and already
    use every core they are given. Vectors are cached per (text, mode) so repeated texts (benchmarks, retries) are
    free.

    Args:
        threads: CPU threads the model may use.
        cache_size: how many vectors to keep.
    """

    name = "model"
    native_dim = 0
    blocking = True
    semantic = True
    description = ""
    #: whether query and document texts go through different model modes (cache keys then include the mode).
    asymmetric = True

    def __init__(self, threads: int = 2, cache_size: int = 16384) -> None:
        self.threads = threads
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._cache: LRUCache[np.ndarray] = LRUCache(cache_size)

    def _load(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _encode(self, model: Any, texts: list[str], text_type: str) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def model(self) -> Any:
        """The loaded model (loading it on first call; safe from any thread)."""
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def warmup(self) -> None:
        """Load the model now."""
        self.model()

    def embed(self, texts: Sequence[str], *, text_type: str, instruct: str | None = None) -> np.ndarray:
        """Model vectors of shape ``(len(texts), native_dim)``, L2-normalised; see ``Backend.embed``."""
        mode = text_type if self.asymmetric else ""
        keys = [(apply_instruct(t, text_type, instruct), mode) for t in texts]
        out = np.empty((len(keys), self.native_dim), dtype=np.float32)
        missing: dict[tuple[str, str], list[int]] = {}
        for i, (key, vector) in enumerate(zip(keys, self._cache.get_many(keys), strict=True)):
            if vector is None:
                missing.setdefault(key, []).append(i)
            else:
                out[i] = vector
        if missing:
            todo = list(missing)
            model = self.model()
            with self._run_lock:
                vectors = np.asarray(self._encode(model, [k[0] for k in todo], text_type), dtype=np.float32)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.maximum(norms, 1e-12)
            for key, vector in zip(todo, vectors, strict=True):
                for i in missing[key]:
                    out[i] = vector
            self._cache.put_many((k, v) for k, v in zip(todo, vectors, strict=True) if len(k[0]) <= CACHE_MAX_CHARS)
        return out
