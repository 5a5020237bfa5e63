"""Temporary upload of local media files, so a local video (or a large image) can be embedded.

DashScope takes video only by URL. For local files it offers a temporary upload (the protocol the ``dashscope`` SDK
implements in ``dashscope/utils/oss_utils.py``; Model Studio "Upload a local file to obtain a temporary URL",
https://help.aliyun.com/en/model-studio/get-temporary-file-url):

1. ``GET {root}/api/v1/uploads?action=getPolicy&model=M`` (with the API key) returns an upload certificate
   ``{"request_id", "data": {policy, signature, upload_dir, upload_host, expire_in_seconds, max_file_size_mb,
   capacity_limit_mb, oss_access_key_id, x_oss_object_acl, x_oss_forbid_overwrite}}``, valid for
   ``expire_in_seconds`` and for files up to ``max_file_size_mb`` each, ``capacity_limit_mb`` in all;
2. a multipart ``POST`` to ``upload_host`` (object storage; no API key is sent there) with ``OSSAccessKeyId``,
   ``Signature``, ``policy``, ``key`` (under ``upload_dir``), ``x-oss-object-acl``, ``x-oss-forbid-overwrite``,
   ``success_action_status=200``, ``x-oss-content-type`` and the ``file`` last;
3. the content value becomes ``oss://{key}`` and the embedding request carries
   ``X-DashScope-OssResourceResolve: enable``.

The certificate is fetched from the root the embedding request goes to, cached per model, and reused for further
files until it is close to expiry or its capacity is used up. A file is checked against the model's limit before
any request and against the certificate's ``max_file_size_mb`` before it is sent. The policy, signature and access
key id are credentials: they never appear in logs, errors, ``repr`` or ``str``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from .errors import InvalidInputError, ResponseFormatError, UploadError, error_from_reply
from .mediafiles import LocalMedia, Upload, local_media
from .settings import UPLOADS_PATH, ResolvedSettings
from .transport import RequestRunner, transport_error

__all__ = ["Upload", "LocalMedia", "UploadPolicy", "Uploader", "UploadError", "local_media"]

logger = logging.getLogger("dashscope_embed")

_MB = 1024 * 1024
# A certificate is not reused in its last seconds: an upload started then could arrive after expiry.
_EXPIRY_MARGIN_SECONDS = 30.0
_UPLOAD_CONCURRENCY = 4


class UploadPolicy:
    """One upload certificate from ``getPolicy``. Its credentials are kept out of ``repr``/``str``.

    Attributes:
        upload_host: where files are ``POST``-ed.
        upload_dir: the key prefix files must use.
        expires_at: ``time.monotonic()`` seconds when the certificate stops being valid.
        max_file_size: bytes per file (``max_file_size_mb``).
        capacity: bytes for all files under this certificate (``capacity_limit_mb``), or ``None``.
        used: bytes uploaded under it so far.
    """

    __slots__ = ("_form", "capacity", "expires_at", "max_file_size", "upload_dir", "upload_host", "used")

    def __init__(self, data: Mapping[str, Any], *, now: float | None = None) -> None:
        try:
            self._form = {
                "OSSAccessKeyId": str(data["oss_access_key_id"]),
                "Signature": str(data["signature"]),
                "policy": str(data["policy"]),
                "x-oss-object-acl": str(data["x_oss_object_acl"]),
                "x-oss-forbid-overwrite": str(data["x_oss_forbid_overwrite"]),
            }
            self.upload_host = str(data["upload_host"])
            self.upload_dir = str(data["upload_dir"]).rstrip("/")
            lifetime = float(data["expire_in_seconds"])
            self.max_file_size = int(float(data["max_file_size_mb"]) * _MB)
        except (KeyError, TypeError, ValueError) as exc:
            raise ResponseFormatError(f"upload certificate is missing or has a bad field ({exc.args[0]!r})") from None
        capacity = data.get("capacity_limit_mb")
        self.capacity = int(float(capacity) * _MB) if capacity not in (None, "") else None
        self.expires_at = (time.monotonic() if now is None else now) + lifetime
        self.used = 0

    def secrets(self) -> tuple[str, ...]:
        """The credential strings, for scrubbing them out of any text that could be shown."""
        return tuple(v for k, v in self._form.items() if k in ("OSSAccessKeyId", "Signature", "policy") and v)

    def usable_for(self, size: int, now: float | None = None) -> bool:
        """Whether a file of ``size`` bytes may still go up under this certificate (lifetime and capacity)."""
        now = time.monotonic() if now is None else now
        if now >= self.expires_at - _EXPIRY_MARGIN_SECONDS:
            return False
        return self.capacity is None or self.used + size <= self.capacity

    def form(self, key: str, content_type: str) -> dict[str, str]:
        """The multipart fields for one file (the ``file`` part goes last, as object storage requires)."""
        return {**self._form, "key": key, "success_action_status": "200", "x-oss-content-type": content_type}

    def __repr__(self) -> str:
        left = max(0.0, self.expires_at - time.monotonic())
        return (
            f"UploadPolicy(upload_host={self.upload_host!r}, upload_dir={self.upload_dir!r}, "
            f"expires_in={left:.0f}s, max_file_size={self.max_file_size})"
        )

    __str__ = __repr__


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _oss_error(response: httpx.Response, secrets: Iterable[str], where: str) -> UploadError:
    body = response.text[:2000]
    code = re.search(r"<Code>(.*?)</Code>", body)
    message = re.search(r"<Message>(.*?)</Message>", body)
    detail = f"{code.group(1)}: {message.group(1)}" if code and message else body[:200]
    return UploadError(
        _scrub(f"uploading {where} failed: {detail}", secrets),
        status_code=response.status_code,
        code=code.group(1) if code else None,
    )


@dataclass
class _Cached:
    url: str
    expires_at: float


@dataclass
class _State:
    policies: dict[str, UploadPolicy] = field(default_factory=dict)
    uploaded: dict[tuple, _Cached] = field(default_factory=dict)


class Uploader:
    """Upload ``LocalMedia`` through DashScope's temporary storage and give back ``oss://`` URLs; sync and async.

    Args:
        settings: the engine's resolved settings: the certificate comes from ``settings.root`` with its key and
            workspace headers.
        max_retries: retries of a certificate request or an upload after a connection error, timeout, 429 or 5xx.
        timeout: seconds per HTTP request (uploads of large files may need more than embedding calls).
        transport / async_transport: custom httpx transports (tests); used for both the certificate request and the
            upload.
        runner: the engine's ``RequestRunner``, whose retry policy (backoff, ``Retry-After``, retryable errors)
            the uploads then share; without one, a policy with ``max_retries`` and the default delays.
    """

    def __init__(
        self,
        settings: ResolvedSettings,
        *,
        max_retries: int = 2,
        timeout: float | None = None,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        runner: RequestRunner | None = None,
    ) -> None:
        self.settings = settings
        self.max_retries = max_retries
        self.timeout = timeout if timeout is not None else max(settings.timeout, 300.0)
        self._transport = transport
        self._async_transport = async_transport
        # Only its retry policy is used (its clients are never created): uploads go to other hosts.
        self._policy_runner = runner or RequestRunner(settings, max_concurrency=1, max_retries=max_retries)
        self._state = _State()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Uploader(root={self.settings.root!r}, cached_certificates={len(self._state.policies)})"

    # ------------------------------------------------------------------ clients

    def _api_headers(self) -> dict[str, str]:
        headers = self.settings.headers()
        headers.pop("Content-Type", None)
        return headers

    def _client(self, client: httpx.Client | None) -> Any:
        # Uploads are rare: a client per call (or the caller's), so the uploader owns nothing that needs closing.
        return (
            contextlib.nullcontext(client)
            if client is not None
            else httpx.Client(timeout=self.timeout, transport=self._transport)
        )

    def _async_client(self, client: httpx.AsyncClient | None) -> Any:
        return (
            contextlib.nullcontext(client)
            if client is not None
            else httpx.AsyncClient(timeout=self.timeout, transport=self._async_transport)
        )

    # ------------------------------------------------------------------ retries

    # The engine's retry policy (``RequestRunner.retrying``): the same backoff, Retry-After handling and
    # retryable errors as the embedding calls, defined once in transport.py.
    def _retrying(self) -> Any:
        return self._policy_runner.retrying()

    def _aretrying(self) -> Any:
        return self._policy_runner.aretrying()

    # ------------------------------------------------------------------ certificate

    def _policy_request(self, model: str) -> tuple[str, dict[str, str]]:
        return self.settings.root + UPLOADS_PATH, {"action": "getPolicy", "model": model}

    @staticmethod
    def _parse_policy(response: httpx.Response) -> UploadPolicy:
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        if response.status_code == 200 and not isinstance(body, dict):
            raise ResponseFormatError(f"upload certificate reply is not a JSON object: {response.text[:100]!r}")
        if response.status_code != 200 or not isinstance(body, dict) or body.get("code"):
            error = error_from_reply(
                response.status_code,
                body if isinstance(body, dict) else None,
                response.headers,
                text=response.text[:300],
            )
            # the reply of a failed request carries no certificate, so nothing secret can be in the message
            raise error
        data = body.get("data") or body.get("output")
        if not isinstance(data, dict):
            raise ResponseFormatError("upload certificate reply has no data object", request_id=body.get("request_id"))
        return UploadPolicy(data)

    def _cached_policy(self, model: str, size: int) -> UploadPolicy | None:
        with self._lock:
            policy = self._state.policies.get(model)
            return policy if policy is not None and policy.usable_for(size) else None

    def _store_policy(self, model: str, policy: UploadPolicy) -> None:
        with self._lock:
            self._state.policies[model] = policy

    def policy(self, model: str, size: int = 0, *, client: httpx.Client | None = None) -> UploadPolicy:
        """The cached certificate for ``model`` if it can still take ``size`` bytes, else a new one.

        Raises:
            APIError: the certificate request failed (``AuthenticationError`` for a bad key, ...).
        """
        policy = self._cached_policy(model, size)
        if policy is not None:
            return policy
        url, params = self._policy_request(model)
        with self._client(client) as http:
            for attempt in self._retrying():
                with attempt:
                    try:
                        response = http.get(url, params=params, headers=self._api_headers())
                    except httpx.TransportError as exc:
                        raise transport_error(exc, self.timeout) from None
                    policy = self._parse_policy(response)
        assert policy is not None
        self._store_policy(model, policy)
        logger.debug("upload certificate for %s valid for %.0f s", model, policy.expires_at - time.monotonic())
        return policy

    async def apolicy(self, model: str, size: int = 0, *, client: httpx.AsyncClient | None = None) -> UploadPolicy:
        """Async ``policy``. Same contract."""
        policy = self._cached_policy(model, size)
        if policy is not None:
            return policy
        url, params = self._policy_request(model)
        async with self._async_client(client) as http:
            async for attempt in self._aretrying():
                with attempt:
                    try:
                        response = await http.get(url, params=params, headers=self._api_headers())
                    except httpx.TransportError as exc:
                        raise transport_error(exc, self.timeout) from None
                    policy = self._parse_policy(response)
        assert policy is not None
        self._store_policy(model, policy)
        return policy

    # ------------------------------------------------------------------ one file

    def _key(self, policy: UploadPolicy, media: LocalMedia) -> str:
        # A random prefix keeps two files of the same name apart (the certificate forbids overwriting).
        name = re.sub(r"[^A-Za-z0-9._-]", "_", media.filename) or "file"
        return f"{policy.upload_dir}/{uuid.uuid4().hex[:12]}-{name}"

    def _check_size(self, policy: UploadPolicy, media: LocalMedia) -> None:
        if media.size > policy.max_file_size:
            raise InvalidInputError(
                f"{media.where} is {media.size} bytes; the temporary upload takes files of at most "
                f"{policy.max_file_size} bytes ({policy.max_file_size / _MB:g} MB)"
            )

    def _lookup(self, media: LocalMedia) -> str | None:
        with self._lock:
            cached = self._state.uploaded.get(media.identity())
        if cached is not None and time.monotonic() < cached.expires_at - _EXPIRY_MARGIN_SECONDS:
            return cached.url
        return None

    def _remember(self, media: LocalMedia, policy: UploadPolicy, url: str) -> None:
        with self._lock:
            policy.used += media.size
            self._state.uploaded[media.identity()] = _Cached(url, policy.expires_at)

    def upload(self, model: str, media: LocalMedia, *, client: httpx.Client | None = None) -> str:
        """Upload one file under ``model``'s certificate; returns its ``oss://`` URL (cached for an unchanged file
        while the certificate lives).

        Raises:
            InvalidInputError: the file exceeds the certificate's ``max_file_size_mb`` (before it is sent).
            UploadError: object storage refused the upload. APIError: the certificate request failed.
        """
        known = self._lookup(media)
        if known is not None:
            return known
        with self._client(client) as http:
            policy = self.policy(model, media.size, client=http)
            self._check_size(policy, media)
            key = self._key(policy, media)
            for attempt in self._retrying():
                with attempt:
                    with media.open() as stream:
                        try:
                            response = http.post(
                                policy.upload_host,
                                data=policy.form(key, media.content_type),
                                files={"file": (media.filename, stream, media.content_type)},
                            )
                        except httpx.TransportError as exc:
                            raise transport_error(exc, self.timeout) from None
                    self._check_upload(response, policy, media)
        url = f"oss://{key}"
        self._remember(media, policy, url)
        logger.debug("uploaded %s (%d bytes) for %s", media.filename, media.size, model)
        return url

    async def aupload(self, model: str, media: LocalMedia, *, client: httpx.AsyncClient | None = None) -> str:
        """Async ``upload``. Same contract."""
        known = self._lookup(media)
        if known is not None:
            return known
        async with self._async_client(client) as http:
            policy = await self.apolicy(model, media.size, client=http)
            self._check_size(policy, media)
            key = self._key(policy, media)
            async for attempt in self._aretrying():
                with attempt:
                    # the file is read in the calling thread, like images; uploads are rare and bounded in size
                    with media.open() as stream:
                        content = stream.read()
                    try:
                        response = await http.post(
                            policy.upload_host,
                            data=policy.form(key, media.content_type),
                            files={"file": (media.filename, content, media.content_type)},
                        )
                    except httpx.TransportError as exc:
                        raise transport_error(exc, self.timeout) from None
                    self._check_upload(response, policy, media)
        url = f"oss://{key}"
        self._remember(media, policy, url)
        return url

    @staticmethod
    def _check_upload(response: httpx.Response, policy: UploadPolicy, media: LocalMedia) -> None:
        if response.status_code in (200, 204):
            return
        error = _oss_error(response, policy.secrets(), media.where)
        if response.status_code == 429 or response.status_code >= 500:
            error.retryable = True  # an instance flag: retried like the embedding calls
        raise error

    # ------------------------------------------------------------------ contents

    def resolve(self, model: str, elements: Iterable[dict[str, Any]]) -> bool:
        """Upload every ``LocalMedia`` value in ``elements`` (content elements, changed in place to ``oss://`` URLs).

        Returns:
            whether anything was uploaded (the request then needs ``X-DashScope-OssResourceResolve``).

        Raises:
            as ``upload``; nothing is uploaded for a file over the certificate's size limit.
        """
        slots = list(_pending(elements))
        if not slots:
            return False
        with self._client(None) as http:
            policy = self.policy(model, max(m.size for _, _, m in slots), client=http)
            for _, _, media in slots:
                self._check_size(policy, media)
            done: dict[int, str] = {}
            for container, key, media in slots:
                if id(media) not in done:
                    done[id(media)] = self.upload(model, media, client=http)
                container[key] = done[id(media)]
        return True

    async def aresolve(self, model: str, elements: Iterable[dict[str, Any]]) -> bool:
        """Async ``resolve``: up to four uploads at once over one client. Same contract."""
        slots = list(_pending(elements))
        if not slots:
            return False
        async with self._async_client(None) as http:
            policy = await self.apolicy(model, max(m.size for _, _, m in slots), client=http)
            for _, _, media in slots:
                self._check_size(policy, media)
            unique = {id(m): m for _, _, m in slots}
            semaphore = asyncio.Semaphore(_UPLOAD_CONCURRENCY)

            async def one(media: LocalMedia) -> str:
                async with semaphore:
                    return await self.aupload(model, media, client=http)

            urls = await asyncio.gather(*(one(m) for m in unique.values()))
        done = dict(zip(unique, urls, strict=True))
        for container, key, media in slots:
            container[key] = done[id(media)]
        return True


def _pending(elements: Iterable[dict[str, Any]]) -> Iterable[tuple[dict | list, Any, LocalMedia]]:
    """``(container, key, media)`` for every ``LocalMedia`` value, including inside ``multi_images`` lists."""
    for element in elements:
        for key, value in element.items():
            if isinstance(value, LocalMedia):
                yield element, key, value
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, LocalMedia):
                        yield value, i, item
