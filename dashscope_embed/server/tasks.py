"""Asynchronous batch tasks of text-embedding-async-v1/v2: submission, status, cancel and the gzipped result.

- ``POST /api/v1/services/embeddings/text-embedding/text-embedding`` with ``X-DashScope-Async: enable`` and
  ``{"model", "input": {"url": "oss://..."}, "parameters": {"text_type"}}`` submits a task:
  ``{"output": {"task_id", "task_status": "PENDING"}, "request_id"}``. The input is read from the temporary-upload
  store (``oss://`` with ``X-DashScope-OssResourceResolve: enable``, as on the real service); this service reads
  no other URL. A synchronous model with the header, or an asynchronous-task model without it, is refused with
  403 ``AccessDenied`` (``current user api does not support asynchronous|synchronous calls``).
- ``GET /api/v1/tasks/{id}``: ``output.task_status`` PENDING, RUNNING (with ``task_metrics {TOTAL, SUCCEEDED,
  FAILED}``), SUCCEEDED (``output.url`` of a ``*_output_<ms>.txt.gz``, ``usage.total_tokens``), FAILED
  (``output.code``/``message``), CANCELED; ``submit_time``/``scheduled_time``/``end_time`` as
  ``"2024-11-25 13:55:46.536"`` in Beijing time (UTC+8, whatever this machine's zone, as a client of the Beijing
  service reads them); an unknown id answers 200 with ``task_status: "UNKNOWN"``.
- ``POST /api/v1/tasks/{id}/cancel``: PENDING only; otherwise 400 ``UnsupportedOperation``.
- The result: gzip of JSON lines, one per input line in no particular order, each ``{"output": {"text_index",
  "embedding"}}`` or, with ``FaultConfig.task_line_shape="flat"``, ``{"text_index", "embedding"}``; a failed line
  carries ``code``/``message`` and no embedding. Served at a signed URL of this service that takes no API key.

Limits (``dashscope_embed.batch.tasks.limits``): one submission per second (429 ``Throttling.RateQuota`` with
``Retry-After``), 50 tasks queued or running (429 ``Throttling.AllocationQuota``), 3 running (the rest stay
PENDING), 100,000 lines per file (the task FAILS), 2,048 tokens per line (that line fails). Faults: failed lines,
a task that FAILS as a whole, slow queues and steps, the line shape (``FaultConfig.task_*``).

Memory: a running task holds one step of lines and vectors; results go straight into a gzip file on disk, so a
task of 100,000 x 1536 floats never sits in memory. Execution is one asyncio task of the service's loop; the
encoding and compression of a step run in a worker thread.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import io
import math
import os
import random
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from ..batch.tasks.limits import TASK_LIMITS, TASKS_PATH, TaskLimits
from ..catalog import CATALOG
from .replies import ServiceError, json_response
from .validation import TEXT_TYPES, invalid, lookup_model, parse_body, token_count
from .vectors import text_vectors
from .worker import BackgroundWorker

__all__ = ["TaskAPI", "RESULTS_PATH", "SYNC_REFUSED", "ASYNC_REFUSED"]

#: where result files are served (the "signed OSS link" of the local service)
RESULTS_PATH = "/local-oss/task-results"
SYNC_REFUSED = "current user api does not support synchronous calls"
ASYNC_REFUSED = "current user api does not support asynchronous calls"
_THROTTLED = "Requests rate limit exceeded, please try again later."
_INTERNAL = "An internal error has occured, please try again later or contact service support."
_OPTS = orjson.OPT_SERIALIZE_NUMPY


#: the zone of every time this service writes and reads (the async models' only region, Beijing)
_BEIJING = timezone(timedelta(hours=8))


def _now() -> str:
    return datetime.now(_BEIJING).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _instant(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=_BEIJING).timestamp()


def _count_lines(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


class _Task:
    """One task: its input, progress, result file and reply fields."""

    def __init__(self, api: TaskAPI, number: int, model: str, text_type: str, data: bytes) -> None:
        self.api = api
        self.id = str(uuid.uuid4())
        self.model = model
        self.text_type = text_type
        self.data = data  # the stored upload itself (bytes are shared, not copied)
        faults = api.service.faults.config
        self.rng = random.Random(f"{faults.seed}:task:{number}")
        self.status = "PENDING"
        self.submit_time = _now()
        self.submitted = time.monotonic()
        self.created = time.time()
        self.scheduled_time: str | None = None
        self.end_time: str | None = None
        self.total = self.succeeded = self.failed = self.tokens = 0
        self.code: str | None = None
        self.message: str | None = None
        self.url: str | None = None
        self._lines: io.BytesIO | None = None
        self._position = 0
        self._gz: gzip.GzipFile | None = None
        self.path: Path | None = None

    # -- the reply --
    def reply(self, request_id: str) -> dict[str, Any]:
        output: dict[str, Any] = {"task_id": self.id, "task_status": self.status, "submit_time": self.submit_time}
        if self.scheduled_time:
            output["scheduled_time"] = self.scheduled_time
        if self.end_time:
            output["end_time"] = self.end_time
        if self.status in ("RUNNING", "SUCCEEDED"):
            output["task_metrics"] = {"TOTAL": self.total, "SUCCEEDED": self.succeeded, "FAILED": self.failed}
        if self.status == "SUCCEEDED":
            output["url"] = self.url
        if self.status == "FAILED":
            output.update(code=self.code, message=self.message)
        body: dict[str, Any] = {"request_id": request_id, "output": output}
        if self.status == "SUCCEEDED":
            body["usage"] = {"total_tokens": self.tokens}
        return body

    # -- execution --
    def start(self) -> None:
        faults, limits = self.api.service.faults.config, self.api.limits
        self.status, self.scheduled_time = "RUNNING", _now()
        self.total = _count_lines(self.data)
        if self.total == 0:
            self.fail("InvalidParameter", "The input file holds no lines.")
        elif self.total > limits.max_lines:
            self.fail("InvalidParameter", f"The input file holds {self.total} lines; at most {limits.max_lines}.")
        elif self.rng.random() < faults.task_failure_rate:
            self.fail("InternalError", _INTERNAL + " (injected task failure)")
        else:
            self._lines = io.BytesIO(self.data)
            self.path = self.api.results / f"{self.id}_output_{int(time.time() * 1000)}.txt.gz"
            self._gz = gzip.GzipFile(self.path, "wb", compresslevel=1)

    def fail(self, code: str, message: str) -> None:
        self.status, self.code, self.message, self.end_time = "FAILED", code, message, _now()
        self._close()
        self.data = b""

    def _close(self) -> None:
        if self._gz is not None:
            self._gz.close()
            self._gz = None
        if self.status != "SUCCEEDED" and self.path is not None:
            self.path.unlink(missing_ok=True)

    async def step(self) -> None:
        faults = self.api.service.faults.config
        assert self._lines is not None
        raw = [self._lines.readline() for _ in range(min(faults.task_lines_per_step, self.total - self._position))]
        texts = [line.rstrip(b"\n").rstrip(b"\r").decode("utf-8", "replace") for line in raw]
        first, self._position = self._position, self._position + len(texts)
        verdicts: list[tuple[str, str] | None] = []
        counts: list[int] = []
        for text in texts:
            verdict: tuple[str, str] | None = None
            count = 0
            if not text.strip():
                verdict = ("BadRequest.EmptyInput", "Required input parameter missing from request.")
            else:
                count = token_count(text)
                if count > self.api.limits.max_tokens_per_line:
                    verdict = (
                        "InvalidParameter",
                        f"Range of input length should be [1, {self.api.limits.max_tokens_per_line}]",
                    )
                elif self.rng.random() < faults.task_line_failure_rate:
                    verdict = (
                        ("InternalError", _INTERNAL)
                        if self.rng.random() < 0.5
                        else ("Throttling.RateQuota", _THROTTLED)
                    )
            verdicts.append(verdict)
            counts.append(count)
        good = [i for i, v in enumerate(verdicts) if v is None]
        vectors: Any = (
            await text_vectors(
                self.api.service.backend,
                [texts[i] for i in good],
                text_type=self.text_type,
                instruct=None,
                dimension=CATALOG[self.model].default_dimension,
            )
            if good
            else []
        )
        order = list(range(len(texts)))
        self.rng.shuffle(order)  # the real service keeps no order
        await run_in_threadpool(self._write, first, order, verdicts, good, vectors, faults.task_line_shape)
        billed = [hashlib.blake2b(texts[i].encode("utf-8"), digest_size=8).digest() for i in good]
        self.api.billed.update(billed)
        self.succeeded += len(good)
        self.failed += len(texts) - len(good)
        self.tokens += sum(counts[i] for i in good)
        if self._position >= self.total:
            self._finish()

    def _write(
        self,
        first: int,
        order: list[int],
        verdicts: list[tuple[str, str] | None],
        good: list[int],
        vectors: Any,
        shape: str,
    ) -> None:
        row_of = {i: n for n, i in enumerate(good)}
        lines = []
        for i in order:
            verdict = verdicts[i]
            item: dict[str, Any] = {"text_index": first + i}
            if verdict is None:
                item["embedding"] = vectors[row_of[i]]
            line: dict[str, Any] = item if shape == "flat" else {"output": item}
            if verdict is not None:
                line["code"], line["message"] = verdict
            lines.append(orjson.dumps(line, option=_OPTS))
        assert self._gz is not None
        self._gz.write(b"\n".join(lines) + b"\n")

    def _finish(self) -> None:
        assert self._gz is not None and self.path is not None
        self._gz.close()
        self._gz = None
        self.status, self.end_time = "SUCCEEDED", _now()
        self.url = self.api.signed_url(self.path.name)
        self.data = b""
        self._lines = None


class TaskAPI(BackgroundWorker):
    """The task routes of one service and the asyncio task that runs them.

    Args:
        service: the ``EmbeddingService`` (backend, faults, statistics, authentication, error replies).
        uploads: the temporary-upload service whose store holds the input files.
        limits: documented limits by default; smaller ones make limit tests cheap.

    Attributes:
        tasks: task id -> task (kept while the service runs).
        submissions: tasks accepted; refused: submissions refused, by error code.
        billed: texts of successful result lines by an 8-byte blake2b digest of their UTF-8 (a count above 1 is a
            text billed twice).
        downloads / authorized_downloads: result downloads, and those that carried an API key (one must not).
        submitted_at: ``time.monotonic()`` of each accepted submission (the pace a client kept).
    """

    def __init__(self, service: Any, uploads: Any, limits: TaskLimits = TASK_LIMITS) -> None:
        self.service = service
        self.uploads = uploads
        self.limits = limits
        self.tasks: dict[str, _Task] = {}
        self.submissions = 0
        self.refused: Counter[str] = Counter()
        self.billed: Counter[bytes] = Counter()
        self.downloads = self.authorized_downloads = 0
        self.submitted_at: list[float] = []
        self.base_url = ""
        self._last_submit: float | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="dashscope-embed-tasks-")
        self.results = Path(self._dir.name)
        self._secret = os.urandom(16)

    def routes(self) -> list[Route]:
        """Starlette routes: task status, cancel, and the result files."""
        return [
            Route(TASKS_PATH, self._guard(self.list), methods=["GET"]),
            Route(TASKS_PATH + "/{task_id}", self._guard(self.get), methods=["GET"]),
            Route(TASKS_PATH + "/{task_id}/cancel", self._guard(self.cancel), methods=["POST"]),
            Route(RESULTS_PATH + "/{name}", self.download, methods=["GET"]),
        ]

    def reset(self) -> None:
        """Zero the counters and the submission pace (tests start clean); tasks stay."""
        self.submissions = self.downloads = self.authorized_downloads = 0
        self.submitted_at.clear()
        self.refused.clear()
        self.billed.clear()
        self._last_submit = None

    def forget_finished(self) -> None:
        """Drop SUCCEEDED, FAILED and CANCELED tasks (their ids then read ``UNKNOWN`` and no listing holds them), so
        a test's account starts without earlier tests' tasks; PENDING and RUNNING ones stay with the worker."""
        for task_id in [i for i, t in self.tasks.items() if t.status in ("SUCCEEDED", "FAILED", "CANCELED")]:
            del self.tasks[task_id]

    def _guard(self, handler: Any) -> Any:
        async def run(request: Request) -> Response:
            request_id = str(uuid.uuid4())
            try:
                self.service._authorize(request)
                response = await handler(request, request_id)
            except ServiceError as error:
                if error.status == 429 or error.code == "AccessDenied":
                    self.refused[error.code] += 1
                return self.service.error_response(error, "native", request_id)
            self.service.stats.reply(response.status_code)
            return response

        return run

    def dispatching(self, endpoint: Any) -> Any:
        """Wrap the text-embedding endpoint: requests with ``X-DashScope-Async: enable`` submit a task."""
        submit = self._guard(self.submit)

        async def route(request: Request) -> Response:
            if request.headers.get("x-dashscope-async", "").strip().lower() == "enable":
                return await submit(request)
            return await endpoint(request)

        return route

    # -- endpoints --
    async def submit(self, request: Request, request_id: str) -> Response:
        """Check a submission and the account limits, then queue the task (PENDING)."""
        body = parse_body(await request.body())
        spec = lookup_model(body.get("model"), "text")
        if not spec.async_task:
            raise ServiceError(403, "AccessDenied", ASYNC_REFUSED)
        inp = body.get("input")
        url = inp.get("url") if isinstance(inp, dict) else None
        if not isinstance(url, str) or not url:
            raise ServiceError(
                400, "InvalidParameter", "input.url is required: the URL of a text file.", param="input.url"
            )
        params = body.get("parameters") or {}
        text_type = params.get("text_type", "document") if isinstance(params, dict) else "document"
        if text_type not in TEXT_TYPES:
            raise invalid(
                f"Invalid text_type {text_type!r}: it should be one of {', '.join(TEXT_TYPES)}.", param="text_type"
            )
        data = self._input(request, url)
        self._check_limits()
        self.base_url = str(request.base_url).rstrip("/")
        self.submissions += 1
        task = _Task(self, self.submissions, spec.name, text_type, data)
        self.tasks[task.id] = task
        self.wake()
        return json_response({"output": {"task_id": task.id, "task_status": "PENDING"}, "request_id": request_id})

    def _input(self, request: Request, url: str) -> bytes:
        if not url.startswith("oss://"):
            raise invalid(
                f"The local service reads task input only from its temporary storage (oss://...), got {url[:80]!r}.",
                param="input.url",
            )
        if request.headers.get("x-dashscope-ossresourceresolve", "").strip().lower() != "enable":
            raise invalid("oss:// resources need the header X-DashScope-OssResourceResolve: enable.", param="input.url")
        data = self.uploads.stored(url)
        if data is None:
            raise invalid(f"the file {url!r} does not exist.", param="input.url")
        return data

    def _check_limits(self) -> None:
        now = time.monotonic()
        if self._last_submit is not None and now - self._last_submit < self.limits.submit_interval:
            wait = self.limits.submit_interval - (now - self._last_submit)
            raise ServiceError(429, "Throttling.RateQuota", _THROTTLED, headers={"Retry-After": f"{math.ceil(wait)}"})
        live = sum(1 for t in self.tasks.values() if t.status in ("PENDING", "RUNNING"))
        if live >= self.limits.max_queued:
            raise ServiceError(
                429,
                "Throttling.AllocationQuota",
                f"At most {self.limits.max_queued} tasks may be queued or running at once.",
            )
        self._last_submit = now
        self.submitted_at.append(now)

    async def get(self, request: Request, request_id: str) -> Response:
        """``GET /api/v1/tasks/{id}`` (UNKNOWN for an id this service does not know)."""
        task_id = request.path_params["task_id"]
        task = self.tasks.get(task_id)
        if task is None:
            return json_response({"request_id": request_id, "output": {"task_id": task_id, "task_status": "UNKNOWN"}})
        return json_response(task.reply(request_id))

    async def list(self, request: Request, request_id: str) -> Response:
        """``GET /api/v1/tasks?model_name=&start_time=&end_time=&page_no=&page_size=`` (times ``YYYYMMDDhhmmss``,
        Beijing time; either bound may be left out), newest first, as the dashscope SDK's
        ``BatchTextEmbedding.list`` asks for them; ``gmt_create`` as ``submit_time``."""
        query = request.query_params
        try:
            start = _instant(query["start_time"]) if "start_time" in query else 0
            end = _instant(query["end_time"]) if "end_time" in query else 1e12
            page, size = int(query.get("page_no", "1")), int(query.get("page_size", "10"))
        except ValueError:
            raise invalid("start_time/end_time must be YYYYMMDDhhmmss; page_no and page_size integers.") from None
        if page < 1 or not 1 <= size <= 100:
            raise invalid("page_no must be >= 1 and page_size within [1, 100].")
        model = query.get("model_name")
        found = [
            t
            for t in reversed(list(self.tasks.values()))
            if (model is None or t.model == model) and start <= t.created <= end
        ]
        items = [
            {"task_id": t.id, "status": t.status, "model_name": t.model, "gmt_create": t.submit_time}
            for t in found[(page - 1) * size : page * size]
        ]
        return json_response(
            {
                "request_id": request_id,
                "data": items,
                "page_no": page,
                "page_size": size,
                "total": len(found),
                "total_page": max(1, math.ceil(len(found) / size)),
            }
        )

    async def cancel(self, request: Request, request_id: str) -> Response:
        """``POST /api/v1/tasks/{id}/cancel``: a PENDING task becomes CANCELED; any other is refused."""
        task = self.tasks.get(request.path_params["task_id"])
        if task is None or task.status != "PENDING":
            raise ServiceError(
                400,
                "UnsupportedOperation",
                "Failed to cancel the task, please confirm if the task is in PENDING status.",
            )
        task.status, task.end_time, task.data = "CANCELED", _now(), b""
        return json_response({"request_id": request_id})

    def signed_url(self, name: str) -> str:
        """A link to a result file, signed as object storage links are (no API key needed or wanted)."""
        expires = int(time.time()) + self.limits.keep_hours * 3600
        return f"{self.base_url}{RESULTS_PATH}/{name}?Expires={expires}&Signature={self._sign(name, expires)}"

    def _sign(self, name: str, expires: int) -> str:
        return hmac.new(self._secret, f"{name}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]

    async def download(self, request: Request) -> Response:
        """A result file, for a valid signature."""
        if "authorization" in request.headers:
            self.authorized_downloads += 1
        name = request.path_params["name"]
        try:
            expires = int(request.query_params.get("Expires", "0"))
        except ValueError:
            expires = 0
        signature = request.query_params.get("Signature", "")
        path = self.results / name
        if (
            expires < time.time()
            or not hmac.compare_digest(signature, self._sign(name, expires))
            or "/" in name
            or not path.is_file()
        ):
            return Response("<Error><Code>AccessDenied</Code></Error>", status_code=403, media_type="application/xml")
        self.downloads += 1
        return FileResponse(path, media_type="application/gzip")

    # -- execution --
    async def _work(self) -> None:
        while True:
            faults = self.service.faults.config
            pending = [t for t in self.tasks.values() if t.status == "PENDING"]
            running = [t for t in self.tasks.values() if t.status == "RUNNING"]
            if not pending and not running:
                await self._idle()
                continue
            now = time.monotonic()
            for task in pending:
                if len(running) < self.limits.max_running and now - task.submitted >= faults.task_queue_delay:
                    task.start()
                    if task.status == "RUNNING":
                        running.append(task)
            for task in running:
                try:
                    await task.step()
                except Exception as exc:  # a bug must not stop every other task: fail this one visibly
                    task.fail("InternalError", repr(exc))
            await asyncio.sleep(faults.task_step_delay if running else 0.01)
