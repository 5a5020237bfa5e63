"""Embedding backends of the local service, by name: ``hash`` (fast, not semantic), ``e5`` (semantic default),
``use`` (faster, weaker). Add one with ``register_backend``.

Each named backend is created once per process (``get_backend``), so a model loads once however many services run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ...errors import InvalidInputError
from .base import Backend, apply_instruct
from .e5 import E5Backend
from .hash import HashBackend
from .use import USEBackend

__all__ = [
    "BACKENDS",
    "Backend",
    "E5Backend",
    "HashBackend",
    "USEBackend",
    "apply_instruct",
    "get_backend",
    "register_backend",
]

#: name -> factory (called once per process, with no arguments).
BACKENDS: dict[str, Callable[[], Backend]] = {
    "hash": HashBackend,
    "e5": E5Backend,
    "use": USEBackend,
}

_instances: dict[str, Backend] = {}
_lock = threading.Lock()


def register_backend(name: str, factory: Callable[[], Backend]) -> None:
    """Make ``factory()`` available as backend ``name`` (replacing any earlier one of that name)."""
    with _lock:
        BACKENDS[name] = factory
        _instances.pop(name, None)


def get_backend(backend: str | Backend) -> Backend:
    """The process-wide instance of a named backend, or ``backend`` itself when it is already an instance.

    Raises:
        ValueError: the name is unknown (the message lists the known names).
    """
    if not isinstance(backend, str):
        return backend
    with _lock:
        instance = _instances.get(backend)
        if instance is None:
            factory = BACKENDS.get(backend)
            if factory is None:
                raise InvalidInputError(f"unknown backend {backend!r}; known: {', '.join(sorted(BACKENDS))}")
            instance = factory()
            _instances[backend] = instance
        return instance
