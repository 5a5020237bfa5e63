"""Where a job's requests go: the real DashScope service, a given base URL, or the local service in-process.

Precedence: ``--local`` (start ``dashscope_embed.server.LocalService`` on 127.0.0.1 for the job's lifetime) >
``--base-url`` / ``DASHSCOPE_BASE_URL`` > the real service with ``DASHSCOPE_API_KEY``. With none of them the job
stops before sending anything, with a message that names the three ways out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import NoCredentialsError
from ..settings import environment_defaults

__all__ = ["Endpoint", "NoCredentialsError", "resolve_endpoint", "NO_CREDENTIALS"]

NO_CREDENTIALS = (
    "no DASHSCOPE_API_KEY and no --base-url: set DASHSCOPE_API_KEY to use DashScope "
    "(https://help.aliyun.com/en/model-studio/get-api-key), point --base-url at a DashScope-compatible service, "
    "or add --local to start the local service in-process (--backend hash: fast, not semantic; "
    "--backend e5: semantic, about 15 texts/s on 2 cores)"
)


@dataclass(frozen=True)
class Endpoint:
    """The resolved destination.

    Attributes:
        base_url: the root to pass to ``DashScopeEmbedder(base_url=...)``; ``None`` means the engine's default
            (``DASHSCOPE_BASE_URL`` or the region's public root).
        local_backend: the in-process service's backend name when ``--local`` started one, else ``None``.
        description: one line for the user: where requests go.
    """

    base_url: str | None
    local_backend: str | None
    description: str


@contextlib.contextmanager
def resolve_endpoint(
    *,
    base_url: str | None = None,
    local: bool = False,
    backend: str = "e5",
    require_credentials: bool = True,
) -> Iterator[Endpoint]:
    """Yield the ``Endpoint`` for a job; a local service started here stops when the block ends.

    Args:
        base_url: an explicit root (``--base-url``).
        local: start the local service in-process (``--local``).
        backend: the local service's backend (``hash``, ``e5`` or ``use``).
        require_credentials: raise when nothing is configured (``False``: fall back to the local service instead,
            as the demo does).

    Raises:
        NoCredentialsError: nothing configured and ``require_credentials``.
        ValueError: unknown backend.
    """
    env = environment_defaults()
    env_base = env.get("base_url")
    if not local and not base_url and not env_base and "api_key" not in env:
        if require_credentials:
            raise NoCredentialsError(NO_CREDENTIALS)
        local = True
    if local:
        from ..server import LocalService  # the server's dependencies load only when it is used

        with LocalService(backend=backend) as service:
            yield Endpoint(
                service.base_url,
                backend,
                f"local service in-process at {service.base_url} (backend {backend!r}: "
                f"{service.app.backend.description})",
            )
        return
    if base_url:
        yield Endpoint(base_url, None, f"service at {base_url}")
    elif env_base:
        yield Endpoint(None, None, f"service at {env_base} (DASHSCOPE_BASE_URL)")
    else:
        yield Endpoint(None, None, "DashScope (DASHSCOPE_API_KEY)")
