"""Stream rows out of an input file: JSONL (one object a line), CSV (a header row) or plain text (a row a line).

Rows come out in file order, numbered from 0, so a row number names the same row every time the same file is read:
the bulk job relies on that to resume. Nothing here holds more than one row (plus the reader's buffer) in memory.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal, Optional

import orjson

from ..errors import SourceError

__all__ = ["Row", "SourceSpec", "SourceError", "detect_format", "read_rows", "fingerprint_file", "estimate_rows"]

Format = Literal["jsonl", "csv", "txt"]
FORMATS: tuple[str, ...] = ("jsonl", "csv", "txt")


@dataclass(frozen=True)
class Row:
    """One input row.

    Attributes:
        index: position among the file's rows, from 0 (blank JSONL lines are not rows).
        id: the value of the id field/column as a string, or ``None`` when no id field was asked for.
        text: the text to embed; may be empty (the caller decides what to do with it).
    """

    index: int
    id: Optional[str]
    text: str


@dataclass(frozen=True)
class SourceSpec:
    """How to read an input file.

    Attributes:
        path: the file.
        format: ``"jsonl"``, ``"csv"`` or ``"txt"``.
        text_field: JSONL key holding the text (default ``"text"``).
        column: CSV column holding the text (default ``"text"``).
        id_field: JSONL key or CSV column holding the row id (``None``: ids are row numbers).
        delimiter: CSV delimiter (``"\\t"`` for .tsv files).
    """

    path: Path
    format: Format
    text_field: str = "text"
    column: str = "text"
    id_field: Optional[str] = None
    delimiter: str = ","

    def describe(self) -> dict[str, object]:
        """The reading options that decide which rows come out (part of a job's fingerprint)."""
        return {
            "format": self.format,
            "text_field": self.text_field if self.format == "jsonl" else None,
            "column": self.column if self.format == "csv" else None,
            "id_field": self.id_field,
            "delimiter": self.delimiter if self.format == "csv" else None,
        }


def detect_format(path: Path, given: Optional[str] = None) -> Format:
    """The input format: ``given`` when set, else from the extension (.jsonl/.ndjson/.json -> jsonl,
    .csv/.tsv -> csv, anything else -> txt).

    Raises:
        SourceError: ``given`` is not one of jsonl, csv, txt.
    """
    if given:
        if given not in FORMATS:
            raise SourceError(f"--format {given!r} is not one of {', '.join(FORMATS)}")
        return given  # type: ignore[return-value]
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    return "txt"


def _text_of(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _id_of(value: object) -> Optional[str]:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _read_jsonl(spec: SourceSpec) -> Iterator[Row]:
    index = 0
    with open(spec.path, "rb") as handle:
        for line_number, line in enumerate(handle, 1):
            if not line.strip():
                continue  # blank lines are not rows (editors leave a trailing one)
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise SourceError(f"{spec.path}:{line_number}: not valid JSON ({exc})") from None
            if not isinstance(record, dict):
                raise SourceError(f"{spec.path}:{line_number}: expected a JSON object, got {type(record).__name__}")
            if spec.text_field not in record:
                raise SourceError(
                    f"{spec.path}:{line_number}: no field {spec.text_field!r} (fields: {', '.join(list(record)[:10])});"
                    " choose one with --text-field"
                )
            row_id = None
            if spec.id_field is not None:
                if spec.id_field not in record:
                    raise SourceError(f"{spec.path}:{line_number}: no id field {spec.id_field!r}")
                row_id = _id_of(record[spec.id_field])
            yield Row(index, row_id, _text_of(record[spec.text_field]))
            index += 1


def _read_csv(spec: SourceSpec) -> Iterator[Row]:
    with open(spec.path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=spec.delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        try:
            text_col = header.index(spec.column)
        except ValueError:
            raise SourceError(
                f"{spec.path}: no column {spec.column!r} (columns: {', '.join(header[:20])}); choose one with --column"
            ) from None
        id_col = None
        if spec.id_field is not None:
            try:
                id_col = header.index(spec.id_field)
            except ValueError:
                raise SourceError(f"{spec.path}: no id column {spec.id_field!r} (columns: {', '.join(header[:20])})") from None
        for index, record in enumerate(reader):
            text = record[text_col] if text_col < len(record) else ""
            row_id = (record[id_col] if id_col < len(record) else "") if id_col is not None else None
            yield Row(index, row_id, text)


def _read_txt(spec: SourceSpec) -> Iterator[Row]:
    with open(spec.path, encoding="utf-8", newline="") as handle:
        for index, line in enumerate(handle):
            yield Row(index, None, line.rstrip("\r\n"))


def read_rows(spec: SourceSpec) -> Iterator[Row]:
    """Rows of the file in order (a generator: one row in memory at a time).

    Raises:
        SourceError: a JSONL line that is not a JSON object or lacks the text/id field; a CSV without the column.
        OSError: the file cannot be read.
    """
    if spec.format == "jsonl":
        return _read_jsonl(spec)
    if spec.format == "csv":
        return _read_csv(spec)
    return _read_txt(spec)


def fingerprint_file(path: Path, block: int = 1 << 20) -> tuple[str, int]:
    """``(sha256 hex of the file's bytes, number of newline bytes)``, read in ``block``-byte pieces.

    The hash tells a resumed job whether its input is unchanged; the newline count sizes the progress bar.
    Hashing runs at disk speed (about 1 GB/s), small next to embedding time.
    """
    digest = hashlib.sha256()
    newlines = 0
    last = b""
    with open(path, "rb", buffering=0) as handle:
        while True:
            data = handle.read(block)
            if not data:
                break
            digest.update(data)
            newlines += data.count(b"\n")
            last = data
    if last and not last.endswith(b"\n"):
        newlines += 1  # a last line with no newline is still a line
    return digest.hexdigest(), newlines


def estimate_rows(fmt: Format, lines: int) -> int:
    """Rows to expect from a file of ``lines`` lines (exact for txt; JSONL blank lines and CSV fields spanning
    lines make it an estimate, used only for the progress bar)."""
    return max(0, lines - 1) if fmt == "csv" else lines
