"""``AsyncTaskJob`` against the local service: vectors, line shapes, failed lines and tasks, the pace, one-line
texts, early refusals, status and cancel."""

from __future__ import annotations

import threading
import time

import numpy as np
import pyarrow.parquet as pq
import pytest
from support.task_helpers import realtime, recorded_task_ids, texts

from dashscope_embed.batch import AsyncTaskJob, BatchJobError, TaskJobOptions, batch_status, cancel_batches
from dashscope_embed.batch.state import state_path_for
from dashscope_embed.batch.tasks.limits import TaskLimits
from dashscope_embed.errors import InvalidInputError
from dashscope_embed.jobs.workdir import work_dir_for

FAST = TaskLimits(submit_interval=0.2)


def _options(service, **changes) -> TaskJobOptions:
    base = dict(base_url=service.base_url, poll_interval=0.02, max_poll_interval=0.1, limits=FAST)
    base.update(changes)
    return TaskJobOptions(**base)


def _fast_service(service) -> None:
    service.app.tasks.limits = TaskLimits(submit_interval=0.2)


def _pairs(items: list[str]) -> list[tuple[str, str]]:
    return [(f"id-{i}", t) for i, t in enumerate(items)]


def _dense(path) -> np.ndarray:
    table = pq.read_table(path)
    return np.asarray(table.column("dense").combine_chunks().flatten().to_numpy()).reshape(table.num_rows, 1536)


def _billed_once(service, rows: int) -> None:
    billed = service.app.tasks.billed
    assert len(billed) == rows and max(billed.values()) == 1


@pytest.mark.parametrize("shape", ["nested", "flat"])
def test_rows_in_tasks_of_rows_per_task_with_the_service_vectors(task_service, tmp_path, shape):
    _fast_service(task_service)
    task_service.set_faults(task_line_shape=shape, task_lines_per_step=7)
    items = texts(45)
    out = tmp_path / "out.parquet"
    summary = AsyncTaskJob(_pairs(items), out, _options(task_service, rows_per_task=20, chunk_size=8)).run()
    assert task_service.app.tasks.submissions == 3 == summary.batches  # 20 + 20 + 5
    table = pq.read_table(out)
    assert table.column("id").to_pylist() == [f"id-{i}" for i in range(45)]
    np.testing.assert_allclose(_dense(out), realtime(task_service, items), rtol=0, atol=1e-6)
    _billed_once(task_service, 45)
    assert summary.rows == 45 and summary.tokens > 0 and not state_path_for(out).exists()
    assert not work_dir_for(out).exists()
    assert any("free quota" in line for line in summary.lines())


def test_query_side_and_a_text_with_line_breaks(task_service, tmp_path):
    _fast_service(task_service)
    items = ["first line\nsecond line", "carriage\r\nreturn\rand\u2028separator", "plain"]
    out = tmp_path / "q.parquet"
    AsyncTaskJob(_pairs(items), out, _options(task_service, text_type="query")).run()
    assert pq.read_table(out).num_rows == 3 and task_service.app.tasks.submissions == 1
    flat = ["first line second line", "carriage return and separator", "plain"]
    np.testing.assert_allclose(_dense(out), realtime(task_service, flat, "query"), rtol=0, atol=1e-6)


def test_failed_lines_are_resubmitted_and_every_row_billed_once(task_service, tmp_path):
    _fast_service(task_service)
    task_service.set_faults(seed=5, task_line_failure_rate=0.3)
    items = texts(60)
    out = tmp_path / "f.parquet"
    AsyncTaskJob(_pairs(items), out, _options(task_service, rows_per_task=30, max_resubmits=6)).run()
    assert task_service.app.tasks.submissions > 2  # resubmissions of the failed lines
    np.testing.assert_allclose(_dense(out), realtime(task_service, items), rtol=0, atol=1e-6)
    _billed_once(task_service, 60)


