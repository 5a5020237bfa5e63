"""Where an adapter path's time goes, against the benchmark service: one process per path, instrumented.

For each path it embeds N texts (after a warm-up call) and reports:

- wall seconds and the fraction of the (N / rows / C) x L bound reached;
- mean requests in flight (the time integral of in-flight requests over the wall time; C is the most there can
  be): a framework batch boundary that drains the pool shows up here;
- mean seconds per request from send to parsed reply (L = 0.100 s is the service's share);
- seconds spent in reply parsing, in converting float32 matrices to Python lists (``dense_lists``), and in
  LlamaIndex event dispatch (instrumentation events and callback-manager events), summed over all threads;
- the seconds after the last reply arrived until the call returned (work left on the critical path).

Run: ``.venv/bin/python benchmarks/profile_paths.py [--n 20000] [--concurrency 16] [--paths a,b]``; it starts
its own service (``_service.py``) and prints a Markdown table. Timers add a little overhead of their own (a few
microseconds per call); compare paths with each other, not with ``run.py``'s numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from _common import API_KEY, LATENCY_MEAN, ROWS, control, make_texts  # noqa: E402

PATHS = ["raw-httpx-async", "raw-httpx-sync", "core-sync", "core-async", "llamaindex-sync", "llamaindex-async",
         "langchain-sync", "langchain-async"]


class Meter:
    """Thread-safe sums of seconds by name, and the in-flight integral."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seconds: dict[str, float] = {}
        self.in_flight = 0
        self.area = 0.0
        self.last = time.perf_counter()
        self.last_reply = 0.0
        self.requests = 0
        self.request_seconds = 0.0

    def add(self, name: str, seconds: float) -> None:
        with self.lock:
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def _tick(self, delta: int) -> None:
        now = time.perf_counter()
        with self.lock:
            self.area += self.in_flight * (now - self.last)
            self.last = now
            self.in_flight += delta
            if delta < 0:
                self.last_reply = now

    def timed(self, name: str, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - t0)

        return wrapper

    def request(self, fn):
        def wrapper(*args, **kwargs):
            self._tick(+1)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                with self.lock:
                    self.requests += 1
                    self.request_seconds += time.perf_counter() - t0
                self._tick(-1)

        return wrapper

    def arequest(self, fn):
        async def wrapper(*args, **kwargs):
            self._tick(+1)
            t0 = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                with self.lock:
                    self.requests += 1
                    self.request_seconds += time.perf_counter() - t0
                self._tick(-1)

        return wrapper


def instrument(meter: Meter, path: str) -> None:
    """Wrap the functions whose time we want, before the client is built."""
    import httpx

    if path.startswith("raw"):
        httpx.Client.post = meter.request(httpx.Client.post)
        httpx.AsyncClient.post = meter.arequest(httpx.AsyncClient.post)
        return
    from dashscope_embed import results, transport
    from dashscope_embed.wire import native_text

    transport.RequestRunner.send = meter.request(transport.RequestRunner.send)
    transport.RequestRunner.asend = meter.arequest(transport.RequestRunner.asend)
    native_text.NativeTextProtocol.parse_reply = meter.timed("parse", native_text.NativeTextProtocol.parse_reply)
    results.EmbeddingResult.dense_lists = meter.timed("to_lists", results.EmbeddingResult.dense_lists)
    if path.startswith("llamaindex"):
        from llama_index.core.callbacks import CallbackManager
        from llama_index.core.instrumentation.dispatcher import Dispatcher

        Dispatcher.event = meter.timed("events", Dispatcher.event)
        CallbackManager.on_event_start = meter.timed("events", CallbackManager.on_event_start)
        CallbackManager.on_event_end = meter.timed("events", CallbackManager.on_event_end)


def child(args) -> None:
    import _worker

    meter = Meter()
    instrument(meter, args.path)
    factory, is_async = _worker.CLIENTS[args.path]
    ns = argparse.Namespace(base_url=args.base_url, concurrency=args.concurrency, client_rpm=None, protocol=None)
    embed = factory(ns, is_async=is_async)
    texts = make_texts(args.n)
    warm = [f"warm-up text {i}" for i in range(ROWS)]

    async def arun():
        await embed(warm)
        return await timed_call(lambda: embed(texts), True)

    async def timed_call(call, is_coro):
        reset(meter)
        t0 = time.perf_counter()
        out = await call() if is_coro else call()
        return out, t0, time.perf_counter()

    def reset(m: Meter) -> None:
        with m.lock:
            m.seconds.clear()
            m.area, m.last, m.requests, m.request_seconds, m.last_reply = 0.0, time.perf_counter(), 0, 0.0, 0.0

    if is_async:
        out, t0, t1 = asyncio.run(arun())
    else:
        embed(warm)
        reset(meter)
        t0 = time.perf_counter()
        out = embed(texts)
        t1 = time.perf_counter()
    assert len(out) == args.n
    wall = t1 - t0
    bound = args.n / ROWS / args.concurrency * LATENCY_MEAN
    print("RESULT " + json.dumps({
        "path": args.path, "wall": wall, "pct_bound": 100 * bound / wall,
        "mean_in_flight": meter.area / wall, "requests": meter.requests,
        "mean_request_s": meter.request_seconds / max(1, meter.requests),
        "tail_s": t1 - meter.last_reply if meter.last_reply else None,
        **{f"{k}_s": v for k, v in sorted(meter.seconds.items())},
    }), flush=True)
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    from run import Service  # noqa: E402 - the driver's service wrapper

    service = Service()
    rows = []
    try:
        for path in args.paths.split(","):
            env = dict(os.environ, PYTHONWARNINGS="ignore")
            cmd = [sys.executable, __file__, "--child", "--path", path, "--n", str(args.n), "--concurrency",
                   str(args.concurrency), "--base-url", service.base_url]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                print(f"{path}: failed {proc.stderr[-800:]}", file=sys.stderr)
                continue
            rows.append(json.loads(line[len("RESULT "):]))
            print(f"{path}: {rows[-1]}", file=sys.stderr, flush=True)
            control(service.base_url, "reset")
    finally:
        service.stop()
    print(render(rows, args))


def render(rows: list[dict], args) -> str:
    cols = [("wall s", "wall", "{:.2f}"), ("% of bound", "pct_bound", "{:.1f}"),
            ("mean in flight", "mean_in_flight", "{:.2f}"), ("s per request", "mean_request_s", "{:.3f}"),
            ("tail s", "tail_s", "{:.3f}"), ("parse s", "parse_s", "{:.2f}"), ("to lists s", "to_lists_s", "{:.2f}"),
            ("events s", "events_s", "{:.3f}")]
    out = [f"N = {args.n:,}, C = {args.concurrency}, L = {LATENCY_MEAN * 1000:.0f} ms; `uptime`: "
           + subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), "",
           "| path | " + " | ".join(c[0] for c in cols) + " |", "|---|" + "---|" * len(cols)]
    for r in rows:
        cells = [fmt.format(r[key]) if r.get(key) is not None else "-" for _, key, fmt in cols]
        out.append(f"| {r['path']} | " + " | ".join(cells) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    main()
