"""Reading a finished batch's result files back into the job's journals, and deciding what to resubmit.

Result lines (``{"custom_id", "response": {"status_code", "request_id", "body"}, "error"}``) arrive in any order;
each success is parsed by the compatible-mode wire parser and appended to the journal of the chunk its rows belong
to, so memory holds one line at a time. Rows already journaled (a rerun after a kill in mid-collection) are not
written twice. Every line the attempt submitted then ends in one of four ways:

- succeeded (in the output file): done, never submitted again (billed once);
- failed with a row-limit error: re-split at the limit the service named and resubmitted;
- failed with a retryable error (5xx, throttling) or absent from both files (the batch expired or was cancelled
  before reaching it; such lines are not billed): resubmitted as they were;
- failed with an input error (HTTP 400: a text the model refuses) on a line of several rows: re-split once into
  one-row lines and resubmitted, so the rows beside the bad one are not lost;
- failed otherwise: a permanent failure, recorded with its code and message.

Every line resubmitted keeps the code and message of its last failure, so a line still failing when the
resubmissions run out is reported with what the service said (``InternalError``, ``Throttling.RateQuota``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..errors import APIError, BatchSizeError, InvalidRequestError, ResponseFormatError, error_from_reply
from ..jobs.journal import append_record, drop_torn_tail, encode_record, journal_name
from ..wire import TextRequest
from ..wire.openai_compat import OpenAICompatProtocol
from .lines import custom_id, encode_line, parse_custom_id, read_lines, rows_of
from .state import Shard

__all__ = ["Collected", "Outcome", "done_mask", "journal_rows", "journal_results", "read_errors", "plan_resubmission"]

_PARSER = OpenAICompatProtocol()


@dataclass
class Collected:
    """What the job kind's ``collect_results`` made of one terminal attempt.

    Attributes:
        lines / rows / tokens: lines, rows and tokens newly journaled (a rerun's already-journaled rows not counted).
        again: lines to submit as new attempts of the shard (retryable failures within ``max_resubmits``,
            unexecuted lines, re-split lines).
        permanent: ``(custom_id, texts, code, message)`` of lines no remote attempt can embed.
        rows_per_line: a smaller row limit the service named, or ``None``.
    """

    lines: int = 0
    rows: int = 0
    tokens: int = 0
    again: list[bytes] = field(default_factory=list)
    permanent: list[tuple[str, list[str], str, str]] = field(default_factory=list)
    rows_per_line: int | None = None


def done_mask(shard: Shard, work: Path, chunk_size: int) -> np.ndarray:
    """``(end - start,) bool``: which rows of the shard already have a result in a journal (torn journal tails
    are cut off on the way, so results can be appended). Shards need not start or end on a chunk boundary."""
    mask = np.zeros(shard.end - shard.start, dtype=bool)
    for start in range(shard.start - shard.start % chunk_size, shard.end, chunk_size):
        path = work / journal_name(start)
        if path.exists():
            for record in drop_torn_tail(path):
                rows = record.rows  # a chunk's journal also holds rows of the shards beside this one
                mask[rows[(rows >= shard.start) & (rows < shard.end)] - shard.start] = True
    return mask


def journal_rows(
    work: Path, chunk_size: int, rows: np.ndarray, dense: np.ndarray, tokens: int, requests: int = 1
) -> None:
    """Append the vectors of one line to the journal of the chunk its rows belong to (any job kind).

    Args:
        rows: ``(k,) int64`` row numbers, in the line's order, all in one chunk (a line never crosses one).
        dense: ``(k, d) float32`` their vectors. tokens / requests: what the line billed.
    """
    payload = encode_record(rows, dense, None, tokens, requests)
    append_record(work / journal_name(int(rows[0]) - int(rows[0]) % chunk_size), payload)


def journal_results(
    path: Path, shard: Shard, work: Path, chunk_size: int, request: TextRequest, mask: np.ndarray
) -> tuple[set[str], int, int, int]:
    """Append every success of the output file at ``path`` to its chunk's journal.

    Returns:
        ``(custom_ids that succeeded, lines newly journaled, rows newly journaled, their tokens)``.

    Raises:
        ResponseFormatError: a success whose body does not hold one vector per row of the line.
    """
    empty = set(shard.empty)
    succeeded: set[str] = set()
    new_lines = new_rows = tokens = 0
    for line in read_lines(path):
        cid = line["custom_id"]
        succeeded.add(cid)
        rows = np.asarray(rows_of(*parse_custom_id(cid), empty), dtype=np.int64)
        if mask[rows - shard.start].all():
            continue  # journaled by a run that was killed before it recorded the collection
        response = line.get("response") or {}
        reply = _PARSER.parse_reply(
            request, int(response.get("status_code") or 200), {}, orjson.dumps(response.get("body")), len(rows)
        )
        if reply.dense is None:  # the compatible-mode parser always gives dense vectors; checked for the journal
            raise ResponseFormatError(f"result line {cid} holds no vectors", request_id=reply.request_id)
        journal_rows(work, chunk_size, rows, reply.dense, reply.total_tokens)
        mask[rows - shard.start] = True
        new_lines += 1
        new_rows += len(rows)
        tokens += reply.total_tokens
    return succeeded, new_lines, new_rows, tokens


def read_errors(path: Path | None) -> dict[str, APIError]:
    """custom_id -> the typed error of each line of an error file (``{}`` without one)."""
    failed: dict[str, APIError] = {}
    if path is None:
        return failed
    for line in read_lines(path):
        response = line.get("response") or {}
        body = response.get("body")
        status = int(response.get("status_code") or 500)
        if not isinstance(body, dict) or not body.get("error"):
            body = {"error": line.get("error") or {"message": "failed line with no error body"}}
        failed[line["custom_id"]] = error_from_reply(status, body)
    return failed


@dataclass
class Outcome:
    """What becomes of the lines of one attempt that did not succeed.

    Attributes:
        resubmit: encoded lines for the next attempt, within ``max_resubmits``.
        reasons: custom_id -> ``(code, message)`` of the last failure of each line in ``resubmit``.
        resplit: one-row lines cut from a line that failed with an input error: submitted once more even when the
            resubmissions ran out (each row's own verdict is wanted before it is reported).
        rows_per_line: a smaller row limit the service named, or ``None``.
        permanent: ``(custom_id, texts, code, message)`` of lines no batch can embed.
    """

    resubmit: list[bytes] = field(default_factory=list)
    reasons: dict[str, tuple[str, str]] = field(default_factory=dict)
    resplit: list[bytes] = field(default_factory=list)
    rows_per_line: int | None = None
    permanent: list[tuple[str, list[str], str, str]] = field(default_factory=list)


NOT_EXECUTED = ("not_executed", "the batch ended (expired or cancelled) before executing this line; not billed")


def _code(error: APIError) -> str:
    return error.code or f"HTTP {error.status_code}"


def _split(line: dict[str, Any], rows: list[int], size: int, job_id: str) -> list[bytes]:
    body = line["body"]
    texts = body["input"]
    return [
        encode_line(
            custom_id(job_id, rows[i], rows[min(i + size, len(rows)) - 1]),
            texts[i : i + size],
            body["model"],
            body.get("dimensions"),
        )
        for i in range(0, len(rows), size)
    ]


def plan_resubmission(
    attempt_file: Path, succeeded: set[str], failed: dict[str, APIError], shard: Shard, job_id: str
) -> Outcome:
    """Sort the lines of ``attempt_file`` that did not succeed (see the module docstring)."""
    outcome = Outcome()
    empty = set(shard.empty)
    for line in read_lines(attempt_file):
        cid = line["custom_id"]
        if cid in succeeded:
            continue
        error = failed.get(cid)
        if error is None or (error.retryable and not isinstance(error, BatchSizeError)):
            outcome.resubmit.append(orjson.dumps(line))
            outcome.reasons[cid] = NOT_EXECUTED if error is None else (_code(error), error.message)
        elif isinstance(error, BatchSizeError) and error.limit >= 1:
            rows = rows_of(*parse_custom_id(cid), empty)
            for piece in _split(line, rows, error.limit, job_id):
                outcome.resubmit.append(piece)
                outcome.reasons[orjson.loads(piece)["custom_id"]] = (_code(error), error.message)
            outcome.rows_per_line = min(outcome.rows_per_line or error.limit, error.limit)
        elif isinstance(error, InvalidRequestError) and len(rows_of(*parse_custom_id(cid), empty)) > 1:
            outcome.resplit.extend(_split(line, rows_of(*parse_custom_id(cid), empty), 1, job_id))
        else:
            outcome.permanent.append((cid, line["body"]["input"], _code(error), error.message))
    return outcome
