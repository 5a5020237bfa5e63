"""``dashscope_embed.ray.embed_dataset`` on a local Ray cluster against the local service (hash backend).

The quota tests run the issue's case at 15 rows per request instead of 10 (text-embedding-v2, whose documented
limit is 25, capped at 15 through ``catalog_overrides``): 2,000 texts are then 134 requests, more than the 120 a
60-second window admits, so the window is really exercised, and the paced run takes about 70 s instead of 105.
``benchmarks/ray_quota.py`` runs the same case at 10 rows per request (text-embedding-v4, 200 requests).
"""

from __future__ import annotations

import gc
import math
import time

import numpy as np
import pytest
import ray.data

from dashscope_embed import DashScopeEmbedder, InvalidInputError
from dashscope_embed.ray import embed_dataset
from dashscope_embed.server import FaultConfig

QUOTA_RPM = 120
QUOTA_ROWS = 15
QUOTA_TEXTS = 2000


def make_rows(n: int, text_column: str = "text") -> list[dict]:
    return [{"id": i, text_column: f"row {i}: {'lorem ipsum ' * (1 + i % 7)}dolor {i * 7919 % 1000}"} for i in range(n)]


def fails(dataset, error, match=None):
    """Consume ``dataset`` expecting ``error``; then wait until the failed job's actors have given their CPUs
    back (they go when the last reference to its executor does), so the next job's pool can start."""
    with pytest.raises(error, match=match) as info:
        dataset.take_all()
    caught = info.value
    del info, dataset
    deadline = time.monotonic() + 60
    while ray.available_resources().get("CPU", 0) < ray.cluster_resources().get("CPU", 0):
        gc.collect()
        assert time.monotonic() < deadline, f"the failed job's actors still hold CPUs: {ray.available_resources()}"
        time.sleep(0.2)
    return caught


def by_id(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: r["id"])


@pytest.fixture
def service(ray_cluster, hash_service):
    return hash_service


@pytest.fixture
def engine_kwargs(service):
    return dict(model="text-embedding-v4", dimensions=64, base_url=service.base_url, max_concurrency=4,
                retry_base_delay=0.01, retry_max_delay=0.05)


def reference(**kwargs) -> DashScopeEmbedder:
    return DashScopeEmbedder(kwargs.pop("model"), **kwargs)


# ---------------------------------------------------------------------------------------------- dense and sparse


def test_every_row_once_with_the_real_time_engines_vectors(service, engine_kwargs):
    rows = make_rows(500)
    texts = [r["text"] for r in rows]
    with reference(**engine_kwargs) as engine:
        expected = engine.embed(texts).dense
    service.reset_stats()

    out = embed_dataset(ray.data.from_items(rows), concurrency=2, batch_size=64, **engine_kwargs)
    got = by_id(out.take_all())

    assert [r["id"] for r in got] == list(range(500))
    assert [r["text"] for r in got] == texts  # input columns kept
    np.testing.assert_array_equal(np.asarray([r["embedding"] for r in got], dtype=np.float32), expected)
    stats = service.stats.snapshot()
    assert stats.rows == 500  # each text sent once
    assert stats.ok == stats.requests >= 50


def test_query_side_text_type(service, engine_kwargs):
    rows = make_rows(30)
    texts = [r["text"] for r in rows]
    with reference(**engine_kwargs) as engine:
        expected = engine.embed(texts, text_type="query").dense
        documents = engine.embed(texts, text_type="document").dense
    got = by_id(embed_dataset(ray.data.from_items(rows), text_type="query", **engine_kwargs).take_all())
    vectors = np.asarray([r["embedding"] for r in got], dtype=np.float32)
    np.testing.assert_array_equal(vectors, expected)
    assert not np.array_equal(vectors, documents)


def test_sparse_column(service, engine_kwargs):
    rows = make_rows(40, text_column="body")
    texts = [r["body"] for r in rows]
    with reference(**engine_kwargs) as engine:
        expected = engine.embed(texts, output_type="sparse").sparse
    out = embed_dataset(ray.data.from_items(rows), text_column="body", output_column="sparse", batch_size=16,
                        **dict(engine_kwargs, output_type="sparse"))
    got = by_id(out.take_all())
    assert "embedding" not in got[0]
    for row, vector in zip(got, expected):
        assert row["sparse"]["indices"] == list(vector.indices)
        np.testing.assert_array_equal(np.float32(row["sparse"]["values"]), np.float32(vector.values))


def test_dense_and_sparse_columns_from_one_request_per_group(service, engine_kwargs):
    rows = make_rows(40)
    texts = [r["text"] for r in rows]
    with reference(**engine_kwargs) as engine:
        expected = engine.embed(texts, output_type="dense&sparse")
    service.reset_stats()
    out = embed_dataset(ray.data.from_items(rows), batch_size=20, **dict(engine_kwargs, output_type="dense&sparse"))
    got = by_id(out.take_all())
    np.testing.assert_array_equal(np.asarray([r["embedding"] for r in got], dtype=np.float32), expected.dense)
    assert [r["sparse_embedding"]["indices"] for r in got] == [list(v.indices) for v in expected.sparse]
    stats = service.stats.snapshot()
    assert stats.rows == 40 and stats.ok == stats.requests  # one request gives both halves


