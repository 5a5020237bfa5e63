"""Vectors at the requested dimension: backend vectors (texts) or hash vectors (images, videos), projected."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from starlette.concurrency import run_in_threadpool

from .backends.base import Backend
from .backends.seeded import hash_vector
from .projection import project

__all__ = ["media_vector", "native_text_vectors", "text_vectors"]


async def native_text_vectors(
    backend: Backend, texts: Sequence[str], *, text_type: str, instruct: str | None = None
) -> np.ndarray:
    """The backend's ``(n, native_dim)`` vectors, computed off the event loop when the backend is a model."""
    if backend.blocking:
        return await run_in_threadpool(backend.embed, list(texts), text_type=text_type, instruct=instruct)
    return backend.embed(list(texts), text_type=text_type, instruct=instruct)


async def text_vectors(
    backend: Backend, texts: Sequence[str], *, text_type: str, instruct: str | None, dimension: int
) -> np.ndarray:
    """``float32`` array ``(len(texts), dimension)``, rows L2-normalised."""
    native = await native_text_vectors(backend, texts, text_type=text_type, instruct=instruct)
    return project(native, dimension)


def media_vector(kind: str, content: bytes, native_dim: int) -> np.ndarray:
    """A deterministic, non-semantic ``(native_dim,)`` unit vector for an image or video.

    Args:
        kind: ``"image"`` or ``"video"`` (the same bytes give different vectors as an image and as a video).
        content: the decoded bytes of a data URI, or the URL string encoded as UTF-8.
        native_dim: the backend's native width, so media and text vectors live in one space and project alike.
    """
    return hash_vector(kind.encode() + b"\0" + content, native_dim)
