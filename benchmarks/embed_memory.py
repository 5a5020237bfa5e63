"""Peak memory of ``dashscope-embed embed`` on 100,000 short texts against the local service (hash backend).

The local service runs in this script (a background thread) and the embed command runs as a child process that
reports its own peak RSS (``VmHWM`` from ``/proc/self/status``, which starts afresh at ``exec``; ``ru_maxrss`` of a
child would not do: it starts from the parent's RSS at ``fork``). The bound to beat is 300 MB; the point is that memory does not grow with the input (at most two chunks of
``--chunk-size`` rows are held at once).

Usage::

    .venv/bin/python benchmarks/embed_memory.py [--rows 100000] [--dimensions 1024] [--chunk-size 1000]

Prints rows, seconds, rows/s and the child's peak RSS in MB; exits 1 when the peak is 300 MB or more.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dashscope_embed.server import LocalService

LIMIT_MB = 300.0

# Runs the command's main() and then prints the process's peak resident set size (Linux).
_CHILD = """
import sys
from dashscope_embed.cli import main
status = main(sys.argv[1:])
print(next(line for line in open("/proc/self/status") if line.startswith("VmHWM")), flush=True)
sys.exit(status)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dimensions", type=int, default=1024)
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--max-concurrency", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, LocalService(backend="hash") as service:
        src = Path(tmp) / "rows.txt"
        with open(src, "w", encoding="utf-8") as f:
            for i in range(args.rows):
                f.write(f"short text number {i} for the memory benchmark\n")
        out = Path(tmp) / "out.parquet"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE_")}
        command = [
            sys.executable, "-c", _CHILD, "embed", str(src), "-o", str(out),
            "--base-url", service.base_url, "--dimensions", str(args.dimensions), "--chunk-size", str(args.chunk_size),
            "--max-concurrency", str(args.max_concurrency), "--no-progress",
        ]
        started = time.monotonic()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        seconds = time.monotonic() - started
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 2
        report, _, peak = done.stdout.rpartition("VmHWM:")
        peak_mb = int(peak.split()[0]) / 1024
        size_mb = out.stat().st_size / 1e6
    print(report.strip())
    print(f"rows: {args.rows}, dimension: {args.dimensions}, chunk size: {args.chunk_size}")
    print(f"wall time: {seconds:.1f} s ({args.rows / seconds:.0f} rows/s, including start-up)")
    print(f"output: {size_mb:.1f} MB")
    print(f"peak RSS of the embed command: {peak_mb:.1f} MB (limit {LIMIT_MB:.0f} MB)")
    return 0 if peak_mb < LIMIT_MB else 1


if __name__ == "__main__":
    sys.exit(main())
