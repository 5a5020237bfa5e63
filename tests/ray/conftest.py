"""One local Ray cluster (2 CPUs) for the Ray tests, skipped with the reason when Ray Data is not installed."""

from __future__ import annotations

import os

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
