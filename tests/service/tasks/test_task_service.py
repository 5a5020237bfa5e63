"""The local service's asynchronous tasks and the wire client, over HTTP: submission, status, cancel, results,
limits, refusals and fault knobs."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest
from support.task_helpers import MODEL, client, realtime, texts, wait

from dashscope_embed.batch.tasks.limits import TaskLimits
from dashscope_embed.batch.tasks.results import ResultCheck, read_result
from dashscope_embed.errors import APIError
from dashscope_embed.settings import NATIVE_TEXT_PATH


def _upload(task_client, tmp_path, lines: list[str], name: str = "in.txt") -> str:
    path = tmp_path / name
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return task_client.upload(MODEL, path)


def _result(task_client, reply, tmp_path) -> dict:
    path = task_client.download(reply["output"]["url"], tmp_path / "result.txt.gz")
    check = ResultCheck(reply["output"]["task_metrics"]["TOTAL"])
    lines = {}
    for line in read_result(path):
        check.see(line)
        lines[line.text_index] = line
    assert check.missing() == []
    return lines


@pytest.mark.parametrize("shape", ["nested", "flat"])
@pytest.mark.parametrize("text_type", ["document", "query"])
def test_result_in_both_shapes_holds_the_realtime_vectors(task_service, tmp_path, shape, text_type):
    task_service.set_faults(task_line_shape=shape, task_lines_per_step=3)
    items = texts(10)
    with client(task_service) as task_client:
        task_id = task_client.submit(MODEL, _upload(task_client, tmp_path, items), text_type)
        reply = wait(task_client, task_id)
        out = reply["output"]
        assert out["task_status"] == "SUCCEEDED"
        assert out["task_metrics"] == {"TOTAL": 10, "SUCCEEDED": 10, "FAILED": 0}
        assert ".txt.gz?" in out["url"] and "_output_" in out["url"]
        for key in ("submit_time", "scheduled_time", "end_time"):
            time.strptime(out[key], "%Y-%m-%d %H:%M:%S.%f")
        assert reply["usage"]["total_tokens"] > 0
        lines = _result(task_client, reply, tmp_path)
    vectors = np.stack([lines[i].embedding for i in range(10)])
    np.testing.assert_allclose(vectors, realtime(task_service, items, text_type), rtol=0, atol=1e-6)
    assert task_service.app.tasks.downloads == 1 and task_service.app.tasks.authorized_downloads == 0


def test_raw_line_shapes(task_service, tmp_path):
    import gzip

    import orjson

    for shape, check in (("nested", lambda d: set(d) == {"output"} and set(d["output"]) == {"text_index", "embedding"}),
                         ("flat", lambda d: set(d) == {"text_index", "embedding"})):
        task_service.set_faults(task_line_shape=shape)
        with client(task_service) as task_client:
            time.sleep(1.0)  # the service takes one submission a second
            task_id = task_client.submit(MODEL, _upload(task_client, tmp_path, ["a b", "c d"]), "document")
            reply = wait(task_client, task_id)
            path = task_client.download(reply["output"]["url"], tmp_path / f"{shape}.gz")
        with gzip.open(path, "rb") as handle:
            assert all(check(orjson.loads(raw)) for raw in handle)


def test_failed_lines_carry_code_and_message_and_are_not_billed(task_service, tmp_path):
    task_service.set_faults(seed=3, task_line_failure_rate=0.4, task_line_shape="flat")
    items = texts(40) + [""]  # an empty line fails on its own
    with client(task_service) as task_client:
        task_id = task_client.submit(MODEL, _upload(task_client, tmp_path, items), "document")
        reply = wait(task_client, task_id)
        lines = _result(task_client, reply, tmp_path)
    failed = {i: line for i, line in lines.items() if line.embedding is None}
    metrics = reply["output"]["task_metrics"]
    assert metrics["FAILED"] == len(failed) and metrics["SUCCEEDED"] == 41 - len(failed)
    assert 40 in failed and failed[40].code == "BadRequest.EmptyInput"
    assert {f.code for i, f in failed.items() if i != 40} <= {"InternalError", "Throttling.RateQuota"}
    assert len(failed) > 5
    assert sum(task_service.app.tasks.billed.values()) == metrics["SUCCEEDED"]


def test_a_failed_task_carries_code_and_message(task_service, tmp_path):
    task_service.set_faults(task_failure_rate=1.0)
    with client(task_service) as task_client:
        task_id = task_client.submit(MODEL, _upload(task_client, tmp_path, ["x"]), "document")
        reply = wait(task_client, task_id)
    assert reply["output"]["task_status"] == "FAILED"
    assert reply["output"]["code"] == "InternalError" and reply["output"]["message"]
    assert "url" not in reply["output"] and "usage" not in reply
    assert not task_service.app.tasks.billed


def test_too_many_lines_fail_the_task(task_service, tmp_path):
    task_service.app.tasks.limits = TaskLimits(max_lines=5)
    with client(task_service) as task_client:
        task_id = task_client.submit(MODEL, _upload(task_client, tmp_path, texts(6)), "document")
        reply = wait(task_client, task_id)
    assert reply["output"]["task_status"] == "FAILED" and reply["output"]["code"] == "InvalidParameter"
    assert "at most 5" in reply["output"]["message"]


def test_over_long_line_fails_alone(task_service, tmp_path):
    task_service.app.tasks.limits = TaskLimits(max_tokens_per_line=8)
    with client(task_service) as task_client:
        task_id = task_client.submit(MODEL, _upload(task_client, tmp_path, ["short", "word " * 40]), "document")
        lines = _result(task_client, wait(task_client, task_id), tmp_path)
    assert lines[0].embedding is not None
    assert lines[1].code == "InvalidParameter" and lines[1].message == "Range of input length should be [1, 8]"


def test_running_task_reports_metrics_then_cancel_is_refused(task_service, tmp_path):
    task_service.set_faults(task_lines_per_step=2, task_step_delay=0.1)  # 2 s of RUNNING
    with client(task_service) as task_client:
        task_id = task_client.submit(MODEL, _upload(task_client, tmp_path, texts(40)), "document")
        deadline = time.monotonic() + 10
        while True:
            out = task_client.get(task_id)["output"]
            if out["task_status"] == "RUNNING" and out["task_metrics"]["SUCCEEDED"] > 0:
                break
            assert time.monotonic() < deadline
        assert out["task_metrics"]["TOTAL"] == 40 and "url" not in out
        assert task_client.cancel(task_id) is False  # 400 UnsupportedOperation: only PENDING tasks
        with pytest.raises(APIError) as info:
            task_client._call("POST", f"/api/v1/tasks/{task_id}/cancel")
        assert info.value.status_code == 400 and info.value.code == "UnsupportedOperation"
        assert wait(task_client, task_id)["output"]["task_status"] == "SUCCEEDED"


def test_pending_task_cancels_and_unknown_ids_are_unknown(task_service, tmp_path):
    task_service.set_faults(task_queue_delay=30)
    with client(task_service) as task_client:
        task_id = task_client.submit(MODEL, _upload(task_client, tmp_path, ["x"]), "document")
        assert task_client.get(task_id)["output"]["task_status"] == "PENDING"
        assert task_client.cancel(task_id) is True
        assert task_client.get(task_id)["output"]["task_status"] == "CANCELED"
        assert task_client.get("no-such-task")["output"] == {"task_id": "no-such-task", "task_status": "UNKNOWN"}
        assert task_client.cancel("no-such-task") is False
        listed = list(task_client.list_tasks(MODEL, time.time() - 60))
        assert task_id in {t["task_id"] for t in listed}


def test_one_submission_a_second_and_three_running(task_service, tmp_path):
    task_service.set_faults(task_lines_per_step=1, task_step_delay=0.1)  # 40 lines: 4 s a task
    task_service.app.tasks.limits = TaskLimits(submit_interval=0.5)
    with client(task_service) as task_client:
        url = _upload(task_client, tmp_path, texts(40))
        started = time.monotonic()
        ids = [task_client.submit(MODEL, url, "document") for _ in range(4)]  # 429s retried after Retry-After
        assert time.monotonic() - started >= 1.5
        seen_pending = False
        while True:  # never more than 3 running; the 4th waits while 3 run
            statuses = [task_client.get(i)["output"]["task_status"] for i in ids]
            assert statuses.count("RUNNING") <= 3, statuses
            seen_pending |= statuses.count("RUNNING") == 3 and "PENDING" in statuses
            if all(s == "SUCCEEDED" for s in statuses):
                break
            time.sleep(0.05)
        assert seen_pending
        for task_id in ids:
            assert wait(task_client, task_id)["output"]["task_status"] == "SUCCEEDED"
    assert task_service.app.tasks.refused["Throttling.RateQuota"] >= 3
    assert task_service.app.tasks.submissions == 4


def test_throttled_reply_shape_and_queue_cap(task_service, tmp_path):
    task_service.set_faults(task_queue_delay=30)
    task_service.app.tasks.limits = TaskLimits(submit_interval=0.0, max_queued=2)
    with client(task_service) as task_client:
        url = _upload(task_client, tmp_path, ["x"])
        body = {"model": MODEL, "input": {"url": url}, "parameters": {"text_type": "document"}}
        headers = {"X-DashScope-Async": "enable", "X-DashScope-OssResourceResolve": "enable"}
        http = httpx.Client(base_url=task_service.base_url)
        replies = [http.post(NATIVE_TEXT_PATH, json=body, headers=headers) for _ in range(3)]
        assert [r.status_code for r in replies] == [200, 200, 429]
        assert replies[0].json()["output"]["task_status"] == "PENDING"
        assert replies[2].json()["code"] == "Throttling.AllocationQuota" and replies[2].json()["request_id"]
        for reply in replies[:2]:
            task_client.cancel(reply.json()["output"]["task_id"])
        task_service.app.tasks.limits = TaskLimits(submit_interval=10.0)
        task_service.app.tasks.reset()  # the pace starts again
        first = http.post(NATIVE_TEXT_PATH, json=body, headers=headers)
        second = http.post(NATIVE_TEXT_PATH, json=body, headers=headers)
        assert first.status_code == 200 and second.status_code == 429
        assert second.json()["code"] == "Throttling.RateQuota" and int(second.headers["Retry-After"]) >= 1


def test_sync_and_async_refuse_each_other(task_service, tmp_path):
    http = httpx.Client(base_url=task_service.base_url)
    sync = http.post(NATIVE_TEXT_PATH, json={"model": MODEL, "input": {"texts": ["x"]}})
    assert sync.status_code == 403 and sync.json()["code"] == "AccessDenied"
    assert sync.json()["message"] == "current user api does not support synchronous calls"
    with client(task_service) as task_client:
        url = _upload(task_client, tmp_path, ["x"])
    asyn = http.post(NATIVE_TEXT_PATH, json={"model": "text-embedding-v2", "input": {"url": url}},
                     headers={"X-DashScope-Async": "enable", "X-DashScope-OssResourceResolve": "enable"})
    assert asyn.status_code == 403 and asyn.json()["code"] == "AccessDenied"
    assert asyn.json()["message"] == "current user api does not support asynchronous calls"
    # the header is needed to read an oss:// URL
    no_resolve = http.post(NATIVE_TEXT_PATH, json={"model": MODEL, "input": {"url": url}},
                           headers={"X-DashScope-Async": "enable"})
    assert no_resolve.status_code == 400 and "X-DashScope-OssResourceResolve" in no_resolve.json()["message"]
    # a synchronous model without the header still embeds
    assert http.post(NATIVE_TEXT_PATH, json={"model": "text-embedding-v2", "input": {"texts": ["x"]}}).status_code == 200


def test_result_link_needs_its_signature(task_service, tmp_path):
    with client(task_service) as task_client:
        task_id = task_client.submit(MODEL, _upload(task_client, tmp_path, ["x"]), "document")
        url = wait(task_client, task_id)["output"]["url"]
    assert httpx.get(url).status_code == 200
    assert httpx.get(url.replace("Signature=", "Signature=0")).status_code == 403
