"""Shared helpers of the Batch File API tests."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow.parquet as pq

from dashscope_embed import DashScopeEmbedder
from dashscope_embed.batch.limits import LIMITS


def texts(n: int, seed: int = 0) -> list[str]:
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    return [f"row {i}: " + " ".join(words[(i * 7 + j + seed) % len(words)] for j in range(1 + i % 5))
            for i in range(n)]


def dense(path, dim: int) -> np.ndarray:
    table = pq.read_table(path)
    return np.asarray(table.column("dense").combine_chunks().flatten().to_numpy()).reshape(table.num_rows, dim)


def realtime(service, items: list[str], dim: int) -> np.ndarray:
    """The real-time path's vectors (native protocol) for the same texts, with faults off."""
    faults = service.faults
    service.set_faults(None)
    try:
        with DashScopeEmbedder(base_url=service.base_url, dimensions=dim) as engine:
            return engine.embed(items).dense
    finally:
        service.set_faults(faults)


def billed_once(service) -> None:
    """No text billed twice, no two batches of the same name (the same shard and attempt)."""
    billed = service.stats.batch_texts_billed
    assert billed and max(billed.values()) == 1
    names = service.stats.batch_names
    assert names and max(names.values()) == 1, names


def set_limits(svc, limits) -> None:
    """Give the service's Files and Batches endpoints other limits (they read them on every request)."""
    svc.app.batch_api.limits = limits
    svc.app.batch_api.files.limits = limits
    svc.app.batch_api.reset_rate_window()


def smaller(**changes):
    """The documented limits with some made small, so a test can reach them cheaply."""
    return dataclasses.replace(LIMITS, **changes)
