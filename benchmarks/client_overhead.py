"""Client CPU cost of one embedding reply: parse + deliver, with no network in the way.

Measures process CPU time (not wall time) per request for a 10 x d reply, for:
- ``parse``: ``NativeTextProtocol.parse_reply`` alone (JSON decode, reorder, float32 matrix);
- ``engine``: a full ``DashScopeEmbedder.embed`` call of 10 texts through httpx's MockTransport
  (body building, httpx request/response machinery, parse, assembly);
- ``dashscope-sdk-parse`` (when installed): the SDK's reply handling on the same bytes, for reference.

Run: ``.venv/bin/python benchmarks/client_overhead.py [--repeat 2000]``
"""

from __future__ import annotations

import argparse
import json
import random
import time

import httpx
import orjson


def make_reply(rows: int, dimension: int) -> bytes:
    rng = random.Random(0)
    items = [{"embedding": [rng.uniform(-0.1, 0.1) for _ in range(dimension)], "text_index": i} for i in range(rows)]
    rng.shuffle(items)
    return orjson.dumps({"output": {"embeddings": items}, "usage": {"total_tokens": 100}, "request_id": "bench"})


def cpu_ms_per_call(fn, repeat: int) -> float:
    for _ in range(min(50, repeat)):
        fn()
    start = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - start) * 1000 / repeat


def main() -> None:
    from dashscope_embed import DashScopeEmbedder
    from dashscope_embed.wire import NativeTextProtocol, TextRequest

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1000)
    args = parser.parse_args()
    texts = [f"text {i}" for i in range(10)]
    rows = []
    for dimension in (1024, 2048):
        content = make_reply(10, dimension)
        protocol = NativeTextProtocol()
        request = TextRequest("text-embedding-v4", dimension)
        parse = cpu_ms_per_call(lambda: protocol.parse_reply(request, 200, {}, content, 10), args.repeat)
        transport = httpx.MockTransport(lambda r: httpx.Response(200, content=content))
        embedder = DashScopeEmbedder(dimensions=dimension, api_key="sk-bench", transport=transport)
        engine = cpu_ms_per_call(lambda: embedder.embed(texts), args.repeat)
        rows.append((f"10 x {dimension}", len(content), parse, engine))
        sdk = sdk_parse_ms(content, args.repeat)
        if sdk is not None:
            rows[-1] = rows[-1] + (sdk,)
    print("| reply | bytes | parse CPU ms | full engine call CPU ms | dashscope SDK parse CPU ms |")
    print("|---|---|---|---|---|")
    for row in rows:
        sdk = f"{row[4]:.2f}" if len(row) > 4 else "n/a"
        print(f"| {row[0]} | {row[1]:,} | {row[2]:.3f} | {row[3]:.3f} | {sdk} |")


def sdk_parse_ms(content: bytes, repeat: int) -> float | None:
    """What the dashscope SDK (1.x-style ``TextEmbedding.call``) does with a reply: stdlib json + its response object."""
    try:
        from dashscope.api_entities.dashscope_response import DashScopeAPIResponse, TextEmbeddingResponse
    except Exception:
        return None

    def parse() -> None:
        body = json.loads(content)
        api = DashScopeAPIResponse(status_code=200, request_id=body["request_id"], code="", message="",
                                   output=body["output"], usage=body["usage"])
        TextEmbeddingResponse.from_api_response(api)

    try:
        return cpu_ms_per_call(parse, max(50, repeat // 5))
    except Exception:
        return None


if __name__ == "__main__":
    main()
