"""A finished task's result into the job's journals, and what becomes of the lines that did not succeed.

Result lines arrive in any order and are keyed by ``text_index`` (the 0-based line of the uploaded file, which is
line ``text_index`` of the attempt's JSONL file, whose ``custom_id`` names the row). Successes are buffered a few
hundred at a time and appended to the journal of the chunk their rows belong to, so memory holds a bounded number
of vectors whatever the task's size; rows already journaled (a rerun after a kill in mid-collection) are not
written twice. Every line of the attempt then ends in one of three ways:

- succeeded: done, never submitted again (billed once);
- failed with a retryable code (``InternalError``, ``Throttling.*``, 5xx-like), absent from the result (checked:
  every line must come back), or in a task that FAILED as a whole (nothing of it billed): resubmitted in the next
  round, up to ``max_resubmits`` rounds, then reported with its last code and message (a CANCELED task does not
  get here: ``AsyncTaskJob.collect_results`` queues its lines again in the same round);
- failed otherwise (an input the model refuses: empty, too long): reported with its code and message.

A rerun takes the reported lines of the first two kinds back (``retry_failures``): they are submitted again, with
a fresh ``max_resubmits``, instead of ending the rerun with the same error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson

from ...errors import error_from_reply
from ..collect import journal_rows
from ..coordinator import Collected
from ..lines import parse_custom_id, read_lines
from ..sharding import failed_path
from ..state import Attempt, Shard
from .lines import read_task_lines
from .results import ResultCheck, read_result

__all__ = ["collect_task", "retry_failures"]

#: vectors held before they are written to the journals
_FLUSH_ROWS = 512
NOT_RETURNED = ("not_returned", "the task's result held no line for this text; not billed")
CANCELED = ("task_canceled", "the task was cancelled before it ran; not billed")


def _retryable(code: str, message: str) -> bool:
    return error_from_reply(400, {"code": code, "message": message}).retryable or code in (
        "InternalError",
        "not_returned",
        CANCELED[0],
    )


def retry_failures(work: Path, shard: Shard) -> list[bytes]:
    """The reported lines of ``shard`` that failed for a passing reason (a retryable code, left out of a result, a
    task that failed or was cancelled), as attempt lines (``{"custom_id", "text"}``, each once), in the order they
    were reported. ``shard.failures`` is left as it is: the caller removes them once their attempt is saved."""
    path = failed_path(work, shard.index)
    if not shard.failures or not path.exists():
        return []
    again: list[bytes] = []
    seen: set[str] = set()
    for line in read_lines(path):
        cid = line["custom_id"]
        if cid in seen or cid not in shard.failures:
            continue  # taken back by an earlier rerun (the file keeps every report)
        seen.add(cid)
        if _retryable(shard.failures[cid], shard.messages.get(cid, "")):
            again.append(orjson.dumps({"custom_id": cid, "text": line["input"][0]}))
    return again


class _Journal:
    """Successes buffered per chunk, appended to the journals in bounded groups."""

    def __init__(self, work: Path, chunk_size: int, tokens: int) -> None:
        self.work, self.chunk_size, self.tokens = work, chunk_size, tokens
        self.rows: list[int] = []
        self.vectors: list[np.ndarray] = []
        self.written = 0

    def add(self, row: int, vector: np.ndarray) -> None:
        self.rows.append(row)
        self.vectors.append(vector)
        if len(self.rows) >= _FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        rows = np.asarray(self.rows, dtype=np.int64)
        dense = np.stack(self.vectors).astype(np.float32, copy=False)
        starts = rows - rows % self.chunk_size
        for start in np.unique(starts):
            pick = starts == start
            # the task's tokens and its one request go with the first record written
            tokens, requests = (self.tokens, 1) if self.written == 0 else (0, 0)
            journal_rows(self.work, self.chunk_size, rows[pick], dense[pick], tokens, requests)
            self.written += int(pick.sum())
        self.rows, self.vectors = [], []


def collect_task(
    attempt: Attempt,
    shard: Shard,
    base: Path,
    out: Path | None,
    failure: tuple[str, str] | None,
    work: Path,
    chunk_size: int,
    mask: np.ndarray,
    max_resubmits: int,
    dimension: int | None = None,
) -> Collected:
    """Journal the successes of a terminal task and sort its other lines (see the module docstring).

    Args:
        base: the attempt's JSONL file (line ``i`` is ``text_index`` ``i``). out: the downloaded result, or
            ``None`` (a FAILED or CANCELED task). failure: ``(code, message)`` of a FAILED task.
        mask: ``(shard.end - shard.start,) bool`` rows already journaled; updated.
        dimension: the job's vector length (``None``: not checked).

    Raises:
        ResponseFormatError: a result line that is not one of the known shapes, out of range or repeated, or an
            embedding of another shape than ``(dimension,)`` (names its text_index); raised before anything of the
            result is journaled.
    """
    rows = np.asarray([parse_custom_id(cid)[0] for cid, _ in read_task_lines(base)], dtype=np.int64)
    got = Collected()
    verdicts: dict[int, tuple[str, str]] = {}
    if out is None:
        reason = failure or CANCELED
        verdicts = dict.fromkeys(range(len(rows)), reason)
    else:
        seen_before = bool(mask[rows - shard.start].any()) if len(rows) else False
        tokens = 0 if seen_before else int(attempt.counts.get("total_tokens", 0))
        # the whole result is checked before anything is journaled: a bad vector must not reach OUTPUT
        check = ResultCheck(len(rows), dimension)
        for line in read_result(out):
            check.see(line)
        journal = _Journal(work, chunk_size, tokens)
        for line in read_result(out):
            if line.embedding is None:
                verdicts[line.text_index] = (line.code or "UnknownError", line.message or "")
                continue
            row = int(rows[line.text_index])
            if mask[row - shard.start]:
                continue  # journaled by a run that was killed before it recorded the collection
            journal.add(row, line.embedding)
            mask[row - shard.start] = True
            got.rows += 1
        journal.flush()
        for index in check.missing():
            verdicts[index] = NOT_RETURNED
        got.lines = 1 if journal.written or tokens else 0
        got.tokens = tokens
    if verdicts:
        for index, (cid, text) in enumerate(read_task_lines(base)):
            verdict = verdicts.get(index)
            if verdict is None:
                continue
            resubmit = _retryable(*verdict) or verdict in (CANCELED,) or out is None
            if resubmit and attempt.round < max_resubmits:
                got.again.append(orjson.dumps({"custom_id": cid, "text": text}))
                continue
            got.permanent.append((cid, [text], *verdict))
    return got
