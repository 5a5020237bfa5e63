"""Fixtures for the adapter tests: a scriptable fake DashScope and a clean shared sparse cache."""

from __future__ import annotations


import pytest


from support.fakes import FakeDashScope

from dashscope_embed.hybrid import default_sparse_cache


@pytest.fixture(autouse=True)
def _clean_sparse_cache():
    """Every test starts with an empty shared sparse cache, so request counts do not depend on test order."""
    default_sparse_cache().clear()
    yield
    default_sparse_cache().clear()


@pytest.fixture
def fake() -> FakeDashScope:
    return FakeDashScope()
