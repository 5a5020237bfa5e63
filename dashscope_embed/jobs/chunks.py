"""Cutting the input into chunks of rows and leaving out empty rows: the same rules for every job.

Chunk ``k`` is rows ``[k*size, (k+1)*size)``; a chunk is the unit of a journal and of a Parquet part.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .errors import BulkJobError
from .sources import Row

__all__ = ["chunked", "split_empty"]


def chunked(rows: Iterator[Row], size: int) -> Iterator[tuple[int, list[Row]]]:
    """``(start, rows)`` for each chunk of ``size`` rows (the last may be shorter)."""
    batch: list[Row] = []
    start = 0
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield start, batch
            start += size
            batch = []
    if batch:
        yield start, batch


def split_empty(rows: list[Row], *, skip_empty: bool, source: Path) -> tuple[list[Row], int]:
    """``(non-empty rows, number of empty rows)``; DashScope rejects empty or whitespace-only input.

    Raises:
        BulkJobError: an empty row and ``skip_empty`` is false (the message names the row and the file).
    """
    skipped = 0
    keep: list[Row] = []
    for row in rows:
        if row.text.strip():
            keep.append(row)
        elif skip_empty:
            skipped += 1
        else:
            raise BulkJobError(
                f"{row.label()} of {source} is empty; DashScope rejects empty input "
                "(leave out --fail-on-empty to skip such rows)"
            )
    return keep, skipped
