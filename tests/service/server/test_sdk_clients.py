"""Unmodified clients against the local service: the official dashscope and openai SDKs work as they do against
DashScope, and the existing LlamaIndex / LangChain integrations show their known bugs on the wire."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

from dashscope_embed.server import FaultConfig, LocalService

dashscope = pytest.importorskip("dashscope")

KEY = "sk-test"


@pytest.fixture(scope="module")
def keyed():
    with LocalService(backend="hash", api_key=KEY) as svc:
        yield svc


@pytest.fixture
def svc(keyed):
    keyed.set_faults(None)
    keyed.reset_stats()
    yield keyed
    keyed.set_faults(None)


@pytest.fixture
def sdk_globals(svc, monkeypatch):
    """Point the SDK's process-wide base URL at the service (the only way the integrations can be redirected)."""
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{svc.base_url}/api/v1")
    monkeypatch.setattr(dashscope, "api_key", None)
    return svc


# ---------------------------------------------------------------- dashscope SDK


def test_dashscope_text_embedding(svc):
    r = dashscope.TextEmbedding.call(
        model="text-embedding-v4", input=["hello", "world"], api_key=KEY, base_address=f"{svc.base_url}/api/v1",
        text_type="query", dimension=256, output_type="dense&sparse", instruct="Find the answer",
    )
    assert r.status_code == 200 and r.code == ""
    items = r.output["embeddings"]
    assert [i["text_index"] for i in items] == [0, 1]
    assert len(items[0]["embedding"]) == 256 and items[0]["sparse_embedding"]
    assert r.usage["total_tokens"] == 2
    assert svc.stats.recent[-1].parameters == {
        "text_type": "query", "dimension": 256, "output_type": "dense&sparse", "instruct": "Find the answer"
    }


def test_dashscope_errors_come_back_as_status_codes(svc):
    base = f"{svc.base_url}/api/v1"
    r = dashscope.TextEmbedding.call(model="text-embedding-v3", input=["x"] * 11, api_key=KEY, base_address=base)
    assert (r.status_code, r.code) == (400, "InvalidParameter")
    assert r.message == "batch size is invalid, it should not be larger than 10.: input.contents"
    r = dashscope.TextEmbedding.call(model="text-embedding-v3", input=["x"], api_key="sk-wrong", base_address=base)
    assert (r.status_code, r.code, r.message) == (401, "InvalidApiKey", "Invalid API-key provided.")


def test_dashscope_sdk_reads_http_200_with_error_code_as_success(svc):
    # SDK behaviour the service makes visible: the error code of an HTTP 200 reply is lost.
    svc.set_faults(FaultConfig(error_200_rate=1.0))
    r = dashscope.TextEmbedding.call(model="text-embedding-v4", input=["x"], api_key=KEY,
                                     base_address=f"{svc.base_url}/api/v1")
    assert r.status_code == 200 and r.output is None and r.code == ""


@pytest.mark.needs_newest(reason="dashscope >= 1.27 resends a request once after a dropped connection; 1.20 raises")
def test_dashscope_sdk_resends_once_after_a_dropped_connection(svc):
    import requests

    base = f"{svc.base_url}/api/v1"
    svc.set_faults(FaultConfig(schedule={0: "drop"}))
    r = dashscope.TextEmbedding.call(model="text-embedding-v4", input=["x"], api_key=KEY, base_address=base)
    assert r.status_code == 200
    assert svc.stats.snapshot().requests == 2  # the POST was sent again, though the first may have been processed
    svc.set_faults(FaultConfig(drop_rate=1.0))
    svc.reset_stats()
    with pytest.raises(requests.ConnectionError):
        dashscope.TextEmbedding.call(model="text-embedding-v4", input=["x"], api_key=KEY, base_address=base)
    assert svc.stats.dropped == 2


def test_dashscope_multimodal_embedding(svc):
    r = dashscope.MultiModalEmbedding.call(
        model="multimodal-embedding-v1",
        input=[{"text": "a red bicycle"}, {"image": "data:image/png;base64,iVBORw0KGgo="}],
        api_key=KEY, base_address=f"{svc.base_url}/api/v1",
    )
    assert r.status_code == 200, r
    assert [(e["index"], e["type"]) for e in r.output["embeddings"]] == [(0, "text"), (1, "image")]
    assert "image_tokens" in r.usage


def test_dashscope_v2_client(svc):
    if not hasattr(dashscope, "Client"):
        pytest.skip("this dashscope version has no v2 Client")
    client = dashscope.Client(api_key=KEY, base_url=f"{svc.base_url}/api/v1", max_retries=2)
    r = client.embeddings.create(model="text-embedding-v4", input=["a", "b"], text_type="query", dimension=128)
    assert [e.index for e in r.embeddings] == [0, 1] and len(r.embeddings[0].embedding) == 128
    # retries a 429 after the Retry-After the service sent
    svc.set_faults(FaultConfig(schedule={0: "429"}, retry_after=0.2))
    started = time.perf_counter()
    client.embeddings.create(model="text-embedding-v4", input=["a"])
    assert time.perf_counter() - started >= 0.2
    assert svc.stats.by_status == {200: 2, 429: 1}
    # raises on an HTTP 200 carrying an error code
    svc.set_faults(FaultConfig(error_200_rate=1.0))
    with pytest.raises(Exception, match="InternalError"):
        client.embeddings.create(model="text-embedding-v4", input=["a"])
    # but accepts a reply with fewer vectors than inputs without a word
    svc.set_faults(FaultConfig(short_reply_rate=1.0))
    assert len(client.embeddings.create(model="text-embedding-v4", input=["a", "b"]).embeddings) == 1


