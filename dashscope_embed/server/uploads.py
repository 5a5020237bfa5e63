"""The temporary-upload endpoints of the local service, so local media files embed offline.

- ``GET /api/v1/uploads?action=getPolicy&model=M`` answers an upload certificate in the real service's shape
  (``{"request_id", "data": {policy, signature, upload_dir, upload_host, expire_in_seconds, max_file_size_mb,
  capacity_limit_mb, oss_access_key_id, x_oss_object_acl, x_oss_forbid_overwrite}}``), authenticated like the
  embedding endpoints. The policy is a base64 JSON document (expiry, key prefix, size range), signed with
  HMAC-SHA1 under a secret made at start-up, as object storage does.
- ``POST /local-oss/upload`` is the certificate's ``upload_host``: a multipart form checked as object storage checks
  it (access key id, signature, expiry, key under ``upload_dir``, size, no overwrite). It takes no API key, and
  counts requests that send one (``UploadService.authorized_uploads``: a client must not).
- The multimodal endpoint reads ``oss://{key}`` values from the stored files when the request carries
  ``X-DashScope-OssResourceResolve: enable``, and refuses them without it; an uploaded image gets the same vector
  as the same bytes sent inline.

Files live in memory, at most ``max_total_bytes`` in all. Error replies use object storage's XML shape for the
upload target and DashScope's JSON shape for the certificate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..catalog import CATALOG, ModelSpec
from ..errors import LocalServiceError
from ..settings import UPLOADS_PATH
from .replies import ServiceError, json_response, native_error_body

__all__ = ["UploadService", "UPLOAD_TARGET_PATH", "resolve_oss"]

#: Where the local service receives uploaded files (the certificate's ``upload_host``).
UPLOAD_TARGET_PATH = "/local-oss/upload"
_RESOLVE_HEADER = "x-dashscope-ossresourceresolve"
_MB = 1024 * 1024
# Raise the size cap on parts sent without a file name where starlette has one to raise (``Request.form`` takes
# ``max_part_size`` from 0.44). An upload's file part carries a file name and is spooled whole in every release; its
# size is checked against the policy here (``_store``), not by starlette.
_FORM_TAKES_PART_SIZE = "max_part_size" in inspect.signature(Request.form).parameters

Endpoint = Callable[[Request], Awaitable[Response]]
# Set per multimodal request: how ``oss://`` values are read (``None``: no upload service, URLs hash as strings).
_RESOLVER: ContextVar[Callable[[str, str, ModelSpec, str], bytes] | None] = ContextVar("oss_resolver", default=None)


def resolve_oss(kind: str, value: str, spec: ModelSpec, where: str) -> bytes | None:
    """The stored bytes behind an ``oss://`` value in the current request, or ``None`` when the service runs without
    uploads (the URL string is then all there is).

    Raises:
        ServiceError: 400 when the request lacks ``X-DashScope-OssResourceResolve: enable``, the key is unknown, or
            the file exceeds the model's limit for ``kind``.
    """
    resolver = _RESOLVER.get()
    return None if resolver is None else resolver(kind, value, spec, where)


class UploadService:
    """Certificate and upload-target endpoints plus the in-memory file store.

    Args:
        authorize: the embedding service's key check (raises ``ServiceError`` 401).
        expire_in_seconds: certificate lifetime.
        max_file_size_mb / capacity_limit_mb: per-file and per-certificate limits announced in the certificate.
        max_total_bytes: all stored files together.
        file_ttl: seconds a stored file can be read (the documented 48 h of the temporary upload); after that its
            ``oss://`` URL is refused as a file that does not exist.

    Attributes:
        policies_issued: certificates handed out.
        uploads: files stored.
        authorized_uploads: upload requests that carried an ``Authorization`` header (a key sent where none belongs).
    """

    def __init__(
        self,
        authorize: Callable[[Request], None],
        *,
        expire_in_seconds: int = 300,
        max_file_size_mb: int = 100,
        capacity_limit_mb: int = 1024,
        max_total_bytes: int = 512 * _MB,
        file_ttl: float = 48 * 3600.0,
    ) -> None:
        self._authorize = authorize
        self.expire_in_seconds = expire_in_seconds
        self.max_file_size_mb = max_file_size_mb
        self.capacity_limit_mb = capacity_limit_mb
        self.max_total_bytes = max_total_bytes
        self.file_ttl = file_ttl
        self._stored_at: dict[str, float] = {}
        self._secret = os.urandom(32)
        self._access_key_id = "LTAI" + uuid.uuid4().hex[:20]
        self._files: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.policies_issued = 0
        self.uploads = 0
        self.authorized_uploads = 0

    def routes(self) -> list[Route]:
        """The two routes to add to the application."""
        return [
            Route(UPLOADS_PATH, self.get_policy, methods=["GET"]),
            Route(UPLOAD_TARGET_PATH, self.upload, methods=["POST"]),
        ]

    def reset(self) -> None:
        """Forget stored files and zero the counters."""
        with self._lock:
            self._files.clear()
            self._stored_at.clear()
            self.policies_issued = self.uploads = self.authorized_uploads = 0

    # ------------------------------------------------------------------ certificate

    def _sign(self, policy: str) -> str:
        return base64.b64encode(hmac.new(self._secret, policy.encode(), hashlib.sha1).digest()).decode()

    async def get_policy(self, request: Request) -> Response:
        """``GET /api/v1/uploads?action=getPolicy&model=M``: an upload certificate (JSON)."""
        request_id = str(uuid.uuid4())
        try:
            self._authorize(request)
            if request.query_params.get("action") != "getPolicy":
                raise ServiceError(400, "InvalidParameter", "action must be getPolicy.", param="action")
            model = request.query_params.get("model")
            if not model:
                raise ServiceError(400, "BadRequest.EmptyModel", 'Required parameter "model" missing from request.')
            if model not in CATALOG:
                raise ServiceError(400, "InvalidParameter", f"Model not exist. Unknown model {model!r}.", param="model")
        except ServiceError as error:
            return json_response(native_error_body(error, request_id), error.status, request_id, error.headers)
        upload_dir = f"dashscope-instant/{uuid.uuid4().hex}/{datetime.now(timezone.utc):%Y-%m-%d}"
        expires = int(time.time()) + self.expire_in_seconds
        document = {
            "expiration": datetime.fromtimestamp(expires, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "conditions": [
                ["starts-with", "$key", upload_dir + "/"],
                ["content-length-range", 0, self.max_file_size_mb * _MB],
            ],
        }
        policy = base64.b64encode(orjson.dumps(document)).decode()
        data = {
            "policy": policy,
            "signature": self._sign(policy),
            "upload_dir": upload_dir,
            "upload_host": str(request.base_url).rstrip("/") + UPLOAD_TARGET_PATH,
            "expire_in_seconds": self.expire_in_seconds,
            "max_file_size_mb": self.max_file_size_mb,
            "capacity_limit_mb": self.capacity_limit_mb,
            "oss_access_key_id": self._access_key_id,
            "x_oss_object_acl": "private",
            "x_oss_forbid_overwrite": "true",
        }
        with self._lock:
            self.policies_issued += 1
        return json_response({"request_id": request_id, "data": data}, 200, request_id)

    # ------------------------------------------------------------------ upload target

    async def upload(self, request: Request) -> Response:
        """``POST /local-oss/upload``: store one file from a multipart form (object storage's checks)."""
        if "authorization" in request.headers:
            with self._lock:
                self.authorized_uploads += 1
        try:
            limits = {"max_part_size": self.max_file_size_mb * _MB + 1} if _FORM_TAKES_PART_SIZE else {}
            form = await request.form(**limits)
        except Exception as exc:  # starlette raises its own parse errors for a malformed body
            return _oss_error(400, "InvalidArgument", f"malformed multipart body: {type(exc).__name__}")
        try:
            try:
                key = self._check_form(form)
            except _Refused as refused:
                return refused.response
            except (ValueError, KeyError, IndexError, TypeError):
                return _oss_error(400, "InvalidPolicyDocument", "The content of the form does not meet the conditions.")
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                return _oss_error(400, "InvalidArgument", "the form has no file part")
            data = await upload.read()
            return self._store(key, data, form)
        finally:
            await form.close()

    def _check_form(self, form: Any) -> str:
        policy = str(form.get("policy") or "")
        signature = str(form.get("Signature") or "")
        if form.get("OSSAccessKeyId") != self._access_key_id or not policy:
            raise _Refused(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist.")
        if not hmac.compare_digest(signature, self._sign(policy)):
            raise _Refused(403, "SignatureDoesNotMatch", "The request signature we calculated does not match.")
        document = orjson.loads(base64.b64decode(policy))
        expiration = datetime.strptime(document["expiration"], "%Y-%m-%dT%H:%M:%S.000Z").replace(tzinfo=timezone.utc)
        if datetime.now(timezone.utc) >= expiration:
            raise _Refused(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
        key = str(form.get("key") or "")
        prefix = document["conditions"][0][2]
        if not key.startswith(prefix) or len(key) == len(prefix):
            raise _Refused(403, "AccessDenied", "Invalid according to Policy: Policy Condition failed: key.")
        return key

    def _store(self, key: str, data: bytes, form: Any) -> Response:
        if len(data) > self.max_file_size_mb * _MB:
            return _oss_error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
        with self._lock:
            if key in self._files and str(form.get("x-oss-forbid-overwrite")).lower() == "true":
                return _oss_error(409, "FileAlreadyExists", "The object you specified already exists.")
            if sum(map(len, self._files.values())) + len(data) > self.max_total_bytes:
                return _oss_error(400, "EntityTooLarge", "The local store is full.")
            self._files[key] = data
            self._stored_at[key] = time.monotonic()
            self.uploads += 1
        return Response(status_code=int(form.get("success_action_status") or 204))

    # ------------------------------------------------------------------ resolving oss:// in embedding requests

    def resolving(self, endpoint: Endpoint) -> Endpoint:
        """Wrap the multimodal endpoint so its ``oss://`` values are read from the store for this request."""

        async def wrapped(request: Request) -> Response:
            enabled = request.headers.get(_RESOLVE_HEADER, "").strip().lower() == "enable"

            def resolve(kind: str, value: str, spec: ModelSpec, where: str) -> bytes:
                return self._read(enabled, kind, value, spec, where)

            token = _RESOLVER.set(resolve)
            try:
                return await endpoint(request)
            finally:
                _RESOLVER.reset(token)

        return wrapped

    def stored(self, value: str) -> bytes | None:
        """The bytes stored under an ``oss://{key}`` URL, or ``None`` when there are none."""
        if not value.startswith("oss://"):
            return None
        return self._live(value[len("oss://") :])

    def _live(self, key: str) -> bytes | None:
        """The file stored under ``key`` while it has not expired (``file_ttl``)."""
        with self._lock:
            if time.monotonic() - self._stored_at.get(key, 0.0) > self.file_ttl:
                return None
            return self._files.get(key)

    def _read(self, enabled: bool, kind: str, value: str, spec: ModelSpec, where: str) -> bytes:
        if not enabled:
            raise ServiceError(
                400,
                "InvalidParameter",
                f"{where}: oss:// resources need the header X-DashScope-OssResourceResolve: enable.",
                param="input",
            )
        key = value[len("oss://") :]
        data = self._live(key)
        if data is None:
            raise ServiceError(400, "InvalidParameter", f"{where}: the file {value!r} does not exist.", param="input")
        limit = spec.image_max_bytes if kind == "image" else spec.video_max_bytes
        if limit is not None and len(data) > limit:
            raise ServiceError(
                400,
                "InvalidParameter",
                f"{where}: the {kind} is {len(data)} bytes; {spec.name} accepts at most {limit} bytes.",
                param="input",
            )
        return data


class _Refused(LocalServiceError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.response = _oss_error(status, code, message)


def _oss_error(status: int, code: str, message: str) -> Response:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n  <Code>{code}</Code>\n  <Message>{message}</Message>\n'
        f"  <RequestId>{uuid.uuid4().hex.upper()[:24]}</RequestId>\n</Error>\n"
    )
    return Response(body, status_code=status, media_type="application/xml")
