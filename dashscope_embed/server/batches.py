"""The Batches endpoints of the Batch File API under ``/compatible-mode/v1``, and their background execution.

``POST /batches`` ``{"input_file_id", "endpoint": "/v1/embeddings", "completion_window": "24h".."336h" (or days),
"metadata": {"ds_name" (<= 100 chars), "ds_description" (<= 200)}}``; ``GET /batches/{id}``;
``POST /batches/{id}/cancel``; ``GET /batches?after=&limit=`` (newest first, the last 30 days).

A batch goes ``validating`` -> ``in_progress`` -> ``finalizing`` -> ``completed``, or ``failed`` (validation:
``errors.data[]`` of ``{code, message, line}``), ``expired`` (part-way, by fault) or ``cancelling`` ->
``cancelled``. Each line is executed by the same handler, backend and row limits as
``POST /compatible-mode/v1/embeddings``; a line that fails lands in the error file with its HTTP status and error
body. Result lines ``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}`` are written
in a shuffled order (the real service does not keep input order). Lines a batch did not reach (expired,
cancelled) are in neither file and are not billed.

Lines are streamed from the input file on disk: validation reads it once (holding the custom_ids until it ends,
for the uniqueness check), execution reads the next few lines of each step from an open handle, so a running batch
holds a handful of lines in memory whatever its size, plus two integers per result line (their offsets in a
scratch file, for the shuffled copy); a ``DELETE /files/{id}`` of a running batch's input does not stop it.

Execution runs on one asyncio task of the service's event loop, a few lines of every active batch per step
(``FaultConfig.batch_lines_per_step``, ``batch_step_delay`` between steps): bounded work, and it ends with the
loop when the service stops. Limits and statuses: ``dashscope_embed.batch.limits`` (source ``BATCH_DOC``).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..batch.limits import ENDPOINT, LIMITS, TERMINAL_STATUSES, BatchLimits, parse_completion_window
from ..errors import InvalidInputError, LocalServiceError
from . import compat
from .files import FilesAPI, FileStore, list_page
from .replies import ServiceError, compat_error_body, json_response
from .validation import invalid, parse_body
from .worker import BackgroundWorker

__all__ = ["BatchAPI", "BATCHES_PATH"]

BATCHES_PATH = "/compatible-mode/v1/batches"
_OPTS = orjson.OPT_SERIALIZE_NUMPY
_INTERNAL = "An internal error has occured, please try again later or contact service support."
_THROTTLED = "Requests rate limit exceeded, please try again later."


class _Results:
    """Result lines of one kind (output or error) in a scratch file, with their offsets for the shuffled copy."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle = open(path, "wb")  # noqa: SIM115 - open while the batch runs, closed when it ends
        self.spans: list[tuple[int, int]] = []
        self.offset = 0

    def add(self, line: bytes) -> None:
        self.handle.write(line + b"\n")
        self.spans.append((self.offset, len(line) + 1))
        self.offset += len(line) + 1

    def publish(self, store: FileStore, name: str, rng: random.Random) -> str | None:
        self.handle.close()
        try:
            if not self.spans:
                return None
            rng.shuffle(self.spans)
            file_id, target = store.new_path()
            with open(self.path, "rb") as src, open(target, "wb") as out:
                for offset, length in self.spans:
                    src.seek(offset)
                    out.write(src.read(length))
            return store.register(file_id, name, "batch_output")["id"]
        finally:
            self.path.unlink(missing_ok=True)


