"""A bounded, thread-safe least-recently-used map: ``cachetools.LRUCache`` under one lock.

Used wherever this package keeps vectors per text (the hybrid sparse cache, the local service's backends), so
bounding, eviction and locking are written once.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable, Sequence
from typing import Generic, TypeVar

from cachetools import LRUCache as _LRU

from .errors import InvalidInputError

__all__ = ["LRUCache"]

V = TypeVar("V")


class LRUCache(Generic[V]):
    """At most ``max_entries`` values; the least recently used go first. Safe to share between threads.

    Args:
        max_entries: capacity in entries (>= 1).

    Attributes:
        hits / misses: lookups answered / not answered since creation or ``clear()``.

    Raises:
        InvalidInputError: ``max_entries`` < 1 or not an int.
    """

    def __init__(self, max_entries: int) -> None:
        if not isinstance(max_entries, int) or isinstance(max_entries, bool) or max_entries < 1:
            raise InvalidInputError(f"max_entries must be an int >= 1, got {max_entries!r}")
        self.max_entries = max_entries
        self._data: _LRU = _LRU(maxsize=max_entries)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_many(self, keys: Sequence[Hashable]) -> list[V | None]:
        """The value for each key, ``None`` where absent; counts hits and misses and refreshes the hits."""
        out: list[V | None] = []
        with self._lock:
            for key in keys:
                value = self._data.get(key)
                if value is None:
                    self.misses += 1
                else:
                    self.hits += 1
                out.append(value)
        return out

    def get(self, key: Hashable) -> V | None:
        """The value for ``key``, or ``None``."""
        return self.get_many([key])[0]

    def put_many(self, items: Iterable[tuple[Hashable, V]]) -> None:
        """Store each ``(key, value)``, evicting the least recently used beyond ``max_entries``."""
        with self._lock:
            for key, value in items:
                self._data[key] = value

    def put(self, key: Hashable, value: V) -> None:
        """Store one value."""
        self.put_many([(key, value)])

    def clear(self) -> None:
        """Forget every value and zero the counters."""
        with self._lock:
            self._data.clear()
            self.hits = 0
            self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(entries={len(self)}, max_entries={self.max_entries}, "
            f"hits={self.hits}, misses={self.misses})"
        )
