"""The Files and Batches endpoints of ``{root}/compatible-mode/v1``, over the core's httpx transport.

Why not the ``openai`` SDK, a well-kept client of exactly this API: its types allow only ``completion_window="24h"``
while Model Studio accepts 24h-336h; it would be a second HTTP stack beside ``RequestRunner`` with its own retry
policy, timeouts and error classes, where this project already has one (jittered backoff honouring
``Retry-After``, typed ``APIError`` s from ``errors.error_from_reply``, the workspace header and key handling of
``settings``); and it is not a dependency of the core. The protocol is six small JSON endpoints plus a multipart
upload and a download, which httpx does directly: this module only names them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Mapping, Optional

import httpx
import orjson

from ..errors import APIError, ResponseFormatError, error_from_reply
from ..settings import ResolvedSettings
from ..transport import RequestRunner, _transport_error

__all__ = ["BatchAPIClient", "COMPAT_ROOT"]

COMPAT_ROOT = "/compatible-mode/v1"
#: uploads of up to 500 MB need more than one request's usual timeout
_UPLOAD_TIMEOUT = 600.0


class BatchAPIClient:
    """Calls of the Batch File API; each retried on its own like an embedding request.

    Args:
        settings: resolved connection settings (root, key, workspace, timeout in seconds).
        max_retries: retries per call after the first attempt (429, 5xx, timeouts, connection errors).
        transport: a custom httpx transport (tests, proxies).

    Every method raises ``APIError`` (typed by ``errors.error_from_reply``) once retries are exhausted or at once
    for a non-retryable failure; the API key never appears in any message.
    """

    def __init__(self, settings: ResolvedSettings, *, max_retries: int = 4,
                 transport: Optional[httpx.BaseTransport] = None) -> None:
        self.settings = settings
        self.runner = RequestRunner(settings, max_concurrency=2, max_retries=max_retries, transport=transport)
        self.base = settings.root + COMPAT_ROOT

    # -- plumbing --
    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        for attempt in self.runner.retrying():
            with attempt:
                return self._once(method, path, **kwargs)
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, method: str, path: str, *, files: Any = None, data: Any = None, json: Any = None,
              params: Any = None, timeout: Optional[float] = None) -> Any:
        client = self.runner.client()
        content = orjson.dumps(json) if json is not None else None
        request = client.build_request(method, self.base + path, content=content, files=files, data=data,
                                       params=params, timeout=timeout or self.settings.timeout)
        if files is not None:
            # the pooled client's default JSON content type must give way to the multipart boundary
            request.headers["Content-Type"] = request.stream.content_type  # type: ignore[attr-defined]
        try:
            response = client.send(request)
        except httpx.TransportError as exc:
            raise _transport_error(exc, self.settings.timeout) from None
        return _parse(response.status_code, response.headers, response.content)

    # -- files --
    def upload(self, path: Path, filename: str) -> dict[str, Any]:
        """``POST /files`` (multipart, ``purpose=batch``) of the JSONL file at ``path``; the file object."""
        for attempt in self.runner.retrying():
            with attempt:
                with open(path, "rb") as handle:
                    return self._once("POST", "/files", files={"file": (filename, handle, "application/jsonl")},
                                      data={"purpose": "batch"}, timeout=_UPLOAD_TIMEOUT)
        raise AssertionError("unreachable")  # pragma: no cover

    def delete_file(self, file_id: str) -> None:
        """``DELETE /files/{id}``; a file already gone (404) counts as deleted."""
        try:
            self._call("DELETE", f"/files/{file_id}")
        except APIError as exc:
            if exc.status_code != 404:
                raise

    def download(self, file_id: str, dest: Path) -> Path:
        """``GET /files/{id}/content`` streamed into ``dest`` (through a temporary name); returns ``dest``."""
        tmp = dest.with_name(dest.name + ".download")
        for attempt in self.runner.retrying():
            with attempt:
                try:
                    with self.runner.client().stream("GET", f"{self.base}/files/{file_id}/content",
                                                     timeout=_UPLOAD_TIMEOUT) as response:
                        if response.status_code != 200:
                            response.read()
                            _parse(response.status_code, response.headers, response.content)
                        with open(tmp, "wb") as out:
                            for block in response.iter_bytes(1 << 20):
                                out.write(block)
                except httpx.TransportError as exc:
                    raise _transport_error(exc, self.settings.timeout) from None
        tmp.replace(dest)
        return dest

    # -- batches --
    def create_batch(self, input_file_id: str, completion_window: str, metadata: Mapping[str, str]) -> dict[str, Any]:
        """``POST /batches`` for ``/v1/embeddings``; the batch object."""
        body = {"input_file_id": input_file_id, "endpoint": "/v1/embeddings",
                "completion_window": completion_window, "metadata": dict(metadata)}
        return self._call("POST", "/batches", json=body)

    def get_batch(self, batch_id: str) -> dict[str, Any]:
        """``GET /batches/{id}``."""
        return self._call("GET", f"/batches/{batch_id}")

    def cancel_batch(self, batch_id: str) -> dict[str, Any]:
        """``POST /batches/{id}/cancel``."""
        return self._call("POST", f"/batches/{batch_id}/cancel")

    def list_batches(self, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every batch the service lists (``GET /batches?after=&limit=``, newest first; the last 30 days)."""
        after: Optional[str] = None
        while True:
            params = {"limit": page_size, **({"after": after} if after else {})}
            page = self._call("GET", "/batches", params=params)
            data = page.get("data") or []
            yield from data
            if not page.get("has_more") or not data:
                return
            after = data[-1]["id"]

    def find_batch(self, ds_name: str) -> Optional[dict[str, Any]]:
        """The newest batch whose ``metadata.ds_name`` is ``ds_name``, or ``None``."""
        for batch in self.list_batches():
            if (batch.get("metadata") or {}).get("ds_name") == ds_name:
                return batch
        return None

    def close(self) -> None:
        """Close the pooled HTTP client."""
        self.runner.close()


def _parse(status: int, headers: Mapping[str, str], content: bytes) -> Any:
    try:
        body = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        body = None
    if status >= 400 or (isinstance(body, dict) and body.get("error")):
        raise error_from_reply(status, body if isinstance(body, dict) else None, headers,
                               text=content.decode("utf-8", "replace"))
    if not isinstance(body, dict):
        raise ResponseFormatError(f"HTTP {status} reply is not a JSON object", status_code=status)
    return body
