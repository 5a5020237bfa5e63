"""The LlamaIndex and LangChain adapters against recorded DashScope exchanges."""

from __future__ import annotations

import json

from support import adapter_scenarios as sc
import numpy as np
import pytest

pytestmark = pytest.mark.vcr

DOC_PARAMS = {"dimension": 64, "text_type": "document"}
QUERY_PARAMS = {"dimension": 64, "text_type": "query", "instruct": sc.INSTRUCT}
NATIVE = "/api/v1/services/embeddings/text-embedding/text-embedding"


def exchanges(cassette):
    """``(path, request body, reply body)`` of every recorded exchange, in order."""
    return [
        (request.path, json.loads(request.body), json.loads(response["body"]["string"]))
        for request, response in zip(cassette.requests, cassette.responses)
    ]


def wire_vectors(reply):
    """The reply's dense vectors in input order (native or compatible-mode shape)."""
    if "data" in reply:
        return [item["embedding"] for item in sorted(reply["data"], key=lambda item: item["index"])]
    return [item["embedding"] for item in sorted(reply["output"]["embeddings"], key=lambda item: item["text_index"])]


def check_documents_then_query(cassette, documents, query):
    """Two document requests (10 + 2 rows) then one query request; the vectors are exactly the service's."""
    sent = exchanges(cassette)
    assert [path for path, _, _ in sent] == [NATIVE] * 3
    assert [body["input"]["texts"] for _, body, _ in sent] == [sc.DOCUMENTS[:10], sc.DOCUMENTS[10:], [sc.QUERY]]
    assert [body["parameters"] for _, body, _ in sent] == [DOC_PARAMS, DOC_PARAMS, QUERY_PARAMS]
    assert all(body["model"] == "text-embedding-v4" for _, body, _ in sent)
    assert isinstance(documents, list) and all(isinstance(v, list) and len(v) == 64 for v in documents)
    expected = np.asarray(wire_vectors(sent[0][2]) + wire_vectors(sent[1][2]), dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(documents, dtype=np.float32), expected)
    np.testing.assert_array_equal(np.asarray(query, dtype=np.float32), np.asarray(wire_vectors(sent[2][2])[0], np.float32))
    if cassette.record_mode == "none":
        assert cassette.play_count == 3


def test_llama_index_text_batch_and_query(target, vcr):
    documents, query = sc.llama_index_text_batch_and_query(target)
    check_documents_then_query(vcr, documents, query)


def test_llama_index_async(target, vcr):
    documents, query = sc.llama_index_async(target)
    check_documents_then_query(vcr, documents, query)


def test_langchain_documents_and_query(target, vcr):
    documents, query = sc.langchain_documents_and_query(target)
    check_documents_then_query(vcr, documents, query)


def test_langchain_async(target, vcr):
    documents, query = sc.langchain_async(target)
    check_documents_then_query(vcr, documents, query)


def test_langchain_openai_compatible(target, vcr):
    documents = sc.langchain_openai_compatible(target)
    [(path, body, reply)] = exchanges(vcr)
    assert path == "/compatible-mode/v1/embeddings"
    assert body == {"model": "text-embedding-v4", "input": sc.DOCUMENTS[:3], "dimensions": 64, "encoding_format": "float"}
    np.testing.assert_array_equal(np.asarray(documents, np.float32), np.asarray(wire_vectors(reply), np.float32))
