"""Closing a connection without a reply, so a client sees a transport error rather than an HTTP status.

Under uvicorn the ASGI ``send`` callable is a method of the connection's protocol object, whose ``transport`` can be
aborted before any byte of the reply is written: the client then reads "server disconnected without sending a
response" (httpx ``RemoteProtocolError``). Under any other server the reply starts with a ``Content-Length`` that
the body never reaches, and the exception that follows makes the server close the connection mid-body (httpx
``RemoteProtocolError`` "peer closed connection without sending complete message body").

The deliberate exception is kept out of uvicorn's error log by ``install_log_filter``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import LocalServiceError

__all__ = ["ABORT_SCOPE_KEY", "ConnectionDropped", "DroppedResponse", "abort_hook", "install_log_filter"]

#: Scope key under which the outer app stores a callable that aborts the connection (returns ``True`` if it could).
ABORT_SCOPE_KEY = "dashscope_embed.abort"


class ConnectionDropped(LocalServiceError):
    """Raised on purpose to make the server drop a connection (a fault injected by the local service)."""


def abort_hook(send: Callable[..., Awaitable[None]]) -> Callable[[], bool]:
    """A callable that aborts the transport behind uvicorn's ``send``; it returns ``False`` when there is none."""

    def abort() -> bool:
        transport: Any = getattr(getattr(send, "__self__", None), "transport", None)
        if transport is None or not hasattr(transport, "abort"):
            return False
        # abort(), not close(): close() would still flush the 500 reply uvicorn writes after the exception below.
        transport.abort()
        return True

    return abort


class DroppedResponse:
    """An ASGI response that drops the connection instead of answering."""

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        abort = scope.get(ABORT_SCOPE_KEY)
        if abort is None or not abort():
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4096")]})
            await send({"type": "http.response.body", "body": b'{"output":', "more_body": True})
        raise ConnectionDropped("connection dropped on purpose (fault injection)")


class _DropFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


_filter = _DropFilter()


def install_log_filter() -> None:
    """Keep deliberate drops out of uvicorn's error log (idempotent)."""
    logger = logging.getLogger("uvicorn.error")
    if _filter not in logger.filters:
        logger.addFilter(_filter)
