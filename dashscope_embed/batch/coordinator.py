"""``RemoteJob``: the coordinator every remote embedding job kind runs on (the Batch File API job, the async task
job). It owns the order of the steps and the state file; the parts do the work and the job kind fills in what
differs between APIs.

How a job runs (``run``):

1. The run lock is taken (``runlock``), an earlier ``batch cancel`` marker removed; ``check_options`` and ``scan``
   (every row read once) run before anything is uploaded; an ``OUTPUT`` holding this job's result is not redone.
2. The state is opened (``state``): resumed, refused (another job's, another root's) or discarded (``restart``,
   ``cleanup.discard``). Attempts the service failed as a whole in an earlier run are queued again (``requeue``).
3. Rows are planned into shards (``sharding.plan_shards`` with the kind's ``pack``) and each shard is submitted
   as soon as it is written (``Remote.submit``), at most ``Remote.max_running`` unfinished at once.
4. The loop polls (``Remote.refresh``; the interval doubles while nothing changes, up to ``max_poll_interval``),
   submits what waits for a slot or found the service full (a submit that leaves ``remote_id`` unset: the
   account's task queue), collects every terminal attempt (``Remote.fetch``, then the kind's ``collect_results``
   journals the successes and sorts the rest), queues resubmissions as new attempts of the shard (within the
   shard's line and byte limits), records permanent failures, and deletes collected remote files
   (``cleanup.delete_collected``).
5. Rows that no attempt could embed end the job with ``BatchJobError`` (their ids and codes), or go through the
   real-time API with ``fallback_realtime`` (``output.embed_failures_realtime``); the journals become ``OUTPUT``
   in input order (``output.write_output``); the summary (``summary.BatchSummary``) is returned.

Every step is saved in the state before the next starts, so a rerun after a crash or ``kill -9`` resumes without a
second remote object for the same rows, and no row is billed twice.

A job kind subclasses ``RemoteJob`` and provides: ``api`` (its name in the key, state and metadata), ``suffix``
(its input files), ``check_options``, ``scan``, ``open_remote``, ``new_state``, ``new_summary``, ``pack``,
``max_file_bytes``, ``collect_results``, ``line_rows`` and ``on_failed``.
"""

from __future__ import annotations

import os
import shutil
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..catalog import get_model_spec
from ..errors import APIError, InvalidInputError
from ..jobs.sources import Row
from ..jobs.workdir import completed_output, prepare_work_dir, work_dir_for
from ..settings import MAX_COUNT, MAX_TIMEOUT, ResolvedSettings, environment_defaults
from .cleanup import cancel_unfinished, cancelled_error, delete_collected, discard, gone_error
from .collect import Collected, done_mask
from .errors import BatchJobError
from .lines import write_lines
from .options import RemoteJobOptions
from .output import fallback_realtime, record_failures, unembedded_error, write_output
from .progress import Progress
from .remote import Remote
from .runlock import job_lock
from .sharding import attempt_path, groups, plan_shards
from .source import Rows, RowSource, Scan
from .state import Attempt, JobState, Shard, cancel_path_for, job_id_for, load_state, save_state, state_path_for
from .summary import BatchSummary

__all__ = ["Collected", "RemoteJob"]


