"""``BatchEmbeddingJob``: a corpus embedded through Model Studio's Batch File API, resumable, at the batch price.

The job is the Batch File API kind of ``coordinator.RemoteJob`` (which runs the steps, see its docstring); what is
particular to this API lives here:

- before anything is uploaded: the completion window, the model (it must have a batch price in the catalog), the
  region (embedding batches are China (Beijing) only), ``rows_per_line`` / ``lines_per_shard`` /
  ``max_resubmits``, and every row (``source.scan_rows``: no row over the model's ``max_tokens_per_row``, since a
  batch line carries whole rows; no text too long for one line);
- lines: each chunk's non-empty rows packed into JSONL lines of ``rows_per_line`` texts (``lines``), shards of at
  most ``lines_per_shard`` lines and ``max_file_bytes`` bytes;
- the remote: ``remote.BatchFileRemote`` (upload, ``POST /batches`` named by ``metadata.ds_name``, never sent
  blindly twice);
- results: the output file's successes journaled, the rest sorted (``collect``): retryable or unexecuted lines
  resubmitted up to ``max_resubmits`` rounds, a row-limit error re-splits the line, a line failing with an input
  error is re-split into one-row lines once, so only the rows the service refuses are reported;
- a batch the service ``failed`` (validation: nothing ran, nothing is billed) stops the run with the service's
  errors, the rows and ids of each line named; its input file is deleted, and a rerun submits its lines again.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..catalog import CATALOG
from ..errors import InvalidInputError
from ..jobs.sources import Row
from ..settings import REGION_ROOTS, ResolvedSettings, resolve_connection
from ..wire import TextRequest
from .client import BatchAPIClient
from .collect import journal_results, plan_resubmission, read_errors
from .coordinator import Collected, RemoteJob
from .errors import BatchJobError
from .limits import BATCH_DOC, parse_completion_window
from .lines import pack_row_lines, parse_custom_id, rows_of
from .options import DEFAULT_POLL_INTERVAL, BatchJobOptions
from .remote import BatchFileRemote
from .source import Rows, Scan, scan_rows
from .state import Attempt, JobState, Shard
from .summary import BatchSummary

__all__ = [
    "BatchEmbeddingJob",
    "BatchJobError",
    "BatchJobOptions",
    "BatchSummary",
    "DEFAULT_POLL_INTERVAL",
    "batch_models",
]

#: bytes of JSON around the text in a one-row line
_LINE_OVERHEAD = 300


def batch_models() -> list[str]:
    """Catalog models offered through the Batch File API (those with ``batch_price_per_million_tokens_cny``)."""
    return sorted(name for name, spec in CATALOG.items() if spec.batch_price_per_million_tokens_cny is not None)


class BatchEmbeddingJob(RemoteJob):
    """Embed rows into a Parquet file through the Batch File API (see the module docstring).

    Args:
        rows: a ``SourceSpec`` (a JSONL/CSV/text file, read as the bulk job reads it) or a re-iterable of
            ``(id, text)`` pairs (a list; the job reads it again to resume and to write the output).
        output: the Parquet file; its work directory is ``OUTPUT.parts`` and its state ``OUTPUT.batch-state.json``.
        options: ``BatchJobOptions`` (default: all defaults: text-embedding-v4, a 24h window, the environment's
            key and region).
        **changes: deprecated: the options as keyword arguments (``BatchEmbeddingJob(rows, out, dimensions=512)``,
            the constructor's former signature), applied to ``options``; warns ``DeprecationWarning``.

    Raises (construction):
        InvalidInputError: a keyword that is no option (names it), a dimension the model does not offer.

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

    api = "batch"
    api_title = "the Batch File API"
    suffix = ".jsonl"
    options: BatchJobOptions

    def __init__(self, rows: Rows, output: Path, options: BatchJobOptions | None = None, **changes: Any) -> None:
        options = options or BatchJobOptions()
        if changes:
            warnings.warn(
                "BatchEmbeddingJob(rows, output, **options) is deprecated; pass "
                "BatchEmbeddingJob(rows, output, BatchJobOptions(...))",
                DeprecationWarning,
                stacklevel=2,
            )
            known = {f.name for f in dataclasses.fields(BatchJobOptions)}
            unknown = sorted(set(changes) - known)
            if unknown:
                raise InvalidInputError(f"unknown BatchEmbeddingJob option(s) {unknown}; options: {sorted(known)}")
            options = dataclasses.replace(options, **changes)
        super().__init__(rows, output, options)
        self.limits = options.limits
        self.rows_per_line = self.spec.max_rows if options.rows_per_line is None else options.rows_per_line
        self.lines_per_shard = min(options.lines_per_shard, self.limits.max_lines)
        # a chunk's lines must fit in one shard
        per_line = self.rows_per_line if isinstance(self.rows_per_line, int) else 1
        self.chunk_size = max(1, min(options.chunk_size, self.lines_per_shard * max(1, per_line)))
        self.request = TextRequest(model=self.model, dimension=self.dimension)

    def check_options(self) -> ResolvedSettings:
        """Check the window, the model, the region and the numbers; return the resolved connection settings.

        Raises:
            InvalidInputError: see the class docstring (the message names the value and what is allowed).
        """
        parse_completion_window(self.options.completion_window, self.limits)
        if self.spec.batch_price_per_million_tokens_cny is None:
            raise InvalidInputError(
                f"{self.model} is not offered through the Batch File API; models with batch support: "
                f"{', '.join(batch_models())} (source: {BATCH_DOC})"
            )
        self.check_numbers({"rows_per_line": 1, "lines_per_shard": 1, "max_resubmits": 0})
        settings = resolve_connection(**self.options.connection())
        if not self.explicit_base_url and settings.root != REGION_ROOTS["beijing"]:
            raise InvalidInputError(
                f"embedding batches are offered in China (Beijing) only; {settings.root} serves chat batches only. "
                f"Use region='beijing', or pass an explicit base_url (source: {BATCH_DOC})"
            )
        settings.require_key()
        return settings

    def scan(self) -> Scan:
        """Every row checked once and digested (``source.scan_rows``), with the batch line's size limit."""
        return scan_rows(
            self.source,
            spec=self.spec,
            dimension=self.dimension,
            chunk_size=self.chunk_size,
            skip_empty=self.options.skip_empty,
            api=self.api,
            max_text_bytes=self.limits.max_line_bytes - _LINE_OVERHEAD,
            line_noun="batch line",
        )

    def open_remote(self, settings: ResolvedSettings) -> BatchFileRemote:
        """A ``BatchFileRemote`` over a ``BatchAPIClient`` for ``settings``."""
        client = BatchAPIClient(settings, max_retries=self.options.max_retries, transport=self.options.transport)
        return BatchFileRemote(client, self.limits, self.options.completion_window)

    def new_state(self, key: str, settings: ResolvedSettings) -> JobState:
        """A fresh Batch File API state."""
        return JobState(
            key=key,
            job_id=self.job_id(key, settings),
            model=self.model,
            dimension=self.dimension,
            completion_window=self.options.completion_window,
            rows_per_line=self.rows_per_line,
            lines_per_shard=self.lines_per_shard,
            chunk_size=self.chunk_size,
            root=settings.root,
            input=str(self.source.path),
            kind=self.api,
        )

    def new_summary(self) -> BatchSummary:
        """A summary with the batch and real-time prices of the model."""
        return BatchSummary(
            output=self.output,
            price_per_million_tokens_usd=self.spec.price_per_million_tokens_usd,
            batch_price_per_million_tokens_cny=self.spec.batch_price_per_million_tokens_cny,
            price_per_million_tokens_cny=self.spec.price_per_million_tokens_cny,
        )

    def pack(self, rows: list[Row], state: JobState) -> list[tuple[bytes, int]]:
        """JSONL lines of ``state.rows_per_line`` texts (``lines.pack_row_lines``)."""
        return pack_row_lines(rows, state.job_id, self.model, self.options.dimensions, state.rows_per_line, self.limits)

    @property
    def max_file_bytes(self) -> int:
        """The documented bytes per input file."""
        return self.limits.max_file_bytes

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
        """Journal the output file's successes and sort the other lines (``collect``)."""
        got = Collected()
        succeeded: set[str] = set()
        if out is not None:
            succeeded, got.lines, got.rows, got.tokens = journal_results(
                out, shard, self.work, state.chunk_size, self.request, mask
            )
        outcome = plan_resubmission(base, succeeded, read_errors(err), shard, state.job_id)
        got.rows_per_line = outcome.rows_per_line
        got.permanent = list(outcome.permanent)
        got.again = list(outcome.resplit)
        if attempt.round < self.options.max_resubmits:
            got.again += outcome.resubmit
        else:
            for raw in outcome.resubmit:
                line = orjson.loads(raw)
                got.permanent.append((line["custom_id"], line["body"]["input"], *outcome.reasons[line["custom_id"]]))
        return got

    def line_rows(self, line: bytes, shard: Shard) -> int:
        """Rows the JSONL line holds, from its ``custom_id``."""
        return len(rows_of(*parse_custom_id(orjson.loads(line)["custom_id"]), set(shard.empty)))

    def on_failed(self, state: JobState, shard: Shard, attempt: Attempt) -> None:
        """Stop with the service's errors (the input file deleted; a rerun submits the lines again).

        Raises:
            BatchJobError: always.
        """
        error = self._failed_error(state, shard, attempt)
        self.delete_input(attempt)
        self.save(state)
        raise error

    def _failed_error(self, state: JobState, shard: Shard, attempt: Attempt) -> BatchJobError:
        """What the service said of a ``failed`` batch, each error with the rows and ids of its line."""
        remote = self.active_remote
        assert isinstance(remote, BatchFileRemote)  # open_remote made it
        errors = remote.errors(attempt)
        spans: dict[int, list[int]] = {}
        wanted = {e.get("line") for e in errors[:20] if isinstance(e.get("line"), int)}
        path = self.attempt_path(shard.index, attempt.number)
        if wanted and path.exists():
            with open(path, "rb") as handle:
                for number, raw in enumerate(handle, 1):
                    if number in wanted:
                        cid = orjson.loads(raw)["custom_id"]
                        spans[number] = rows_of(*parse_custom_id(cid), set(shard.empty))
        ids = self.source.ids_of({r for rows in spans.values() for r in rows})
        listed = []
        for e in errors[:20]:
            line = e.get("line")
            rows = spans.get(line) if isinstance(line, int) else None
            where = f"line {line}" if line is not None else "the file"
            if rows:
                where += f" (rows {rows[0]}-{rows[-1]}, ids {', '.join(repr(ids[r]) for r in rows[:10])}"
                where += " ...)" if len(rows) > 10 else ")"
            listed.append(f"{where}: {e.get('code')}: {str(e.get('message')).rstrip('.')}")
        more = f"; and {len(errors) - 20} more" if len(errors) > 20 else ""
        number = shard.next_number
        return BatchJobError(
            f"the service failed batch {attempt.remote_id} (shard {shard.index}, rows {shard.start}-{shard.end - 1}, "
            f"attempt {attempt.number}; nothing of it was billed): {'; '.join(listed) or 'it gave no errors'}{more}. "
            f"Rerun the same command to submit these lines again as attempt {number} (after fixing the rows named, "
            "if the errors are about them), or pass --restart to discard the job"
        )
