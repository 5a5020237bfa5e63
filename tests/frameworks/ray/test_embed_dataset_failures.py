"""``embed_dataset`` jobs that fail: typed errors reach the caller, never empty vectors.

Each test runs on a cluster of its own: a Ray Data job that fails with ``raise_original_map_exception`` can keep
one actor (and its CPU) alive after the exception reaches the caller, and on a 2-CPU cluster the next job's pool
would then never start. A fresh cluster per failing job keeps the tests independent of that.
"""

from __future__ import annotations

import os

import pytest
import ray.data

from dashscope_embed import DashScopeEmbedder, InvalidInputError, RateLimitError, ServerError
from dashscope_embed.ray import _EmbedBatches, embed_dataset
from dashscope_embed.server import FaultConfig
from test_embed_dataset import QUOTA_RPM, make_rows, quota_case


@pytest.fixture
def fresh_cluster():
    """A 2-CPU local cluster for one test, shut down after it (its actors with it)."""
    if ray.is_initialized():
        ray.shutdown()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield ray
    ray.shutdown()


@pytest.fixture
def engine_kwargs(fresh_cluster, hash_service):
    return dict(model="text-embedding-v4", dimensions=64, base_url=hash_service.base_url, max_concurrency=4,
                retry_base_delay=0.01, retry_max_delay=0.05)


def test_a_missing_text_column_is_named(engine_kwargs):
    with pytest.raises(InvalidInputError, match="no column 'text'.*'body'"):
        embed_dataset(ray.data.from_items(make_rows(5, text_column="body")), **engine_kwargs).take_all()


def test_a_blank_text_is_named_by_its_position(engine_kwargs):
    rows = make_rows(5)
    rows[3]["text"] = "   "
    with pytest.raises(InvalidInputError, match=r"\[3\] whitespace only"):
        embed_dataset(ray.data.from_items(rows), **engine_kwargs).take_all()


def test_an_output_column_that_exists_is_refused(engine_kwargs):
    with pytest.raises(InvalidInputError, match="already has column"):
        embed_dataset(ray.data.from_items(make_rows(5)), output_column="id", **engine_kwargs).take_all()


def test_a_failed_request_fails_the_job_with_the_cores_error(engine_kwargs, hash_service):
    hash_service.set_faults(FaultConfig(rate_500=1.0))
    out = embed_dataset(ray.data.from_items(make_rows(20)), **dict(engine_kwargs, max_retries=1))
    with pytest.raises(ServerError) as caught:
        out.take_all()
    assert caught.value.status_code == 500
    assert caught.value.attempts == 2


@pytest.mark.slow
def test_two_actors_each_paced_at_the_full_quota_hit_429s(fresh_cluster, hash_service):
    """The control: pacing per actor, as other integrations do, sends twice the quota."""
    rows, kwargs = quota_case(hash_service)
    hash_service.set_faults(FaultConfig(rpm=QUOTA_RPM))
    hash_service.reset_stats()
    engine = DashScopeEmbedder(kwargs.pop("model"), requests_per_minute=QUOTA_RPM, max_retries=0, **kwargs)
    out = ray.data.from_items(rows).map_batches(
        _EmbedBatches,
        fn_constructor_kwargs=dict(engine=engine, limiter=None, text_column="text", output_column="embedding",
                                   sparse_column="sparse_embedding", text_type="document"),
        batch_format="pyarrow", batch_size=150, compute=ray.data.ActorPoolStrategy(size=2),
    )
    out.context.raise_original_map_exception = True
    with pytest.raises(RateLimitError):
        out.take_all()
    assert hash_service.stats.by_status.get(429, 0) >= 1
