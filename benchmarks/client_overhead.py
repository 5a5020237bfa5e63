"""Client CPU cost of one embedding reply: parse + deliver, with no network in the way.

Measures process CPU time (not wall time) per request for a 10 x d reply (d = 1024 and 2048), for:

- ours, ``parse``: ``NativeTextProtocol.parse_reply`` alone (JSON decode, reorder by ``text_index``, float32 matrix);
- ours, ``engine``: a full ``DashScopeEmbedder.embed`` call of 10 texts through httpx's ``MockTransport`` (input
  checks, body building, httpx request/response machinery, parse, assembly), native protocol and compatible mode;
- ours, ``adapter``: what the LlamaIndex and LangChain adapters call: ``embed(texts, as_lists=True)`` and
  ``dense_lists()`` (the vectors as Python lists, as the frameworks return them);
- the dashscope SDK: a full ``TextEmbedding.call`` of 10 texts (request building, its ``requests`` session, stdlib
  ``json``, ``DashScopeAPIResponse``) with ``requests``' adapter answering the same bytes (no socket);
- the openai SDK: a full ``client.embeddings.create(..., encoding_format="float")`` call through the same
  ``MockTransport`` (request building, its httpx client, JSON decode, pydantic models), compatible-mode reply.

Run: ``.venv/bin/python benchmarks/client_overhead.py [--repeat 1000] [--markdown]``
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
import warnings

import httpx
import orjson

TARGET_MS = 0.7  # client CPU per 10 x 1024 reply, full engine call (issue 13)


def make_reply(rows: int, dimension: int, doubles: bool = True) -> bytes:
    """A native text-embedding reply with unit rows listed out of order: ``doubles`` writes the values as 17-digit
    doubles like DashScope's replies (10 x 1024: about 210 KB), else as float32 like the local service (128 KB)."""
    import numpy as np

    vectors = np.random.default_rng(0).standard_normal((rows, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    items = [{"embedding": vectors[i].astype(np.float64) if doubles else vectors[i], "text_index": i}
             for i in range(rows)]
    random.Random(0).shuffle(items)
    body = {"output": {"embeddings": items}, "usage": {"total_tokens": 100}, "request_id": "bench"}
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def make_compat_reply(native: bytes) -> bytes:
    body = orjson.loads(native)
    data = [{"object": "embedding", "embedding": e["embedding"], "index": e["text_index"]}
            for e in body["output"]["embeddings"]]
    return orjson.dumps({"object": "list", "data": data, "model": "text-embedding-v4",
                         "usage": {"prompt_tokens": 100, "total_tokens": 100}, "id": "bench"})


def cpu_ms_per_call(fn, repeat: int, rounds: int = 5) -> float:
    """Median over ``rounds`` of the mean process CPU ms per call (after a warm-up)."""
    for _ in range(min(50, repeat)):
        fn()
    per_round = max(1, repeat // rounds)
    samples = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(per_round):
            fn()
        samples.append((time.process_time() - start) * 1000 / per_round)
    return statistics.median(samples)


def sdk_call(content: bytes, texts: list[str], dimension: int):
    """A full dashscope SDK ``TextEmbedding.call`` (request building, ``requests`` session, its reply handling:
    stdlib json and ``DashScopeAPIResponse``), with the socket replaced by a canned ``requests`` response."""
    try:
        import dashscope
        import requests
        from requests.adapters import HTTPAdapter
    except Exception:
        return None

    def send(self, request, **kwargs):
        response = requests.Response()
        response.status_code = 200
        response._content = content
        response.headers["Content-Type"] = "application/json"
        response.url = request.url
        response.request = request
        return response

    HTTPAdapter.send = send  # this process only runs benchmarks

    def call() -> None:
        resp = dashscope.TextEmbedding.call(model="text-embedding-v4", input=texts, api_key="sk-bench",
                                            dimension=dimension, base_address="http://127.0.0.1:9/api/v1")
        assert resp.status_code == 200, resp
        [e["embedding"] for e in resp.output["embeddings"]]

    return call


def openai_call(compat: bytes, texts: list[str], dimension: int):
    try:
        import openai
    except Exception:
        return None
    transport = httpx.MockTransport(lambda r: httpx.Response(200, content=compat,
                                                              headers={"content-type": "application/json"}))
    client = openai.OpenAI(api_key="sk-bench", base_url="http://127.0.0.1:9/compatible-mode/v1",
                           http_client=httpx.Client(transport=transport), max_retries=0)

    def call() -> None:
        resp = client.embeddings.create(model="text-embedding-v4", input=texts, dimensions=dimension,
                                        encoding_format="float")
        [d.embedding for d in resp.data]

    return call


def main() -> None:
    from dashscope_embed import DashScopeEmbedder
    from dashscope_embed.wire import NativeTextProtocol, TextRequest

    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1000)
    parser.add_argument("--markdown", action="store_true", help="also print a target line for run.py")
    args = parser.parse_args()
    texts = [f"text {i}" for i in range(10)]
    results = []
    for dimension, doubles in ((1024, True), (2048, True), (1024, False), (2048, False)):
        content = make_reply(10, dimension, doubles)
        compat = make_compat_reply(content)
        protocol = NativeTextProtocol()
        request = TextRequest("text-embedding-v4", dimension)
        row = {"reply": f"10 x {dimension}, {'doubles (as DashScope)' if doubles else 'float32 (as the local service)'}",
               "bytes": len(content)}
        row["parse"] = cpu_ms_per_call(lambda: protocol.parse_reply(request, 200, {}, content, 10), args.repeat)
        native = httpx.MockTransport(lambda r: httpx.Response(200, content=content))
        engine = DashScopeEmbedder(dimensions=dimension, api_key="sk-bench", base_url="http://127.0.0.1:9",
                                   transport=native)
        row["engine"] = cpu_ms_per_call(lambda: engine.embed(texts), args.repeat)
        row["adapter"] = cpu_ms_per_call(lambda: engine.embed(texts, as_lists=True).dense_lists(), args.repeat)
        compat_t = httpx.MockTransport(lambda r: httpx.Response(200, content=compat))
        engine_c = DashScopeEmbedder(dimensions=dimension, api_key="sk-bench", base_url="http://127.0.0.1:9",
                                     protocol="openai", transport=compat_t)
        row["engine_compat"] = cpu_ms_per_call(lambda: engine_c.embed(texts), args.repeat)
        fn = sdk_call(content, texts, dimension)
        row["sdk"] = cpu_ms_per_call(fn, max(50, args.repeat // 5)) if fn else None
        fn = openai_call(compat, texts, dimension)
        row["openai"] = cpu_ms_per_call(fn, max(50, args.repeat // 5)) if fn else None
        results.append(row)

    def f(v):
        return "n/a" if v is None else f"{v:.2f}"

    print("| reply | bytes | ours: parse only | ours: full `embed` call (native) | ours: adapter call, lists |"
          " ours: full `embed` call (compatible mode) | dashscope SDK: full `TextEmbedding.call` | openai SDK: full"
          " `embeddings.create` call |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['reply']} | {r['bytes']:,} | {f(r['parse'])} | {f(r['engine'])} | {f(r['adapter'])} |"
              f" {f(r['engine_compat'])} | {f(r['sdk'])} | {f(r['openai'])} |")
    print()
    print("CPU milliseconds per reply (median of 5 rounds), no network: httpx `MockTransport` for ours and openai, a canned"
          " `requests` response for the dashscope SDK.")
    if args.markdown:
        r = results[0]
        met = "met" if max(r["engine"], r["adapter"]) <= TARGET_MS else "NOT met"
        print(f"<!-- target client CPU per 10 x 1024 reply, full engine call: {r['engine']:.2f} ms, adapter call with"
              f" lists {r['adapter']:.2f} ms (target <= {TARGET_MS} ms): {met}; dashscope SDK full call"
              f" {f(r['sdk'])} ms, openai SDK full call {f(r['openai'])} ms. -->")


if __name__ == "__main__":
    main()
