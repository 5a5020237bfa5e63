"""A task submission whose reply is lost, on an account where other jobs submit tasks of the same model: a failure
before sending is sent again, a lost reply adopts only the one task that fits, several fitting tasks stop the job."""

from __future__ import annotations

import time

import httpx
import numpy as np
import orjson
import pyarrow.parquet as pq
import pytest
from support.task_helpers import MODEL, client, realtime, texts, wait

from dashscope_embed.batch import AsyncTaskJob, BatchJobError, TaskJobOptions
from dashscope_embed.batch.state import load_state, state_path_for
from dashscope_embed.batch.tasks.client import LIST_WIDENING
from dashscope_embed.batch.tasks.limits import TaskLimits

FAST = TaskLimits(submit_interval=0.2)


def _options(service, transport) -> TaskJobOptions:
    return TaskJobOptions(
        base_url=service.base_url, poll_interval=0.02, max_poll_interval=0.1, limits=FAST, transport=transport
    )


def _pairs(items: list[str]) -> list[tuple[str, str]]:
    return [(f"id-{i}", t) for i, t in enumerate(items)]


def _dense(path) -> np.ndarray:
    table = pq.read_table(path)
    return np.asarray(table.column("dense").combine_chunks().flatten().to_numpy()).reshape(table.num_rows, 1536)


def _submission(request: httpx.Request) -> bool:
    return request.method == "POST" and request.headers.get("x-dashscope-async") == "enable"


class FailFirstSubmission(httpx.HTTPTransport):
    """The first task submission fails with ``error`` without reaching the service."""

    def __init__(self, error: type[httpx.TransportError]) -> None:
        super().__init__()
        self.error, self.failed, self.submissions = error, 0, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if _submission(request):
            self.submissions += 1
            if not self.failed:
                self.failed += 1
                raise self.error("injected before sending", request=request)
        return super().handle_request(request)


class LoseFirstReply(httpx.HTTPTransport):
    """The service creates the first task it accepts, and its reply is lost (a read timeout)."""

    lost_id: str | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if _submission(request) and self.lost_id is None and response.status_code == 200:
            self.lost_id = orjson.loads(response.read())["output"]["task_id"]
            response.close()
            raise httpx.ReadTimeout("the reply was lost", request=request)
        return response


def _foreign_tasks(service, tmp_path, rows: int, count: int) -> list[str]:
    """``count`` tasks of ``rows`` lines submitted by another job of the same account."""
    source = tmp_path / "other.txt"
    source.write_text("\n".join(texts(rows, seed=3)) + "\n", encoding="utf-8")
    with client(service) as other:
        url = other.upload(MODEL, source)
        return [other.submit(MODEL, url, "document") for _ in range(count)]


def test_another_jobs_task_is_not_adopted_after_a_failure_before_sending(task_service, tmp_path):
    task_service.app.tasks.limits = FAST
    (theirs,) = _foreign_tasks(task_service, tmp_path, 5, 1)  # same model, same line count, seconds earlier
    with client(task_service) as other:
        wait(other, theirs)
    mine = texts(5)
    transport = FailFirstSubmission(httpx.ConnectError)
    out = tmp_path / "a.parquet"
    AsyncTaskJob(_pairs(mine), out, _options(task_service, transport)).run()
    assert transport.failed == 1 and transport.submissions == 2
    assert task_service.app.tasks.submissions == 2  # theirs, then this job's own
    np.testing.assert_allclose(_dense(out), realtime(task_service, mine), rtol=1e-6)


def test_several_tasks_that_may_be_the_lost_one_stop_the_job_naming_them(task_service, tmp_path):
    task_service.app.tasks.limits = FAST
    task_service.set_faults(task_queue_delay=60.0)  # they stay PENDING: no line count tells them apart
    candidates = _foreign_tasks(task_service, tmp_path, 5, 2)
    transport = FailFirstSubmission(httpx.ReadTimeout)  # from here the request may have reached the service
    out = tmp_path / "b.parquet"
    try:
        with pytest.raises(BatchJobError) as caught:
            AsyncTaskJob(_pairs(texts(5)), out, _options(task_service, transport)).run()
    finally:
        with client(task_service) as other:
            for task_id in candidates:
                other.cancel(task_id)
    message = str(caught.value)
    assert all(task_id in message for task_id in candidates) and "--restart" in message
    assert transport.submissions == 1 and task_service.app.tasks.submissions == 2  # nothing sent again
    state = load_state(state_path_for(out))
    assert state is not None
    assert not {a.remote_id for sh in state.shards for a in sh.attempts} & set(candidates)  # nothing adopted


def test_a_lost_reply_adopts_exactly_the_task_it_created(task_service, tmp_path):
    task_service.app.tasks.limits = FAST
    (theirs,) = _foreign_tasks(task_service, tmp_path, 3, 1)
    with client(task_service) as other:
        wait(other, theirs)  # it reports TOTAL 3: not the 5-line task this job lost
    mine = texts(5)
    transport = LoseFirstReply()
    out = tmp_path / "c.parquet"
    AsyncTaskJob(_pairs(mine), out, _options(task_service, transport)).run()
    assert transport.lost_id is not None and transport.lost_id != theirs
    assert task_service.app.tasks.submissions == 2  # theirs and the lost one, never a third
    assert task_service.app.tasks.tasks[transport.lost_id].status == "SUCCEEDED"
    np.testing.assert_allclose(_dense(out), realtime(task_service, mine), rtol=1e-6)


def test_tasks_outside_the_send_window_are_not_candidates(task_service, tmp_path):
    task_service.app.tasks.limits = FAST
    (theirs,) = _foreign_tasks(task_service, tmp_path, 5, 1)
    with client(task_service) as task_client:
        now = time.time()
        # listed (the window is widened by hours for any time-zone reading) but created long before the send
        assert theirs in {t["task_id"] for t in task_client.list_tasks(MODEL, now + LIST_WIDENING / 2)}
        assert task_client.find_unrecorded(MODEL, now + 3600, now + 3600, set(), 5) is None
        assert task_client.find_unrecorded(MODEL, now, now, set(), 5) == theirs
        assert task_client.find_unrecorded(MODEL, now, now, {theirs}, 5) is None


class ListsWithoutTimes(httpx.HTTPTransport):
    """The task listing without ``gmt_create`` (a service that does not give it)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method == "GET" and request.url.path.endswith("/api/v1/tasks"):
            body = orjson.loads(response.read())
            for item in body["data"]:
                del item["gmt_create"]
            return httpx.Response(200, content=orjson.dumps(body), headers={"content-type": "application/json"})
        return response


def test_a_listing_without_creation_times_falls_back_on_each_tasks_submit_time(task_service, tmp_path):
    from dashscope_embed.batch.tasks.client import TaskClient
    from dashscope_embed.settings import resolve_connection

    task_service.app.tasks.limits = FAST
    (theirs,) = _foreign_tasks(task_service, tmp_path, 5, 1)
    settings = resolve_connection(base_url=task_service.base_url, api_key="sk-test")
    with TaskClient(settings, transport=ListsWithoutTimes()) as task_client:
        now = time.time()
        assert task_client.find_unrecorded(MODEL, now, now, set(), 5) == theirs
        assert task_client.find_unrecorded(MODEL, now + 3600, now + 3600, set(), 5) is None
