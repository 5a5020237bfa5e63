"""Fixed, seeded orthonormal projections from a backend's native width to any dimension a model allows.

Projecting up (384 -> 1024) uses a matrix with orthonormal rows, so inner products, norms and therefore cosine
similarities are preserved exactly (up to float32 rounding). Projecting down (512 -> 64) uses orthonormal columns,
a random subspace, and re-normalises; it costs a little retrieval quality, as a real model's smaller dimensions do.
"""

from __future__ import annotations

import threading

import numpy as np

__all__ = ["projection_matrix", "project", "PROJECTION_SEED"]

#: Seed of every projection matrix: the same (native, target) pair gives the same matrix in every process.
PROJECTION_SEED = 20240917

_cache: dict[tuple[int, int], np.ndarray | None] = {}
_lock = threading.Lock()


def projection_matrix(native_dim: int, dim: int) -> np.ndarray | None:
    """The ``(native_dim, dim)`` projection matrix, or ``None`` when ``dim == native_dim`` (no projection).

    For ``dim > native_dim`` the rows are orthonormal (``P @ P.T == I``); for ``dim < native_dim`` the columns are.
    """
    key = (native_dim, dim)
    with _lock:
        if key in _cache:
            return _cache[key]
    if dim == native_dim:
        matrix = None
    else:
        rng = np.random.default_rng([PROJECTION_SEED, native_dim, dim])
        big, small = max(native_dim, dim), min(native_dim, dim)
        q, r = np.linalg.qr(rng.standard_normal((big, small)))
        # Fix the sign of each column so the matrix does not depend on the LAPACK build's QR conventions.
        q *= np.sign(np.diag(r))
        matrix = (q if dim < native_dim else q.T).astype(np.float32)
        matrix = np.ascontiguousarray(matrix)
    with _lock:
        _cache[key] = matrix
    return matrix


def project(vectors: np.ndarray, dim: int) -> np.ndarray:
    """Project L2-normalised ``(n, native_dim)`` vectors to ``(n, dim)`` L2-normalised ``float32`` vectors."""
    matrix = projection_matrix(vectors.shape[1], dim)
    if matrix is None:
        out = np.array(vectors, dtype=np.float32, copy=True)
    else:
        vectors = vectors.astype(np.float32, copy=False)
        out = np.empty((vectors.shape[0], dim), dtype=np.float32)
        # Row by row: a batched matmul picks BLAS kernels by batch size and rounds differently, and the same text
        # must get the same bits whatever else is in its request.
        for i in range(vectors.shape[0]):
            np.matmul(vectors[i], matrix, out=out[i])
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    out /= np.maximum(norms, 1e-12)
    return np.ascontiguousarray(out, dtype=np.float32)
