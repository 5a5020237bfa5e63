"""Every documented limit is enforced before any request, with a message naming the input, size and source."""

import io

import pytest

from dashscope_embed import InvalidInputError, MultimodalEmbedder, MultimodalInput
from dashscope_embed.catalog import MULTIMODAL_DOC

MB = 1024 * 1024


def refused(fake, call, *match: str) -> str:
    with pytest.raises(InvalidInputError) as info:
        call()
    message = str(info.value)
    for part in match:
        assert part in message, message
    assert fake.calls == 0
    return message


def test_oversize_image_file(make, fake, write_image):
    big = write_image("png", name="big.png", size=(1100, 1100), noise=True)
    size = big.stat().st_size
    assert size > 3 * MB
    embedder = make("multimodal-embedding-v1")
    refused(fake, lambda: embedder.embed_images(["https://example.com/ok.png", big]),
            "images[1]", str(big), f"{size} bytes", f"{size / MB:.2f} MB", "3145728 bytes (3 MB)", MULTIMODAL_DOC)


def test_oversize_bytes_and_data_uri_name_the_index(make, fake, write_image):
    data = write_image("png", size=(1100, 1100), noise=True).read_bytes()
    embedder = make("tongyi-embedding-vision-plus")
    refused(fake, lambda: embedder.embed_images([io.BytesIO(data)]), "images[0]", f"{len(data)} bytes", "3 MB")
    import base64
    uri = "data:image/png;base64," + base64.b64encode(data).decode()
    refused(fake, lambda: embedder.embed_images([uri]), "images[0] (data URI)", f"{len(data)} bytes")


def test_limit_follows_the_model(make, fake, write_image):
    data = write_image("png", size=(1100, 1100), noise=True).read_bytes()
    assert 3 * MB < len(data) < 5 * MB
    make("qwen3-vl-embedding").embed_images([data])  # 10 MB limit
    assert fake.calls == 1


@pytest.mark.parametrize("model, fmt", [
    ("multimodal-embedding-v1", "webp"),
    ("multimodal-embedding-v1", "tiff"),
    ("tongyi-embedding-vision-flash", "webp"),
    ("qwen3-vl-embedding", "gif"),
    ("tongyi-embedding-vision-plus-2026-03-06", "gif"),
])
def test_unsupported_format(model, fmt, make, fake, write_image):
    path = write_image(fmt)
    refused(fake, lambda: make(model).embed_images([path]), str(path), f"{fmt.upper()} image", "accepts", MULTIMODAL_DOC)


def test_unrecognised_bytes_and_mismatched_data_uri(make, fake, tmp_path):
    junk = tmp_path / "notes.png"
    junk.write_bytes(b"just some text, not an image")
    embedder = make("qwen3-vl-embedding")
    refused(fake, lambda: embedder.embed_images([junk]), str(junk), "not a recognised image")
    refused(fake, lambda: embedder.embed_images([b""]), "images[0] is empty")
    from support.mm_images import image_bytes
    import base64
    lying = "data:image/png;base64," + base64.b64encode(image_bytes("jpeg")).decode()
    refused(fake, lambda: embedder.embed_images([lying]), "declares image/png but its bytes are JPEG")
    refused(fake, lambda: embedder.embed_images(["data:image/png;base64,@@@"]), "not valid base64")


def test_missing_file(make, fake, tmp_path):
    missing = tmp_path / "nope.jpg"
    refused(fake, lambda: make("qwen3-vl-embedding").embed_images([str(missing)]), str(missing), "no such file")


def test_too_long_text(make, fake):
    text = "embedding " * 600
    refused(fake, lambda: make("multimodal-embedding-v1").embed_texts(["short", text]),
            "texts[1] is", "tokens", "at most 512 tokens", MULTIMODAL_DOC)
    refused(fake, lambda: make("tongyi-embedding-vision-plus").embed_items([{"text": text * 2}]), "at most 1024 tokens")
    make("qwen3-vl-embedding").embed_texts([text])  # 32,000 tokens there
    assert fake.calls == 1


