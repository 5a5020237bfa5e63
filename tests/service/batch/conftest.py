"""Fixtures for the Batch File API tests: one hash-backend local service, reset before every test."""

from __future__ import annotations

import pytest
from support.batch_helpers import set_limits

from dashscope_embed.batch.limits import LIMITS
from dashscope_embed.server import LocalService


@pytest.fixture(scope="session")
def batch_service_session():
    with LocalService(backend="hash") as svc:
        yield svc


@pytest.fixture
def batch_service(batch_service_session, monkeypatch):
    """The shared service with no faults, zeroed counters, documented limits, and no DashScope settings."""
    for name in ("DASHSCOPE_API_KEY", "DASHSCOPE_BASE_URL", "DASHSCOPE_HTTP_BASE_URL", "DASHSCOPE_REGION",
                 "DASHSCOPE_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    svc = batch_service_session
    svc.set_faults(None)
    svc.reset_stats()
    yield svc
    svc.set_faults(None)
    set_limits(svc, LIMITS)
