"""BatchEmbeddingJob recovery: lost replies, failed batches, restarts, unknown batches, row-level failures."""

from __future__ import annotations

import dataclasses

import httpx
import numpy as np
import orjson
import pytest
from support.batch_helpers import billed_once, dense, realtime, set_limits, smaller, texts

from dashscope_embed.batch import BatchEmbeddingJob, BatchJobError, BatchJobOptions, state_path_for
from dashscope_embed.batch.state import load_state
from dashscope_embed.errors import InvalidInputError

DIM = 64


def _job(svc, rows, out, **options):
    options = {"dimensions": DIM, "base_url": svc.base_url, "poll_interval": 0.02, "lines_per_shard": 8,
               "chunk_size": 40, "log": lambda line: None, **options}
    return BatchEmbeddingJob(rows, out, BatchJobOptions(**options))


def _pairs(items):
    return [(f"id-{i}", t) for i, t in enumerate(items)]


class LoseReplies(httpx.BaseTransport):
    """Forwards every request, but for the first ``times`` matching ones drops the reply (a read timeout after the
    service acted on the request)."""

    def __init__(self, method: str, suffix: str, times: int = 1, status: int | None = None) -> None:
        self.inner = httpx.HTTPTransport()
        self.method, self.suffix, self.left, self.status = method, suffix, times, status

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == self.method and request.url.path.endswith(self.suffix) and self.left:
            self.left -= 1
            response.read()
            if self.status is not None:  # the service acted, then a proxy answered 5xx
                return httpx.Response(self.status, json={"error": {"message": "bad gateway", "code": "BadGateway"}})
            raise httpx.ReadTimeout("reply lost", request=request)
        return response


@pytest.mark.parametrize("status", [None, 502])
def test_a_lost_creation_reply_makes_no_second_batch(batch_service, tmp_path, status):
    items = texts(60)
    out = tmp_path / "o.parquet"
    summary = _job(batch_service, _pairs(items), out, lines_per_shard=50,
                   transport=LoseReplies("POST", "/batches", status=status)).run()
    assert batch_service.stats.batches_created == 1 == summary.batches
    billed_once(batch_service)
    np.testing.assert_array_equal(dense(out, DIM), realtime(batch_service, items, DIM))


def test_a_lost_upload_reply_leaves_no_second_file(batch_service, tmp_path):
    store = batch_service.app.batch_api.files
    before = set(store.ids())
    items = texts(30)
    summary = _job(batch_service, _pairs(items), tmp_path / "o.parquet", lines_per_shard=50,
                   transport=LoseReplies("POST", "/files")).run()
    assert summary.batches == 1
    assert set(store.ids()) == before  # the one stored copy was used, then deleted with the results


def test_a_failed_batch_deletes_its_file_and_a_rerun_submits_it_again(batch_service, tmp_path):
    store = batch_service.app.batch_api.files
    before = set(store.ids())
    items = texts(20)
    out = tmp_path / "o.parquet"
    batch_service.set_faults(batch_validation_failure_rate=1.0)
    with pytest.raises(BatchJobError, match=r"ids 'id-\d+'.*invalid_request.*Rerun the same command") as caught:
        _job(batch_service, _pairs(items), out).run()
    assert "failed validation" not in str(caught.value)
    assert set(store.ids()) == before  # the failed batch's input file is deleted
    batch_service.set_faults(None)
    summary = _job(batch_service, _pairs(items), out).run()
    assert summary.batches == 1 and batch_service.stats.batches_created == 2
    np.testing.assert_array_equal(dense(out, DIM), realtime(batch_service, items, DIM))


