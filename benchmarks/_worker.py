"""Run one client over N texts against the benchmark service, in its own process; print one JSON line.

The driver (``run.py``) starts one worker per measurement so each client's CPU time and peak RSS are its own.
Sequence: import and build the client, warm it up with one small call (connections, lazy imports), zero the
service's statistics, then time the embedding of all N texts (wall clock and process CPU time, all threads), read
the service's statistics, and check the vectors (count, dimension, and that they equal the reference vectors the
service gives for these texts as documents).

Run: ``python benchmarks/_worker.py --client core-sync --n 2000 --concurrency 16 --base-url http://127.0.0.1:PORT``
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import resource
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import API_KEY, DIMENSION, MODEL, ROWS, control, make_texts  # noqa: E402


# ---------------------------------------------------------------------------------------------- clients
# Each factory returns (embed, is_async): embed(texts) -> list of vectors (or a coroutine for async clients).


def raw_httpx(args, *, is_async: bool):
    # The reference: what a careful hand-written client does. One pooled httpx client, C requests in flight
    # (a semaphore on one event loop, or C threads), orjson in and out, rows put in text_index order, the
    # vectors handed back as the lists orjson built. No retries, no input checks, no float32 matrix.
    import httpx
    import orjson

    url = args.base_url + "/api/v1/services/embeddings/text-embedding/text-embedding"
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    parameters = {"dimension": DIMENSION, "text_type": "document"}

    def body(chunk):
        return orjson.dumps({"model": MODEL, "input": {"texts": chunk}, "parameters": parameters})

    def vectors(response):
        response.raise_for_status()
        items = orjson.loads(response.content)["output"]["embeddings"]
        items.sort(key=lambda item: item["text_index"])
        return [item["embedding"] for item in items]

    def chunks(texts):
        return [texts[i : i + ROWS] for i in range(0, len(texts), ROWS)]

    if is_async:
        state = {}

        async def aembed(texts):
            if "client" not in state:  # bound to the event loop the worker runs
                state["client"] = httpx.AsyncClient(headers=headers, limits=limits, timeout=60)
                state["semaphore"] = asyncio.Semaphore(args.concurrency)
            client, semaphore = state["client"], state["semaphore"]

            async def one(chunk):
                async with semaphore:
                    response = await client.post(url, content=body(chunk))
                return vectors(response)

            parts = await asyncio.gather(*(one(c) for c in chunks(texts)))
            return [v for part in parts for v in part]

        return aembed

    from concurrent.futures import ThreadPoolExecutor

    client = httpx.Client(headers=headers, limits=limits, timeout=60)
    pool = ThreadPoolExecutor(args.concurrency)

    def embed(texts):
        parts = pool.map(lambda chunk: vectors(client.post(url, content=body(chunk))), chunks(texts))
        return [v for part in parts for v in part]

    return embed


def ours_core(args, *, is_async: bool):
    from dashscope_embed import DashScopeEmbedder

    engine = DashScopeEmbedder(
        MODEL, dimensions=DIMENSION, base_url=args.base_url, api_key=API_KEY, max_concurrency=args.concurrency,
        requests_per_minute=args.client_rpm, protocol=args.protocol,
    )
    if is_async:
        async def embed(texts):
            return (await engine.aembed(texts)).dense
        return embed
    return lambda texts: engine.embed(texts).dense


def ours_llama_index(args, *, is_async: bool):
    from llama_index_dashscope_embed import DashScopeEmbedding

    model = DashScopeEmbedding(
        model_name=MODEL, dimensions=DIMENSION, base_url=args.base_url, api_key=API_KEY,
        max_concurrency=args.concurrency,
    )
    return model.aget_text_embedding_batch if is_async else model.get_text_embedding_batch


def ours_langchain(args, *, is_async: bool):
    from langchain_dashscope_embed import DashScopeEmbeddings

    model = DashScopeEmbeddings(
        model=MODEL, dimensions=DIMENSION, base_url=args.base_url, api_key=API_KEY, max_concurrency=args.concurrency,
    )
    return model.aembed_documents if is_async else model.embed_documents


def llama_index_dashscope(args, *, is_async: bool):
    # llama-index-embeddings-dashscope 0.6.0 at its best: 10 texts per call (its default of 25 is rejected by v4).
    # It reaches the service through the dashscope SDK, pointed here by DASHSCOPE_HTTP_BASE_URL (set by the driver
    # before the SDK is imported). It sends no dimension: v4's default, 1024, is what we compare against.
    from llama_index.embeddings.dashscope import DashScopeEmbedding

    model = DashScopeEmbedding(model_name=MODEL, api_key=API_KEY, embed_batch_size=ROWS)
    return model.aget_text_embedding_batch if is_async else model.get_text_embedding_batch


def langchain_community(args, *, is_async: bool):
    # langchain-community 0.4.2: batches of 10 for v4 from its own table; no way to pass a dimension (1024 default).
    from langchain_community.embeddings import DashScopeEmbeddings

    model = DashScopeEmbeddings(model=MODEL, dashscope_api_key=API_KEY)
    return model.aembed_documents if is_async else model.embed_documents


def dashscope_sdk(args, *, is_async: bool):
    # The official SDK in a plain loop, 10 texts per call (1.x-style TextEmbedding.call; no async text API).
    import dashscope

    base = args.base_url + "/api/v1"

    def embed(texts):
        out = []
        for i in range(0, len(texts), ROWS):
            resp = dashscope.TextEmbedding.call(
                model=MODEL, input=texts[i : i + ROWS], api_key=API_KEY, dimension=DIMENSION, text_type="document",
                base_address=base,
            )
            if resp.status_code != 200:
                out.extend([None] * len(texts[i : i + ROWS]))
                continue
            rows = sorted(resp.output["embeddings"], key=lambda e: e["text_index"])
            out.extend(r["embedding"] for r in rows)
        return out

    return embed


def openai_sdk(args, *, is_async: bool):
    # The openai SDK against compatible mode, chunks of 10 in a sequential loop (its default retries: 2).
    import openai

    if is_async:
        client = openai.AsyncOpenAI(api_key=API_KEY, base_url=args.base_url + "/compatible-mode/v1")

        async def aembed(texts):
            out = []
            for i in range(0, len(texts), ROWS):
                resp = await client.embeddings.create(
                    model=MODEL, input=texts[i : i + ROWS], dimensions=DIMENSION, encoding_format="float"
                )
                out.extend(d.embedding for d in sorted(resp.data, key=lambda d: d.index))
            return out

        return aembed
    client = openai.OpenAI(api_key=API_KEY, base_url=args.base_url + "/compatible-mode/v1")

    def embed(texts):
        out = []
        for i in range(0, len(texts), ROWS):
            resp = client.embeddings.create(
                model=MODEL, input=texts[i : i + ROWS], dimensions=DIMENSION, encoding_format="float"
            )
            out.extend(d.embedding for d in sorted(resp.data, key=lambda d: d.index))
        return out

    return embed


CLIENTS = {
    # name: (factory, is_async)
    "raw-httpx-sync": (raw_httpx, False),
    "raw-httpx-async": (raw_httpx, True),
    "core-sync": (ours_core, False),
    "core-async": (ours_core, True),
    "llamaindex-sync": (ours_llama_index, False),
    "llamaindex-async": (ours_llama_index, True),
    "langchain-sync": (ours_langchain, False),
    "langchain-async": (ours_langchain, True),
    "llama-index-embeddings-dashscope-sync": (llama_index_dashscope, False),
    "llama-index-embeddings-dashscope-async": (llama_index_dashscope, True),
    "langchain-community-sync": (langchain_community, False),
    "langchain-community-async": (langchain_community, True),
    "dashscope-sdk-loop": (dashscope_sdk, False),
    "openai-sdk-loop": (openai_sdk, False),
    "openai-sdk-async-loop": (openai_sdk, True),
}


# ---------------------------------------------------------------------------------------------- measuring


def fingerprint(vectors) -> tuple[int, int, int, str]:
    """(vectors returned, missing or empty, rows of the wrong dimension, hash of the vectors rounded to 1e-4)."""
    import numpy as np

    digest = hashlib.sha1()
    missing = wrong = 0
    for v in vectors:
        if v is None or len(v) == 0:
            missing += 1
            continue
        row = np.asarray(v, dtype=np.float32)
        if row.shape != (DIMENSION,):
            wrong += 1
            continue
        digest.update(np.round(row, 4).tobytes())
    return len(vectors), missing, wrong, digest.hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--client", required=True, choices=sorted(CLIENTS))
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--client-rpm", type=float, default=None, help="ours: requests_per_minute")
    parser.add_argument("--protocol", default=None)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--hard-timeout", type=float, default=600.0)
    args = parser.parse_args()

    factory, is_async = CLIENTS[args.client]
    texts = make_texts(args.n)
    warm = [f"warm-up text {i}" for i in range(ROWS)]
    result: dict = {"client": args.client, "n": args.n, "concurrency": args.concurrency, "client_rpm": args.client_rpm}
    try:
        embed = factory(args, is_async=is_async)

        async def run_async():
            await embed(warm)
            control(args.base_url, "reset")
            w0, c0 = time.perf_counter(), time.process_time()
            out = await asyncio.wait_for(embed(texts), args.hard_timeout)
            return out, time.perf_counter() - w0, time.process_time() - c0

        def run_sync():
            embed(warm)
            control(args.base_url, "reset")
            w0, c0 = time.perf_counter(), time.process_time()
            out = embed(texts)
            return out, time.perf_counter() - w0, time.process_time() - c0

        vectors, wall, cpu = asyncio.run(run_async()) if is_async else run_sync()
        stats = control(args.base_url, "stats")
        returned, missing, wrong, digest = fingerprint(vectors)
        result.update(ok=True, wall=wall, cpu=cpu, returned=returned, missing=missing, wrong_dim=wrong, digest=digest)
    except BaseException as exc:  # report, do not hide: the driver prints the error in the table
        stats = control(args.base_url, "stats")
        result.update(ok=False, error=f"{type(exc).__name__}: {str(exc)[:300]}", trace=traceback.format_exc()[-2000:])
    result["stats"] = stats
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result), flush=True)
    os._exit(0)  # skip interpreter teardown (thread pools, pooled sockets): not part of the measurement


if __name__ == "__main__":
    main()
