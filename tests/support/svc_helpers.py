"""Paths and small helpers shared by the local service tests."""

from __future__ import annotations

import numpy as np

TEXT = "/api/v1/services/embeddings/text-embedding/text-embedding"
MULTIMODAL = "/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding"
COMPAT = "/compatible-mode/v1/embeddings"


def embed(client, texts, model="text-embedding-v4", **parameters):
    """POST a native text request; ``parameters`` become the body's ``parameters`` object."""
    body = {"model": model, "input": {"texts": texts}}
    if parameters:
        body["parameters"] = parameters
    return client.post(TEXT, json=body)


def vectors(reply):
    """The dense vectors of a native text reply, in ``text_index`` order."""
    items = sorted(reply.json()["output"]["embeddings"], key=lambda item: item["text_index"])
    return np.array([item["embedding"] for item in items])


def native_error(reply, status, code):
    """Assert a native DashScope error reply; return its message."""
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"code", "message", "request_id"}, body
    assert body["code"] == code
    assert body["request_id"] and reply.headers["x-request-id"] == body["request_id"]
    return body["message"]


def compat_error(reply, status, err_type, code):
    """Assert an OpenAI-compatible error reply; return its ``error`` object."""
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"error", "id", "request_id"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"]) == (err_type, code)
    return error
