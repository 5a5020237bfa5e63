"""Running the service: ``serve`` (blocking, for the command line) and ``LocalService`` (a background thread).

Both listen on 127.0.0.1 unless told otherwise: the service has no real authentication and is meant for the local
machine only.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from typing import Any

import uvicorn

from ..errors import InvalidInputError, LocalServiceError
from ..settings import is_loopback_url
from .app import ServiceApp, create_app
from .backends import Backend
from .faults import FaultConfig
from .projection import warm_projections
from .stats import ServiceStats

__all__ = ["LocalService", "serve", "startup_line"]


def startup_line(app: ServiceApp, base_url: str) -> str:
    """The one line ``serve`` prints: where, which backend, and that image/video vectors are not semantic."""
    backend = app.backend
    return (
        f"dashscope-embed local service at {base_url} (native: {base_url}/api/v1, OpenAI-compatible: "
        f"{base_url}/compatible-mode/v1); backend {backend.name!r}: {backend.description}; "
        "image/video vectors are deterministic hashes of the bytes or URL, not semantic."
    )


def _bind(host: str, port: int) -> socket.socket:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        # the socket layer would raise OverflowError (or TypeError), outside the package's exception tree
        raise InvalidInputError(f"port must be an int from 0 to 65535 (0 picks a free one), got {port!r}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and accepted sockets
    # inherit the listener's proto. With proto 0, every keep-alive reply waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _config(app: ServiceApp, log_level: str, **kwargs: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        # Keep-alive long enough for benchmarks that pause between bursts; a short graceful timeout so stopping
        # never hangs on an idle pooled client connection.
        timeout_keep_alive=30,
        timeout_graceful_shutdown=3,
        **kwargs,
    )


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    backend: str | Backend = "e5",
    faults: FaultConfig | None = None,
    api_key: str | None = None,
    log_level: str = "warning",
) -> None:
    """Run the service in the foreground until interrupted (the ``dashscope-embed serve`` command).

    Prints one startup line naming the backend and saying that image/video vectors are not semantic. The backend's
    model loads before the port opens, so the first request is not slow.

    Args:
        host: interface to listen on; the default accepts local connections only.
        port: TCP port (0 picks a free one).
        backend: ``"e5"`` (semantic, default), ``"use"`` (faster, weaker) or ``"hash"`` (not semantic).
        faults: faults to inject (see ``FaultConfig``).
        api_key: when set, requests must carry ``Authorization: Bearer <api_key>``.
        log_level: uvicorn's log level.

    Without ``api_key`` on an interface other than loopback, a warning goes to stderr: the service would answer
    anyone who can reach it.

    Raises:
        InvalidInputError (a ValueError): unknown backend, a port outside 0..65535. OSError: the port is taken or
        the host cannot be bound (the operating system's error, left as it is).
    """
    if api_key is None and not is_loopback_url(f"http://{'[' + host + ']' if ':' in host else host}"):
        # The service accepts any request without a key: on a reachable interface that is an open endpoint.
        print(
            f"warning: listening on {host} without --api-key: anyone who can reach this interface can use the "
            "service; pass --api-key KEY (clients send it as Authorization: Bearer KEY) or bind to 127.0.0.1",
            file=sys.stderr,
            flush=True,
        )
    app = create_app(backend=backend, faults=faults, api_key=api_key)
    _warm(app)
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    print(startup_line(app, f"http://{shown}:{bound}"), flush=True)
    server = uvicorn.Server(_config(app, log_level))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def _warm(app: ServiceApp) -> None:
    """Load the backend and the tokenizer now, and build the projection matrices on a side thread, so that first
    requests are not slow."""
    from .. import tokens

    app.backend.warmup()
    tokens.get_tokenizer()
    threading.Thread(target=warm_projections, args=(app.backend.native_dim,), daemon=True).start()


class LocalService:
    """The service on a background thread, for tests, notebooks and the demo.

    Usage::

        with LocalService(backend="hash") as svc:
            httpx.post(f"{svc.base_url}/compatible-mode/v1/embeddings", json={...})
            assert svc.stats.ok == 1

    Args:
        backend: ``"hash"`` (default: fast), ``"e5"``, ``"use"``, or a ``Backend`` instance.
        faults: faults to inject from the start; change them with ``set_faults``.
        api_key: when set, requests must carry ``Authorization: Bearer <api_key>``.
        host: interface to listen on (127.0.0.1 by default).
        port: TCP port; 0 (default) picks a free one.
        start_timeout: seconds to wait for the server to accept connections.
        log_level: uvicorn's log level.

    Attributes:
        base_url: ``"http://127.0.0.1:PORT"`` once started (append ``/api/v1`` for the dashscope SDK,
            ``/compatible-mode/v1`` for the openai SDK).
        app: the ``ServiceApp``.

    Raises:
        RuntimeError: (``start``) the server did not come up within ``start_timeout`` seconds.
    """

    def __init__(
        self,
        backend: str | Backend = "hash",
        faults: FaultConfig | None = None,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        start_timeout: float = 30.0,
        log_level: str = "warning",
    ) -> None:
        self.app = create_app(backend=backend, faults=faults, api_key=api_key)
        self.host = host
        self.port = port
        self.start_timeout = start_timeout
        self.log_level = log_level
        self.base_url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._error: BaseException | None = None

    @property
    def stats(self) -> ServiceStats:
        """The service's counters (live; ``stats.snapshot()`` for a consistent copy)."""
        return self.app.stats

    def reset_stats(self) -> None:
        """Zero the counters."""
        self.app.reset_stats()

    def set_faults(self, faults: FaultConfig | None = None, **changes: Any) -> FaultConfig:
        """Change the faults while running; see ``ServiceApp.set_faults``."""
        return self.app.set_faults(faults, **changes)

    @property
    def faults(self) -> FaultConfig:
        """The faults in force."""
        return self.app.faults

    def start(self) -> LocalService:
        """Load the backend, bind the port, start uvicorn on a thread and wait until it accepts connections.

        Raises:
            InvalidInputError: a port outside 0..65535. OSError: the port is taken or the host cannot be bound (the
                operating system's error, left as it is). LocalServiceError: the server failed or did not start.
        """
        if self._thread is not None:
            return self
        _warm(self.app)
        self._sock = _bind(self.host, self.port)
        self.port = self._sock.getsockname()[1]
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.base_url = f"http://{shown}:{self.port}"
        self._server = uvicorn.Server(_config(self.app, self.log_level))
        self._thread = threading.Thread(target=self._run, name=f"dashscope-embed-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                self.stop()
                raise LocalServiceError(f"the local service failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise LocalServiceError(f"the local service did not start within {self.start_timeout} s")
            time.sleep(0.01)
        return self

    def _run(self) -> None:
        assert self._server is not None and self._sock is not None
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:
            self._error = exc

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and join its thread (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                # Still draining connections after the graceful timeout: stop waiting for them.
                assert self._server is not None
                self._server.force_exit = True
                self._thread.join(timeout)
        if self._sock is not None:
            self._sock.close()
        self._thread = None
        self._server = None
        self._sock = None

    def __enter__(self) -> LocalService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.base_url or "not started"
        return f"LocalService({self.app.backend.name!r}, {state})"


if __name__ == "__main__":  # pragma: no cover - manual runs: python -m dashscope_embed.server.runner [backend] [port]
    serve(backend=sys.argv[1] if len(sys.argv) > 1 else "e5", port=int(sys.argv[2]) if len(sys.argv) > 2 else 8000)
