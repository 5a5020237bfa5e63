"""Shared constants and helpers for the adapter tests (a module of its own: every test folder has a conftest)."""

from __future__ import annotations

from support.fakes import FakeDashScope

SECRET = "sk-adapter-test-secret-7f3a9c"


def transports(fake: FakeDashScope) -> dict:
    """Constructor arguments wiring an adapter to ``fake`` for sync and async calls, with retries off."""
    return dict(transport=fake.transport(), async_transport=fake.async_transport(), max_retries=0)
