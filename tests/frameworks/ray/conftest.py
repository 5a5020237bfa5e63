"""One local Ray cluster (2 CPUs) for the Ray tests, skipped with the reason when Ray Data is not installed."""

from __future__ import annotations

import gc
import os
import time

import pytest

ray = pytest.importorskip("ray", reason="Ray Data is not installed (pip install 'dashscope-embed[ray]')")
pytest.importorskip("ray.data", reason="Ray Data is not installed (pip install 'dashscope-embed[ray]')")


@pytest.fixture(scope="module")
def ray_cluster():
    """A local cluster with 2 CPUs for one test module; shut down after it."""
    # The actors reach the local service on 127.0.0.1 only; no dashboard, no usage reporting.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield ray
    ray.shutdown()


@pytest.fixture(autouse=True)
def _actors_released(request):
    """After each test, wait until its actor pool has given its CPUs back, so the next test's pool can start.

    A failed job's actors go when the last reference to its executor does (the exception and its traceback
    hold one); collecting drops those references, and Ray then stops the actors asynchronously.
    """
    yield
    if "ray_cluster" not in request.fixturenames or not ray.is_initialized():
        return
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        gc.collect()
        if ray.available_resources().get("CPU", 0) >= ray.cluster_resources().get("CPU", 0):
            return
        time.sleep(0.5)
    pytest.fail(f"Ray actors still hold CPUs a minute after the test: {ray.available_resources()}")
