"""Shared helpers of the asynchronous-task tests."""

from __future__ import annotations

import time

import numpy as np

from dashscope_embed import DashScopeEmbedder
from dashscope_embed.batch.tasks.client import TaskClient
from dashscope_embed.settings import resolve_connection

MODEL = "text-embedding-async-v2"


def texts(n: int, seed: int = 0) -> list[str]:
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    return [f"line {i}: " + " ".join(words[(i * 5 + j + seed) % len(words)] for j in range(1 + i % 4))
            for i in range(n)]


def client(service) -> TaskClient:
    return TaskClient(resolve_connection(base_url=service.base_url, api_key="sk-test"), max_retries=4)


def wait(task_client: TaskClient, task_id: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        reply = task_client.get(task_id)
        if reply["output"]["task_status"] in ("SUCCEEDED", "FAILED", "CANCELED"):
            return reply
        assert time.monotonic() < deadline, reply
        time.sleep(0.02)


def realtime(service, items: list[str], text_type: str = "document") -> np.ndarray:
    """text-embedding-v2's real-time vectors (1536 dimensions, the same service) for the same texts."""
    faults = service.faults
    service.set_faults(None)
    try:
        with DashScopeEmbedder("text-embedding-v2", base_url=service.base_url) as engine:
            return engine.embed(items, text_type=text_type).dense
    finally:
        service.set_faults(faults)
