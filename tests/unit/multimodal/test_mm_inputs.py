"""Every image input form and accepted format produces the documented ``input.contents``; rows come back in order."""

import base64
import io
from pathlib import Path

import numpy as np
import pytest

from dashscope_embed import MultimodalInput
from dashscope_embed.media import image_to_uri, sniff_image_format
from dashscope_embed.catalog import get_model_spec
from support.mm_images import image_bytes
from support.mm_fake import element_vector

ACCEPTED = {
    "multimodal-embedding-v1": ["jpeg", "png", "bmp"],
    "tongyi-embedding-vision-plus": ["jpeg", "png", "bmp"],
    "qwen3-vl-embedding": ["jpeg", "png", "bmp", "webp", "tiff"],
    "tongyi-embedding-vision-flash-2026-03-06": ["jpeg", "png", "bmp", "webp", "tiff"],
}


def data_uri(fmt: str, data: bytes) -> str:
    return f"data:image/{fmt};base64,{base64.b64encode(data).decode()}"


def forms(path: Path, data: bytes, fmt: str) -> list[tuple[object, str]]:
    """(input, expected wire value) for every accepted input form."""
    uri = data_uri(fmt, data)
    return [
        (str(path), uri),
        (path, uri),
        (f"file://{path}", uri),
        (io.BytesIO(data), uri),
        (data, uri),
        (bytearray(data), uri),
        (uri, uri),
        (f"https://example.com/{path.name}", f"https://example.com/{path.name}"),
        ("oss://dashscope-instant/abc/x.png", "oss://dashscope-instant/abc/x.png"),
    ]


@pytest.mark.parametrize("model", sorted(ACCEPTED))
def test_every_form_and_format_goes_on_the_wire_as_documented(model, make, fake, write_image):
    inputs, expected = [], []
    for fmt in ACCEPTED[model]:
        path = write_image(fmt, seed=len(inputs))
        for value, wire in forms(path, path.read_bytes(), fmt):
            inputs.append(value)
            expected.append({"image": wire})
    # one request at a time so the recorded bodies come in request order
    result = make(model, max_concurrency=1).embed_images(inputs)

    assert fake.contents() == expected
    spec = get_model_spec(model)
    assert all(len(b["input"]["contents"]) <= min(spec.max_rows, spec.max_images) for b in fake.bodies)
    want = np.asarray([element_vector(e, spec.default_dimension) for e in expected], dtype=np.float32)
    assert result.dense.shape == (len(inputs), spec.default_dimension)
    assert result.dense.dtype == np.float32
    np.testing.assert_array_equal(result.dense, want)  # replies were shuffled; rows are in input order
    assert result.usage.requests == fake.calls
    assert len(result.request_ids) == fake.calls


def test_format_is_sniffed_from_bytes_not_extension(make, fake, write_image):
    png_named_jpg = write_image("png", name="really_a_png.jpg")
    make("qwen3-vl-embedding").embed_images([png_named_jpg])
    assert fake.contents()[0]["image"].startswith("data:image/png;base64,")


@pytest.mark.parametrize("fmt", ["jpeg", "png", "bmp", "webp", "gif", "tiff"])
def test_sniff_every_pillow_format(fmt):
    assert sniff_image_format(image_bytes(fmt)) == fmt


def test_bytesio_position_is_left_alone_and_stream_read_whole():
    data = image_bytes("png")
    stream = io.BytesIO(data)
    stream.seek(5)
    uri = image_to_uri(stream, get_model_spec("qwen3-vl-embedding"), "x")
    assert uri == data_uri("png", data)
    assert stream.tell() == 5


def test_texts_videos_and_mixed_items_in_order(make, fake, write_image):
    path = write_image("jpeg")
    embedder = make("qwen3-vl-embedding")
    items = [
        "a text",
        {"image": path},
        MultimodalInput(video="https://example.com/v.mp4"),
        {"text": "second text"},
    ]
    result = embedder.embed_items(items)
    uri = data_uri("jpeg", path.read_bytes())
    expected = [{"text": "a text"}, {"image": uri}, {"video": "https://example.com/v.mp4"}, {"text": "second text"}]
    assert fake.contents() == expected
    assert fake.bodies[0]["parameters"] == {}  # independent vectors: no enable_fusion, no dimension
    np.testing.assert_array_equal(result.dense, np.asarray([element_vector(e, 2560) for e in expected], np.float32))
    assert result.types == ["vl"] * 4

    fake.bodies.clear()
    texts = embedder.embed_texts(["one", "two"])
    assert fake.contents() == [{"text": "one"}, {"text": "two"}]
    assert texts.dense.shape == (2, 2560)
    videos = embedder.embed_videos(["https://example.com/a.mp4"])
    assert videos.dense.shape == (1, 2560)


def test_dimension_parameter_only_for_models_that_take_one(make, fake):
    make("qwen3-vl-embedding", dimensions=1024).embed_texts(["x"])
    assert fake.bodies[-1]["parameters"] == {"dimension": 1024}
    result = make("multimodal-embedding-v1", dimensions=1024).embed_texts(["x"])
    assert fake.bodies[-1]["parameters"] == {}
    assert result.dense.shape == (1, 1024)
    make("tongyi-embedding-vision-plus-2026-03-06", dimensions=256, parameters={"res_level": 2}).embed_texts(["x"])
    assert fake.bodies[-1]["parameters"] == {"dimension": 256, "res_level": 2}


def test_wire_body_and_headers(make, fake):
    make("multimodal-embedding-v1", workspace="ws-1", instruct="Retrieve images").embed_texts(["hello"])
    body = fake.bodies[0]
    assert body == {
        "model": "multimodal-embedding-v1",
        "input": {"contents": [{"text": "hello"}]},
        "parameters": {"instruct": "Retrieve images"},
    }
    headers = fake.headers[0]
    assert headers["authorization"] == "Bearer sk-test"
    assert headers["x-dashscope-workspace"] == "ws-1"
    assert "x-dashscope-ossresourceresolve" not in headers


def test_oss_values_get_the_resolve_header(make, fake):
    make("qwen3-vl-embedding").embed_videos(["oss://dashscope-instant/dir/clip.mp4"])
    assert fake.headers[0]["x-dashscope-ossresourceresolve"] == "enable"
    assert fake.contents() == [{"video": "oss://dashscope-instant/dir/clip.mp4"}]


async def test_async_matches_sync(make, fake, write_image):
    paths = [write_image("png", seed=i) for i in range(7)]
    embedder = make("qwen3-vl-embedding")
    sync = embedder.embed_images(paths)
    sync_bodies = list(fake.bodies)
    fake.bodies.clear()
    result = await embedder.aembed_images(paths)
    assert sorted(map(repr, fake.bodies)) == sorted(map(repr, sync_bodies))
    np.testing.assert_array_equal(result.dense, sync.dense)
    items = await embedder.aembed_items([{"text": "t", "image": paths[0]}])
    assert items.dense.shape == (1, 2560)
    texts = await embedder.aembed_texts(["a"])
    videos = await embedder.aembed_videos(["https://example.com/v.mp4"])
    assert texts.dense.shape == videos.dense.shape == (1, 2560)
    await embedder.aclose()