class _Run:
    """The execution state of one batch."""

    def __init__(self, api: BatchAPI, batch: dict[str, Any], number: int) -> None:
        self.api = api
        self.batch = batch
        faults = api.service.faults.config
        self.rng = random.Random(f"{faults.seed}:batch:{number}")
        self.total = 0  # requests (non-blank lines) in the input file
        self.position = 0  # requests executed
        self._input: BinaryIO | None = None
        self.expire_at: int | None = None
        self.done = False
        scratch = api.files.root / f".run-{batch['id']}"
        self.output = _Results(scratch.with_suffix(".out"))
        self.errors = _Results(scratch.with_suffix(".err"))

    # -- validation --
    def validate(self) -> None:
        batch, limits = self.batch, self.api.limits
        errors: list[dict[str, Any]] = []
        seen: set[str] = set()
        models: set[str] = set()
        path = self.api.files.path(batch["input_file_id"])
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                line = raw.rstrip(b"\r\n")
                if not line.strip():
                    continue
                problem = self._check_line(line, seen, models, limits)
                if problem:
                    errors.append({"code": problem[0], "message": problem[1], "line": number, "param": None})
                    if len(errors) >= 100:
                        break
                self.total += 1
        if self.total > limits.max_lines:
            errors.append(
                {
                    "code": "too_many_requests",
                    "line": None,
                    "param": None,
                    "message": f"The input file holds {self.total} requests; at most {limits.max_lines}.",
                }
            )
        if not self.total and not errors:
            errors.append(
                {"code": "empty_file", "message": "The input file holds no requests.", "line": None, "param": None}
            )
        faults = self.api.service.faults.config
        if not errors and self.rng.random() < faults.batch_validation_failure_rate:
            number = self.rng.randrange(self.total) + 1
            errors.append(
                {
                    "code": "invalid_request",
                    "line": number,
                    "param": None,
                    "message": "The request on this line is not valid (injected validation fault).",
                }
            )
        now = int(time.time())
        if errors:
            batch.update(status="failed", failed_at=now, errors={"object": "list", "data": errors})
            self.finish()
            return
        if self.rng.random() < faults.batch_expire_rate:
            self.expire_at = int(self.total * faults.batch_expire_fraction)
        batch["request_counts"]["total"] = self.total
        self._input = open(path, "rb")  # noqa: SIM115 - read line by line while the batch runs, closed when it ends
        if batch["status"] == "validating":
            batch.update(status="in_progress", in_progress_at=now)

    @staticmethod
    def _check_line(line: bytes, seen: set[str], models: set[str], limits: BatchLimits) -> tuple[str, str] | None:
        if len(line) > limits.max_line_bytes:
            return "line_too_large", f"The line holds {len(line)} bytes; at most {limits.max_line_bytes}."
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            return "invalid_json_line", "The line is not valid JSON."
        if not isinstance(record, dict):
            return "invalid_json_line", "The line is not a JSON object."
        custom_id = record.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            return "missing_custom_id", "The line has no custom_id."
        if custom_id in seen:
            return "duplicate_custom_id", f"The custom_id {custom_id!r} is not unique in the file."
        seen.add(custom_id)
        if record.get("method") != "POST":
            return "invalid_method", "method must be POST."
        if record.get("url") != ENDPOINT:
            return "mismatched_url", f"url {record.get('url')!r} does not match the batch endpoint {ENDPOINT}."
        body = record.get("body")
        if not isinstance(body, dict):
            return "missing_body", "The line has no body object."
        models.add(str(body.get("model")))
        if len(models) > 1:
            return "mismatched_model", "A file may use one model only; this line names another."
        return None

    # -- execution --
    async def step(self) -> None:
        if self.done:
            return
        if self.batch["status"] == "validating":
            self.validate()
            return
        if self.batch["status"] == "cancelling":
            self.finalize("cancelled")
            return
        step = self.api.service.faults.config.batch_lines_per_step
        end = min(self.total, self.position + step)
        if self.expire_at is not None:
            end = min(end, self.expire_at)
        while self.position < end:
            await self._execute(orjson.loads(self._next_line()))
            self.position += 1
        if self.expire_at is not None and self.position >= self.expire_at:
            self.finalize("expired")
        elif self.position >= self.total:
            self.batch.update(status="finalizing", finalizing_at=int(time.time()))
            self.finalize("completed")

    def _next_line(self) -> bytes:
        assert self._input is not None
        for raw in self._input:
            if raw.strip():
                return raw
        raise LocalServiceError("the input file ended before its validated requests")  # pragma: no cover

    async def _execute(self, record: dict[str, Any]) -> None:
        request_id = str(uuid.uuid4())
        counts = self.batch["request_counts"]
        status, body, error = 200, None, None
        faults = self.api.service.faults.config
        try:
            if self.rng.random() < faults.batch_line_failure_rate:
                if self.rng.random() < 0.5:
                    raise ServiceError(500, "InternalError", _INTERNAL)
                raise ServiceError(429, "Throttling.RateQuota", _THROTTLED)
            result = await compat.handle(record["body"], self.api.service.backend, request_id)
            body = result.body
        except ServiceError as exc:
            status, body = exc.status, compat_error_body(exc, request_id)
            error = {"code": body["error"]["code"], "message": exc.message}
        line = {
            "id": f"batch_req_{uuid.uuid4().hex[:24]}",
            "custom_id": record["custom_id"],
            "response": {"status_code": status, "request_id": request_id, "body": body},
            "error": error,
        }
        encoded = orjson.dumps(line, option=_OPTS)
        if error is None:
            inputs = record["body"].get("input")
            texts = [inputs] if isinstance(inputs, str) else list(inputs)
            self.api.service.stats.batch_line_billed([hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts])
            self.output.add(encoded)
            counts["completed"] += 1
        else:
            self.errors.add(encoded)
            counts["failed"] += 1

    def finalize(self, status: str) -> None:
        batch = self.batch
        files = self.api.files
        batch["output_file_id"] = self.output.publish(files, f"{batch['id']}_success.jsonl", self.rng)
        batch["error_file_id"] = self.errors.publish(files, f"{batch['id']}_error.jsonl", self.rng)
        batch.update(status=status, **{f"{status}_at": int(time.time())})
        self.finish()

    def finish(self) -> None:
        self.done = True
        if self._input is not None:
            self._input.close()
            self._input = None
        for results in (self.output, self.errors):
            if not results.handle.closed:
                results.handle.close()
                results.path.unlink(missing_ok=True)


