"""Cleanup on the service: delete what a job collected, and discard a job on ``restart``, for any ``Remote``."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import APIError, BulkJobError
from ..jobs.bulk import permanent_hint
from ..jobs.workdir import work_dir_for
from .errors import BatchJobError
from .remote import Remote
from .state import Attempt, JobState, Shard, load_state, state_path_for

__all__ = ["cancel_unfinished", "cancelled_error", "delete_collected", "discard", "gone_error", "permanent_stop"]


def delete_collected(state: JobState, remote: Remote, save: Callable[[], None]) -> None:
    """Delete the remote files of every collected attempt not deleted yet, saving the state after each.

    Raises:
        APIError: a delete failed after its retries (a file already gone counts as deleted).
    """
    for shard in state.shards:
        for attempt in shard.attempts:
            if attempt.collected and not attempt.remote_deleted:
                remote.delete_all(attempt)
                attempt.remote_deleted = True
                save()


def discard(
    state: JobState, remote: Remote, *, root: str, state_path: Path, keep_remote_files: bool, log: Callable[[str], None]
) -> None:
    """``restart``: cancel the state's unfinished remote work and delete its remote files where possible, then
    remove the state file. A state of another root than ``root`` is only logged (this run's key is not sent to a
    root it was not given for). A failing cancel or delete is logged, not raised."""
    attempts = [a for sh in state.shards for a in sh.attempts]
    if state.root != root:
        left = [i for a in attempts if not a.remote_deleted for i in remote.remote_names(a)]
        if left:
            log(
                f"restart: {len(left)} {remote.nouns}/files of the discarded job stay on {state.root}: "
                + ", ".join(left[:10])
                + (" ..." if len(left) > 10 else "")
            )
        state_path.unlink(missing_ok=True)
        return
    for attempt in attempts:
        calls: list[tuple[str, Callable[[Attempt], Any]]] = []
        if attempt.remote_id and not attempt.collected and not remote.terminal(attempt):
            # its lines are submitted again: the old remote object must not bill them a second time
            calls.append((f"cancel {remote.noun} {attempt.remote_id}", remote.cancel))
        if not attempt.remote_deleted and not keep_remote_files:
            calls.append((f"delete the files of attempt {attempt.number}", remote.delete_all))
        for what, call in calls:
            try:
                call(attempt)
            except APIError as exc:
                log(f"restart: could not {what}: {exc}")
    log(f"restart: discarded the {remote.noun} job in {state_path}")
    state_path.unlink(missing_ok=True)


def cancel_unfinished(state: JobState, remote: Remote, log: Callable[[str], None]) -> None:
    """After ``batch cancel``: cancel every unfinished remote object of ``state`` (what the cancel command could not
    know of, such as one created while it ran). A refusal is logged, not raised: the object (a RUNNING task) runs
    to its end and is collected."""
    for shard in state.shards:
        for attempt in shard.attempts:
            if attempt.remote_id and not attempt.collected and not remote.terminal(attempt):
                try:
                    remote.cancel(attempt)
                except APIError as exc:
                    log(f"cancel: {remote.noun} {attempt.remote_id}: {exc}")


def cancelled_error(state: JobState, output: Path, work: Path) -> BatchJobError:
    """The error a job stops with after ``batch cancel``, once what it had submitted is collected."""
    waiting = sum(1 for s in state.shards for a in s.attempts if not a.collected)
    return BatchJobError(
        f"the job was cancelled (`dashscope-embed batch cancel {output}`): nothing more is submitted; what finished "
        f"is collected in {work} ({waiting} attempts wait). Rerun the same command to resume (it submits the "
        "rest), or pass --restart to discard the job"
    )


def gone_error(state: JobState, shard: Shard, attempt: Attempt, what: str, state_path: Path) -> BatchJobError:
    """The error for a recorded remote object (``what``) the service does not know."""
    return BatchJobError(
        f"{state.root} does not know {what} (shard {shard.index}, rows {shard.start}-{shard.end - 1}, attempt "
        f"{attempt.number}) recorded in {state_path}: the state was written against a service that no "
        "longer holds it (another account or workspace, a restarted local service, remote work older than the "
        "service keeps it). Rerun with --restart to discard the state and submit every row again"
    )


def permanent_stop(exc: APIError, output: Path, *, fresh: bool) -> BulkJobError:
    """The error a remote job stops with after a failure that rerunning cannot cure (``exc`` not retryable: a wrong
    key, a refused request): it says what to fix instead of "rerun to resume". When the job started with this run
    (``fresh``: no state file before it) and the service holds nothing of it (no input file, no batch or task, no
    creation in flight), its state file and work directory are removed, so no half-made output stays behind."""
    state_path = state_path_for(output)
    state = load_state(state_path)
    untouched = state is None or not any(
        a.file_id or a.remote_id or a.creating for shard in state.shards for a in shard.attempts
    )
    if fresh and untouched:
        state_path.unlink(missing_ok=True)
        shutil.rmtree(work_dir_for(output), ignore_errors=True)
        kept = " Nothing was written."
    else:
        kept = f" The job's state is kept in {state_path}: once this is fixed, the same command resumes it."
    error = BulkJobError(f"stopped: {exc}. Rerunning will not help until this is fixed: {permanent_hint(exc)}.{kept}")
    error.__cause__ = exc
    return error
