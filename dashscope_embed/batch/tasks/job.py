"""``AsyncTaskJob``: a corpus embedded by text-embedding-async-v1/v2 as asynchronous batch tasks, resumable.

The job is the task kind of ``coordinator.RemoteJob`` (which runs the steps: state file, planning into shards,
submission within the account's limits, polling with backoff, collection into the journals, resubmission, the
Parquet output in input order, the summary; see its docstring). What is particular to tasks:

- before anything is uploaded: the model (an ``async_task`` model of the catalog), the region (China (Beijing)
  only, unless an explicit ``base_url``), ``rows_per_task`` (1 to 100,000), ``text_type``, and every row
  (``source.scan_rows``: no row over the model's 2,048 tokens, since a task line is one whole text);
- lines: one text per line; each line break inside a text becomes a space (``lines.one_line``); a shard is one
  task of at most ``rows_per_task`` lines;
- the remote: ``remote.TaskRemote`` (temporary upload, submission at most once a second, backing off on 429, the
  task id recorded the moment it exists, a lost submission looked up instead of repeated);
- results: the gzipped result parsed in either line shape, keyed by ``text_index``, checked for completeness, and
  journaled in bounded memory (``collect``); failed lines and tasks that FAILED as a whole are resubmitted up to
  ``max_resubmits`` rounds; rows still failing end the job with ``BatchJobError`` listing their ids and codes.

Source of every limit: ``limits.TASKS_DOC``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from ...catalog import CATALOG, TEXT_TYPES
from ...errors import InvalidInputError
from ...jobs.cost import format_money
from ...jobs.sources import Row
from ...settings import REGION_ROOTS, ResolvedSettings, resolve_connection
from ..coordinator import Collected, RemoteJob
from ..lines import write_lines
from ..options import RemoteJobOptions
from ..output import unembedded_error
from ..source import Rows, Scan, scan_rows
from ..state import Attempt, JobState, Shard
from ..summary import BatchSummary
from .client import TaskClient
from .collect import collect_task, retry_failures
from .limits import TASK_LIMITS, TASKS_DOC, TaskLimits
from .lines import pack_task_lines
from .remote import TaskRemote

__all__ = ["AsyncTaskJob", "TaskJobOptions", "TaskSummary", "task_models"]

#: bytes of one task's input file the job plans for at most (the temporary upload's per-file limit is 100 MB)
MAX_TASK_FILE_BYTES = 100 * 1024 * 1024


def task_models() -> list[str]:
    """Catalog models that run only as asynchronous batch tasks."""
    return sorted(name for name, spec in CATALOG.items() if spec.async_task)


@dataclass(frozen=True)
class TaskJobOptions(RemoteJobOptions):
    """Options of ``AsyncTaskJob``: ``RemoteJobOptions`` and

    Attributes:
        model: default ``text-embedding-async-v2`` (20 million free tokens for 90 days on a new account).
        rows_per_task: texts per task, 1 to 100,000 (the documented maximum, and the default).
        text_type: ``"document"`` or ``"query"``, sent as ``parameters.text_type``.
        poll_interval / max_poll_interval: seconds between status checks at first / at most (default 5 / 60).
        limits: the documented limits (the pace a client keeps; smaller ones for tests).
    """

    model: str = "text-embedding-async-v2"
    poll_interval: float = 5.0
    max_poll_interval: float = 60.0
    rows_per_task: int = TASK_LIMITS.max_lines
    text_type: str = "document"
    limits: TaskLimits = TASK_LIMITS


@dataclass
class TaskSummary(BatchSummary):
    """What an async task run did, and its cost at the model's list price (CNY per million tokens, China
    (Beijing)); ``batches`` counts tasks submitted, ``batch_tokens`` the tokens of collected tasks.

    Attributes:
        free_quota_tokens / free_quota_days: the model's free quota for a new account, if any.
    """

    free_quota_tokens: int | None = None
    free_quota_days: int | None = None

    def lines(self) -> list[str]:
        """The human-readable summary."""
        if self.already_complete:
            return self._complete_lines()
        out = [
            self._wrote_line(),
            f"this run: {self.rows_this_run} rows collected, {self.batches} tasks submitted, {self.requests} tasks "
            f"collected, {self.tokens} tokens, {self.seconds:.1f} s",
            f"cost: {format_money(self.cost_cny(), 'CNY')} at the list price"
            + (
                f" (or nothing within the free quota of {self.free_quota_tokens:,} tokens for "
                f"{self.free_quota_days} days of a new account)"
                if self.free_quota_tokens
                else ""
            ),
        ]
        if self.job_tokens != self.tokens:
            out.append(f"whole job (all runs): {self.job_requests} tasks, {self.job_tokens} tokens")
        return out


class AsyncTaskJob(RemoteJob):
    """Embed rows into a Parquet file with asynchronous batch tasks (see the module docstring).

    Args:
        rows: a ``SourceSpec`` (a JSONL/CSV/text file, read as the bulk job reads it) or a re-iterable of
            ``(id, text)`` pairs.
        output: the Parquet file (the bulk job's schema: id, dense ``(1536,) float32``); its work directory is
            ``OUTPUT.parts`` and its state ``OUTPUT.batch-state.json`` (``dashscope-embed batch status|cancel``).
        options: ``TaskJobOptions``.

    Raises (from ``run``):
        InvalidInputError: a model that is not a task model, a region without it, ``rows_per_task`` outside
            1..100,000, an unknown ``text_type``, ``fallback_realtime`` (no real-time model documents the same
            vectors), a non-string text or rows over 2,048 tokens (their ids and token counts) - all before
            anything is uploaded.
        BatchJobError: rows that still failed after ``max_resubmits`` rounds (ids and codes, in ``failures``),
            work of another job in the way, a recorded task the service does not know.
        APIError: a call failed after its retries (rerun to resume).
    """

    api = "task"
    api_title = "asynchronous batch tasks"
    suffix = ".jsonl"
    options: TaskJobOptions

    def __init__(self, rows: Rows, output: Path, options: TaskJobOptions | None = None) -> None:
        super().__init__(rows, output, options or TaskJobOptions())
        self.limits = self.options.limits
        self.rows_per_task = self.options.rows_per_task
        per_task = self.rows_per_task if isinstance(self.rows_per_task, int) and self.rows_per_task > 0 else 1
        self.chunk_size = max(1, min(self.options.chunk_size, per_task))  # a chunk's lines fit in one task

    def check_options(self) -> ResolvedSettings:
        """Check the model, the region and the numbers; return the resolved connection settings.

        Raises:
            InvalidInputError: see the class docstring (the message names the value and what is allowed).
        """
        if not self.spec.async_task:
            raise InvalidInputError(
                f"{self.model} does not run as asynchronous batch tasks; task models: "
                f"{', '.join(task_models())} (source: {TASKS_DOC})"
            )
        self.check_numbers({"max_resubmits": 0, "chunk_size": 1})
        value = self.rows_per_task
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= self.limits.max_lines:
            raise InvalidInputError(
                f"rows_per_task must be an int from 1 to {self.limits.max_lines} (the lines "
                f"one task takes), got {value!r} (source: {TASKS_DOC})"
            )
        if self.options.text_type not in TEXT_TYPES:
            raise InvalidInputError(f"text_type {self.options.text_type!r} is not one of {', '.join(TEXT_TYPES)}")
        if self.options.fallback_realtime:
            raise InvalidInputError(
                f"fallback_realtime is not available for {self.model}: it has no real-time "
                "endpoint, and no real-time model is documented to give the same vectors"
            )
        settings = resolve_connection(**self.options.connection())
        if not self.explicit_base_url:
            self.spec.check_region(settings.region)
            if settings.root != REGION_ROOTS["beijing"]:
                raise InvalidInputError(
                    f"{self.model} is offered in China (Beijing) only; use region='beijing' or "
                    f"an explicit base_url (source: {TASKS_DOC})"
                )
        settings.require_key()
        return settings

    def scan(self) -> Scan:
        """Every row checked once and digested (``source.scan_rows``); the key also covers ``text_type``."""
        found = scan_rows(
            self.source,
            spec=self.spec,
            dimension=self.dimension,
            chunk_size=self.chunk_size,
            skip_empty=self.options.skip_empty,
            api=self.api,
            line_noun="task line",
        )
        key = hashlib.sha256(f"{found.key}:{self.options.text_type}".encode()).hexdigest()
        return Scan(key=key, rows=found.rows, kept=found.kept)

    def open_remote(self, settings: ResolvedSettings) -> TaskRemote:
        """A ``TaskRemote`` over a ``TaskClient`` for ``settings``."""
        client = TaskClient(settings, max_retries=self.options.max_retries, transport=self.options.transport)
        return TaskRemote(client, self.model, self.options.text_type, self.limits, log=self.log)

    def new_state(self, key: str, settings: ResolvedSettings) -> JobState:
        """A fresh task state: one shard a task, one text a line."""
        return JobState(
            key=key,
            job_id=self.job_id(key, settings),
            model=self.model,
            dimension=self.dimension,
            completion_window=None,
            rows_per_line=1,
            lines_per_shard=self.rows_per_task,
            chunk_size=self.chunk_size,
            root=settings.root,
            input=str(self.source.path),
            kind=self.api,
        )

    def new_summary(self) -> TaskSummary:
        """A summary at the model's list price, with its free quota."""
        price = self.spec.price_per_million_tokens_cny
        return TaskSummary(
            output=self.output,
            batch_price_per_million_tokens_cny=price,
            price_per_million_tokens_cny=price,
            free_quota_tokens=self.spec.free_quota_tokens,
            free_quota_days=self.spec.free_quota_days,
        )

    def pack(self, rows: list[Row], state: JobState) -> list[tuple[bytes, int]]:
        """One line per row (``lines.pack_task_lines``)."""
        return pack_task_lines(rows, state.job_id)

    @property
    def max_file_bytes(self) -> int:
        """Bytes planned per task file at most."""
        return MAX_TASK_FILE_BYTES

    def collect_results(
        self,
        state: JobState,
        shard: Shard,
        attempt: Attempt,
        base: Path,
        out: Path | None,
        err: Path | None,
        mask: np.ndarray,
    ) -> Collected:
        """Journal the task's successes and sort its other lines (``collect.collect_task``). A CANCELED task ran
        nothing and billed nothing: its lines are queued again in the same round (``requeue``), so a ``batch cancel``
        does not use up a resubmission and a rerun submits them whatever ``max_resubmits`` is. A FAILED task (nothing
        billed either) is queued again as the next round while ``max_resubmits`` allows; after that its lines are
        permanent failures."""
        remote = self.active_remote
        assert isinstance(remote, TaskRemote)
        if attempt.status == "CANCELED":
            again = self.requeue(state, shard, attempt)
            self.log(
                f"task {attempt.remote_id} (shard {shard.index}) was cancelled: its lines wait as attempt "
                f"{again.number}"
            )
            return Collected()
        failure = remote.reason(attempt) if attempt.status == "FAILED" else None
        if failure is not None:
            said = f"task {attempt.remote_id} (shard {shard.index}) failed: {failure[0]}: {failure[1]}"
            if attempt.round < self.options.max_resubmits:
                # every line goes again: the input file becomes the next round's attempt as it is (not read
                # into memory, which for 100,000 lines of up to 2,048 tokens could be hundreds of MB)
                again = self.requeue(state, shard, attempt, next_round=True)
                self.log(f"{said}; its lines go again as attempt {again.number}")
                return Collected()
            self.log(said)
        return collect_task(
            attempt,
            shard,
            base,
            out,
            failure,
            self.work,
            state.chunk_size,
            mask,
            self.options.max_resubmits,
            dimension=state.dimension,
        )

    def line_rows(self, line: bytes, shard: Shard) -> int:
        """One text a line."""
        return 1

    def _requeue_failed(self, state: JobState) -> None:
        """A rerun submits again the lines an earlier run reported as failed for a passing reason (``InternalError``,
        ``Throttling.*``, left out of a result, a task that failed as a whole: ``collect.retry_failures``), as a new
        attempt of round 0 (a fresh ``max_resubmits``); lines the model refused stay reported."""
        super()._requeue_failed(state)
        for shard in state.shards:
            again = retry_failures(self.work, shard)
            if not again:
                continue
            count, _ = write_lines(self.attempt_path(shard.index, shard.next_number), again)
            shard.add_attempt(count, count, 0)
            for line in again:
                cid = orjson.loads(line)["custom_id"]
                del shard.failures[cid]
                shard.messages.pop(cid, None)
            self.save(state)
            self.log(f"shard {shard.index}: {count} lines that failed in an earlier run are submitted again")

    def _resolve_failures(self, state: JobState, settings: ResolvedSettings) -> None:
        """Rows still failing end the job (no real-time model gives these vectors); the error says what a rerun
        does with them."""
        if any(shard.failures for shard in state.shards):
            raise unembedded_error(
                state,
                self.source,
                self.api_title,
                self.work,
                advice="a rerun of the same command submits again the rows that failed for a passing reason "
                "(InternalError, Throttling.*, not_returned, a failed task); the others cannot be embedded by "
                f"{self.model} as they are",
            )

    def on_failed(self, state: JobState, shard: Shard, attempt: Attempt) -> None:
        """Not called: ``TaskRemote.failed`` is never true (a FAILED task is collected and its lines resubmitted)."""
