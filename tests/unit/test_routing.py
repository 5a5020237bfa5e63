"""EmbeddingRouter: the engine a model name needs, and where text, image and video calls go."""

import asyncio

import pytest

from dashscope_embed import DashScopeEmbedder, EmbeddingRouter, InvalidInputError, MultimodalEmbedder
from dashscope_embed.hybrid import HybridEmbedder
from support.fakes import FakeDashScope


def router(fake, model="text-embedding-v4", **kwargs):
    return EmbeddingRouter(model, api_key="sk-x", transport=fake.transport(), async_transport=fake.async_transport(),
                           **kwargs)


def test_text_model_routes_texts_with_their_side():
    fake = FakeDashScope()
    r = router(fake, dimensions=64)
    assert isinstance(r.engine, DashScopeEmbedder) and r.hybrid is None and not r.is_multimodal
    assert r.texts(["a"], "query").dense.shape == (1, 64)
    asyncio.run(r.atexts(["b"], "document"))
    assert [b["parameters"]["text_type"] for b in fake.bodies] == ["query", "document"]
    assert (r.dimension, r.protocol, r.usage.requests) == (64, "dashscope", 2)


def test_dense_and_sparse_goes_through_the_hybrid_cache():
    fake = FakeDashScope()
    r = router(fake, output_type="dense&sparse")
    assert isinstance(r.hybrid, HybridEmbedder)
    r.texts(["alpha beta"], "document")
    assert fake.bodies[0]["parameters"]["output_type"] == "dense&sparse"
    r.hybrid.sparse(["alpha beta"], text_type="document")
    assert fake.calls == 1  # the sparse half came from the cache


def test_text_model_refuses_images_and_videos_naming_the_multimodal_models():
    r = router(FakeDashScope())
    with pytest.raises(InvalidInputError, match="cannot embed images.*multimodal-embedding-v1"):
        r.images(["x.png"])
    with pytest.raises(InvalidInputError, match="cannot embed videos"):
        asyncio.run(r.avideos(["https://example.test/v.mp4"]))


def test_multimodal_model_gets_the_multimodal_engine_and_no_sparse():
    r = EmbeddingRouter("multimodal-embedding-v1", api_key="sk-x")
    assert isinstance(r.engine, MultimodalEmbedder) and r.is_multimodal and r.protocol == "dashscope"
    assert r.multimodal("images") is r.engine
    with pytest.raises(InvalidInputError, match="dense vectors only"):
        EmbeddingRouter("multimodal-embedding-v1", api_key="sk-x", output_type="dense&sparse")


def test_unknown_model_goes_to_the_engine_its_name_says_with_a_generic_spec():
    from dashscope_embed.catalog import UnknownModelWarning

    with pytest.warns(UnknownModelWarning, match="no-such-text-model"):
        text = EmbeddingRouter("no-such-text-model", api_key="sk-x")
    assert isinstance(text.engine, DashScopeEmbedder) and text.engine.spec.generic
    with pytest.warns(UnknownModelWarning, match="no-such-vl-embedding"):
        media = EmbeddingRouter("no-such-vl-embedding", api_key="sk-x")
    assert isinstance(media.engine, MultimodalEmbedder) and media.engine.spec.kind == "multimodal"
