"""LangChain ``DashScopeEmbeddings`` with multimodal models, against the local service (hash backend).

Image vectors from the local service are deterministic functions of the bytes (not semantic): the tests check
identity, order, shapes and the wire path, and langchain-chroma's image search end to end when it is installed.
"""

from __future__ import annotations

import asyncio
import io
import pickle

import pytest
from pydantic import ValidationError

from dashscope_embed import InvalidInputError, MultimodalEmbedder
from langchain_dashscope_embed import DashScopeEmbeddings

MODEL = "multimodal-embedding-v1"


def mm(service, **kwargs) -> DashScopeEmbeddings:
    kwargs.setdefault("max_retries", 0)
    return DashScopeEmbeddings(model=kwargs.pop("model", MODEL), base_url=service.base_url, **kwargs)


def test_embed_image_with_paths_keeps_order_and_identity(service, image_files):
    emb = mm(service)
    assert isinstance(emb.engine, MultimodalEmbedder)
    paths = [str(p) for p in image_files.values()]
    vectors = emb.embed_image(uris=paths)
    assert len(vectors) == len(paths) and all(len(v) == 1024 and isinstance(v[0], float) for v in vectors)
    assert emb.embed_image(uris=paths[::-1]) == vectors[::-1]
    assert emb.embed_image([io.BytesIO(image_files["red_circle"].read_bytes())])[0] == vectors[0]
    assert asyncio.run(emb.aembed_image(paths)) == vectors


def test_text_and_video_go_through_the_multimodal_endpoint(service, recording):
    emb = mm(service, transport=recording)
    query = emb.embed_query("a red circle")
    docs = emb.embed_documents(["a green square", "a red circle"])
    assert docs[1] == query  # no text_type on the multimodal endpoint: query and document vectors coincide
    video = emb.embed_video(["https://example.com/clip.mp4"])
    assert [b["input"]["contents"] for b in recording.bodies] == [
        [{"text": "a red circle"}],
        [{"text": "a green square"}, {"text": "a red circle"}],
        [{"video": "https://example.com/clip.mp4"}],
    ]
    assert len(video) == 1 and len(video[0]) == 1024
    assert asyncio.run(emb.aembed_query("a red circle")) == query
    assert asyncio.run(emb.aembed_documents(["a green square"]))[0] == docs[0]
    assert asyncio.run(emb.aembed_video(["https://example.com/clip.mp4"])) == video


def test_bad_inputs_and_text_models(service, tmp_path):
    emb = mm(service)
    with pytest.raises(InvalidInputError, match="must be a list"):
        emb.embed_image("one.png")
    with pytest.raises(InvalidInputError, match="no such file"):
        emb.embed_image([str(tmp_path / "missing.png")])
    with pytest.raises(InvalidInputError, match="URL"):
        emb.embed_video([str(tmp_path / "clip.mp4")])
    text = DashScopeEmbeddings(model="text-embedding-v4", base_url=service.base_url)
    with pytest.raises(InvalidInputError, match="text embedding model.*multimodal-embedding-v1"):
        text.embed_image(["photo.png"])
    with pytest.raises(InvalidInputError, match="cannot embed videos"):
        asyncio.run(text.aembed_video(["https://example.com/clip.mp4"]))
    with pytest.raises(ValidationError, match="dense vectors only"):
        mm(service, output_type="dense&sparse")


def test_pickle_rebuilds_the_multimodal_engine(service, image_files):
    emb = mm(service, api_key="sk-lc-mm-secret-9")
    assert "sk-lc-mm-secret-9" not in repr(emb) and "dashscope_api_key" not in emb.model_dump()
    clone = pickle.loads(pickle.dumps(emb))
    assert isinstance(clone.engine, MultimodalEmbedder) and clone.engine is not emb.engine
    path = [str(image_files["blue_triangle"])]
    assert clone.embed_image(path) == emb.embed_image(path)


def test_chroma_add_images_and_search_by_image(service, image_files, tmp_path):
    langchain_chroma = pytest.importorskip("langchain_chroma")
    chromadb = pytest.importorskip("chromadb")
    emb = mm(service)
    client = chromadb.EphemeralClient(settings=chromadb.config.Settings(anonymized_telemetry=False))
    store = langchain_chroma.Chroma(
        collection_name="shapes", embedding_function=emb, client=client, collection_metadata={"hnsw:space": "cosine"}
    )
    names = list(image_files)
    ids = store.add_images(uris=[str(image_files[n]) for n in names], metadatas=[{"name": n} for n in names])
    assert len(ids) == len(names)
    for name in names:
        hits = store.similarity_search_by_image(uri=str(image_files[name]), k=2)
        assert hits[0].metadata["name"] == name  # identical bytes, identical vector
    # text-to-image through the same store: the wire path only, the local vectors are not semantic
    assert len(store.similarity_search("a red circle", k=3)) == 3
    client.delete_collection("shapes")