def test_empty_inputs(make, fake):
    embedder = make("qwen3-vl-embedding")
    refused(fake, lambda: embedder.embed_texts(["ok", " "]), "[1] whitespace only")
    refused(fake, lambda: embedder.embed_items([{}]), "items[0] holds no text, image or video")
    refused(fake, lambda: embedder.embed_items([{"text": "x", "audio": "y"}]), "unknown key(s) ['audio']")
    refused(fake, lambda: embedder.embed_images("one.png"), "must be a list")


@pytest.mark.parametrize("model", ["multimodal-embedding-v1", "tongyi-embedding-vision-plus", "tongyi-embedding-vision-flash"])
def test_fused_input_on_model_that_cannot_fuse(model, make, fake, write_image):
    path = write_image("png")
    refused(fake, lambda: make(model).embed_items([MultimodalInput(text="a cat", image=path)]),
            "items[0] holds text+image", "independent vectors only", "qwen3-vl-embedding", MULTIMODAL_DOC)


def test_local_video_file(make, fake, tmp_path):
    # local video files go by temporary upload (tests/service/platform/test_uploads.py); what cannot go is refused early
    video = tmp_path / "clip.mp4"
    with video.open("wb") as f:
        f.truncate(50 * MB + 1)  # sparse: the size check reads the file's size only
    embedder = make("qwen3-vl-embedding")
    refused(fake, lambda: embedder.embed_videos([str(video)]),
            "videos[0]", str(video), f"{50 * MB + 1} bytes", "52428800 bytes (50 MB)", MULTIMODAL_DOC)
    refused(fake, lambda: embedder.embed_videos([b"\x00\x00\x00\x18ftypmp42"]), "in-memory video data", "Upload(")
    refused(fake, lambda: embedder.embed_videos(["data:video/mp4;base64,AAAA"]), "data: URI")
    refused(fake, lambda: embedder.embed_videos([str(tmp_path / "missing.mp4")]), "neither a URL nor an existing file")
    refused(fake, lambda: embedder.embed_items([{"text": "t", "video": video}]), "items[0].video")


@pytest.mark.parametrize("model, bad", [("qwen3-vl-embedding", 300), ("multimodal-embedding-v1", 512),
                                        ("tongyi-embedding-vision-flash-2026-03-06", 1152), ("qwen2.5-vl-embedding", 2560)])
def test_unknown_dimension(model, bad, fake):
    with pytest.raises(InvalidInputError, match=rf"dimension {bad} is not supported by {model}; allowed"):
        MultimodalEmbedder(model, dimensions=bad, api_key="k", transport=fake.transport())
    assert fake.calls == 0


def test_per_item_counts_beyond_one_request(make, fake, write_image):
    paths = [write_image("png", seed=i) for i in range(6)]
    refused(fake, lambda: make("qwen3-vl-embedding").embed_items([{"text": "t", "image": paths}]),
            "items[0] holds 6 images (at most 5 per request)")
    refused(fake, lambda: make("qwen2.5-vl-embedding").embed_items([{"image": paths[:2]}]), "2 images (at most 1")
    refused(fake, lambda: make("tongyi-embedding-vision-plus").embed_items([{"images": paths * 2}]),
            "12 images in one multi_images element (at most 8)")


def test_configuration_errors(fake):
    with pytest.raises(InvalidInputError, match="text model"):
        MultimodalEmbedder("text-embedding-v4", api_key="k")
    with pytest.raises(InvalidInputError, match="OpenAI-compatible endpoint serves no multimodal model"):
        MultimodalEmbedder("qwen3-vl-embedding", api_key="k", protocol="openai")
    with pytest.raises(InvalidInputError, match="not offered in region 'singapore'"):
        MultimodalEmbedder("qwen3-vl-embedding", api_key="k", region="singapore")
    MultimodalEmbedder("tongyi-embedding-vision-plus", api_key="k", region="singapore").close()
    with pytest.raises(InvalidInputError, match="set by MultimodalEmbedder itself"):
        MultimodalEmbedder("qwen3-vl-embedding", api_key="k", parameters={"enable_fusion": True})
