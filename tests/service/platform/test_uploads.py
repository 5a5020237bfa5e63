"""Local media by temporary upload: core, LlamaIndex and LangChain against the local service, plus the protocol."""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import httpx
import numpy as np
import orjson
import pytest
from PIL import Image

from dashscope_embed import InvalidInputError, MultimodalEmbedder
from dashscope_embed import media as media_module
from dashscope_embed.errors import AuthenticationError
from dashscope_embed.settings import resolve_connection
from dashscope_embed.uploads import Upload, Uploader, UploadError, UploadPolicy, local_media

MODEL = "multimodal-embedding-v1"
MM_PATH = "/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding"


def mp4(path: Path, size: int = 300 * 1024, seed: int = 0) -> Path:
    """A file that starts like an MP4 (ftyp box) and holds ``size`` bytes in all."""
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    body = np.random.default_rng(seed).integers(0, 256, size - len(head), dtype=np.uint8).tobytes()
    path.write_bytes(head + body)
    return path


def png(path: Path, seed: int = 0) -> Path:
    pixels = np.random.default_rng(seed).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    Image.fromarray(pixels, "RGB").save(path, format="PNG")
    return path


@pytest.fixture
def service(hash_service):
    hash_service.app.uploads.reset()
    yield hash_service
    hash_service.app.uploads.reset()


@pytest.fixture
def clip(tmp_path) -> Path:
    return mp4(tmp_path / "clip.mp4")


# ---------------------------------------------------------------------------------------------- core


def test_local_300kb_mp4_embeds_through_the_core(service, clip):
    assert clip.stat().st_size == 300 * 1024
    with MultimodalEmbedder(MODEL, base_url=service.base_url) as embedder:
        result = embedder.embed_videos([clip])
    uploads = service.app.uploads
    assert result.dense.shape == (1, 1024) and result.types == ["video"]
    assert (uploads.policies_issued, uploads.uploads, uploads.authorized_uploads) == (1, 1, 0)
    (record,) = service.stats.recent
    assert record.endpoint == "multimodal" and record.rows == 1


async def test_async_core_and_certificate_reuse(service, tmp_path):
    first, second = mp4(tmp_path / "a.mp4", seed=1), mp4(tmp_path / "b.mp4", seed=2)
    async with MultimodalEmbedder(MODEL, base_url=service.base_url) as embedder:
        both = await embedder.aembed_videos([first, second])
        again = await embedder.aembed_videos([first])
        sync = embedder.embed_videos([second])
    uploads = service.app.uploads
    assert uploads.policies_issued == 1  # one certificate for every file within its lifetime
    assert uploads.uploads == 2  # an unchanged file is not sent again
    np.testing.assert_array_equal(again.dense[0], both.dense[0])
    np.testing.assert_array_equal(sync.dense[0], both.dense[1])
    assert not np.allclose(both.dense[0], both.dense[1])  # the vector comes from the uploaded bytes


def test_uploaded_image_gets_the_vector_of_the_same_bytes_inline(service, tmp_path):
    image = png(tmp_path / "cat.png")
    with MultimodalEmbedder(MODEL, base_url=service.base_url) as embedder:
        inline = embedder.embed_images([image])
        uploaded = embedder.embed_images([Upload(image)])
        from_memory = embedder.embed_images([Upload(io.BytesIO(image.read_bytes()))])
    assert service.app.uploads.uploads == 2
    np.testing.assert_allclose(uploaded.dense, inline.dense, rtol=1e-6)
    np.testing.assert_allclose(from_memory.dense, inline.dense, rtol=1e-6)


def test_images_over_the_inline_limit_go_by_upload(service, tmp_path, monkeypatch):
    image = png(tmp_path / "big.png")
    monkeypatch.setattr(media_module, "INLINE_IMAGE_MAX_BYTES", image.stat().st_size - 1)
    with MultimodalEmbedder("qwen3-vl-embedding", base_url=service.base_url) as embedder:
        from_path = embedder.embed_images([image])
        from_bytes = embedder.embed_images([image.read_bytes()])
        monkeypatch.setattr(media_module, "INLINE_IMAGE_MAX_BYTES", 5 * 1024 * 1024)
        inline = embedder.embed_images([image])
    assert service.app.uploads.uploads == 2  # path and bytes: the same content, two uploads
    np.testing.assert_allclose(from_path.dense, inline.dense, rtol=1e-6)
    np.testing.assert_allclose(from_bytes.dense, inline.dense, rtol=1e-6)