class BatchAPI(BackgroundWorker):
    """The Files and Batches routes of one service, and the task that executes batches.

    Args:
        service: the ``EmbeddingService`` (backend, faults, statistics, authentication, error replies).
        limits: documented limits by default; smaller ones make limit tests cheap.
    """

    def __init__(self, service: Any, limits: BatchLimits = LIMITS) -> None:
        self.service = service
        self.limits = limits
        self.files = FileStore(limits)
        self.files_api = FilesAPI(service, self.files)
        self.batches: dict[str, dict[str, Any]] = {}
        self._runs: list[_Run] = []
        self._created: deque[float] = deque()

    def routes(self) -> list[Route]:
        """Starlette routes of the Files and Batches endpoints."""
        guard = self.files_api._guard
        return [
            *self.files_api.routes(),
            Route(BATCHES_PATH, guard(self.create), methods=["POST"]),
            Route(BATCHES_PATH, guard(self.list), methods=["GET"]),
            Route(BATCHES_PATH + "/{batch_id}", guard(self.retrieve), methods=["GET"]),
            Route(BATCHES_PATH + "/{batch_id}/cancel", guard(self.cancel), methods=["POST"]),
        ]

    def reset_rate_window(self) -> None:
        """Forget past creations for the per-minute creation limit (tests that change limits start clean)."""
        self._created.clear()

    # -- endpoints --
    async def create(self, request: Request) -> Response:
        """``POST /batches``: check the request and the account limits, then queue the batch (``validating``)."""
        body = parse_body(await request.body())
        file_id = body.get("input_file_id")
        if not isinstance(file_id, str):
            raise invalid("input_file_id is required", param="input_file_id")
        self.files.get(file_id)
        if body.get("endpoint") != ENDPOINT:
            raise invalid(
                f"endpoint must be {ENDPOINT!r} for embedding batches, got {body.get('endpoint')!r}", param="endpoint"
            )
        try:
            parse_completion_window(body.get("completion_window"), self.limits)
        except InvalidInputError as exc:
            raise invalid(str(exc), param="completion_window") from None
        metadata = self._check_metadata(body.get("metadata"))
        self._check_account_limits()
        now = int(time.time())
        batch = {
            "id": f"batch_{uuid.uuid4()}",
            "object": "batch",
            "endpoint": ENDPOINT,
            "errors": None,
            "input_file_id": file_id,
            "completion_window": body["completion_window"],
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": now,
            "in_progress_at": None,
            "expires_at": now + parse_completion_window(body["completion_window"], self.limits) * 3600,
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": metadata,
        }
        self.batches[batch["id"]] = batch
        self.service.stats.batch_created((metadata or {}).get("ds_name", ""))
        self._runs.append(_Run(self, batch, len(self.batches)))
        self.wake()
        return json_response(batch)

    def _check_metadata(self, metadata: Any) -> dict[str, str] | None:
        if metadata is None:
            return None
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise invalid("metadata must be an object of strings", param="metadata")
        for key, most in (
            ("ds_name", self.limits.max_name_chars),
            ("ds_description", self.limits.max_description_chars),
        ):
            if len(metadata.get(key, "")) > most:
                raise invalid(f"metadata.{key} may hold at most {most} characters", param=f"metadata.{key}")
        return dict(metadata)

    def _check_account_limits(self) -> None:
        now = time.monotonic()
        while self._created and now - self._created[0] >= 60.0:
            self._created.popleft()
        if len(self._created) >= self.limits.max_creations_per_minute:
            raise ServiceError(
                429,
                "Throttling.RateQuota",
                f"At most {self.limits.max_creations_per_minute} batches may be created per minute.",
                headers={"Retry-After": f"{max(1, int(60 - (now - self._created[0])))}"},
            )
        running = sum(1 for b in self.batches.values() if b["status"] not in TERMINAL_STATUSES)
        if running >= self.limits.max_concurrent_batches:
            raise ServiceError(
                429, "Throttling.RateQuota", f"At most {self.limits.max_concurrent_batches} batches may run at once."
            )
        self._created.append(now)

    async def retrieve(self, request: Request) -> Response:
        """``GET /batches/{id}``."""
        return json_response(self._get(request.path_params["batch_id"]))

    async def cancel(self, request: Request) -> Response:
        """``POST /batches/{id}/cancel``: ``cancelling`` until the worker stops it (a finished batch is returned
        as it is)."""
        batch = self._get(request.path_params["batch_id"])
        if batch["status"] not in TERMINAL_STATUSES and batch["status"] != "cancelling":
            batch.update(status="cancelling", cancelling_at=int(time.time()))
            self.wake()
        return json_response(batch)

    async def list(self, request: Request) -> Response:
        """``GET /batches?after=&limit=``: newest first, only batches of the last ``list_days`` days."""
        horizon = time.time() - self.limits.list_days * 86400
        return list_page(request, [b for b in reversed(list(self.batches.values())) if b["created_at"] >= horizon])

    def _get(self, batch_id: str) -> dict[str, Any]:
        batch = self.batches.get(batch_id)
        if batch is None:
            raise ServiceError(404, "NotFound", f"No such batch: {batch_id}", param="batch_id")
        return batch

    # -- execution --
    async def _work(self) -> None:
        while True:
            self._runs = [run for run in self._runs if not run.done]
            if not self._runs:
                await self._idle()
                continue
            for run in list(self._runs):
                try:
                    await run.step()
                except Exception as exc:  # a bug must not stop every other batch: fail this one visibly
                    run.batch.update(
                        status="failed",
                        failed_at=int(time.time()),
                        errors={
                            "object": "list",
                            "data": [{"code": "internal_error", "message": repr(exc), "line": None, "param": None}],
                        },
                    )
                    run.finish()
            await asyncio.sleep(self.service.faults.config.batch_step_delay)
