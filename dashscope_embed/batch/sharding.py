"""Planning: rows into lines, lines into shards, each shard one local input file, written as the rows stream.

A job kind says how a chunk of rows becomes lines (a ``Packer``: Batch File API JSONL lines of ``rows_per_line``
texts, or one text per line of an async task's text file), and ``plan_shards`` cuts the lines into shards of at
most ``max_lines`` lines and ``max_bytes`` bytes, each written to ``attempt_path(work, shard, 0)`` and recorded in
the state before the next begins. Planning resumes at ``state.planned_until``: a rerun after a kill never plans a
row twice. Memory holds one chunk's lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from ..jobs.sources import Row
from .lines import LineFile
from .source import RowSource
from .state import JobState, Shard

__all__ = ["Packer", "attempt_path", "failed_path", "groups", "plan_shards"]

#: ``pack(non-empty rows of one chunk, state)`` -> ``[(line without newline, first row number of the line), ...]``
Packer = Callable[[list[Row], JobState], list[tuple[bytes, int]]]


def attempt_path(work: Path, shard: int, attempt: int, suffix: str = ".jsonl") -> Path:
    """The local input file of attempt ``attempt`` of shard ``shard`` in the work directory ``work``."""
    return work / f"shard-{shard:05d}-a{attempt}{suffix}"


def failed_path(work: Path, shard: int) -> Path:
    """The JSONL file of a shard's lines no remote attempt could embed (``{"custom_id", "input", "code",
    "message"}``; read by the real-time fallback)."""
    return work / f"shard-{shard:05d}-failed.jsonl"


def groups(lines: list[bytes], most_lines: int, most_bytes: int) -> Iterator[list[bytes]]:
    """``lines`` in consecutive groups of at most ``most_lines`` lines and ``most_bytes`` bytes (newlines counted)."""
    group: list[bytes] = []
    size = 0
    for line in lines:
        if group and (len(group) >= most_lines or size + len(line) + 1 > most_bytes):
            yield group
            group, size = [], 0
        group.append(line)
        size += len(line) + 1
    if group:
        yield group


def plan_shards(
    state: JobState,
    source: RowSource,
    work: Path,
    *,
    pack: Packer,
    skip_empty: bool,
    max_bytes: int,
    on_shard: Callable[[Shard], None],
    save: Callable[[], None],
    suffix: str = ".jsonl",
) -> None:
    """Plan every row after ``state.planned_until`` into shards of at most ``state.lines_per_shard`` lines and
    ``max_bytes`` bytes; after each shard is written and saved in the state, ``on_shard(shard)`` (the coordinator
    submits it there). Sets ``state.input_rows`` at the end.

    Raises:
        whatever ``pack`` or reading the rows raises (``InvalidInputError``, ``BulkJobError``, ``SourceError``).
    """
    current: LineFile | None = None  # the shard being written, one chunk of lines in memory at a time
    shard_start = total = 0
    empty: list[int] = []

    def close(lines: LineFile, start: int, end: int, empty: list[int]) -> None:
        shard = Shard(index=len(state.shards), start=start, end=end, empty=empty)
        count, _ = lines.commit()
        if count:
            shard.add_attempt(count, (end - start) - len(empty), 0)
        state.shards.append(shard)
        state.planned_until = end
        save()
        if shard.attempts:
            on_shard(shard)

    for start, rows in source.chunks(state.chunk_size):
        total = start + len(rows)
        if total <= state.planned_until:
            continue
        rows = [r for r in rows if r.index >= state.planned_until]  # a chunk a killed run planned in part
        keep, _ = source.non_empty(rows, skip_empty)
        lines = pack(keep, state)
        empty.extend(r.index for r in rows if not r.text.strip())
        i, first = 0, rows[0].index
        while True:
            if current is None:
                current, shard_start = LineFile(attempt_path(work, len(state.shards), 0, suffix)), first
            # fill the shard to its line and byte limits; after rows_per_line shrank on a row-limit error a
            # chunk packs into more lines, and the shard limit must still hold
            j = i
            size = current.bytes
            while (
                j < len(lines)
                and current.lines + (j - i) < state.lines_per_shard
                and size + len(lines[j][0]) + 1 <= max_bytes
            ):
                size += len(lines[j][0]) + 1
                j += 1
            if j == i and current.lines == 0 and lines:
                j = i + 1  # one line alone is within every limit (the packer checks its size)
            current.add(line for line, _ in lines[i:j])
            if j == len(lines):
                break
            end = lines[j][1]  # the next shard starts at the first row of the line that did not fit
            close(current, shard_start, end, [e for e in empty if e < end])
            empty = [e for e in empty if e >= end]
            current, i, first = None, j, end
    if current is not None:
        close(current, shard_start, total, empty)
    state.input_rows = total
    save()
