"""Splitting into requests within per-request limits, fusion forms per model, bounded concurrency, reply errors."""

import numpy as np
import orjson
import pytest

from dashscope_embed import (
    AuthenticationError,
    InvalidRequestError,
    MultimodalEmbedder,
    MultimodalInput,
    ResponseFormatError,
)
from support.mm_fake import FakeMultimodal, element_vector, error_reply


def sizes(fake):
    return [len(b["input"]["contents"]) for b in fake.bodies]


def test_one_image_per_request_on_multimodal_embedding_v1(make, fake, write_image):
    paths = [write_image("jpeg", seed=i) for i in range(7)]
    result = make("multimodal-embedding-v1").embed_images(paths)
    assert fake.calls == 7 and sizes(fake) == [1] * 7
    assert result.dense.shape == (7, 1024)
    sent = [b["input"]["contents"][0] for b in fake.bodies]
    got = {orjson.dumps(e): row for e, row in zip(sent, np.asarray([element_vector(e, 1024) for e in sent]))}
    # order by input: the i-th row is the vector of the i-th image, whichever request finished first
    expected_order = [{"image": "data:image/jpeg;base64," + __import__("base64").b64encode(p.read_bytes()).decode()}
                      for p in paths]
    np.testing.assert_array_equal(result.dense, np.asarray([got[orjson.dumps(e)] for e in expected_order], np.float32))
    assert result.usage.requests == 7
    assert result.usage.total_tokens == 7 * (10 + 100)  # input_tokens + image_tokens (v1 has no total_tokens)


def test_texts_images_and_videos_share_requests_within_limits(make, fake, write_image):
    image = write_image("png")
    items = ["t"] * 19 + [{"image": image}, {"video": "https://e.com/a.mp4"}, {"video": "https://e.com/b.mp4"}]
    make("multimodal-embedding-v1", max_concurrency=1).embed_items(items)
    # 19 texts + 1 image = 20 elements; then the first video; the second video needs a request of its own
    assert sizes(fake) == [20, 1, 1]


def test_qwen3_vl_image_and_element_limits(make, fake, write_image):
    paths = [write_image("png", seed=i) for i in range(12)]
    make("qwen3-vl-embedding").embed_images(paths)
    assert sorted(sizes(fake)) == [2, 5, 5]
    fake.bodies.clear()
    make("qwen3-vl-embedding").embed_texts([f"text {i}" for i in range(45)])
    assert sorted(sizes(fake)) == [5, 20, 20]


def test_catalog_overrides_change_the_plan(make, fake, write_image):
    paths = [write_image("png", seed=i) for i in range(12)]
    make("qwen3-vl-embedding", catalog_overrides={"max_images": 10}).embed_images(paths)
    assert sorted(sizes(fake)) == [2, 10]


def test_qwen3_vl_fused_item_travels_alone_with_enable_fusion(make, fake, write_image):
    a, b = write_image("png", seed=1), write_image("jpeg", seed=2)
    items = ["plain", MultimodalInput(text="a red car", image=[a, b], video="https://e.com/v.mp4"), "other"]
    result = make("qwen3-vl-embedding").embed_items(items)
    assert fake.calls == 3
    fused = next(b for b in fake.bodies if b["parameters"].get("enable_fusion"))
    kinds = [next(iter(c)) for c in fused["input"]["contents"]]
    assert kinds == ["text", "image", "image", "video"]
    assert fused["parameters"] == {"enable_fusion": True}
    assert result.dense.shape == (3, 2560)
    np.testing.assert_array_equal(result.dense[1], np.asarray(element_vector(fused["input"]["contents"], 2560), np.float32))
    assert result.types[1] == "fusion" and result.types[0] == result.types[2] == "vl"
    others = [b for b in fake.bodies if b is not fused]
    assert all("enable_fusion" not in b["parameters"] for b in others)


def test_dated_tongyi_fuses_in_one_content_object(make, fake, write_image):
    a, b = write_image("png", seed=1), write_image("png", seed=2)
    items = [
        {"text": "caption", "image": a},
        {"text": "two views", "images": [a, b], "video": "https://e.com/v.mp4"},
        {"image": [a, b]},
        "just text",
    ]
    result = make("tongyi-embedding-vision-plus-2026-03-06").embed_items(items)
    assert fake.calls == 1
    contents = fake.bodies[0]["input"]["contents"]
    assert [sorted(c) for c in contents] == [
        ["image", "text"], ["multi_images", "text", "video"], ["multi_images"], ["text"]]
    assert "enable_fusion" not in fake.bodies[0]["parameters"]
    assert result.types == ["fused", "fused", "multi_images", "text"]
    assert result.dense.shape == (4, 1152)


