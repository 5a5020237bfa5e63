"""The wire client of asynchronous batch tasks (text-embedding-async-v1/v2), over the core's transport.

- ``upload``: a local text file through the documented temporary upload (``uploads.Uploader``, the same code and
  retry policy as local videos) to an ``oss://`` URL;
- ``submit``: ``POST {root}/api/v1/services/embeddings/text-embedding/text-embedding`` with ``X-DashScope-Async:
  enable`` and ``X-DashScope-OssResourceResolve: enable``; body ``{"model", "input": {"url"}, "parameters":
  {"text_type"}}``; returns the task id. Never sent blindly twice: a failure before the request left
  (``httpx.ConnectError``, ``ConnectTimeout``, ``PoolTimeout``...: ``not_sent``) is simply retried; after an
  ambiguous one (a read/write timeout, a dropped connection, a 5xx) the next attempt first looks for the task the
  first may have made (``find_unrecorded``), adopts it only when exactly one unrecorded task fits, and stops with a
  ``BatchJobError`` naming the candidates when several do; a 429 for the 1-a-second pace is retried after
  ``Retry-After``, one for the account's full queue of 50 tasks (``QUEUE_FULL_CODE``) raises ``TaskQueueFullError``
  at once, since only a task's end frees a slot;
- ``get`` / ``cancel``: ``GET /api/v1/tasks/{id}``, ``POST /api/v1/tasks/{id}/cancel``;
- ``list_tasks``: ``GET /api/v1/tasks?model_name=&start_time=&end_time=&page_no=&page_size=`` (the dashscope SDK's
  ``BatchTextEmbedding.list``; times ``YYYYMMDDhhmmss``). The time zone the service reads the window in and
  writes ``gmt_create`` in is not documented: the window is sent with a start 14 h early and no end (any reading
  then includes the tasks wanted) and creation times are filtered here, read as Beijing time (UTC+8, the only
  region of the async models; ``BEIJING``), which is how the local service writes them too;
- ``download``: the gzipped JSON-lines result from its signed URL (no API key is sent there), streamed to disk;
  ``read_result`` parses it (``results``).

Every call is retried like an embedding request (``RequestRunner.retrying``: 429, 5xx, timeouts, connection errors,
jittered backoff honouring ``Retry-After``) and fails with a typed ``APIError`` that never holds the key.
Source of the protocol and limits: ``limits.TASKS_DOC``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import orjson

from ...errors import APIError, BatchJobError, RateLimitError, ResponseFormatError, error_from_reply
from ...mediafiles import local_media
from ...settings import NATIVE_TEXT_PATH as TEXT_PATH
from ...settings import ResolvedSettings
from ...transport import RequestRunner, transport_error
from ...uploads import Uploader
from ...wire.base import load_reply
from ..client import ambiguous, lookup_after_lost_reply
from .limits import ASYNC_HEADER, RESOLVE_HEADER, TASKS_PATH

__all__ = ["BEIJING", "LIST_WIDENING", "LOOKUP_SKEW", "QUEUE_FULL_CODE", "TaskClient", "TaskQueueFullError", "not_sent"]

_DOWNLOAD_TIMEOUT = 600.0
#: clock skew (seconds) allowed between this machine and the service when matching a task's creation time
LOOKUP_SKEW = 120.0
#: the list window starts this much earlier (seconds): UTC-12 to UTC+14 covers every reading of a naive time
LIST_WIDENING = 14 * 3600.0
#: the time zone of the service's ``gmt_create`` (an assumption: Beijing is the async models' only region)
BEIJING = timezone(timedelta(hours=8))
#: httpx failures raised before any byte of the request reached the service: sending again cannot make a second task
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
#: the code of the 429 that refuses a task while the account has ``TaskLimits.max_queued`` queued or running (the
#: Model Studio error-code page's "allocated quota exceeded"; the local service sends it)
QUEUE_FULL_CODE = "Throttling.AllocationQuota"


class TaskQueueFullError(RateLimitError):
    """A task submission refused because the account's queue (50 tasks queued or running) is full. Not retried as
    a request: the job keeps polling its own tasks and submits again when one ends (``TaskRemote.submit``)."""

    retryable = False


def not_sent(exc: httpx.TransportError) -> bool:
    """Whether ``exc`` was raised before the request could reach the service (no connection was made, no
    pooled connection was free, the URL cannot be sent): such a POST is safely sent again."""
    return isinstance(exc, _NOT_SENT)


def _stamp(when: datetime) -> str:
    return when.strftime("%Y%m%d%H%M%S")


def _created(task: Mapping[str, Any]) -> float | None:
    """Unix seconds of a task's ``gmt_create`` (listing) or ``submit_time`` (its reply), ``YYYY-MM-DD
    hh:mm:ss[.fff]`` in Beijing time, or ``None``."""
    raw = task.get("gmt_create") or task.get("submit_time")
    if not isinstance(raw, str):
        return None
    for layout in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(raw, layout).replace(tzinfo=BEIJING).timestamp()
        except ValueError:
            continue
    return None


def _total(task: Mapping[str, Any]) -> int | None:
    """``task_metrics.TOTAL`` (lines), or ``None`` before the service reports it (a PENDING task)."""
    metrics = task.get("task_metrics")
    total = metrics.get("TOTAL") if isinstance(metrics, dict) else None
    return int(total) if total is not None else None


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
        try:
            response = self._request(method, path, json=json, params=params, headers=headers)
        except httpx.TransportError as exc:
            raise transport_error(exc, self.settings.timeout) from None
        return load_reply(response.status_code, response.headers, response.content, error_key="code")

    def _request(
        self, method: str, path: str, *, json: Any = None, params: Any = None, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        content = orjson.dumps(json) if json is not None else None
        return self.runner.client().request(
            method, self.settings.root + path, content=content, params=params, headers=headers
        )

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
    def submit(
        self, model: str, url: str, text_type: str, find: Callable[[float, float], str | None] | None = None
    ) -> str:
        """Submit a task embedding the file at ``url``; returns its task id.

        Args:
            find: after an ambiguous failure, ``find(first, last)`` (Unix seconds of the first and the last send
                that may have reached the service) returns the id of the one task those sends may have created, or
                ``None`` when none did; the submission is sent again only then. A failure raised before the request
                left (``not_sent``) is not ambiguous: the submission is sent again without a lookup.

        Raises:
            TaskQueueFullError: the account's queue of tasks is full (429 ``Throttling.AllocationQuota``), at
                once: a slot frees only when a task ends, which retrying a request cannot wait for.
            APIError: refused (4xx other than 429), or still failing once retries are exhausted; also when the
                lookup after an ambiguous failure fails. BatchJobError: (from ``find``) several tasks may be the
                one a lost reply created. ResponseFormatError: the reply has no ``output.task_id``.
        """
        body = {"model": model, "input": {"url": url}, "parameters": {"text_type": text_type}}
        headers = {ASYNC_HEADER: "enable", RESOLVE_HEADER: "enable"}
        sent_at: float | None = None
        last_sent = 0.0
        for attempt in self.runner.retrying():
            with attempt:
                found = _look_up(find, sent_at, last_sent)
                if found is not None:
                    return found
                sent = time.time()
                try:
                    response = self._request("POST", TEXT_PATH, json=body, headers=headers)
                except httpx.TransportError as exc:
                    if not not_sent(exc):
                        sent_at, last_sent = sent if sent_at is None else sent_at, sent
                    raise transport_error(exc, self.settings.timeout) from None
                try:
                    reply = load_reply(response.status_code, response.headers, response.content, error_key="code")
                except APIError as exc:
                    if ambiguous(exc):
                        sent_at, last_sent = sent if sent_at is None else sent_at, sent
                    if isinstance(exc, RateLimitError) and exc.code == QUEUE_FULL_CODE:
                        # refused, so this send made nothing; an earlier ambiguous one may have made the task
                        found = _look_up(find, sent_at, last_sent)
                        if found is not None:
                            return found
                        raise TaskQueueFullError(
                            exc.message, status_code=exc.status_code, code=exc.code, request_id=exc.request_id
                        ) from None
                    raise
                task_id = (reply.get("output") or {}).get("task_id")
                if not isinstance(task_id, str) or not task_id:
                    raise ResponseFormatError(
                        "task submission reply has no output.task_id", request_id=reply.get("request_id")
                    )
                return task_id
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, task_id: str) -> dict[str, Any]:
        """``GET /api/v1/tasks/{id}``: the reply (``output.task_status`` ..., ``usage``); an unknown id answers
        ``task_status: "UNKNOWN"``.

        Raises:
            APIError: the call failed once retries are exhausted.
        """
        return self._call("GET", f"{TASKS_PATH}/{task_id}")

    def cancel(self, task_id: str) -> bool:
        """Cancel a PENDING task; ``False`` when the service refuses (400 ``UnsupportedOperation``: not PENDING).

        Raises:
            APIError: any other failure, once retries are exhausted.
        """
        try:
            self._call("POST", f"{TASKS_PATH}/{task_id}/cancel")
        except APIError as exc:
            if exc.status_code == 400 and exc.code == "UnsupportedOperation":
                return False
            raise
        return True

    def list_tasks(self, model: str, since: float, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Tasks of ``model`` the service lists as created from ``since`` (Unix seconds) on, and possibly some
        created up to 14 h earlier: the window is sent as UTC minus ``LIST_WIDENING`` with no end, so whatever time
        zone the service reads it in, no task created since ``since`` is left out. Filter on ``gmt_create``.

        Raises:
            APIError: the listing failed once retries are exhausted (404/405 where the service does not list).
        """
        start = datetime.fromtimestamp(since - LIST_WIDENING, timezone.utc)
        page = 1
        while True:
            params = {"model_name": model, "start_time": _stamp(start), "page_no": page, "page_size": page_size}
            reply = self._call("GET", TASKS_PATH, params=params)
            output = reply.get("output")
            body: dict[str, Any] = output if isinstance(output, dict) else reply
            data = body.get("data") or []
            yield from data
            if not data or page >= int(body.get("total_page") or 1):
                return
            page += 1

    def find_unrecorded(
        self, model: str, first: float, last: float, recorded: Collection[str], lines: int | None = None
    ) -> str | None:
        """The one task a submission whose reply was lost may have created, or ``None`` when no task fits.

        A task fits when it is of ``model``, not in ``recorded``, created (the listing's ``gmt_create``, else the
        task's ``submit_time``, read as Beijing time)
        within ``[first - LOOKUP_SKEW, last + timeout + LOOKUP_SKEW]`` (Unix seconds; ``timeout`` the request
        timeout), and, when it reports ``task_metrics.TOTAL`` (running or done), holds ``lines`` lines. The listing
        is never trusted for order; a task the listing gives without a creation time or line count is asked for
        (``get``). ``None`` also when the service does not list tasks (404/405).

        Raises:
            BatchJobError: more than one task fits, or one fits whose creation time cannot be read: adopting one
                could take another job's task (same account, same model) and sending again could make a second
                task; the message names them and how to go on. APIError: the listing or a task lookup failed.
        """
        low, high = first - LOOKUP_SKEW, last + self.settings.timeout + LOOKUP_SKEW
        try:
            listed = [t for t in self.list_tasks(model, low) if t.get("task_id") and t["task_id"] not in recorded]
        except APIError as exc:
            if exc.status_code in (404, 405):
                return None
            raise
        fits: list[tuple[str, float | None]] = []
        for task in listed:
            created = _created(task)
            if created is not None and not low <= created <= high:
                continue  # most of the 14 h widening ends here, without a call
            if created is None or (lines is not None and not isinstance(task.get("task_metrics"), dict)):
                # the listing lacks the creation time or the line count: the task's own reply has both
                task = {**(self.get(str(task["task_id"])).get("output") or {}), **task}
                created = _created(task)
                if created is not None and not low <= created <= high:
                    continue
            if lines is not None and _total(task) not in (None, lines):
                continue
            fits.append((str(task["task_id"]), created))
        if not fits:
            return None
        if len(fits) == 1 and fits[0][1] is not None:
            return fits[0][0]
        ids = ", ".join(sorted(task_id for task_id, _ in fits))
        raise BatchJobError(
            f"a {model} task submission of {lines if lines is not None else 'some'} lines sent at "
            f"{datetime.fromtimestamp(first, timezone.utc):%Y-%m-%d %H:%M:%S} UTC got no reply, and which "
            f"unrecorded task of the account it created cannot be told apart among: {ids}. Nothing was adopted or "
            "sent again. "
            "Inspect them (GET /api/v1/tasks/{id}) and cancel this job's if it is still PENDING, then rerun with "
            "--restart to start over (`batch cancel` first stops the job's other tasks)"
        )

    # -- results --
    def download(self, url: str, dest: Path) -> Path:
        """Stream the result at ``url`` into ``dest`` (through a temporary name); returns ``dest``. The signed URL
        is fetched without the API key.

        Raises:
            APIError: the download failed once retries are exhausted (403 once the signed URL has expired).
        """
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


def _look_up(find: Callable[[float, float], str | None] | None, sent_at: float | None, last_sent: float) -> str | None:
    """``find(sent_at, last_sent)`` after an ambiguous send (``None`` when there was none).

    Raises:
        APIError: the lookup failed (``client.lookup_after_lost_reply``).
    """
    if sent_at is None or find is None:
        return None
    return lookup_after_lost_reply(lambda: find(sent_at, last_sent), "task submission")
