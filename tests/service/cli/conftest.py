"""Fixtures for the command-line tests: a hash-backend local service on 127.0.0.1, reset before every test."""

from __future__ import annotations

import pytest

from dashscope_embed.server import LocalService


@pytest.fixture(scope="session")
def cli_service():
    with LocalService(backend="hash") as svc:
        yield svc


@pytest.fixture
def hash_service(cli_service, monkeypatch):
    """The shared hash service with no faults, zeroed counters, and no DashScope settings leaking in."""
    for name in ("DASHSCOPE_API_KEY", "DASHSCOPE_BASE_URL", "DASHSCOPE_HTTP_BASE_URL", "DASHSCOPE_REGION"):
        monkeypatch.delenv(name, raising=False)
    cli_service.set_faults(None)
    cli_service.reset_stats()
    yield cli_service
    cli_service.set_faults(None)
