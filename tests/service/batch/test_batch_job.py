"""BatchEmbeddingJob against the local service: results, cost, resubmission, expiry, validation, refusals."""

from __future__ import annotations

import time

import numpy as np
import pyarrow.parquet as pq
import pytest
from support.batch_helpers import billed_once, dense, realtime, texts

from dashscope_embed.batch import BatchEmbeddingJob, BatchJobError, BatchJobOptions, state_path_for
from dashscope_embed.catalog import CATALOG
from dashscope_embed.errors import InvalidInputError
from dashscope_embed.jobs.errors import BulkJobError
from dashscope_embed.jobs.workdir import work_dir_for

DIM = 64


def _job(svc, rows, out, **options):
    options = {"dimensions": DIM, "base_url": svc.base_url, "poll_interval": 0.02, "lines_per_shard": 8,
               "chunk_size": 40, "log": lambda line: None, **options}
    return BatchEmbeddingJob(rows, out, BatchJobOptions(**options))


def _pairs(items):
    return [(f"id-{i}", t) for i, t in enumerate(items)]


def test_vectors_order_cost_and_cleanup(batch_service, tmp_path):
    items = texts(250)
    out = tmp_path / "out.parquet"
    summary = _job(batch_service, _pairs(items), out).run()
    table = pq.read_table(out)
    assert table.column("id").to_pylist() == [f"id-{i}" for i in range(250)]
    np.testing.assert_array_equal(dense(out, DIM), realtime(batch_service, items, DIM))
    billed_once(batch_service)
    assert batch_service.stats.batch_lines_billed == 25 == summary.requests  # 10 rows a line
    spec = CATALOG["text-embedding-v4"]
    assert summary.batch_tokens == summary.tokens > 0
    assert summary.cost_cny() == pytest.approx(summary.tokens / 1e6 * spec.batch_price_per_million_tokens_cny)
    assert summary.realtime_cost_cny() == pytest.approx(2 * summary.cost_cny())
    text = "\n".join(summary.lines())
    assert "at the Batch API price" in text and "real-time price" in text
    # every uploaded and result file is deleted; no work left beside the output
    assert batch_service.app.batch_api.files.ids() == []
    assert not work_dir_for(out).exists() and not state_path_for(out).exists()
    # a rerun does nothing
    again = _job(batch_service, _pairs(items), out).run()
    assert again.already_complete and batch_service.stats.batches_created == summary.batches


def test_keep_remote_files_and_one_row_per_line(batch_service, tmp_path):
    items = texts(30)
    store = batch_service.app.batch_api.files
    summary = _job(batch_service, _pairs(items), tmp_path / "o.parquet", rows_per_line=1, lines_per_shard=50,
                   keep_remote_files=True).run()
    assert summary.requests == 30 and summary.batches == 1
    assert len(store.ids()) == 2  # the input file and the output file (no errors, so no error file)
    for file_id in store.ids():
        store.delete(file_id)


def test_row_limit_error_resplits_the_line(batch_service, tmp_path):
    items = texts(60)
    out = tmp_path / "o.parquet"
    summary = _job(batch_service, _pairs(items), out, rows_per_line=15, lines_per_shard=50).run()
    np.testing.assert_array_equal(dense(out, DIM), realtime(batch_service, items, DIM))
    billed_once(batch_service)
    assert summary.batches == 2  # the first attempt failed every 15-row line; the resubmission split them at 10


