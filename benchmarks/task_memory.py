"""Peak memory and wall time of ``dashscope-embed embed --model text-embedding-async-v2`` (asynchronous tasks) against
the local service (hash backend), and whether every row came back once with the service's vectors.

The local service runs in this script (a background thread: its memory is not counted) and each command runs as a
child process that reports its own peak RSS (``VmHWM`` from ``/proc/self/status``, which starts afresh at
``exec``). Tasks hold up to ``--rows-per-task`` texts (100,000 by default, the documented maximum), so 250,000 rows
are three tasks. After each run the script checks the output: every id once and in order, every text billed once by
the service, and the vectors of a sample of rows equal to the service's real-time text-embedding-v2 vectors (1536
dimensions) of the same texts. The point: peak RSS stays flat in the row count (the job holds one chunk of rows
while planning, one result line and a bounded buffer of vectors while collecting, one chunk's journal while
writing a part).

Usage::

    nice -n 10 .venv/bin/python benchmarks/task_memory.py [--rows 50000 100000 250000] [--rows-per-task 100000]

Prints, per row count: seconds, peak RSS in MB, tasks and the checks; exits 1 when a check fails or the peak grows
by more than 50% from the smallest to the largest row count.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from dashscope_embed import DashScopeEmbedder
from dashscope_embed.server import LocalService

_CHILD = """
import sys
from dashscope_embed.cli import main
status = main(sys.argv[1:])
print(next(line for line in open("/proc/self/status") if line.startswith("VmHWM")), flush=True)
sys.exit(status)
"""
SAMPLE = 500


def _text(i: int) -> str:
    return f"short text number {i} for the task memory benchmark"


def _run(args: list[str]) -> tuple[float, float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", _CHILD, *args], env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"command failed: {done.stderr[-2000:]}")
    report, _, peak = done.stdout.rpartition("VmHWM:")
    return seconds, int(peak.split()[0]) / 1024, report.strip()


def _check(out: Path, rows: int, service: LocalService) -> tuple[bool, bool, bool]:
    """(ids once and in order, every text billed once, sampled vectors equal the real-time ones)."""
    ids_ok = True
    expected = 0
    sample_rows = sorted({0, rows - 1, *range(0, rows, max(1, rows // SAMPLE))})
    picked: dict[int, np.ndarray] = {}
    parquet = pq.ParquetFile(out)
    for group in range(parquet.num_row_groups):
        table = parquet.read_row_group(group, columns=["id", "dense"])
        ids = table.column("id").to_pylist()
        ids_ok &= ids == list(range(expected, expected + len(ids)))  # a text file: ids are row numbers
        dense = table.column("dense").combine_chunks().flatten().to_numpy().reshape(len(ids), -1)
        for r in sample_rows:
            if expected <= r < expected + len(ids):
                picked[r] = dense[r - expected].copy()
        expected += len(ids)
    ids_ok &= expected == rows
    billed = service.app.tasks.billed
    billed_ok = len(billed) == rows and max(billed.values()) == 1
    with DashScopeEmbedder("text-embedding-v2", base_url=service.base_url) as engine:
        reference = engine.embed([_text(r) for r in sample_rows]).dense
    vectors_ok = bool(np.allclose(np.stack([picked[r] for r in sample_rows]), reference, rtol=0, atol=1e-6))
    return ids_ok, billed_ok, vectors_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[50_000, 100_000, 250_000])
    parser.add_argument("--rows-per-task", type=int, default=100_000)
    args = parser.parse_args()

    peaks = []
    ok = True
    with LocalService(backend="hash") as service:
        for rows in args.rows:
            service.app.tasks.reset()
            with tempfile.TemporaryDirectory() as tmp:
                src = Path(tmp) / "rows.txt"
                with open(src, "w", encoding="utf-8") as f:
                    for i in range(rows):
                        f.write(_text(i) + "\n")
                out = Path(tmp) / "tasks.parquet"
                seconds, peak, report = _run(["embed", str(src), "-o", str(out), "--base-url", service.base_url,
                                              "--model", "text-embedding-async-v2", "--rows-per-task",
                                              str(args.rows_per_task), "--poll-interval", "0.5", "--no-progress"])
                tasks = service.app.tasks.submissions
                checks = _check(out, rows, service)
                ok &= all(checks)
                peaks.append(peak)
                print(report)
                print(f"rows {rows}: {seconds:.1f} s, peak RSS {peak:.1f} MB, {tasks} tasks; ids once and in order: "
                      f"{checks[0]}, every text billed once: {checks[1]}, sampled vectors equal the real-time "
                      f"text-embedding-v2 vectors: {checks[2]}", flush=True)
    flat = max(peaks) <= 1.5 * min(peaks)
    print(f"peak RSS from {args.rows[0]} to {args.rows[-1]} rows: "
          + " -> ".join(f"{p:.1f}" for p in peaks) + f" MB ({'flat' if flat else 'grows'})")
    return 0 if ok and flat else 1


if __name__ == "__main__":
    sys.exit(main())
