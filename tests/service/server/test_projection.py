"""Projection to the requested dimension: exact for larger dimensions, seeded, orthonormal."""

from __future__ import annotations

import numpy as np
import pytest

from dashscope_embed.catalog import CATALOG
from dashscope_embed.server.projection import project, projection_matrix

DIMS = sorted({d for spec in CATALOG.values() for d in spec.dimensions})


def unit_rows(n, d, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("native", [256, 384, 512])
def test_matrices_are_orthonormal_for_every_catalog_dimension(native):
    for dim in DIMS:
        m = projection_matrix(native, dim)
        if dim == native:
            assert m is None
            continue
        assert m.shape == (native, dim) and m.dtype == np.float32
        gram = m @ m.T if dim > native else m.T @ m
        assert np.abs(gram - np.eye(gram.shape[0])).max() < 1e-5


@pytest.mark.parametrize("native, dim", [(384, 1024), (384, 2560), (512, 1536), (256, 2048), (384, 768)])
def test_projecting_up_preserves_cosines_exactly(native, dim):
    x = unit_rows(40, native)
    y = project(x, dim)
    assert y.shape == (40, dim)
    assert np.allclose(np.linalg.norm(y, axis=1), 1.0, atol=1e-6)
    assert np.abs(x @ x.T - y @ y.T).max() < 2e-6


def test_projecting_down_keeps_unit_norm_and_the_geometry_of_clustered_vectors():
    # Embeddings are clustered, not uniform: within-topic cosines are high, across-topic ones low.
    rng = np.random.default_rng(1)
    centers = rng.standard_normal((6, 512))
    x = (np.repeat(centers, 10, axis=0) + 0.6 * rng.standard_normal((60, 512))).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = project(x, 128)
    assert np.allclose(np.linalg.norm(y, axis=1), 1.0, atol=1e-6)
    off = ~np.eye(60, dtype=bool)
    assert np.corrcoef((x @ x.T)[off], (y @ y.T)[off])[0, 1] > 0.9
    nearest = lambda m: np.argmax(np.where(off, m @ m.T, -2), axis=1) // 10
    assert np.mean(nearest(x) == nearest(y)) > 0.95  # the nearest neighbour stays in the same cluster


def test_projection_is_fixed_and_independent_of_batch():
    x = unit_rows(7, 384, seed=3)
    a = project(x, 1024)
    b = np.vstack([project(x[i : i + 1], 1024) for i in range(7)])
    assert np.array_equal(a, b)
    m = projection_matrix(384, 1024)
    assert np.array_equal(m, projection_matrix(384, 1024))
    assert not np.allclose(projection_matrix(384, 1024)[:, :512], projection_matrix(384, 512))


def test_same_dimension_is_identity():
    x = unit_rows(3, 384)
    assert np.allclose(project(x, 384), x, atol=1e-7)
