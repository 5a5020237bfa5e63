"""OpenAI-compatible and multimodal endpoints: successful reply shapes and vector semantics."""

from __future__ import annotations

import base64

import numpy as np
from support.svc_helpers import COMPAT, MULTIMODAL, embed, vectors

from dashscope_embed import tokens
from dashscope_embed.catalog import get_model_spec
from dashscope_embed.server.multimodal import IMAGE_TOKENS


def compat(client, **body):
    return client.post(COMPAT, json={"model": "text-embedding-v4", **body})


def test_compat_reply_shape(client):
    r = compat(client, input=["hello", "world"], encoding_format="float")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"object", "data", "model", "usage", "id"}
    assert body["object"] == "list" and body["model"] == "text-embedding-v4"
    assert [(d["object"], d["index"]) for d in body["data"]] == [("embedding", 0), ("embedding", 1)]
    assert len(body["data"][0]["embedding"]) == 1024
    n = tokens.count_tokens("hello") + tokens.count_tokens("world")
    assert body["usage"] == {"prompt_tokens": n, "total_tokens": n}
    assert body["id"] == r.headers["x-request-id"]


def test_compat_string_input_dimensions_and_document_vectors(client):
    r = compat(client, input="hello", dimensions=256)
    vec = np.array(r.json()["data"][0]["embedding"])
    assert vec.shape == (256,)
    # compatible mode has no text_type: the vectors are the native API's document vectors
    native = vectors(embed(client, ["hello"], dimension=256, text_type="document"))[0]
    assert np.allclose(vec, native, atol=1e-7)


def test_compat_base64_is_little_endian_float32(client):
    floats = np.array(compat(client, input=["a b c"]).json()["data"][0]["embedding"], dtype=np.float32)
    encoded = compat(client, input=["a b c"], encoding_format="base64").json()["data"][0]["embedding"]
    assert isinstance(encoded, str)
    assert np.array_equal(np.frombuffer(base64.b64decode(encoded), dtype="<f4"), floats)


def test_compat_ignores_and_records_native_only_fields(service, client):
    r = compat(client, input="x", text_type="query", encoding_format="float")
    assert r.status_code == 200
    assert service.stats.recent[-1].parameters == {"text_type": "query", "encoding_format": "float"}
    assert service.stats.recent[-1].endpoint == "compatible"


def mm(client, contents, model="multimodal-embedding-v1", **parameters):
    body = {"model": model, "input": {"contents": contents}}
    if parameters:
        body["parameters"] = parameters
    return client.post(MULTIMODAL, json=body)


PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n fake image bytes").decode()


def test_multimodal_reply_shape_and_usage(client):
    r = mm(client, [{"text": "a red bicycle"}, {"image": PNG}, {"video": "https://example.com/clip.mp4"}])
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"output", "usage", "request_id"}
    items = body["output"]["embeddings"]
    assert [(i["index"], i["type"]) for i in items] == [(0, "text"), (1, "image"), (2, "video")]
    assert all(len(i["embedding"]) == 1024 for i in items)
    assert body["usage"] == {"input_tokens": tokens.count_tokens("a red bicycle"), "image_tokens": IMAGE_TOKENS}


def test_multimodal_text_vectors_match_the_text_backend(client):
    # text elements are embedded as documents by the same backend, so text-to-text similarity is meaningful
    mm_vec = mm(client, [{"text": "a red bicycle"}], model="qwen3-vl-embedding", dimension=1024)
    native = vectors(embed(client, ["a red bicycle"], dimension=1024, text_type="document"))[0]
    assert np.allclose(mm_vec.json()["output"]["embeddings"][0]["embedding"], native, atol=1e-7)


def test_image_vectors_depend_only_on_the_bytes(client):
    def vec(image):
        return np.array(mm(client, [{"image": image}]).json()["output"]["embeddings"][0]["embedding"])

    same_bytes_other_type = "data:image/jpeg;base64," + PNG.split(",", 1)[1]
    assert np.array_equal(vec(PNG), vec(PNG))
    assert np.array_equal(vec(PNG), vec(same_bytes_other_type))
    assert not np.allclose(vec(PNG), vec("https://example.com/a.png"))
    assert np.array_equal(vec("https://example.com/a.png"), vec("https://example.com/a.png"))
    video = np.array(mm(client, [{"video": "https://example.com/a.png"}]).json()["output"]["embeddings"][0]["embedding"])
    assert not np.allclose(video, vec("https://example.com/a.png"))


def fusion_models():
    from dashscope_embed.catalog import CATALOG

    return {s.fusion_form: s.name for s in CATALOG.values() if s.kind == "multimodal" and s.fusion_form}


def test_enable_fusion_returns_one_fused_vector(client):
    name = fusion_models()["parameter"]
    contents = [{"text": "a red bicycle"}, {"image": PNG}]
    fused = mm(client, contents, model=name, enable_fusion=True).json()["output"]["embeddings"]
    separate = mm(client, contents, model=name).json()["output"]["embeddings"]
    assert [(i["index"], i["type"]) for i in fused] == [(0, "fusion")]
    assert [(i["index"], i["type"]) for i in separate] == [(0, "vl"), (1, "vl")]
    a, b, f = (np.array(x["embedding"]) for x in (*separate, fused[0]))
    assert f @ a > 0.5 and f @ b > 0.5  # the fused vector lies between its parts


def test_object_fusion_fuses_one_content_object(client):
    name = fusion_models()["object"]
    r = mm(client, [{"text": "a red bicycle", "image": PNG}, {"text": "alone"}], model=name)
    items = r.json()["output"]["embeddings"]
    assert [(i["index"], i["type"]) for i in items] == [(0, "fused"), (1, "text")]
    assert mm(client, [{"text": "x"}], model=name, enable_fusion=True).status_code == 400


def test_request_fusion_always_fuses(client):
    name = fusion_models()["request"]
    r = mm(client, [{"text": "a red bicycle"}, {"image": PNG}], model=name)
    assert [(i["index"], i["type"]) for i in r.json()["output"]["embeddings"]] == [(0, "fusion")]
    r = mm(client, [{"text": "one"}, {"text": "two"}], model=name)
    assert r.status_code == 400 and r.json()["message"] == f"too many texts: 2 in one request; {name} accepts at most 1."


def test_multi_images(client):
    spec = get_model_spec("tongyi-embedding-vision-plus")
    images = [f"https://example.com/{i}.png" for i in range(spec.max_multi_images)]
    r = mm(client, [{"multi_images": images}], model=spec.name)
    assert r.status_code == 200
    assert r.json()["output"]["embeddings"][0]["type"] == "multi_images"
    assert r.json()["usage"]["image_tokens"] == IMAGE_TOKENS * len(images)
    too_many = mm(client, [{"multi_images": images + ["https://example.com/x.png"]}], model=spec.name)
    assert too_many.status_code == 400
    assert too_many.json()["message"] == (
        f"input.contents[0].multi_images holds {len(images) + 1} images; {spec.name} accepts at most "
        f"{spec.max_multi_images}."
    )
    refused = mm(client, [{"multi_images": images[:1]}], model="multimodal-embedding-v1")
    assert refused.json()["message"] == "input.contents[0]: multi_images is not supported by multimodal-embedding-v1."