def test_restart_discards_the_state_of_the_same_job(batch_service, tmp_path):
    store = batch_service.app.batch_api.files
    before = set(store.ids())
    items = texts(20)
    out = tmp_path / "o.parquet"
    batch_service.set_faults(batch_step_delay=0.2, batch_lines_per_step=1)
    job = _job(batch_service, _pairs(items), out)
    job._poll_until_collected = lambda state: (_ for _ in ()).throw(KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        job.run()  # a batch is running, its file is stored
    first = load_state(state_path_for(out)).shards[0].attempts[0]
    batch_service.set_faults(None)
    summary = _job(batch_service, _pairs(items), out, restart=True).run()
    assert batch_service.app.batch_api.batches[first.remote_id]["status"] in ("cancelling", "cancelled")
    assert summary.batches == 1 and set(store.ids()) == before
    np.testing.assert_array_equal(dense(out, DIM), realtime(batch_service, items, DIM))


def test_a_state_of_another_root_or_unknown_batch_is_a_clear_error(batch_service, tmp_path):
    items = texts(20)
    out = tmp_path / "o.parquet"
    job = _job(batch_service, _pairs(items), out)
    job._poll_until_collected = lambda state: (_ for _ in ()).throw(KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        job.run()
    path = state_path_for(out)
    saved = path.read_bytes()
    raw = orjson.loads(saved)
    raw["root"] = "http://127.0.0.1:9"
    path.write_bytes(orjson.dumps(raw))
    with pytest.raises(BatchJobError, match=r"records batches and files on http://127.0.0.1:9.*--restart"):
        _job(batch_service, _pairs(items), out).run()
    raw = orjson.loads(saved)
    raw["shards"][0]["attempts"][0]["remote_id"] = "batch_unknown"
    path.write_bytes(orjson.dumps(raw))
    with pytest.raises(BatchJobError, match=r"does not know batch batch_unknown.*--restart"):
        _job(batch_service, _pairs(items), out).run()
    _job(batch_service, _pairs(items), out, restart=True).run()


def test_over_long_rows_are_refused_before_upload_with_ids_and_tokens(batch_service, tmp_path):
    rows = [("a", "short"), ("b", "word " * 9000), ("c", "fine")]
    with pytest.raises(InvalidInputError, match=r"limit of 8192 tokens per row: row 1 \(id 'b'\): 9001 tokens"):
        _job(batch_service, rows, tmp_path / "o.parquet").run()
    assert batch_service.stats.requests == 0


def test_a_line_failing_with_an_input_error_is_resplit_before_its_rows_are_reported(batch_service, tmp_path):
    store = batch_service.app.batch_api.files
    before = set(store.ids())
    items = texts(20)
    items[3] = items[13] = "word " * 9000  # over the token limit: the service refuses each whole line
    job = _job(batch_service, _pairs(items), tmp_path / "o.parquet", max_resubmits=0, keep_remote_files=True)
    job.spec = dataclasses.replace(job.spec, max_tokens_per_row=None)  # let them reach the service
    with pytest.raises(BatchJobError) as caught:
        job.run()
    assert [(row, row_id) for row, row_id, _ in caught.value.failures] == [(3, "id-3"), (13, "id-13")]
    assert "InvalidParameter" in str(caught.value) and "Range of input length" in str(caught.value)
    assert len(batch_service.stats.batch_texts_billed) == 18  # every neighbour embedded, once
    inputs = [store.path(i).read_bytes() for i in set(store.ids()) - before if store.get(i)["purpose"] == "batch"]
    # the 20 one-row lines go in attempts of at most lines_per_shard (8) lines
    assert sorted(len(data.splitlines()) for data in inputs) == [2, 4, 8, 8]
    for file_id in set(store.ids()) - before:
        store.delete(file_id)


def test_a_kill_after_an_upload_landed_leaves_no_second_file(batch_service, tmp_path, monkeypatch):
    from dashscope_embed.batch.client import BatchAPIClient

    store = batch_service.app.batch_api.files
    before = set(store.ids())
    original = BatchAPIClient.upload

    def upload_then_die(self, path, filename):
        original(self, path, filename)
        raise KeyboardInterrupt  # stored on the service, its id never recorded

    monkeypatch.setattr(BatchAPIClient, "upload", upload_then_die)
    items = texts(30)
    out = tmp_path / "o.parquet"
    with pytest.raises(KeyboardInterrupt):
        _job(batch_service, _pairs(items), out, lines_per_shard=50).run()
    assert len(set(store.ids()) - before) == 1
    monkeypatch.setattr(BatchAPIClient, "upload", original)
    _job(batch_service, _pairs(items), out, lines_per_shard=50).run()
    assert set(store.ids()) == before  # the stored copy was found, used and deleted
    billed_once(batch_service)


def test_rows_still_failing_keep_their_last_code(batch_service, tmp_path):
    batch_service.set_faults(batch_line_failure_rate=1.0, seed=3)
    with pytest.raises(BatchJobError) as caught:
        _job(batch_service, _pairs(texts(30)), tmp_path / "o.parquet", max_resubmits=1).run()
    codes = {code for _, _, code in caught.value.failures}
    # the compatible-mode error body's codes for the injected 500 InternalError and 429 Throttling.RateQuota (which
    # of the two each line drew depends on the service's batch count, so only the set of possible codes is fixed)
    assert codes and codes <= {"internal_error", "limit_requests"}
    assert "internal error" in str(caught.value) or "rate limit" in str(caught.value)  # the service's messages
    assert len(caught.value.failures) == 30


def test_rows_per_line_zero_is_refused(batch_service, tmp_path):
    with pytest.raises(InvalidInputError, match="rows_per_line must be an int from 1 to [0-9]+, got 0"):
        _job(batch_service, _pairs(texts(5)), tmp_path / "o.parquet", rows_per_line=0).run()


@pytest.mark.parametrize("option, value, match", [
    ("rows_per_line", 10**20, "rows_per_line must be an int from 1 to"),  # orjson: TypeError writing the state
    ("max_resubmits", 2**64, "max_resubmits must be an int from 0 to"),
    ("poll_interval", float("inf"), "poll_interval must be > 0 and at most"),  # time.sleep: OverflowError
    ("poll_interval", float("nan"), "poll_interval must be > 0 and at most"),  # time.sleep: ValueError
    ("max_poll_interval", float("inf"), "max_poll_interval must be > 0 and at most"),
])
def test_option_values_the_job_cannot_store_or_wait_are_refused_before_any_upload(
        batch_service, tmp_path, option, value, match):
    before = set(batch_service.app.batch_api.files.ids())
    with pytest.raises(InvalidInputError, match=match):
        _job(batch_service, _pairs(texts(5)), tmp_path / "o.parquet", **{option: value}).run()
    assert set(batch_service.app.batch_api.files.ids()) == before


def test_shards_keep_their_line_limit_after_rows_per_line_shrinks(batch_service, tmp_path):
    set_limits(batch_service, smaller(max_concurrent_batches=1))
    store = batch_service.app.batch_api.files
    before = set(store.ids())
    items = texts(150)
    out = tmp_path / "o.parquet"
    # 15-row lines fail (the row limit is 10); one batch at a time, so later chunks are planned after the shrink
    _job(batch_service, _pairs(items), out, rows_per_line=15, lines_per_shard=2, chunk_size=30,
         keep_remote_files=True, limits=smaller(max_concurrent_batches=1)).run()
    firsts = [store.path(i).read_bytes() for i in store.ids()
              if i not in before and store.get(i)["filename"].endswith("attempt 0.jsonl")]
    assert all(len(data.splitlines()) <= 2 for data in firsts)
    sizes = [len(orjson.loads(line)["body"]["input"]) for data in firsts for line in data.splitlines()]
    assert 15 in sizes and 10 in sizes  # some shards were planned after the shrink
    np.testing.assert_array_equal(dense(out, DIM), realtime(batch_service, items, DIM))
    for file_id in set(store.ids()) - before:
        store.delete(file_id)


def test_the_environment_is_read_through_settings(batch_service, tmp_path, monkeypatch):
    import dashscope_embed.batch.coordinator as coordinator

    monkeypatch.setattr(coordinator, "environment_defaults", lambda: {"base_url": batch_service.base_url})
    job = BatchEmbeddingJob(_pairs(["a"]), tmp_path / "o.parquet", BatchJobOptions(region="singapore"))
    assert job.explicit_base_url


def test_the_service_streams_a_running_batch_from_disk(batch_service):
    batch_service.set_faults(batch_step_delay=0.05, batch_lines_per_step=1)
    data = b"\n".join(orjson.dumps({"custom_id": f"c{i}", "method": "POST", "url": "/v1/embeddings",
                                    "body": {"model": "text-embedding-v4", "input": [f"t{i}"], "dimensions": 64}})
                      for i in range(40))
    base = f"{batch_service.base_url}/compatible-mode/v1"
    file_id = httpx.post(f"{base}/files", files={"file": ("in.jsonl", data)}, data={"purpose": "batch"}).json()["id"]
    batch = httpx.post(f"{base}/batches", json={"input_file_id": file_id, "endpoint": "/v1/embeddings",
                                                "completion_window": "24h"}).json()
    import time

    for _ in range(200):
        if httpx.get(f"{base}/batches/{batch['id']}").json()["status"] == "in_progress":
            break
        time.sleep(0.01)
    run = next(r for r in batch_service.app.batch_api._runs if r.batch["id"] == batch["id"])
    held = [v for v in vars(run).values() if isinstance(v, list)]
    assert run.total == 40 and not any(held)  # no copy of the lines in memory
    httpx.post(f"{base}/batches/{batch['id']}/cancel")


class LoseCreationAndListing(LoseReplies):
    """The creation's reply is lost and listing batches fails with 503 until ``fixed``."""

    def __init__(self) -> None:
        super().__init__("POST", "/batches")
        self.fixed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path.endswith("/batches") and not self.fixed:
            return httpx.Response(503, json={"error": {"message": "unavailable", "code": "ServiceUnavailable"}})
        return super().handle_request(request)


def test_a_lost_creation_that_cannot_be_looked_up_is_not_sent_again(batch_service, tmp_path):
    items = texts(30)
    out = tmp_path / "o.parquet"
    transport = LoseCreationAndListing()
    with pytest.raises(Exception, match="may have succeeded.*rerun the job to look it up again"):
        _job(batch_service, _pairs(items), out, lines_per_shard=50, max_retries=1, transport=transport).run()
    assert batch_service.stats.batches_created == 1
    transport.fixed = True
    summary = _job(batch_service, _pairs(items), out, lines_per_shard=50, transport=transport).run()
    assert summary.batches == 0 and batch_service.stats.batches_created == 1  # found by its ds_name
    billed_once(batch_service)
