"""The remote side of a job, as the coordinator sees it: submit an attempt, check it, fetch its results, cancel,
delete. ``Remote`` is the protocol; ``BatchFileRemote`` implements it over the Batch File API (``BatchAPIClient``).

An async task job implements the same five verbs over the task API (upload the text file, submit with
``X-DashScope-Async: enable``, ``GET /api/v1/tasks/{id}``, download the gzipped result, ``POST .../cancel``), and
the coordinator (``coordinator.RemoteJob``) runs either without knowing which.

Every method raises ``APIError`` when a call fails after its retries; a remote object the service does not know
is an ``APIError`` with ``status_code`` 404 (the coordinator turns it into a ``BatchJobError`` naming it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from .client import BatchAPIClient
from .limits import TERMINAL_STATUSES, BatchLimits
from .state import Attempt, JobState, Shard

__all__ = ["Remote", "BatchFileRemote"]


class Remote(Protocol):
    """What the coordinator needs of a remote API (see the module docstring).

    Attributes:
        noun / nouns: what one / several remote objects are called in messages (``"batch"``, ``"task"``).
        max_running: remote objects the account may have unfinished at once (the rest wait for a collection).
    """

    noun: str
    nouns: str
    max_running: int

    def submit(self, state: JobState, shard: Shard, attempt: Attempt, path: Path, save: Callable[[], None]) -> bool:
        """Upload ``path`` (the attempt's input file) and create the remote object, recording the remote input,
        ``creating`` and ``remote_id`` in ``attempt`` and calling ``save()`` before each step that could be lost;
        after a kill (``attempt.uploading`` / ``attempt.creating`` set) look up what the earlier run made instead of
        making a second one. Returns whether this call created the object (``False``: an earlier run's was found,
        or the service had no room for it now; then ``remote_id`` stays ``None`` and the coordinator offers the
        attempt again after its next poll).
        """

    def refresh(self, attempt: Attempt) -> bool:
        """Ask the service for the attempt's status; update ``status``, ``counts`` (as ``{"total", "completed",
        "failed"}`` lines, the Batch File API's ``request_counts`` names) and the result locations; return whether
        the status or counts changed."""

    def terminal(self, attempt: Attempt) -> bool:
        """Whether the attempt's last seen status is final (its results can be fetched)."""

    def failed(self, attempt: Attempt) -> bool:
        """Whether the service failed the attempt as a whole (nothing ran, nothing was billed)."""

    def fetch(self, attempt: Attempt, base: Path) -> tuple[Path | None, Path | None]:
        """Download the results of a terminal attempt next to ``base`` (the attempt's input file); returns
        ``(output file, error file)`` paths, either ``None`` when the service made none."""

    def cancel(self, attempt: Attempt) -> None:
        """Cancel an unfinished attempt."""

    def delete_input(self, attempt: Attempt) -> None:
        """Delete the attempt's uploaded input on the service, if it can be deleted."""

    def delete_all(self, attempt: Attempt) -> None:
        """Delete the attempt's uploaded input and result files on the service, where they can be deleted."""

    def remote_names(self, attempt: Attempt) -> list[str]:
        """Ids of the attempt's objects on the service (for a message listing what stays there)."""

    def close(self) -> None:
        """Release the HTTP client."""


