"""Crash safety of ``dashscope-embed embed``: SIGKILL at random points, rerun until done, check the result.

The command runs as a subprocess against the local service (hash backend, 20-50 ms per request). A seeded random
schedule kills it 6 times: once at a random instant after start (imports, hashing, the first requests), then each
time after a random number of further replies. After every kill the test waits until the service has answered
everything the dead process had in flight, then reads what is on disk.

What a rerun may re-send: only requests whose replies never reached the disk, i.e. those in flight (at most
``--max-concurrency``) when the kill landed; the service counts them as HTTP 200 even though nobody reads them.
So the test asserts, for every killed run, ``200 replies in the run - requests saved by the run <= concurrency``,
and at the end ``200 replies over all runs == requests of one clean run + replies lost to kills`` with the clean
run's request count measured by an actual clean run. Rows already saved are never requested again: if they were,
the saved-request count would exceed the clean count (the parts record every request's rows, and a row saved
twice fails the job).
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

from dashscope_embed import DashScopeEmbedder
from dashscope_embed.jobs.bulk import clean_requests_needed, inspect_work, work_dir_for
from dashscope_embed.server import FaultConfig

ROWS = 3000
CHUNK = 250
CONCURRENCY = 4
DIM = 64
KILLS = 6


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _command(src, out, base_url) -> list[str]:
    return [
        sys.executable, "-m", "dashscope_embed.cli", "embed", str(src), "-o", str(out), "--base-url", base_url,
        "--id-field", "id", "--dimensions", str(DIM), "--chunk-size", str(CHUNK),
        "--max-concurrency", str(CONCURRENCY), "--no-progress",
    ]


def _wait_drained(service, timeout: float = 10.0) -> None:
    """Wait until every request the service received has been answered (or dropped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = service.stats.snapshot()
        if s.requests == sum(s.by_status.values()) + s.dropped:
            return
        time.sleep(0.02)
    raise AssertionError("the service still has requests in flight")


def _wait_for_replies(service, proc, target: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while service.stats.replies_200 < target and proc.poll() is None:
        if time.monotonic() > deadline:
            raise AssertionError("no progress")
        time.sleep(0.002)


def test_sigkill_at_random_points_then_resume(hash_service, tmp_path):
    rng = random.Random(20240607)
    texts = [f"row {i}: {' '.join(rng.choice(['alpha', 'beta', 'gamma', 'delta']) for _ in range(8))}"
             for i in range(ROWS)]
    src = tmp_path / "rows.jsonl"
    with open(src, "wb") as f:
        for i, text in enumerate(texts):
            f.write(orjson.dumps({"id": f"r{i:05d}", "text": text}) + b"\n")
    hash_service.set_faults(FaultConfig(seed=3, latency=0.02, jitter=0.03))

    # One clean run measures the requests the job needs.
    clean_out = tmp_path / "clean.parquet"
    done = subprocess.run(_command(src, clean_out, hash_service.base_url), env=_env(), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    _wait_drained(hash_service)
    clean_requests = hash_service.stats.replies_200
    assert clean_requests == clean_requests_needed([CHUNK] * (ROWS // CHUNK), 10) == 300
    hash_service.reset_stats()

    out = tmp_path / "out.parquet"
    kills = 0
    lost = 0
    runs = 0
    while True:
        runs += 1
        assert runs < 40, "the job never finished"
        replies_before = hash_service.stats.replies_200
        saved_before = inspect_work(out).requests_done
        proc = subprocess.Popen(_command(src, out, hash_service.base_url), env=_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if kills < KILLS:
            if kills == 0:
                time.sleep(rng.uniform(0.05, 1.5))  # anywhere from interpreter start-up to the first requests
            else:
                _wait_for_replies(hash_service, proc, replies_before + rng.randint(5, 45))
                time.sleep(rng.uniform(0.0, 0.03))  # not only right after a reply
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.communicate(timeout=30)
                kills += 1
                _wait_drained(hash_service)
                run_lost = (hash_service.stats.replies_200 - replies_before) - (
                    inspect_work(out).requests_done - saved_before
                )
                # Only requests in flight at the kill can be lost; finished ones are on disk.
                assert 0 <= run_lost <= CONCURRENCY, run_lost
                lost += run_lost
                continue
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        break

    assert kills >= 5
    _wait_drained(hash_service)
    # Every request beyond one clean run's is a reply that a killed process never read.
    assert hash_service.stats.replies_200 == clean_requests + lost
    assert inspect_work(out).requests_done == clean_requests
    assert not work_dir_for(out).exists()

    table = pq.read_table(out)
    ids = table.column("id").to_pylist()
    assert len(ids) == ROWS and len(set(ids)) == ROWS
    assert ids == [f"r{i:05d}" for i in range(ROWS)]
    stored = np.asarray(table.column("dense").combine_chunks().flatten().to_numpy()).reshape(ROWS, DIM)
    hash_service.set_faults(None)
    with DashScopeEmbedder(base_url=hash_service.base_url, dimensions=DIM) as engine:
        expected = engine.embed(texts).dense
    np.testing.assert_array_equal(stored, expected)
    # the killed runs and the clean run wrote the same file content
    np.testing.assert_array_equal(
        stored, np.asarray(pq.read_table(clean_out).column("dense").combine_chunks().flatten().to_numpy())
        .reshape(ROWS, DIM),
    )
