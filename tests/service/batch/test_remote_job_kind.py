"""A second job kind built only from the shared parts: an in-memory "task" API behind the ``Remote`` protocol and a
``RemoteJob`` subclass of one text per line. It runs through the same coordinator as the Batch File API job: rows
in shards, submission within the running limit, collection into Parquet in input order, a failed task resubmitted
in the next round, and rows still failing reported by id."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

import numpy as np
import orjson
import pyarrow.parquet as pq
import pytest

from dashscope_embed.batch import BatchJobError, BatchSummary, RemoteJob, RemoteJobOptions
from dashscope_embed.batch.collect import journal_rows
from dashscope_embed.batch.coordinator import Collected
from dashscope_embed.batch.lines import custom_id, parse_custom_id, read_lines, rows_of
from dashscope_embed.batch.source import scan_rows
from dashscope_embed.batch.state import Attempt, JobState, Shard
from dashscope_embed.settings import resolve_connection

DIM = 64


def vector(text: str) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(DIM).astype(np.float32).tolist()


class MemoryTasks:
    """``Remote`` over an in-memory task API: a task embeds every line of its file, or fails as a whole."""

    noun, nouns, max_running = "task", "tasks", 2

    def __init__(self, failing: int = 0) -> None:
        self.failing = failing  # the first ``failing`` tasks fail as a whole
        self.tasks: dict[str, tuple[str, list[str]]] = {}
        self.most_running = 0

    def submit(self, state, shard, attempt, path, save) -> bool:
        texts = [line["text"] for line in read_lines(path)]  # the text file a real task API would get
        attempt.file_id = f"mem://{path.name}"
        save()
        task_id = f"task-{len(self.tasks)}"
        self.tasks[task_id] = ("FAILED" if len(self.tasks) < self.failing else "SUCCEEDED", texts)
        attempt.remote_id, attempt.status = task_id, "PENDING"
        save()
        self.most_running = max(self.most_running, sum(1 for a in (x for s in state.shards for x in s.attempts)
                                                       if a.remote_id and not a.collected))
        return True

    def refresh(self, attempt) -> bool:
        status = self.tasks[attempt.remote_id][0]
        changed, attempt.status = status != attempt.status, status
        return changed

    def terminal(self, attempt) -> bool:
        return attempt.status in ("SUCCEEDED", "FAILED", "CANCELED")

    def failed(self, attempt) -> bool:
        return attempt.status == "FAILED"

    def fetch(self, attempt, base: Path):
        out = base.with_suffix(".out")
        texts = self.tasks[attempt.remote_id][1]
        # result lines come in any order, keyed by text_index
        out.write_bytes(b"\n".join(orjson.dumps({"text_index": i, "embedding": vector(t)})
                                   for i, t in reversed(list(enumerate(texts)))))
        return out, None

    def cancel(self, attempt) -> None:
        self.tasks[attempt.remote_id] = ("CANCELED", self.tasks[attempt.remote_id][1])

    def delete_input(self, attempt) -> None:
        pass

    def delete_all(self, attempt) -> None:
        pass

    def remote_names(self, attempt) -> list[str]:
        return [attempt.remote_id] if attempt.remote_id else []

    def close(self) -> None:
        pass


class MemoryTaskJob(RemoteJob):
    """One text per line; local attempt files keep each line's custom_id beside its text."""

    api, api_title = "task", "the in-memory task API"

    def __init__(self, rows, output, options: RemoteJobOptions, remote: MemoryTasks) -> None:
        super().__init__(rows, output, options)
        self.tasks = remote

    def check_options(self):
        self.check_numbers({"max_resubmits": 0})
        return resolve_connection(base_url="http://127.0.0.1:9", api_key="sk-test-not-a-real-key")

    def scan(self):
        return scan_rows(self.source, spec=self.spec, dimension=self.dimension, chunk_size=self.options.chunk_size,
                         skip_empty=self.options.skip_empty, api=self.api, line_noun="task line")

    def open_remote(self, settings):
        return self.tasks

    def new_state(self, key, settings):
        return JobState(key=key, job_id=key[:12], model=self.model, dimension=self.dimension, completion_window=None,
                        rows_per_line=1, lines_per_shard=5, chunk_size=self.options.chunk_size, root=settings.root,
                        input=str(self.source.path), kind=self.api)

    def new_summary(self):
        return BatchSummary(output=self.output)

    def pack(self, rows, state):
        return [(orjson.dumps({"custom_id": custom_id(state.job_id, r.index, r.index), "text": r.text}), r.index)
                for r in rows]

    @property
    def max_file_bytes(self) -> int:
        return 1 << 30

    def collect_results(self, state, shard, attempt, base, out: Optional[Path], err, mask) -> Collected:
        got = Collected()
        lines = list(read_lines(base))
        seen = set()
        for result in read_lines(out):
            line = lines[result["text_index"]]
            seen.add(result["text_index"])
            rows = np.asarray(rows_of(*parse_custom_id(line["custom_id"]), set(shard.empty)), dtype=np.int64)
            if not mask[rows - shard.start].all():
                journal_rows(self.work, state.chunk_size, rows, np.asarray([result["embedding"]], np.float32), 3)
                mask[rows - shard.start] = True
                got.lines, got.rows, got.tokens = got.lines + 1, got.rows + len(rows), got.tokens + 3
        got.again = [orjson.dumps(line) for i, line in enumerate(lines) if i not in seen]
        return got

    def line_rows(self, line: bytes, shard: Shard) -> int:
        return len(rows_of(*parse_custom_id(orjson.loads(line)["custom_id"]), set(shard.empty)))

    def on_failed(self, state: JobState, shard: Shard, attempt: Attempt) -> None:
        if attempt.round < self.options.max_resubmits:
            self.requeue(state, shard, attempt, next_round=True)
            return
        lines = list(read_lines(self.attempt_path(shard.index, attempt.number)))
        self.record_failures(shard, [(line["custom_id"], [line["text"]], "TaskFailed", "the task failed")
                                     for line in lines])
        attempt.collected = True
        self.save(state)