def test_video_over_the_model_limit_is_refused_before_any_request(service, tmp_path):
    big = tmp_path / "big.mp4"
    with big.open("wb") as f:
        f.truncate(10 * 1024 * 1024 + 1)
    with MultimodalEmbedder(MODEL, base_url=service.base_url) as embedder:
        with pytest.raises(InvalidInputError, match=r"videos\[0\].*10485761 bytes.*10 MB"):
            embedder.embed_videos([big])
    assert service.stats.requests == 0 and service.app.uploads.policies_issued == 0


def test_missing_key_is_reported_before_the_certificate_is_asked_for(clip):
    embedder = MultimodalEmbedder(MODEL, region="beijing", api_key=None)
    with pytest.raises(AuthenticationError, match="no API key"):
        embedder.embed_videos([clip])


def test_bad_key_fails_the_certificate_request(clip):
    from dashscope_embed.server import LocalService

    with LocalService(backend="hash", api_key="right-key") as svc:
        with MultimodalEmbedder(MODEL, base_url=svc.base_url, api_key="wrong-key", max_retries=0) as embedder:
            with pytest.raises(AuthenticationError):
                embedder.embed_videos([clip])
        assert svc.app.uploads.uploads == 0
        with MultimodalEmbedder(MODEL, base_url=svc.base_url, api_key="right-key") as embedder:
            assert embedder.embed_videos([clip]).dense.shape == (1, 1024)
        assert svc.app.uploads.authorized_uploads == 0  # the key went to the API, never to the upload target


# ---------------------------------------------------------------------------------------------- adapters


def test_llama_index_embeds_a_local_video_and_an_uploaded_image(service, clip, tmp_path):
    from llama_index_dashscope_embed import DashScopeEmbedding

    model = DashScopeEmbedding(model_name=MODEL, base_url=service.base_url)
    vector = model.get_video_embedding(str(clip))
    assert len(vector) == 1024
    image = png(tmp_path / "i.png")
    assert np.allclose(model.get_image_embedding(Upload(image)), model.get_image_embedding(str(image)), rtol=1e-6)
    assert service.app.uploads.uploads == 2


async def test_llama_index_async_video(service, clip):
    from llama_index_dashscope_embed import DashScopeEmbedding

    model = DashScopeEmbedding(model_name=MODEL, base_url=service.base_url)
    vector = await model.aget_video_embedding(str(clip))
    assert len(vector) == 1024 and service.app.uploads.uploads == 1


def test_langchain_embeds_a_local_video_and_an_uploaded_image(service, clip, tmp_path):
    from langchain_dashscope_embed import DashScopeEmbeddings

    model = DashScopeEmbeddings(model=MODEL, base_url=service.base_url)
    (vector,) = model.embed_video([str(clip)])
    assert len(vector) == 1024
    image = png(tmp_path / "i.png")
    assert np.allclose(model.embed_image([Upload(image)]), model.embed_image([str(image)]), rtol=1e-6)


async def test_langchain_async_video_matches_sync(service, clip):
    from langchain_dashscope_embed import DashScopeEmbeddings

    model = DashScopeEmbeddings(model=MODEL, base_url=service.base_url)
    (async_vector,) = await model.aembed_video([str(clip)])
    (sync_vector,) = model.embed_video([str(clip)])
    np.testing.assert_array_equal(async_vector, sync_vector)


# ---------------------------------------------------------------------------------------------- local service


def _policy(client: httpx.Client, model: str = MODEL) -> dict:
    reply = client.get("/api/v1/uploads", params={"action": "getPolicy", "model": model})
    assert reply.status_code == 200
    return reply.json()["data"]


