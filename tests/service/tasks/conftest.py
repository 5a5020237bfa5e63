"""Fixtures of the asynchronous-task tests: one hash-backend local service, reset before every test."""

from __future__ import annotations

import pytest

from dashscope_embed.batch.tasks.limits import TASK_LIMITS
from dashscope_embed.server import LocalService


@pytest.fixture(scope="session")
def task_service_session():
    with LocalService(backend="hash") as svc:
        yield svc


@pytest.fixture
def task_service(task_service_session, monkeypatch):
    """The shared service with no faults, zeroed counters, documented limits and no DashScope settings."""
    for name in ("DASHSCOPE_API_KEY", "DASHSCOPE_BASE_URL", "DASHSCOPE_HTTP_BASE_URL", "DASHSCOPE_REGION",
                 "DASHSCOPE_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    svc = task_service_session
    svc.set_faults(None)
    svc.reset_stats()
    svc.app.tasks.limits = TASK_LIMITS
    svc.app.tasks.reset()
    svc.app.tasks.forget_finished()
    svc.app.uploads.reset()
    yield svc
    svc.set_faults(None)
    svc.app.tasks.limits = TASK_LIMITS
