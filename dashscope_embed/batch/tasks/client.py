"""The wire client of asynchronous batch tasks (text-embedding-async-v1/v2), over the core's transport.

- ``upload``: a local text file through the documented temporary upload (``uploads.Uploader``, the same code and
  retry policy as local videos) to an ``oss://`` URL;
- ``submit``: ``POST {root}/api/v1/services/embeddings/text-embedding/text-embedding`` with ``X-DashScope-Async:
  enable`` and ``X-DashScope-OssResourceResolve: enable``; body ``{"model", "input": {"url"}, "parameters":
  {"text_type"}}``; returns the task id. Never sent blindly twice: after an ambiguous failure (timeout, connection
  error, 5xx) the next attempt first looks for a task created since just before the first one that no one has
  recorded (``find_unrecorded``); a 429 (the 1-a-second pace, the 50-task cap) is retried after ``Retry-After``;
- ``get`` / ``cancel``: ``GET /api/v1/tasks/{id}``, ``POST /api/v1/tasks/{id}/cancel``;
- ``list_tasks``: ``GET /api/v1/tasks?model_name=&start_time=&end_time=&page_no=&page_size=`` (the dashscope SDK's
  ``BatchTextEmbedding.list``; times ``YYYYMMDDhhmmss``);
- ``download``: the gzipped JSON-lines result from its signed URL (no API key is sent there), streamed to disk;
  ``read_result`` parses it (``results``).

Every call is retried like an embedding request (``RequestRunner.retrying``: 429, 5xx, timeouts, connection errors,
jittered backoff honouring ``Retry-After``) and fails with a typed ``APIError`` that never holds the key.
Source of the protocol and limits: ``limits.TASKS_DOC``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from ...errors import APIError, ResponseFormatError, error_from_reply
from ...mediafiles import local_media
from ...settings import NATIVE_TEXT_PATH as TEXT_PATH
from ...settings import ResolvedSettings
from ...transport import RequestRunner, transport_error
from ...uploads import Uploader
from ..client import ambiguous
from .limits import ASYNC_HEADER, RESOLVE_HEADER, TASKS_PATH

__all__ = ["TaskClient"]

_DOWNLOAD_TIMEOUT = 600.0
#: a lost submission is looked for among tasks created from this many seconds before it was sent (clock skew)
_LOOKUP_MARGIN = 120


def _stamp(when: datetime) -> str:
    return when.strftime("%Y%m%d%H%M%S")


class TaskClient:
    """Calls of the asynchronous task API.

    Args:
        settings: resolved connection settings (root, key, workspace, timeout in seconds).
        max_retries: retries per call after the first attempt.
        transport: a custom httpx transport (tests, proxies), used for every call, the upload and the download.

    Every method raises ``APIError`` once retries are exhausted (or at once for a non-retryable failure).
    """

    def __init__(
        self, settings: ResolvedSettings, *, max_retries: int = 4, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.runner = RequestRunner(settings, max_concurrency=2, max_retries=max_retries, transport=transport)
        self.uploader = Uploader(settings, max_retries=max_retries, transport=transport, runner=self.runner)
        self._transport = transport

    # -- plumbing --
    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        for attempt in self.runner.retrying():
            with attempt:
                return self._once(method, path, **kwargs)
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(
        self, method: str, path: str, *, json: Any = None, params: Any = None, headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        client = self.runner.client()
        content = orjson.dumps(json) if json is not None else None
        try:
            response = client.request(
                method, self.settings.root + path, content=content, params=params, headers=headers
            )
        except httpx.TransportError as exc:
            raise transport_error(exc, self.settings.timeout) from None
        return _parse(response.status_code, response.headers, response.content)

    # -- input --
    def upload(self, model: str, path: Path) -> str:
        """Upload the text file at ``path`` under ``model``'s certificate; its ``oss://`` URL (valid 48 h).

        Raises:
            InvalidInputError: the file is larger than the certificate allows. UploadError / APIError: refused.
        """
        return self.uploader.upload(
            model, local_media("text", path, f"task input {path.name}", content_type="text/plain")
        )

    # -- tasks --
    def submit(self, model: str, url: str, text_type: str, find: Callable[[float], str | None] | None = None) -> str:
        """Submit a task embedding the file at ``url``; returns its task id.

        Args:
            find: after an ambiguous failure, ``find(sent_at)`` (Unix seconds of the first send) returns the id of
                the task that send may have created, or ``None``; the submission is sent again only then.
        """
        body = {"model": model, "input": {"url": url}, "parameters": {"text_type": text_type}}
        headers = {ASYNC_HEADER: "enable", RESOLVE_HEADER: "enable"}
        sent_at: float | None = None
        for attempt in self.runner.retrying():
            with attempt:
                if sent_at is not None and find is not None:
                    try:
                        found = find(sent_at)
                    except APIError as exc:
                        raise APIError(
                            f"a task submission may have succeeded (its reply was lost) and looking it "
                            f"up failed ({exc}); rerun the job to look it up again",
                            status_code=exc.status_code,
                            code=exc.code,
                        ) from None
                    if found is not None:
                        return found
                try:
                    sent = time.time()
                    reply = self._once("POST", TEXT_PATH, json=body, headers=headers)
                except APIError as exc:
                    if ambiguous(exc) and sent_at is None:
                        sent_at = sent
                    raise
                task_id = (reply.get("output") or {}).get("task_id")
                if not isinstance(task_id, str) or not task_id:
                    raise ResponseFormatError(
                        "task submission reply has no output.task_id", request_id=reply.get("request_id")
                    )
                return task_id
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, task_id: str) -> dict[str, Any]:
        """``GET /api/v1/tasks/{id}``: the reply (``output.task_status`` ..., ``usage``)."""
        return self._call("GET", f"{TASKS_PATH}/{task_id}")

    def cancel(self, task_id: str) -> bool:
        """Cancel a PENDING task; ``False`` when the service refuses (400 ``UnsupportedOperation``: not PENDING)."""
        try:
            self._call("POST", f"{TASKS_PATH}/{task_id}/cancel")
        except APIError as exc:
            if exc.status_code == 400 and exc.code == "UnsupportedOperation":
                return False
            raise
        return True

    def list_tasks(self, model: str, since: float, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Tasks of ``model`` created from ``since`` (Unix seconds) to now, as the service lists them."""
        start = datetime.fromtimestamp(since)
        end = datetime.now() + timedelta(minutes=5)
        page = 1
        while True:
            params = {
                "model_name": model,
                "start_time": _stamp(start),
                "end_time": _stamp(end),
                "page_no": page,
                "page_size": page_size,
            }
            reply = self._call("GET", TASKS_PATH, params=params)
            output = reply.get("output")
            body: dict[str, Any] = output if isinstance(output, dict) else reply
            data = body.get("data") or []
            yield from data
            if not data or page >= int(body.get("total_page") or 1):
                return
            page += 1

    def find_unrecorded(self, model: str, since: float, recorded: Collection[str]) -> str | None:
        """The newest task of ``model`` created from ``since - margin`` whose id is not in ``recorded``, or
        ``None`` (also when the service does not list tasks)."""
        try:
            found = [
                t
                for t in self.list_tasks(model, since - _LOOKUP_MARGIN)
                if t.get("task_id") and t["task_id"] not in recorded
            ]
        except APIError as exc:
            if exc.status_code in (404, 405):
                return None
            raise
        return str(found[0]["task_id"]) if found else None

    # -- results --
    def download(self, url: str, dest: Path) -> Path:
        """Stream the result at ``url`` into ``dest`` (through a temporary name); returns ``dest``. The signed URL
        is fetched without the API key."""
        tmp = dest.with_name(dest.name + ".download")
        with httpx.Client(timeout=_DOWNLOAD_TIMEOUT, transport=self._transport) as client:
            for attempt in self.runner.retrying():
                with attempt:
                    try:
                        with client.stream("GET", url) as response:
                            if response.status_code != 200:
                                response.read()
                                raise error_from_reply(
                                    response.status_code,
                                    None,
                                    response.headers,
                                    text=f"result download: {response.text[:200]}",
                                )
                            with open(tmp, "wb") as out:
                                for block in response.iter_bytes(1 << 20):
                                    out.write(block)
                    except httpx.TransportError as exc:
                        raise transport_error(exc, _DOWNLOAD_TIMEOUT) from None
        tmp.replace(dest)
        return dest

    def close(self) -> None:
        """Close the pooled HTTP client."""
        self.runner.close()

    def __enter__(self) -> TaskClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parse(status: int, headers: Mapping[str, str], content: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        body = None
    # a FAILED task carries output.code: only a top-level code is an error of the call itself
    if status >= 400 or (isinstance(body, dict) and body.get("code")):
        raise error_from_reply(
            status, body if isinstance(body, dict) else None, headers, text=content.decode("utf-8", "replace")[:300]
        )
    if not isinstance(body, dict):
        raise ResponseFormatError(f"HTTP {status} reply is not a JSON object", status_code=status)
    return body
