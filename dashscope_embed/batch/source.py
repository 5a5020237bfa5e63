"""The rows of a remote embedding job: read again on every pass, checked and digested before anything is uploaded.

A remote job reads its input several times (check, plan, name failed rows, write the output) and holds one chunk in
memory at a time, so the rows are a ``SourceSpec`` (a file read as the bulk job reads it) or a re-iterable of
``(id, text)`` pairs. ``scan_rows`` applies the bulk job's rules (non-string texts, empty rows) and the limits every
remote line shares (whole rows only: a row over the model's token limit cannot be split and averaged), and forms the
job key that ties a state file and work directory to this input and these options.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..base import encoding_problem
from ..catalog import ModelSpec
from ..errors import InvalidInputError
from ..jobs.chunks import chunked, split_empty
from ..jobs.sources import Row, SourceSpec, read_rows
from ..tokens import count_tokens, fits

__all__ = ["Rows", "RowSource", "Scan", "scan_rows"]

Rows = SourceSpec | Iterable[tuple[Any, Any]]


class RowSource:
    """``Row`` s of a ``SourceSpec`` or of a re-iterable of ``(id, text)`` pairs, read afresh on each iteration.

    Attributes:
        has_id: whether rows carry ids (pairs always do; a file when it names an id field).
        path: the input file (``<rows>`` for pairs), for messages.
    """

    def __init__(self, rows: Rows) -> None:
        self.rows = rows
        self.has_id = not isinstance(rows, SourceSpec) or rows.id_field is not None
        self.path = rows.path if isinstance(rows, SourceSpec) else Path("<rows>")

    def __iter__(self) -> Iterator[Row]:
        """Every row in input order.

        Raises:
            InvalidInputError: pairs that are a one-shot iterator, a pair that is not ``(id, text)``, a text that
                is not a string (names the row). SourceError: a malformed file row (see ``jobs.sources``).
        """
        if isinstance(self.rows, SourceSpec):
            yield from read_rows(self.rows)
            return
        source = self.rows
        if iter(source) is source:
            raise InvalidInputError(
                "rows must be re-iterable (a list or a SourceSpec): the job reads them again "
                "to resume and to write the output"
            )
        for index, pair in enumerate(source):
            try:
                row_id, text = pair
            except (TypeError, ValueError):
                raise InvalidInputError(f"row {index}: expected an (id, text) pair, got {pair!r:.80}") from None
            if not isinstance(text, str):
                raise InvalidInputError(
                    f"row {index} (id {row_id!r}): text must be a string, got {type(text).__name__}"
                )
            problem = encoding_problem(text)
            if problem:  # JSON cannot carry it: refused here, before the key's digest or any upload
                raise InvalidInputError(f"row {index} (id {row_id!r}): text holds a {problem}")
            yield Row(index, None if row_id is None else str(row_id), text)

    def chunks(self, size: int) -> Iterator[tuple[int, list[Row]]]:
        """``(first row number, rows)`` of consecutive chunks of ``size`` rows."""
        return chunked(iter(self), size)

    def non_empty(self, rows: list[Row], skip_empty: bool) -> tuple[list[Row], int]:
        """``(non-empty rows, empty rows left out)`` (``jobs.chunks.split_empty``; raises ``BulkJobError`` for an
        empty row when ``skip_empty`` is false)."""
        return split_empty(rows, skip_empty=skip_empty, source=self.path)

    def describe(self) -> dict[str, Any]:
        """What identifies the source in the job key (file format and fields, or that rows are pairs)."""
        return self.rows.describe() if isinstance(self.rows, SourceSpec) else {"pairs": True}

    def ids_of(self, rows: set[int]) -> dict[int, str]:
        """Row number -> id (the row number when rows have no ids) of ``rows``, in one pass that stops early."""
        found: dict[int, str] = {}
        if not rows:
            return found
        last = max(rows)
        for row in self:
            if row.index in rows:
                found[row.index] = row.id if row.id is not None else str(row.index)
            if row.index >= last:
                break
        return found


@dataclass(frozen=True)
class Scan:
    """What ``scan_rows`` found: the job ``key`` (hex digest), ``rows`` read and ``kept`` non-empty rows."""

    key: str
    rows: int
    kept: int


def scan_rows(
    source: RowSource,
    *,
    spec: ModelSpec,
    dimension: int,
    chunk_size: int,
    skip_empty: bool,
    api: str,
    max_text_bytes: int | None = None,
    line_noun: str = "line",
) -> Scan:
    """Read every row once: apply the bulk job's rules, the model's token limit and a byte limit, and digest it.

    Args:
        api: the job kind's name in the key (``"batch"``, ``"task"``): the same rows under another kind are
            another job.
        max_text_bytes: most UTF-8 bytes of one text (what fits in one line of the kind's input file), or ``None``.
        line_noun: what a line is called in messages (``"batch line"``, ``"task line"``).

    Raises:
        InvalidInputError: a non-string text, a text over ``max_text_bytes`` (names the row), rows over the
            model's ``max_tokens_per_row`` (their ids and token counts, the first 20). BulkJobError: an empty row
            when ``skip_empty`` is false. SourceError: a malformed file row.
    """
    digest = hashlib.sha256()
    total = kept = 0
    limit = spec.max_tokens_per_row
    over: list[tuple[Row, int]] = []
    over_count = 0
    for start, rows in source.chunks(chunk_size):
        keep, _ = source.non_empty(rows, skip_empty)
        for row in rows:
            digest.update(orjson.dumps([row.id, row.text]))
        for row in keep:
            if max_text_bytes is not None and len(row.text.encode("utf-8")) > max_text_bytes:
                raise InvalidInputError(
                    f"{row.label()} is too long for one {line_noun} (at most {max_text_bytes} bytes of text per line)"
                )
            if not fits(row.text, limit):
                over_count += 1
                if len(over) < 20:
                    over.append((row, count_tokens(row.text)))
        total = start + len(rows)
        kept += len(keep)
    if over:
        # A remote line carries whole rows: the real-time path's split-and-average (oversize="chunk_average")
        # needs the pieces' vectors back together, which remote lines cannot promise, so such rows are refused
        # here rather than failing their whole line on the service.
        shown = ", ".join(f"row {r.index} (id {r.id if r.id is not None else r.index!r}): {n} tokens" for r, n in over)
        more = f" and {over_count - len(over)} more" if over_count > len(over) else ""
        raise InvalidInputError(
            f"{over_count} row(s) exceed {spec.name}'s limit of {limit} tokens per row: {shown}{more} "
            f"(source: {spec.source}). {line_noun.capitalize()}s carry whole rows: shorten or split these rows, or "
            "embed the input through the real-time path (`embed` without --batch-api), which splits them on token "
            "boundaries and averages the pieces"
        )
    described = {
        "input": digest.hexdigest(),
        "source": source.describe(),
        "model": spec.name,
        "dimension": dimension,
        "api": api,
    }
    key = hashlib.sha256(orjson.dumps(described, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return Scan(key=key, rows=total, kept=kept)