class BatchFileRemote:
    """``Remote`` over the Batch File API: a file upload and ``POST /batches`` per attempt, named by
    ``metadata.ds_name`` so a creation whose reply was lost is found instead of repeated.

    Args:
        client: the Files and Batches calls. limits: the documented limits (description length, concurrent
            batches). completion_window: the batches' window (``"24h"`` .. ``"336h"``).
    """

    noun = "batch"
    nouns = "batches"

    def __init__(self, client: BatchAPIClient, limits: BatchLimits, completion_window: str | None = None) -> None:
        self.client = client
        self.limits = limits
        self.completion_window = completion_window
        self.max_running = limits.max_concurrent_batches

    def submit(self, state: JobState, shard: Shard, attempt: Attempt, path: Path, save: Callable[[], None]) -> bool:
        """See ``Remote.submit``: upload (adopting a stored copy after a lost reply), then ``POST /batches``."""
        name = state.ds_name(shard.index, attempt.number)
        if attempt.creating:
            found = self.client.find_batch(name)  # the creation may have landed before a kill
            if found is not None:
                self.record(attempt, found)
                save()
                return False
        if attempt.file_id is None:
            uploaded = self.client.adopt_upload(f"{name}.jsonl", path.stat().st_size) if attempt.uploading else None
            if uploaded is None:
                attempt.uploading = True  # a kill before the reply is recorded: the rerun looks the file up
                save()
                uploaded = self.client.upload(path, f"{name}.jsonl")
            attempt.file_id = uploaded["id"]
            save()
        attempt.creating = True
        save()
        description = f"rows {shard.start}-{shard.end - 1} of {Path(state.input).name}"
        window = state.completion_window or self.completion_window or "24h"
        metadata = {"ds_name": name, "ds_description": description[: self.limits.max_description_chars]}
        created = self.client.create_batch(attempt.file_id, window, metadata)
        self.record(attempt, created)
        save()
        return True

    @staticmethod
    def record(attempt: Attempt, batch: dict[str, Any]) -> bool:
        """Copy a batch object's id, status, ``request_counts`` and result file ids into ``attempt``; return
        whether the status or counts changed."""
        before = (attempt.status, attempt.counts)
        attempt.remote_id = batch["id"]
        attempt.status = batch.get("status")
        attempt.counts = dict(batch.get("request_counts") or {})
        attempt.output_file_id = batch.get("output_file_id")
        attempt.error_file_id = batch.get("error_file_id")
        return before != (attempt.status, attempt.counts)

    def refresh(self, attempt: Attempt) -> bool:
        """``GET /batches/{id}`` into ``attempt`` (see ``Remote.refresh``)."""
        return self.record(attempt, self.client.get_batch(attempt.submitted_id))

    def terminal(self, attempt: Attempt) -> bool:
        """Completed, failed, expired or cancelled."""
        return attempt.status in TERMINAL_STATUSES

    def failed(self, attempt: Attempt) -> bool:
        """The batch failed validation (nothing ran, nothing was billed)."""
        return attempt.status == "failed"

    def errors(self, attempt: Attempt) -> list[dict[str, Any]]:
        """``errors.data`` of a failed batch (``{"code", "message", "line"}`` each)."""
        batch = self.client.get_batch(attempt.submitted_id)
        return ((batch.get("errors") or {}).get("data")) or []

    def fetch(self, attempt: Attempt, base: Path) -> tuple[Path | None, Path | None]:
        """Download the output and error files to ``base`` with suffixes ``.out`` / ``.err``."""
        out = self.client.download(attempt.output_file_id, base.with_suffix(".out")) if attempt.output_file_id else None
        err = self.client.download(attempt.error_file_id, base.with_suffix(".err")) if attempt.error_file_id else None
        return out, err

    def cancel(self, attempt: Attempt) -> None:
        """``POST /batches/{id}/cancel``."""
        self.client.cancel_batch(attempt.submitted_id)

    def delete_input(self, attempt: Attempt) -> None:
        """``DELETE /files/{input file}``."""
        if attempt.file_id:
            self.client.delete_file(attempt.file_id)

    def delete_all(self, attempt: Attempt) -> None:
        """``DELETE /files/{id}`` of the input, output and error files."""
        for file_id in (attempt.file_id, attempt.output_file_id, attempt.error_file_id):
            if file_id:
                self.client.delete_file(file_id)

    def remote_names(self, attempt: Attempt) -> list[str]:
        """The batch id and file ids."""
        return [i for i in (attempt.remote_id, attempt.file_id, attempt.output_file_id, attempt.error_file_id) if i]

    def close(self) -> None:
        """Close the client."""
        self.client.close()
