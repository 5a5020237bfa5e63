"""Every text is checked before the first request: a bad text late in the list sends nothing."""

from __future__ import annotations

import pytest

from dashscope_embed import InvalidInputError

from support.fakes import FakeDashScope, make_embedder


@pytest.mark.parametrize("bad", ["\ud800", "ok \udfff tail", "x" * 20 + "\udc80"])
def test_lone_surrogate_refused_before_any_request(bad):
    fake = FakeDashScope()
    texts = [f"text {i}" for i in range(100)]
    texts[50] = bad
    with make_embedder(fake, model="text-embedding-v4", dimensions=64, max_concurrency=2) as engine:
        with pytest.raises(InvalidInputError, match=r"\[50\] lone surrogate"):
            engine.embed(texts)
    assert fake.calls == 0


def test_lone_surrogate_refused_by_aembed_and_multimodal():
    import asyncio

    from dashscope_embed import MultimodalEmbedder

    fake = FakeDashScope()
    with make_embedder(fake, model="text-embedding-v4", dimensions=64) as engine:
        with pytest.raises(InvalidInputError, match=r"\[1\] lone surrogate"):
            asyncio.run(engine.aembed(["fine", "\ud83d"]))
    assert fake.calls == 0
    with MultimodalEmbedder("multimodal-embedding-v1", base_url="http://127.0.0.1:9") as mm:
        with pytest.raises(InvalidInputError, match=r"\[0\] lone surrogate"):
            mm.embed_texts(["\ud800"])


def test_lone_surrogate_in_instruct_refused_at_construction_and_per_call():
    from dashscope_embed import DashScopeReranker, MultimodalEmbedder

    fake = FakeDashScope()
    with pytest.raises(InvalidInputError, match=r"instruct holds a lone surrogate '\\udc00' at character 1"):
        make_embedder(fake, model="text-embedding-v4", instruct="a\udc00")
    with make_embedder(fake, model="text-embedding-v4", dimensions=64) as engine:
        with pytest.raises(InvalidInputError, match="instruct holds a lone surrogate"):
            engine.embed(["fine"], text_type="query", instruct="b\ud800")
    assert fake.calls == 0
    with pytest.raises(InvalidInputError, match="instruct holds a lone surrogate"):
        DashScopeReranker(base_url="http://127.0.0.1:9", instruct="c\ud800")
    with pytest.raises(InvalidInputError, match="instruct holds a lone surrogate"):
        MultimodalEmbedder(base_url="http://127.0.0.1:9", instruct="d\ud800")


def test_a_body_json_cannot_carry_is_an_invalid_input_error_before_sending():
    # parameters and media URLs are sent as given: the encoder's bare TypeError must not escape the error tree
    from dashscope_embed import DashScopeError, MultimodalEmbedder

    fake = FakeDashScope()
    with MultimodalEmbedder(
        base_url="http://127.0.0.1:9", parameters={"fps": "\ud800"}, transport=fake.transport(), max_retries=0
    ) as mm:
        with pytest.raises(InvalidInputError, match="cannot be encoded as JSON"):
            mm.embed_texts(["fine"])
        with pytest.raises(DashScopeError):
            mm.embed_images(["https://example.com/\udc00.png"])
    assert fake.calls == 0


def test_the_engines_point_model_name_at_model():
    # LlamaIndex spells the model model_name=; the closest spelling among the engines' arguments is model_spec=, a
    # ModelSpec, which would send the user to a second error
    from dashscope_embed import DashScopeEmbedder, DashScopeReranker, MultimodalEmbedder

    for cls in (DashScopeEmbedder, DashScopeReranker, MultimodalEmbedder):
        with pytest.raises(InvalidInputError, match=r"'model_name' \(did you mean 'model'\?\)"):
            cls(model_name="x", base_url="http://127.0.0.1:9")
