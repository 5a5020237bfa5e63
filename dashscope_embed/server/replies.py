"""Reply bodies of both protocols, serialised with orjson, and the error the handlers raise.

Error shapes (Model Studio "Error messages", https://help.aliyun.com/en/model-studio/error-code, and replies
observed from the live service):

- native: HTTP status + ``{"code": "InvalidParameter", "message": "...", "request_id": "..."}``;
- OpenAI-compatible: HTTP status + ``{"error": {"message", "type", "param", "code"}, "id", "request_id"}``, where
  DashScope fills ``type`` and ``code`` with its own code (``InvalidParameter``) for validation errors, and uses
  OpenAI's codes for a bad key (``invalid_api_key``) and throttling.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from ..errors import LocalServiceError

__all__ = ["COMPAT_CODES", "ServiceError", "compat_error_body", "json_response", "native_error_body"]

_OPTS = orjson.OPT_SERIALIZE_NUMPY


class ServiceError(LocalServiceError):
    """A request the service answers with an error.

    Args:
        status: HTTP status.
        code: DashScope's error code (``InvalidParameter``, ``BadRequest.EmptyInput``, ``InvalidApiKey``, ...).
        message: the message, as the real service words it where known.
        headers: extra reply headers (``Retry-After``).
        param: OpenAI-compatible ``error.param`` (the offending field), when there is one.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.param = param


#: DashScope code -> (OpenAI-compatible ``type``, ``code``) where compatible mode uses OpenAI's vocabulary.
COMPAT_CODES: dict[str, tuple[str, str]] = {
    "InvalidApiKey": ("invalid_request_error", "invalid_api_key"),
    "Throttling.RateQuota": ("limit_requests", "limit_requests"),
    "Throttling": ("limit_requests", "limit_requests"),
    "InternalError": ("internal_error", "internal_error"),
    "ServiceUnavailable": ("service_unavailable", "service_unavailable"),
    "ModelNotFound": ("invalid_request_error", "model_not_found"),
    "InvalidURL": ("invalid_request_error", "invalid_url"),
    "MethodNotAllowed": ("invalid_request_error", "method_not_allowed"),
}


def native_error_body(error: ServiceError, request_id: str) -> dict[str, Any]:
    """``{"code", "message", "request_id"}``."""
    return {"code": error.code, "message": error.message, "request_id": request_id}


def compat_error_body(error: ServiceError, request_id: str) -> dict[str, Any]:
    """``{"error": {"message", "type", "param", "code"}, "id", "request_id"}``."""
    err_type, code = COMPAT_CODES.get(error.code, (error.code, error.code))
    return {
        "error": {"message": error.message, "type": err_type, "param": error.param, "code": code},
        "id": request_id,
        "request_id": request_id,
    }


def json_response(
    body: Any, status: int = 200, request_id: str | None = None, headers: Mapping[str, str] | None = None
) -> Response:
    """An ``application/json`` reply serialised with orjson (numpy arrays allowed in ``body``)."""
    all_headers = dict(headers or {})
    if request_id:
        all_headers["x-request-id"] = request_id
    return Response(
        orjson.dumps(body, option=_OPTS), status_code=status, headers=all_headers, media_type="application/json"
    )
