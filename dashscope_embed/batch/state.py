"""The state file of a remote embedding job, ``OUTPUT.batch-state.json`` beside the output.

One format for every job kind (``JobState.kind``: ``"batch"`` for a Batch File API job, ``"task"`` for an async
task job). It records, per shard, the rows it covers, the empty rows left out, and each attempt (the first
submission and every resubmission): the local input file, the remote input (a file id, or an uploaded file's URL),
whether a creation was sent (so a rerun looks the remote object up before creating another), the remote id (a
batch id or a task id) and status, the result locations, whether the results were collected and whether the remote
files were deleted. It is rewritten atomically (fsynced temporary file and rename) after every change. It never
holds an API key.

Version 1 files (Batch File API jobs before the kinds were named) are read as version 2: ``batch_id`` becomes
``remote_id``, ``batch_tokens`` ``remote_tokens``, the kind is ``"batch"``.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from ..errors import BatchJobError
from ..jobs.workdir import output_sibling, write_atomic_bytes

if TYPE_CHECKING:
    from ..settings import ResolvedSettings

__all__ = [
    "Attempt",
    "Shard",
    "JobState",
    "cancel_path_for",
    "job_id_for",
    "state_path_for",
    "load_state",
    "save_state",
]

VERSION = 2
#: kinds of remote job a state file can belong to
KINDS = ("batch", "task")


def cancel_path_for(output: Path) -> Path:
    """``OUTPUT.batch-cancel`` next to ``output``: written by ``batch cancel`` so that a job running in another
    process stops submitting (the running job owns the state file; this marker is how it is told)."""
    return output_sibling(output, ".batch-cancel")


def job_id_for(key: str, output: Path, settings: ResolvedSettings) -> str:
    """The id naming a job's remote objects (a batch's ``ds_name``, custom_ids): 12 hex digits of a digest of the
    job key (input and options), the output file's absolute path, the root, the workspace and a fingerprint of the
    API key (a digest: the key itself is never stored). Two jobs of the same input and options (other outputs, or
    other accounts or workspaces) never share names, so one never adopts the other's batch after a lost reply."""
    secret = settings.api_key.get_secret_value() if settings.api_key is not None else ""
    fingerprint = hashlib.sha256(b"dashscope-embed account " + secret.encode("utf-8")).hexdigest()
    described = [key, str(Path(output).resolve()), settings.root, settings.workspace or "", fingerprint]
    return hashlib.sha256(orjson.dumps(described)).hexdigest()[:12]


def state_path_for(output: Path) -> Path:
    """``OUTPUT.batch-state.json`` next to ``output``."""
    return output_sibling(output, ".batch-state.json")


@dataclass
class Attempt:
    """One submission of (some of) a shard's lines as one remote object (a batch, or a task).

    Attributes:
        number: 0 for the first submission, then 1, 2, ... for resubmissions (unique in the shard: it names the
            remote object (a batch's ``ds_name``) and the local input file).
        round: how many resubmissions led to it (``max_resubmits`` bounds it); a round's lines may need several
            attempts, each within the shard's line limit.
        lines / rows: lines in its input file and rows they hold.
        file_id: the uploaded input (a Files API id, or an uploaded file's URL), once uploaded.
        uploaded_at: Unix seconds of a temporary upload (task inputs: their URL is valid for a limited time).
        uploading: an upload was sent (its reply may have been lost: a rerun looks the file up by name).
        creating: a creation (``POST /batches``, a task submission) was sent (its reply may have been lost).
        sent_at: Unix seconds when the creation was first sent (a task API has no names to look a lost task up
            by: the lookup lists tasks created since then that no attempt recorded).
        remote_id / status / counts: the batch or task id, its last seen status and counts of lines by outcome.
        output_file_id / error_file_id: where the results are (file ids or URLs), once terminal.
        collected: the results are in the journals and the next attempt (if any) is planned.
        remote_deleted: the remote files are deleted (or kept on request).
    """

    number: int
    lines: int
    rows: int
    round: int = 0
    file_id: str | None = None
    uploaded_at: float | None = None
    uploading: bool = False
    creating: bool = False
    sent_at: float | None = None
    remote_id: str | None = None
    status: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    output_file_id: str | None = None
    error_file_id: str | None = None
    collected: bool = False
    remote_deleted: bool = False

    @property
    def submitted_id(self) -> str:
        """``remote_id`` of an attempt the service accepted.

        Raises:
            BatchJobError: the attempt has no remote id (never submitted: a state file edited by hand).
        """
        if self.remote_id is None:
            raise BatchJobError(f"attempt {self.number} (round {self.round}) was never submitted: it has no remote id")
        return self.remote_id


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
    def next_number(self) -> int:
        """The number the shard's next attempt gets (the first is 0)."""
        return max((a.number for a in self.attempts), default=-1) + 1

    def add_attempt(self, lines: int, rows: int, round: int) -> Attempt:
        """Append a new, unsubmitted attempt of ``lines`` lines holding ``rows`` rows, of round ``round``."""
        attempt = Attempt(number=self.next_number, lines=lines, rows=rows, round=round)
        self.attempts.append(attempt)
        return attempt


@dataclass
class JobState:
    """Everything a rerun needs to resume (see the module docstring).

    Attributes (beyond the options they were planned with): ``planned_until`` rows are in shards;
    ``input_rows`` is known once planning finished; ``remote_tokens`` were collected from the service (at its
    price), ``fallback_rows`` / ``fallback_tokens`` went through the real-time API.
    """

    key: str
    job_id: str
    model: str
    dimension: int
    completion_window: str | None
    rows_per_line: int
    lines_per_shard: int
    chunk_size: int
    root: str
    input: str
    kind: str = "batch"
    planned_until: int = 0
    input_rows: int | None = None
    shards: list[Shard] = field(default_factory=list)
    remote_tokens: int = 0
    fallback_tokens: int = 0
    fallback_rows: int = 0
    version: int = VERSION

    def ds_name(self, shard: int, attempt: int) -> str:
        """The remote name of an attempt (a batch's ``metadata.ds_name``): the job, shard and attempt (at most 100
        characters)."""
        return f"dashscope-embed {self.job_id} shard {shard} attempt {attempt}"

    def to_json(self) -> bytes:
        """The file's bytes."""
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2)


def load_state(path: Path) -> JobState | None:
    """The state at ``path``, or ``None`` when there is none (or it is not one this version reads)."""
    try:
        raw = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(raw, dict) or raw.get("version") not in (1, VERSION):
        return None
    raw["version"] = VERSION
    if "batch_tokens" in raw:
        raw["remote_tokens"] = raw.pop("batch_tokens")
    shards = []
    for s in raw.pop("shards", []):
        for a in s.get("attempts", []):
            if "batch_id" in a:
                a["remote_id"] = a.pop("batch_id")
        attempts = [Attempt(**a) for a in s.pop("attempts", [])]
        shards.append(Shard(**s, attempts=attempts))
    return JobState(**raw, shards=shards)


def save_state(path: Path, state: JobState) -> None:
    """Write ``state`` atomically to ``path``."""
    write_atomic_bytes(path, state.to_json())