def _form(data: dict, key: str) -> dict:
    return {
        "OSSAccessKeyId": data["oss_access_key_id"], "Signature": data["signature"], "policy": data["policy"],
        "key": key, "x-oss-object-acl": data["x_oss_object_acl"],
        "x-oss-forbid-overwrite": data["x_oss_forbid_overwrite"], "success_action_status": "200",
        "x-oss-content-type": "video/mp4",
    }


def test_service_checks_uploads_like_object_storage(service):
    with httpx.Client(base_url=service.base_url) as client:
        data = _policy(client)
        assert set(data) == {"policy", "signature", "upload_dir", "upload_host", "expire_in_seconds",
                             "max_file_size_mb", "capacity_limit_mb", "oss_access_key_id", "x_oss_object_acl",
                             "x_oss_forbid_overwrite"}
        key = data["upload_dir"] + "/clip.mp4"
        ok = client.post(data["upload_host"], data=_form(data, key), files={"file": ("clip.mp4", b"abc")})
        assert ok.status_code == 200
        again = client.post(data["upload_host"], data=_form(data, key), files={"file": ("clip.mp4", b"abc")})
        assert again.status_code == 409 and "FileAlreadyExists" in again.text
        outside = client.post(data["upload_host"], data=_form(data, "elsewhere/clip.mp4"), files={"file": b"abc"})
        assert outside.status_code == 403
        forged = _form(data, data["upload_dir"] + "/x.mp4") | {"Signature": "AAAA"}
        assert client.post(data["upload_host"], data=forged, files={"file": b"abc"}).status_code == 403
        unknown = client.get("/api/v1/uploads", params={"action": "getPolicy", "model": "no-such-model"})
        assert unknown.status_code == 400


def test_service_resolves_oss_keys_only_with_the_header(service):
    with httpx.Client(base_url=service.base_url) as client:
        data = _policy(client)
        key = data["upload_dir"] + "/clip.mp4"
        client.post(data["upload_host"], data=_form(data, key), files={"file": ("clip.mp4", b"\x00video")})
        body = {"model": MODEL, "input": {"contents": [{"video": f"oss://{key}"}]}}
        refused = client.post(MM_PATH, json=body)
        assert refused.status_code == 400 and "X-DashScope-OssResourceResolve" in refused.json()["message"]
        header = {"X-DashScope-OssResourceResolve": "enable"}
        assert client.post(MM_PATH, json=body, headers=header).status_code == 200
        missing = {"model": MODEL, "input": {"contents": [{"video": f"oss://{data['upload_dir']}/nope.mp4"}]}}
        assert client.post(MM_PATH, json=missing, headers=header).status_code == 400


# ---------------------------------------------------------------------------------------------- protocol details


class FakeStorage:
    """getPolicy and the upload host behind one MockTransport, scriptable."""

    def __init__(self, *, max_file_size_mb: float = 100, expire_in_seconds: int = 300, upload_status: int = 200):
        self.max_file_size_mb = max_file_size_mb
        self.expire_in_seconds = expire_in_seconds
        self.upload_status = upload_status
        self.policy_calls = 0
        self.uploads: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/uploads":
            self.policy_calls += 1
            data = {
                "policy": "POLICY-SECRET-TEXT", "signature": "SIGNATURE-SECRET-TEXT", "upload_dir": "dir/x",
                "upload_host": "https://oss.example.test", "expire_in_seconds": self.expire_in_seconds,
                "max_file_size_mb": self.max_file_size_mb, "capacity_limit_mb": 1000,
                "oss_access_key_id": "ACCESS-KEY-ID-TEXT", "x_oss_object_acl": "private",
                "x_oss_forbid_overwrite": "true",
            }
            return httpx.Response(200, content=orjson.dumps({"request_id": "r1", "data": data}))
        self.uploads.append(request)
        if self.upload_status != 200:
            return httpx.Response(self.upload_status, text=(
                "<Error><Code>SignatureDoesNotMatch</Code><Message>bad SIGNATURE-SECRET-TEXT for "
                "ACCESS-KEY-ID-TEXT</Message></Error>"))
        return httpx.Response(200)

    def uploader(self) -> Uploader:
        settings = resolve_connection(base_url="https://dashscope.example.test", api_key="sk-key-abc")
        return Uploader(settings, max_retries=0, transport=httpx.MockTransport(self.handler))