class RemoteJob(ABC):
    """Embed rows into a Parquet file through a remote API that runs files of lines (see the module docstring).

    Args:
        rows: a ``SourceSpec`` or a re-iterable of ``(id, text)`` pairs (``source.Rows``).
        output: the Parquet file; its work directory is ``OUTPUT.parts`` and its state ``OUTPUT.batch-state.json``.
        options: the kind's options (a ``RemoteJobOptions`` subclass).

    Raises:
        InvalidInputError: a dimension the model does not offer (at construction).
    """

    #: the kind's name in the job key, the state file and the output's metadata
    api = "remote"
    #: what the API is called in messages
    api_title = "the remote API"
    #: the suffix of the kind's local input files
    suffix = ".jsonl"

    def __init__(self, rows: Rows, output: Path, options: RemoteJobOptions) -> None:
        self.options = options
        self.source = RowSource(rows)
        self.output = Path(output)
        self.work = work_dir_for(self.output)
        self.state_path = state_path_for(self.output)
        self.model = options.model
        self.spec = get_model_spec(options.model)
        self.dimension = self.spec.check_dimension(options.dimensions)
        self.explicit_base_url = bool(options.base_url or environment_defaults().get("base_url"))
        self.log = options.log
        self.progress = Progress(options.progress, desc=f"{self.api} rows collected")
        self.summary: BatchSummary | None = None
        self.remote: Remote | None = None
        self._state: JobState | None = None
        self._stopped = False

    # ------------------------------------------------------------------ what each job kind provides

    @abstractmethod
    def check_options(self) -> ResolvedSettings:
        """Check the kind's options before anything remote; return the resolved connection settings."""
        raise NotImplementedError

    @abstractmethod
    def scan(self) -> Scan:
        """``source.scan_rows`` with the kind's limits."""
        raise NotImplementedError

    @abstractmethod
    def open_remote(self, settings: ResolvedSettings) -> Remote:
        """The kind's ``Remote`` for ``settings``."""
        raise NotImplementedError

    @abstractmethod
    def new_state(self, key: str, settings: ResolvedSettings) -> JobState:
        """A fresh state (``kind=self.api``) for the job key ``key``."""
        raise NotImplementedError

    @abstractmethod
    def new_summary(self) -> BatchSummary:
        """An empty summary with the kind's prices."""
        raise NotImplementedError

    @abstractmethod
    def pack(self, rows: list[Row], state: JobState) -> list[tuple[bytes, int]]:
        """The ``sharding.Packer`` of the kind: lines of the non-empty rows of a chunk."""
        raise NotImplementedError

    @property
    @abstractmethod
    def max_file_bytes(self) -> int:
        """Most bytes of one input file."""
        raise NotImplementedError

    @abstractmethod
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
        """Journal the successes of a terminal attempt (``base``: its input file; ``out`` / ``err``: what
        ``Remote.fetch`` downloaded; ``mask``: rows already journaled, updated) and sort the other lines."""
        raise NotImplementedError

    @abstractmethod
    def line_rows(self, line: bytes, shard: Shard) -> int:
        """Rows one input line holds (for a resubmitted attempt's row count)."""
        raise NotImplementedError

    @abstractmethod
    def on_failed(self, state: JobState, shard: Shard, attempt: Attempt) -> None:
        """The service failed ``attempt`` as a whole: raise, or ``requeue`` it."""
        raise NotImplementedError

    # ------------------------------------------------------------------ shared checks

    def check_numbers(self, names: dict[str, int]) -> None:
        """Refuse option values below their minimum (``{name: minimum}``) or above ``MAX_COUNT``, and a poll
        interval that is not positive or longer than ``MAX_TIMEOUT``.

        Raises:
            InvalidInputError: names the option, its value and the range.
        """
        for name, least in names.items():
            value = getattr(self, name, None)
            if value is None:
                value = getattr(self.options, name)
            if not isinstance(value, int) or isinstance(value, bool) or not least <= value <= MAX_COUNT:
                raise InvalidInputError(f"{name} must be an int from {least} to {MAX_COUNT}, got {value!r}")
        for name in ("poll_interval", "max_poll_interval"):
            seconds = getattr(self.options, name)  # a longer wait (inf) overflows time.sleep; NaN fails both tests
            if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 < seconds <= MAX_TIMEOUT:
                raise InvalidInputError(f"{name} must be > 0 and at most {MAX_TIMEOUT:.0f} seconds, got {seconds!r}")

    def job_id(self, key: str, settings: ResolvedSettings) -> str:
        """The id naming this job's remote objects (``state.job_id_for``: per input and options, output file,
        root, workspace and account)."""
        return job_id_for(key, self.output, settings)

    def attempt_path(self, shard: int, attempt: int) -> Path:
        """The local input file of an attempt (``sharding.attempt_path`` with the kind's suffix)."""
        return attempt_path(self.work, shard, attempt, self.suffix)

    def save(self, state: JobState | None = None) -> None:
        """Write the state file (``state`` or the running job's)."""
        state = state or self._state
        if state is not None:
            save_state(self.state_path, state)

    # ------------------------------------------------------------------ the run

    def run(self) -> BatchSummary:
        """Run or resume the job to the end (see the module docstring); returns this run's summary.

        Raises:
            InvalidInputError, BatchJobError, APIError: see the job kind's class docstring.
        """
        with job_lock(self.state_path):
            return self._run()

    def _run(self) -> BatchSummary:
        started = time.monotonic()
        # a rerun after `batch cancel` resumes; the marker goes before the scan so a cancel sent during it holds
        cancel_path_for(self.output).unlink(missing_ok=True)
        settings = self.check_options()
        scan = self.scan()
        summary = self.summary = self.new_summary()
        meta = completed_output(self.output, scan.key, overwrite=self.options.overwrite)
        if meta is not None:
            self.state_path.unlink(missing_ok=True)
            summary.rows, summary.skipped_empty = meta["rows"], meta["skipped"]
            summary.job_tokens, summary.job_requests = meta["tokens"], meta["requests"]
            summary.already_complete = True
            return summary
        remote = self.remote = self.open_remote(settings)
        try:
            state = self._state = self._open_state(scan.key, settings, remote)
            self._requeue_failed(state)
            self.progress.open(state, self.work, scan.kept)
            self._submit_pending(state)
            plan_shards(
                state,
                self.source,
                self.work,
                pack=self.pack,
                skip_empty=self.options.skip_empty,
                max_bytes=self.max_file_bytes,
                on_shard=lambda shard: self._submit_shard(state, shard),
                save=self.save,
                suffix=self.suffix,
            )
            self._poll_until_collected(state)
            self._resolve_failures(state, settings)
            self.progress.close()
            totals = write_output(
                self.source,
                self.work,
                self.output,
                chunk_size=state.chunk_size,
                key=scan.key,
                dimension=self.dimension,
                skip_empty=self.options.skip_empty,
                api=self.api,
            )
        finally:
            self.progress.close()
            remote.close()
        self.state_path.unlink(missing_ok=True)
        summary.rows, summary.skipped_empty = totals["rows"], totals["skipped"]
        summary.job_tokens, summary.job_requests = totals["tokens"], totals["requests"]
        summary.tokens = summary.batch_tokens + summary.fallback_tokens
        summary.seconds = time.monotonic() - started
        return summary

    def _open_state(self, key: str, settings: ResolvedSettings, remote: Remote) -> JobState:
        state = load_state(self.state_path)
        if state is not None and self.options.restart:
            discard(
                state,
                remote,
                root=settings.root,
                state_path=self.state_path,
                keep_remote_files=self.options.keep_remote_files,
                log=self.log,
            )
            state = None
        elif state is not None and state.key != key:
            raise BatchJobError(
                f"{self.state_path} belongs to a different job (other input or options); rerun with the "
                "original input and options to finish it, or pass --restart to discard it"
            )
        elif state is not None and state.root != settings.root:
            raise BatchJobError(
                f"{self.state_path} records {remote.nouns} and files on {state.root}, but this run talks to "
                f"{settings.root}; rerun with --base-url {state.root} to finish the job there, or pass --restart to "
                f"discard it and submit every row to {settings.root}"
            )
        if self.options.restart and self.work.exists():
            shutil.rmtree(self.work)  # its journals belong to the discarded state
        if state is None:
            state = self.new_state(key, settings)
        else:
            self.log(f"resuming the {self.api} job in {self.state_path}")
        manifest = {
            "key": key,
            "chunk_size": state.chunk_size,
            "input": state.input,
            "model": self.model,
            "dimension": self.dimension,
            "output_type": "dense",
            "api": self.api,
        }
        prepare_work_dir(self.work, manifest, restart=self.options.restart, log=self.log)
        self.save(state)
        return state

    # ------------------------------------------------------------------ attempts

    @property
    def active_remote(self) -> Remote:
        """The ``Remote`` of the running job.

        Raises:
            BatchJobError: the job is not running (no remote is open).
        """
        if self.remote is None:
            raise BatchJobError("the job is not running: its remote is opened by run()")
        return self.remote

    def delete_input(self, attempt: Attempt) -> None:
        """Delete an attempt's remote input, unless kept or already deleted."""
        if attempt.file_id and not self.options.keep_remote_files and not attempt.remote_deleted:
            self.active_remote.delete_input(attempt)
            attempt.remote_deleted = True

    def requeue(self, state: JobState, shard: Shard, attempt: Attempt, *, next_round: bool = False) -> Attempt:
        """Submit the lines of ``attempt`` (failed as a whole: nothing ran, nothing was billed) again as a new
        attempt, of the same round (a rerun after the run stopped on it) or of the next one (``next_round``: a kind
        that resubmits at once, within ``max_resubmits``); the old one's remote input is deleted and it is marked
        collected. Returns the new attempt.

        Raises:
            BatchJobError: the attempt's local input file is gone (only ``restart`` helps then).
        """
        self.delete_input(attempt)
        source = self.attempt_path(shard.index, attempt.number)
        if not source.exists():
            raise BatchJobError(
                f"the lines of failed {self.active_remote.noun} {attempt.remote_id} "
                f"(shard {shard.index}) are gone from {self.work}; pass --restart to discard the job "
                "and start over"
            )
        again = shard.add_attempt(attempt.lines, attempt.rows, attempt.round + 1 if next_round else attempt.round)
        os.replace(source, self.attempt_path(shard.index, again.number))
        attempt.collected = attempt.remote_deleted = True
        self.save(state)
        return again

    def _requeue_failed(self, state: JobState) -> None:
        remote = self.active_remote
        for shard in state.shards:
            for attempt in list(shard.attempts):
                if attempt.remote_id and not attempt.collected and remote.failed(attempt):
                    again = self.requeue(state, shard, attempt)
                    self.log(
                        f"{remote.noun} {attempt.remote_id} (shard {shard.index}) had failed: "
                        f"submitting its lines again as attempt {again.number}"
                    )

    def _running(self, state: JobState) -> int:
        return sum(1 for s in state.shards for a in s.attempts if a.remote_id is not None and not a.collected)

    def cancelled(self) -> bool:
        """Whether ``batch cancel OUTPUT`` asked this job to stop (``control.cancel_path_for``)."""
        return cancel_path_for(self.output).exists()

    def _stop_remote(self, state: JobState) -> None:
        """After ``batch cancel``: cancel what this job left unfinished, once (``cleanup.cancel_unfinished``)."""
        if not self._stopped:
            self._stopped = True
            cancel_unfinished(state, self.active_remote, self.log)

    def _submit_pending(self, state: JobState) -> None:
        remote = self.active_remote
        # the account runs at most max_running at once: the rest wait for a collection. A `batch cancel` is looked
        # for before each submission: one pass may submit several (paced a second apart for tasks).
        for shard in state.shards:
            for attempt in shard.attempts:
                if attempt.remote_id is None and self._running(state) < remote.max_running:
                    if self.cancelled():
                        return
                    path = self.attempt_path(shard.index, attempt.number)
                    created = remote.submit(state, shard, attempt, path, self.save)
                    if attempt.remote_id is None:
                        return  # the service has no room now: offered again after the next poll
                    if created and self.summary is not None:
                        self.summary.batches += 1

    def _submit_shard(self, state: JobState, shard: Shard) -> None:
        self._submit_pending(state)
        if shard.attempts[0].remote_id is None:  # every slot is taken: wait for one to be collected
            self._poll(state, lambda: all(a.remote_id for sh in state.shards for a in sh.attempts))

    # ------------------------------------------------------------------ polling and collection

    def _poll_until_collected(self, state: JobState) -> None:
        self._poll(state, lambda: all(a.collected for sh in state.shards for a in sh.attempts))

    def _poll(self, state: JobState, done: Callable[[], bool]) -> None:
        """Check and collect, submit what waits for a free slot, delete what was collected, until ``done()``; the
        interval grows while nothing changes."""
        interval = self.options.poll_interval
        most = max(self.options.max_poll_interval, interval)
        while True:
            changed = self._check(state)
            if self.cancelled():
                # no resubmission after `batch cancel`: collect what was submitted, then stop
                self._stop_remote(state)
                if all(a.collected for sh in state.shards for a in sh.attempts if a.remote_id):
                    raise cancelled_error(state, self.output, self.work)
            self._submit_pending(state)
            if not self.options.keep_remote_files:
                delete_collected(state, self.active_remote, self.save)
            if done():
                return
            self.progress.show_states(state)
            time.sleep(interval)
            interval = self.options.poll_interval if changed else min(interval * 2, most)

    def _check(self, state: JobState) -> bool:
        remote = self.active_remote
        changed = False
        for shard in state.shards:
            for attempt in list(shard.attempts):
                if attempt.remote_id is None or attempt.collected:
                    continue
                if not remote.terminal(attempt):
                    try:
                        changed |= remote.refresh(attempt)
                    except APIError as exc:
                        if exc.status_code == 404:
                            raise self.gone(state, shard, attempt, f"{remote.noun} {attempt.remote_id}") from None
                        raise
                if remote.failed(attempt):
                    self.on_failed(state, shard, attempt)
                    changed = True
                elif remote.terminal(attempt):
                    self._collect(state, shard, attempt)
                    changed = True
        if changed:
            self.save(state)
        return changed

    def gone(self, state: JobState, shard: Shard, attempt: Attempt, what: str) -> BatchJobError:
        """The error for a recorded remote object (``what``) the service does not know (``cleanup.gone_error``)."""
        return gone_error(state, shard, attempt, what, self.state_path)

    def _collect(self, state: JobState, shard: Shard, attempt: Attempt) -> None:
        remote = self.active_remote
        base = self.attempt_path(shard.index, attempt.number)
        mask = done_mask(shard, self.work, state.chunk_size)
        try:
            out, err = remote.fetch(attempt, base)
        except APIError as exc:
            if exc.status_code == 404:
                raise self.gone(
                    state, shard, attempt, f"the result files of {remote.noun} {attempt.remote_id}"
                ) from None
            raise
        got = self.collect_results(state, shard, attempt, base, out, err, mask)
        state.remote_tokens += got.tokens
        if self.summary is not None:
            self.summary.rows_this_run += got.rows
            self.summary.batch_tokens += got.tokens
            self.summary.requests += got.lines
        self.progress.update(got.rows)
        if got.rows_per_line:
            state.rows_per_line = min(state.rows_per_line, got.rows_per_line)
        # re-split lines can outnumber the attempt's: each new attempt stays within the shard's line and byte limits
        for group in groups(got.again, state.lines_per_shard, self.max_file_bytes):
            count, _ = write_lines(self.attempt_path(shard.index, shard.next_number), group)
            rows = sum(self.line_rows(line, shard) for line in group)
            shard.add_attempt(count, rows, attempt.round + 1)
        self.record_failures(shard, got.permanent)
        attempt.collected = True
        self.save(state)
        for path in (base, out, err):
            if path is not None:
                path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ failures

    def record_failures(self, shard: Shard, permanent: list[tuple[str, list[str], str, str]]) -> None:
        """Record lines no remote attempt can embed (``output.record_failures``). The caller saves the state."""
        record_failures(self.work, shard, permanent)

    def _resolve_failures(self, state: JobState, settings: ResolvedSettings) -> None:
        failing = [s for s in state.shards if s.failures]
        if not failing:
            return
        if not self.options.fallback_realtime:
            raise unembedded_error(state, self.source, self.api_title, self.work)

        def counted(rows: int, tokens: int) -> None:
            if self.summary is not None:
                self.summary.fallback_rows += rows
                self.summary.fallback_tokens += tokens
                self.summary.rows_this_run += rows
            self.progress.update(rows)

        fallback_realtime(state, failing, self.work, self.options, settings, lambda: self.save(state), counted)
