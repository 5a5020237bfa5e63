"""Every documented limit of the Batch File API, on the client (before uploading) and on the local service.

Source: https://help.aliyun.com/en/model-studio/batch-interfaces-compatible-with-openai
"""

from __future__ import annotations

import httpx
import orjson
import pytest
from support.batch_helpers import set_limits, smaller, texts

from dashscope_embed.batch import LIMITS, BatchEmbeddingJob, BatchJobOptions, parse_completion_window
from dashscope_embed.errors import InvalidInputError


def _line(cid: str, inputs, model: str = "text-embedding-v4", url: str = "/v1/embeddings") -> bytes:
    return orjson.dumps({"custom_id": cid, "method": "POST", "url": url,
                         "body": {"model": model, "input": inputs, "dimensions": 64}})


def _upload(svc, data: bytes, purpose: str = "batch") -> httpx.Response:
    return httpx.post(f"{svc.base_url}/compatible-mode/v1/files", files={"file": ("in.jsonl", data)},
                      data={"purpose": purpose})


def _create(svc, file_id: str, **fields) -> httpx.Response:
    body = {"input_file_id": file_id, "endpoint": "/v1/embeddings", "completion_window": "24h", **fields}
    return httpx.post(f"{svc.base_url}/compatible-mode/v1/batches", json=body)


def _finish(svc, batch_id: str) -> dict:
    import time

    for _ in range(400):
        batch = httpx.get(f"{svc.base_url}/compatible-mode/v1/batches/{batch_id}").json()
        if batch["status"] in ("completed", "failed", "expired", "cancelled"):
            return batch
        time.sleep(0.01)
    raise AssertionError("the batch never finished")


def test_documented_values():
    assert (LIMITS.max_lines, LIMITS.max_file_bytes, LIMITS.max_line_bytes) == (50_000, 500 * 2**20, 6 * 2**20)
    assert (LIMITS.max_name_chars, LIMITS.max_description_chars) == (100, 200)
    assert (LIMITS.min_window_hours, LIMITS.max_window_hours) == (24, 336)
    assert (LIMITS.max_files, LIMITS.max_creations_per_minute, LIMITS.max_concurrent_batches) == (10_000, 1000, 1000)


@pytest.mark.parametrize("window, hours", [("24h", 24), ("336h", 336), ("1d", 24), ("14d", 336), ("72h", 72)])
def test_completion_window_accepted(window, hours):
    assert parse_completion_window(window) == hours


@pytest.mark.parametrize("window", ["23h", "337h", "15d", "24", "24m", "1.5d", "", 24, None, " 24h"])
def test_completion_window_refused_before_any_request(batch_service, tmp_path, window):
    with pytest.raises(InvalidInputError, match="completion_window"):
        BatchEmbeddingJob([("a", "x")], tmp_path / "o.parquet",
                          BatchJobOptions(base_url=batch_service.base_url, completion_window=window)).run()
    assert batch_service.stats.requests == 0
    response = _create(batch_service, "file-batch-x", completion_window=window)
    assert response.status_code in (400, 404)


def test_service_checks_window_endpoint_and_metadata(batch_service):
    file_id = _upload(batch_service, _line("a", ["x"])).json()["id"]
    bad = [
        ({"completion_window": "337h"}, "completion_window"),
        ({"endpoint": "/v1/chat/completions"}, "endpoint"),
        ({"metadata": {"ds_name": "n" * 101}}, "metadata.ds_name"),
        ({"metadata": {"ds_description": "d" * 201}}, "metadata.ds_description"),
    ]
    for fields, param in bad:
        response = _create(batch_service, file_id, **fields)
        assert response.status_code == 400, fields
        assert response.json()["error"]["param"] == param
    ok = _create(batch_service, file_id, metadata={"ds_name": "n" * 100, "ds_description": "d" * 200})
    assert ok.status_code == 200 and ok.json()["status"] == "validating"
    assert _create(batch_service, "file-batch-missing").status_code == 404
    assert _upload(batch_service, b"{}", purpose="fine-tune").status_code == 400


def test_file_size_and_account_limits(batch_service):
    store = batch_service.app.batch_api.files
    for file_id in store.ids():
        store.delete(file_id)  # files other tests kept count against the account
    set_limits(batch_service, smaller(max_file_bytes=1000, max_creations_per_minute=2, max_files=4))
    assert _upload(batch_service, b"x" * 1001).status_code == 400
    file_id = _upload(batch_service, b"x" * 1000).json()["id"]
    assert _create(batch_service, file_id).status_code == 200
    assert _create(batch_service, file_id).status_code == 200
    third = _create(batch_service, file_id)
    assert third.status_code == 429 and "per minute" in third.json()["error"]["message"]
    while len(store.ids()) < 4:
        assert _upload(batch_service, b"y").status_code == 200
    assert _upload(batch_service, b"y").status_code == 400  # one file too many for the account


@pytest.mark.parametrize("lines, code, line_no", [
    ([_line("a", ["x"]), _line("a", ["y"])], "duplicate_custom_id", 2),
    ([_line("a", ["x"]), _line("b", ["y"], url="/v1/chat/completions")], "mismatched_url", 2),
    ([_line("a", ["x"]), _line("b", ["y"], model="text-embedding-v3")], "mismatched_model", 2),
    ([b"not json"], "invalid_json_line", 1),
    ([_line("a", ["x"]), _line("b", ["z" * 300])], "line_too_large", 2),
])
def test_validation_failures_name_the_line(batch_service, lines, code, line_no):
    set_limits(batch_service, smaller(max_line_bytes=200))
    file_id = _upload(batch_service, b"\n".join(lines)).json()["id"]
    batch = _finish(batch_service, _create(batch_service, file_id).json()["id"])
    assert batch["status"] == "failed"
    assert (batch["errors"]["data"][0]["code"], batch["errors"]["data"][0]["line"]) == (code, line_no)


