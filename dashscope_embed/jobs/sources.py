"""Stream rows out of an input file: JSONL (one object a line), CSV (a header row) or plain text (a row a line).

Rows come out in file order, numbered from 0, so a row number names the same row every time the same file is read:
the bulk job relies on that to resume. Messages count rows and lines from 1, as editors do. Nothing here holds more
than one row (plus the reader's buffer) in memory. Files are UTF-8 (a UTF-8 byte-order mark is accepted); a file in
another encoding is refused with the line, a guess at its encoding and how to convert it.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import orjson

from ..errors import SourceError

__all__ = [
    "Row",
    "SourceSpec",
    "SourceError",
    "SourceCheck",
    "detect_format",
    "read_rows",
    "check_source",
    "fingerprint_file",
    "estimate_rows",
]

Format = Literal["jsonl", "csv", "txt"]
FORMATS: tuple[Format, ...] = ("jsonl", "csv", "txt")


@dataclass(frozen=True)
class Row:
    """One input row.

    Attributes:
        index: position among the file's rows, from 0 (blank JSONL lines are not rows); messages say ``row
            index + 1``.
        id: the value of the id field/column as a string, or ``None`` when no id field was asked for.
        text: the text to embed; may be empty (the caller decides what to do with it).
        line: the row's (first) line in the file, from 1 (0 when not known).
    """

    index: int
    id: str | None
    text: str
    line: int = 0

    def label(self) -> str:
        """How messages name the row: ``id 'doc-7' (line 8)``, or without an id field ``row 8 (id 7, line 8)``:
        rows count from 1, and the output's ``id`` column then holds the row's position from 0."""
        if self.id is not None:
            return f"id {self.id!r} (line {self.line})" if self.line else f"id {self.id!r}"
        return f"row {self.index + 1} (id {self.index}, line {self.line})" if self.line else f"row {self.index + 1}"


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
    id_field: str | None = None
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


def detect_format(path: Path, given: str | None = None) -> Format:
    """The input format: ``given`` when set, else from the extension (.jsonl/.ndjson/.json -> jsonl,
    .csv/.tsv -> csv, anything else -> txt).

    Raises:
        SourceError: ``given`` is not one of jsonl, csv, txt.
    """
    if given:
        for known in FORMATS:
            if given == known:
                return known
        raise SourceError(f"--format {given!r} is not one of {', '.join(FORMATS)}")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    return "txt"


_JSON_TYPES = {dict: "an object", list: "an array", bool: "a boolean", int: "a number", float: "a number"}


def _text_of(value: object, spec: SourceSpec, line_number: int, row_id: str | None) -> str:
    # A non-string text would otherwise be embedded as its Python repr: refuse it, as the engine refuses non-strings.
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    kind = _JSON_TYPES.get(type(value), type(value).__name__)
    who = f" (id {row_id!r})" if row_id is not None else ""
    raise SourceError(
        f"{spec.path}:{line_number}{who}: field {spec.text_field!r} is {kind}, not a string: {_preview(value)}; "
        "every text must be a JSON string"
    )


def _preview(value: object) -> str:
    text = orjson.dumps(value).decode() if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


_BOM = b"\xef\xbb\xbf"


def _decode_line(raw: bytes, path: Path, line_number: int) -> str:
    """One line of the file as text; a UTF-8 byte-order mark on line 1 is dropped.

    Raises:
        SourceError: the line is not UTF-8 (the message guesses the encoding and says how to convert).
    """
    if line_number == 1 and raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(_not_utf8(path, line_number, raw, exc)) from None


def _not_utf8(path: Path, line_number: int, raw: bytes, exc: UnicodeDecodeError) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(raw) > 1 and raw[1:2] == b"\x00"):
        guess, iconv = "UTF-16", "UTF-16"
    elif _is_gb18030(raw):
        guess, iconv = "GBK / GB18030 (Chinese)", "GB18030"
    else:
        guess, iconv = "Latin-1 / Windows-1252", "WINDOWS-1252"
    converted = path.with_name(f"{path.stem}.utf8{path.suffix}")
    return (
        f"{path}:{line_number}: not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); it looks like "
        f"{guess}. Input files must be UTF-8: convert it with `iconv -f {iconv} -t UTF-8 {path} > {converted}` "
        f"(or Python: open(path, encoding={iconv.lower()!r}) and write it back with encoding='utf-8')"
    )


def _is_gb18030(raw: bytes) -> bool:
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _id_of(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _read_jsonl(spec: SourceSpec) -> Iterator[Row]:
    index = 0
    with open(spec.path, "rb") as handle:
        for line_number, raw in enumerate(handle, 1):
            line = _decode_line(raw, spec.path, line_number)
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
            yield Row(index, row_id, _text_of(record[spec.text_field], spec, line_number, row_id), line_number)
            index += 1


def _text_lines(path: Path) -> Iterator[str]:
    """The file's lines (line endings kept) decoded from UTF-8 one at a time, so an error names its line."""
    with open(path, "rb") as handle:
        for line_number, raw in enumerate(handle, 1):
            yield _decode_line(raw, path, line_number)