def test_undated_tongyi_multi_images_is_one_independent_element(make, fake, write_image):
    paths = [write_image("png", seed=i) for i in range(3)]
    result = make("tongyi-embedding-vision-flash").embed_items([{"images": paths}, "t"])
    assert [sorted(c) for c in fake.contents()] == [["multi_images"], ["text"]]
    assert result.dense.shape == (2, 768)


def test_qwen25_vl_every_item_is_one_request(make, fake, write_image):
    image = write_image("png")
    result = make("qwen2.5-vl-embedding").embed_items(["t1", {"text": "t2", "image": image}, {"video": "https://e.com/v"}])
    assert fake.calls == 3
    assert sorted(sizes(fake)) == [1, 1, 2]
    assert all("enable_fusion" not in b["parameters"] for b in fake.bodies)
    assert result.dense.shape == (3, 1024)
    assert result.usage.total_tokens == 3 * 10 + 100  # input_tokens + image_tokens


def test_sync_concurrency_is_bounded(write_image):
    fake = FakeMultimodal(delay=0.05)
    paths = [write_image("png", seed=i) for i in range(12)]
    with MultimodalEmbedder("multimodal-embedding-v1", api_key="k", max_concurrency=3,
                            transport=fake.transport()) as embedder:
        result = embedder.embed_images(paths)
    assert fake.calls == 12 and result.dense.shape == (12, 1024)
    assert fake.max_in_flight in (2, 3)  # overlapped, and never beyond the bound


async def test_async_concurrency_is_bounded(write_image):
    fake = FakeMultimodal(delay=0.05)
    paths = [write_image("png", seed=i) for i in range(12)]
    async with MultimodalEmbedder("multimodal-embedding-v1", api_key="k", max_concurrency=4,
                                  async_transport=fake.async_transport()) as embedder:
        result = await embedder.aembed_images(paths)
    assert fake.calls == 12 and result.dense.shape == (12, 1024)
    assert fake.max_in_flight in (2, 3, 4)  # overlapped, and never beyond the bound


def test_http_200_with_code_is_an_error(write_image):
    fake = FakeMultimodal(script={1: error_reply(200, "InvalidParameter", "bad image")})
    with MultimodalEmbedder("qwen3-vl-embedding", api_key="k", max_retries=0, transport=fake.transport()) as e:
        with pytest.raises(InvalidRequestError, match="bad image"):
            e.embed_texts(["x"])


def test_status_errors_are_typed():
    fake = FakeMultimodal(script={1: error_reply(401, "InvalidApiKey", "Invalid API-key provided.")})
    with MultimodalEmbedder("qwen3-vl-embedding", api_key="k", max_retries=0, transport=fake.transport()) as e:
        with pytest.raises(AuthenticationError) as info:
            e.embed_texts(["x"])
    assert info.value.request_id == "err-1"


def test_fewer_vectors_is_a_format_error():
    fake = FakeMultimodal(drop_last=True)
    with MultimodalEmbedder("qwen3-vl-embedding", api_key="k", max_retries=0, transport=fake.transport()) as e:
        with pytest.raises(ResponseFormatError, match="2 vectors for 3 inputs"):
            e.embed_texts(["a", "b", "c"])


def test_retry_then_success_sends_each_request_until_it_succeeds():
    fake = FakeMultimodal(script={1: error_reply(500, "InternalError", "boom")})
    with MultimodalEmbedder("qwen3-vl-embedding", api_key="k", max_retries=2, retry_base_delay=0.0,
                            retry_max_delay=0.0, transport=fake.transport()) as e:
        result = e.embed_texts(["a", "b"])
    assert fake.calls == 2 and result.usage.requests == 1


def test_batch_size_error_resplits_and_is_remembered():
    message = "<400> InternalError.Algo.InvalidParameter: Value error, batch size is invalid, it should not be larger than 4.: input.contents"
    fake = FakeMultimodal(script={1: error_reply(400, "InvalidParameter", message)})
    with MultimodalEmbedder("qwen3-vl-embedding", api_key="k", max_retries=0, transport=fake.transport()) as e:
        result = e.embed_texts([f"t{i}" for i in range(10)])
        assert result.dense.shape == (10, 2560)
        np.testing.assert_array_equal(
            result.dense, np.asarray([element_vector({"text": f"t{i}"}, 2560) for i in range(10)], np.float32))
        assert sizes(fake)[0] == 10 and sorted(sizes(fake)[1:]) == [2, 4, 4]  # the re-split requests run at once
        e.embed_texts([f"u{i}" for i in range(6)])
        assert sorted(sizes(fake)[4:]) == [2, 4]


def test_missing_key_is_refused_before_sending(fake, monkeypatch):
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    with MultimodalEmbedder("qwen3-vl-embedding", transport=fake.transport()) as e:
        with pytest.raises(AuthenticationError, match="no API key"):
            e.embed_texts(["x"])
    assert fake.calls == 0
