"""Fixtures for the adapter tests: a scriptable fake DashScope, local services, a clean sparse cache."""

from __future__ import annotations

import pytest

from dashscope_embed.hybrid import default_sparse_cache
from fakes import FakeDashScope

SECRET = "sk-adapter-test-secret-7f3a9c"


@pytest.fixture(autouse=True)
def _clean_sparse_cache():
    """Every test starts with an empty shared sparse cache, so request counts do not depend on test order."""
    default_sparse_cache().clear()
    yield
    default_sparse_cache().clear()


@pytest.fixture
def fake() -> FakeDashScope:
    return FakeDashScope()


def transports(fake: FakeDashScope) -> dict:
    """Constructor arguments wiring an adapter to ``fake`` for sync and async calls, with fast retries off."""
    return dict(transport=fake.transport(), async_transport=fake.async_transport(), max_retries=0)
