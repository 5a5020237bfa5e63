"""LlamaIndex ``DashScopeEmbedding`` with multimodal models, against the local service (hash backend).

The local service's image vectors are deterministic functions of the image bytes (not semantic), so these tests
check identity (the same bytes rank first), shapes, the wire format and the framework plumbing.
"""

from __future__ import annotations

import asyncio
import base64
import io
import pickle

import numpy as np
import pytest
from llama_index.core import StorageContext
from llama_index.core.indices.multi_modal import MultiModalVectorStoreIndex
from llama_index.core.schema import ImageNode
from support.mma_images import SHAPES, draw_image
from pydantic import ValidationError

from dashscope_embed import InvalidInputError, MultimodalEmbedder
from llama_index_dashscope_embed import DashScopeEmbedding

MODEL = "multimodal-embedding-v1"


def mm_model(service, **kwargs) -> DashScopeEmbedding:
    kwargs.setdefault("max_retries", 0)
    return DashScopeEmbedding(model_name=kwargs.pop("model_name", MODEL), base_url=service.base_url, **kwargs)


def cos(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_multimodal_model_builds_the_multimodal_engine(service):
    model = mm_model(service)
    assert isinstance(model.engine, MultimodalEmbedder) and model.is_multimodal
    assert model.dimension == 1024
    assert model.to_payload()["protocol"] == "dashscope"


def test_image_inputs_path_bytesio_and_data_uri_agree(service, image_files):
    model = mm_model(service)
    path = image_files["red_circle"]
    data = path.read_bytes()
    by_path = model.get_image_embedding(str(path))
    by_stream = model.get_image_embedding(io.BytesIO(data))
    by_uri = model.get_image_embedding("data:image/png;base64," + base64.b64encode(data).decode())
    assert len(by_path) == 1024
    assert by_path == by_stream == by_uri
    other = model.get_image_embedding(str(image_files["green_square"]))
    assert cos(by_path, other) < 0.99


def test_image_batches_sync_and_async_keep_input_order(service, image_files):
    model = mm_model(service)
    paths = [str(p) for p in image_files.values()]
    batch = model.get_image_embedding_batch(paths)
    singles = [model.get_image_embedding(p) for p in paths]
    abatch = asyncio.run(model.aget_image_embedding_batch(paths))
    single_async = asyncio.run(model.aget_image_embedding(paths[2]))
    assert len(batch) == len(paths) and batch == singles == abatch
    assert single_async == batch[2]


def test_texts_go_through_the_multimodal_endpoint(service, recording):
    model = mm_model(service, transport=recording)
    query = model.get_query_embedding("a red circle")
    docs = model.get_text_embedding_batch(["a green square", "a blue triangle"])
    assert len(query) == 1024 and len(docs) == 2
    assert all(b["model"] == MODEL for b in recording.bodies)
    # one content element per text, no text_type: the multimodal endpoint has none
    assert [b["input"]["contents"] for b in recording.bodies] == [
        [{"text": "a red circle"}],
        [{"text": "a green square"}, {"text": "a blue triangle"}],
    ]
    assert all("text_type" not in b.get("parameters", {}) for b in recording.bodies)
    assert asyncio.run(model.aget_query_embedding("a red circle")) == query


def test_request_contents_for_images_urls_and_videos(service, image_files, recording):
    model = mm_model(service, transport=recording)
    data = image_files["blue_triangle"].read_bytes()
    model.get_image_embedding_batch([str(image_files["blue_triangle"]), io.BytesIO(data)])
    model.get_image_embedding("https://example.com/cat.png")
    video = model.get_video_embedding("https://example.com/clip.mp4")
    videos = model.get_video_embeddings(["https://example.com/a.mp4", "https://example.com/b.mp4"])
    contents = [b["input"]["contents"] for b in recording.bodies]
    inline = "data:image/png;base64," + base64.b64encode(data).decode()
    # multimodal-embedding-v1 takes one image and one video per request: one request each; the requests of one
    # batch run concurrently, so the two videos' requests may reach the service in either order
    assert contents[:4] == [
        [{"image": inline}],
        [{"image": inline}],
        [{"image": "https://example.com/cat.png"}],
        [{"video": "https://example.com/clip.mp4"}],
    ]
    assert sorted(contents[4:], key=str) == [
        [{"video": "https://example.com/a.mp4"}],
        [{"video": "https://example.com/b.mp4"}],
    ]
    assert len(contents) == 6
    assert len(video) == 1024 and len(videos) == 2 and videos[0] != videos[1]
    # whichever order they were sent in, the vectors come back in input order
    assert videos == [model.get_video_embedding(f"https://example.com/{name}.mp4") for name in ("a", "b")]
    assert asyncio.run(model.aget_video_embedding("https://example.com/clip.mp4")) == video


def test_qwen3_vl_packs_several_images_into_one_request(service, image_files, recording):
    model = mm_model(service, model_name="qwen3-vl-embedding", dimensions=256, transport=recording)
    vectors = model.get_image_embedding_batch([str(p) for p in list(image_files.values())[:3]])
    assert len(vectors) == 3 and all(len(v) == 256 for v in vectors)
    assert len(recording.bodies) == 1
    body = recording.bodies[0]
    assert [list(c) for c in body["input"]["contents"]] == [["image"]] * 3
    assert body["parameters"]["dimension"] == 256


def test_bad_media_is_refused_before_any_request(service, tmp_path, recording):
    model = mm_model(service, transport=recording)
    with pytest.raises(InvalidInputError, match="no such file"):
        model.get_image_embedding(str(tmp_path / "missing.png"))
    with pytest.raises(InvalidInputError, match="not a recognised image"):
        model.get_image_embedding(io.BytesIO(b"plain text, not an image"))
    with pytest.raises(InvalidInputError, match="URL"):
        model.get_video_embedding(str(tmp_path / "missing.mp4"))
    assert recording.bodies == []


def test_text_models_keep_the_clear_error(service):
    model = DashScopeEmbedding(model_name="text-embedding-v4", base_url=service.base_url)
    with pytest.raises(InvalidInputError, match="text embedding model.*multimodal-embedding-v1"):
        model.get_image_embedding("photo.png")
    with pytest.raises(InvalidInputError, match="cannot embed videos"):
        model.get_video_embedding("https://example.com/clip.mp4")
    with pytest.raises(InvalidInputError, match="cannot embed images"):
        asyncio.run(model.aget_image_embedding_batch([io.BytesIO(b"\x89PNG")]))


def test_multimodal_model_refuses_sparse_and_openai(service):
    with pytest.raises(ValidationError, match="dense vectors only"):
        mm_model(service, output_type="dense&sparse")
    with pytest.raises(ValidationError, match="OpenAI-compatible"):
        mm_model(service, protocol="openai")


def test_pickle_and_to_dict_rebuild_the_multimodal_engine(service, image_files):
    model = mm_model(service, api_key="sk-mm-secret-41")
    dumped = model.to_dict()
    assert dumped["model_name"] == MODEL and "api_key" not in dumped
    assert "sk-mm-secret-41" not in model.to_json() and "sk-mm-secret-41" not in repr(model)
    clone = pickle.loads(pickle.dumps(model))
    assert isinstance(clone.engine, MultimodalEmbedder) and clone.engine is not model.engine
    assert clone.api_key.get_secret_value() == "sk-mm-secret-41"
    path = str(image_files["yellow_cross"])
    assert clone.get_image_embedding(path) == model.get_image_embedding(path)
    restored = DashScopeEmbedding.from_dict(dumped)
    assert isinstance(restored.engine, MultimodalEmbedder)


def _index(service, image_files, tmp_path):
    """An index of four ImageNodes from paths and two from base64 (they reach the model as BytesIO).

    Every node carries metadata: VectorStoreIndex drops nodes whose embedding content (text + metadata) is empty
    before the multimodal index sees them, so a bare base64 ImageNode would never be embedded.
    """
    model = mm_model(service)
    names = list(SHAPES)
    nodes = [ImageNode(image_path=str(image_files[n]), id_=n, metadata={"name": n}) for n in names[:4]]
    for n in names[4:]:
        data = image_files[n].read_bytes()
        nodes.append(
            ImageNode(image=base64.b64encode(data).decode(), image_mimetype="image/png", id_=n, metadata={"name": n})
        )
    index = MultiModalVectorStoreIndex(
        nodes, storage_context=StorageContext.from_defaults(), embed_model=model, image_embed_model=model
    )
    return index, model, names


def test_multimodal_index_image_to_image_ranks_the_identical_image_first(service, image_files, tmp_path):
    index, model, names = _index(service, image_files, tmp_path)
    assert not index.is_image_vector_store_empty
    retriever = index.as_retriever(image_similarity_top_k=3)
    for name in names:
        # base64 nodes are queried with a file holding the same bytes: identical bytes give identical vectors
        results = retriever.image_to_image_retrieve(str(image_files[name]))
        assert results[0].node.node_id == name
        assert results[0].score == pytest.approx(1.0, abs=1e-5)
        assert results[1].score < 0.99


def test_multimodal_index_text_to_image_and_async(service, image_files, tmp_path):
    index, model, names = _index(service, image_files, tmp_path)
    retriever = index.as_retriever(image_similarity_top_k=2)
    results = retriever.text_to_image_retrieve("a red circle")
    # the hash backend's vectors are not semantic: only the wire path and the result shape are checked offline
    assert len(results) == 2 and {r.node.node_id for r in results} <= set(names)
    aresults = asyncio.run(retriever.atext_to_image_retrieve("a red circle"))
    assert [r.node.node_id for r in aresults] == [r.node.node_id for r in results]
    first = asyncio.run(retriever.aimage_to_image_retrieve(str(image_files[names[1]])))
    assert first[0].node.node_id == names[1]


def test_multimodal_index_async_insert(service, image_files, tmp_path):
    model = mm_model(service)
    nodes = [ImageNode(image_path=str(p), id_=n, metadata={"name": n}) for n, p in image_files.items()]
    index = MultiModalVectorStoreIndex(
        nodes,
        storage_context=StorageContext.from_defaults(),
        embed_model=model,
        image_embed_model=model,
        use_async=True,
    )
    results = index.as_retriever(image_similarity_top_k=1).image_to_image_retrieve(str(image_files["green_square"]))
    assert [r.node.node_id for r in results] == ["green_square"]


def test_jpeg_and_png_of_the_same_picture_are_different_bytes(service, tmp_path):
    # a sanity check of the identity premise: encoding changes the bytes and therefore the local vector
    model = mm_model(service)
    png, jpeg = draw_image("red", "circle"), draw_image("red", "circle", fmt="JPEG")
    a, b = model.get_image_embedding_batch([io.BytesIO(png), io.BytesIO(jpeg)])
    assert a != b
