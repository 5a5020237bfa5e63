"""Fixtures for the local service tests: one hash-backend service per session, reset before every test."""

from __future__ import annotations

import httpx
import pytest

from dashscope_embed.server import LocalService


@pytest.fixture(scope="session")
def shared_service():
    with LocalService(backend="hash") as svc:
        yield svc


@pytest.fixture
def service(shared_service):
    """The shared hash service with no faults and zeroed statistics."""
    shared_service.set_faults(None)
    shared_service.reset_stats()
    yield shared_service
    shared_service.set_faults(None)


@pytest.fixture
def client(service):
    with httpx.Client(base_url=service.base_url, timeout=10) as c:
        yield c
