"""Native text endpoint: reply shapes, vectors, sparse output, usage."""

from __future__ import annotations

import uuid
from collections import Counter

import numpy as np
import pytest
from support.svc_helpers import TEXT, embed, vectors

from dashscope_embed import tokens
from dashscope_embed.catalog import get_model_spec


def test_reply_shape_and_default_dimension(client):
    r = embed(client, ["hello", "world"])
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"output", "usage", "request_id"}
    uuid.UUID(body["request_id"])
    assert r.headers["x-request-id"] == body["request_id"]
    items = body["output"]["embeddings"]
    assert [item["text_index"] for item in items] == [0, 1]
    assert all(set(item) == {"embedding", "text_index"} for item in items)
    assert len(items[0]["embedding"]) == get_model_spec("text-embedding-v4").default_dimension
    assert np.allclose(np.linalg.norm(vectors(r), axis=1), 1.0, atol=1e-5)


def test_usage_counts_qwen_tokens(client):
    texts = ["The quick brown fox", "敏捷的棕色狐狸跳过了懒狗"]
    r = embed(client, texts)
    assert r.json()["usage"] == {"total_tokens": sum(tokens.count_tokens(t) for t in texts)}


def test_single_string_input_is_accepted(client):
    r = embed(client, "just one text")
    assert r.status_code == 200
    assert len(r.json()["output"]["embeddings"]) == 1


@pytest.mark.parametrize("model", ["text-embedding-v4", "text-embedding-v3", "text-embedding-v2", "text-embedding-v1"])
def test_every_allowed_dimension(client, model):
    spec = get_model_spec(model)
    for dim in spec.dimensions:
        r = embed(client, ["a text"], model=model, dimension=dim)
        assert r.status_code == 200, r.text
        assert len(r.json()["output"]["embeddings"][0]["embedding"]) == dim


def test_identical_inputs_identical_vectors_and_text_type_matters(client):
    a = vectors(embed(client, ["same text", "other text"], text_type="document"))
    b = vectors(embed(client, ["same text", "other text"], text_type="document"))
    q = vectors(embed(client, ["same text", "other text"], text_type="query"))
    assert np.array_equal(a, b)
    assert not np.allclose(a[0], q[0])
    assert not np.allclose(a[0], a[1])
    # No text_type means "document", as documented.
    assert np.array_equal(vectors(embed(client, ["same text"])), a[:1])


def test_instruct_changes_query_vectors_only(client):
    plain_q = vectors(embed(client, ["q"], text_type="query"))
    inst_q = vectors(embed(client, ["q"], text_type="query", instruct="Find the FAQ answer"))
    plain_d = vectors(embed(client, ["q"], text_type="document"))
    inst_d = vectors(embed(client, ["q"], text_type="document", instruct="Find the FAQ answer"))
    assert not np.allclose(plain_q, inst_q)
    assert np.array_equal(plain_d, inst_d)


def test_sparse_only_has_no_dense_vector(client):
    text = "a cat and a dog and a bird"
    r = embed(client, [text, "cherry"], output_type="sparse")
    assert r.status_code == 200
    items = r.json()["output"]["embeddings"]
    assert all("embedding" not in item and "sparse_embedding" in item for item in items)
    sparse = items[0]["sparse_embedding"]
    counts = Counter(tokens.encode(text))
    assert [e["index"] for e in sparse] == list(counts)  # one entry per distinct token, in order of appearance
    assert all(e["token"] == tokens.decode([e["index"]]) for e in sparse)
    weight = {e["index"]: e["value"] for e in sparse}
    repeated = max(counts, key=counts.__getitem__)
    once = min(counts, key=counts.__getitem__)
    assert counts[repeated] > 1 and weight[repeated] > weight[once]
    assert abs(sum(v * v for v in weight.values()) - 1.0) < 1e-4


def test_dense_and_sparse(client):
    r = embed(client, ["hello world"], output_type="dense&sparse", dimension=128)
    item = r.json()["output"]["embeddings"][0]
    assert len(item["embedding"]) == 128
    assert [e["index"] for e in item["sparse_embedding"]] == tokens.encode("hello world")


def test_unknown_parameters_are_ignored_and_recorded(service, client):
    r = embed(client, ["x"], kwargs={"text_type": "query"})
    assert r.status_code == 200
    assert service.stats.recent[-1].parameters == {"kwargs": {"text_type": "query"}}
    assert service.stats.recent[-1].endpoint == "text"


def test_parameters_absent_or_null(client):
    assert client.post(TEXT, json={"model": "text-embedding-v3", "input": {"texts": ["x"]}}).status_code == 200
    r = client.post(TEXT, json={"model": "text-embedding-v3", "input": {"texts": ["x"]}, "parameters": None})
    assert r.status_code == 200


def test_stats_count_success(service, client):
    embed(client, ["a", "b", "c"])
    embed(client, ["a"] * 11)
    snap = service.stats.snapshot()
    assert snap.requests == 2
    assert snap.ok == 1
    assert snap.rows == 3
    assert snap.by_status == {200: 1, 400: 1}
    assert snap.replies_200 == 1
