"""One tree of errors: ``except DashScopeError`` catches every error the three packages raise.

Every failure surfaces as one of these; nothing becomes an empty or zero vector. Where users already catch a
standard exception, the class keeps it as a second base (``InvalidInputError`` is a ``ValueError``, job errors are
``RuntimeError`` s, ``MissingDependencyError`` an ``ImportError``)::

    DashScopeError                      the root
    ├── InvalidInputError (ValueError)  bad input, refused before any request is sent (texts, model, dimension,
    │   │                               options, limits; the message names the item and what is allowed)
    │   ├── InvalidOptionsError         an adapter or ``ConnectionSettings`` constructed with bad arguments
    │   │                               (also pydantic's ValidationError, as the frameworks' classes raise)
    │   ├── SourceError                 an input file cannot be read as asked (bad JSON, missing column)
    │   └── UsageError                  bad command-line options or configuration (exit status 2)
    ├── NoCredentialsError (RuntimeError)   no key, base URL or local service to send requests to
    ├── MissingDependencyError (ImportError) an optional extra is not installed (e.g. ``ray``)
    ├── APIError                        the service or the transport failed a request: ``status_code``, ``code``,
    │   │                               ``message``, ``request_id``, ``attempts``, ``retry_after``
    │   ├── AuthenticationError         401 / InvalidApiKey (also: a key for a plain-http remote root)
    │   ├── PermissionDeniedError       403 / AccessDenied
    │   ├── NotFoundError               404 / ModelNotFound
    │   ├── InvalidRequestError         400 / InvalidParameter: the service rejected the content
    │   │   ├── BatchSizeError          too many request rows ("should not be larger than N"; ``limit``)
    │   │   └── ContentInspectionError  DataInspectionFailed
    │   ├── RateLimitError              429 / Throttling*             (retried)
    │   ├── ServerError                 5xx / InternalError            (retried)
    │   ├── APITimeoutError             no reply within ``timeout``    (retried)
    │   ├── APIConnectionError          connection failed or dropped   (retried)
    │   ├── ResponseFormatError         a reply that breaks the protocol (not JSON, too few vectors)
    │   └── UploadError                 the temporary upload of a local file was refused
    ├── BulkJobError (RuntimeError)     a file-to-Parquet job cannot start or stopped (``embed``)
    │   └── BatchJobError               a Batch File API job or async task job, with ``failures``
    └── LocalServiceError (RuntimeError) the local DashScope-compatible service failed to start; inside the
                                        service, the replies it gives as errors

Errors from the service carry ``status_code`` (HTTP), ``code`` (DashScope's error code, e.g. ``InvalidApiKey``),
``message`` and ``request_id``; no error ever holds the API key. Error codes follow the Model Studio "Error
messages" page (https://help.aliyun.com/en/model-studio/error-code). The classes are also importable where they
are raised (``cli.UsageError``, ``jobs.sources.SourceError``, ``jobs.connection.NoCredentialsError``,
``uploads.UploadError``, ``jobs.errors.BulkJobError``, ``batch.BatchJobError``).

Warnings are not errors: ``catalog.UnknownModelWarning`` (a ``UserWarning``) is issued, never raised.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from .redaction import redact

__all__ = [
    "DashScopeError",
    "InvalidInputError",
    "InvalidOptionsError",
    "SourceError",
    "UsageError",
    "NoCredentialsError",
    "MissingDependencyError",
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
    "UploadError",
    "BulkJobError",
    "BatchJobError",
    "LocalServiceError",
    "error_from_reply",
    "RETRYABLE_ERRORS",
]


class DashScopeError(Exception):
    """Base class of every error the three packages raise (see the tree in the module docstring).

    Text arguments pass through ``redaction.redact``: a message quoting a request header or another library's
    error cannot carry an API key.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class InvalidInputError(DashScopeError, ValueError):
    """Bad input caught before any request was sent (empty text, unknown model, wrong dimension, ...)."""


class InvalidOptionsError(InvalidInputError, ValidationError):
    """An adapter or another pydantic model of this package (``settings.CheckedModel``) was constructed with bad
    arguments.

    Also a ``pydantic.ValidationError`` with the same ``errors()`` and text, so code written against the
    frameworks' convention keeps working; made by ``from_validation``.
    """

    @classmethod
    def from_validation(cls, exc: ValidationError) -> InvalidOptionsError:
        """The same errors as ``exc``, as this class, without the inputs: pydantic shows a model-level error's
        whole input (the constructor's arguments, the API key among them) in the text and in ``errors()``; here
        the text leaves inputs out and ``errors()`` carries ``<hidden>`` for each."""
        errors = [{**error, "input": "<hidden>", "ctx": _redacted_context(error)} for error in exc.errors()]
        return cls.from_exception_data(exc.title, errors, hide_input=True)  # type: ignore[arg-type]  # ErrorDetails, read back as InitErrorDetails


def _redacted_context(error: Mapping[str, Any]) -> dict[str, Any]:
    # pydantic rebuilds each message from its context (a validator's exception text among it): a validator that
    # quoted the key would show it, so every text of the context passes through the same redaction as messages.
    context: dict[str, Any] = {}
    for name, value in (error.get("ctx") or {}).items():
        if isinstance(value, BaseException):
            value = type(value)(redact(str(value))) if isinstance(value, (ValueError, AssertionError)) else value
        elif isinstance(value, str):
            value = redact(value)
        context[name] = value
    return context


class SourceError(InvalidInputError):
    """The input cannot be read as asked (bad JSON on a line, a missing column, an unknown format)."""


class UsageError(InvalidInputError):
    """Bad command-line options or configuration (the command exits with status 2)."""


class NoCredentialsError(DashScopeError, RuntimeError):
    """No way to reach an embedding service was configured (the message says what to set)."""


class MissingDependencyError(DashScopeError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class BulkJobError(DashScopeError, RuntimeError):
    """A file-to-Parquet job cannot start (work of a different job in the way, bad options) or stopped on a failed
    request. Work already written is kept; the message says whether rerunning the same command resumes."""


class BatchJobError(BulkJobError):
    """A remote embedding job (Batch File API or async task) cannot start, or ended with rows it could not embed.

    Attributes:
        failures: ``(row number, id, code)`` of every row that could not be embedded (empty when the job
            stopped for another reason).
    """

    def __init__(self, message: str, failures: list[tuple[int, str | None, str]] | None = None) -> None:
        super().__init__(message)
        self.failures = failures or []


class LocalServiceError(DashScopeError, RuntimeError):
    """The local DashScope-compatible service failed to start; inside the service, the base of the replies it
    gives as errors (they never leave it as exceptions)."""


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


class UploadError(APIError):
    """The temporary upload failed: the certificate request or the object-storage ``POST`` was refused."""


def _subclasses(cls: type[APIError]) -> list[type[APIError]]:
    return [cls] + [sub for child in cls.__subclasses__() for sub in _subclasses(child)]


#: The error classes a request is retried for, read from each class's ``retryable`` flag (the one source of truth):
#: ``RateLimitError``, ``ServerError``, ``APITimeoutError``, ``APIConnectionError``.
RETRYABLE_ERRORS: tuple[type[APIError], ...] = tuple(c for c in _subclasses(APIError) if c.retryable)

_BATCH_LIMIT = re.compile(
    r"(?:not be larger than|larger than|exceed(?:s|ed)?|at most|maximum(?: of)?)\D{0,20}(\d+)", re.I
)


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
    kwargs: dict[str, Any] = {
        "status_code": status,
        "code": str(code) if code else None,
        "request_id": request_id,
        "retry_after": retry_after,
    }
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
        import time
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
