"""``dashscope-embed batch status|cancel OUTPUT``: a Batch File API job's batches, from its state file."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..jobs.workdir import read_meta
from ..settings import resolve_connection
from .client import BatchAPIClient
from .job import BatchJobError
from .limits import TERMINAL_STATUSES
from .state import JobState, load_state, state_path_for

__all__ = ["batch_status", "cancel_batches"]


def _complete(output: Path) -> Optional[str]:
    if state_path_for(output).exists():
        return None
    meta = read_meta(output) if output.exists() else None
    if meta and meta.get("api") == "batch":
        return f"{output} is complete ({meta['rows']} rows); no batches are left"
    return None


def _state(output: Path) -> JobState:
    state = load_state(state_path_for(output))
    if state is None:
        raise BatchJobError(f"no batch job state beside {output} ({state_path_for(output).name}); "
                            "was it written by `embed --batch-api`?")
    return state


def _client(state: JobState, base_url: Optional[str], api_key: Optional[str]) -> BatchAPIClient:
    settings = resolve_connection(base_url=base_url or state.root, api_key=api_key)
    settings.require_key()
    return BatchAPIClient(settings)


def batch_status(output: Path, *, base_url: Optional[str] = None, api_key: Optional[str] = None) -> list[str]:
    """One line per batch of the job writing ``output`` (shard, attempt, batch id, status, request counts), after
    asking the service for the current status of the unfinished ones.

    Raises:
        BatchJobError: no state file beside ``output``. APIError: a status request failed.
    """
    output = Path(output)
    done = _complete(output)
    if done:
        return [done]
    state = _state(output)
    lines = [f"job {state.job_id}: {state.model} d={state.dimension}, {len(state.shards)} shards"
             + ("" if state.input_rows is not None else " so far (planning not finished)")]
    client = _client(state, base_url, api_key)
    try:
        for shard in state.shards:
            for attempt in shard.attempts:
                status, counts = attempt.status, attempt.counts
                if attempt.batch_id and status not in TERMINAL_STATUSES:
                    batch = client.get_batch(attempt.batch_id)
                    status, counts = batch.get("status"), batch.get("request_counts") or {}
                lines.append(
                    f"shard {shard.index} rows {shard.start}-{shard.end - 1} attempt {attempt.number}: "
                    f"{attempt.batch_id or 'not created'} {status or 'new'} "
                    f"{counts.get('completed', 0)}/{counts.get('total', attempt.lines)} lines done, "
                    f"{counts.get('failed', 0)} failed" + (" (collected)" if attempt.collected else "")
                )
            if shard.failures:
                lines.append(f"shard {shard.index}: {len(shard.failures)} lines could not be embedded")
    finally:
        client.close()
    return lines


def cancel_batches(output: Path, *, base_url: Optional[str] = None, api_key: Optional[str] = None) -> list[str]:
    """Cancel every unfinished batch of the job writing ``output``; returns the ids cancelled. A later
    ``embed --batch-api`` rerun collects what they finished and resubmits the rest.

    Raises:
        BatchJobError: no state file beside ``output``. APIError: a cancel request failed.
    """
    output = Path(output)
    if _complete(output):
        return []
    state = _state(output)
    cancelled = []
    client = _client(state, base_url, api_key)
    try:
        for shard in state.shards:
            for attempt in shard.attempts:
                if attempt.batch_id and attempt.status not in TERMINAL_STATUSES:
                    client.cancel_batch(attempt.batch_id)
                    cancelled.append(attempt.batch_id)
        # The state file is left alone: a job may be running and owns it; it sees the cancellation when it polls.
    finally:
        client.close()
    return cancelled
