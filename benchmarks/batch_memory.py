"""Peak memory of ``dashscope-embed embed --batch-api`` against the local service (hash backend), and whether its
vectors equal the real-time path's for the same texts.

The local service runs in this script (a background thread: its memory is not counted) and each command runs as a
child process that reports its own peak RSS (``VmHWM`` from ``/proc/self/status``, which starts afresh at
``exec``). For each row count the batch job runs, then the real-time ``embed`` on the same file, and the two
Parquet files are compared row group by row group (ids, text digests, vectors exactly). The point: peak RSS stays
flat in the row count (one chunk of rows and one result line are held at a time).

Usage::

    .venv/bin/python benchmarks/batch_memory.py [--rows 10000 100000] [--dimensions 1024]

Prints, per row count: seconds, the batch command's peak RSS in MB, batches and the comparison; exits 1 when
vectors differ or the peak grows by more than 50% from the smallest to the largest row count.
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

from dashscope_embed.server import LocalService

_CHILD = """
import sys
from dashscope_embed.cli import main
status = main(sys.argv[1:])
print(next(line for line in open("/proc/self/status") if line.startswith("VmHWM")), flush=True)
sys.exit(status)
"""


def _run(args: list[str]) -> tuple[float, float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE_")}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", _CHILD, *args], env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"command failed: {done.stderr[-2000:]}")
    report, _, peak = done.stdout.rpartition("VmHWM:")
    return seconds, int(peak.split()[0]) / 1024, report.strip()


def _same(a: Path, b: Path) -> bool:
    left, right = pq.ParquetFile(a), pq.ParquetFile(b)
    if left.metadata.num_rows != right.metadata.num_rows or left.num_row_groups != right.num_row_groups:
        return False
    for group in range(left.num_row_groups):
        x, y = left.read_row_group(group), right.read_row_group(group)
        if x.column("id").to_pylist() != y.column("id").to_pylist():
            return False
        if x.column("text_sha256").to_pylist() != y.column("text_sha256").to_pylist():
            return False
        dx = x.column("dense").combine_chunks().flatten().to_numpy()
        dy = y.column("dense").combine_chunks().flatten().to_numpy()
        if not np.array_equal(dx, dy):
            return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dimensions", type=int, default=1024)
    args = parser.parse_args()

    peaks = []
    ok = True
    with LocalService(backend="hash") as service:
        for rows in args.rows:
            with tempfile.TemporaryDirectory() as tmp:
                src = Path(tmp) / "rows.txt"
                with open(src, "w", encoding="utf-8") as f:
                    for i in range(rows):
                        f.write(f"short text number {i} for the batch memory benchmark\n")
                common = [str(src), "--base-url", service.base_url, "--dimensions", str(args.dimensions),
                          "--no-progress"]
                batch_out, rt_out = Path(tmp) / "batch.parquet", Path(tmp) / "rt.parquet"
                before = service.stats.batches_created
                seconds, peak, report = _run(["embed", *common, "-o", str(batch_out), "--batch-api",
                                              "--poll-interval", "0.2"])
                batches = service.stats.batches_created - before
                rt_seconds, rt_peak, _ = _run(["embed", *common, "-o", str(rt_out)])
                same = _same(batch_out, rt_out)
                ok &= same
                peaks.append(peak)
                print(report)
                print(f"rows {rows}, d={args.dimensions}: --batch-api {seconds:.1f} s, peak RSS {peak:.1f} MB, "
                      f"{batches} batches; real-time {rt_seconds:.1f} s, peak RSS {rt_peak:.1f} MB; "
                      f"vectors equal: {same}", flush=True)
    flat = max(peaks) <= 1.5 * min(peaks)
    print(f"peak RSS from {args.rows[0]} to {args.rows[-1]} rows: {peaks[0]:.1f} -> {peaks[-1]:.1f} MB "
          f"({'flat' if flat else 'grows'})")
    return 0 if ok and flat else 1


if __name__ == "__main__":
    sys.exit(main())
