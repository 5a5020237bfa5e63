"""The core engine against recorded DashScope exchanges (replayed; see CONTRIBUTING.md to re-record)."""

from __future__ import annotations

import json

from support import cassette_support as cs
from support import core_scenarios as sc
import numpy as np
import pytest

from dashscope_embed import AuthenticationError

pytestmark = pytest.mark.vcr


def bodies(cassette):
    return [json.loads(r.body) for r in cassette.requests]


def paths(cassette):
    return [r.path for r in cassette.requests]


def assert_exchanges(cassette, n):
    """The calls made exactly ``n`` requests, and a replay used every recorded one."""
    assert len(cassette.requests) == n
    if cassette.record_mode == "none":
        assert cassette.play_count == n


def assert_unit_rows(dense, n, d=64):
    assert dense.shape == (n, d) and dense.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(dense, axis=1), 1.0, atol=1e-3)
    # distinct inputs, distinct vectors
    assert len({row.tobytes() for row in dense}) == n


def test_native_dense_documents(target, vcr):
    result = sc.native_dense_documents(target)
    assert_unit_rows(result.dense, len(sc.DOCUMENTS))
    assert result.sparse is None
    assert result.usage.requests == 1 and result.usage.total_tokens > 0
    assert len(result.request_ids) == 1 and result.request_ids[0]
    assert bodies(vcr) == [
        {
            "model": "text-embedding-v4",
            "input": {"texts": sc.DOCUMENTS},
            "parameters": {"dimension": 64, "text_type": "document"},
        }
    ]
    assert paths(vcr) == ["/api/v1/services/embeddings/text-embedding/text-embedding"]
    assert_exchanges(vcr, 1)


def test_query_and_document(target, vcr):
    query, document, instructed = sc.query_and_document(target)
    for result in (query, document, instructed):
        assert_unit_rows(result.dense, 1)
    # the same text embedded as a query, a document and an instructed query gives three different vectors
    assert not np.allclose(query.dense, document.dense)
    assert not np.allclose(query.dense, instructed.dense)
    parameters = [body["parameters"] for body in bodies(vcr)]
    assert parameters == [
        {"dimension": 64, "text_type": "query"},
        {"dimension": 64, "text_type": "document"},
        {"dimension": 64, "text_type": "query", "instruct": sc.INSTRUCT},
    ]
    assert_exchanges(vcr, 3)


def test_native_sparse(target, vcr):
    result = sc.native_sparse(target)
    assert result.dense is None
    assert len(result.sparse) == len(sc.DOCUMENTS)
    for vector in result.sparse:
        assert len(vector) > 0
        assert len(set(vector.indices)) == len(vector.indices)
        assert all(v > 0 for v in vector.values)
        assert all(token for token in vector.tokens)
    assert "Sparse" in "".join(result.sparse[2].tokens)
    assert bodies(vcr)[0]["parameters"] == {"dimension": 64, "text_type": "document", "output_type": "sparse"}


def test_native_dense_and_sparse(target, vcr):
    result = sc.native_dense_and_sparse(target)
    assert_unit_rows(result.dense, len(sc.DOCUMENTS))
    assert len(result.sparse) == len(sc.DOCUMENTS) and all(len(v) for v in result.sparse)
    assert bodies(vcr)[0]["parameters"]["output_type"] == "dense&sparse"


def test_batched_documents(target, vcr):
    result = sc.batched_documents(target)
    assert_unit_rows(result.dense, len(sc.BATCH))
    # v4 takes at most 10 rows per request: 23 texts are 10 + 10 + 3, sent in order
    assert [body["input"]["texts"] for body in bodies(vcr)] == [sc.BATCH[:10], sc.BATCH[10:20], sc.BATCH[20:]]
    assert result.usage.requests == 3 and len(result.request_ids) == 3
    assert_exchanges(vcr, 3)


def test_v3_dense(target, vcr):
    result = sc.v3_dense(target)
    assert_unit_rows(result.dense, 2)
    assert bodies(vcr)[0]["model"] == "text-embedding-v3"


def test_openai_compatible(target, vcr):
    result = sc.openai_compatible(target)
    assert_unit_rows(result.dense, len(sc.DOCUMENTS))
    assert result.request_ids and result.request_ids[0]
    assert paths(vcr) == ["/compatible-mode/v1/embeddings"]
    assert bodies(vcr) == [
        {"model": "text-embedding-v4", "input": sc.DOCUMENTS, "dimensions": 64, "encoding_format": "float"}
    ]


def test_async_documents(target, vcr):
    result = sc.async_documents(target)
    assert_unit_rows(result.dense, 12)
    assert [body["input"]["texts"] for body in bodies(vcr)] == [sc.BATCH[:10], sc.BATCH[10:12]]


def test_auth_error(target, vcr):
    error = sc.auth_error(target)
    assert isinstance(error, AuthenticationError)
    assert error.status_code == 401 and error.code == "InvalidApiKey"
    assert error.request_id and error.request_id in str(error)
    assert error.attempts == 1
    for text in (str(error), repr(error)):
        assert cs.WRONG_KEY not in text and "Bearer" not in text
    assert_exchanges(vcr, 1)


def test_unrecorded_request_is_refused_not_sent(target, vcr, record_mode):
    """Replaying, a request the cassette lacks fails inside vcrpy: nothing reaches the network."""
    if record_mode != "none":
        pytest.skip("only meaningful while replaying")
    from vcr.errors import CannotOverwriteExistingCassetteException

    with sc.engine(target) as e, pytest.raises(CannotOverwriteExistingCassetteException):
        e.embed_documents(["a text no cassette holds"])
