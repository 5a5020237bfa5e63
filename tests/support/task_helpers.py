"""Shared helpers of the asynchronous-task tests."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from dashscope_embed import DashScopeEmbedder
from dashscope_embed.batch.state import load_state, state_path_for
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


def recorded_task_ids(output: Path) -> int:
    """How many task ids the job writing ``output`` has saved in its state file so far (0 before the file exists).

    A test that inspects a running job waits on this, not on the service's submission count: the service counts a
    task before the job has written its id.
    """
    state = load_state(state_path_for(output))
    if state is None:
        return 0
    return sum(1 for shard in state.shards for attempt in shard.attempts if attempt.remote_id)


def realtime(service, items: list[str], text_type: str = "document") -> np.ndarray:
    """text-embedding-v2's real-time vectors (1536 dimensions, the same service) for the same texts."""
    faults = service.faults
    service.set_faults(None)
    try:
        with DashScopeEmbedder("text-embedding-v2", base_url=service.base_url) as engine:
            return engine.embed(items, text_type=text_type).dense
    finally:
        service.set_faults(faults)
