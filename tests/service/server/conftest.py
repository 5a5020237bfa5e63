"""Fixtures for the local service tests: one hash-backend service per session, reset before every test."""

from __future__ import annotations

import httpx
import pytest



@pytest.fixture
def service(hash_service):
    """The shared hash service with no faults and zeroed statistics."""
    return hash_service


@pytest.fixture
def client(service):
    with httpx.Client(base_url=service.base_url, timeout=10) as c:
        yield c
