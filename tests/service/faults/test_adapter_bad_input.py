"""Bad caller input through the adapters, against the running local service: a clear error, and no request sent.

``tests/test_engine.py`` covers the engine's own checks; here the point is that each framework entry point reaches
them (or its own configuration checks) before anything goes over the wire.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic import ValidationError

from dashscope_embed import AuthenticationError, InvalidInputError

llama = pytest.importorskip("llama_index_dashscope_embed")
lc = pytest.importorskip("langchain_dashscope_embed")


def li_dense(url):
    return llama.DashScopeEmbedding(model_name="text-embedding-v4", base_url=url, dimensions=64)


def li_sparse(url):
    return llama.DashScopeSparseEmbedding(model_name="text-embedding-v4", base_url=url)


def lc_dense(url):
    return lc.DashScopeEmbeddings(model="text-embedding-v4", base_url=url, dimensions=64)


def lc_sparse(url):
    return lc.DashScopeSparseEmbeddings(model="text-embedding-v4", base_url=url)


CALLS = {
    "llama_index query empty": (lambda u: li_dense(u).get_query_embedding(""), r"\[0\] empty"),
    "llama_index query whitespace": (lambda u: li_dense(u).get_query_embedding(" \n\t"), r"\[0\] whitespace only"),
    "llama_index text None": (lambda u: li_dense(u).get_text_embedding(None), r"\[0\] None"),
    "llama_index batch non-string": (
        lambda u: li_dense(u).get_text_embedding_batch(["fine", 3, "fine", None]),
        r"2 of 4 texts .*\[1\] not a string \(int\), \[3\] None",
    ),
    "llama_index async batch whitespace": (
        lambda u: asyncio.run(li_dense(u).aget_text_embedding_batch(["fine"] * 12 + ["  "])),
        r"\[12\] whitespace only",
    ),
    "llama_index async query empty": (lambda u: asyncio.run(li_dense(u).aget_query_embedding("")), r"\[0\] empty"),
    "llama_index sparse query empty": (lambda u: li_sparse(u).get_query_embedding(""), r"\[0\] empty"),
    "llama_index sparse batch empty text": (
        lambda u: li_sparse(u).get_text_embedding_batch(["a", ""]),
        r"\[1\] empty",
    ),
    "langchain query empty": (lambda u: lc_dense(u).embed_query(""), r"\[0\] empty"),
    "langchain documents None": (lambda u: lc_dense(u).embed_documents(["a", None]), r"\[1\] None"),
    "langchain async documents bytes": (
        lambda u: asyncio.run(lc_dense(u).aembed_documents([b"raw bytes"])),
        r"\[0\] not a string \(bytes\)",
    ),
    "langchain async query whitespace": (lambda u: asyncio.run(lc_dense(u).aembed_query("\t")), r"whitespace only"),
    "langchain sparse documents empty text": (lambda u: lc_sparse(u).embed_documents(["a", ""]), r"\[1\] empty"),
    "langchain sparse query whitespace": (lambda u: lc_sparse(u).embed_query(" "), r"whitespace only"),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_bad_text_is_refused_before_any_request(fault_service, name):
    call, message = CALLS[name]
    with pytest.raises(InvalidInputError, match=message):
        call(fault_service.base_url)
    assert fault_service.stats.requests == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda u: lc_dense(u).embed_documents("a whole document passed as one string"),
        lambda u: asyncio.run(lc_dense(u).aembed_documents("a whole document passed as one string")),
        lambda u: lc_sparse(u).embed_documents("a whole document passed as one string"),
        lambda u: li_dense(u).get_text_embedding_batch("a whole document passed as one string"),
        lambda u: asyncio.run(li_dense(u).aget_text_embedding_batch("a whole document passed as one string")),
        lambda u: li_sparse(u).get_text_embedding_batch("a whole document passed as one string"),
    ],
    ids=[
        "langchain embed_documents", "langchain aembed_documents", "langchain sparse embed_documents",
        "llama_index get_text_embedding_batch", "llama_index aget_text_embedding_batch",
        "llama_index sparse get_text_embedding_batch",
    ],
)
def test_a_bare_string_where_a_list_belongs_is_refused(fault_service, call):
    # A string is a sequence of characters: without a check, each character becomes its own "document".
    with pytest.raises(InvalidInputError, match="list of strings"):
        call(fault_service.base_url)
    assert fault_service.stats.requests == 0


@pytest.mark.parametrize(
    "make",
    [lambda u: li_dense(u).get_text_embedding_batch([]), lambda u: lc_dense(u).embed_documents([])],
    ids=["llama_index", "langchain"],
)
def test_an_empty_batch_is_an_empty_answer_without_a_request(fault_service, make):
    assert make(fault_service.base_url) == []
    assert fault_service.stats.requests == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(dimensions=100), r"dimension 100 is not supported by text-embedding-v4; allowed: 2048, .* 64"),
        (dict(dimension=64), r"dimension\n\s+Extra inputs are not permitted"),  # the singular is a common slip
        (dict(protocol="openai", instruct="Find the answer"), r"protocol 'openai' has no instruct"),
        (dict(model="text-embedding-v2", output_type="dense&sparse"), r"sparse"),
        (dict(max_concurrency=0), r"max_concurrency"),
        # a multimodal model is valid (embed_image and friends), but has no sparse output
        (dict(model="multimodal-embedding-v1", output_type="dense&sparse"), r"multimodal models return dense"),
    ],
)
def test_langchain_bad_configuration_fails_at_construction(fault_service, kwargs, message):
    with pytest.raises(ValidationError, match=message):
        lc.DashScopeEmbeddings(base_url=fault_service.base_url, **kwargs)
    assert fault_service.stats.requests == 0


@pytest.mark.parametrize(
    "make",
    [
        lambda t: llama.DashScopeEmbedding(base_url="https://dashscope.aliyuncs.com", transport=t).get_text_embedding("x"),
        lambda t: lc.DashScopeEmbeddings(base_url="https://dashscope.aliyuncs.com", transport=t).embed_query("x"),
    ],
    ids=["llama_index", "langchain"],
)
def test_missing_key_for_the_cloud_fails_before_any_request(monkeypatch, make):
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    sent = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(500))
    with pytest.raises(AuthenticationError, match="no API key"):
        make(transport)
    assert sent == []
