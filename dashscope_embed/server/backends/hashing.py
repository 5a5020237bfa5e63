"""Deterministic pseudo-random unit vectors from bytes: the hash backend and the image/video vectors use it."""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["hash_vector", "hash_vectors"]


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


def hash_vectors(keys: list[bytes], dim: int) -> np.ndarray:
    """``hash_vector`` for several keys: ``float32`` array of shape ``(len(keys), dim)``."""
    out = np.empty((len(keys), dim), dtype=np.float32)
    for i, key in enumerate(keys):
        out[i] = hash_vector(key, dim)
    return out
