"""The Files and Batches endpoints of ``{root}/compatible-mode/v1``, over the core's httpx transport.

Why not the ``openai`` SDK, a well-kept client of exactly this API: its types allow only ``completion_window="24h"``
while Model Studio accepts 24h-336h; it would be a second HTTP stack beside ``RequestRunner`` with its own retry
policy, timeouts and error classes, where this project already has one (jittered backoff honouring
``Retry-After``, typed ``APIError`` s from ``errors.error_from_reply``, the workspace header and key handling of
``settings``); and it is not a dependency of the core. The protocol is six small JSON endpoints plus a multipart
upload and a download, which httpx does directly: this module only names them.

The two POSTs that create something are never sent blindly twice (``_post_once``): after a timeout, a connection
error or a 5xx the service may have acted, so the next attempt first looks for what the first one made: the batch
by its ``metadata.ds_name``, the file by its name through ``GET /files`` (the OpenAI Files API's list; the Model
Studio page does not document it, so where a service does not answer it, a copy stored by an upload whose reply
was lost may remain, counting towards the account's 10,000 files, and the job uploads again).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson

from ..errors import APIConnectionError, APIError, APITimeoutError
from ..settings import ResolvedSettings
from ..transport import RequestRunner, transport_error
from ..wire.base import load_reply

__all__ = ["BatchAPIClient", "COMPAT_ROOT", "ambiguous", "lookup_after_lost_reply"]

T = TypeVar("T")

COMPAT_ROOT = "/compatible-mode/v1"
#: uploads of up to 500 MB need more than one request's usual timeout
_UPLOAD_TIMEOUT = 600.0
#: a lookup after a lost creation reply only needs batches created since shortly before it (clock skew, seconds)
_LOOKUP_MARGIN = 600


def ambiguous(error: APIError) -> bool:
    """Whether a failed POST may still have taken effect on the service: no reply (timeout, connection error) or a
    5xx. A 4xx (429 included) means the request was refused, so sending it again cannot make a second object."""
    return isinstance(error, (APITimeoutError, APIConnectionError)) or (error.status_code or 0) >= 500


class BatchAPIClient:
    """Calls of the Batch File API; each retried on its own like an embedding request.

    Args:
        settings: resolved connection settings (root, key, workspace, timeout in seconds).
        max_retries: retries per call after the first attempt (429, 5xx, timeouts, connection errors).
        transport: a custom httpx transport (tests, proxies).

    Every method raises ``APIError`` (typed by ``errors.error_from_reply``) once retries are exhausted or at once
    for a non-retryable failure; the API key never appears in any message.
    """

    def __init__(
        self, settings: ResolvedSettings, *, max_retries: int = 4, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.runner = RequestRunner(settings, max_concurrency=2, max_retries=max_retries, transport=transport)
        self.base = settings.root + COMPAT_ROOT

    # -- plumbing --
    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        for attempt in self.runner.retrying():
            with attempt:
                return self._once(method, path, **kwargs)
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(
        self,
        method: str,
        path: str,
        *,
        files: Any = None,
        data: Any = None,
        json: Any = None,
        params: Any = None,
        timeout: float | None = None,
    ) -> Any:
        client = self.runner.client()
        content = orjson.dumps(json) if json is not None else None
        request = client.build_request(
            method,
            self.base + path,
            content=content,
            files=files,
            data=data,
            params=params,
            timeout=timeout or self.settings.timeout,
        )
        if files is not None:
            # the pooled client's default JSON content type must give way to the multipart boundary
            request.headers["Content-Type"] = request.stream.content_type  # type: ignore[union-attr]  # files= makes a MultipartStream
        try:
            response = client.send(request)
        except httpx.TransportError as exc:
            raise transport_error(exc, self.settings.timeout) from None
        return load_reply(response.status_code, response.headers, response.content, error_key="error")

    # -- files --
    def upload(self, path: Path, filename: str) -> dict[str, Any]:
        """``POST /files`` (multipart, ``purpose=batch``) of the JSONL file at ``path``; the file object.

        Never sent blindly twice: after an ambiguous failure (see ``ambiguous``) the next attempt first looks for a
        stored file named ``filename`` that holds the whole upload (``adopt_upload``) and uses it.
        """
        size = path.stat().st_size

        def send() -> dict[str, Any]:
            with open(path, "rb") as handle:
                return self._once(
                    "POST",
                    "/files",
                    files={"file": (filename, handle, "application/jsonl")},
                    data={"purpose": "batch"},
                    timeout=_UPLOAD_TIMEOUT,
                )

        return self._post_once(send, lambda: self.adopt_upload(filename, size), f"upload of {filename}")

    def list_files(self, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every stored file (``GET /files?after=&limit=``, newest first), as the OpenAI Files API lists them.

        Raises:
            APIError: 404/405 from a service that does not list files (the Model Studio page does not document
                this endpoint), or any other failure after retries.
        """
        after: str | None = None
        while True:
            params = {"limit": page_size, **({"after": after} if after else {})}
            page = self._call("GET", "/files", params=params)
            data = page.get("data") or []
            yield from data
            if not page.get("has_more") or not data:
                return
            after = data[-1]["id"]

    def adopt_upload(self, filename: str, size: int) -> dict[str, Any] | None:
        """After an upload whose reply was lost: the newest stored file named ``filename`` of ``size`` bytes, with
        every other copy of that name deleted; ``None`` when there is none or the service does not list files
        (then a copy the lost upload stored may remain: it counts towards the account's 10,000 files)."""
        try:
            named = [f for f in self.list_files() if f.get("filename") == filename]
        except APIError as exc:
            if exc.status_code in (404, 405):
                return None
            raise
        whole = [f for f in named if f.get("bytes") == size]
        keep = whole[0] if whole else None
        for copy in named:
            if copy is not keep:
                self.delete_file(copy["id"])
        return keep

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
                    with self.runner.client().stream(
                        "GET", f"{self.base}/files/{file_id}/content", timeout=_UPLOAD_TIMEOUT
                    ) as response:
                        if response.status_code != 200:
                            response.read()
                            load_reply(response.status_code, response.headers, response.content, error_key="error")
                        with open(tmp, "wb") as out:
                            for block in response.iter_bytes(1 << 20):
                                out.write(block)
                except httpx.TransportError as exc:
                    raise transport_error(exc, self.settings.timeout) from None
        tmp.replace(dest)
        return dest

    # -- batches --
    def create_batch(self, input_file_id: str, completion_window: str, metadata: Mapping[str, str]) -> dict[str, Any]:
        """``POST /batches`` for ``/v1/embeddings``; the batch object.

        Never sent blindly twice, so a lost reply cannot make a second batch that bills every text again: after an
        ambiguous failure (timeout, connection error, 5xx) the next attempt, after the backoff, first looks the
        batch up by ``metadata["ds_name"]`` (``find_batch``) and returns it if the earlier request created it. A
        429 is retried as usual (the request was refused). Raises ``APIError`` when retries are exhausted.
        """
        body = {
            "input_file_id": input_file_id,
            "endpoint": "/v1/embeddings",
            "completion_window": completion_window,
            "metadata": dict(metadata),
        }
        name = metadata.get("ds_name")
        since = int(time.time()) - _LOOKUP_MARGIN
        return self._post_once(
            lambda: self._once("POST", "/batches", json=body),
            (lambda: self.find_batch(name, created_after=since)) if name else None,
            f"creation of batch {name!r}",
        )

    def _post_once(
        self, send: Callable[[], dict[str, Any]], find: Callable[[], dict[str, Any] | None] | None, what: str
    ) -> dict[str, Any]:
        """``send()`` with the usual retries, except that after an ambiguous failure the next attempt (after the
        backoff, which gives a slow service time to finish the first request) calls ``find()`` first and returns
        what it finds instead of sending again."""
        pending: APIError | None = None
        for attempt in self.runner.retrying():
            with attempt:
                if pending is not None and find is not None:
                    found = lookup_after_lost_reply(find, what, pending)
                    if found is not None:
                        return found
                pending = None
                try:
                    return send()
                except APIError as exc:
                    if ambiguous(exc):
                        pending = exc
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def get_batch(self, batch_id: str) -> dict[str, Any]:
        """``GET /batches/{id}``."""
        return self._call("GET", f"/batches/{batch_id}")

    def cancel_batch(self, batch_id: str) -> dict[str, Any]:
        """``POST /batches/{id}/cancel``."""
        return self._call("POST", f"/batches/{batch_id}/cancel")

    def list_batches(self, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every batch the service lists (``GET /batches?after=&limit=``, newest first; the last 30 days)."""
        after: str | None = None
        while True:
            params = {"limit": page_size, **({"after": after} if after else {})}
            page = self._call("GET", "/batches", params=params)
            data = page.get("data") or []
            yield from data
            if not page.get("has_more") or not data:
                return
            after = data[-1]["id"]

    def find_batch(self, ds_name: str, created_after: int | None = None) -> dict[str, Any] | None:
        """The newest batch whose ``metadata.ds_name`` is ``ds_name``, or ``None``; with ``created_after`` (Unix
        seconds) the listing stops at the first older batch (the list is newest first)."""
        for batch in self.list_batches():
            if created_after is not None and int(batch.get("created_at") or 0) < created_after:
                return None
            if (batch.get("metadata") or {}).get("ds_name") == ds_name:
                return batch
        return None

    def close(self) -> None:
        """Close the pooled HTTP client."""
        self.runner.close()


def lookup_after_lost_reply(find: Callable[[], T], what: str, first: APIError | None = None) -> T:
    """``find()``, the lookup of what a creation whose reply was lost (``first``: its error) may have made.

    Raises:
        APIError: the lookup itself failed; not retryable, since sending the creation again without knowing whether
            the first one landed could bill every text twice (a rerun looks it up again).
    """
    try:
        return find()
    except APIError as exc:
        lost = f": {first}" if first is not None else ""
        raise APIError(
            f"the {what} may have succeeded (its reply was lost{lost}) and looking it up failed "
            f"({exc}); rerun the job to look it up again",
            status_code=exc.status_code,
            code=exc.code,
        ) from None
