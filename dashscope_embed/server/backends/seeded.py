"""Seeded unit vectors from bytes (deterministic, not semantic): the hash backend and the image/video vectors."""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["hash_vector"]


def hash_vector(key: bytes, dim: int) -> np.ndarray:
    """A unit vector determined only by ``key`` and ``dim``.

    Args:
        key: any bytes (a text with its mode, an image's bytes, a URL).
        dim: the vector width.

    Returns:
        ``float32`` array of shape ``(dim,)`` with L2 norm 1: Gaussian coordinates from a generator seeded with a
        BLAKE2b digest of ``key``, so equal keys give equal vectors in every process and on every platform.
    """
    seed = int.from_bytes(hashlib.blake2b(key, digest_size=16).digest(), "little")
    vector = np.random.default_rng(seed).standard_normal(dim)
    vector /= np.linalg.norm(vector)
    return vector.astype(np.float32)