def test_failed_lines_are_resubmitted_and_billed_once(batch_service, tmp_path):
    batch_service.set_faults(batch_line_failure_rate=0.3, seed=5)
    items = texts(300)
    out = tmp_path / "o.parquet"
    summary = _job(batch_service, _pairs(items), out, max_resubmits=8).run()
    np.testing.assert_array_equal(dense(out, DIM), realtime(batch_service, items, DIM))
    billed_once(batch_service)
    shards = -(-30 // 8)
    assert summary.batches > shards  # some lines failed and went again in new batches
    assert batch_service.stats.batch_lines_billed == 30


def test_expired_rows_are_resubmitted_then_listed_then_fall_back(batch_service, tmp_path):
    batch_service.set_faults(batch_expire_rate=1.0, batch_expire_fraction=0.5)
    items = texts(160)
    out = tmp_path / "o.parquet"
    with pytest.raises(BatchJobError) as caught:
        _job(batch_service, _pairs(items), out, max_resubmits=1, lines_per_shard=16).run()
    # 16 lines: 8 done in the first batch, 4 in the resubmission, 4 lines (40 rows) never executed
    failures = caught.value.failures
    assert len(failures) == 40 and {code for _, _, code in failures} == {"not_executed"}
    assert all(row_id == f"id-{row}" for row, row_id, _ in failures)
    assert "id-" in str(caught.value) and "not_executed" in str(caught.value)
    billed_before = batch_service.stats.batch_texts_billed
    assert len(billed_before) == 120
    rows_before = batch_service.stats.rows
    summary = _job(batch_service, _pairs(items), out, max_resubmits=1, lines_per_shard=16,
                   fallback_realtime=True).run()
    assert summary.fallback_rows == 40 and batch_service.stats.rows - rows_before == 40
    assert batch_service.stats.batch_texts_billed == billed_before  # nothing went to a batch again
    np.testing.assert_array_equal(dense(out, DIM), realtime(batch_service, items, DIM))


def test_validation_failure_names_lines_and_codes(batch_service, tmp_path):
    batch_service.set_faults(batch_validation_failure_rate=1.0)
    with pytest.raises(BatchJobError, match=r"failed batch .*: line \d+ \(rows \d+-\d+, ids 'id-\d+'.*\): "
                                            r"invalid_request: .*injected validation fault"):
        _job(batch_service, _pairs(texts(20)), tmp_path / "o.parquet").run()


def test_region_without_embedding_batches_is_refused(batch_service, tmp_path, monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test-not-sent")
    for region in ("singapore", "hongkong"):
        with pytest.raises(InvalidInputError, match="China \\(Beijing\\) only"):
            BatchEmbeddingJob(_pairs(["a"]), tmp_path / "o.parquet", BatchJobOptions(region=region)).run()
    # an explicit base_url is the user's choice
    _job(batch_service, _pairs(texts(5)), tmp_path / "o.parquet", region="singapore").run()


def test_bad_input_fails_before_uploading(batch_service, tmp_path):
    out = tmp_path / "o.parquet"
    with pytest.raises(InvalidInputError, match="multimodal-embedding-v1 is not offered.*text-embedding-v4"):
        BatchEmbeddingJob(_pairs(["a"]), out, BatchJobOptions(model="multimodal-embedding-v1",
                                                               base_url=batch_service.base_url)).run()
    with pytest.raises(InvalidInputError, match=r"row 2 \(id 'c'\): text must be a string, got int"):
        _job(batch_service, [("a", "x"), ("b", "y"), ("c", 3)], out).run()
    with pytest.raises(InvalidInputError, match=r"row 1 \(id 'b'\): text holds a lone surrogate '\\ud800'"):
        _job(batch_service, [("a", "x"), ("b", "y \ud800"), ("c", "z")], out).run()
    with pytest.raises(BulkJobError, match="id 'b' of .* is empty"):
        _job(batch_service, [("a", "x"), ("b", "  ")], out, skip_empty=False).run()
    with pytest.raises(InvalidInputError, match="re-iterable"):
        _job(batch_service, iter([("a", "x")]), out).run()
    assert batch_service.stats.requests == 0


def test_empty_rows_are_skipped_and_counted(batch_service, tmp_path):
    items = [t if i % 7 else "" for i, t in enumerate(texts(50))]
    out = tmp_path / "o.parquet"
    summary = _job(batch_service, _pairs(items), out).run()
    kept = [t for t in items if t]
    assert summary.skipped_empty == 50 - len(kept) and summary.rows == len(kept)
    assert pq.read_table(out).column("id").to_pylist() == [f"id-{i}" for i, t in enumerate(items) if t]
    np.testing.assert_array_equal(dense(out, DIM), realtime(batch_service, kept, DIM))


def test_output_or_state_of_another_job_is_refused(batch_service, tmp_path):
    out = tmp_path / "o.parquet"
    _job(batch_service, _pairs(texts(10)), out).run()
    created = batch_service.stats.batches_created
    with pytest.raises(BulkJobError, match="holds something else"):
        _job(batch_service, _pairs(texts(10, seed=1)), out).run()
    other = tmp_path / "p.parquet"
    state_path_for(other).write_bytes(b'{"version": 1, "key": "other", "job_id": "x", "model": "m", "dimension": 1,'
                                      b' "completion_window": "24h", "rows_per_line": 1, "lines_per_shard": 1,'
                                      b' "chunk_size": 1, "root": "r", "input": "i"}')
    with pytest.raises(BatchJobError, match="belongs to a different job"):
        _job(batch_service, _pairs(texts(10)), other).run()
    assert batch_service.stats.batches_created == created


def test_a_creation_whose_reply_was_lost_is_found_not_repeated(batch_service, tmp_path, monkeypatch):
    from dashscope_embed.batch.remote import BatchFileRemote

    items = texts(80)
    out = tmp_path / "o.parquet"

    def crash_after_create(attempt, batch):
        raise KeyboardInterrupt  # the batch exists on the service, the state does not know its id

    monkeypatch.setattr(BatchFileRemote, "record", staticmethod(crash_after_create))
    with pytest.raises(KeyboardInterrupt):
        _job(batch_service, _pairs(items), out).run()
    assert batch_service.stats.batches_created == 1
    monkeypatch.undo()
    _job(batch_service, _pairs(items), out).run()
    billed_once(batch_service)  # the first shard's batch was found by its ds_name, not created again
    assert len(batch_service.stats.batch_names) == batch_service.stats.batches_created == 1
    np.testing.assert_array_equal(dense(out, DIM), realtime(batch_service, items, DIM))


def _all_submitted(path) -> bool:
    import orjson

    try:
        state = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return False
    attempts = [a for shard in state["shards"] for a in shard["attempts"]]
    return state["input_rows"] is not None and bool(attempts) and all(a["remote_id"] for a in attempts)


def test_status_and_cancel_from_the_state_file(batch_service, tmp_path, capsys):
    import threading

    from dashscope_embed.cli import main

    batch_service.set_faults(batch_step_delay=0.05, batch_lines_per_step=1)
    out = tmp_path / "o.parquet"
    job = _job(batch_service, _pairs(texts(100)), out, lines_per_shard=5)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            job.run()
        except BaseException as exc:
            errors.append(exc)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    deadline = time.monotonic() + 20
    while not _all_submitted(state_path_for(out)):  # planning done, every shard's batch created
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert main(["batch", "status", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "shard 0 rows 0-" in shown and ("in_progress" in shown or "validating" in shown)
    assert main(["batch", "cancel", str(out)]) == 0
    assert "cancelled" in capsys.readouterr().out
    created = batch_service.stats.batches_created
    batch_service.set_faults(None)
    runner.join(30)
    assert not runner.is_alive()
    # the running job stops: nothing more is created, the cancelled lines are not resubmitted
    assert len(errors) == 1 and isinstance(errors[0], BatchJobError) and "cancelled" in str(errors[0])
    assert batch_service.stats.batches_created == created and not out.exists()
    # a rerun resumes: every row is in the output, each billed once
    job.run()
    assert pq.read_table(out).num_rows == 100
    billed_once(batch_service)
    assert main(["batch", "status", str(out)]) == 0
    assert "is complete (100 rows)" in capsys.readouterr().out


def test_never_more_batches_at_once_than_the_account_runs(batch_service, tmp_path):
    from support.batch_helpers import set_limits, smaller

    limits = smaller(max_concurrent_batches=2)
    set_limits(batch_service, limits)
    batch_service.set_faults(batch_step_delay=0.01, batch_lines_per_step=1)
    items = texts(200)
    out = tmp_path / "o.parquet"
    summary = _job(batch_service, _pairs(items), out, lines_per_shard=4, limits=limits).run()
    assert summary.batches == 5 and batch_service.stats.by_status.get(429, 0) == 0
    np.testing.assert_array_equal(dense(out, DIM), realtime(batch_service, items, DIM))


def test_batch_execution_stops_with_the_service(tmp_path):
    import httpx

    from dashscope_embed.server import FaultConfig, LocalService

    service = LocalService(backend="hash", faults=FaultConfig(batch_step_delay=0.5, batch_lines_per_step=1)).start()
    base = f"{service.base_url}/compatible-mode/v1"
    line = b'{"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {"model": "text-embedding-v4", "input": ["x"]}}'
    file_id = httpx.post(f"{base}/files", files={"file": ("a.jsonl", b"\\n".join([line.replace(b'"a"', f'"{i}"'.encode()) for i in range(100)]))},
                         data={"purpose": "batch"}).json()["id"]
    batch = httpx.post(f"{base}/batches", json={"input_file_id": file_id, "endpoint": "/v1/embeddings",
                                                 "completion_window": "24h"}).json()
    assert batch["status"] == "validating"
    thread = service._thread
    started = time.monotonic()
    service.stop()
    assert not thread.is_alive() and time.monotonic() - started < 10  # the batch (50 s of work) did not hold it
    assert service.app.batch_api.batches[batch["id"]]["request_counts"]["completed"] < 100
