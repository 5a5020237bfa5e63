"""Resumable bulk embedding: a JSONL, CSV or text file in, a Parquet file of vectors out, in bounded memory.

How a job runs (``run_bulk_job``):

1. The input is hashed (sha256 of its bytes) and, with the options that decide the output (reading options, model,
   dimension, output type, text type), forms the job key.
2. Rows stream from the file in chunks of ``chunk_size`` rows (chunk ``k`` is rows ``[k*chunk_size,
   (k+1)*chunk_size)``). At most two chunks are open at once, so memory does not grow with the input.
3. Each chunk is cut into requests of the model's row limit (10 for text-embedding-v3/v4), sent up to
   ``max_concurrency`` at a time through the engine (its retries and rate limiter apply). Every finished request is
   appended at once to the chunk's journal ``OUTPUT.parts/chunk-<start>.journal`` (row numbers, vectors, tokens,
   and a CRC32), so a crash loses at most the requests that were in flight.
4. When every row of a chunk is in the journal, the chunk becomes ``OUTPUT.parts/part-<start>-<end>.parquet``
   (written to a temporary name, fsynced, renamed), and the journal is deleted.
5. When every chunk has its part, the parts are concatenated (a row group each) into a temporary file next to
   ``OUTPUT``, fsynced and renamed over ``OUTPUT``; then ``OUTPUT.parts/`` is removed.

The pieces live in their own modules: ``journal`` (record format), ``workdir`` (the work directory and
what is finished), ``schedule`` (the real-time run), ``parquet`` (parts and the merge), ``cost`` (the summary).

Rerunning the same command after a crash, ``SIGKILL`` or error skips the chunks that have parts, re-sends only the
rows missing from a chunk's journal (a torn last journal record, from a kill in mid-write, fails its CRC and is
dropped), and finishes. ``OUTPUT.parts/manifest.json`` holds the job key: a different input or different options
refuse to resume (``restart=True`` discards the old work). Parts survive power loss (fsync); journal records
survive a process crash (they reach the page cache with one ``write``) but are not fsynced, for speed.

Output columns: ``id`` (int64 row number, or the ``--id-field`` value as a string), ``text_sha256`` (hex of the
UTF-8 text), ``dense`` (``fixed_size_list<float32>[dimension]``) and, for sparse output types,
``sparse_indices`` (``list<int32>``, Qwen token ids) and ``sparse_values`` (``list<float32>``). Rows are in input
order; empty rows are skipped (DashScope rejects empty input) and counted in the summary.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import orjson

from ..engine import DashScopeEmbedder
from ..errors import APIError, AuthenticationError, InvalidInputError, NotFoundError, PermissionDeniedError
from ..settings import MAX_COUNT
from .cost import JobSummary
from .errors import BulkJobError
from .parquet import merge_parts, output_schema
from .schedule import MAX_OPEN_CHUNKS, BulkRun, clean_requests_needed
from .sources import SourceError, SourceSpec, estimate_rows, fingerprint_file, read_rows
from .workdir import (
    MANIFEST,
    META_KEY,
    WorkState,
    completed_output,
    inspect_work,
    prepare_work_dir,
    work_dir_for,
)

__all__ = [
    "BulkJobError",
    "JobSummary",
    "WorkState",
    "run_bulk_job",
    "inspect_work",
    "work_dir_for",
    "clean_requests_needed",
    "job_key",
    "META_KEY",
    "MANIFEST",
    "MAX_OPEN_CHUNKS",
]


def job_key(input_sha256: str, spec: SourceSpec, embedder: DashScopeEmbedder, output_type: str, text_type: str) -> str:
    """A digest of everything that decides the output's content."""
    described = {
        "input_sha256": input_sha256,
        "source": spec.describe(),
        "model": embedder.model,
        "dimension": embedder.dimension,
        "output_type": output_type,
        "text_type": text_type,
    }
    return hashlib.sha256(orjson.dumps(described, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _summary_from_meta(summary: JobSummary, meta: dict[str, Any]) -> JobSummary:
    summary.rows, summary.skipped_empty = meta["rows"], meta["skipped"]
    summary.job_tokens, summary.job_requests = meta["tokens"], meta["requests"]
    return summary


def _progress_bar(spec: SourceSpec, lines: int, enabled: bool, desc: str = "embedding") -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=estimate_rows(spec.format, lines), unit="row", desc=desc, dynamic_ncols=True)


def _close_bar(bar: Any, *, finished: bool) -> None:
    if bar is None:
        return
    if finished:
        bar.total = bar.n  # the estimate may be off for JSONL/CSV; end the bar at what was read
        bar.refresh()
    bar.close()


_PERMANENT_HINTS = (
    (AuthenticationError, "check the API key (DASHSCOPE_API_KEY) and that it belongs to this region"),
    (PermissionDeniedError, "the key may not use this model, region or workspace"),
    (NotFoundError, "check the model name (`dashscope-embed models` lists them) and the base URL"),
)


def permanent_hint(exc: APIError) -> str:
    """What to fix after a failure that rerunning cannot cure (``exc`` is not retryable)."""
    return next((h for cls, h in _PERMANENT_HINTS if isinstance(exc, cls)), "the service refused the request")


def _stopped(exc: BaseException, output: Path) -> BaseException:
    """What to raise when the run stopped: bad input or options as they are (resuming would not help), any other
    failure as a ``BulkJobError`` that says how much is saved and whether a rerun resumes.

    A failure that a rerun cannot cure (a non-retryable ``APIError``: 401, unknown model, a refused request) does
    not say "rerun to resume"; when it left nothing saved, the work directory this run made is removed, so no
    half-made output stays behind."""
    if isinstance(exc, (KeyboardInterrupt, BulkJobError, SourceError, InvalidInputError)) or not isinstance(
        exc, Exception
    ):
        return exc
    state = inspect_work(output)
    work = work_dir_for(output)
    if isinstance(exc, APIError) and not exc.retryable:
        hint = permanent_hint(exc)
        if state.rows_done:
            kept = (
                f" {state.rows_done} rows are kept in {work}: once this is fixed, the same command resumes from them."
            )
        else:
            shutil.rmtree(work, ignore_errors=True)
            kept = " Nothing was written."
        error = BulkJobError(f"stopped: {exc}. Rerunning will not help until this is fixed: {hint}.{kept}")
    else:
        error = BulkJobError(
            f"stopped: {exc}. {state.rows_done} rows are saved in {work}; rerun the same command to resume"
        )
    error.__cause__ = exc
    return error


def run_bulk_job(
    embedder: DashScopeEmbedder,
    spec: SourceSpec,
    output: Path,
    *,
    chunk_size: int = 1000,
    output_type: str | None = None,
    text_type: Literal["query", "document"] = "document",
    skip_empty: bool = True,
    restart: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> JobSummary:
    """Embed every row of ``spec`` into the Parquet file ``output``, resuming earlier work of the same job.

    Args:
        embedder: the engine (model, dimension, base URL, concurrency and rate limits are its settings).
        spec: the input and how to read it.
        output: the Parquet file to write; its work directory is ``OUTPUT.parts``.
        chunk_size: rows per chunk, part file and row group; memory holds at most two chunks. A resumed job
            keeps the chunk size it started with.
        output_type: ``"dense"``, ``"sparse"`` or ``"dense&sparse"`` (default: the engine's).
        text_type: ``"document"`` (default) or ``"query"``.
        skip_empty: leave out empty rows (``False``: stop at the first one).
        restart: discard unfinished work of a different job in ``OUTPUT.parts`` instead of refusing.
        overwrite: replace an ``OUTPUT`` that holds a different job's result instead of refusing.
        progress: show a tqdm progress bar (on stderr).
        log: where one-line notices go.

    Returns:
        ``JobSummary`` of this run.

    Raises:
        BulkJobError: work of another job in the way, or a request failed after its retries (finished work is
            kept: rerun the same command to resume).
        SourceError: the input cannot be read as asked.
        InvalidInputError / APIError: from the engine (bad options; a failed request).
    """
    output = Path(output)
    output_type = output_type or embedder.output_type
    if not 1 <= chunk_size <= MAX_COUNT:
        raise BulkJobError(f"chunk size must be from 1 to {MAX_COUNT}, got {chunk_size}")
    started = time.monotonic()
    price, currency = embedder.spec.list_price(embedder.settings.region)
    summary = JobSummary(
        output=output,
        price_per_million_tokens_usd=embedder.spec.price_per_million_tokens_usd,
        price_per_million_tokens=price,
        currency=currency,
    )
    sha, lines = fingerprint_file(spec.path)
    key = job_key(sha, spec, embedder, output_type, text_type)
    work = work_dir_for(output)

    meta = completed_output(output, key, overwrite=overwrite)
    if meta is not None:
        summary.already_complete = True
        return _summary_from_meta(summary, meta)

    manifest: dict[str, Any] = {
        "key": key,
        "chunk_size": chunk_size,
        "input": str(spec.path),
        "input_sha256": sha,
        "model": embedder.model,
        "dimension": embedder.dimension,
        "output_type": output_type,
    }
    manifest = prepare_work_dir(work, manifest, restart=restart, log=log)
    chunk_size = int(manifest["chunk_size"])
    before = inspect_work(output)
    if before.rows_done:
        log(f"resuming: {before.rows_done} rows already done in {work}")

    wants_dense = output_type in ("dense", "dense&sparse")
    wants_sparse = output_type in ("sparse", "dense&sparse")
    schema = output_schema(spec.id_field is not None, embedder.dimension, wants_dense, wants_sparse)
    bar = _progress_bar(spec, lines, progress)
    run = BulkRun(embedder, spec, work, key, chunk_size, text_type, output_type, skip_empty, bar, schema)
    try:
        starts, total_rows = run.run(read_rows(spec))
    except BaseException as exc:
        _close_bar(bar, finished=False)
        stopped = _stopped(exc, output)
        if stopped is exc:
            raise
        raise stopped from exc
    _close_bar(bar, finished=True)
    totals = merge_parts(work, output, schema, key, starts, total_rows)
    _summary_from_meta(summary, totals)
    summary.rows_this_run, summary.requests, summary.tokens = run.rows_this_run, run.requests, run.tokens
    summary.seconds = time.monotonic() - started
    return summary
