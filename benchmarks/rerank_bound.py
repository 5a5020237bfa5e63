"""Reranking 1,000 documents against the local service at 100 ms latency, as a ratio of the bound.

The service (``_service.py``, its own process) answers every request after exactly ``LATENCY`` = 100 ms (fault
injection, no jitter). A call that sends R requests with C in flight cannot finish in less than
``R x L / C`` (the bound the ratio is taken against) nor, with whole rounds, in less than ``ceil(R / C) x L``. Each
configuration is timed ``--repeat`` times after a warm-up call (median reported), sync (``rerank``) and async
(``arerank``), and every ranking is checked against the service's own scoring (``server.relevance.rank``).

Configurations: qwen3-rerank at its catalog limits (500 documents, 120,000 tokens a request), gte-rerank-v2 at its
own (30,000 tokens a request: the token budget splits), and qwen3-rerank held to 20 documents a request
(``catalog_overrides``), where concurrency is what matters.

Run: ``.venv/bin/python benchmarks/rerank_bound.py [--repeat 5] [--write]``; ``--write`` records
``benchmarks/rerank_results.json`` and ``benchmarks/RERANK.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

from _common import control, make_texts  # noqa: E402

LATENCY = 0.100
DOCUMENTS = 1000
QUERY = "How does Python evaluate the arguments of a function call and bind them to parameters?"
CONFIGS = [  # (label, model, catalog_overrides, max_concurrency)
    ("qwen3-rerank, catalog limits", "qwen3-rerank", None, 8),
    ("gte-rerank-v2, catalog limits (token budget splits)", "gte-rerank-v2", None, 8),
    ("qwen3-rerank, 20 documents a request", "qwen3-rerank", {"max_documents": 20}, 8),
    ("qwen3-rerank, 20 documents a request", "qwen3-rerank", {"max_documents": 20}, 16),
]


class Service:
    """``_service.py`` in a child process at 100 ms latency; stopped by PID."""

    def __init__(self) -> None:
        env = dict(os.environ, PYTHONPATH=ROOT)
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "_service.py"), "--latency", str(LATENCY)],
                                     stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            self.stop()
            raise RuntimeError(f"service did not start: {line!r}")
        self.base_url = f"http://127.0.0.1:{int(line.split()[1])}"
        for _ in range(200):
            try:
                control(self.base_url, "stats", timeout=1)
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("service did not accept connections")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def measure(base_url: str, docs: list[str], expected: list, model: str, overrides, concurrency: int, mode: str,
            repeat: int) -> dict:
    from dashscope_embed import DashScopeReranker

    reranker = DashScopeReranker(model, base_url=base_url, catalog_overrides=overrides, max_concurrency=concurrency)
    requests = len(reranker.plan(QUERY, docs))
    times = []

    async def timed_async() -> float:
        await reranker.arerank(QUERY, docs)  # warm-up: pool and event-loop client
        out = []
        for _ in range(repeat):
            started = time.perf_counter()
            result = await reranker.arerank(QUERY, docs)
            out.append(time.perf_counter() - started)
            assert [(i.index, i.relevance_score) for i in result] == expected
        await reranker.aclose()
        return out

    if mode == "async":
        times = asyncio.run(timed_async())
    else:
        reranker.rerank(QUERY, docs)
        for _ in range(repeat):
            control(base_url, "reset")
            started = time.perf_counter()
            result = reranker.rerank(QUERY, docs)
            times.append(time.perf_counter() - started)
            assert [(i.index, i.relevance_score) for i in result] == expected
            assert control(base_url, "stats")["ok"] == requests
        reranker.close()
    seconds = statistics.median(times)
    bound = requests * LATENCY / concurrency
    rounds = math.ceil(requests / concurrency) * LATENCY
    return {"model": model, "overrides": overrides, "max_concurrency": concurrency, "mode": mode,
            "requests": requests, "seconds": round(seconds, 4), "bound": round(bound, 4),
            "ratio": round(seconds / bound, 3), "round_bound": round(rounds, 4),
            "ratio_to_round_bound": round(seconds / rounds, 3), "times": [round(t, 4) for t in times]}


def markdown(rows: list[dict], header: dict) -> str:
    lines = [
        "# Rerank benchmark",
        "",
        f"Generated {header['when']} by `.venv/bin/python benchmarks/rerank_bound.py --write` "
        f"(commit {header['commit']}).",
        "",
        f"- Machine: {header['machine']}; load before `{header['load_before']}`, after `{header['load_after']}`.",
        f"- Service: `benchmarks/_service.py` (its own process), every request answered after exactly "
        f"{LATENCY * 1000:.0f} ms (fault injection, no jitter). {DOCUMENTS:,} documents cut from the Python language "
        "reference (`_common.make_texts`), one query; every ranking checked against `server.relevance.rank`.",
        "- Bound: R requests with C in flight take at least R x L / C; whole rounds take at least ceil(R / C) x L. "
        "Ratio = median seconds / bound (1.0 is the bound itself).",
        "",
        "| configuration | path | C | requests | seconds (median) | bound R x L / C | ratio | ceil(R/C) x L | ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        path = "`arerank`" if r["mode"] == "async" else "`rerank`"
        lines.append(f"| {r['label']} | {path} | {r['max_concurrency']} | "
                     f"{r['requests']} | {r['seconds']:.3f} | {r['bound']:.3f} | {r['ratio']:.2f} | "
                     f"{r['round_bound']:.3f} | {r['ratio_to_round_bound']:.2f} |")
    lines += ["", "With fewer requests than C (the catalog limits: 2 to 5 requests) the R x L / C bound cannot be "
              "reached; the round bound shows the remaining overhead (client token counting and the service's "
              "scoring of 500-document requests)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="record rerank_results.json and RERANK.md here")
    args = parser.parse_args()
    from dashscope_embed.server.relevance import rank

    docs = make_texts(DOCUMENTS)
    expected = rank(QUERY, docs)
    load_before = open("/proc/loadavg").read().strip()
    service = Service()
    rows = []
    try:
        for label, model, overrides, concurrency in CONFIGS:
            for mode in ("sync", "async"):
                row = measure(service.base_url, docs, expected, model, overrides, concurrency, mode, args.repeat)
                row["label"] = label
                rows.append(row)
                print(json.dumps(row), flush=True)
    finally:
        service.stop()
    header = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                 cwd=ROOT).stdout.strip(),
        "machine": f"{os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}",
        "load_before": load_before, "load_after": open("/proc/loadavg").read().strip(),
    }
    if args.write:
        with open(os.path.join(HERE, "rerank_results.json"), "w") as f:
            json.dump({"header": header, "latency": LATENCY, "documents": DOCUMENTS, "rows": rows}, f, indent=1)
        with open(os.path.join(HERE, "RERANK.md"), "w") as f:
            f.write(markdown(rows, header))
    print(markdown(rows, header))


if __name__ == "__main__":
    main()
