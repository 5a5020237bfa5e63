"""``BatchEmbeddingJob``: a corpus embedded through Model Studio's Batch File API, resumable, at the batch price.

How a job runs (``run``):

1. Before anything is uploaded: the completion window, the model (it must have a batch price in the catalog),
   the region (embedding batches are China (Beijing) only) and every row (the bulk job's rules: texts must be
   strings; empty rows are left out and counted, or refused; and no row may hold more than the model's
   ``max_tokens_per_row`` tokens: a batch line carries whole rows, so the real-time path's split-and-average is
   not available and such rows are refused with their ids and token counts) are checked, and the job key (input
   digest, model, dimension) is formed. An ``OUTPUT`` holding another job's result is refused.
2. Rows stream in chunks of ``chunk_size`` (the unit of journal and Parquet part, as in the bulk job); each
   chunk's non-empty rows are packed into lines of ``rows_per_line`` (see ``lines``), and chunks into shards of at
   most ``lines_per_shard`` lines and ``max_file_bytes`` bytes. Each shard's file is written locally, uploaded,
   and a batch is created with ``metadata.ds_name`` naming the job, shard and attempt.
3. Batches are polled, every ``poll_interval`` seconds at first and less often (up to ``max_poll_interval``) while
   nothing changes. A finished batch's result files are downloaded, their successes journaled (``collect``), and
   the lines that failed for a retryable reason or were never executed are resubmitted as a new attempt, up to
   ``max_resubmits`` times; a row-limit error re-splits the line; a line that failed with an input error is
   re-split into one-row lines once, so only the rows the service refuses are reported. A batch the service
   ``failed`` (validation: nothing ran, nothing is billed) stops the run with the service's errors, the rows and
   ids of each line named; its input file is deleted, and a rerun submits its lines again as a new attempt.
4. Rows no batch could embed end the job with ``BatchJobError`` listing their ids and codes, unless
   ``fallback_realtime`` embeds them through the real-time API (``DashScopeEmbedder``).
5. Chunks become Parquet parts and the parts one ``OUTPUT`` (the bulk job's writer, same schema and metadata);
   uploaded and result files are deleted on the service unless ``keep_remote_files``.

Every step is recorded in the state file (``state``) before the next starts, so a rerun after a crash or
``kill -9`` resumes: it never re-uploads a shard whose batch exists, looks a batch up by its ``ds_name`` when its
creation may have been sent but not recorded, and never submits a line that succeeded (each text is billed at
most once). No ``POST /batches`` or ``POST /files`` is sent blindly twice (``client``). A state written against
another root is refused; a recorded batch the service does not know (404) is an error naming it. ``restart``
discards the state (cancelling its unfinished batches and deleting its remote files where it can) and the work
directory, and starts over. Memory holds one chunk of rows and one result line at a time.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Union

import numpy as np
import orjson

from ..catalog import CATALOG, get_model_spec
from ..errors import APIError, InvalidInputError
from ..jobs.chunks import chunked, split_empty
from ..jobs.errors import BulkJobError
from ..jobs.journal import append_record, encode_record, journal_name, read_journal
from ..jobs.parquet import merge_parts, output_schema, write_part
from ..jobs.sources import Row, SourceSpec, read_rows
from ..jobs.workdir import completed_output, finished_parts, prepare_work_dir, work_dir_for
from ..settings import REGION_ROOTS, ResolvedSettings, environment_defaults, resolve_connection
from ..tokens import count_tokens, fits
from ..wire import TextRequest
from .client import BatchAPIClient
from .collect import done_mask, journal_results, plan_resubmission, read_errors
from .limits import BATCH_DOC, LIMITS, TERMINAL_STATUSES, BatchLimits, parse_completion_window
from .lines import LineFile, pack_row_lines, parse_custom_id, read_lines, rows_of, write_lines
from .state import Attempt, JobState, Shard, load_state, save_state, state_path_for
from .summary import BatchSummary

__all__ = ["BatchEmbeddingJob", "BatchJobError", "BatchSummary", "batch_models"]

Rows = Union[SourceSpec, Iterable[tuple[Any, Any]]]
#: a default that suits a 24-hour window: status checks stay far below any request quota
DEFAULT_POLL_INTERVAL = 30.0


def _groups(lines: list[bytes], most_lines: int, most_bytes: int) -> Iterator[list[bytes]]:
    """``lines`` in consecutive groups of at most ``most_lines`` lines and ``most_bytes`` bytes (newlines counted)."""
    group: list[bytes] = []
    size = 0
    for line in lines:
        if group and (len(group) >= most_lines or size + len(line) + 1 > most_bytes):
            yield group
            group, size = [], 0
        group.append(line)
        size += len(line) + 1
    if group:
        yield group


class BatchJobError(BulkJobError):
    """A batch job cannot start, or ended with rows it could not embed.

    Attributes:
        failures: ``(row number, id, code)`` of every row that could not be embedded (empty when the job
            stopped for another reason).
    """

    def __init__(self, message: str, failures: Optional[list[tuple[int, Optional[str], str]]] = None) -> None:
        super().__init__(message)
        self.failures = failures or []


def batch_models() -> list[str]:
    """Catalog models offered through the Batch File API (those with ``batch_price_per_million_tokens_cny``)."""
    return sorted(name for name, spec in CATALOG.items() if spec.batch_price_per_million_tokens_cny is not None)


class BatchEmbeddingJob:
    """Embed rows into a Parquet file through the Batch File API (see the module docstring).

    Args:
        rows: a ``SourceSpec`` (a JSONL/CSV/text file, read as the bulk job reads it) or a re-iterable of
            ``(id, text)`` pairs (a list; the job reads it again to resume and to write the output).
        output: the Parquet file; its work directory is ``OUTPUT.parts`` and its state ``OUTPUT.batch-state.json``.
        model / dimensions: the model (it must be offered through the Batch File API) and output dimension.
        api_key / base_url / region / workspace / timeout / max_retries: connection settings, resolved as for
            ``DashScopeEmbedder`` (``settings.resolve_connection``); each API call is retried on its own.
        completion_window: ``"24h"`` to ``"336h"`` (an integer with unit ``h`` or ``d``).
        poll_interval / max_poll_interval: seconds between status checks at first / at most.
        rows_per_line: texts per JSONL line, >= 1 (default: the model's row limit; not documented for batches,
            so 1 is available; a row-limit error re-splits, and later shards still hold at most
            ``lines_per_shard`` lines).
        lines_per_shard: lines per input file (at most the documented 50,000).
        keep_remote_files: leave the uploaded and result files on the service.
        fallback_realtime: embed rows the batches could not through the real-time API, at the real-time price.
        max_resubmits: rounds of resubmission per shard for failed (5xx, throttling) or unexecuted (expired)
            lines; lines still failing after them are reported with the code and message of their last failure.
        chunk_size: rows per chunk, journal and Parquet part (memory bound).
        skip_empty: leave out empty rows and count them (``False``: refuse them before uploading anything).
        restart: discard the state and work directory, of this job or another, and start over (its unfinished
            batches are cancelled and its remote files deleted where possible; files on another root stay, and
            are logged). overwrite: replace another job's ``OUTPUT``.
        progress: a tqdm bar of rows collected out of the total, with the batches' states.
        log: where one-line notices go.
        limits: the documented limits (smaller ones for tests).
        transport: a custom httpx transport (tests).

    Raises (from ``run``):
        InvalidInputError: a bad completion window, a model without batch support, a region without embedding
            batches, a non-string text (names the row), a line over the size limit, rows over the model's token
            limit (their ids and token counts), ``rows_per_line`` < 1.
        BatchJobError: an ``OUTPUT`` or work of another job in the way, a state of another root, a recorded batch
            or result file the service does not know (names it), a batch the service failed (its errors, with
            the rows and ids of each line), rows that could not be embedded (their ids and codes, in
            ``failures``, with the service's messages in the text).
        APIError: an API call failed after its retries (rerun to resume).
    """

    def __init__(
        self,
        rows: Rows,
        output: Path,
        *,
        model: str = "text-embedding-v4",
        dimensions: Optional[int] = None,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        region: Optional[str] = None,
        workspace: Optional[str] = None,
        timeout: float = 60.0,
        max_retries: int = 4,
        completion_window: str = "24h",
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = 600.0,
        rows_per_line: Optional[int] = None,
        lines_per_shard: int = LIMITS.max_lines,
        keep_remote_files: bool = False,
        fallback_realtime: bool = False,
        max_resubmits: int = 3,
        chunk_size: int = 1000,
        skip_empty: bool = True,
        restart: bool = False,
        overwrite: bool = False,
        progress: bool = False,
        log: Callable[[str], None] = print,
        limits: BatchLimits = LIMITS,
        transport: Any = None,
    ) -> None:
        self.rows = rows
        self.output = Path(output)
        self.work = work_dir_for(self.output)
        self.state_path = state_path_for(self.output)
        self.model = model
        self.spec = get_model_spec(model)
        self.requested_dimension = dimensions
        self.dimension = self.spec.check_dimension(dimensions)
        self.connection = dict(api_key=api_key, base_url=base_url, region=region, workspace=workspace,
                               timeout=timeout)
        self.explicit_base_url = bool(base_url or environment_defaults().get("base_url"))
        self.max_retries = max_retries
        self.completion_window = completion_window
        self.poll_interval = poll_interval
        self.max_poll_interval = max(max_poll_interval, poll_interval)
        self.rows_per_line = self.spec.max_rows if rows_per_line is None else rows_per_line
        self.limits = limits
        self.lines_per_shard = min(lines_per_shard, limits.max_lines)
        self.keep_remote_files = keep_remote_files
        self.fallback_realtime = fallback_realtime
        self.max_resubmits = max_resubmits
        # a chunk's lines must fit in one shard
        self.chunk_size = max(1, min(chunk_size, self.lines_per_shard * max(1, self.rows_per_line)))
        self.skip_empty = skip_empty
        self.restart = restart
        self.overwrite = overwrite
        self.progress = progress
        self.log = log
        self.transport = transport
        self.has_id = not isinstance(rows, SourceSpec) or rows.id_field is not None
        self.request = TextRequest(model=model, dimension=self.dimension)
        self._bar: Any = None
        self._summary: Optional[BatchSummary] = None

    # ------------------------------------------------------------------ checks before anything remote

    def check_options(self) -> ResolvedSettings:
        """Check the window, the model, the region and the numbers; return the resolved connection settings.

        Raises:
            InvalidInputError: see the class docstring (the message names the value and what is allowed).
        """
        parse_completion_window(self.completion_window, self.limits)
        if self.spec.batch_price_per_million_tokens_cny is None:
            raise InvalidInputError(
                f"{self.model} is not offered through the Batch File API; models with batch support: "
                f"{', '.join(batch_models())} (source: {BATCH_DOC})"
            )
        for name in ("rows_per_line", "lines_per_shard", "max_resubmits"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < (0 if name == "max_resubmits" else 1):
                raise InvalidInputError(f"{name} must be an int >= {0 if name == 'max_resubmits' else 1}, "
                                        f"got {value!r}")
        if self.poll_interval <= 0:
            raise InvalidInputError(f"poll_interval must be > 0 seconds, got {self.poll_interval!r}")
        settings = resolve_connection(**self.connection)
        if not self.explicit_base_url and settings.root != REGION_ROOTS["beijing"]:
            raise InvalidInputError(
                f"embedding batches are offered in China (Beijing) only; {settings.root} serves chat batches only. "
                f"Use region='beijing', or pass an explicit base_url (source: {BATCH_DOC})"
            )
        settings.require_key()
        return settings

    def _iter_rows(self) -> Iterator[Row]:
        if isinstance(self.rows, SourceSpec):
            yield from read_rows(self.rows)
            return
        source = self.rows
        if iter(source) is source:  # type: ignore[arg-type]
            raise InvalidInputError("rows must be re-iterable (a list or a SourceSpec): the job reads them again "
                                    "to resume and to write the output")
        for index, pair in enumerate(source):  # type: ignore[union-attr]
            try:
                row_id, text = pair
            except (TypeError, ValueError):
                raise InvalidInputError(f"row {index}: expected an (id, text) pair, got {pair!r:.80}") from None
            if not isinstance(text, str):
                raise InvalidInputError(
                    f"row {index} (id {row_id!r}): text must be a string, got {type(text).__name__}"
                )
            yield Row(index, None if row_id is None else str(row_id), text)

    def _source_path(self) -> Path:
        return self.rows.path if isinstance(self.rows, SourceSpec) else Path("<rows>")

    def check_rows(self) -> tuple[str, int, int]:
        """Read every row once: apply the bulk job's rules and a line-size check, and digest the input.

        Returns:
            ``(job key, input rows, non-empty rows)``.

        Raises:
            InvalidInputError / BatchJobError / SourceError: a row that cannot be submitted (named).
        """
        digest = hashlib.sha256()
        total = kept = 0
        room = self.limits.max_line_bytes - 300  # the line's JSON around the text
        limit = self.spec.max_tokens_per_row
        over: list[tuple[Row, int]] = []
        over_count = 0
        for start, rows in chunked(self._iter_rows(), self.chunk_size):
            keep, _ = split_empty(rows, skip_empty=self.skip_empty, source=self._source_path())
            for row in rows:
                digest.update(orjson.dumps([row.id, row.text]))
            for row in keep:
                if len(row.text.encode("utf-8")) > room:
                    raise InvalidInputError(f"row {row.index} is too long for one batch line "
                                            f"(at most {self.limits.max_line_bytes} bytes per line)")
                if not fits(row.text, limit):
                    over_count += 1
                    if len(over) < 20:
                        over.append((row, count_tokens(row.text)))
            total = start + len(rows)
            kept += len(keep)
        if over:
            # A batch line carries whole rows: the real-time path's split-and-average (oversize="chunk_average")
            # needs the pieces' vectors back together, which batch lines cannot promise, so such rows are refused
            # here rather than failing their whole line on the service.
            shown = ", ".join(f"row {r.index} (id {r.id if r.id is not None else r.index!r}): {n} tokens"
                              for r, n in over)
            more = f" and {over_count - len(over)} more" if over_count > len(over) else ""
            raise InvalidInputError(
                f"{over_count} row(s) exceed {self.model}'s limit of {limit} tokens per row: {shown}{more} "
                f"(source: {self.spec.source}). Batch lines carry whole rows: shorten or split these rows, or embed "
                "the input through the real-time path (`embed` without --batch-api), which splits them on token "
                "boundaries and averages the pieces"
            )
        source = self.rows.describe() if isinstance(self.rows, SourceSpec) else {"pairs": True}
        described = {"input": digest.hexdigest(), "source": source, "model": self.model,
                     "dimension": self.dimension, "api": "batch"}
        return hashlib.sha256(orjson.dumps(described, option=orjson.OPT_SORT_KEYS)).hexdigest(), total, kept

    # ------------------------------------------------------------------ the run

    def run(self) -> BatchSummary:
        """Run or resume the job to the end (see the module docstring); returns this run's ``BatchSummary``."""
        started = time.monotonic()
        settings = self.check_options()
        key, _, kept_rows = self.check_rows()
        summary = BatchSummary(
            output=self.output, price_per_million_tokens_usd=self.spec.price_per_million_tokens_usd,
            batch_price_per_million_tokens_cny=self.spec.batch_price_per_million_tokens_cny,
            price_per_million_tokens_cny=self.spec.price_per_million_tokens_cny,
        )
        self._summary = summary
        meta = completed_output(self.output, key, overwrite=self.overwrite)
        if meta is not None:
            self.state_path.unlink(missing_ok=True)
            summary.rows, summary.skipped_empty = meta["rows"], meta["skipped"]
            summary.job_tokens, summary.job_requests = meta["tokens"], meta["requests"]
            summary.already_complete = True
            return summary
        client = BatchAPIClient(settings, max_retries=self.max_retries, transport=self.transport)
        try:
            state = self._open_state(key, settings, client)
            self._resubmit_failed(state, client)
            self._open_bar(state, kept_rows)
            self._plan_and_submit(state, client)
            self._poll_until_collected(state, client)
            self._resolve_failures(state, settings)
            self._close_bar()
            totals = self._write_output(state, key)
        finally:
            self._close_bar()
            client.close()
        self.state_path.unlink(missing_ok=True)
        summary.rows, summary.skipped_empty = totals["rows"], totals["skipped"]
        summary.job_tokens, summary.job_requests = totals["tokens"], totals["requests"]
        summary.tokens = summary.batch_tokens + summary.fallback_tokens
        summary.seconds = time.monotonic() - started
        return summary

    def _open_state(self, key: str, settings: ResolvedSettings, client: BatchAPIClient) -> JobState:
        state = load_state(self.state_path)
        if state is not None and self.restart:
            self._discard(state, settings, client)
            state = None
        elif state is not None and state.key != key:
            raise BatchJobError(
                f"{self.state_path} belongs to a different job (other input or options); rerun with the "
                "original input and options to finish it, or pass --restart to discard it"
            )
        elif state is not None and state.root != settings.root:
            raise BatchJobError(
                f"{self.state_path} records batches and files on {state.root}, but this run talks to "
                f"{settings.root}; rerun with --base-url {state.root} to finish the job there, or pass --restart to "
                f"discard it and submit every row to {settings.root}"
            )
        if self.restart and self.work.exists():
            shutil.rmtree(self.work)  # its journals belong to the discarded state
        if state is None:
            state = JobState(
                key=key, job_id=key[:12], model=self.model, dimension=self.dimension,
                completion_window=self.completion_window, rows_per_line=self.rows_per_line,
                lines_per_shard=self.lines_per_shard, chunk_size=self.chunk_size, root=settings.root,
                input=str(self._source_path()),
            )
        else:
            self.log(f"resuming the batch job in {self.state_path}")
        manifest = {"key": key, "chunk_size": state.chunk_size, "input": state.input, "model": self.model,
                    "dimension": self.dimension, "output_type": "dense", "api": "batch"}
        prepare_work_dir(self.work, manifest, restart=self.restart, log=self.log)
        save_state(self.state_path, state)
        return state

    def _discard(self, state: JobState, settings: ResolvedSettings, client: BatchAPIClient) -> None:
        """``restart``: cancel the state's unfinished batches and delete its remote files, where possible."""
        attempts = [a for sh in state.shards for a in sh.attempts]
        if state.root != settings.root:
            # the key of this run is not sent to a root it was not given for
            left = [i for a in attempts if not a.remote_deleted
                    for i in (a.batch_id, a.file_id, a.output_file_id, a.error_file_id) if i]
            if left:
                self.log(f"restart: {len(left)} batches/files of the discarded job stay on {state.root}: "
                         + ", ".join(left[:10]) + (" ..." if len(left) > 10 else ""))
            return
        for attempt in attempts:
            calls: list[tuple[str, Callable[[], Any]]] = []
            if attempt.batch_id and not attempt.collected and attempt.status not in TERMINAL_STATUSES:
                # its lines are submitted again: the old batch must not bill them a second time
                calls.append((f"cancel batch {attempt.batch_id}", lambda b=attempt.batch_id: client.cancel_batch(b)))
            if not attempt.remote_deleted and not self.keep_remote_files:
                calls += [(f"delete file {f}", lambda f=f: client.delete_file(f))
                          for f in (attempt.file_id, attempt.output_file_id, attempt.error_file_id) if f]
            for what, call in calls:
                try:
                    call()
                except APIError as exc:
                    self.log(f"restart: could not {what}: {exc}")
        self.log(f"restart: discarded the batch job in {self.state_path}")
        self.state_path.unlink(missing_ok=True)

    def _resubmit_failed(self, state: JobState, client: BatchAPIClient) -> None:
        """A rerun after a batch ``failed`` (nothing of it ran or was billed): its lines go again as a new
        attempt; the failed attempt's remote input file is deleted."""
        for shard in state.shards:
            for attempt in list(shard.attempts):
                if attempt.status != "failed" or attempt.collected:
                    continue
                self._delete_input(attempt, client)
                source = self._attempt_path(shard.index, attempt.number)
                if not source.exists():
                    raise BatchJobError(f"the lines of failed batch {attempt.batch_id} (shard {shard.index}) are "
                                        f"gone from {self.work}; pass --restart to discard the job and start over")
                number = max(a.number for a in shard.attempts) + 1
                os.replace(source, self._attempt_path(shard.index, number))
                shard.attempts.append(Attempt(number=number, lines=attempt.lines, rows=attempt.rows,
                                              round=attempt.round))
                attempt.collected = attempt.remote_deleted = True
                self.log(f"batch {attempt.batch_id} (shard {shard.index}) had failed: submitting its lines again "
                         f"as attempt {number}")
                self._save(state)

    def _delete_input(self, attempt: Attempt, client: BatchAPIClient) -> None:
        if attempt.file_id and not self.keep_remote_files and not attempt.remote_deleted:
            client.delete_file(attempt.file_id)
            attempt.remote_deleted = True

    def _save(self, state: JobState) -> None:
        save_state(self.state_path, state)

    # ------------------------------------------------------------------ planning and submission

    def _attempt_path(self, shard: int, attempt: int) -> Path:
        return self.work / f"shard-{shard:05d}-a{attempt}.jsonl"

    def _plan_and_submit(self, state: JobState, client: BatchAPIClient) -> None:
        self._submit_pending(state, client)
        current: Optional[LineFile] = None  # the shard being written, one chunk of lines in memory at a time
        shard_start = total = 0
        empty: list[int] = []
        for start, rows in chunked(self._iter_rows(), state.chunk_size):
            total = start + len(rows)
            if total <= state.planned_until:
                continue
            rows = [r for r in rows if r.index >= state.planned_until]  # a chunk a killed run planned in part
            keep, _ = split_empty(rows, skip_empty=self.skip_empty, source=self._source_path())
            lines = pack_row_lines(keep, state.job_id, self.model, self.requested_dimension, state.rows_per_line,
                                   self.limits)
            empty.extend(r.index for r in rows if not r.text.strip())
            i, first = 0, rows[0].index
            while True:
                if current is None:
                    current, shard_start = LineFile(self._attempt_path(len(state.shards), 0)), first
                # fill the shard to its line and byte limits; after rows_per_line shrank on a row-limit error a
                # chunk packs into more lines, and the shard limit must still hold
                j = i
                size = current.bytes
                while (j < len(lines) and current.lines + (j - i) < state.lines_per_shard
                       and size + len(lines[j][0]) + 1 <= self.limits.max_file_bytes):
                    size += len(lines[j][0]) + 1
                    j += 1
                if j == i and current.lines == 0 and lines:
                    j = i + 1  # one line alone is within every limit (pack_row_lines checks its size)
                current.add(line for line, _ in lines[i:j])
                if j == len(lines):
                    break
                end = lines[j][1]  # the next shard starts at the first row of the line that did not fit
                self._close_shard(state, client, current, shard_start, end, [e for e in empty if e < end])
                empty = [e for e in empty if e >= end]
                current, i, first = None, j, end
        if current is not None:
            self._close_shard(state, client, current, shard_start, total, empty)
        state.input_rows = total
        self._save(state)

    def _close_shard(self, state: JobState, client: BatchAPIClient, lines: LineFile, start: int, end: int,
                     empty: list[int]) -> None:
        shard = Shard(index=len(state.shards), start=start, end=end, empty=empty)
        count, _ = lines.commit()
        if count:
            shard.attempts.append(Attempt(number=0, lines=count, rows=(end - start) - len(empty)))
        state.shards.append(shard)
        state.planned_until = end
        self._save(state)
        if shard.attempts:
            self._submit_pending(state, client)
            if shard.attempts[0].batch_id is None:  # every batch slot is taken: wait for one to be collected
                self._poll(state, client, lambda: all(a.batch_id for sh in state.shards for a in sh.attempts))

    def _submit(self, state: JobState, shard: Shard, attempt: Attempt, client: BatchAPIClient) -> None:
        name = state.ds_name(shard.index, attempt.number)
        if attempt.creating:
            found = client.find_batch(name)  # the creation may have landed before a kill
            if found is not None:
                self._record_batch(state, attempt, found)
                return
        if attempt.file_id is None:
            path = self._attempt_path(shard.index, attempt.number)
            uploaded = client.adopt_upload(f"{name}.jsonl", path.stat().st_size) if attempt.uploading else None
            if uploaded is None:
                attempt.uploading = True  # a kill before the reply is recorded: the rerun looks the file up
                self._save(state)
                uploaded = client.upload(path, f"{name}.jsonl")
            attempt.file_id = uploaded["id"]
            self._save(state)
        attempt.creating = True
        self._save(state)
        description = f"rows {shard.start}-{shard.end - 1} of {Path(state.input).name}"
        created = client.create_batch(attempt.file_id, state.completion_window,
                                      {"ds_name": name, "ds_description": description[: self.limits.max_description_chars]})
        self._record_batch(state, attempt, created)
        if self._summary is not None:
            self._summary.batches += 1

    def _record_batch(self, state: JobState, attempt: Attempt, batch: dict[str, Any]) -> None:
        attempt.batch_id = batch["id"]
        self._update_attempt(attempt, batch)
        self._save(state)

    @staticmethod
    def _update_attempt(attempt: Attempt, batch: dict[str, Any]) -> bool:
        before = (attempt.status, attempt.counts)
        attempt.status = batch.get("status")
        attempt.counts = dict(batch.get("request_counts") or {})
        attempt.output_file_id = batch.get("output_file_id")
        attempt.error_file_id = batch.get("error_file_id")
        return before != (attempt.status, attempt.counts)

    # ------------------------------------------------------------------ polling and collection

    def _poll_until_collected(self, state: JobState, client: BatchAPIClient) -> None:
        self._poll(state, client, lambda: all(a.collected for sh in state.shards for a in sh.attempts))

    def _poll(self, state: JobState, client: BatchAPIClient, done: Callable[[], bool]) -> None:
        """Check and collect batches, submit what waits for a free slot, until ``done()``; the interval grows
        while nothing changes."""
        interval = self.poll_interval
        while True:
            changed = self._check_batches(state, client)
            self._submit_pending(state, client)
            self._delete_remote(state, client)
            if done():
                return
            self._show_states(state)
            time.sleep(interval)
            interval = self.poll_interval if changed else min(interval * 2, self.max_poll_interval)

    def _running(self, state: JobState) -> int:
        return sum(1 for s in state.shards for a in s.attempts if a.batch_id is not None and not a.collected)

    def _submit_pending(self, state: JobState, client: BatchAPIClient) -> None:
        # the account runs at most max_concurrent_batches at once: the rest wait for a collection
        for shard in state.shards:
            for attempt in shard.attempts:
                if attempt.batch_id is None and self._running(state) < self.limits.max_concurrent_batches:
                    self._submit(state, shard, attempt, client)

    def _check_batches(self, state: JobState, client: BatchAPIClient) -> bool:
        changed = False
        for shard in state.shards:
            for attempt in list(shard.attempts):
                if attempt.batch_id is None or attempt.collected:
                    continue
                if attempt.status not in TERMINAL_STATUSES:
                    try:
                        batch = client.get_batch(attempt.batch_id)
                    except APIError as exc:
                        if exc.status_code == 404:
                            raise self._gone(state, shard, attempt, f"batch {attempt.batch_id}") from None
                        raise
                    changed |= self._update_attempt(attempt, batch)
                if attempt.status == "failed":
                    error = self._failed_error(state, shard, attempt, client)
                    self._delete_input(attempt, client)
                    self._save(state)
                    raise error
                if attempt.status in TERMINAL_STATUSES:
                    self._collect(state, shard, attempt, client)
                    changed = True
        if changed:
            self._save(state)
        return changed

    def _gone(self, state: JobState, shard: Shard, attempt: Attempt, what: str) -> BatchJobError:
        return BatchJobError(
            f"{state.root} does not know {what} (shard {shard.index}, rows {shard.start}-{shard.end - 1}, attempt "
            f"{attempt.number}) recorded in {self.state_path}: the state was written against a service that no "
            "longer holds it (another account or workspace, a restarted local service, a batch older than "
            f"{self.limits.list_days} days). Rerun with --restart to discard the state and submit every row again"
        )

    def _failed_error(self, state: JobState, shard: Shard, attempt: Attempt, client: BatchAPIClient) -> BatchJobError:
        """What the service said of a ``failed`` batch, each error with the rows and ids of its line."""
        batch = client.get_batch(attempt.batch_id)  # type: ignore[arg-type]
        errors = ((batch.get("errors") or {}).get("data")) or []
        spans: dict[int, list[int]] = {}
        wanted = {e.get("line") for e in errors[:20] if isinstance(e.get("line"), int)}
        path = self._attempt_path(shard.index, attempt.number)
        if wanted and path.exists():
            with open(path, "rb") as handle:
                for number, raw in enumerate(handle, 1):
                    if number in wanted:
                        cid = orjson.loads(raw)["custom_id"]
                        spans[number] = rows_of(*parse_custom_id(cid), set(shard.empty))
        ids = self._ids_of({r for rows in spans.values() for r in rows})
        listed = []
        for e in errors[:20]:
            rows = spans.get(e.get("line"))  # type: ignore[arg-type]
            where = f"line {e.get('line')}" if e.get("line") is not None else "the file"
            if rows:
                where += f" (rows {rows[0]}-{rows[-1]}, ids {', '.join(repr(ids[r]) for r in rows[:10])}"
                where += " ...)" if len(rows) > 10 else ")"
            listed.append(f"{where}: {e.get('code')}: {str(e.get('message')).rstrip('.')}")
        more = f"; and {len(errors) - 20} more" if len(errors) > 20 else ""
        number = max(a.number for a in shard.attempts) + 1
        return BatchJobError(
            f"the service failed batch {attempt.batch_id} (shard {shard.index}, rows {shard.start}-{shard.end - 1}, "
            f"attempt {attempt.number}; nothing of it was billed): {'; '.join(listed) or 'it gave no errors'}{more}. "
            f"Rerun the same command to submit these lines again as attempt {number} (after fixing the rows named, "
            "if the errors are about them), or pass --restart to discard the job"
        )

    def _ids_of(self, rows: set[int]) -> dict[int, str]:
        """Row number -> id (the row number when rows have no ids) of ``rows``, in one pass that stops early."""
        found: dict[int, str] = {}
        if not rows:
            return found
        last = max(rows)
        for row in self._iter_rows():
            if row.index in rows:
                found[row.index] = row.id if row.id is not None else str(row.index)
            if row.index >= last:
                break
        return found

    def _collect(self, state: JobState, shard: Shard, attempt: Attempt, client: BatchAPIClient) -> None:
        base = self._attempt_path(shard.index, attempt.number)
        mask = done_mask(shard, self.work, state.chunk_size)
        succeeded: set[str] = set()
        if attempt.output_file_id:
            out = self._download(state, shard, attempt, client, attempt.output_file_id, base.with_suffix(".out"))
            succeeded, new_lines, new_rows, tokens = journal_results(out, shard, self.work, state.chunk_size,
                                                                     self.request, mask)
            state.batch_tokens += tokens
            if self._summary is not None:
                self._summary.rows_this_run += new_rows
                self._summary.batch_tokens += tokens
                self._summary.requests += new_lines
            if self._bar is not None:
                self._bar.update(new_rows)
        err = (self._download(state, shard, attempt, client, attempt.error_file_id, base.with_suffix(".err"))
               if attempt.error_file_id else None)
        outcome = plan_resubmission(base, succeeded, read_errors(err), shard, state.job_id)
        if outcome.rows_per_line:
            state.rows_per_line = min(state.rows_per_line, outcome.rows_per_line)
        failed_path = self.work / f"shard-{shard.index:05d}-failed.jsonl"
        permanent = list(outcome.permanent)
        again = list(outcome.resplit)
        if attempt.round < self.max_resubmits:
            again += outcome.resubmit
        else:
            for raw in outcome.resubmit:
                line = orjson.loads(raw)
                permanent.append((line, *outcome.reasons[line["custom_id"]]))
        # re-split lines can outnumber the attempt's: each new attempt stays within the shard's line and byte limits
        for group in _groups(again, state.lines_per_shard, self.limits.max_file_bytes):
            number = max(a.number for a in shard.attempts) + 1
            count, _ = write_lines(self._attempt_path(shard.index, number), group)
            rows = sum(len(rows_of(*parse_custom_id(orjson.loads(l)["custom_id"]), set(shard.empty)))
                       for l in group)
            shard.attempts.append(Attempt(number=number, lines=count, rows=rows, round=attempt.round + 1))
        if permanent:
            with open(failed_path, "ab") as handle:
                for line, code, message in permanent:
                    shard.failures[line["custom_id"]] = code
                    shard.messages[line["custom_id"]] = message
                    handle.write(orjson.dumps({"custom_id": line["custom_id"], "input": line["body"]["input"],
                                               "code": code, "message": message}) + b"\n")
        attempt.collected = True
        self._save(state)
        for path in (base, base.with_suffix(".out"), base.with_suffix(".err")):
            path.unlink(missing_ok=True)

    def _download(self, state: JobState, shard: Shard, attempt: Attempt, client: BatchAPIClient, file_id: str,
                  dest: Path) -> Path:
        try:
            return client.download(file_id, dest)
        except APIError as exc:
            if exc.status_code == 404:
                raise self._gone(state, shard, attempt, f"result file {file_id} of batch {attempt.batch_id}") from None
            raise

    def _delete_remote(self, state: JobState, client: BatchAPIClient) -> None:
        if self.keep_remote_files:
            return
        for shard in state.shards:
            for attempt in shard.attempts:
                if attempt.collected and not attempt.remote_deleted:
                    for file_id in (attempt.file_id, attempt.output_file_id, attempt.error_file_id):
                        if file_id:
                            client.delete_file(file_id)
                    attempt.remote_deleted = True
                    self._save(state)

    # ------------------------------------------------------------------ failures and output

    def _resolve_failures(self, state: JobState, settings: ResolvedSettings) -> None:
        failing = [s for s in state.shards if s.failures]
        if not failing:
            return
        if not self.fallback_realtime:
            listed = self._failure_listing(state)
            shown = ", ".join(f"row {r} (id {i!r}): {c}" + (f" ({m})" if m else "") for r, i, c, m in listed[:20])
            more = f" and {len(listed) - 20} more" if len(listed) > 20 else ""
            raise BatchJobError(
                f"{len(listed)} rows could not be embedded by the Batch File API: {shown}{more}. Collected rows are "
                f"kept in {self.work}; rerun with --fallback-realtime to embed these through the real-time API",
                failures=[(r, i, c) for r, i, c, _ in listed],
            )
        from ..engine import DashScopeEmbedder

        with DashScopeEmbedder(self.model, dimensions=self.requested_dimension, api_key=self.connection["api_key"],
                               base_url=settings.root, workspace=settings.workspace,
                               timeout=settings.timeout, max_retries=self.max_retries) as engine:
            for shard in failing:
                self._fallback_shard(state, shard, engine)

    def _fallback_shard(self, state: JobState, shard: Shard, engine: Any) -> None:
        mask = done_mask(shard, self.work, state.chunk_size)
        empty = set(shard.empty)
        seen: set[str] = set()
        for line in read_lines(self.work / f"shard-{shard.index:05d}-failed.jsonl"):
            cid = line["custom_id"]
            if cid in seen or cid not in shard.failures:
                continue
            seen.add(cid)
            rows = np.asarray(rows_of(*parse_custom_id(cid), empty), dtype=np.int64)
            if not mask[rows - shard.start].all():
                result = engine.embed(line["input"], text_type="document")
                payload = encode_record(rows, result.dense, None, result.usage.total_tokens, result.usage.requests)
                append_record(self.work / journal_name(int(rows[0]) - int(rows[0]) % state.chunk_size), payload)
                mask[rows - shard.start] = True
                state.fallback_tokens += result.usage.total_tokens
                state.fallback_rows += len(rows)
                if self._summary is not None:
                    self._summary.fallback_rows += len(rows)
                    self._summary.fallback_tokens += result.usage.total_tokens
                    self._summary.rows_this_run += len(rows)
                if self._bar is not None:
                    self._bar.update(len(rows))
            del shard.failures[cid]
            shard.messages.pop(cid, None)
            self._save(state)

    def _failure_listing(self, state: JobState) -> list[tuple[int, str, str, Optional[str]]]:
        """``(row number, id, code, message)`` of every row no batch could embed, in input order."""
        codes: dict[int, tuple[str, Optional[str]]] = {}
        for shard in state.shards:
            empty = set(shard.empty)
            for cid, code in shard.failures.items():
                message = shard.messages.get(cid)
                for row in rows_of(*parse_custom_id(cid), empty):
                    codes[row] = (code, message)
        listed = []
        for row in self._iter_rows():
            if row.index in codes:
                listed.append((row.index, row.id if row.id is not None else str(row.index), *codes[row.index]))
        return listed

    def _write_output(self, state: JobState, key: str) -> dict[str, Any]:
        schema = output_schema(self.has_id, self.dimension, True, False)
        parts = finished_parts(self.work)
        starts: list[int] = []
        total = 0
        for start, rows in chunked(self._iter_rows(), state.chunk_size):
            starts.append(start)
            total = start + len(rows)
            if start in parts:
                continue
            keep, skipped = split_empty(rows, skip_empty=self.skip_empty, source=self._source_path())
            journal = self.work / journal_name(start)
            records = read_journal(journal)[0] if journal.exists() else []
            write_part(self.work, start, total, keep, skipped, records, schema, key, self.dimension)
            journal.unlink(missing_ok=True)
        return merge_parts(self.work, self.output, schema, key, starts, total, api="batch")

    # ------------------------------------------------------------------ progress

    def _open_bar(self, state: JobState, kept_rows: int) -> None:
        if not self.progress:
            return
        from tqdm import tqdm

        done = 0
        for shard in state.shards:
            done += int(done_mask(shard, self.work, state.chunk_size).sum())
        self._bar = tqdm(total=kept_rows, initial=done, unit="row", desc="batch rows collected", dynamic_ncols=True)

    def _show_states(self, state: JobState) -> None:
        if self._bar is None:
            return
        counts: dict[str, int] = {}
        for shard in state.shards:
            for attempt in shard.attempts:
                counts[attempt.status or "new"] = counts.get(attempt.status or "new", 0) + 1
        self._bar.set_postfix_str(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