def test_too_many_lines_fails_validation(batch_service):
    set_limits(batch_service, smaller(max_lines=3))
    data = b"\n".join(_line(f"c{i}", ["x"]) for i in range(4))
    batch = _finish(batch_service, _create(batch_service, _upload(batch_service, data).json()["id"]).json()["id"])
    assert batch["status"] == "failed" and batch["errors"]["data"][0]["code"] == "too_many_requests"


def test_row_limit_per_line_is_the_real_time_one(batch_service):
    data = _line("ten", [f"t{i}" for i in range(10)]) + b"\n" + _line("eleven", [f"u{i}" for i in range(11)])
    batch = _finish(batch_service, _create(batch_service, _upload(batch_service, data).json()["id"]).json()["id"])
    assert batch["status"] == "completed" and batch["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
    errors = httpx.get(f"{batch_service.base_url}/compatible-mode/v1/files/{batch['error_file_id']}/content")
    line = orjson.loads(errors.content)
    assert line["custom_id"] == "eleven" and line["response"]["status_code"] == 400
    assert "not be larger than 10" in line["response"]["body"]["error"]["message"]


def test_job_shards_within_the_limits(batch_service, tmp_path):
    limits = smaller(max_lines=7, max_file_bytes=2500)
    rows = [(f"r{i}", t) for i, t in enumerate(texts(200))]
    options = BatchJobOptions(dimensions=64, base_url=batch_service.base_url, poll_interval=0.02, lines_per_shard=100,
                              rows_per_line=3, chunk_size=12, keep_remote_files=True, limits=limits)
    job = BatchEmbeddingJob(rows, tmp_path / "o.parquet", options)
    assert job.lines_per_shard == 7  # never above the documented maximum
    store = batch_service.app.batch_api.files
    before = set(store.ids())
    job.run()
    inputs = [store.path(i).read_bytes() for i in store.ids() if i not in before and store.get(i)["purpose"] == "batch"]
    assert len(inputs) >= 200 / 3 / 7
    ids = []
    for data in inputs:
        lines = data.splitlines()
        assert len(lines) <= 7 and len(data) <= 2500
        for raw in lines:
            line = orjson.loads(raw)
            assert len(line["body"]["input"]) <= 3 and line["url"] == "/v1/embeddings"
            ids.append(line["custom_id"])
    assert len(ids) == len(set(ids))
    names = batch_service.stats.batch_names
    assert all(len(name) <= 100 for name in names) and max(names.values()) == 1


def test_a_text_over_the_line_limit_is_refused_before_upload(batch_service, tmp_path):
    rows = [("a", "short"), ("b", "x" * (6 * 2**20))]
    with pytest.raises(InvalidInputError, match="id .b. is too long"):
        BatchEmbeddingJob(rows, tmp_path / "o.parquet", BatchJobOptions(base_url=batch_service.base_url)).run()
    assert batch_service.stats.requests == 0


def test_list_pages_newest_first(batch_service):
    file_id = _upload(batch_service, _line("a", ["x"])).json()["id"]
    made = [_create(batch_service, file_id, metadata={"ds_name": f"page-{i}"}).json()["id"] for i in range(3)]
    url = f"{batch_service.base_url}/compatible-mode/v1/batches"
    first = httpx.get(url, params={"limit": 2}).json()
    assert [b["id"] for b in first["data"]] == made[::-1][:2] and first["has_more"]
    second = httpx.get(url, params={"limit": 2, "after": first["last_id"]}).json()
    assert second["data"][0]["id"] == made[0]


def test_storage_limit(batch_service):
    store = batch_service.app.batch_api.files
    for file_id in store.ids():
        store.delete(file_id)
    set_limits(batch_service, smaller(max_storage_bytes=1500))
    assert _upload(batch_service, b"x" * 1000).status_code == 200
    refused = _upload(batch_service, b"x" * 600)
    assert refused.status_code == 400 and "Storage quota" in refused.json()["error"]["message"]


def test_results_are_written_in_shuffled_order(batch_service):
    data = b"\n".join(_line(f"c{i:02d}", [f"text {i}"]) for i in range(30))
    batch = _finish(batch_service, _create(batch_service, _upload(batch_service, data).json()["id"]).json()["id"])
    content = httpx.get(f"{batch_service.base_url}/compatible-mode/v1/files/{batch['output_file_id']}/content")
    order = [orjson.loads(line)["custom_id"] for line in content.content.splitlines()]
    assert sorted(order) == [f"c{i:02d}" for i in range(30)] and order != sorted(order)


def test_only_the_last_30_days_are_listed(batch_service):
    file_id = _upload(batch_service, _line("a", ["x"])).json()["id"]
    old = _create(batch_service, file_id, metadata={"ds_name": "old"}).json()["id"]
    new = _create(batch_service, file_id, metadata={"ds_name": "new"}).json()["id"]
    batch_service.app.batch_api.batches[old]["created_at"] -= 31 * 86400
    listed = [b["id"] for b in httpx.get(f"{batch_service.base_url}/compatible-mode/v1/batches",
                                         params={"limit": 100}).json()["data"]]
    assert new in listed and old not in listed
