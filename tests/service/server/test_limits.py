"""Every documented limit answers with the real service's status, code and message."""

from __future__ import annotations

import base64

import pytest
from support.svc_helpers import COMPAT, MULTIMODAL, TEXT, compat_error, embed, native_error

from dashscope_embed import tokens
from dashscope_embed.catalog import CATALOG, get_model_spec
from dashscope_embed.errors import BatchSizeError, InvalidRequestError, NotFoundError, error_from_reply

EMPTY = "Required input parameter missing from request."


def text_of_tokens(n: int) -> str:
    text = "hello" + " hello" * (n - 1)
    assert tokens.count_tokens(text) == n
    return text


# ---------------------------------------------------------------- native text


def test_unknown_model(client):
    message = native_error(embed(client, ["x"], model="text-embedding-v9"), 400, "InvalidParameter")
    assert message.startswith("Model not exist.")
    assert "'text-embedding-v9'" in message


def test_missing_model(client):
    r = client.post(TEXT, json={"input": {"texts": ["x"]}})
    assert native_error(r, 400, "BadRequest.EmptyModel") == 'Required parameter "model" missing from request.'


@pytest.mark.parametrize("model", sorted(n for n, s in CATALOG.items() if s.kind == "text" and not s.async_task))
def test_rows_per_request(client, model):
    limit = get_model_spec(model).max_rows
    assert embed(client, ["x"] * limit, model=model).status_code == 200
    r = embed(client, ["x"] * (limit + 1), model=model)
    message = native_error(r, 400, "InvalidParameter")
    assert message == f"batch size is invalid, it should not be larger than {limit}.: input.contents"
    # the shared error parser reads the limit back out of the message
    error = error_from_reply(r.status_code, r.json())
    assert isinstance(error, BatchSizeError) and error.limit == limit


@pytest.mark.parametrize("model", ["text-embedding-v4", "text-embedding-v2"])
def test_tokens_per_row(client, model):
    limit = get_model_spec(model).max_tokens_per_row
    assert embed(client, [text_of_tokens(limit)], model=model).status_code == 200
    r = embed(client, ["short", text_of_tokens(limit + 1)], model=model)
    assert native_error(r, 400, "InvalidParameter") == f"Range of input length should be [1, {limit}]"


@pytest.mark.parametrize("dimension", [100, 4096, "1024", True, 0])
def test_dimension_not_allowed_lists_allowed(client, dimension):
    message = native_error(embed(client, ["x"], dimension=dimension), 400, "InvalidParameter")
    assert message.startswith("Invalid dimension:")
    assert "allowed: 2048, 1536, 1024, 768, 512, 256, 128, 64" in message


def test_dimension_of_v3(client):
    message = native_error(embed(client, ["x"], model="text-embedding-v3", dimension=2048), 400, "InvalidParameter")
    assert "allowed: 1024, 768, 512, 256, 128, 64" in message


def test_text_type_must_be_query_or_document(client):
    message = native_error(embed(client, ["x"], text_type="passage"), 400, "InvalidParameter")
    assert message == "Invalid text_type 'passage': it should be one of query, document."


@pytest.mark.parametrize("output_type", ["sparse", "dense&sparse"])
def test_sparse_only_for_models_with_sparse(client, output_type):
    assert embed(client, ["x"], model="text-embedding-v3", output_type=output_type).status_code == 200
    message = native_error(embed(client, ["x"], model="text-embedding-v2", output_type=output_type), 400, "InvalidParameter")
    assert message == f"output_type '{output_type}' is not supported by text-embedding-v2: it returns dense vectors only."


def test_dense_output_type_is_fine_everywhere(client):
    assert embed(client, ["x"], model="text-embedding-v1", output_type="dense").status_code == 200


def test_unknown_output_type(client):
    message = native_error(embed(client, ["x"], output_type="binary"), 400, "InvalidParameter")
    assert message == "Invalid output_type 'binary': it should be one of dense, sparse, dense&sparse."


def test_instruct_only_for_models_with_instruct(client):
    assert embed(client, ["x"], text_type="query", instruct="Find answers").status_code == 200
    r = embed(client, ["x"], model="text-embedding-v3", text_type="query", instruct="Find answers")
    assert native_error(r, 400, "InvalidParameter") == "instruct is not supported by text-embedding-v3."


@pytest.mark.parametrize(
    "body",
    [
        {"model": "text-embedding-v4", "input": {"texts": []}},
        {"model": "text-embedding-v4", "input": {"texts": ["ok", ""]}},
        {"model": "text-embedding-v4", "input": {"texts": ["ok", "  \n\t "]}},
        {"model": "text-embedding-v4", "input": {"texts": ""}},
        {"model": "text-embedding-v4", "input": {}},
        {"model": "text-embedding-v4"},
    ],
    ids=["empty-list", "empty-text", "whitespace-text", "empty-string", "no-texts", "no-input"],
)
def test_empty_input(client, body):
    message = native_error(client.post(TEXT, json=body), 400, "BadRequest.EmptyInput")
    assert message.startswith(EMPTY)


