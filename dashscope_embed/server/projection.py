"""Fixed, seeded orthonormal projections from a backend's native width to any dimension a model allows.

The matrices are blocks of a randomised orthonormal DCT (see ``_randomized_dct_block``), so they depend only on the seed
and the two widths, are built in milliseconds, and are exactly orthonormal up to float rounding.

Projecting up (384 -> 1024) uses a matrix with orthonormal rows, so inner products, norms and therefore cosine
similarities are preserved exactly (up to float32 rounding). Projecting down (512 -> 64) uses orthonormal columns,
a random subspace, and re-normalises; it costs a little retrieval quality, as a real model's smaller dimensions do.
"""

from __future__ import annotations

import threading

import numpy as np

__all__ = ["PROJECTION_SEED", "project", "projection_matrix", "warm_projections"]

#: Seed of every projection matrix: the same (native, target) pair gives the same matrix in every process.
PROJECTION_SEED = 20240917

_cache: dict[tuple[int, int], np.ndarray | None] = {}
_lock = threading.Lock()


def projection_matrix(native_dim: int, dim: int) -> np.ndarray | None:
    """The ``(native_dim, dim)`` projection matrix, or ``None`` when ``dim == native_dim`` (no projection).

    For ``dim > native_dim`` the rows are orthonormal (``P @ P.T == I``); for ``dim < native_dim`` the columns are
    (a random ``dim``-dimensional subspace).
    """
    key = (native_dim, dim)
    with _lock:
        if key in _cache:
            return _cache[key]
    if dim == native_dim:
        matrix = None
    else:
        n = max(native_dim, dim)
        rng = np.random.default_rng([PROJECTION_SEED, native_dim, dim])
        matrix = _randomized_dct_block(n, native_dim, dim, rng)
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    with _lock:
        _cache[key] = matrix
    return matrix


def _randomized_dct_block(n: int, n_rows: int, n_cols: int, rng: np.random.Generator) -> np.ndarray:
    """The top-left ``(n_rows, n_cols)`` block of a seeded ``(n, n)`` orthogonal matrix ``O``.

    ``O`` is the orthonormal DCT-II matrix with its rows and columns randomly permuted and sign-flipped (each step
    keeps it orthogonal), so a block of full width has orthonormal rows and a block of full height orthonormal
    columns. Only the block's cosines are computed: no LAPACK call (a QR of a Gaussian matrix would do as well, but
    multithreaded LAPACK on a busy two-core machine takes up to a second for it, on the request that first needs
    the dimension).
    """
    rows = rng.permutation(n)[:n_rows]
    cols = rng.permutation(n)[:n_cols]
    signs_r = rng.choice([-1.0, 1.0], size=n)[:n_rows, None]
    signs_c = rng.choice([-1.0, 1.0], size=n)[None, :n_cols]
    k = rows[:, None].astype(np.float64)
    block = np.cos(np.pi * (cols[None, :] + 0.5) * k / n) * np.where(k == 0, np.sqrt(1.0 / n), np.sqrt(2.0 / n))
    return block * signs_r * signs_c


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


def warm_projections(native_dim: int) -> None:
    """Build every matrix from ``native_dim`` to a dimension some catalog model allows (about 0.5 s in all)."""
    from ..catalog import CATALOG

    for dim in sorted({d for spec in CATALOG.values() for d in spec.dimensions}):
        projection_matrix(native_dim, dim)
