"""Crash safety of ``dashscope-embed embed --batch-api``: SIGKILL at random moments, rerun until done.

The command runs as a subprocess against the local service with small shards (many uploads and batches), slow
batch progress and failing lines (so resubmissions are planned and collected while the kills land). A seeded
random schedule kills it at random instants of its life: while it plans and uploads shards, creates batches,
polls them, and collects and resubmits results. Then it reruns to the end, and the test checks on the service's
counters that no text was billed twice and that no two batches were created for the same shard and attempt (a
rerun that lost the reply of a creation finds the batch by its metadata instead of creating another).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import orjson
import pyarrow.parquet as pq
from support.batch_helpers import billed_once, dense, realtime, texts

from dashscope_embed.batch import state_path_for
from dashscope_embed.jobs.workdir import work_dir_for

ROWS = 600
DIM = 64
KILLS = 8
#: what a kill waits for: an upload that just landed, a batch just created (its id not yet recorded), lines being
#: executed while the job polls, result files being deleted after a collection
MOMENTS = ("upload", "creation", "polling", "collection")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _command(src, out, base_url) -> list[str]:
    return [
        sys.executable, "-m", "dashscope_embed.cli", "embed", str(src), "-o", str(out), "--base-url", base_url,
        "--id-field", "id", "--dimensions", str(DIM), "--batch-api", "--poll-interval", "0.02",
        "--lines-per-shard", "6", "--chunk-size", "30", "--no-progress",
    ]


def _counters(svc) -> dict[str, int]:
    return {"files": len(svc.app.batch_api.files.ids()), "batches": svc.stats.batches_created,
            "lines": svc.stats.batch_lines_billed}


def _reached(moment: str, before: dict[str, int], now: dict[str, int], lines: int) -> bool:
    if moment == "upload":
        return now["files"] > before["files"]
    if moment == "creation":
        return now["batches"] > before["batches"]
    if moment == "polling":
        return now["lines"] >= before["lines"] + lines
    return now["files"] < before["files"]


def _kill_at(svc, proc, moment: str, lines: int, rng: random.Random) -> bool:
    """Wait for ``moment`` (or the end of the process), then SIGKILL; whether the kill landed."""
    before = _counters(svc)
    deadline = time.monotonic() + 30
    while proc.poll() is None and not _reached(moment, before, _counters(svc), lines):
        assert time.monotonic() < deadline, f"never reached {moment}"
        time.sleep(0.001)
    if moment == "polling":
        time.sleep(rng.uniform(0.0, 0.05))
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    return True


def test_sigkill_at_random_moments_then_resume(batch_service, tmp_path):
    rng = random.Random(20261201)
    items = texts(ROWS)
    src = tmp_path / "rows.jsonl"
    with open(src, "wb") as f:
        for i, text in enumerate(items):
            f.write(orjson.dumps({"id": f"r{i:04d}", "text": text}) + b"\n")
    batch_service.set_faults(seed=11, batch_line_failure_rate=0.15, batch_step_delay=0.05, batch_lines_per_step=1)
    out = tmp_path / "out.parquet"
    kills = runs = 0
    landed: list[str] = []
    while True:
        runs += 1
        assert runs < 30, "the job never finished"
        proc = subprocess.Popen(_command(src, out, batch_service.base_url), env=_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if kills < KILLS:
            moment = MOMENTS[kills % len(MOMENTS)] if kills < len(MOMENTS) else rng.choice(MOMENTS)
            if _kill_at(batch_service, proc, moment, rng.randint(1, 8), rng):
                kills += 1
                landed.append(moment)
                continue
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        break
    assert set(landed) == set(MOMENTS), landed
    assert not work_dir_for(out).exists() and not state_path_for(out).exists()
    table = pq.read_table(out)
    assert table.column("id").to_pylist() == [f"r{i:04d}" for i in range(ROWS)]
    np.testing.assert_array_equal(dense(out, DIM), realtime(batch_service, items, DIM))
    billed_once(batch_service)
    billed = batch_service.stats.batch_texts_billed
    assert len(billed) == ROWS  # every text billed, exactly once