# ---------------------------------------------------------------- openai SDK


def test_openai_sdk_compatible_mode(svc):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(api_key=KEY, base_url=f"{svc.base_url}/compatible-mode/v1", max_retries=0)
    r = client.embeddings.create(model="text-embedding-v4", input=["hello", "world"], dimensions=512)
    assert [d.index for d in r.data] == [0, 1] and len(r.data[0].embedding) == 512
    assert r.usage.prompt_tokens == r.usage.total_tokens == 2
    # the SDK asks for base64 unless told otherwise, and decodes it to the same floats
    assert svc.stats.recent[-1].parameters["encoding_format"] == "base64"
    floats = client.embeddings.create(model="text-embedding-v4", input="hello", dimensions=512, encoding_format="float")
    assert np.allclose(floats.data[0].embedding, r.data[0].embedding)
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model="text-embedding-v4", input=["x"] * 11)
    assert "should not be larger than 10" in str(info.value)
    bad = openai.OpenAI(api_key="sk-wrong", base_url=f"{svc.base_url}/compatible-mode/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.embeddings.create(model="text-embedding-v4", input="x")


# ---------------------------------------------------------------- LlamaIndex integration


def test_llama_index_dashscope_sends_text_type_under_kwargs(sdk_globals):
    """llama-index-embeddings-dashscope 0.6.0 passes ``kwargs=kwargs`` to the SDK, so text_type arrives as
    ``parameters.kwargs.text_type``, which the service (like DashScope) ignores: query and document vectors are
    the same."""
    li = pytest.importorskip("llama_index.embeddings.dashscope")
    emb = li.DashScopeEmbedding(model_name="text-embedding-v3", api_key=KEY)
    query = emb.get_query_embedding("how do I read a file?")
    doc = emb.get_text_embedding("how do I read a file?")
    sent = [r.parameters for r in sdk_globals.stats.recent]
    assert sent == [{"kwargs": {"text_type": "query"}}, {"kwargs": {"text_type": "document"}}]
    assert np.allclose(query, doc)


def test_llama_index_dashscope_default_batch_is_too_big_for_v3(sdk_globals):
    """Its default embed_batch_size is 25 for every model; text-embedding-v3 takes 10, the 400 is logged and
    turned into None vectors, which llama-index-core then fails to validate."""
    li = pytest.importorskip("llama_index.embeddings.dashscope")
    emb = li.DashScopeEmbedding(model_name="text-embedding-v3", api_key=KEY)
    assert emb.embed_batch_size == 25
    with pytest.raises(Exception) as info:
        emb.get_text_embedding_batch([f"chunk {i}" for i in range(12)])
    assert "valid list" in str(info.value) or "None" in str(info.value)
    assert sdk_globals.stats.by_status == {400: 1}
    assert sdk_globals.stats.recent[-1].rows == 12


# ---------------------------------------------------------------- LangChain community integration


@pytest.fixture
def langchain_embeddings(sdk_globals):
    lc = pytest.importorskip("langchain_community.embeddings")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lc.DashScopeEmbeddings(model="text-embedding-v3", dashscope_api_key=KEY)


def test_langchain_sends_text_type_but_shows_the_key(langchain_embeddings, sdk_globals):
    q = langchain_embeddings.embed_query("hello")
    d = langchain_embeddings.embed_documents(["hello"])[0]
    assert [r.parameters for r in sdk_globals.stats.recent] == [{"text_type": "query"}, {"text_type": "document"}]
    assert not np.allclose(q, d)
    assert KEY in repr(langchain_embeddings)  # the key is in the repr
    assert dashscope.api_key == KEY  # and in the SDK's process-wide global


def test_langchain_ignores_text_index(langchain_embeddings, sdk_globals):
    texts = [f"document {i}" for i in range(25)]
    right = langchain_embeddings.embed_documents(texts)
    sdk_globals.set_faults(FaultConfig(shuffle_rate=1.0, seed=1))
    shuffled = langchain_embeddings.embed_documents(texts)
    misplaced = sum(not np.allclose(a, b) for a, b in zip(right, shuffled))
    assert misplaced > 10  # vectors land on the wrong texts


def test_langchain_retry_re_embeds_finished_batches(langchain_embeddings, sdk_globals):
    texts = [f"document {i}" for i in range(25)]  # three requests of 10, 10, 5
    sdk_globals.set_faults(FaultConfig(schedule={2: "500"}))
    started = time.perf_counter()
    assert len(langchain_embeddings.embed_documents(texts)) == 25
    assert time.perf_counter() - started < 10
    snap = sdk_globals.stats.snapshot()
    assert snap.by_status == {200: 5, 500: 1}
    assert snap.rows == 45  # 25 texts needed, 45 embedded: the retry started over from the first batch


def test_langchain_does_not_retry_a_dropped_connection(langchain_embeddings, sdk_globals):
    import requests

    # the SDK's own single re-send absorbs one drop; a second one reaches LangChain, which retries only HTTPError
    sdk_globals.set_faults(FaultConfig(schedule={0: "drop", 1: "drop"}))
    with pytest.raises(requests.ConnectionError):
        langchain_embeddings.embed_documents(["x"])
    assert sdk_globals.stats.requests == 2
