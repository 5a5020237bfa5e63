"""Lines of an asynchronous task: one text per line of a UTF-8 text file.

A task's input is a plain text file whose every line is one text, so a text must not hold a line break: each line
break (newline, carriage return, and the other characters Python's ``str.splitlines`` splits on: vertical tab,
form feed, file/group/record separators, NEL, U+2028, U+2029) becomes one space before upload (``one_line``). The
row's vector is then the vector of that one-line text; the Parquet output keeps the row's id, not the text.

Locally an attempt's lines are kept as JSONL (``{"custom_id", "text"}``, the coordinator's line format, so a
result maps back to rows and failed lines can be resubmitted); ``write_text_file`` turns them into the text file
that is uploaded, where line ``i`` (0-based) is ``text_index`` ``i`` of the result.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import orjson

from ...jobs.sources import Row
from ..lines import custom_id

__all__ = ["one_line", "pack_task_lines", "write_text_file", "read_task_lines"]

_BREAKS = re.compile("\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` with every line break replaced by one space (a CRLF pair by one space)."""
    return _BREAKS.sub(" ", text)


def pack_task_lines(rows: list[Row], job_id: str) -> list[tuple[bytes, int]]:
    """``[(JSONL line, row number), ...]``: one line per non-empty row."""
    return [
        (orjson.dumps({"custom_id": custom_id(job_id, row.index, row.index), "text": one_line(row.text)}), row.index)
        for row in rows
    ]


def read_task_lines(path: Path) -> Iterator[tuple[str, str]]:
    """``(custom_id, text)`` of each line of an attempt's JSONL file, in order."""
    with open(path, "rb") as handle:
        for raw in handle:
            if raw.strip():
                line = orjson.loads(raw)
                yield line["custom_id"], line["text"]


def write_text_file(attempt_file: Path, dest: Path) -> int:
    """Write the texts of ``attempt_file`` to ``dest``, one a line (UTF-8, ``\\n``); returns the line count."""
    count = 0
    tmp = dest.with_name(dest.name + ".tmp")
    with open(tmp, "wb") as out:
        for _, text in read_task_lines(attempt_file):
            out.write(text.encode("utf-8") + b"\n")
            count += 1
    tmp.replace(dest)
    return count
