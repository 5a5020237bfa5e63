"""Models the catalog does not know: accepted with one warning, rows learned from the service, vectors in order."""

from __future__ import annotations

import uuid
import warnings

import numpy as np
import pytest
from support.fakes import FakeDashScope, make_embedder, text_vector

from dashscope_embed import DashScopeEmbedder, InvalidInputError, ModelSpec, MultimodalEmbedder, register_model
from dashscope_embed.catalog import CATALOG, UnknownModelWarning, generic_spec, get_model_spec

TEXTS = [f"row {i}: something worth embedding" for i in range(23)]


def fresh(prefix: str = "qwen9-text-embedding") -> str:
    """A model id no test has used yet (the warning is once per id and process)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def expected(texts: list[str], dimension: int, text_type: str = "document") -> np.ndarray:
    return np.asarray([text_vector(t, dimension, text_type) for t in texts], dtype=np.float32)


def test_one_warning_per_model_and_a_conservative_spec():
    model = fresh()
    with pytest.warns(UnknownModelWarning, match=model) as record:
        spec = get_model_spec(model)
    assert len(record) == 1
    assert spec.generic and spec.kind == "text" and spec.max_rows == 10 and spec.dimensions == ()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_model_spec(model)  # no second warning


def test_a_typo_gets_a_suggestion():
    with pytest.warns(UnknownModelWarning, match="Did you mean text-embedding-v4"):
        get_model_spec("text-embedding-v4x")


def test_service_allowing_7_rows_returns_every_vector_in_order():
    fake = FakeDashScope(max_rows=7, shuffle=True)
    model = fresh()
    with pytest.warns(UnknownModelWarning):
        embedder = make_embedder(fake, model=model, dimensions=3000, max_concurrency=1)
    result = embedder.embed(TEXTS)
    np.testing.assert_allclose(result.dense, expected(TEXTS, 3000), rtol=1e-6)
    assert embedder.max_rows == 7  # learned from "should not be larger than 7"
    # the first request of 10 was refused; every later request fits, and nothing else was sent twice
    assert [len(b["input"]["texts"]) for b in fake.ok_bodies] == [7, 3, 7, 3, 3]
    assert all(b["model"] == model and b["parameters"]["dimension"] == 3000 for b in fake.bodies)
    fake.bodies.clear()
    embedder.embed(TEXTS)
    assert [len(b["input"]["texts"]) for b in fake.bodies] == [7, 7, 7, 2]


async def test_async_learns_the_limit_too():
    fake = FakeDashScope(max_rows=7, shuffle=True)
    with pytest.warns(UnknownModelWarning):
        embedder = make_embedder(fake, model=fresh(), dimensions=512)
    result = await embedder.aembed(TEXTS)
    np.testing.assert_allclose(result.dense, expected(TEXTS, 512), rtol=1e-6)
    assert embedder.max_rows == 7


def test_features_are_passed_through_for_the_service_to_judge():
    fake = FakeDashScope(max_rows=7)
    with pytest.warns(UnknownModelWarning):
        embedder = make_embedder(fake, model=fresh(), instruct="Find the passage", output_type="dense&sparse")
    result = embedder.embed(["a query"], text_type="query")
    params = fake.bodies[0]["parameters"]
    assert params == {"text_type": "query", "output_type": "dense&sparse", "instruct": "Find the passage"}
    assert result.sparse is not None and result.dense.shape == (1, 1024)  # the service's default


@pytest.mark.parametrize("bad", [0, -5, 2.5, True])
def test_dimension_must_still_be_a_positive_int(bad):
    with pytest.warns(UnknownModelWarning):
        spec = get_model_spec(fresh())
    with pytest.raises(InvalidInputError, match="any positive integer"):
        spec.check_dimension(bad)


def test_langchain_and_llama_index_accept_unknown_models():
    from langchain_dashscope_embed import DashScopeEmbeddings
    from llama_index_dashscope_embed import DashScopeEmbedding

    for build in (
        lambda fake, model: DashScopeEmbeddings(model=model, api_key="sk-x", transport=fake.transport(), dimensions=64),
        lambda fake, model: DashScopeEmbedding(model_name=model, api_key="sk-x", transport=fake.transport(),
                                               dimensions=64),
    ):
        fake = FakeDashScope(max_rows=7, shuffle=True)
        model = fresh()
        with pytest.warns(UnknownModelWarning, match=model):
            adapter = build(fake, model)
        if isinstance(adapter, DashScopeEmbeddings):
            vectors = adapter.embed_documents(TEXTS)
        else:
            vectors = adapter.get_text_embedding_batch(TEXTS)
        np.testing.assert_allclose(np.asarray(vectors, dtype=np.float32), expected(TEXTS, 64), rtol=1e-6)
        assert adapter.engine.max_rows == 7


def test_unknown_multimodal_model():
    model = fresh("qwen9-vl-embedding")
    with pytest.warns(UnknownModelWarning):
        embedder = MultimodalEmbedder(model, api_key="sk-x", dimensions=777)
    assert embedder.spec.kind == "multimodal" and embedder.spec.max_images == 1
    assert embedder._request_for([]).dimension == 777


def test_register_model_adds_a_spec_for_the_process():
    name = fresh("qwen9-registered")
    spec = ModelSpec(name=name, kind="text", dimensions=(4096, 1024), default_dimension=1024, max_rows=32,
                     max_tokens_per_row=32_000, text_type=True, regions=("virginia",))
    try:
        register_model(spec)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # known now: no warning
            embedder = DashScopeEmbedder(name, dimensions=4096, region="virginia", api_key="sk-x")
        assert embedder.max_rows == 32 and embedder.dimension == 4096
        with pytest.raises(InvalidInputError, match="not offered in region 'beijing'"):
            DashScopeEmbedder(name, region="beijing", api_key="sk-x")
    finally:
        CATALOG.pop(name, None)


@pytest.mark.parametrize(
    "changes, needle",
    [
        (dict(max_rows=0), "max_rows"),
        (dict(default_dimension=3), "default_dimension"),
        (dict(regions=("mars",)), "regions"),
    ],
)
def test_register_model_refuses_inconsistent_specs(changes, needle):
    spec = generic_spec("qwen9-bad").replace(dimensions=(1024,), default_dimension=1024, generic=False)
    with pytest.raises(InvalidInputError, match=needle):
        register_model(spec.replace(**changes))
    assert "qwen9-bad" not in CATALOG
