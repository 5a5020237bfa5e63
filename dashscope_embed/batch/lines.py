"""JSONL lines of a Batch File API input file: packing rows into lines, custom_ids, and the files themselves.

A line is ``{"custom_id", "method": "POST", "url": "/v1/embeddings", "body": {"model", "input": [texts],
"encoding_format": "float", "dimensions"?}}``. Whether ``input`` may be a list is not documented for batches: the
real-time compatible endpoint takes up to the model's row limit, so lines pack that many rows by default
(``rows_per_line``; 1 sends one text a line), and a row-limit error in a batch re-splits the line.

``custom_id`` is ``{job_id}-{first}-{last}``: the line holds the non-empty rows numbered ``first`` to ``last``
(the state records which rows of a shard are empty), so a result maps back to rows without the input.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import orjson

from ..batch.limits import ENDPOINT, BatchLimits
from ..errors import InvalidInputError
from ..jobs.sources import Row
from ..jobs.workdir import fsync_dir

__all__ = [
    "LineFile",
    "custom_id",
    "parse_custom_id",
    "encode_line",
    "pack_rows",
    "pack_row_lines",
    "write_lines",
    "read_lines",
    "rows_of",
]


def custom_id(job_id: str, first: int, last: int) -> str:
    """The custom_id of the line holding the non-empty rows ``first`` .. ``last``."""
    return f"{job_id}-{first}-{last}"


def parse_custom_id(value: str) -> tuple[int, int]:
    """``(first, last)`` of a custom_id made by ``custom_id``.

    Raises:
        ValueError: not one of ours.
    """
    _, first, last = value.rsplit("-", 2)
    return int(first), int(last)


def rows_of(first: int, last: int, empty: set[int]) -> list[int]:
    """Row numbers a line holds: ``first`` .. ``last`` without the empty rows."""
    return [r for r in range(first, last + 1) if r not in empty]


def encode_line(cid: str, texts: Sequence[str], model: str, dimension: int | None) -> bytes:
    """One JSONL line (without the newline)."""
    body: dict[str, object] = {"model": model, "input": list(texts), "encoding_format": "float"}
    if dimension is not None:
        body["dimensions"] = dimension
    return orjson.dumps({"custom_id": cid, "method": "POST", "url": ENDPOINT, "body": body})


def pack_rows(
    rows: Sequence[Row], job_id: str, model: str, dimension: int | None, rows_per_line: int, limits: BatchLimits
) -> list[bytes]:
    """Lines for the non-empty ``rows`` of one chunk, ``rows_per_line`` rows each (fewer where a line would pass
    the byte limit).

    Raises:
        InvalidInputError: one text alone makes a line over ``limits.max_line_bytes`` (names the row).
    """
    return [line for line, _ in pack_row_lines(rows, job_id, model, dimension, rows_per_line, limits)]


def pack_row_lines(
    rows: Sequence[Row], job_id: str, model: str, dimension: int | None, rows_per_line: int, limits: BatchLimits
) -> list[tuple[bytes, int]]:
    """``pack_rows`` with each line's first row number: ``[(line, first row), ...]``."""
    lines: list[tuple[bytes, int]] = []
    i = 0
    while i < len(rows):
        take = min(rows_per_line, len(rows) - i)
        while True:
            group = rows[i : i + take]
            line = encode_line(
                custom_id(job_id, group[0].index, group[-1].index), [r.text for r in group], model, dimension
            )
            if len(line) <= limits.max_line_bytes:
                break
            if take == 1:
                raise InvalidInputError(
                    f"row {group[0].index} makes a {len(line)}-byte batch line; a line may hold at most "
                    f"{limits.max_line_bytes} bytes"
                )
            take = max(1, take // 2)
        lines.append((line, group[0].index))
        i += take
    return lines


class LineFile:
    """A JSONL input file written a chunk of lines at a time (memory holds one chunk's lines), published whole by
    ``commit`` (temporary name, fsync, rename): a kill leaves either no file or the complete one.

    Attributes:
        lines / bytes: written so far.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        self._handle = open(self._tmp, "wb")  # noqa: SIM115 - open for the writer's lifetime, closed by commit()
        self.lines = 0
        self.bytes = 0

    def add(self, lines: Iterable[bytes]) -> None:
        """Append ``lines`` (each without its newline)."""
        for line in lines:
            self._handle.write(line + b"\n")
            self.lines += 1
            self.bytes += len(line) + 1

    def commit(self) -> tuple[int, int]:
        """Publish the file at ``path``; returns ``(lines, bytes)``."""
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self._tmp, self.path)
        fsync_dir(self.path.parent)
        return self.lines, self.bytes


def write_lines(path: Path, lines: Iterable[bytes]) -> tuple[int, int]:
    """Write ``lines`` to ``path`` at once (see ``LineFile``); returns ``(lines, bytes)``."""
    out = LineFile(path)
    out.add(lines)
    return out.commit()


def read_lines(path: Path) -> Iterator[dict]:
    """The parsed lines of a local JSONL file, one at a time."""
    with open(path, "rb") as handle:
        for raw in handle:
            if raw.strip():
                yield orjson.loads(raw)
