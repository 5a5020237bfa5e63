"""``dashscope-embed batch status|cancel OUTPUT``: a remote job's batches or tasks, from its state file.

The state's ``kind`` picks the ``Remote`` (``REMOTES``): a job kind registers a factory there and both commands
cover it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import APIError
from ..jobs.workdir import read_meta
from ..settings import ResolvedSettings, resolve_connection
from .client import BatchAPIClient
from .errors import BatchJobError
from .limits import LIMITS
from .remote import BatchFileRemote, Remote
from .state import JobState, cancel_path_for, load_state, state_path_for

__all__ = ["REMOTES", "batch_status", "cancel_batches"]


def _task_remote(state: JobState, settings: ResolvedSettings) -> Remote:
    from .tasks.client import TaskClient
    from .tasks.limits import TASK_LIMITS
    from .tasks.remote import TaskRemote

    return TaskRemote(TaskClient(settings), state.model, "document", TASK_LIMITS)


#: state kind -> a factory of the ``Remote`` that reads and cancels that kind's remote objects
REMOTES: dict[str, Callable[[JobState, ResolvedSettings], Remote]] = {
    "batch": lambda state, settings: BatchFileRemote(BatchAPIClient(settings), LIMITS, state.completion_window),
    "task": _task_remote,
}


def _complete(output: Path) -> str | None:
    if state_path_for(output).exists():
        return None
    meta = read_meta(output) if output.exists() else None
    if meta and meta.get("api") in REMOTES:
        return f"{output} is complete ({meta['rows']} rows); nothing is left on the service"
    return None


def _state(output: Path) -> JobState:
    state = load_state(state_path_for(output))
    if state is None:
        raise BatchJobError(
            f"no batch job state beside {output} ({state_path_for(output).name}); "
            "was it written by `embed --batch-api`, or by `embed` with an asynchronous-task model "
            "(text-embedding-async-v1/v2)?"
        )
    return state


def _remote(state: JobState, base_url: str | None, api_key: str | None) -> Remote:
    settings = resolve_connection(base_url=base_url or state.root, api_key=api_key)
    settings.require_key()
    return REMOTES[state.kind](state, settings)


def batch_status(output: Path, *, base_url: str | None = None, api_key: str | None = None) -> list[str]:
    """One line per batch or task of the job writing ``output`` (shard, attempt, remote id, status, counts), after
    asking the service for the current status of the unfinished ones.

    Raises:
        BatchJobError: no state file beside ``output``. APIError: a status request failed.
    """
    output = Path(output)
    done = _complete(output)
    if done:
        return [done]
    state = _state(output)
    lines = [
        f"job {state.job_id}: {state.model} d={state.dimension}, {len(state.shards)} shards"
        + ("" if state.input_rows is not None else " so far (planning not finished)")
    ]
    remote = _remote(state, base_url, api_key)
    try:
        for shard in state.shards:
            for attempt in shard.attempts:
                if attempt.remote_id and not remote.terminal(attempt):
                    remote.refresh(attempt)  # in memory only: a running job owns the state file
                status, counts = attempt.status, attempt.counts
                lines.append(
                    f"shard {shard.index} rows {shard.start}-{shard.end - 1} attempt {attempt.number}: "
                    f"{attempt.remote_id or 'not created'} {status or 'new'} "
                    f"{counts.get('completed', 0)}/{counts.get('total', attempt.lines)} lines done, "
                    f"{counts.get('failed', 0)} failed" + (" (collected)" if attempt.collected else "")
                )
            if shard.failures:
                lines.append(f"shard {shard.index}: {len(shard.failures)} lines could not be embedded")
    finally:
        remote.close()
    return lines


# Statuses of a batch or task that is cancelled or on its way there.
_CANCELLED = frozenset({"CANCELED", "cancelling", "cancelled"})


def cancel_batches(
    output: Path,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    log: Callable[[str], None] | None = None,
) -> list[str]:
    """Cancel every unfinished batch or task of the job writing ``output``; returns the ids cancelled.

    First the marker ``OUTPUT.batch-cancel`` (``state.cancel_path_for``) is written: a job running in another
    process sees it before its next submission and at its next poll, submits and resubmits nothing more, cancels
    what it made meanwhile, collects what finished and stops with an error. A task that is already RUNNING cannot
    be cancelled (the service cancels PENDING tasks only): it is reported through ``log``, runs to its end, and the
    job collects it; one the job cancelled first counts as cancelled. A later rerun of the job removes the marker,
    collects what the cancelled work finished and submits the rest.

    Raises:
        BatchJobError: no state file beside ``output``. APIError: a cancel request failed.
    """
    output = Path(output)
    if _complete(output):
        return []
    state = _state(output)
    cancelled = []
    remote = _remote(state, base_url, api_key)
    # The marker first: a job running meanwhile would otherwise collect a batch cancelled here and submit its
    # lines again as a new batch before it saw the marker. The state file is left alone: the job owns it.
    cancel_path_for(output).write_bytes(b"")
    try:
        for shard in state.shards:
            for attempt in shard.attempts:
                if attempt.remote_id and not remote.terminal(attempt):
                    try:
                        remote.cancel(attempt)
                    except APIError as exc:
                        if exc.status_code != 400:
                            raise
                        remote.refresh(attempt)
                        if attempt.status in _CANCELLED:  # the running job saw the marker and cancelled it first
                            cancelled.append(attempt.remote_id)
                            continue
                        # a RUNNING task: the service runs it to its end (the message says so)
                        if log is not None:
                            log(
                                f"{remote.noun} {attempt.remote_id} (shard {shard.index}) cannot be cancelled "
                                f"({exc.message}): it runs to its end and the job collects it"
                            )
                        continue
                    cancelled.append(attempt.remote_id)
    finally:
        remote.close()
    return cancelled
