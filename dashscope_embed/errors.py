"""Typed errors. Every failure surfaces as one of these; nothing becomes an empty or zero vector.

Errors from the service carry ``status_code`` (HTTP), ``code`` (DashScope's error code, e.g. ``InvalidApiKey``),
``message`` and ``request_id``; none of them ever holds the API key. Error codes follow the Model Studio
"Error messages" page (https://help.aliyun.com/en/model-studio/error-code).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from .redaction import redact

__all__ = [
    "DashScopeError",
    "InvalidInputError",
    "APIError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "InvalidRequestError",
    "BatchSizeError",
    "ContentInspectionError",
    "RateLimitError",
    "ServerError",
    "APITimeoutError",
    "APIConnectionError",
    "ResponseFormatError",
    "error_from_reply",
    "RETRYABLE_ERRORS",
]


class DashScopeError(Exception):
    """Base class of every error this package raises.

    Text arguments pass through ``redaction.redact``: a message quoting a request header or another library's
    error cannot carry an API key.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class InvalidInputError(DashScopeError, ValueError):
    """Bad input caught before any request was sent (empty text, unknown model, wrong dimension, ...)."""


class APIError(DashScopeError):
    """The service (or the transport to it) failed a request.

    Attributes:
        message: the service's message, or a description of the transport failure.
        status_code: HTTP status, or ``None`` when no reply arrived.
        code: DashScope's error code (``InvalidApiKey``, ``Throttling.RateQuota``, ...), or ``None``.
        request_id: the service's request id, when it sent one.
        attempts: how many times the request was sent before giving up (set by the engine).
        retry_after: seconds the service asked to wait (``Retry-After``), if it did.
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        message = redact(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after
        self.attempts = 1
        super().__init__(message)

    def __str__(self) -> str:
        parts = []
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        if self.code:
            parts.append(self.code)
        head = " ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.request_id:
            text += f" (request_id={self.request_id})"
        if self.attempts > 1:
            text += f" after {self.attempts} attempts"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r}, attempts={self.attempts})"
        )


class AuthenticationError(APIError):
    """401 / ``InvalidApiKey``: the API key is missing, wrong or revoked."""


class PermissionDeniedError(APIError):
    """403 / ``AccessDenied``: the key may not use this model, region or workspace."""


class NotFoundError(APIError):
    """404 / ``ModelNotFound``: unknown model or path."""


class InvalidRequestError(APIError):
    """400 / ``InvalidParameter`` and friends: the service rejected the request's content."""


class BatchSizeError(InvalidRequestError):
    """The service says a request holds too many rows ("should not be larger than N").

    Attributes:
        limit: the N the service named; the engine re-splits at it and remembers it.
    """

    def __init__(self, message: str, *, limit: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.limit = limit


class ContentInspectionError(InvalidRequestError):
    """``DataInspectionFailed``: the content safety check rejected an input."""


class RateLimitError(APIError):
    """429 / ``Throttling*``: too many requests or tokens per minute. Retried with backoff."""

    retryable = True


class ServerError(APIError):
    """5xx / ``InternalError``: the service failed. Retried with backoff."""

    retryable = True


class APITimeoutError(APIError):
    """No reply within ``timeout`` seconds. Retried with backoff."""

    retryable = True


class APIConnectionError(APIError):
    """The connection failed or dropped before a reply arrived. Retried with backoff."""

    retryable = True


class ResponseFormatError(APIError):
    """The reply does not match the protocol: not JSON, fewer vectors than inputs, bad indices or dimensions."""


def _subclasses(cls: type[APIError]) -> list[type[APIError]]:
    return [cls] + [sub for child in cls.__subclasses__() for sub in _subclasses(child)]


#: The error classes a request is retried for, read from each class's ``retryable`` flag (the one source of truth):
#: ``RateLimitError``, ``ServerError``, ``APITimeoutError``, ``APIConnectionError``.
RETRYABLE_ERRORS: tuple[type[APIError], ...] = tuple(c for c in _subclasses(APIError) if c.retryable)

_BATCH_LIMIT = re.compile(r"(?:not be larger than|larger than|exceed(?:s|ed)?|at most|maximum(?: of)?)\D{0,20}(\d+)", re.I)


def _classify(status: int, code: str | None, message: str) -> type[APIError]:
    lowered = (code or "").lower()
    if "datainspection" in lowered.replace("_", "") or "data_inspection" in lowered:
        return ContentInspectionError
    if status == 401 or lowered in ("invalidapikey", "invalid_api_key"):
        return AuthenticationError
    if status == 403 or lowered.startswith("accessdenied") or lowered == "access_denied":
        return PermissionDeniedError
    if status == 429 or lowered.startswith("throttling") or "rate_limit" in lowered:
        return RateLimitError
    if status == 404 or "notfound" in lowered or "not_found" in lowered:
        return NotFoundError
    # "InternalError*" codes are the service's own failures ("please retry"), except the 4xx parameter errors
    # the algorithm layer reports as "InternalError.Algo.InvalidParameter" (e.g. the batch-size limit).
    internal = lowered.startswith(("internalerror", "internal_error")) and "invalidparameter" not in lowered
    if status >= 500 or lowered in ("serviceunavailable", "modelservingerror") or (internal and status < 400):
        return ServerError
    if "batch size" in message.lower() and _BATCH_LIMIT.search(message):
        return BatchSizeError
    return InvalidRequestError


def error_from_reply(
    status: int, body: Mapping[str, Any] | None, headers: Mapping[str, str] | None = None, *, text: str = ""
) -> APIError:
    """Build the typed error for a failed reply of either protocol.

    Args:
        status: HTTP status code (an HTTP 200 whose body carries a non-empty ``code`` is also an error).
        body: the parsed JSON body, or ``None`` when it was not JSON.
        headers: reply headers; ``Retry-After`` (seconds) and ``x-request-id`` are read from them.
        text: the raw body, used for the message when it was not JSON (cut to 300 characters).
    """
    headers = headers or {}
    code: str | None = None
    message = ""
    request_id: str | None = None
    if isinstance(body, Mapping):
        err = body.get("error")
        if isinstance(err, Mapping):  # OpenAI-compatible shape
            code = err.get("code") or err.get("type")
            message = str(err.get("message") or "")
        else:
            code = body.get("code") or None
            message = str(body.get("message") or "")
        request_id = body.get("request_id") or body.get("id")
    if not message:
        message = text[:300] if text else f"HTTP {status} with no error message"
    request_id = request_id or headers.get("x-request-id") or headers.get("x-dashscope-request-id")
    retry_after = _parse_retry_after(headers)
    cls = _classify(status, str(code) if code else None, message)
    kwargs: dict[str, Any] = dict(
        status_code=status, code=str(code) if code else None, request_id=request_id, retry_after=retry_after
    )
    if cls is BatchSizeError:
        match = _BATCH_LIMIT.search(message)
        assert match is not None
        return BatchSizeError(message, limit=int(match.group(1)), **kwargs)
    return cls(message, **kwargs)


def _parse_retry_after(headers: Mapping[str, str]) -> float | None:
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime
        import time

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