def _read_csv(spec: SourceSpec) -> Iterator[Row]:
    reader = csv.reader(_text_lines(spec.path), delimiter=spec.delimiter)
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
            raise SourceError(
                f"{spec.path}: no id column {spec.id_field!r} (columns: {', '.join(header[:20])})"
            ) from None
    line = reader.line_num + 1
    for index, record in enumerate(reader):
        text = record[text_col] if text_col < len(record) else ""
        row_id = (record[id_col] if id_col < len(record) else "") if id_col is not None else None
        yield Row(index, row_id, text, line)
        line = reader.line_num + 1


def _read_txt(spec: SourceSpec) -> Iterator[Row]:
    for index, line in enumerate(_text_lines(spec.path)):
        yield Row(index, None, line.rstrip("\r\n"), index + 1)


def read_rows(spec: SourceSpec) -> Iterator[Row]:
    """Rows of the file in order (a generator: one row in memory at a time).

    Raises:
        SourceError: a JSONL line that is not a JSON object, lacks the text/id field or holds a text that is not a
            string (file, line and id named); a CSV without the column; a line that is not UTF-8.
        OSError: the file cannot be read.
    """
    if spec.format == "jsonl":
        return _read_jsonl(spec)
    if spec.format == "csv":
        return _read_csv(spec)
    return _read_txt(spec)


@dataclass
class SourceCheck:
    """What a full read of the input found, before anything is sent.

    Attributes:
        rows: rows in the file.
        empty: empty or whitespace-only rows (DashScope rejects them: skipped, or refused with ``--fail-on-empty``).
        empty_named: how messages name the first few of them (``Row.label``).
        duplicate_ids: rows whose id an earlier row already had (only with an id field).
        duplicates_named: the first few repeated ids, with the lines they are on.
    """

    rows: int = 0
    empty: int = 0
    empty_named: list[str] = field(default_factory=list)
    duplicate_ids: int = 0
    duplicates_named: list[str] = field(default_factory=list)

    def empty_message(self) -> str:
        """``3 empty rows (row 4 (line 4), ...)``: the count and the first few, for a notice or an error."""
        more = ", ..." if self.empty > len(self.empty_named) else ""
        return f"{self.empty} empty row{'s' if self.empty != 1 else ''} ({', '.join(self.empty_named)}{more})"

    def duplicates_message(self) -> str:
        """``2 rows repeat an earlier id (id 'a' (line 3), ...)``."""
        more = ", ..." if self.duplicate_ids > len(self.duplicates_named) else ""
        return (
            f"{self.duplicate_ids} row{'s' if self.duplicate_ids != 1 else ''} repeat an earlier id "
            f"({', '.join(self.duplicates_named)}{more})"
        )


def check_source(spec: SourceSpec, *, named: int = 5) -> SourceCheck:
    """Read every row once and report empty rows and repeated ids, so that a bad file fails before the first
    request rather than in the middle of a paid run.

    Memory: a 16-byte digest per distinct id (about 100 bytes each with the set's overhead), none without an id
    field. Time: one parse of the file (orjson for JSONL), small next to embedding it.

    Raises:
        SourceError: whatever ``read_rows`` refuses (a text that is not a string, a line that is not UTF-8, ...).
    """
    check = SourceCheck()
    seen: set[bytes] = set()
    for row in read_rows(spec):
        check.rows += 1
        if not row.text.strip():
            check.empty += 1
            if len(check.empty_named) < named:
                check.empty_named.append(row.label())
        if row.id is not None:
            digest = hashlib.blake2b(row.id.encode("utf-8", "surrogatepass"), digest_size=16).digest()
            if digest in seen:
                check.duplicate_ids += 1
                if len(check.duplicates_named) < named:
                    check.duplicates_named.append(row.label())
            else:
                seen.add(digest)
    return check


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
