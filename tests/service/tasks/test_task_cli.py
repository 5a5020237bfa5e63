"""``dashscope-embed embed --model text-embedding-async-v2``: the command, its refusals, and SIGKILL while tasks run
followed by a rerun (every row once, no second task for rows a task already covers)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import orjson
import pyarrow.parquet as pq
from support.task_helpers import MODEL, realtime, recorded_task_ids, texts

from dashscope_embed import cli
from dashscope_embed.batch.state import state_path_for
from dashscope_embed.jobs.workdir import work_dir_for

ROOT = Path(__file__).resolve().parents[3]
ROWS = 200
PER_TASK = 50
#: an upload just stored (the task not yet submitted), a submission just accepted (its id maybe not yet saved),
#: tasks running while the job polls, a result being collected
MOMENTS = ("upload", "submission", "running", "collected")


def _write(path: Path, items: list[str]) -> None:
    with open(path, "wb") as f:
        for i, text in enumerate(items):
            f.write(orjson.dumps({"doc": f"d{i:04d}", "body": text}) + b"\n")


def _dense(path) -> np.ndarray:
    table = pq.read_table(path)
    return np.asarray(table.column("dense").combine_chunks().flatten().to_numpy()).reshape(table.num_rows, 1536)


def _args(src, out, base_url, *extra: str) -> list[str]:
    return ["embed", str(src), "-o", str(out), "--base-url", base_url, "--model", MODEL, "--id-field", "doc",
            "--text-field", "body", "--poll-interval", "0.02", "--no-progress", *extra]


def test_embed_command_runs_tasks_and_batch_status_reports(task_service, tmp_path, capsys):
    items = texts(30) + ["two\nlines"]
    src, out = tmp_path / "in.jsonl", tmp_path / "out.parquet"
    _write(src, items)
    status = cli.main(_args(src, out, task_service.base_url, "--rows-per-task", "20", "--text-type", "query"))
    printed = capsys.readouterr().out
    assert status == 0 and "2 tasks submitted" in printed and "free quota" in printed
    assert pq.read_table(out).column("id").to_pylist() == [f"d{i:04d}" for i in range(31)]
    expected = realtime(task_service, items[:30] + ["two lines"], "query")
    np.testing.assert_allclose(_dense(out), expected, rtol=0, atol=1e-6)
    assert cli.main(["batch", "status", str(out)]) == 0
    assert "is complete (31 rows)" in capsys.readouterr().out


def test_options_the_task_path_cannot_honour_are_refused(task_service, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    _write(src, ["x"])
    for extra in (["--batch-api"], ["--output-type", "sparse"], ["--fallback-realtime"], ["--rows-per-line", "2"]):
        assert cli.main(_args(src, tmp_path / "o.parquet", task_service.base_url, *extra)) == 2
        assert extra[0] in capsys.readouterr().err
    args = ["embed", str(src), "-o", str(tmp_path / "o.parquet"), "--base-url", task_service.base_url,
            "--rows-per-task", "5"]
    assert cli.main(args) == 2 and "asynchronous-task models" in capsys.readouterr().err
    assert task_service.app.uploads.uploads == 0 and task_service.app.tasks.submissions == 0


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(ROOT)
    return env


def _counters(svc) -> dict[str, int]:
    tasks = svc.app.tasks
    return {"uploads": svc.app.uploads.uploads, "submissions": tasks.submissions,
            "billed": sum(tasks.billed.values()), "downloads": tasks.downloads}


def _reached(moment: str, before: dict[str, int], now: dict[str, int]) -> bool:
    key = {"upload": "uploads", "submission": "submissions", "running": "billed", "collected": "downloads"}[moment]
    return now[key] > before[key]


def _kill_at(svc, proc, moment: str, rng: random.Random) -> bool:
    before = _counters(svc)
    deadline = time.monotonic() + 60
    while proc.poll() is None and not _reached(moment, before, _counters(svc)):
        assert time.monotonic() < deadline, f"never reached {moment}"
        time.sleep(0.001)
    if moment == "running":
        time.sleep(rng.uniform(0.0, 0.1))
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    return True


def test_sigkill_while_tasks_run_then_rerun_bills_each_row_once(task_service, tmp_path):
    rng = random.Random(20261205)
    items = texts(ROWS)
    src, out = tmp_path / "rows.jsonl", tmp_path / "out.parquet"
    _write(src, items)
    task_service.set_faults(seed=4, task_lines_per_step=5, task_step_delay=0.03)
    command = [sys.executable, "-m", "dashscope_embed.cli",
               *_args(src, out, task_service.base_url, "--rows-per-task", str(PER_TASK))]
    landed: list[str] = []
    runs = 0
    while True:
        runs += 1
        assert runs < 20, "the job never finished"
        proc = subprocess.Popen(command, env=_env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        if len(landed) < 6:
            moment = MOMENTS[len(landed)] if len(landed) < len(MOMENTS) else rng.choice(MOMENTS)
            if _kill_at(task_service, proc, moment, rng):
                landed.append(moment)
                continue
        _, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 0, stderr
        break
    assert {"upload", "submission", "running"} <= set(landed), landed
    assert not work_dir_for(out).exists() and not state_path_for(out).exists()
    assert pq.read_table(out).column("id").to_pylist() == [f"d{i:04d}" for i in range(ROWS)]
    np.testing.assert_allclose(_dense(out), realtime(task_service, items), rtol=0, atol=1e-6)
    # one task per shard, whatever the kills: a killed run's task is found again, never submitted a second time
    assert task_service.app.tasks.submissions == ROWS // PER_TASK
    billed = task_service.app.tasks.billed
    assert len(billed) == ROWS and max(billed.values()) == 1


def test_batch_cancel_stops_a_job_running_in_another_process(task_service, tmp_path, capsys):
    items = texts(40)
    src, out = tmp_path / "rows.jsonl", tmp_path / "out.parquet"
    _write(src, items)
    task_service.set_faults(task_queue_delay=60)  # PENDING: cancellable
    command = [sys.executable, "-m", "dashscope_embed.cli",
               *_args(src, out, task_service.base_url, "--rows-per-task", "20")]
    proc = subprocess.Popen(command, env=_env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while recorded_task_ids(out) < 2:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    assert cli.main(["batch", "cancel", str(out)]) == 0
    assert "cancelled 2 tasks" in capsys.readouterr().out
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "was cancelled" in stderr
    assert task_service.app.tasks.submissions == 2  # the cancelled rows were not submitted again
    # the same command resumes
    task_service.set_faults(None)
    assert cli.main(_args(src, out, task_service.base_url, "--rows-per-task", "20")) == 0
    assert pq.read_table(out).num_rows == 40 and task_service.app.tasks.submissions == 4
