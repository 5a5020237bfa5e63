"""Throughput, client cost and scaling of dashscope-embed against the existing DashScope integrations.

One command::

    .venv/bin/python benchmarks/run.py            # full run (about 30 minutes), writes benchmarks/RESULTS.md
    .venv/bin/python benchmarks/run.py --quick    # smaller N, one round, no RPM or Ray section (about 4 minutes)
    .venv/bin/python benchmarks/run.py --update --sections paths   # re-run one section (about 12 minutes), keep
                                                                   # the others from benchmarks/results.json

Everything runs on 127.0.0.1 against the local DashScope-compatible service (``dashscope_embed.server``, ``hash``
backend: deterministic, not semantic, cheap) started in its own process (``benchmarks/_service.py``) with 100 ms
+- 10 ms latency per request, model text-embedding-v4, dimension 1024. Each measurement runs the client in its
own process (``benchmarks/_worker.py``) so its CPU time and peak RSS are its own.

The bound: with round-trip latency L, R rows per request and C requests in flight, N texts cannot take less than
(N / R / C) * L. "% of bound" is that time divided by the measured time, at the client's own C (16 for ours, 1
for the sequential clients); "x bound-16" compares everyone with the C = 16 bound.

Sections: 0. a raw pooled httpx client (sync and async) and every path of ours (core, LlamaIndex and LangChain,
sync and async) at N = 20,000, C = 16: each path runs between two runs of the raw client of its kind, and its
throughput is reported as a ratio of theirs (the machine may be shared: ratios of neighbouring runs are what is
compared);
1. same N through every client, the existing integrations included; 2. scaling of ours over N and
max_concurrency; 3. an RPM limit on the service and the 429s each client provokes; 4. ``embed_dataset`` on Ray
under a shared 120 RPM quota (``ray_quota.py``); 5. client CPU per reply with no network (``client_overhead.py``).
Benchmarks are not tests: nothing here asserts timings.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from importlib import metadata

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from _common import API_KEY, DIMENSION, LATENCY_BASE, LATENCY_JITTER, LATENCY_MEAN, MODEL, ROWS, control  # noqa: E402

RAW = ["raw-httpx-sync", "raw-httpx-async"]
OURS = ["core-sync", "core-async", "llamaindex-sync", "llamaindex-async", "langchain-sync", "langchain-async"]
THEIRS = [
    "llama-index-embeddings-dashscope-sync", "llama-index-embeddings-dashscope-async",
    "langchain-community-sync", "langchain-community-async", "dashscope-sdk-loop", "openai-sdk-loop",
    "openai-sdk-async-loop",
]
LABELS = {
    "raw-httpx-sync": "raw pooled `httpx.Client` + orjson, 16 threads",
    "raw-httpx-async": "raw pooled `httpx.AsyncClient` + orjson, 16 in flight",
    "core-sync": "dashscope-embed core `embed`",
    "core-async": "dashscope-embed core `aembed`",
    "llamaindex-sync": "dashscope-embed LlamaIndex `get_text_embedding_batch`",
    "llamaindex-async": "dashscope-embed LlamaIndex `aget_text_embedding_batch`",
    "langchain-sync": "dashscope-embed LangChain `embed_documents`",
    "langchain-async": "dashscope-embed LangChain `aembed_documents`",
    "llama-index-embeddings-dashscope-sync": "llama-index-embeddings-dashscope 0.6.0 `get_text_embedding_batch` (batch 10)",
    "llama-index-embeddings-dashscope-async": "llama-index-embeddings-dashscope 0.6.0 `aget_text_embedding_batch` (batch 10)",
    "langchain-community-sync": "langchain-community 0.4.2 `DashScopeEmbeddings.embed_documents` (batch 10)",
    "langchain-community-async": "langchain-community 0.4.2 `DashScopeEmbeddings.aembed_documents` (batch 10)",
    "dashscope-sdk-loop": "dashscope SDK 2.0.2 `TextEmbedding.call` loop (10 per call)",
    "openai-sdk-loop": "openai SDK, compatible mode, sequential loop (10 per call)",
    "openai-sdk-async-loop": "openai SDK `AsyncOpenAI`, compatible mode, sequential loop (10 per call)",
}
#: RESULTS.md keeps everything from this line on when run.py rewrites it (results of other scripts).
KEEP_MARKER = "<!-- run.py keeps what follows when it rewrites this file: results of other scripts -->"
#: Clients that send one request at a time whatever they are given (their C is 1).
SEQUENTIAL = set(THEIRS)
#: Clients that send one request per text in the async path (llama-index's default _aget_text_embeddings).
ONE_PER_TEXT = {"llama-index-embeddings-dashscope-async"}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- service


class Service:
    """``benchmarks/_service.py`` in a child process; stopped by PID."""

    def __init__(self) -> None:
        cmd = [sys.executable, os.path.join(HERE, "_service.py"), "--latency", str(LATENCY_BASE),
               "--jitter", str(LATENCY_JITTER)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            self.stop()
            raise RuntimeError(f"service did not start: {line!r} {self.proc.stderr.read()[-2000:]}")
        self.port = int(line.split()[1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        for _ in range(200):
            try:
                control(self.base_url, "stats", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError("service did not accept connections")

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def set_faults(self, **faults) -> None:
        faults.setdefault("latency", LATENCY_BASE)
        faults.setdefault("jitter", LATENCY_JITTER)
        control(self.base_url, "faults", faults)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def adapters_available() -> dict[str, bool]:
    found = {}
    for name, stmt in (("llamaindex", "from llama_index_dashscope_embed import DashScopeEmbedding"),
                       ("langchain", "from langchain_dashscope_embed import DashScopeEmbeddings")):
        rc = subprocess.run([sys.executable, "-c", stmt], capture_output=True, cwd=ROOT, timeout=120).returncode
        found[name] = rc == 0
    return found


# ---------------------------------------------------------------------------------------------- one measurement


def measure(service: Service, client: str, n: int, concurrency: int = 16, client_rpm: float | None = None,
            timeout: float = 300.0) -> dict:
    env = dict(os.environ, DASHSCOPE_HTTP_BASE_URL=service.base_url + "/api/v1", DASHSCOPE_API_KEY=API_KEY,
               PYTHONWARNINGS="ignore")
    cmd = [sys.executable, os.path.join(HERE, "_worker.py"), "--client", client, "--n", str(n),
           "--concurrency", str(concurrency), "--base-url", service.base_url, "--hard-timeout", str(timeout)]
    if client_rpm:
        cmd += ["--client-rpm", str(client_rpm)]
    cpu0 = service.cpu_seconds()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout + 120)
    except subprocess.TimeoutExpired:
        return {"client": client, "n": n, "concurrency": concurrency, "ok": False, "error": "driver timeout"}
    server_cpu = service.cpu_seconds() - cpu0
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        return {"client": client, "n": n, "concurrency": concurrency, "ok": False,
                "error": f"worker exit {proc.returncode}: {proc.stderr[-500:]}"}
    result = json.loads(lines[-1][len("RESULT "):])
    stats = result.get("stats", {})
    requests = max(1, stats.get("requests", 0))
    result["requests"] = stats.get("requests", 0)
    result["status_429"] = stats.get("by_status", {}).get("429", 0)
    result["server_cpu_ms_per_request"] = server_cpu * 1000 / (requests + 1)
    if result.get("ok"):
        c_eff = 1 if client in SEQUENTIAL else concurrency
        rows = 1 if client in ONE_PER_TEXT else ROWS
        bound = n / rows / c_eff * LATENCY_MEAN
        bound16 = n / ROWS / 16 * LATENCY_MEAN
        result.update(
            texts_per_s=n / result["wall"], in_flight=c_eff, bound=bound, pct_bound=100 * bound / result["wall"],
            pct_bound16=100 * bound16 / result["wall"], cpu_ms_per_request=result["cpu"] * 1000 / requests,
        )
    return result


def describe(r: dict) -> str:
    if not r.get("ok"):
        return f"{r['client']} n={r['n']} c={r.get('concurrency')}: FAILED {r.get('error')}"
    return (f"{r['client']} n={r['n']} c={r['concurrency']}: {r['wall']:.2f} s, {r['texts_per_s']:.0f} texts/s, "
            f"{r['pct_bound']:.1f}% of bound, cpu {r['cpu_ms_per_request']:.2f} ms/req, rss {r['peak_rss_mb']:.0f} MB, "
            f"429s {r['status_429']}, missing {r.get('missing')}")


# ---------------------------------------------------------------------------------------------- report


def machine() -> dict:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {}
    for dist in ("dashscope-embed", "dashscope", "openai", "httpx", "orjson", "numpy", "llama-index-core",
                 "llama-index-embeddings-dashscope", "langchain-core", "langchain-community", "uvicorn", "starlette",
                 "ray"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = "?"
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "platform": platform.platform(), "versions": versions, "commit": commit}


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        with open("/proc/loadavg") as f:
            return "load average: " + " ".join(f.read().split()[:3])


def fmt_row(r: dict, ref_speed: float | None = None) -> str:
    label = LABELS.get(r["client"], r["client"])
    if not r.get("ok"):
        return f"| {label} | {r['n']:,} | - | - | - | - | - | - | failed: {r.get('error', '')[:120]} |"
    vs = f"{ref_speed / r['texts_per_s']:.1f}x" if ref_speed and r["client"] not in OURS else ""
    check = "ok" if r["missing"] == 0 and r["wrong_dim"] == 0 and r["returned"] == r["n"] else (
        f"{r['missing']} missing, {r['wrong_dim']} wrong dim, {r['returned']} returned")
    if r.get("digest_match") is False:
        check += ", vectors differ from core's"
    return (f"| {label} | {r['n']:,} | {r['in_flight']} | {r['wall']:.2f} | {r['texts_per_s']:,.0f} | "
            f"{r['pct_bound']:.1f}% | {r['cpu_ms_per_request']:.2f} | {r['peak_rss_mb']:.0f} | {check}{'; ours is ' + vs + ' faster' if vs else ''} |")


def summary_table(rows: list[dict], n: int) -> str:
    by = {r["client"]: r for r in rows if r.get("ok")}
    lines = [f"| client ({n:,} texts, text-embedding-v4, 100 ms latency) | sync texts/s | async texts/s | client CPU ms/request | peak RSS MB |",
             "|---|---|---|---|---|"]
    groups = [
        ("dashscope-embed core (max_concurrency=16)", "core-sync", "core-async"),
        ("dashscope-embed LlamaIndex", "llamaindex-sync", "llamaindex-async"),
        ("dashscope-embed LangChain", "langchain-sync", "langchain-async"),
        ("llama-index-embeddings-dashscope 0.6.0", "llama-index-embeddings-dashscope-sync", "llama-index-embeddings-dashscope-async"),
        ("langchain-community 0.4.2 DashScopeEmbeddings", "langchain-community-sync", "langchain-community-async"),
        ("dashscope SDK loop", "dashscope-sdk-loop", None),
        ("openai SDK, compatible mode", "openai-sdk-loop", "openai-sdk-async-loop"),
    ]
    for label, s, a in groups:
        rs, ra = by.get(s), by.get(a) if a else None
        if rs is None and ra is None:
            continue
        cpu = "/".join(f"{r['cpu_ms_per_request']:.1f}" for r in (rs, ra) if r)
        rss = "/".join(f"{r['peak_rss_mb']:.0f}" for r in (rs, ra) if r)
        lines.append(f"| {label} | {rs['texts_per_s']:,.0f} | " if rs else f"| {label} | - | ")
        lines[-1] += (f"{ra['texts_per_s']:,.0f}" if ra else "-") + f" | {cpu} | {rss} |"
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- sections
# Each section measures into ctx["sections"][name] (and the notes or settings its report needs).


def run_paths(service: Service, args, ctx: dict) -> None:
    """Section 0: every path of ours between two runs of the raw client of its kind (sync or async), in rounds.

    A path's ratio is its texts/s over the mean of the raw runs just before and just after it, so load from
    other jobs that drifts over tens of seconds moves both sides of each ratio alike.
    """
    n, rounds = (5000, 1) if args.quick else (args.paths_n, args.rounds)
    ctx["paths_cfg"] = {"n": n, "rounds": rounds, "concurrency": 16}
    by_round = []
    for k in range(rounds):
        runs = []
        for kind in ("sync", "async"):
            raw = f"raw-httpx-{kind}"
            ours = [c for c in OURS if c in ctx["ours"] and c.endswith(f"-{kind}")]
            for client in [raw] + [x for c in ours for x in (c, raw)]:
                r = measure(service, client, n)
                log(f"round {k + 1}/{rounds}: {describe(r)}")
                runs.append(r)
        by_round.append({"runs": runs, "load": uptime()})
    ctx["sections"]["paths"] = by_round


def run_compare(service: Service, args, ctx: dict) -> None:
    """Section 1: the same texts through every client, the existing integrations included."""
    n = 500 if args.quick else 2000
    ctx["n_compare"] = n
    rows = []
    for client in ctx["ours"] + THEIRS:
        # one sequential request per text: N/10 keeps it near 20 s
        r = measure(service, client, n // 10 if client in ONE_PER_TEXT else n)
        log(describe(r))
        rows.append(r)
    ref = next((r for r in rows if r["client"] == "core-sync" and r.get("ok")), None)
    for r in rows:
        if r.get("ok") and ref and r["n"] == ref["n"]:
            r["digest_match"] = r["digest"] == ref["digest"]
    ctx["sections"]["compare"] = rows
    ctx["compare_notes"] = compare_notes(ctx, rows, n)


def compare_notes(ctx: dict, rows: list[dict], n: int) -> list[str]:
    notes = []
    missing = [LABELS[c] for c in OURS if c not in ctx["ours"]]
    if missing:
        notes.append("Not measured (adapter not importable at run time): " + ", ".join(missing) + ".")
    if any(r["client"] in ONE_PER_TEXT for r in rows):
        notes.append(f"llama-index-embeddings-dashscope's async path sends one request per text (no"
                     f" `_aget_text_embeddings` override; each text goes through the sync SDK), so it was"
                     f" measured on N = {n // 10:,} (about {n // 10 * LATENCY_MEAN:.0f} s); its texts/s"
                     f" does not depend on N.")
    notes.append("The existing clients' async methods run their sync code (in the event loop or an executor):"
                 " one request at a time, and the event loop is blocked while they wait where noted by"
                 " their code (llama-index-embeddings-dashscope).")
    return notes


def run_scaling(service: Service, args, ctx: dict) -> None:
    """Section 2: the core over N x max_concurrency, cells whose bound exceeds --max-seconds skipped."""
    ns = [200, 2000] if args.quick else [200, 2000, 20000]
    cs = [1, 4, 16, 64]
    ctx["scaling_n"], ctx["scaling_c"] = ns, cs
    grid = {}
    for path in ("core-sync", "core-async"):
        for n in ns:
            for c in cs:
                if n / ROWS / c * LATENCY_MEAN > args.max_seconds:
                    log(f"skip {path} n={n} c={c}")
                    continue
                grid[f"{path}:{n}:{c}"] = r = measure(service, path, n, c)
                log(describe(r))
    ctx["sections"]["scaling"] = grid


def run_rpm(service: Service, args, ctx: dict) -> None:
    """Section 3: a 300 RPM limit on the service, ours paced at 95% and unpaced, and the existing clients."""
    limit, n = 300, 3100
    ctx["rpm"] = {"limit": limit, "n": n}
    cases = [("core-sync", 0.95 * limit), ("core-async", 0.95 * limit), ("core-sync", None),
             ("core-async", None), ("llama-index-embeddings-dashscope-sync", None),
             ("langchain-community-sync", None), ("dashscope-sdk-loop", None), ("openai-sdk-loop", None)]
    rows = []
    for client, rpm in cases:
        service.set_faults(rpm=limit)
        r = measure(service, client, n, 16, client_rpm=rpm, timeout=400)
        log(describe(r))
        rows.append(r)
    service.set_faults()
    ctx["sections"]["rpm"] = rows


def run_ray(service: Service, args, ctx: dict) -> None:
    """Section 4: ``embed_dataset`` with 2 actors under a 120 RPM quota (``ray_quota.py``, its own process)."""
    proc = subprocess.run([sys.executable, os.path.join(HERE, "ray_quota.py"), "--base-url", service.base_url],
                          capture_output=True, text=True, cwd=ROOT, timeout=900,
                          env=dict(os.environ, PYTHONWARNINGS="ignore"))
    service.set_faults()
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    result = json.loads(lines[-1][len("RESULT "):]) if lines else {"error": proc.stderr[-1500:]}
    log(f"ray: {result}")
    ctx["sections"]["ray"] = result


def run_overhead(service: Service, args, ctx: dict) -> None:
    """Section 5: client CPU per reply with no network (``client_overhead.py``, its own process)."""
    proc = subprocess.run([sys.executable, os.path.join(HERE, "client_overhead.py"), "--markdown"],
                          capture_output=True, text=True, cwd=ROOT, timeout=900,
                          env=dict(os.environ, PYTHONWARNINGS="ignore"))
    ctx["sections"]["overhead"] = proc.stdout if proc.returncode == 0 else f"failed: {proc.stderr[-1000:]}"


SECTIONS = {"paths": run_paths, "compare": run_compare, "scaling": run_scaling, "rpm": run_rpm, "ray": run_ray,
            "overhead": run_overhead}


# ---------------------------------------------------------------------------------------------- ratios


def path_ratios(by_round: list[dict]) -> dict[str, dict]:
    """Per client: median texts/s, % of bound and CPU; for ours, the median (and range) over rounds of its texts/s
    over the mean of the raw runs of its kind just before and after it."""
    samples: dict[str, dict[str, list]] = {}
    for round_ in by_round:
        runs = round_["runs"]
        for i, r in enumerate(runs):
            row = samples.setdefault(r["client"], {"tps": [], "pct": [], "cpu": [], "ratio": [], "ok": []})
            row["ok"].append(bool(r.get("ok")) and r["missing"] == 0 and r["returned"] == r["n"])
            if not r.get("ok"):
                continue
            row["tps"].append(r["texts_per_s"])
            row["pct"].append(r["pct_bound"])
            row["cpu"].append(r["cpu_ms_per_request"])
            if r["client"] in RAW:
                continue
            around = [runs[j] for j in (i - 1, i + 1) if 0 <= j < len(runs) and runs[j]["client"] in RAW]
            raw = [x["texts_per_s"] for x in around if x.get("ok")]
            if raw:
                row["ratio"].append(r["texts_per_s"] / statistics.mean(raw))
    out = {}
    for client, row in samples.items():
        out[client] = {k: statistics.median(v) if v else None for k, v in row.items() if k != "ok"}
        out[client]["ratio_range"] = (min(row["ratio"]), max(row["ratio"])) if row["ratio"] else None
        out[client]["all_ok"] = all(row["ok"])
    return out


def targets(ctx: dict) -> list[str]:
    out = []
    if "paths" in ctx["sections"]:
        ratios = path_ratios(ctx["sections"]["paths"])
        for client in OURS:
            if client not in ratios or ratios[client]["ratio"] is None:
                out.append(f"{client}: not measured.")
                continue
            goal = 0.98 if client.startswith("core") else 0.95
            ratio = ratios[client]["ratio"]
            out.append(f"{client}: {ratio:.3f} of the raw httpx client of its kind (median over"
                       f" {ctx['paths_cfg']['rounds']} rounds, N={ctx['paths_cfg']['n']:,}, C=16; target >= {goal}):"
                       f" {'met' if ratio >= goal else 'NOT met'}.")
    grid = ctx["sections"].get("scaling", {})
    for path in ("core-sync", "core-async"):
        r = grid.get(f"{path}:20000:16")
        if r and r.get("ok"):
            met = "met" if r["pct_bound"] >= 90 else "NOT met"
            out.append(f"{path} at N=20,000, C=16: {r['pct_bound']:.1f}% of the bound (target >= 90%): {met}.")
    out += integration_targets(ctx)
    ray = ctx["sections"].get("ray", {}).get("shared")
    if ray:
        met = ray["status_429"] == 0 and ray["every_row_once"] and ray["vectors_equal"]
        out.append(f"embed_dataset, 2 actors, 2,000 texts, 120 RPM quota paced at 114: {ray['status_429']} 429s,"
                   f" every row once: {ray['every_row_once']}, vectors equal: {ray['vectors_equal']}:"
                   f" {'met' if met else 'NOT met'}.")
    for line in ctx["sections"].get("overhead", "").splitlines():
        if line.startswith("<!-- target"):
            out.append(line.removeprefix("<!-- target").removesuffix("-->").strip())
    return out


def integration_targets(ctx: dict) -> list[str]:
    rows = {r["client"]: r for r in ctx["sections"].get("compare", []) if r.get("ok")}
    theirs = [rows[c]["texts_per_s"] for c in ("llama-index-embeddings-dashscope-sync",
                                               "llama-index-embeddings-dashscope-async",
                                               "langchain-community-sync", "langchain-community-async") if c in rows]
    if not theirs:
        return []
    best = max(theirs)
    out = []
    for c in OURS:
        if c in rows:
            ratio = rows[c]["texts_per_s"] / best
            out.append(f"{c}: {ratio:.1f}x the faster of the existing integrations ({best:,.0f} texts/s)"
                       f" at N={ctx['n_compare']:,} (target >= 10x): {'met' if ratio >= 10 else 'NOT met'}.")
        else:
            out.append(f"{c}: not measured (adapter not available).")
    return out


# ---------------------------------------------------------------------------------------------- report


def render_header(ctx: dict) -> list[str]:
    m = ctx["machine"]
    updates = [f"- Re-run `{u['command']}` (commit {u['commit']}): sections {', '.join(u['sections'])};"
               f" load before `{u['load']}`." for u in ctx.get("updates", [])]
    return [
        "# Benchmark results", "",
        f"Generated {ctx['finished']} by `{ctx['command']}` (commit {m['commit']}"
        f"{', quick mode' if ctx['quick'] else ''}).", "",
        f"- Machine: {m['nproc']} CPUs ({m['cpu']}), {m['platform']}, Python {m['python']}.",
        f"- Load: before `{ctx['load_before']}`; after `{ctx['load_after']}`. Other jobs may share this machine;"
        " client and service share its cores.",
        "- Packages: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".",
        f"- Service: `dashscope_embed.server` (`hash` backend) in its own process, latency {LATENCY_BASE*1000:.0f} ms"
        f" + uniform [0, {LATENCY_JITTER*1000:.0f}) ms (mean L = {LATENCY_MEAN*1000:.0f} ms), {MODEL}, dimension"
        f" {DIMENSION}, {ROWS} rows per request. Each client runs in its own process; CPU is that process's CPU"
        " time (all threads) during the timed call divided by the HTTP requests the service received; RSS is the"
        " process's peak (imports included). A warm-up call precedes each timing.",
        "- Bound: N texts cannot take less than (N / R / C) x L. \"% of bound\" uses the client's own C (16 for"
        " ours, 1 for clients that send one request at a time); vectors are checked against the core's for the"
        " same texts.",
        *updates, "",
    ]


def render_paths(ctx: dict) -> list[str]:
    cfg = ctx["paths_cfg"]
    ratios = path_ratios(ctx["sections"]["paths"])
    out = [f"## 0. Every path against a raw pooled httpx client: N = {cfg['n']:,}, C = {cfg['concurrency']},"
           f" {cfg['rounds']} round(s)", "",
           "The raw clients: one pooled httpx client, 16 requests in flight (16 threads, or a semaphore on one event"
           " loop), orjson, rows put in `text_index` order, the decoded lists handed back; no retries, no checks."
           " Each round runs every sync path between two runs of the raw sync client, then every async path between"
           " runs of the raw async client; a path's ratio is its texts/s over the mean of the two raw runs around"
           " it (median over rounds, range in brackets), so load from other jobs largely cancels.", "",
           "| client | texts/s (median) | % of bound | / raw client of its kind | client CPU ms/request | check |",
           "|---|---|---|---|---|---|"]
    for client in RAW + OURS:
        r = ratios.get(client)
        if r is None or r["tps"] is None:
            out.append(f"| {LABELS[client]} | - | - | - | - | not measured or failed |")
            continue
        if r["ratio"] is None:
            ratio = "1 (reference)" if client in RAW else "-"
        else:
            lo, hi = r["ratio_range"]
            ratio = f"{r['ratio']:.3f} [{lo:.3f}-{hi:.3f}]"
        out.append(f"| {LABELS[client]} | {r['tps']:,.0f} | {r['pct']:.1f}% | {ratio} | {r['cpu']:.2f} |"
                   f" {'ok' if r['all_ok'] else 'failed or vectors missing'} |")
    loads = "; ".join(f"round {i + 1}: `{res['load'].split('load average:')[-1].strip()}`"
                      for i, res in enumerate(ctx["sections"]["paths"]))
    out += ["", f"Load average after each round: {loads}.", ""]
    return out


def render_compare(ctx: dict) -> list[str]:
    rows, n = ctx["sections"]["compare"], ctx["n_compare"]
    out = [f"## 1. The same {n:,} texts through every client (ours at max_concurrency=16)", "",
           "| client | N | in flight | seconds | texts/s | % of bound | client CPU ms/request | peak RSS MB | check |",
           "|---|---|---|---|---|---|---|---|---|"]
    ref = {r["client"]: r for r in rows if r.get("ok")}
    best_ours_sync = ref.get("core-sync", {}).get("texts_per_s")
    out += [fmt_row(r, best_ours_sync) for r in rows]
    out += [""] + [f"- {note}" for note in ctx.get("compare_notes", [])] + [""]
    return out


def render_scaling(ctx: dict) -> list[str]:
    conc, grid = ctx["scaling_c"], ctx["sections"]["scaling"]
    out = ["## 2. Scaling of ours: N x max_concurrency (core, texts/s and % of bound)", "",
           "| path | N | " + " | ".join(f"C={c}" for c in conc) + " |", "|---|---|" + "---|" * len(conc)]
    for path in ("core-sync", "core-async"):
        for n in ctx["scaling_n"]:
            cells = []
            for c in conc:
                r = grid.get(f"{path}:{n}:{c}")
                if r is None:
                    cells.append(f"skipped (bound {n / ROWS / c * LATENCY_MEAN:.0f} s)")
                elif not r.get("ok"):
                    cells.append("failed")
                else:
                    cells.append(f"{r['texts_per_s']:,.0f} ({r['pct_bound']:.0f}%, {r['cpu_ms_per_request']:.2f} ms"
                                 " CPU/req)")
            out.append(f"| {path} | {n:,} | " + " | ".join(cells) + " |")
    out += ["", f"Combinations whose bound exceeds {ctx['max_seconds']:.0f} s are skipped. At C=64 the single-process"
            " service shares the 2 cores with the client and is part of what is measured.", ""]
    return out


def render_rpm(ctx: dict) -> list[str]:
    cfg = ctx["rpm"]
    out = [f"## 3. Service limit of {cfg['limit']} requests per minute: N = {cfg['n']:,} ({cfg['n'] // ROWS}"
           " requests)", "",
           "The service counts requests in a sliding 60 s window and answers the rest with HTTP 429"
           " `Throttling.RateQuota` and a `Retry-After` header; the window restarts before each client.", "",
           "| client | seconds | HTTP requests | 429s provoked | vectors returned | missing | outcome |",
           "|---|---|---|---|---|---|---|"]
    for r in ctx["sections"]["rpm"]:
        label = LABELS.get(r["client"], r["client"])
        if r.get("client_rpm"):
            label += f", requests_per_minute={r['client_rpm']:g}"
        elif r["client"] in ("core-sync", "core-async"):
            label += ", no client-side limit"
        if r.get("ok"):
            outcome = "complete" if r["missing"] == 0 and r["returned"] == r["n"] else "silently incomplete"
            out.append(f"| {label} | {r['wall']:.1f} | {r['requests']} | {r['status_429']} | {r['returned']} |"
                       f" {r['missing']} | {outcome} |")
        else:
            out.append(f"| {label} | - | {r.get('requests', '?')} | {r.get('status_429', '?')} | - | - |"
                       f" raised {' '.join(r.get('error', '').split())[:140]} |")  # one table row per client
    return out + [""]


def render_ray(ctx: dict) -> list[str]:
    r = ctx["sections"]["ray"]
    out = ["## 4. Ray Data: `embed_dataset` with 2 actors under a 120 RPM quota (`benchmarks/ray_quota.py`)", ""]
    if "shared" not in r:
        return out + [f"Failed: `{' '.join(str(r.get('error', r)).split())[:400]}`", ""]
    s = r["shared"]
    out += ["A local Ray cluster (2 CPUs), the service limited to 120 requests per minute (sliding 60 s window),"
            f" {r['texts']:,} texts of {MODEL} at {ROWS} rows per request.", "",
            "| pacing | seconds | HTTP requests | 429s | rows sent | every row once | vectors equal to the engine's |",
            "|---|---|---|---|---|---|---|",
            f"| `requests_per_minute=114` shared by both actors | {s['seconds']:.1f} | {s['requests']} |"
            f" {s['status_429']} | {s['rows_sent']:,} | {s['every_row_once']} | {s['vectors_equal']} |"]
    p = r.get("per_actor")
    if p:
        out.append(f"| each actor paced on its own at 120 RPM, `max_retries=0` (per-worker limiting) |"
                   f" {p['seconds']:.1f} | {p['requests']} | {p['status_429']} | - | - | {p['outcome'].split(':')[0]} |")
    return out + [""]


def render_report(ctx: dict) -> str:
    renderers = {"paths": render_paths, "compare": render_compare, "scaling": render_scaling, "rpm": render_rpm,
                 "ray": render_ray,
                 "overhead": lambda c: ["## 5. Client CPU per reply, no network (`benchmarks/client_overhead.py`)", "",
                                        c["sections"]["overhead"].strip(), ""]}
    out = render_header(ctx)
    for name, render in renderers.items():
        if name in ctx["sections"]:
            out += render(ctx)
    if ctx.get("targets"):
        out += ["## Targets", ""] + [f"- {line}" for line in ctx["targets"]] + [""]
    if ctx.get("summary"):
        out += ["## Summary tables (for README.md)", "", ctx["summary"], ""]
    return "\n".join(out) + "\n"


def paths_summary(ctx: dict) -> str:
    ratios = path_ratios(ctx["sections"]["paths"])
    cfg = ctx["paths_cfg"]
    lines = [f"| path ({cfg['n']:,} texts, 16 in flight, 100 ms latency) | sync: / raw client | async: / raw client |",
             "|---|---|---|"]
    for label, s, a in (("raw pooled httpx + orjson (reference)", "raw-httpx-sync", "raw-httpx-async"),
                        ("dashscope-embed core", "core-sync", "core-async"),
                        ("dashscope-embed LlamaIndex", "llamaindex-sync", "llamaindex-async"),
                        ("dashscope-embed LangChain", "langchain-sync", "langchain-async")):
        cells = [("1" if c in RAW else f"{ratios[c]['ratio']:.3f}") + f" ({ratios[c]['tps']:,.0f} texts/s)"
                 if ratios.get(c, {}).get("tps") and (c in RAW or ratios[c]["ratio"]) else "-" for c in (s, a)]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="dashscope-embed benchmarks (see the module docstring)")
    parser.add_argument("--quick", action="store_true", help="smaller N, one round, no RPM or Ray section")
    parser.add_argument("--sections", default="paths,compare,scaling,rpm,ray,overhead",
                        help="comma-separated subset of " + ",".join(SECTIONS))
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the paths section")
    parser.add_argument("--paths-n", type=int, default=20000, help="texts per path in the paths section")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="skip scaling cells whose bound exceeds this")
    parser.add_argument("--output", default=os.path.join(HERE, "RESULTS.md"))
    parser.add_argument("--json", default=os.path.join(HERE, "results.json"))
    parser.add_argument("--update", action="store_true",
                        help="re-run only --sections and keep the other sections of the existing --json file")
    args = parser.parse_args()
    args.wanted = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in args.wanted if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {unknown}; known: {', '.join(SECTIONS)}")
    if args.quick and args.sections == parser.get_default("sections"):
        args.wanted = [s for s in args.wanted if s not in ("rpm", "ray")]
    return args


def main() -> None:
    args = parse_args()
    command = ".venv/bin/python benchmarks/run.py" + "".join(f" {shlex.quote(a)}" for a in sys.argv[1:])
    ctx: dict = {"command": command, "quick": args.quick, "machine": machine(), "load_before": uptime(),
                 "sections": {}, "max_seconds": args.max_seconds}
    if args.update and os.path.exists(args.json):
        with open(args.json) as f:
            kept = json.load(f)
        kept.setdefault("updates", []).append({"command": command, "sections": args.wanted, "load": uptime(),
                                               "commit": ctx["machine"]["commit"]})
        ctx = kept
    available = adapters_available()
    log(f"adapters available: {available}")
    ctx["ours"] = [c for c in OURS if c.startswith("core") or available.get(c.split("-")[0], False)]
    service = Service()
    log(f"service at {service.base_url} (pid {service.proc.pid})")
    try:
        for name in args.wanted:
            SECTIONS[name](service, args, ctx)
    finally:
        service.stop()
    write_outputs(ctx, args)


def write_outputs(ctx: dict, args) -> None:
    ctx["load_after"] = uptime()
    ctx["finished"] = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    ctx["targets"] = targets(ctx)
    summaries = []
    if "paths" in ctx["sections"]:
        summaries.append(paths_summary(ctx))
    if "compare" in ctx["sections"]:
        summaries.append(summary_table(ctx["sections"]["compare"], ctx["n_compare"]))
    ctx["summary"] = "\n\n".join(summaries)
    with open(args.json, "w") as f:
        json.dump(ctx, f, indent=1, default=str)
    kept = ""
    if os.path.exists(args.output):  # sections other scripts wrote, after the marker, survive a rewrite
        with open(args.output, encoding="utf-8") as fh:
            previous = fh.read()
        if KEEP_MARKER in previous:
            kept = "\n" + previous[previous.index(KEEP_MARKER):]
    with open(args.output, "w", encoding="utf-8") as fh:
        fh.write(render_report(ctx) + kept)
    print(ctx["summary"])
    print()
    print("\n".join(f"- {t}" for t in ctx["targets"]))
    print(f"\nwritten: {os.path.relpath(args.output, ROOT)}")


if __name__ == "__main__":
    main()
