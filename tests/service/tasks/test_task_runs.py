"""One run of a job at a time, and a ``batch cancel`` sent while a rerun is still scanning its input."""

from __future__ import annotations

import os
import threading
import time

import pyarrow.parquet as pq
import pytest
from support.task_helpers import recorded_task_ids, texts

from dashscope_embed.batch import AsyncTaskJob, BatchJobError, TaskJobOptions, batch_status, cancel_batches
from dashscope_embed.batch.runlock import lock_path_for
from dashscope_embed.batch.state import cancel_path_for, state_path_for
from dashscope_embed.batch.tasks.limits import TaskLimits

FAST = TaskLimits(submit_interval=0.2)


def _options(service, **changes) -> TaskJobOptions:
    base = dict(base_url=service.base_url, poll_interval=0.02, max_poll_interval=0.1, limits=FAST)
    base.update(changes)
    return TaskJobOptions(**base)


def _pairs(items: list[str]) -> list[tuple[str, str]]:
    return [(f"id-{i}", t) for i, t in enumerate(items)]


def test_a_second_run_of_the_same_job_is_refused_at_once(task_service, tmp_path):
    task_service.app.tasks.limits = FAST
    task_service.set_faults(task_queue_delay=1.0)  # the first run keeps its tasks PENDING for a while
    out = tmp_path / "twice.parquet"
    rows = _pairs(texts(40))
    errors: list[BaseException] = []

    def first() -> None:
        try:
            AsyncTaskJob(rows, out, _options(task_service, rows_per_task=5)).run()
        except BaseException as exc:
            errors.append(exc)

    runner = threading.Thread(target=first, daemon=True)
    runner.start()
    deadline = time.monotonic() + 20
    while recorded_task_ids(out) < 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    started = time.monotonic()
    with pytest.raises(BatchJobError, match=f"another run of this job is in progress \\(pid {os.getpid()}"):
        AsyncTaskJob(rows, out, _options(task_service, rows_per_task=5)).run()
    assert time.monotonic() - started < 1.0
    # status does not take the lock: it answers while the job runs (and sees a pending task while it does)
    while not any("PENDING" in line for line in batch_status(out)):
        assert lock_path_for(state_path_for(out)).exists(), "the job ended before status saw a pending task"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    runner.join(60)
    assert not runner.is_alive() and errors == []
    assert pq.read_table(out).num_rows == 40
    assert task_service.app.tasks.submissions == 8  # one task per shard: nothing submitted twice
    billed = task_service.app.tasks.billed
    assert len(billed) == 40 and max(billed.values()) == 1
    assert not lock_path_for(state_path_for(out)).exists()


def test_a_cancel_sent_while_a_rerun_scans_is_not_erased(task_service, tmp_path, monkeypatch):
    task_service.app.tasks.limits = FAST
    out = tmp_path / "scan.parquet"
    job = AsyncTaskJob(_pairs(texts(10)), out, _options(task_service, rows_per_task=5))
    cancel_path_for(out).write_bytes(b"")  # a stale marker of an earlier run: a rerun removes it
    scan = job.scan

    def slow_scan():
        assert not cancel_path_for(out).exists()
        result = scan()
        cancel_path_for(out).write_bytes(b"")  # `batch cancel` issued while the scan ran
        return result

    monkeypatch.setattr(job, "scan", slow_scan)
    with pytest.raises(BatchJobError, match="cancelled"):
        job.run()
    assert task_service.app.tasks.submissions == 0
    monkeypatch.undo()
    job.run()  # the next rerun clears the marker and finishes
    assert pq.read_table(out).num_rows == 10


def test_a_cancel_does_not_use_up_a_resubmission(task_service, tmp_path):
    task_service.app.tasks.limits = FAST
    task_service.set_faults(task_queue_delay=60)  # the tasks stay PENDING, so they can be cancelled
    out = tmp_path / "c.parquet"
    job = AsyncTaskJob(_pairs(texts(20)), out, _options(task_service, rows_per_task=10, max_resubmits=0))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            job.run()
        except BaseException as exc:
            errors.append(exc)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    deadline = time.monotonic() + 20
    while recorded_task_ids(out) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert len(cancel_batches(out)) == 2
    runner.join(20)
    assert not runner.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], BatchJobError) and "cancelled" in str(errors[0])
    # the rerun submits the cancelled lines (nothing of them was billed), with no resubmission left
    task_service.set_faults(None)
    job.run()
    assert pq.read_table(out).num_rows == 20 and task_service.app.tasks.submissions == 4
    billed = task_service.app.tasks.billed
    assert len(billed) == 20 and max(billed.values()) == 1


