"""The parts the remote job kinds share: the state file's versions, the options object, sharding limits."""

from __future__ import annotations

import orjson

from dashscope_embed.batch import BatchJobOptions
from dashscope_embed.batch.sharding import groups
from dashscope_embed.batch.state import load_state, save_state


def test_a_version_1_state_reads_with_its_batch_ids_as_remote_ids(tmp_path):
    path = tmp_path / "o.parquet.batch-state.json"
    raw = {"key": "k", "job_id": "j", "model": "text-embedding-v4", "dimension": 64, "completion_window": "24h",
           "rows_per_line": 10, "lines_per_shard": 8, "chunk_size": 40, "root": "r", "input": "i", "version": 1,
           "batch_tokens": 7,
           "shards": [{"index": 0, "start": 0, "end": 5, "attempts": [{"number": 0, "lines": 1, "rows": 5,
                                                                       "batch_id": "batch_x"}]}]}
    path.write_bytes(orjson.dumps(raw))
    state = load_state(path)
    assert state is not None and state.kind == "batch" and state.version == 2
    assert state.shards[0].attempts[0].remote_id == "batch_x" and state.remote_tokens == 7
    save_state(path, state)
    assert b"batch_id" not in path.read_bytes() and load_state(path).shards[0].attempts[0].remote_id == "batch_x"


def test_an_unknown_state_version_is_not_read(tmp_path):
    path = tmp_path / "s.json"
    path.write_bytes(orjson.dumps({"version": 99}))
    assert load_state(path) is None


def test_options_never_show_the_key():
    options = BatchJobOptions(api_key="sk-0123456789abcdef0123")
    assert "sk-0123" not in repr(options)
    assert options.replace(model="text-embedding-v3").api_key == options.api_key


def test_groups_keep_both_limits():
    lines = [b"x" * 9] * 7  # 10 bytes each with the newline
    assert [len(g) for g in groups(lines, 3, 25)] == [2, 2, 2, 1]
    assert [len(g) for g in groups(lines, 3, 1000)] == [3, 3, 1]


def test_the_former_keyword_constructor_still_works_and_warns(tmp_path):
    import pytest

    from dashscope_embed.batch import BatchEmbeddingJob
    from dashscope_embed.errors import InvalidInputError

    with pytest.warns(DeprecationWarning, match="BatchJobOptions"):
        job = BatchEmbeddingJob([("a", "x")], tmp_path / "o.parquet", dimensions=64, lines_per_shard=7)
    assert job.options.dimensions == 64 and job.lines_per_shard == 7
    with pytest.warns(DeprecationWarning), pytest.raises(InvalidInputError, match="'dimension'"):
        BatchEmbeddingJob([("a", "x")], tmp_path / "o.parquet", dimension=64)
