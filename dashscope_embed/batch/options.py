"""Options of the remote embedding jobs: one small object instead of a long constructor.

``RemoteJobOptions`` holds what every job that hands rows to the service in files shares (connection, polling,
resubmission, chunking, restart, progress); ``BatchJobOptions`` adds the Batch File API's own knobs. A job kind
with knobs of its own (the async task job's ``rows_per_task``, ``text_type``) subclasses ``RemoteJobOptions`` the
same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .limits import LIMITS, BatchLimits

__all__ = ["DEFAULT_POLL_INTERVAL", "RemoteJobOptions", "BatchJobOptions"]

#: a default that suits a 24-hour window: status checks stay far below any request quota (seconds)
DEFAULT_POLL_INTERVAL = 30.0


@dataclass(frozen=True)
class RemoteJobOptions:
    """What every remote embedding job takes (all optional; checked when the job runs, see ``check_numbers``).

    Attributes:
        model / dimensions: the model and output dimension (default: the model's default dimension).
        api_key / base_url / region / workspace / timeout / max_retries: connection settings, resolved as for
            ``DashScopeEmbedder`` (``settings.resolve_connection``); ``timeout`` in seconds; each API call is
            retried on its own. The key never appears in ``repr``.
        poll_interval / max_poll_interval: seconds between status checks at first / at most (the interval doubles
            while nothing changes).
        max_resubmits: rounds of resubmission per shard for lines that failed for a retryable reason or were
            never executed; lines still failing after them are reported with their last code and message.
        keep_remote_files: leave uploaded and result files on the service.
        fallback_realtime: embed rows the service could not through the real-time API, at the real-time price.
        chunk_size: rows per chunk, journal and Parquet part (the memory bound).
        skip_empty: leave out empty rows and count them (``False``: refuse them before uploading anything).
        restart: discard the state and work directory, of this job or another, and start over (unfinished remote
            work is cancelled and remote files deleted where possible). overwrite: replace another job's output.
        progress: a tqdm bar of rows collected out of the total. log: where one-line notices go.
        transport: a custom httpx transport (tests).
    """

    model: str = "text-embedding-v4"
    dimensions: int | None = None
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    region: str | None = None
    workspace: str | None = None
    timeout: float = 60.0
    max_retries: int = 4
    poll_interval: float = DEFAULT_POLL_INTERVAL
    max_poll_interval: float = 600.0
    max_resubmits: int = 3
    keep_remote_files: bool = False
    fallback_realtime: bool = False
    chunk_size: int = 1000
    skip_empty: bool = True
    restart: bool = False
    overwrite: bool = False
    progress: bool = False
    log: Callable[[str], None] = field(default=print, repr=False)
    transport: Any = field(default=None, repr=False)

    def connection(self) -> dict[str, Any]:
        """The keyword arguments of ``settings.resolve_connection``."""
        return {
            "api_key": self.api_key,
            "base_url": self.base_url,
            "region": self.region,
            "workspace": self.workspace,
            "timeout": self.timeout,
        }

    def replace(self, **changes: Any) -> RemoteJobOptions:
        """A copy with ``changes`` applied (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class BatchJobOptions(RemoteJobOptions):
    """Options of ``BatchEmbeddingJob`` (the Batch File API job): ``RemoteJobOptions`` and

    Attributes:
        completion_window: ``"24h"`` to ``"336h"`` (an integer with unit ``h`` or ``d``; source: ``BATCH_DOC``).
        rows_per_line: texts per JSONL line, >= 1 (default: the model's row limit; not documented for batches,
            so 1 is available; a row-limit error re-splits the line).
        lines_per_shard: lines per input file (at most ``limits.max_lines``, the documented 50,000).
        limits: the documented limits (smaller ones for tests).
    """

    completion_window: str = "24h"
    rows_per_line: int | None = None
    lines_per_shard: int = LIMITS.max_lines
    limits: BatchLimits = LIMITS