def test_non_string_text(client):
    message = native_error(embed(client, ["ok", 3]), 400, "InvalidParameter")
    assert message == "input.texts[1] must be a string, got int."


def test_body_not_json(client):
    r = client.post(TEXT, content=b"{not json", headers={"content-type": "application/json"})
    assert native_error(r, 400, "InvalidParameter").startswith("The request body is not valid JSON")


def test_multimodal_model_on_text_endpoint(client):
    message = native_error(embed(client, ["x"], model="multimodal-embedding-v1"), 400, "InvalidParameter")
    assert message.startswith("url error, please check url！")


# ---------------------------------------------------------------- OpenAI-compatible


def test_compat_unknown_model_is_404_model_not_found(client):
    r = client.post(COMPAT, json={"model": "text-embedding-v9", "input": "x"})
    error = compat_error(r, 404, "invalid_request_error", "model_not_found")
    assert error["message"].startswith("Model not exist.") and "'text-embedding-v9'" in error["message"]
    assert error["param"] == "model"
    assert isinstance(error_from_reply(404, r.json()), NotFoundError)


def test_compat_refuses_models_without_openai_compatible(client):
    assert not get_model_spec("multimodal-embedding-v1").openai_compatible
    r = client.post(COMPAT, json={"model": "multimodal-embedding-v1", "input": "x"})
    error = compat_error(r, 400, "InvalidParameter", "InvalidParameter")
    assert error["message"].startswith("multimodal-embedding-v1 is not available in OpenAI-compatible mode")


def test_compat_batch_size(client):
    r = client.post(COMPAT, json={"model": "text-embedding-v3", "input": ["x"] * 11})
    error = compat_error(r, 400, "InvalidParameter", "InvalidParameter")
    assert error["message"] == (
        "<400> InternalError.Algo.InvalidParameter: Value error, batch size is invalid, "
        "it should not be larger than 10.: input.contents"
    )
    assert error["param"] is None
    parsed = error_from_reply(400, r.json())
    assert isinstance(parsed, BatchSizeError) and parsed.limit == 10


def test_compat_dimensions(client):
    r = client.post(COMPAT, json={"model": "text-embedding-v3", "input": "x", "dimensions": 2048})
    error = compat_error(r, 400, "InvalidParameter", "InvalidParameter")
    assert error["param"] == "dimensions" and "allowed: 1024, 768, 512, 256, 128, 64" in error["message"]


@pytest.mark.parametrize("inp", [[], "", ["a", " "]])
def test_compat_empty_input(client, inp):
    r = client.post(COMPAT, json={"model": "text-embedding-v4", "input": inp})
    error = compat_error(r, 400, "BadRequest.EmptyInput", "BadRequest.EmptyInput")
    assert error["message"].startswith(EMPTY)


def test_compat_token_arrays_are_refused(client):
    r = client.post(COMPAT, json={"model": "text-embedding-v4", "input": [[1, 2, 3]]})
    error = compat_error(r, 400, "InvalidParameter", "InvalidParameter")
    assert error["message"] == "input[0] must be a string, got list."


def test_compat_tokens_per_row(client):
    r = client.post(COMPAT, json={"model": "text-embedding-v4", "input": text_of_tokens(8193)})
    assert compat_error(r, 400, "InvalidParameter", "InvalidParameter")["message"] == "Range of input length should be [1, 8192]"


def test_compat_encoding_format(client):
    r = client.post(COMPAT, json={"model": "text-embedding-v4", "input": "x", "encoding_format": "int8"})
    error = compat_error(r, 400, "InvalidParameter", "InvalidParameter")
    assert error["param"] == "encoding_format"


# ---------------------------------------------------------------- multimodal


def mm(client, contents, model="multimodal-embedding-v1", **parameters):
    body = {"model": model, "input": {"contents": contents}}
    if parameters:
        body["parameters"] = parameters
    return client.post(MULTIMODAL, json=body)


def data_uri(payload: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(payload).decode()}"


@pytest.mark.parametrize("model", sorted(n for n, s in CATALOG.items() if s.kind == "multimodal"))
def test_multimodal_elements_per_request(client, model):
    spec = get_model_spec(model)
    limit = spec.max_rows
    if spec.fusion_form == "request":  # one of each kind
        full = [{"text": "t"}, {"image": "https://e.com/a.png"}, {"video": "https://e.com/a.mp4"}][:limit]
    else:
        full = [{"text": f"t{i}"} for i in range(limit)]
    ok = mm(client, full, model=model)
    assert ok.status_code == 200, ok.text
    r = mm(client, [{"text": f"t{i}"} for i in range(limit + 1)], model=model)
    assert native_error(r, 400, "InvalidParameter") == (
        f"batch size is invalid, it should not be larger than {limit}.: input.contents"
    )


