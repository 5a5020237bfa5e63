"""The state file of a Batch File API job, ``OUTPUT.batch-state.json`` beside the output.

It records, per shard, the rows it covers, the empty rows left out, and each attempt (the first submission and
every resubmission): the local input file, the remote file id, whether a batch creation was sent (so a rerun
looks the batch up by its ``metadata.ds_name`` before creating another), the batch id and status, the result file
ids, whether the results were collected and whether the remote files were deleted. It is rewritten atomically
(fsynced temporary file and rename) after every change. It never holds an API key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import orjson

from ..jobs.workdir import write_atomic_bytes

__all__ = ["Attempt", "Shard", "JobState", "state_path_for", "load_state", "save_state"]

VERSION = 1


def state_path_for(output: Path) -> Path:
    """``OUTPUT.batch-state.json`` next to ``output``."""
    return output.with_name(output.name + ".batch-state.json")


@dataclass
class Attempt:
    """One submission of (some of) a shard's lines as one batch.

    Attributes:
        number: 0 for the first submission, then 1, 2, ... for resubmissions (unique in the shard: it names the
            batch's ``ds_name`` and the local input file).
        round: how many resubmissions led to it (``max_resubmits`` bounds it); a round's lines may need several
            attempts, each within the shard's line limit.
        lines / rows: lines in its input file and rows they hold.
        file_id: the uploaded input file, once uploaded.
        uploading: a ``POST /files`` was sent (its reply may have been lost: a rerun looks the file up by name).
        creating: a ``POST /batches`` was sent (its reply may have been lost).
        batch_id / status / counts: the batch, its last seen status and ``request_counts``.
        output_file_id / error_file_id: the result files, once terminal.
        collected: the results are in the journals and the next attempt (if any) is planned.
        remote_deleted: the remote files are deleted (or kept on request).
    """

    number: int
    lines: int
    rows: int
    round: int = 0
    file_id: Optional[str] = None
    uploading: bool = False
    creating: bool = False
    batch_id: Optional[str] = None
    status: Optional[str] = None
    counts: dict[str, int] = field(default_factory=dict)
    output_file_id: Optional[str] = None
    error_file_id: Optional[str] = None
    collected: bool = False
    remote_deleted: bool = False


@dataclass
class Shard:
    """Rows ``[start, end)`` of the input, one input file and its resubmissions.

    Attributes:
        empty: row numbers in the range that are empty and were left out.
        attempts: its submissions, in order.
        failures: custom_id -> error code of lines that cannot be embedded by a batch.
        messages: custom_id -> the service's message with that code.
    """

    index: int
    start: int
    end: int
    empty: list[int] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)

    @property
    def open(self) -> bool:
        """Some attempt is not collected yet."""
        return any(not a.collected for a in self.attempts)


@dataclass
class JobState:
    """Everything a rerun needs to resume (see the module docstring)."""

    key: str
    job_id: str
    model: str
    dimension: int
    completion_window: str
    rows_per_line: int
    lines_per_shard: int
    chunk_size: int
    root: str
    input: str
    planned_until: int = 0
    input_rows: Optional[int] = None
    shards: list[Shard] = field(default_factory=list)
    batch_tokens: int = 0
    fallback_tokens: int = 0
    fallback_rows: int = 0
    version: int = VERSION

    def ds_name(self, shard: int, attempt: int) -> str:
        """``metadata.ds_name`` of a batch: names the job, shard and attempt (at most 100 characters)."""
        return f"dashscope-embed {self.job_id} shard {shard} attempt {attempt}"

    def to_json(self) -> bytes:
        """The file's bytes."""
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2)


def load_state(path: Path) -> Optional[JobState]:
    """The state at ``path``, or ``None`` when there is none (or it is not one this version reads)."""
    try:
        raw = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(raw, dict) or raw.get("version") != VERSION:
        return None
    shards = []
    for s in raw.pop("shards", []):
        attempts = [Attempt(**a) for a in s.pop("attempts", [])]
        shards.append(Shard(**s, attempts=attempts))
    return JobState(**raw, shards=shards)


def save_state(path: Path, state: JobState) -> None:
    """Write ``state`` atomically to ``path``."""
    write_atomic_bytes(path, state.to_json())
