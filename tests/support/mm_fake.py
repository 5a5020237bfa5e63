"""An in-memory native multimodal endpoint for httpx.MockTransport: records bodies, shuffles ``index``, counts
requests in flight, and answers with vectors derived from each content element so tests can predict rows."""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import time
from typing import Optional

import httpx
import numpy as np
import orjson

MM_PATH = "/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding"

DIMENSIONS = {
    "multimodal-embedding-v1": 1024,
    "tongyi-embedding-vision-plus": 1152,
    "tongyi-embedding-vision-flash": 768,
    "tongyi-embedding-vision-plus-2026-03-06": 1152,
    "tongyi-embedding-vision-flash-2026-03-06": 768,
    "qwen3-vl-embedding": 2560,
    "qwen2.5-vl-embedding": 1024,
}


def element_vector(key: object, dimension: int) -> list[float]:
    """Deterministic unit vector for one content element (or a fused list of them)."""
    seed = int.from_bytes(hashlib.sha256(orjson.dumps(key, option=orjson.OPT_SORT_KEYS)).digest()[:8], "little")
    vec = np.random.default_rng(seed).standard_normal(dimension)
    return (vec / np.linalg.norm(vec)).astype(np.float32).tolist()


def usage_for(model: str, contents: list) -> dict:
    """The usage shape each model family sends (keys differ per model)."""
    images = sum(1 for c in contents for k in c if k in ("image", "multi_images"))
    if model.startswith("tongyi"):
        return {"input_tokens": 10 + 100 * images, "input_tokens_details": {"image_tokens": 100 * images,
                "text_tokens": 10}, "output_tokens": 1, "total_tokens": 11 + 100 * images}
    if model == "qwen3-vl-embedding":
        return {"input_tokens": 10, "image_tokens": 100 * images, "total_tokens": 10 + 100 * images}
    if model == "qwen2.5-vl-embedding":
        return {"input_tokens": 10, "image_tokens": 100 * images}
    return {"input_tokens": 10, "image_tokens": 100 * images, "image_count": images, "duration": 0}


class FakeMultimodal:
    """Answers the native multimodal endpoint.

    Args:
        shuffle: send ``embeddings`` in a seeded random order (each still carrying its ``index``).
        delay: seconds per request, to observe concurrency.
        script: ``{call_number: httpx.Response | callable(body) -> httpx.Response}`` (calls count from 1).
        drop_last: answer with one vector fewer than asked.
    """

    def __init__(self, *, shuffle: bool = True, delay: float = 0.0, script: Optional[dict] = None,
                 drop_last: bool = False) -> None:
        self.shuffle = shuffle
        self.delay = delay
        self.script = script or {}
        self.drop_last = drop_last
        self.bodies: list[dict] = []
        self.headers: list[httpx.Headers] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._rng = random.Random(3)

    @property
    def calls(self) -> int:
        return len(self.bodies)

    def contents(self) -> list[dict]:
        """Every content element sent, request after request."""
        return [c for b in self.bodies for c in b["input"]["contents"]]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._sync)

    def async_transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._async)

    def _enter(self, request: httpx.Request) -> tuple[int, dict]:
        assert request.url.path == MM_PATH, request.url.path
        body = orjson.loads(request.content)
        with self._lock:
            self.bodies.append(body)
            self.headers.append(request.headers)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return len(self.bodies), body

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _sync(self, request: httpx.Request) -> httpx.Response:
        number, body = self._enter(request)
        try:
            if self.delay:
                time.sleep(self.delay)
            return self._answer(number, body)
        finally:
            self._leave()

    async def _async(self, request: httpx.Request) -> httpx.Response:
        number, body = self._enter(request)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            return self._answer(number, body)
        finally:
            self._leave()

    def _answer(self, number: int, body: dict) -> httpx.Response:
        scripted = self.script.get(number)
        if scripted is not None:
            return scripted(body) if callable(scripted) else scripted
        model = body["model"]
        contents = body["input"]["contents"]
        params = body.get("parameters") or {}
        dimension = params.get("dimension") or DIMENSIONS[model]
        if params.get("enable_fusion") or model == "qwen2.5-vl-embedding":
            rows = [(0, "fusion", contents)]
        else:
            rows = [(i, _type(model, c), c) for i, c in enumerate(contents)]
        items = [{"index": i, "type": t, "embedding": element_vector(key, dimension)} for i, t, key in rows]
        if self.drop_last:
            items = items[:-1]
        if self.shuffle:
            with self._lock:
                self._rng.shuffle(items)
        reply = {"output": {"embeddings": items}, "usage": usage_for(model, contents), "request_id": f"req-{number}"}
        return httpx.Response(200, content=orjson.dumps(reply), headers={"content-type": "application/json"})


def _type(model: str, element: dict) -> str:
    if len(element) > 1:
        return "fused"
    if model == "qwen3-vl-embedding":
        return "vl"
    return next(iter(element))


def error_reply(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, content=orjson.dumps({"code": code, "message": message, "request_id": "err-1"}),
                          headers={"content-type": "application/json"})
