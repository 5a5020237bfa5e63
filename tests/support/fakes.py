"""A scriptable in-memory DashScope for httpx.MockTransport: records every request, scripts faults per call."""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import time
from typing import Callable, Optional

import httpx
import numpy as np
import orjson


def text_vector(text: str, dimension: int, text_type: str = "document") -> list[float]:
    """Deterministic unit vector for (text, text_type): what the fake returns, so tests can predict rows."""
    seed = int.from_bytes(hashlib.sha256(f"{text_type}\x00{text}".encode()).digest()[:8], "little")
    vec = np.random.default_rng(seed).standard_normal(dimension)
    return (vec / np.linalg.norm(vec)).astype(np.float32).tolist()


class FakeDashScope:
    """Answers the native text and compatible-mode endpoints like DashScope does.

    Args:
        shuffle: send ``text_index`` in a random (seeded) order.
        delay: seconds each request takes (to observe concurrency).
        script: ``{call_number: response_or_callable}``; call numbers count from 1 across all requests.
        fail_texts: ``{text: [responses...]}``: the first requests containing ``text`` get these replies in turn.
    """

    def __init__(
        self,
        *,
        shuffle: bool = False,
        delay: float = 0.0,
        script: Optional[dict[int, httpx.Response]] = None,
        fail_texts: Optional[dict[str, list[httpx.Response]]] = None,
        max_rows: int = 10,
    ) -> None:
        self.shuffle = shuffle
        self.delay = delay
        self.script = script or {}
        self.fail_texts = {k: list(v) for k, v in (fail_texts or {}).items()}
        self.max_rows = max_rows
        self.bodies: list[dict] = []
        self.headers: list[httpx.Headers] = []
        self.paths: list[str] = []
        self.ok_bodies: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.calls = 0
        self._lock = threading.Lock()
        self._rng = random.Random(7)

    # transports -------------------------------------------------------------------------------------
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._sync_handler)

    def async_transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._async_handler)

    def _enter(self, request: httpx.Request) -> int:
        with self._lock:
            self.calls += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.bodies.append(orjson.loads(request.content))
            self.headers.append(request.headers)
            self.paths.append(request.url.path)
            return self.calls

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _sync_handler(self, request: httpx.Request) -> httpx.Response:
        number = self._enter(request)
        try:
            if self.delay:
                time.sleep(self.delay)
            return self._answer(number, request)
        finally:
            self._leave()

    async def _async_handler(self, request: httpx.Request) -> httpx.Response:
        number = self._enter(request)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            return self._answer(number, request)
        finally:
            self._leave()

    # replies ----------------------------------------------------------------------------------------
    def _answer(self, number: int, request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        scripted = self.script.get(number)
        if scripted is not None:
            return scripted(request) if callable(scripted) else scripted
        texts = body["input"]["texts"] if "texts" in body.get("input", {}) else body["input"]
        for text in texts:
            queue = self.fail_texts.get(text)
            if queue:
                reply = queue.pop(0)
                if isinstance(reply, Exception):
                    raise reply
                return reply
        if len(texts) > self.max_rows:
            return httpx.Response(
                400,
                json={
                    "code": "InternalError.Algo.InvalidParameter",
                    "message": f"Value error, batch size is invalid, it should not be larger than {self.max_rows}.: input.contents",
                    "request_id": f"req-{number}",
                },
            )
        with self._lock:
            self.ok_bodies.append(body)
        if request.url.path.endswith("/compatible-mode/v1/embeddings"):
            return self._openai_reply(number, body, texts)
        return self._native_reply(number, body, texts)

    def _native_reply(self, number: int, body: dict, texts: list[str]) -> httpx.Response:
        params = body.get("parameters", {})
        dimension = params.get("dimension", 1024)
        text_type = params.get("text_type", "document")
        output_type = params.get("output_type", "dense")
        items = []
        for i, text in enumerate(texts):
            item: dict = {"text_index": i}
            if output_type in ("dense", "dense&sparse"):
                item["embedding"] = text_vector(text, dimension, text_type)
            if output_type in ("sparse", "dense&sparse"):
                words = text.split()
                item["sparse_embedding"] = [
                    {"index": int(hashlib.md5(w.encode()).hexdigest()[:6], 16), "value": 1.0 / (j + 1), "token": w}
                    for j, w in enumerate(dict.fromkeys(words))
                ]
            items.append(item)
        if self.shuffle:
            self._rng.shuffle(items)
        reply = {
            "output": {"embeddings": items},
            "usage": {"total_tokens": sum(len(t.split()) for t in texts)},
            "request_id": f"req-{number}",
        }
        return httpx.Response(200, content=orjson.dumps(reply), headers={"content-type": "application/json"})

    def _openai_reply(self, number: int, body: dict, texts: list[str]) -> httpx.Response:
        dimension = body.get("dimensions", 1024)
        data = [
            {"object": "embedding", "index": i, "embedding": text_vector(t, dimension)} for i, t in enumerate(texts)
        ]
        if self.shuffle:
            self._rng.shuffle(data)
        tokens = sum(len(t.split()) for t in texts)
        reply = {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            "id": f"req-{number}",
        }
        return httpx.Response(200, content=orjson.dumps(reply))


def error_reply(status: int, code: str, message: str, request_id: str = "req-err", **headers: str) -> httpx.Response:
    """A DashScope native error reply."""
    return httpx.Response(
        status,
        json={"code": code, "message": message, "request_id": request_id},
        headers={k.replace("_", "-"): v for k, v in headers.items()},
    )


def make_embedder(fake: FakeDashScope, **kwargs):
    """A DashScopeEmbedder wired to ``fake`` for both sync and async calls, with fast retries."""
    from dashscope_embed import DashScopeEmbedder

    kwargs.setdefault("api_key", "sk-test-secret-0123456789")
    kwargs.setdefault("retry_base_delay", 0.001)
    kwargs.setdefault("retry_max_delay", 0.01)
    return DashScopeEmbedder(transport=fake.transport(), async_transport=fake.async_transport(), **kwargs)


Handler = Callable[[httpx.Request], httpx.Response]
