"""The backend contract: turn texts into L2-normalised vectors of a fixed native dimension.

A backend knows nothing about DashScope: the service validates requests against the catalog, then asks the backend
for vectors at the backend's ``native_dim`` and projects them to the dimension the request asked for
(``dashscope_embed.server.projection``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["CACHE_MAX_CHARS", "Backend", "apply_instruct"]

#: Caches keyed by text skip texts longer than this many characters: a cache of long texts would hold too much
#: memory, and repeated texts in benchmarks and retries are short chunks.
CACHE_MAX_CHARS = 4096


@runtime_checkable
class Backend(Protocol):
    """What the service needs from an embedding backend.

    Attributes:
        name: the short name used on the command line (``"hash"``, ``"e5"``, ``"use"``).
        native_dim: the width of the vectors ``embed`` returns.
        blocking: ``True`` when ``embed`` is slow enough (a neural model) that the service must run it in a worker
            thread instead of on the event loop.
        semantic: ``True`` when similar texts get similar vectors (a real model); ``False`` for the hash backend.
        description: one line for the startup message.
    """

    name: str
    native_dim: int
    blocking: bool
    semantic: bool
    description: str

    def embed(self, texts: Sequence[str], *, text_type: str, instruct: str | None = None) -> np.ndarray:
        """Embed ``texts``.

        Args:
            texts: the texts, non-empty strings.
            text_type: ``"query"`` or ``"document"`` (DashScope's ``parameters.text_type``).
            instruct: a task instruction; backends apply it to query texts only (as text-embedding-v4 does).

        Returns:
            ``float32`` array of shape ``(len(texts), native_dim)``, each row L2-normalised.

        Must be safe to call from several threads at once.
        """
        ...

    def warmup(self) -> None:
        """Load whatever the backend loads lazily (model weights), so the first request is not slow."""
        ...


def apply_instruct(text: str, text_type: str, instruct: str | None) -> str:
    """The text a backend embeds: ``instruct`` is prepended to query texts, and ignored for documents.

    text-embedding-v4 documents ``instruct`` as a query-side task description; the local backends have no
    instruction channel, so the instruction becomes part of the query text.
    """
    if instruct and text_type == "query":
        return f"{instruct}\n{text}"
    return text