def _run(tmp_path, n: int, remote: MemoryTasks, **options):
    rows = [(f"id-{i}", f"text number {i}") for i in range(n)]
    options = RemoteJobOptions(dimensions=DIM, poll_interval=0.001, chunk_size=10, log=lambda line: None, **options)
    out = tmp_path / "o.parquet"
    return MemoryTaskJob(rows, out, options, remote).run(), out


def test_a_second_job_kind_runs_on_the_shared_coordinator(tmp_path):
    remote = MemoryTasks()
    summary, out = _run(tmp_path, 23, remote)
    table = pq.read_table(out)
    assert table.column("id").to_pylist() == [f"id-{i}" for i in range(23)]
    dense = np.asarray(table.column("dense").combine_chunks().flatten().to_numpy()).reshape(23, DIM)
    np.testing.assert_array_equal(dense, np.asarray([vector(f"text number {i}") for i in range(23)], np.float32))
    assert len(remote.tasks) == summary.batches == 5  # shards of 5 lines
    assert remote.most_running <= MemoryTasks.max_running
    assert summary.rows == summary.rows_this_run == 23 and summary.batch_tokens == 69


def test_a_task_that_failed_as_a_whole_goes_again_in_the_next_round(tmp_path):
    remote = MemoryTasks(failing=1)
    summary, out = _run(tmp_path, 12, remote, max_resubmits=1)
    assert pq.read_table(out).column("id").to_pylist() == [f"id-{i}" for i in range(12)]
    assert len(remote.tasks) == 4  # 3 shards, the first one twice


def test_rows_of_tasks_failing_past_the_rounds_are_reported_by_id(tmp_path):
    with pytest.raises(BatchJobError, match="could not be embedded by the in-memory task API") as caught:
        _run(tmp_path, 7, MemoryTasks(failing=100), max_resubmits=0)
    assert [(row, row_id, code) for row, row_id, code in caught.value.failures] == [
        (i, f"id-{i}", "TaskFailed") for i in range(7)]
