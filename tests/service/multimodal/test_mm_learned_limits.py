"""Elements, images and videos per request are learned from the service's refusals, with the catalog's numbers as
the first guess: a request refused for holding too many is re-packed at the number the service named, and later
calls plan with it. Against the local service, which enforces the real catalog limits of qwen3-vl-embedding
(20 elements, 5 images, 1 video) while the client starts from larger guesses."""

from __future__ import annotations

import asyncio
import pickle

import numpy as np
import pytest

from dashscope_embed import MultimodalEmbedder
from dashscope_embed.catalog import get_model_spec
from dashscope_embed.errors import InvalidRequestError
from dashscope_embed.media_limits import media_limit

MODEL = "qwen3-vl-embedding"
TRUE = get_model_spec(MODEL)


def _engine(service, **overrides) -> MultimodalEmbedder:
    return MultimodalEmbedder(MODEL, dimensions=256, base_url=service.base_url, max_retries=0, max_concurrency=1,
                              catalog_overrides=overrides)


def _reference(service, call, inputs):
    with _engine(service) as engine:  # the catalog's true limits: no refusal
        return getattr(engine, call)(inputs).dense


@pytest.mark.parametrize(
    "call, inputs, overrides, attribute, sizes",
    [
        ("embed_images", [f"https://example.com/{i}.png" for i in range(12)], {"max_images": 20}, "max_images",
         [5, 5, 2]),
        ("embed_videos", [f"https://example.com/{i}.mp4" for i in range(3)], {"max_videos": 4}, "max_videos",
         [1, 1, 1]),
        ("embed_texts", [f"text {i}" for i in range(45)], {"max_rows": 40}, "max_rows", [20, 20, 5]),
    ],
)
def test_limit_learned_from_the_refusal_and_remembered(hash_service, call, inputs, overrides, attribute, sizes):
    expected = _reference(hash_service, call, inputs)
    hash_service.reset_stats()
    with _engine(hash_service, **overrides) as engine:
        result = getattr(engine, call)(inputs)
        np.testing.assert_array_equal(result.dense, expected)
        assert getattr(engine, attribute) == getattr(TRUE, attribute)
        first = hash_service.stats
        assert first.by_status.get(400) == 1 and first.ok == len(sizes)  # one refusal, then the re-packed parts
        getattr(engine, call)(inputs)  # a later call plans with the learned limit: no second refusal
        assert hash_service.stats.by_status.get(400) == 1 and hash_service.stats.ok == 2 * len(sizes)
        asyncio.run(getattr(engine, "a" + call)(inputs))  # the async path shares what was learned
        assert hash_service.stats.by_status.get(400) == 1 and hash_service.stats.ok == 3 * len(sizes)
        with pickle.loads(pickle.dumps(engine)) as copy:  # a worker's copy keeps what was learned
            assert getattr(copy, attribute) == getattr(TRUE, attribute)
            np.testing.assert_array_equal(getattr(copy, call)(inputs).dense, expected)
        assert hash_service.stats.by_status.get(400) == 1 and hash_service.stats.ok == 4 * len(sizes)


def test_async_learns_image_limit(hash_service):
    images = [f"https://example.com/a{i}.png" for i in range(7)]
    expected = _reference(hash_service, "embed_images", images)

    async def run():
        async with _engine(hash_service, max_images=20) as engine:
            return (await engine.aembed_images(images)).dense, engine.max_images

    dense, learned = asyncio.run(run())
    np.testing.assert_array_equal(dense, expected)
    assert learned == 5


def test_a_refusal_naming_no_smaller_request_stands(hash_service):
    # one item with more images than the service takes cannot be cut: the service's error is raised as is
    with _engine(hash_service, max_images=20) as engine:
        with pytest.raises(InvalidRequestError, match="too many images: 6"):
            engine.embed_items([{"image": [f"https://example.com/{i}.png" for i in range(6)]}])


@pytest.mark.parametrize("message, found", [
    ("too many images: 12 in one request; qwen2.5-vl-embedding accepts at most 5.", ("images", 5)),
    ("too many videos: 2 in one request; multimodal-embedding-v1 accepts at most 1.", ("videos", 1)),
    ("The number of images should not be larger than 8.", ("images", 8)),
    ("video count exceeds the maximum of 1", ("videos", 1)),
    ("contents[0].multi_images holds 12 images; x accepts at most 8.", None),
    ("batch size is invalid, it should not be larger than 20.: input.contents", None),
    # a limit of one image or video (size, resolution, length, rate) is not a count per request
    ("The image size exceeds the maximum size of 3 MB.", None),
    ("image resolution must be at most 4096 pixels on each side", None),
    ("The number of frames of the video exceeds the maximum of 2 fps", None),
    ("The image exceeds 10MB", None),
    ("video longer than at most 1.5 s", None),
    ("image larger than 4096x4096", None),
])
def test_media_limit_wording(message, found):
    assert media_limit(message) == found


def test_a_size_refusal_does_not_lower_the_images_per_request():
    # "exceeds the maximum size of 3 MB" once became a limit of 3 images per request for every later call
    import httpx

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"code": "InvalidParameter", "request_id": "r",
                                         "message": "The image size exceeds the maximum size of 3 MB."})

    with MultimodalEmbedder(MODEL, base_url="http://127.0.0.1:9", max_retries=0,
                            transport=httpx.MockTransport(refuse)) as engine:
        with pytest.raises(InvalidRequestError, match="maximum size of 3 MB"):
            engine.embed_images([f"https://example.com/{i}.png" for i in range(4)])
        assert engine.max_images == TRUE.max_images
