"""Shared pieces of the benchmark: the texts, the service control endpoints, the latency model."""

from __future__ import annotations

import json
import random
import urllib.request

#: Service latency model: each request waits LATENCY_BASE + uniform[0, LATENCY_JITTER) s, i.e. 100 ms +- 10 ms.
LATENCY_BASE = 0.090
LATENCY_JITTER = 0.020
LATENCY_MEAN = LATENCY_BASE + LATENCY_JITTER / 2
MODEL = "text-embedding-v4"
DIMENSION = 1024
ROWS = 10  # rows per request for text-embedding-v4
API_KEY = "sk-bench-local"


def make_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct texts of varied length (about 20 to 3,000 characters, median ~300), cut from the Python
    language reference that ships with CPython (``pydoc_data.topics``); deterministic for a given seed."""
    from pydoc_data.topics import topics

    corpus = " ".join(" ".join(v.split()) for _, v in sorted(topics.items()))
    rng = random.Random(seed)
    out = []
    for i in range(n):
        length = int(min(3000, max(20, rng.lognormvariate(5.7, 0.9))))
        start = rng.randrange(0, len(corpus) - length)
        out.append(f"[{i}] " + corpus[start : start + length])
    return out


def control(base_url: str, action: str, payload: dict | None = None, timeout: float = 10.0) -> dict:
    """Call the benchmark service's control endpoints: ``stats`` (GET), ``reset`` and ``faults`` (POST)."""
    url = f"{base_url}/_bench/{action}"
    data = None if payload is None and action == "stats" else json.dumps(payload or {}).encode()
    req = urllib.request.Request(url, data=data, method="GET" if data is None else "POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as reply:
        return json.loads(reply.read())
