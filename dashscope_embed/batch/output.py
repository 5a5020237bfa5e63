"""The end of a remote job: rows no remote attempt could embed (reported, or embedded in real time), and the
journals written into one Parquet file in input order, with the bulk job's writer, schema and metadata."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from ..jobs.journal import journal_name, read_journal
from ..jobs.parquet import merge_parts, output_schema, write_part
from ..jobs.workdir import finished_parts
from .collect import done_mask, journal_rows
from .errors import BatchJobError
from .lines import parse_custom_id, read_lines, rows_of
from .sharding import failed_path
from .source import RowSource
from .state import JobState, Shard

if TYPE_CHECKING:
    from ..settings import ResolvedSettings
    from .options import RemoteJobOptions

__all__ = [
    "Failure",
    "failure_listing",
    "unembedded_error",
    "record_failures",
    "fallback_realtime",
    "embed_failures_realtime",
    "write_output",
]

#: ``(row number, id, code, message)`` of a row no remote attempt could embed
Failure = tuple[int, str, str, str | None]


def failure_listing(state: JobState, source: RowSource) -> list[Failure]:
    """Every row no remote attempt could embed, in input order, with its id and the last code and message."""
    codes: dict[int, tuple[str, str | None]] = {}
    for shard in state.shards:
        empty = set(shard.empty)
        for cid, code in shard.failures.items():
            message = shard.messages.get(cid)
            for number in rows_of(*parse_custom_id(cid), empty):
                codes[number] = (code, message)
    listed = []
    for row in source:
        if row.index in codes:
            listed.append((row.index, row.id if row.id is not None else str(row.index), *codes[row.index]))
    return listed


def unembedded_error(
    state: JobState, source: RowSource, api_title: str, work: Path, advice: str | None = None
) -> BatchJobError:
    """The error ending a job whose failed rows are not to be embedded in real time: the first 20 rows (row
    number, id, code, message) and the count of the rest, then ``advice`` (default: rerun with
    ``--fallback-realtime``); ``failures`` holds every ``(row, id, code)``."""
    listed = failure_listing(state, source)
    shown = ", ".join(f"row {r} (id {i!r}): {c}" + (f" ({m})" if m else "") for r, i, c, m in listed[:20])
    more = f" and {len(listed) - 20} more" if len(listed) > 20 else ""
    return BatchJobError(
        f"{len(listed)} rows could not be embedded by {api_title}: {shown}{more}. Collected rows are "
        f"kept in {work}; " + (advice or "rerun with --fallback-realtime to embed these through the real-time API"),
        failures=[(r, i, c) for r, i, c, _ in listed],
    )


def record_failures(work: Path, shard: Shard, permanent: list[tuple[str, list[str], str, str]]) -> None:
    """Record lines no remote attempt can embed (``(custom_id, texts, code, message)``): in the shard's
    ``failures`` / ``messages`` and its failed-lines file, which the real-time fallback reads. The caller saves
    the state."""
    if not permanent:
        return
    with open(failed_path(work, shard.index), "ab") as handle:
        for cid, texts, code, message in permanent:
            shard.failures[cid] = code
            shard.messages[cid] = message
            handle.write(orjson.dumps({"custom_id": cid, "input": texts, "code": code, "message": message}) + b"\n")


def fallback_realtime(
    state: JobState,
    failing: list[Shard],
    work: Path,
    options: RemoteJobOptions,
    settings: ResolvedSettings,
    save: Callable[[], None],
    counted: Callable[[int, int], None],
) -> None:
    """Embed the failed lines of the ``failing`` shards through the real-time API (``embed_failures_realtime``),
    with one engine for the job's model, dimension, key and service.

    Raises:
        DashScopeError: the engine's errors (``InvalidInputError``, ``APIError`` ...).
    """
    from ..engine import DashScopeEmbedder

    with DashScopeEmbedder(
        options.model,
        dimensions=options.dimensions,
        api_key=options.api_key,
        base_url=settings.root,
        workspace=settings.workspace,
        timeout=settings.timeout,
        max_retries=options.max_retries,
    ) as engine:
        for shard in failing:
            embed_failures_realtime(state, shard, work, engine, save, counted)


def embed_failures_realtime(
    state: JobState,
    shard: Shard,
    work: Path,
    engine: Any,
    save: Callable[[], None],
    counted: Callable[[int, int], None],
) -> None:
    """Embed the failed lines of ``shard`` through ``engine`` (a ``DashScopeEmbedder``, real-time price) into the
    journals, document side; each line is removed from ``shard.failures`` and the state saved once it is
    journaled, so a rerun never embeds it twice. ``counted(rows, tokens)`` is told of each line embedded.

    Raises:
        DashScopeError: the engine's errors (``InvalidInputError``, ``APIError`` ...).
    """
    mask = done_mask(shard, work, state.chunk_size)
    empty = set(shard.empty)
    seen: set[str] = set()
    for line in read_lines(failed_path(work, shard.index)):
        cid = line["custom_id"]
        if cid in seen or cid not in shard.failures:
            continue
        seen.add(cid)
        rows = np.asarray(rows_of(*parse_custom_id(cid), empty), dtype=np.int64)
        if not mask[rows - shard.start].all():
            result = engine.embed(line["input"], text_type="document")
            journal_rows(work, state.chunk_size, rows, result.dense, result.usage.total_tokens, result.usage.requests)
            mask[rows - shard.start] = True
            state.fallback_tokens += result.usage.total_tokens
            state.fallback_rows += len(rows)
            counted(len(rows), result.usage.total_tokens)
        del shard.failures[cid]
        shard.messages.pop(cid, None)
        save()


def write_output(
    source: RowSource,
    work: Path,
    output: Path,
    *,
    chunk_size: int,
    key: str,
    dimension: int,
    skip_empty: bool,
    api: str,
) -> dict[str, Any]:
    """Each chunk's journal into a Parquet part (rows in input order, empty rows as nulls), then the parts into
    ``output`` (``jobs.parquet``); returns the totals ``merge_parts`` reports. ``api`` is recorded in the file's
    metadata (``"batch"``, ``"task"``).

    Raises:
        BulkJobError: a part is missing or does not cover its rows. ResponseFormatError: a journal whose vectors do
            not match ``dimension``.
    """
    schema = output_schema(source.has_id, dimension, True, False)
    parts = finished_parts(work)
    starts: list[int] = []
    total = 0
    for start, rows in source.chunks(chunk_size):
        starts.append(start)
        total = start + len(rows)
        if start in parts:
            continue
        keep, skipped = source.non_empty(rows, skip_empty)
        journal = work / journal_name(start)
        records = read_journal(journal)[0] if journal.exists() else []
        write_part(work, start, total, keep, skipped, records, schema, key, dimension)
        journal.unlink(missing_ok=True)
    return merge_parts(work, output, schema, key, starts, total, api=api)
