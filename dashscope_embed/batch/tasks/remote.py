"""``TaskRemote``: the ``Remote`` of the async task job, over ``TaskClient``.

- ``submit``: the attempt's lines become a text file (``lines.write_text_file``), uploaded through the temporary
  upload (its ``oss://`` URL recorded as ``file_id``; uploaded again once 90% of its 48 h are gone), then the task
  is submitted at most once a second (the documented pace; a 429 is retried after its ``Retry-After``). When the
  account's queue of 50 tasks is full (other jobs' tasks count too) the attempt waits unsubmitted, logged once, and
  is offered again after each poll.
  ``creating`` and ``sent_at`` are saved before the POST, the task id the moment it is known. After a kill between
  the two, the rerun looks for the task of the model created around ``sent_at`` that no attempt recorded, of the
  attempt's line count (``TaskClient.find_unrecorded``) and adopts it instead of submitting a second task for the
  same rows; when several tasks of the account fit it stops with a ``BatchJobError`` naming them rather than guess.
- ``refresh``: ``GET /api/v1/tasks/{id}``: status, ``task_metrics``, the result URL (``output_file_id``),
  ``usage.total_tokens`` (``counts["total_tokens"]``); an ``UNKNOWN`` task is a 404 for the coordinator (the
  service no longer holds it).
- ``failed`` is never true: a task that FAILED as a whole is terminal with no result, so collection resubmits all
  its lines as the next round, within ``max_resubmits`` (``collect``).
- ``fetch``: the gzipped result of a SUCCEEDED task (``None`` for FAILED / CANCELED).
- ``cancel``: PENDING tasks only (the service refuses others: an ``APIError`` says so).
- ``delete_*``: nothing to delete: temporary uploads expire after 48 h, results after about 24 h.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import APIError, ResponseFormatError
from ..state import Attempt, JobState, Shard
from .client import TaskClient, TaskQueueFullError
from .limits import TERMINAL_TASK_STATUSES, TaskLimits
from .lines import write_text_file

__all__ = ["TaskRemote"]


class TaskRemote:
    """``Remote`` over the asynchronous task API (see the module docstring).

    Args:
        client: the task calls. model: the task model. text_type: ``"document"`` or ``"query"``.
        limits: the documented limits (the submission pace, tasks queued or running).
    """

    noun = "task"
    nouns = "tasks"

    def __init__(
        self,
        client: TaskClient,
        model: str,
        text_type: str,
        limits: TaskLimits,
        log: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.client = client
        self.model = model
        self.text_type = text_type
        self.limits = limits
        self.log = log
        self.queue_full = False  # the last submission found the account's queue full (logged once a spell)
        # the service queues the rest of 50 and runs 3: a job keeps at most that many unfinished
        self.max_running = limits.max_queued
        self.reasons: dict[str, tuple[str, str]] = {}  # task id -> (code, message) of a FAILED task
        self._last_submit: float | None = None

    def submit(self, state: JobState, shard: Shard, attempt: Attempt, path: Path, save: Callable[[], None]) -> bool:
        """See ``Remote.submit``: upload the text file, then submit the task (or adopt the one a killed run made).

        Raises:
            BatchJobError: a lost submission may have created any of several tasks (``TaskClient.find_unrecorded``).
            APIError: the upload, the submission or the lookup failed.
        """
        recorded = {a.remote_id for sh in state.shards for a in sh.attempts if a.remote_id}
        if attempt.creating and attempt.sent_at is not None:
            # a killed run may have retried (429s, lost replies) for as long as its retries allow before the kill
            last = attempt.sent_at + (self.client.runner.max_retries + 1) * (self.client.settings.timeout + 60)
            found = self.client.find_unrecorded(self.model, attempt.sent_at, last, recorded, attempt.lines)
            if found is not None:
                attempt.remote_id, attempt.status = found, "PENDING"
                save()
                self.refresh(attempt)
                save()
                return False
        if attempt.file_id is not None and self._expiring(attempt):
            # a wait for a slot, or a rerun days later: the service could no longer read the upload
            attempt.file_id = attempt.uploaded_at = None
        if attempt.file_id is None:
            text = path.with_suffix(".txt")
            write_text_file(path, text)
            try:
                attempt.file_id = self.client.upload(self.model, text)
                attempt.uploaded_at = time.time()
            finally:
                text.unlink(missing_ok=True)
            save()
        self._pace()
        attempt.creating, attempt.sent_at = True, time.time()
        save()
        try:
            task_id = self.client.submit(
                self.model,
                attempt.file_id,
                self.text_type,
                find=lambda first, last: self.client.find_unrecorded(self.model, first, last, recorded, attempt.lines),
            )
        except TaskQueueFullError as exc:
            # refused: nothing was made. The attempt waits (remote_id None) and the coordinator offers it again
            # after its next poll; the account's queue frees a slot only when some task ends.
            self._last_submit = time.monotonic()
            attempt.creating, attempt.sent_at = False, None
            save()
            if not self.queue_full:
                self.queue_full = True
                self.log(f"the account's task queue is full ({exc.message}): waiting for a task to end")
            return False
        self._last_submit = time.monotonic()
        self.queue_full = False
        attempt.remote_id, attempt.status = task_id, "PENDING"
        save()
        return True

    def _expiring(self, attempt: Attempt) -> bool:
        """Whether the attempt's upload is in the last tenth of its validity, or past it (an upload of an older
        state file, without ``uploaded_at``, is taken as still valid)."""
        if attempt.uploaded_at is None:
            return False
        return time.time() - attempt.uploaded_at > 0.9 * self.limits.upload_valid_hours * 3600

    def _pace(self) -> None:
        if self._last_submit is not None:
            wait = self.limits.submit_interval - (time.monotonic() - self._last_submit)
            if wait > 0:
                time.sleep(wait)

    def refresh(self, attempt: Attempt) -> bool:
        """``GET /api/v1/tasks/{id}`` into ``attempt`` (see ``Remote.refresh``).

        Raises:
            APIError: ``status_code`` 404 for a task the service reports ``UNKNOWN``.
        """
        reply = self.client.get(attempt.submitted_id)
        output: dict[str, Any] = reply.get("output") or {}
        status = output.get("task_status")
        if status == "UNKNOWN":
            raise APIError(
                f"the service does not know task {attempt.remote_id} (UNKNOWN)",
                status_code=404,
                request_id=reply.get("request_id"),
            )
        before = (attempt.status, attempt.counts)
        metrics = output.get("task_metrics") or {}
        # the Batch File API's names, so ``batch status`` reads both kinds alike
        counts = {
            name: int(metrics[key])
            for name, key in (("total", "TOTAL"), ("completed", "SUCCEEDED"), ("failed", "FAILED"))
            if key in metrics
        }
        tokens = (reply.get("usage") or {}).get("total_tokens")
        if tokens is not None:
            counts["total_tokens"] = int(tokens)
        attempt.status, attempt.counts = status, counts
        attempt.output_file_id = output.get("url")
        if status == "FAILED":
            self.reasons[attempt.submitted_id] = (
                str(output.get("code") or "UnknownError"),
                str(output.get("message") or ""),
            )
        return before != (attempt.status, attempt.counts)

    def terminal(self, attempt: Attempt) -> bool:
        """SUCCEEDED, FAILED or CANCELED."""
        return attempt.status in TERMINAL_TASK_STATUSES

    def failed(self, attempt: Attempt) -> bool:
        """Never: a FAILED task is collected like a task with no result (its lines are resubmitted)."""
        return False

    def reason(self, attempt: Attempt) -> tuple[str, str]:
        """``(code, message)`` of a FAILED task (asked again after a rerun)."""
        if attempt.remote_id not in self.reasons:
            self.refresh(attempt)
        return self.reasons.get(attempt.remote_id or "", ("UnknownError", "the task failed"))

    def fetch(self, attempt: Attempt, base: Path) -> tuple[Path | None, Path | None]:
        """Download the gzipped result of a SUCCEEDED task to ``base`` + ``.out.gz`` (``None`` for a task that
        FAILED or was CANCELED: it billed nothing).

        Raises:
            ResponseFormatError: the task SUCCEEDED (it was billed) and its reply, asked again, has no ``output.url``:
                resubmitting its lines would bill them twice.
        """
        if attempt.status != "SUCCEEDED":
            return None, None
        if not attempt.output_file_id:
            self.refresh(attempt)
        if not attempt.output_file_id:
            raise ResponseFormatError(
                f"task {attempt.remote_id} SUCCEEDED but its reply has no output.url (the result file); its lines "
                "are not submitted again, which would bill them twice. Rerun to ask again"
            )
        return self.client.download(attempt.output_file_id, base.with_suffix(".out.gz")), None

    def cancel(self, attempt: Attempt) -> None:
        """Cancel a PENDING task.

        Raises:
            APIError: the task is no longer PENDING (the service cancels only those; it runs to its end).
        """
        if not self.client.cancel(attempt.submitted_id):
            raise APIError(
                f"task {attempt.remote_id} is no longer PENDING: the service cancels only PENDING "
                "tasks, so it runs to its end",
                status_code=400,
                code="UnsupportedOperation",
            )

    def delete_input(self, attempt: Attempt) -> None:
        """Nothing to delete: the temporary upload expires after 48 h."""

    def delete_all(self, attempt: Attempt) -> None:
        """Nothing to delete: the temporary upload and the result expire on the service."""

    def remote_names(self, attempt: Attempt) -> list[str]:
        """The task id."""
        return [attempt.remote_id] if attempt.remote_id else []

    def close(self) -> None:
        """Close the client."""
        self.client.close()
