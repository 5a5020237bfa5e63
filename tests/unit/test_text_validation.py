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