def test_cancel_reports_a_running_task_it_cannot_cancel(task_service, tmp_path):
    task_service.app.tasks.limits = FAST
    task_service.set_faults(task_step_delay=0.2, task_lines_per_step=1)  # RUNNING for a few seconds
    out = tmp_path / "r.parquet"
    errors: list[BaseException] = []

    def run() -> None:
        try:
            AsyncTaskJob(_pairs(texts(10)), out, _options(task_service, rows_per_task=10)).run()
        except BaseException as exc:
            errors.append(exc)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    deadline = time.monotonic() + 20
    while not state_path_for(out).exists() or not any("RUNNING" in line for line in batch_status(out)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    logged: list[str] = []
    assert cancel_batches(out, log=logged.append) == []
    assert len(logged) == 1 and "cannot be cancelled" in logged[0] and "runs to its end" in logged[0], logged
    task_service.set_faults(None)
    runner.join(30)
    assert not runner.is_alive()
    # the job collected the running task, then stopped on the cancel
    assert len(errors) == 1 and "cancelled" in str(errors[0])


def test_a_full_task_queue_makes_the_job_wait_not_fail(task_service, tmp_path):
    # The account's queue holds 2 tasks (50 on the real service) and another job's two tasks fill it: the job's
    # submissions are refused with 429 Throttling.AllocationQuota until those end. A request's retries (1 here)
    # cannot outwait that; the job waits for a slot instead, polling.
    from support.task_helpers import client

    task_service.app.tasks.limits = TaskLimits(submit_interval=0.2, max_queued=2)
    task_service.set_faults(task_queue_delay=1.0)
    with client(task_service) as other:
        for n in range(2):
            path = tmp_path / f"other-{n}.txt"
            path.write_text("\n".join(texts(3, seed=n + 1)) + "\n", encoding="utf-8")
            time.sleep(0.2)
            other.submit("text-embedding-async-v2", other.upload("text-embedding-async-v2", path), "document")
    out = tmp_path / "full.parquet"
    logged: list[str] = []
    rows = _pairs([f"own {t}" for t in texts(15)])
    AsyncTaskJob(rows, out, _options(task_service, rows_per_task=5, max_retries=1, log=logged.append)).run()
    table = pq.read_table(out)
    assert table.column("id").to_pylist() == [row_id for row_id, _ in rows]
    assert task_service.app.tasks.submissions == 2 + 3  # the other job's and one a shard: nothing twice
    assert task_service.app.tasks.refused.get("Throttling.AllocationQuota", 0) >= 1
    waits = [line for line in logged if "task queue is full" in line]
    assert waits and "waiting for a task to end" in waits[0], logged
    billed = task_service.app.tasks.billed
    assert len(billed) == 15 + 6 and max(billed.values()) == 1
    assert not state_path_for(out).exists()


def test_a_cancel_stops_submissions_already_under_way(task_service, tmp_path, monkeypatch):
    from dashscope_embed.batch.tasks.remote import TaskRemote

    task_service.app.tasks.limits = FAST
    task_service.set_faults(task_failure_rate=1.0)
    out = tmp_path / "w.parquet"
    options = _options(task_service, rows_per_task=2, max_resubmits=0)
    with pytest.raises(BatchJobError):
        AsyncTaskJob(_pairs(texts(10)), out, options).run()
    assert task_service.app.tasks.submissions == 5
    # the rerun has five attempts to submit at once; `batch cancel` arrives after the first one is submitted
    task_service.set_faults(task_queue_delay=60)
    submit = TaskRemote.submit

    def cancelled_after_one(self, *args):
        made = submit(self, *args)
        cancel_path_for(out).write_bytes(b"")
        return made

    monkeypatch.setattr(TaskRemote, "submit", cancelled_after_one)
    with pytest.raises(BatchJobError, match="cancelled"):
        AsyncTaskJob(_pairs(texts(10)), out, options).run()
    assert task_service.app.tasks.submissions == 6  # nothing was submitted after the cancel


def test_batch_cancel_writes_its_marker_before_it_cancels_anything(task_service, tmp_path, monkeypatch):
    # a job polling while the command cancels would collect a cancelled task and submit its lines again unless
    # the marker is already there
    task_service.app.tasks.limits = FAST
    task_service.set_faults(task_queue_delay=60)
    out = tmp_path / "first.parquet"
    job = AsyncTaskJob(_pairs(texts(20)), out, _options(task_service, rows_per_task=10))
    runner = threading.Thread(target=lambda: pytest.raises(BatchJobError, job.run), daemon=True)
    runner.start()
    deadline = time.monotonic() + 20
    while recorded_task_ids(out) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    from dashscope_embed.batch.tasks.remote import TaskRemote

    seen: list[bool] = []
    cancel = TaskRemote.cancel

    def look_then_cancel(self, attempt):
        seen.append(cancel_path_for(out).exists())
        return cancel(self, attempt)

    monkeypatch.setattr(TaskRemote, "cancel", look_then_cancel)
    logged: list[str] = []
    # the job, seeing the marker, may cancel a task first: the command counts it as cancelled, not as running
    assert len(cancel_batches(out, log=logged.append)) == 2 and logged == [], (logged, seen)
    runner.join(20)
    assert not runner.is_alive()
    assert seen and seen[0] is True, seen


def test_an_upload_near_its_expiry_is_made_again(task_service, tmp_path, monkeypatch):
    # A temporary upload's URL is readable for 48 h (2 s on this service; the job is told 1 s, keeping a margin
    # wider than its pacing). A job that waits for a slot for most of that (or is rerun days later) uploads its
    # lines again instead of submitting a URL the service cannot read.
    from support.task_helpers import client

    task_service.app.tasks.limits = TaskLimits(submit_interval=0.2, max_queued=1)
    monkeypatch.setattr(task_service.app.tasks.uploads, "file_ttl", 2.0)
    task_service.set_faults(task_queue_delay=3.0)
    with client(task_service) as other:
        path = tmp_path / "other.txt"
        path.write_text("\n".join(texts(3, seed=7)) + "\n", encoding="utf-8")
        other.submit("text-embedding-async-v2", other.upload("text-embedding-async-v2", path), "document")
    uploads_before = task_service.app.tasks.uploads.uploads
    out = tmp_path / "expiry.parquet"
    limits = TaskLimits(submit_interval=0.2, upload_valid_hours=1.0 / 3600)
    rows = _pairs(texts(5))
    AsyncTaskJob(rows, out, _options(task_service, rows_per_task=5, limits=limits)).run()
    assert pq.read_table(out).column("id").to_pylist() == [row_id for row_id, _ in rows]
    assert task_service.app.tasks.uploads.uploads - uploads_before >= 2  # the first upload expired while waiting
    assert task_service.app.tasks.submissions == 2  # the other job's task and this job's one