def test_multipart_form_follows_the_protocol(clip):
    storage = FakeStorage()
    uploader = storage.uploader()
    url = uploader.upload(MODEL, local_media("video", clip, "videos[0]"))
    (request,) = storage.uploads
    assert url.startswith("oss://dir/x/") and url.endswith("-clip.mp4")
    assert "authorization" not in request.headers  # the API key never goes to object storage
    content = request.read()
    fields = [b'name="OSSAccessKeyId"', b'name="Signature"', b'name="policy"', b'name="key"',
              b'name="x-oss-object-acl"', b'name="x-oss-forbid-overwrite"', b'name="success_action_status"',
              b'name="x-oss-content-type"', b'name="file"']
    positions = [content.index(f) for f in fields]
    assert positions[-1] == max(positions)  # the file part comes last
    assert url[len("oss://"):].encode() in content and b"video/mp4" in content


def test_certificate_is_renewed_when_it_is_about_to_expire(tmp_path):
    storage = FakeStorage(expire_in_seconds=10)  # inside the reuse margin: never reused
    uploader = storage.uploader()
    uploader.upload(MODEL, local_media("video", mp4(tmp_path / "1.mp4", seed=1), "v"))
    uploader.upload(MODEL, local_media("video", mp4(tmp_path / "2.mp4", seed=2), "v"))
    assert storage.policy_calls == 2
    long_lived = FakeStorage(expire_in_seconds=300)
    uploader = long_lived.uploader()
    uploader.upload(MODEL, local_media("video", mp4(tmp_path / "1.mp4", seed=1), "v"))
    uploader.upload(MODEL, local_media("video", mp4(tmp_path / "2.mp4", seed=2), "v"))
    assert long_lived.policy_calls == 1


def test_policy_lifetime_and_capacity():
    data = {"policy": "p", "signature": "s", "upload_dir": "d", "upload_host": "h", "expire_in_seconds": 300,
            "max_file_size_mb": 1, "capacity_limit_mb": 2, "oss_access_key_id": "k", "x_oss_object_acl": "private",
            "x_oss_forbid_overwrite": "true"}
    policy = UploadPolicy(data, now=1000.0)
    assert policy.usable_for(1024, now=1100.0)
    assert not policy.usable_for(1024, now=1280.0)  # within the last 30 s
    policy.used = 2 * 1024 * 1024 - 10
    assert not policy.usable_for(100, now=1100.0)


def test_file_over_the_certificate_limit_is_refused_before_it_is_sent(clip):
    storage = FakeStorage(max_file_size_mb=0.2)  # 300 KB file, 204.8 KB allowed
    with pytest.raises(InvalidInputError, match=r"307200 bytes.*at most 209715 bytes"):
        storage.uploader().upload(MODEL, local_media("video", clip, "videos[0]"))
    assert storage.policy_calls == 1 and storage.uploads == []


def test_credentials_never_reach_logs_errors_or_repr(clip, caplog):
    storage = FakeStorage()
    uploader = storage.uploader()
    with caplog.at_level(logging.DEBUG, logger="dashscope_embed"):
        uploader.upload(MODEL, local_media("video", clip, "videos[0]"))
    secrets = ("POLICY-SECRET-TEXT", "SIGNATURE-SECRET-TEXT", "ACCESS-KEY-ID-TEXT", "sk-key-abc")
    policy = uploader.policy(MODEL)
    shown = caplog.text + repr(uploader) + repr(policy) + str(policy)
    assert not any(s in shown for s in secrets)
    failing = FakeStorage(upload_status=403)
    with pytest.raises(UploadError) as info:
        failing.uploader().upload(MODEL, local_media("video", clip, "videos[0]"))
    text = str(info.value) + repr(info.value)
    assert "SignatureDoesNotMatch" in text and not any(s in text for s in secrets)


def test_in_memory_video_needs_a_name(clip):
    with pytest.raises(InvalidInputError, match="filename"):
        local_media("video", clip.read_bytes(), "videos[0]")
    media = local_media("video", clip.read_bytes(), "videos[0]", filename="clip.mp4")
    assert media.content_type == "video/mp4" and media.size == os.path.getsize(clip)
