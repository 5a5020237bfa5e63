"""The journal: an append-only file of finished results for one chunk of rows, safe against a process crash.

Each record is one finished request (or Batch File API line): its row numbers, dense vectors ``(n, d) float32``,
sparse vectors, tokens and request count, framed by a header and closed by a CRC32. A kill in mid-write leaves a
torn last record, which fails its CRC and is dropped on the next open. Records reach the page cache with one
``write`` and are not fsynced: they survive a process crash, not a power loss (parts are fsynced).
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

__all__ = [
    "JournalRecord",
    "Journal",
    "encode_record",
    "read_journal",
    "append_record",
    "drop_torn_tail",
    "journal_name",
]

_RECORD_MAGIC = b"DSJ1"
# magic, number of rows, dimension (0: no dense), tokens, requests, sparse payload bytes
_HEADER = struct.Struct("<4sIIQII")


@dataclass
class JournalRecord:
    """One finished request.

    Attributes:
        rows: ``(n,) int64`` row numbers.
        dense: ``(n, d) float32`` vectors, or ``None``.
        sparse: ``n`` pairs ``(indices, values)``, or ``None``.
        tokens: tokens billed for the request (``usage.total_tokens``).
        requests: requests (or lines) this record stands for.
    """

    rows: np.ndarray
    dense: np.ndarray | None
    sparse: list[tuple[list[int], list[float]]] | None
    tokens: int
    requests: int


def journal_name(start: int) -> str:
    """File name of the journal of the chunk starting at row ``start``."""
    return f"chunk-{start:012d}.journal"


def encode_record(rows: np.ndarray, dense: np.ndarray | None, sparse: Any, tokens: int, requests: int) -> bytes:
    """The bytes of one record (header, rows, vectors, sparse JSON, CRC32)."""
    sparse_bytes = b"" if sparse is None else orjson.dumps(sparse)
    dim = 0 if dense is None else int(dense.shape[1])
    body = (
        _HEADER.pack(_RECORD_MAGIC, len(rows), dim, tokens, requests, len(sparse_bytes))
        + rows.astype("<i8").tobytes()
        + (b"" if dense is None else np.ascontiguousarray(dense, dtype="<f4").tobytes())
        + sparse_bytes
    )
    return body + struct.pack("<I", zlib.crc32(body))


def read_journal(path: Path) -> tuple[list[JournalRecord], int]:
    """The intact records of a journal and the byte length they span (anything after is a torn write)."""
    data = path.read_bytes()
    records: list[JournalRecord] = []
    pos = 0
    while pos + _HEADER.size <= len(data):
        magic, n, dim, tokens, requests, sparse_len = _HEADER.unpack_from(data, pos)
        end = pos + _HEADER.size + n * 8 + n * dim * 4 + sparse_len + 4
        if magic != _RECORD_MAGIC or end > len(data):
            break
        (crc,) = struct.unpack_from("<I", data, end - 4)
        if zlib.crc32(data[pos : end - 4]) != crc:
            break
        at = pos + _HEADER.size
        rows = np.frombuffer(data, dtype="<i8", count=n, offset=at).astype(np.int64)
        at += n * 8
        dense = None
        if dim:
            dense = np.frombuffer(data, dtype="<f4", count=n * dim, offset=at).reshape(n, dim).astype(np.float32)
            at += n * dim * 4
        sparse = orjson.loads(data[at : at + sparse_len]) if sparse_len else None
        records.append(JournalRecord(rows, dense, sparse, tokens, requests))
        pos = end
    return records, pos


def _write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def drop_torn_tail(path: Path) -> list[JournalRecord]:
    """Read the journal at ``path`` and cut off a torn last record (a kill in mid-write), so appends that follow
    stay readable; returns the intact records."""
    records, valid = read_journal(path)
    if valid != path.stat().st_size:
        os.truncate(path, valid)
    return records


def append_record(path: Path, payload: bytes) -> None:
    """Append one encoded record to the journal at ``path`` without keeping records in memory (for writers that
    spread results over many chunks, such as the Batch File API collector). The caller has called
    ``drop_torn_tail`` on an existing journal once before its first append."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        _write_all(fd, payload)
    finally:
        os.close(fd)


class Journal:
    """Append-only record file of one chunk; one ``write`` per finished request; records also kept in memory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[JournalRecord] = drop_torn_tail(path) if path.exists() else []
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, record: JournalRecord, payload: bytes) -> None:
        """Write ``payload`` (``encode_record`` of ``record``) and remember ``record``."""
        _write_all(self._fd, payload)
        self.records.append(record)

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
