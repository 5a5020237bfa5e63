"""Job ids are unique per output file and per account/workspace, so two jobs never adopt each other's batches."""

from __future__ import annotations

import httpx
import numpy as np
from support.batch_helpers import dense, realtime, texts

from dashscope_embed.batch import BatchEmbeddingJob, BatchJobOptions
from dashscope_embed.settings import resolve_connection


class LoseFirstCreation(httpx.HTTPTransport):
    """Fails the first ``POST /batches`` with a connection error before it reaches the service: the client cannot
    tell whether the batch was created, so it looks it up by its ``ds_name`` before sending again."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/batches") and not self.lost:
            self.lost += 1
            raise httpx.ConnectError("connection reset", request=request)
        return super().handle_request(request)


def _options(service, **changes) -> BatchJobOptions:
    return BatchJobOptions(base_url=service.base_url, dimensions=64, poll_interval=0.02, max_poll_interval=0.05,
                           **changes)


def test_two_outputs_of_the_same_input_get_their_own_batches(batch_service, tmp_path):
    items = texts(30)
    pairs = [(f"id-{i}", t) for i, t in enumerate(items)]
    BatchEmbeddingJob(pairs, tmp_path / "a.parquet", _options(batch_service)).run()
    assert batch_service.stats.batches_created == 1
    # job B: same input and options, another output; its first creation may or may not have landed, so it
    # looks its batch up by name: it must not find (and adopt, then delete the files of) job A's batch
    transport = LoseFirstCreation()
    BatchEmbeddingJob(pairs, tmp_path / "b.parquet", _options(batch_service, transport=transport)).run()
    assert transport.lost == 1
    names = batch_service.stats.batch_names
    assert batch_service.stats.batches_created == 2 and len(names) == 2 and set(names.values()) == {1}, names
    expected = realtime(batch_service, items, 64)
    np.testing.assert_allclose(dense(tmp_path / "b.parquet", 64), expected, rtol=0, atol=1e-6)


def test_job_id_depends_on_output_account_and_workspace_never_holds_the_key(tmp_path):
    job = BatchEmbeddingJob([("a", "x")], tmp_path / "o.parquet", BatchJobOptions())
    other = BatchEmbeddingJob([("a", "x")], tmp_path / "p.parquet", BatchJobOptions())
    root = "https://dashscope.aliyuncs.com"
    one = resolve_connection(base_url=root, api_key="sk-one-0123456789abcdef")
    two = resolve_connection(base_url=root, api_key="sk-two-0123456789abcdef")
    spaced = resolve_connection(base_url=root, api_key="sk-one-0123456789abcdef", workspace="ws-1")
    key = "0" * 64
    ids = {job.job_id(key, one), job.job_id(key, two), job.job_id(key, spaced), other.job_id(key, one)}
    assert len(ids) == 4
    assert job.job_id(key, one) == job.job_id(key, one)  # stable: a rerun finds its own batches
    state = job.new_state(key, one)
    assert b"sk-one" not in state.to_json() and "sk-one" not in repr(state)
