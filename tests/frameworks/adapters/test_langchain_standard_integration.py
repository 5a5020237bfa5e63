"""langchain-tests' integration suite for DashScopeEmbeddings, against the local service (hash backend, 127.0.0.1)."""

from __future__ import annotations

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests

from dashscope_embed.server import LocalService
from langchain_dashscope_embed import DashScopeEmbeddings, DashScopeSparseEmbeddings


@pytest.fixture(scope="module")
def hash_service():
    with LocalService(backend="hash") as svc:
        yield svc


class TestDashScopeEmbeddingsStandardIntegration(EmbeddingsIntegrationTests):
    """embed_query / embed_documents, sync and async: lists of floats of one length."""

    @property
    def embeddings_class(self) -> type[DashScopeEmbeddings]:
        return DashScopeEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"model": "text-embedding-v4", "dimensions": 256}

    @pytest.fixture
    def model(self, hash_service) -> DashScopeEmbeddings:
        return DashScopeEmbeddings(base_url=hash_service.base_url, **self.embedding_model_params)


class TestDashScopeEmbeddingsCompatibleModeIntegration(TestDashScopeEmbeddingsStandardIntegration):
    """The same suite over the OpenAI-compatible endpoint (``.../compatible-mode/v1``)."""

    @pytest.fixture
    def model(self, hash_service) -> DashScopeEmbeddings:
        return DashScopeEmbeddings(base_url=hash_service.base_url + "/compatible-mode/v1", dimensions=128)


def test_vectors_have_the_requested_dimension_and_usage_matches_the_service(hash_service):
    hash_service.reset_stats()
    model = DashScopeEmbeddings(base_url=hash_service.base_url, dimensions=64, model="text-embedding-v3")
    vectors = model.embed_documents([f"line {i}" for i in range(25)])
    assert len(vectors) == 25 and {len(v) for v in vectors} == {64}
    assert model.usage.requests == hash_service.stats.ok == 3
    assert model.usage.total_tokens > 0
    assert [r.parameters["text_type"] for r in hash_service.stats.recent] == ["document"] * 3


async def test_sparse_round_trip_on_the_service(hash_service):
    hash_service.reset_stats()
    dense = DashScopeEmbeddings(base_url=hash_service.base_url, output_type="dense&sparse")
    sparse = dense.sparse_model()
    texts = ["alpha beta", "gamma delta epsilon"]
    await dense.aembed_documents(texts)
    vectors = await sparse.aembed_documents(texts)
    assert [len(v.indices) for v in vectors] == [len(v.values) for v in vectors]
    assert all(len(v.indices) > 0 for v in vectors)
    assert hash_service.stats.requests == 1
    query = DashScopeSparseEmbeddings(base_url=hash_service.base_url).embed_query("alpha")
    assert len(query.indices) > 0 and hash_service.stats.requests == 2
    assert hash_service.stats.recent[-1].parameters == {"text_type": "query", "output_type": "sparse"}