# ---------------------------------------------------------------------------------------------- errors


def test_arguments_are_checked_before_any_actor_starts(service, engine_kwargs):
    ds = ray.data.from_items(make_rows(3))
    with pytest.raises(InvalidInputError, match="dimension"):
        embed_dataset(ds, **dict(engine_kwargs, dimensions=100))
    with pytest.raises(InvalidInputError, match="dimension"):
        embed_dataset(ds, **dict(engine_kwargs, dimension=512))  # not an engine argument: refused by name
    with pytest.raises(InvalidInputError, match="concurrency"):
        embed_dataset(ds, concurrency=0, **engine_kwargs)
    with pytest.raises(InvalidInputError, match="requests_per_minute"):
        embed_dataset(ds, requests_per_minute=0, **engine_kwargs)
    with pytest.raises(InvalidInputError, match="text_type"):
        embed_dataset(ds, text_type="passage", **engine_kwargs)
    with pytest.raises(InvalidInputError, match="sparse vectors need"):
        embed_dataset(ds, **dict(engine_kwargs, model="text-embedding-v2", dimensions=None, output_type="sparse"))


# ---------------------------------------------------------------------------------------------- the shared quota


def quota_case(service):
    rows = make_rows(QUOTA_TEXTS)
    kwargs = dict(model="text-embedding-v2", base_url=service.base_url, max_concurrency=4,
                  catalog_overrides={"max_rows": QUOTA_ROWS})
    return rows, kwargs


@pytest.mark.slow
def test_two_actors_at_95_percent_of_a_shared_quota_never_see_a_429(service):
    rows, kwargs = quota_case(service)
    texts = [r["text"] for r in rows]
    with DashScopeEmbedder(kwargs["model"], **{k: v for k, v in kwargs.items() if k != "model"}) as engine:
        expected = engine.embed(texts).dense
    service.set_faults(FaultConfig(rpm=QUOTA_RPM))  # the RPM window starts empty here
    service.reset_stats()

    out = embed_dataset(ray.data.from_items(rows), concurrency=2, requests_per_minute=0.95 * QUOTA_RPM,
                        batch_size=150, **kwargs)
    got = by_id(out.take_all())

    stats = service.stats.snapshot()
    assert stats.requests >= math.ceil(QUOTA_TEXTS / QUOTA_ROWS) > QUOTA_RPM  # more than one window admits
    assert stats.by_status.get(429, 0) == 0
    assert stats.ok == stats.requests
    assert stats.rows == QUOTA_TEXTS  # each text sent once
    assert [r["id"] for r in got] == list(range(QUOTA_TEXTS))
    np.testing.assert_array_equal(np.asarray([r["embedding"] for r in got], dtype=np.float32), expected)


# ---------------------------------------------------------------------------------------------- RayIngestionPipeline


@pytest.mark.needs_newest(reason="llama-index-ingestion-ray (the dev extra) needs llama-index-core >= 0.13")
def test_dashscope_embedding_in_a_ray_ingestion_pipeline(ray_cluster, hash_service):
    """``DashScopeEmbedding`` as a transformation of llama-index-ingestion-ray's ``RayIngestionPipeline``."""
    pytest.importorskip("llama_index_dashscope_embed", reason="the LlamaIndex extra is not installed")
    ingestion_ray = pytest.importorskip(
        "llama_index.ingestion.ray", reason="llama-index-ingestion-ray is not installed (the dev extra has it)"
    )
    from llama_index.core import Document
    from llama_index.core.schema import MetadataMode

    from llama_index_dashscope_embed import DashScopeEmbedding

    settings = dict(model_name="text-embedding-v4", dimensions=128, base_url=hash_service.base_url)
    documents = [Document(text=f"document {i}: " + "words " * (i % 9 + 1), metadata={"n": i}) for i in range(120)]
    pipeline = ingestion_ray.RayIngestionPipeline(
        transformations=[
            ingestion_ray.RayTransformComponent(
                transform_class=DashScopeEmbedding,
                transform_kwargs=settings,
                map_batches_kwargs={"batch_size": 40, "compute": ray.data.ActorPoolStrategy(size=2)},
            )
        ]
    )

    nodes = pipeline.run(documents=documents)

    assert sorted(n.metadata["n"] for n in nodes) == list(range(120))
    assert hash_service.stats.rows == 120  # every node sent once
    reference = DashScopeEmbedding(**settings)
    by_n = {n.metadata["n"]: n for n in nodes}
    texts = [by_n[i].get_content(metadata_mode=MetadataMode.EMBED) for i in range(120)]
    expected = reference.get_text_embedding_batch(texts)
    assert [by_n[i].embedding for i in range(120)] == expected
