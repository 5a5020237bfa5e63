"""The real-time run of a bulk job: chunks of rows cut into requests, sent through the engine, journaled.

At most ``MAX_OPEN_CHUNKS`` chunks are open at once (the one being read plus the one finishing its requests), so
memory does not grow with the input. Each chunk is cut into requests of the model's row limit and sent up to the
engine's ``max_concurrency`` at a time (its retries and rate limiter apply); every finished request is appended at
once to the chunk's journal, and a chunk whose rows are all journaled becomes a Parquet part.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..engine import DashScopeEmbedder
from .chunks import chunked, split_empty
from .errors import BulkJobError
from .journal import Journal, JournalRecord, encode_record, journal_name
from .parquet import write_part
from .sources import Row, SourceSpec
from .workdir import finished_parts, part_name

__all__ = ["BulkRun", "MAX_OPEN_CHUNKS", "clean_requests_needed"]

#: chunks whose rows may be held in memory at once: the one being read plus the one finishing its requests
MAX_OPEN_CHUNKS = 2


def clean_requests_needed(rows_per_chunk: list[int], max_rows: int) -> int:
    """Requests a clean run sends: every chunk's non-empty rows in requests of ``max_rows``."""
    return sum(-(-n // max_rows) for n in rows_per_chunk)


@dataclass
class _Chunk:
    start: int
    end: int
    rows: list[Row]  # non-empty rows to embed or already embedded
    skipped: int
    journal: Journal
    pending: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class BulkRun:
    """One run over the input: embeds every chunk without a part yet (see the module docstring).

    Attributes (after ``run``): ``requests``, ``tokens``, ``rows_this_run`` of this run.
    """

    def __init__(
        self,
        embedder: DashScopeEmbedder,
        spec: SourceSpec,
        work: Path,
        key: str,
        chunk_size: int,
        text_type: Literal["query", "document"],
        output_type: str,
        skip_empty: bool,
        progress: Any,
        schema: Any,
    ) -> None:
        self.embedder = embedder
        self.spec = spec
        self.work = work
        self.key = key
        self.chunk_size = chunk_size
        self.text_type = text_type
        self.output_type = output_type
        self.wants_sparse = output_type in ("sparse", "dense&sparse")
        self.skip_empty = skip_empty
        self.progress = progress
        self.schema = schema
        self.lock = threading.Lock()
        self.open_chunks = threading.Condition(self.lock)
        self.n_open = 0
        self.error: BaseException | None = None
        self.stop = threading.Event()
        self.requests = 0
        self.tokens = 0
        self.rows_this_run = 0

    # -- one request --
    def _embed_group(self, chunk: _Chunk, rows: list[Row]) -> None:
        if self.stop.is_set():
            return
        try:
            record, payload = self._request(rows)
            with chunk.lock:
                chunk.journal.append(record, payload)
                chunk.pending -= 1
                finished = chunk.pending == 0
            with self.lock:
                self.requests += record.requests
                self.tokens += record.tokens
                self.rows_this_run += len(rows)
            if self.progress is not None:
                self.progress.update(len(rows))
            if finished:
                self._finish_chunk(chunk)
        except BaseException as exc:  # any failure stops the job; finished work stays on disk
            with self.lock:
                if self.error is None:
                    self.error = exc
            self.stop.set()
            with self.open_chunks:
                self.open_chunks.notify_all()

    def _request(self, rows: list[Row]) -> tuple[JournalRecord, bytes]:
        result = self.embedder.embed(
            [r.text for r in rows],
            text_type=self.text_type,
            output_type=self.output_type,
        )
        indices = np.fromiter((r.index for r in rows), dtype=np.int64, count=len(rows))
        sparse = None
        if self.wants_sparse:
            sparse = [(list(s.indices), list(s.values)) for s in result.sparse or []]
        record = JournalRecord(indices, result.dense, sparse, result.usage.total_tokens, result.usage.requests)
        return record, encode_record(indices, result.dense, sparse, record.tokens, record.requests)

    # -- one chunk --
    def _finish_chunk(self, chunk: _Chunk) -> None:
        write_part(
            self.work,
            chunk.start,
            chunk.end,
            chunk.rows,
            chunk.skipped,
            chunk.journal.records,
            self.schema,
            self.key,
            self.embedder.dimension,
        )
        chunk.journal.close()
        chunk.journal.path.unlink(missing_ok=True)
        with self.open_chunks:
            self.n_open -= 1
            self.open_chunks.notify_all()

    def _open_chunk(self, start: int, rows: list[Row], pool: ThreadPoolExecutor, slots: threading.Semaphore) -> None:
        keep, skipped = split_empty(rows, skip_empty=self.skip_empty, source=self.spec.path)
        journal = Journal(self.work / journal_name(start))
        done = {int(i) for record in journal.records for i in record.rows}
        missing = [r for r in keep if r.index not in done]
        chunk = _Chunk(start, start + len(rows), keep, skipped, journal)
        if self.progress is not None:
            self.progress.update(len(rows) - len(missing))
        max_rows = self.embedder.max_rows
        groups = [missing[i : i + max_rows] for i in range(0, len(missing), max_rows)]
        chunk.pending = len(groups)
        with self.open_chunks:
            self.n_open += 1
        if not groups:
            self._finish_chunk(chunk)
            return
        for group in groups:
            while not slots.acquire(timeout=0.2):
                if self.stop.is_set():
                    return
            if self.stop.is_set():
                slots.release()
                return
            future = pool.submit(self._embed_group, chunk, group)
            future.add_done_callback(lambda _f: slots.release())

    def _wait_for_slot(self) -> None:
        with self.open_chunks:
            while self.n_open >= MAX_OPEN_CHUNKS and not self.stop.is_set():
                self.open_chunks.wait(0.5)

    def run(self, rows_iter: Iterator[Row]) -> tuple[list[int], int]:
        """Embed every chunk not finished yet; return the chunk starts seen and the number of input rows.

        Raises:
            BulkJobError: a part on disk does not match the input's rows.
            Exception: the first failed request (after the engine's retries) or a bad input row.
        """
        parts = finished_parts(self.work)
        concurrency = self.embedder.max_concurrency
        # Twice the concurrency queued keeps every worker busy across chunk boundaries without reading far ahead.
        slots = threading.Semaphore(concurrency * 2)
        starts: list[int] = []
        total = 0
        with ThreadPoolExecutor(concurrency, thread_name_prefix="dashscope-embed-bulk") as pool:
            try:
                for start, rows in chunked(rows_iter, self.chunk_size):
                    starts.append(start)
                    total = start + len(rows)
                    if self.stop.is_set():
                        break
                    if start in parts:
                        end, _ = parts[start]
                        if end != start + len(rows):
                            raise BulkJobError(f"part {part_name(start, end)} does not match the input's rows")
                        if self.progress is not None:
                            self.progress.update(len(rows))
                        continue
                    self._wait_for_slot()
                    if self.stop.is_set():
                        break
                    self._open_chunk(start, rows, pool, slots)
            except BaseException:
                self.stop.set()  # Ctrl-C or a bad input row: let requests in flight land in the journal
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        if self.error is not None:
            raise self.error
        return starts, total