def test_multimodal_images_per_request(client):
    spec = get_model_spec("multimodal-embedding-v1")
    images = [{"image": f"https://example.com/{i}.png"} for i in range(spec.max_images + 1)]
    message = native_error(mm(client, images), 400, "InvalidParameter")
    assert message == f"too many images: {spec.max_images + 1} in one request; multimodal-embedding-v1 accepts at most {spec.max_images}."
    qwen = get_model_spec("qwen3-vl-embedding")
    ok = mm(client, [{"image": f"https://example.com/{i}.png"} for i in range(qwen.max_images)], model=qwen.name)
    assert ok.status_code == 200


def test_multimodal_videos_per_request(client):
    videos = [{"video": f"https://example.com/{i}.mp4"} for i in range(2)]
    message = native_error(mm(client, videos), 400, "InvalidParameter")
    assert message == "too many videos: 2 in one request; multimodal-embedding-v1 accepts at most 1."


def test_multimodal_text_tokens(client):
    limit = get_model_spec("multimodal-embedding-v1").max_tokens_per_row
    assert mm(client, [{"text": text_of_tokens(limit)}]).status_code == 200
    message = native_error(mm(client, [{"text": text_of_tokens(limit + 1)}]), 400, "InvalidParameter")
    assert message == f"Range of input length should be [1, {limit}]"


def test_multimodal_image_size(client):
    limit = get_model_spec("multimodal-embedding-v1").image_max_bytes
    assert mm(client, [{"image": data_uri(b"\x89PNG" + b"\0" * (limit - 4))}]).status_code == 200
    message = native_error(mm(client, [{"image": data_uri(b"\0" * (limit + 1))}]), 400, "InvalidParameter")
    assert message == (
        f"input.contents[0].image: the image is {limit + 1} bytes; multimodal-embedding-v1 accepts at most "
        f"{limit} bytes (3 MB)."
    )


def test_multimodal_image_format(client):
    v1 = get_model_spec("multimodal-embedding-v1")
    assert "gif" not in v1.image_formats
    message = native_error(mm(client, [{"image": data_uri(b"GIF89a", "image/gif")}]), 400, "InvalidParameter")
    assert message == (
        "input.contents[0].image: image format 'gif' is not supported by multimodal-embedding-v1; "
        f"supported: {', '.join(v1.image_formats)}."
    )
    wide = get_model_spec("qwen3-vl-embedding")
    extra = next(f for f in wide.image_formats if f not in v1.image_formats)
    assert native_error(mm(client, [{"image": data_uri(b"x", f"image/{extra}")}]), 400, "InvalidParameter")
    assert mm(client, [{"image": data_uri(b"x", f"image/{extra}")}], model=wide.name).status_code == 200


@pytest.mark.parametrize(
    "image, expected",
    [
        ("file:///etc/passwd", "must be an http(s) or oss:// URL or a data: URI"),
        ("data:image/png;base64,@@@", "is not valid base64"),
        ("data:text/plain;base64,aGk=", "not an image"),
    ],
)
def test_multimodal_bad_image_reference(client, image, expected):
    assert expected in native_error(mm(client, [{"image": image}]), 400, "InvalidParameter")


def test_multimodal_empty(client):
    assert native_error(mm(client, []), 400, "BadRequest.EmptyInput").startswith(EMPTY)
    assert native_error(mm(client, [{"text": " "}]), 400, "BadRequest.EmptyInput").startswith(EMPTY)


def test_multimodal_element_without_media(client):
    message = native_error(mm(client, [{"factor": 1}]), 400, "InvalidParameter")
    assert message == "input.contents[0] must hold one of: text, image, video."


def test_multimodal_text_model_is_url_error(client):
    message = native_error(mm(client, [{"text": "x"}], model="text-embedding-v4"), 400, "InvalidParameter")
    assert message.startswith("url error, please check url！")


def test_multimodal_fusion_only_where_supported(client):
    message = native_error(mm(client, [{"text": "x"}], enable_fusion=True), 400, "InvalidParameter")
    assert message == "enable_fusion is not supported by multimodal-embedding-v1."
    message = native_error(mm(client, [{"text": "x", "image": "https://e.com/a.png"}]), 400, "InvalidParameter")
    assert message == "input.contents[0] holds text and image; multimodal-embedding-v1 embeds one input per element."


def test_multimodal_dimension(client):
    message = native_error(mm(client, [{"text": "x"}], dimension=512), 400, "InvalidParameter")
    assert "allowed: 1024" in message
    for spec in (s for s in CATALOG.values() if s.kind == "multimodal"):
        for dim in spec.dimensions:
            r = mm(client, [{"text": "x"}], model=spec.name, dimension=dim)
            assert len(r.json()["output"]["embeddings"][0]["embedding"]) == dim, spec.name


def test_every_error_parses_as_a_typed_error(client):
    r = embed(client, ["x"], text_type="bad")
    assert isinstance(error_from_reply(r.status_code, r.json()), InvalidRequestError)