def test_a_failed_task_is_resubmitted(task_service, tmp_path):
    _fast_service(task_service)
    task_service.set_faults(seed=2, task_failure_rate=0.5)
    items = texts(40)
    out = tmp_path / "t.parquet"
    AsyncTaskJob(_pairs(items), out, _options(task_service, rows_per_task=10, max_resubmits=8)).run()
    failed = [t for t in task_service.app.tasks.tasks.values() if t.status == "FAILED"]
    assert failed, "the seed should fail some task"
    np.testing.assert_allclose(_dense(out), realtime(task_service, items), rtol=0, atol=1e-6)
    _billed_once(task_service, 40)


def test_rows_still_failing_end_with_their_ids_and_codes(task_service, tmp_path):
    _fast_service(task_service)
    task_service.set_faults(task_failure_rate=1.0)
    out = tmp_path / "x.parquet"
    logged: list[str] = []
    with pytest.raises(BatchJobError) as info:
        AsyncTaskJob(_pairs(texts(4)), out, _options(task_service, max_resubmits=1, log=logged.append)).run()
    assert task_service.app.tasks.submissions == 2  # the task, then one resubmission
    # the failed task's input file itself became the resubmission (its lines are not read into memory)
    failed = [line for line in logged if "failed: InternalError" in line]
    assert len(failed) == 2 and failed[0].endswith("its lines go again as attempt 1"), logged
    assert [(r, i, c) for r, i, c in info.value.failures] == [(n, f"id-{n}", "InternalError") for n in range(4)]
    assert "4 rows could not be embedded" in str(info.value) and "id-0" in str(info.value)
    assert "--fallback-realtime" not in str(info.value)  # refused for task models: the error must not suggest it
    assert "a rerun of the same command submits again" in str(info.value)


