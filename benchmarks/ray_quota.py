"""``dashscope_embed.ray.embed_dataset`` under an account quota: 2 actors, 2,000 texts, 120 RPM paced at 114.

Starts a local Ray cluster (2 CPUs), sets the benchmark service's RPM limit (a sliding 60 s window answering
HTTP 429 ``Throttling.RateQuota`` past it), embeds 2,000 texts (text-embedding-v4, 10 rows per request: 200
requests) with ``requests_per_minute=114`` shared by both actors, and checks every row once and every vector
against the real-time engine's. Then the control: the same job with each actor paced on its own at the full
120 RPM (what per-worker limiters do), ``max_retries=0``, which runs into the limit.

Run: ``.venv/bin/python benchmarks/ray_quota.py --base-url http://127.0.0.1:PORT`` against ``_service.py`` (as
``run.py --sections ray`` does); prints one ``RESULT {json}`` line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import API_KEY, DIMENSION, LATENCY_BASE, LATENCY_JITTER, MODEL, control, make_texts  # noqa: E402

LATENCY = {"latency": LATENCY_BASE, "jitter": LATENCY_JITTER}

QUOTA = 120
PACED = 114
TEXTS = 2000
ACTORS = 2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--no-control", action="store_true", help="skip the per-actor pacing control")
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import numpy as np
    import ray
    import ray.data

    from dashscope_embed import DashScopeEmbedder, RateLimitError
    from dashscope_embed.ray import _EmbedBatches, embed_dataset

    texts = make_texts(TEXTS)
    kwargs = {"model": MODEL, "dimensions": DIMENSION, "base_url": args.base_url, "api_key": API_KEY,
              "max_concurrency": 4}
    with DashScopeEmbedder(**kwargs) as engine:
        expected = engine.embed(texts).dense

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    rows = [{"id": i, "text": t} for i, t in enumerate(texts)]
    out: dict = {"texts": TEXTS, "actors": ACTORS, "quota_rpm": QUOTA, "paced_rpm": PACED}

    control(args.base_url, "faults", {"rpm": QUOTA, **LATENCY})  # the RPM window starts empty
    control(args.base_url, "reset")
    t0 = time.perf_counter()
    got = embed_dataset(ray.data.from_items(rows), concurrency=ACTORS, requests_per_minute=PACED, batch_size=200,
                        **kwargs).take_all()
    wall = time.perf_counter() - t0
    stats = control(args.base_url, "stats")
    got.sort(key=lambda r: r["id"])
    vectors = np.asarray([r["embedding"] for r in got], dtype=np.float32)
    out["shared"] = {
        "seconds": wall, "requests": stats["requests"], "status_429": stats["by_status"].get("429", 0),
        "rows_sent": stats["rows"], "rows_returned": len(got),
        "every_row_once": [r["id"] for r in got] == list(range(TEXTS)) and stats["rows"] == TEXTS,
        "vectors_equal": bool(vectors.shape == expected.shape and np.array_equal(vectors, expected)),
        "requests_per_minute_achieved": stats["requests"] / wall * 60,
    }

    if not args.no_control:
        control(args.base_url, "faults", {"rpm": QUOTA, **LATENCY})
        control(args.base_url, "reset")
        engine = DashScopeEmbedder(requests_per_minute=QUOTA, max_retries=0, **kwargs)
        job = ray.data.from_items(rows).map_batches(
            _EmbedBatches,
            fn_constructor_kwargs={"engine": engine, "limiter": None, "text_column": "text",
                                   "output_column": "embedding", "sparse_column": "sparse_embedding",
                                   "text_type": "document"},
            batch_format="pyarrow", batch_size=200, compute=ray.data.ActorPoolStrategy(size=ACTORS),
        )
        job.context.raise_original_map_exception = True
        t0 = time.perf_counter()
        try:
            job.take_all()
            outcome = "completed"
        except RateLimitError as exc:  # Ray's RayTaskError, also an instance of the core's class
            outcome = f"raised RateLimitError (HTTP {exc.status_code} {exc.code})"
        stats = control(args.base_url, "stats")
        out["per_actor"] = {"seconds": time.perf_counter() - t0, "requests": stats["requests"],
                            "status_429": stats["by_status"].get("429", 0), "outcome": outcome[:200]}
    control(args.base_url, "faults", LATENCY)
    ray.shutdown()
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