@pytest.mark.parametrize("faults", [{"task_failure_rate": 1.0}, {"seed": 1, "task_line_failure_rate": 0.5}])
def test_a_rerun_submits_again_the_rows_that_failed_for_a_passing_reason(task_service, tmp_path, faults):
    _fast_service(task_service)
    task_service.set_faults(**faults)
    items = texts(12)
    out = tmp_path / "again.parquet"
    with pytest.raises(BatchJobError) as info:
        AsyncTaskJob(_pairs(items), out, _options(task_service, rows_per_task=6, max_resubmits=0)).run()
    assert task_service.app.tasks.submissions == 2 and info.value.failures
    # the service recovers: the same job, rerun, embeds the failed rows instead of ending with the same error
    task_service.set_faults(None)
    AsyncTaskJob(_pairs(items), out, _options(task_service, rows_per_task=6, max_resubmits=0)).run()
    assert task_service.app.tasks.submissions == 2 + len({r // 6 for r, _, _ in info.value.failures})
    assert pq.read_table(out).column("id").to_pylist() == [f"id-{i}" for i in range(12)]
    np.testing.assert_allclose(_dense(out), realtime(task_service, items), rtol=0, atol=1e-6)
    _billed_once(task_service, 12)


def test_lines_the_model_refuses_are_reported_not_dropped(task_service, tmp_path):
    _fast_service(task_service)
    task_service.app.tasks.limits = TaskLimits(submit_interval=0.2, max_tokens_per_line=12)
    items = texts(6) + ["word " * 30]
    with pytest.raises(BatchJobError) as info:
        AsyncTaskJob(_pairs(items), tmp_path / "r.parquet", _options(task_service)).run()
    assert [(r, i, c) for r, i, c in info.value.failures] == [(6, "id-6", "InvalidParameter")]
    assert task_service.app.tasks.submissions == 1  # an input error is not resubmitted
    # the other rows are kept: a rerun after fixing nothing reports the same row without submitting again
    with pytest.raises(BatchJobError):
        AsyncTaskJob(_pairs(items), tmp_path / "r.parquet", _options(task_service)).run()
    assert task_service.app.tasks.submissions == 1


def test_one_submission_a_second_and_429_backoff(task_service, tmp_path):
    # the service takes one a second; a client told it may go faster meets 429s and backs off
    items = texts(24)
    out = tmp_path / "p.parquet"
    AsyncTaskJob(_pairs(items), out, _options(task_service, rows_per_task=6, limits=TaskLimits(submit_interval=0.1))
                 ).run()
    times = task_service.app.tasks.submitted_at
    assert len(times) == 4 and all(b - a >= 0.99 for a, b in zip(times, times[1:]))
    assert task_service.app.tasks.refused["Throttling.RateQuota"] >= 1
    # at the documented pace the client itself waits a second between submissions: no 429 at all
    task_service.app.tasks.reset()
    AsyncTaskJob(_pairs(items), tmp_path / "q.parquet", _options(task_service, rows_per_task=6,
                                                                 limits=TaskLimits())).run()
    times = task_service.app.tasks.submitted_at
    assert len(times) == 4 and all(b - a >= 0.99 for a, b in zip(times, times[1:]))
    assert not task_service.app.tasks.refused


@pytest.mark.parametrize(
    "rows, options, message",
    [
        ([("a", "ok"), ("b", 7)], {}, "row 1"),
        ([("a", "ok"), ("b", "word " * 3000)], {}, "2048 tokens"),
        ([("a", "ok")], {"rows_per_task": 100_001}, "rows_per_task"),
        ([("a", "ok")], {"text_type": "passage"}, "text_type"),
        ([("a", "ok")], {"model": "text-embedding-v2"}, "task models"),
        ([("a", "ok")], {"fallback_realtime": True}, "fallback_realtime"),
    ],
)
def test_bad_input_is_refused_before_anything_is_uploaded(task_service, tmp_path, rows, options, message):
    uploads = task_service.app.uploads.uploads
    with pytest.raises(InvalidInputError, match=message):
        AsyncTaskJob(rows, tmp_path / "b.parquet", _options(task_service, **options)).run()
    assert task_service.app.uploads.uploads == uploads and task_service.app.tasks.submissions == 0


def test_dimension_other_than_1536_is_refused(tmp_path):
    with pytest.raises(InvalidInputError, match="1536"):
        AsyncTaskJob([("a", "x")], tmp_path / "d.parquet", TaskJobOptions(dimensions=1024))


def test_region_other_than_beijing_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("DASHSCOPE_BASE_URL", raising=False)
    with pytest.raises(InvalidInputError, match="offered in: .beijing"):
        AsyncTaskJob([("a", "x")], tmp_path / "s.parquet", TaskJobOptions(region="singapore", api_key="sk-x")).run()


def test_status_and_cancel_stop_a_running_task_job(task_service, tmp_path):
    _fast_service(task_service)
    task_service.set_faults(task_queue_delay=60)  # the tasks stay PENDING, so they can be cancelled
    out = tmp_path / "c.parquet"
    job = AsyncTaskJob(_pairs(texts(20)), out, _options(task_service, rows_per_task=10))
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
    shown = batch_status(out)
    assert sum("PENDING" in line for line in shown) == 2, shown
    assert len(cancel_batches(out)) == 2
    runner.join(20)
    assert not runner.is_alive()
    # the running job stops: its cancelled lines are not submitted again
    assert len(errors) == 1 and isinstance(errors[0], BatchJobError) and "cancelled" in str(errors[0])
    assert task_service.app.tasks.submissions == 2
    # a rerun resumes and submits the rows again
    task_service.set_faults(None)
    job.run()
    assert pq.read_table(out).num_rows == 20 and task_service.app.tasks.submissions == 4
    _billed_once(task_service, 20)
    assert batch_status(out) == [f"{out} is complete (20 rows); nothing is left on the service"]


def test_text_type_is_part_of_the_job(task_service, tmp_path):
    from dashscope_embed.jobs.errors import BulkJobError

    _fast_service(task_service)
    out = tmp_path / "k.parquet"
    AsyncTaskJob(_pairs(texts(3)), out, _options(task_service)).run()
    again = AsyncTaskJob(_pairs(texts(3)), out, _options(task_service)).run()
    assert again.already_complete and task_service.app.tasks.submissions == 1
    # the query side of the same rows is another job: it does not pass for the finished document-side output
    with pytest.raises(BulkJobError, match="--overwrite"):
        AsyncTaskJob(_pairs(texts(3)), out, _options(task_service, text_type="query")).run()
    assert task_service.app.tasks.submissions == 1


def test_a_submission_whose_reply_is_lost_is_found_not_repeated(task_service, tmp_path):
    import httpx

    class LoseFirstReply(httpx.HTTPTransport):
        lost = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            if request.headers.get("x-dashscope-async") == "enable" and not self.lost:
                self.lost += 1
                response.read()
                response.close()
                raise httpx.ReadTimeout("the reply was lost", request=request)
            return response

    _fast_service(task_service)
    transport = LoseFirstReply()
    out = tmp_path / "l.parquet"
    AsyncTaskJob(_pairs(texts(5)), out, _options(task_service, transport=transport)).run()
    assert transport.lost == 1 and task_service.app.tasks.submissions == 1
    assert pq.read_table(out).num_rows == 5
    _billed_once(task_service, 5)


def test_lines_missing_from_a_result_are_submitted_again(task_service, tmp_path, monkeypatch):
    from dashscope_embed.server import tasks as server_tasks

    _fast_service(task_service)
    write = server_tasks._Task._write
    dropped: list[int] = []

    def lossy(self, first, order, verdicts, good, vectors, shape):
        # the first task's result leaves out its line 3 (the service still bills it)
        if not dropped and first <= 3 < first + len(order):
            dropped.append(3)
            order = [i for i in order if first + i != 3]
        write(self, first, order, verdicts, good, vectors, shape)

    monkeypatch.setattr(server_tasks._Task, "_write", lossy)
    items = texts(8)
    out = tmp_path / "m.parquet"
    AsyncTaskJob(_pairs(items), out, _options(task_service, max_resubmits=1)).run()
    assert dropped == [3] and task_service.app.tasks.submissions == 2  # the task, then the one missing line
    assert pq.read_table(out).column("id").to_pylist() == [f"id-{i}" for i in range(8)]
    np.testing.assert_allclose(_dense(out), realtime(task_service, items), rtol=0, atol=1e-6)


def test_a_line_still_missing_after_the_resubmissions_is_reported(task_service, tmp_path, monkeypatch):
    from dashscope_embed.server import tasks as server_tasks

    _fast_service(task_service)
    write = server_tasks._Task._write
    items = texts(5)

    def lossy(self, first, order, verdicts, good, vectors, shape):
        # the 5-line task's result leaves out line 2, and the resubmission of that one line returns nothing
        order = [i for i in order if first + i != 2] if self.total == 5 else []
        write(self, first, order, verdicts, good, vectors, shape)

    monkeypatch.setattr(server_tasks._Task, "_write", lossy)
    with pytest.raises(BatchJobError) as info:
        AsyncTaskJob(_pairs(items), tmp_path / "n.parquet", _options(task_service, max_resubmits=1)).run()
    assert [(r, i, c) for r, i, c in info.value.failures] == [(2, "id-2", "not_returned")]
    assert task_service.app.tasks.submissions == 2


def test_a_succeeded_task_without_a_result_url_is_not_submitted_again(task_service, tmp_path, monkeypatch):
    from dashscope_embed.errors import ResponseFormatError
    from dashscope_embed.server import tasks as server_tasks

    _fast_service(task_service)
    reply = server_tasks._Task.reply

    def no_url(self, request_id):
        body = reply(self, request_id)
        body["output"].pop("url", None)
        return body

    monkeypatch.setattr(server_tasks._Task, "reply", no_url)
    items = texts(6)
    out = tmp_path / "u.parquet"
    with pytest.raises(ResponseFormatError, match="no output.url"):
        AsyncTaskJob(_pairs(items), out, _options(task_service)).run()
    assert task_service.app.tasks.submissions == 1  # the task was billed: its lines are not sent again
    monkeypatch.undo()
    AsyncTaskJob(_pairs(items), out, _options(task_service)).run()  # the rerun asks again and collects it
    assert task_service.app.tasks.submissions == 1
    np.testing.assert_allclose(_dense(out), realtime(task_service, items), rtol=0, atol=1e-6)
    _billed_once(task_service, 6)
